# prfenced's control protocol (issue 5): encoding, decoding and every refusal class (unit), and the
# client library against a scripted fake daemon on a socketpair (unit: no daemon, no devices).
add_executable(test_nl_protocol unit/nl_protocol_test.cpp)
target_include_directories(test_nl_protocol PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit)
target_link_libraries(test_nl_protocol PRIVATE prfence_nlproto GTest::gtest GTest::gtest_main)
prfence_add_gtest(test_nl_protocol unit 300)

add_executable(test_nl_client unit/nl_client_test.cpp)
target_include_directories(test_nl_client PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit)
target_link_libraries(test_nl_client PRIVATE prfence_nlclient GTest::gtest GTest::gtest_main Threads::Threads)
prfence_add_gtest(test_nl_client unit 120)
