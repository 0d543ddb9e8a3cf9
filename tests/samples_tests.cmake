# The runtime-event samples (samples/), each run briefly by tests/test_samples.c
# and checked through its trace: one ctest per sample, all in one runner.
add_executable(test_samples test_samples.c)
target_link_libraries(test_samples PRIVATE weft_testsupport PkgConfig::CRITERION)
set(_samples contention worker_pool echo_server)
target_compile_definitions(test_samples PRIVATE
  CONTENTION_BIN="$<TARGET_FILE:contention>"
  WORKER_POOL_BIN="$<TARGET_FILE:worker_pool>"
  ECHO_SERVER_BIN="$<TARGET_FILE:echo_server>"
  ECHO_LOAD_BIN="$<TARGET_FILE:echo_load>")
add_dependencies(test_samples contention worker_pool echo_server echo_load)
if(TARGET gc_pauses) # only where libgc is installed (samples/CMakeLists.txt)
  target_compile_definitions(test_samples PRIVATE GC_PAUSES_BIN="$<TARGET_FILE:gc_pauses>")
  add_dependencies(test_samples gc_pauses)
  list(APPEND _samples gc_pauses)
endif()
foreach(s ${_samples})
  add_test(NAME sample_${s} COMMAND test_samples --jobs 1 --filter "${s}/*")
  set_tests_properties(sample_${s} PROPERTIES TIMEOUT 120)
endforeach()
# The threaded samples run instrumented in the ThreadSanitizer build too
# (gc_pauses is never instrumented: see samples/CMakeLists.txt).
set_tests_properties(sample_contention sample_worker_pool sample_echo_server PROPERTIES LABELS threads)
