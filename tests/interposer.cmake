# libprinterpose (issue 8): unmodified Debian tools (sg3_utils, fence_scsi) against prsim LUs through
# the LD_PRELOAD shim, started with prsim-run. Each test starts its own prsim on a temporary socket.
# The tools come from tools/deps.sh's test set; a test skips (77) when they are not installed.

# A probe program for what the tools do not exercise: threads, sg v3 async + poll, fork/exec. The
# shim is preloaded into it, so like the shim it is built without sanitizers.
add_executable(shim_probe interposer/shim_probe.cpp)
target_link_libraries(shim_probe PRIVATE Threads::Threads)
prsim_shim_without_sanitizers(shim_probe)

set(PRSIM_SHIM_TEST_ENV
  "PRSIM=$<TARGET_FILE:prsim>"
  "PRSIM_RUN=$<TARGET_FILE:prsim-run>"
  "SHIM_PROBE=$<TARGET_FILE:shim_probe>")
function(prsim_shim_test name script timeout)
  add_test(NAME ${name} COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/interposer/${script})
  set_tests_properties(${name} PROPERTIES LABELS interposer TIMEOUT ${timeout} SKIP_RETURN_CODE 77
                       ENVIRONMENT "${PRSIM_SHIM_TEST_ENV}")
endfunction()

prsim_shim_test(shim_seed_session seed_session_test.sh 300)
prsim_shim_test(shim_fence_scsi fence_scsi_test.sh 900)
prsim_shim_test(shim_dead_prsim dead_prsim_test.sh 300)
prsim_shim_test(shim_process process_test.sh 300)
prsim_shim_test(shim_passthrough passthrough_test.sh 120)

# Virtual names, sd letters, device numbers, map files (pure functions of the shim).
add_executable(test_shim_names unit/shim_names_test.cpp ${PROJECT_SOURCE_DIR}/interposer/shim/names.cpp)
target_include_directories(test_shim_names PRIVATE ${PROJECT_SOURCE_DIR}/interposer)
target_link_libraries(test_shim_names PRIVATE GTest::gtest GTest::gtest_main)
prfence_add_gtest(test_shim_names unit 120)
