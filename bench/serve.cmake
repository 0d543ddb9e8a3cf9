# weft-serve-bench (bench/serve_bench.c): the speed and memory figures of
# `weft serve` beside same-run baselines. It drives the real `weft` binary
# and writes its input with weft_gentrace (tests/), found by path so this
# file does not depend on the order directories are added.
if(TARGET weftserve)
  add_executable(weft-serve-bench serve_bench.c)
  target_link_libraries(weft-serve-bench PRIVATE weftserve m)
  target_include_directories(weft-serve-bench PRIVATE ${PROJECT_SOURCE_DIR}/tests/support) # http_get.h
  target_compile_definitions(weft-serve-bench PRIVATE
    WEFT_SERVE_BENCH_WEFT="$<TARGET_FILE:weft_cli>"
    WEFT_SERVE_BENCH_GENTRACE="${CMAKE_BINARY_DIR}/tests/weft_gentrace")
  add_dependencies(weft-serve-bench weft_cli)
endif()
