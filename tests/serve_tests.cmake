# `weft serve` tests: the API on known traces, what the server refuses, and
# the command as a process. Not labelled `threads`: Criterion cannot run
# under the TSan build (see the top-level CMakeLists.txt), and the server's
# threads are civetweb's.
weft_add_test(serve_api SOURCES test_serve_api.c LIBS weftserve PkgConfig::CJSON)
weft_add_test(serve_safety SOURCES test_serve_safety.c LIBS weftserve)
weft_add_test(serve_cli SOURCES test_serve_cli.c LIBS weftserve)
add_dependencies(test_serve_cli weft_cli)
# The runtime answers (thread states, CPUs, waits, /blocking) against
# `weft json` and `weft stats`; one of its traces comes from weft_gentrace.
weft_add_test(serve_rt SOURCES test_serve_rt.c LIBS weftserve PkgConfig::CJSON m)
target_compile_definitions(test_serve_rt PRIVATE WEFT_GENTRACE="$<TARGET_FILE:weft_gentrace>")
add_dependencies(test_serve_rt weft_gentrace)
