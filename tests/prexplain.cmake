# prexplain (issue 6): the line parser (every kernel format, and every line prsim's trace code
# generates), the correlator, the classifier (unit), and the CLI on fixture files.
function(prexplain_test name)
  add_executable(${name} ${ARGN})
  target_include_directories(${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit)
  target_link_libraries(${name} PRIVATE prexplain_core GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    PREXPLAIN_FIXTURES="${CMAKE_CURRENT_SOURCE_DIR}/prexplain/fixtures"
    PRFENCE_VM_FIXTURES="${CMAKE_CURRENT_SOURCE_DIR}/vm/fixtures")
  prfence_add_gtest(${name} unit 300)
endfunction()

prexplain_test(test_prexplain_parse unit/prexplain_parse_test.cpp)
# prsim's formatters generate lines for every --kernel-format; the parser must read them all.
target_link_libraries(test_prexplain_parse PRIVATE prsim_server)
prexplain_test(test_prexplain_correlate unit/prexplain_correlate_test.cpp)
prexplain_test(test_prexplain_classify unit/prexplain_classify_test.cpp)
prexplain_test(test_prexplain_ours unit/prexplain_ours_test.cpp)

add_test(NAME cli_prexplain
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/prexplain_test.sh $<TARGET_FILE:prexplain>
                 ${CMAKE_CURRENT_SOURCE_DIR}/prexplain/fixtures ${CMAKE_CURRENT_SOURCE_DIR}/vm/fixtures)
set_tests_properties(cli_prexplain PROPERTIES LABELS cli TIMEOUT 120)
# Against prsim LUs: the issue's two scenarios (RESERVED_BY_OTHER naming A, FENCED naming B), live --follow
# and --on-fenced once per LU.
add_test(NAME cli_prexplain_sim
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/prexplain_sim_test.sh $<TARGET_FILE:prexplain>
                 $<TARGET_FILE:prfence> $<TARGET_FILE:prsim>)
set_tests_properties(cli_prexplain_sim PROPERTIES LABELS cli TIMEOUT 120)

# Lines per second over a realistic mix (PRFENCE_BENCH; not run by ctest).
if(PRFENCE_BENCH)
  find_package(benchmark REQUIRED)
  add_executable(bench_prexplain ${CMAKE_CURRENT_SOURCE_DIR}/bench/bench_prexplain.cpp)
  target_link_libraries(bench_prexplain PRIVATE prexplain_core benchmark::benchmark)
endif()
