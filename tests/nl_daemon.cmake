# prfenced (issue 5): the daemon's own pieces (unit) and the daemon itself in front of a prsim farm
# (integration: in-process and as the real binary, started with a temporary socket and NOTIFY_SOCKET).
add_executable(test_prfenced_unit unit/prfenced_unit_test.cpp)
target_link_libraries(test_prfenced_unit PRIVATE prfenced_core GTest::gtest GTest::gtest_main)
prfence_add_gtest(test_prfenced_unit unit 120)

add_executable(test_prfenced integration/prfenced_test.cpp)
target_link_libraries(test_prfenced PRIVATE prfenced_core prfence_nlclient prsim_server GTest::gtest GTest::gtest_main)
target_compile_definitions(test_prfenced PRIVATE PRFENCED_BIN="$<TARGET_FILE:prfenced>")
add_dependencies(test_prfenced prfenced)
prfence_add_gtest(test_prfenced integration 300)
