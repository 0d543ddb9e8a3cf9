# Viewer tests: traces built with support/tracegen.c, read through weftview.

weft_add_test(reader SOURCES test_reader.c LIBS weftview)
weft_add_test(json SOURCES test_json.c support/jsontest.c LIBS weftview PkgConfig::CJSON m)
weft_add_test(json_rt SOURCES test_json_rt.c support/jsontest.c LIBS weftview PkgConfig::CJSON m)
weft_add_test(stats SOURCES test_stats.c LIBS weftview)
weft_add_test(cli SOURCES test_cli.c LIBS weftview PkgConfig::CJSON)
add_dependencies(test_cli weft_cli)

# Not a test: writes big synthetic traces for measuring the viewer
# (weft_gentrace OUT [EVENTS [THREADS]]).
add_executable(weft_gentrace support/gentrace.c)
target_link_libraries(weft_gentrace PRIVATE weft_testsupport)
# Not a test either: writes the runtime scenario of support/rttrace.h for the
# browser tests (weft_rttrace OUT).
add_executable(weft_rttrace support/rttrace_cli.c)
target_link_libraries(weft_rttrace PRIVATE weft_testsupport)

# The runtime model and its arithmetic (issue 3).
weft_add_test(mmu SOURCES test_mmu.c LIBS weftview m)
weft_add_test(rt SOURCES test_rt.c LIBS weftview)
weft_add_test(symbols SOURCES test_symbols.c LIBS weftview)
