# prbench (issue 7): its statistics and renderers (unit), and the tool against a real prsim daemon with
# injected latency (cli). The sg_persist baseline on prsim needs the prsim-run LD_PRELOAD shim
# (interposer/); that part of cli_prbench_sim runs when the shim is in the build tree, and is required
# when the shim's target exists (PRBENCH_REQUIRE_SHIM=1).
add_executable(test_prbench_stats ${CMAKE_CURRENT_SOURCE_DIR}/prbench/stats_test.cpp)
target_link_libraries(test_prbench_stats PRIVATE prbench_core GTest::gtest GTest::gtest_main)
prfence_add_gtest(test_prbench_stats unit 120)

set(PRBENCH_SHIM_REQUIRED 0)
foreach(t prsim-run prsim_run)
  if(TARGET ${t})
    set(PRBENCH_SHIM_REQUIRED 1)
  endif()
endforeach()
add_test(NAME cli_prbench_sim
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/prbench/prbench_sim_test.sh $<TARGET_FILE:prbench> $<TARGET_FILE:prsim>
                 ${CMAKE_BINARY_DIR}/interposer/prsim-run)
set_tests_properties(cli_prbench_sim PROPERTIES LABELS cli TIMEOUT 300
                     ENVIRONMENT "PRBENCH_REQUIRE_SHIM=${PRBENCH_SHIM_REQUIRED}")
