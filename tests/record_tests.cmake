# `weft record` and libweft-preload.so: programs run under the command and
# their traces checked (test_record.c). plainprog is built without weft;
# linkedprog and staticprog use weft_mutex_lock and regions, linked against
# libweft.so and libweft.a. In the ThreadSanitizer build the programs (and
# the preload library) are instrumented, hence the "threads" label.
add_executable(plainprog support/plainprog.c)
target_link_libraries(plainprog PRIVATE Threads::Threads)
add_executable(linkedprog support/linkedprog.c)
target_link_libraries(linkedprog PRIVATE weft)
add_executable(staticprog support/linkedprog.c)
target_link_libraries(staticprog PRIVATE weft_static)
foreach(p plainprog linkedprog staticprog)
  weft_instrument(${p})
endforeach()

weft_add_test(record SOURCES test_record.c LABELS threads)
target_compile_definitions(test_record PRIVATE
  PLAINPROG_BIN="$<TARGET_FILE:plainprog>"
  LINKEDPROG_BIN="$<TARGET_FILE:linkedprog>"
  STATICPROG_BIN="$<TARGET_FILE:staticprog>")
add_dependencies(test_record plainprog linkedprog staticprog weft_preload)

# Traces stored uncompressed by the recorder (WEFT_COMPRESS=defer) and
# compressed afterwards by wv_compact(), as `weft record` does.
weft_add_test(compact SOURCES test_compact.c)
target_compile_definitions(test_compact PRIVATE LINKEDPROG_BIN="$<TARGET_FILE:linkedprog>")
add_dependencies(test_compact linkedprog weft_cli)
