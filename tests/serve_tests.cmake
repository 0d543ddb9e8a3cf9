# `weft serve` tests: the API on known traces, what the server refuses, and
# the command as a process. Not labelled `threads`: Criterion cannot run
# under the TSan build (see the top-level CMakeLists.txt); the server's own
# threads are checked from a child program (index_threads, at the end).
weft_add_test(serve_api SOURCES test_serve_api.c LIBS weftserve PkgConfig::CJSON)
weft_add_test(serve_safety SOURCES test_serve_safety.c LIBS weftserve)
weft_add_test(serve_cli SOURCES test_serve_cli.c LIBS weftserve)
add_dependencies(test_serve_cli weft_cli)
# The runtime answers (thread states, CPUs, waits, /blocking) against
# `weft json` and `weft stats`; one of its traces comes from weft_gentrace.
weft_add_test(serve_rt SOURCES test_serve_rt.c LIBS weftserve PkgConfig::CJSON m)
target_compile_definitions(test_serve_rt PRIVATE WEFT_GENTRACE="$<TARGET_FILE:weft_gentrace>")
add_dependencies(test_serve_rt weft_gentrace)

# The server's threads at work on one trace (indexing, reading, runtime rows,
# requests waiting for the index, the warm-up), in the child program indexee:
# instrumented in the ThreadSanitizer build, with the viewer's instrumented
# copy (viewer/CMakeLists.txt), while the Criterion runner is not.
add_executable(indexee support/indexee.c)
target_include_directories(indexee PRIVATE support) # http_get.h
if(WEFT_TSAN)
  target_link_libraries(indexee PRIVATE weftserve_tsan)
else()
  target_link_libraries(indexee PRIVATE weftserve)
endif()
weft_instrument(indexee)
weft_add_test(index_threads SOURCES test_index_threads.c LABELS threads)
target_compile_definitions(test_index_threads PRIVATE
  INDEXEE_BIN="$<TARGET_FILE:indexee>" WEFT_GENTRACE="$<TARGET_FILE:weft_gentrace>"
  INDEXEE_SUPP="${CMAKE_CURRENT_SOURCE_DIR}/support/indexee.supp")
add_dependencies(test_index_threads indexee weft_gentrace)
