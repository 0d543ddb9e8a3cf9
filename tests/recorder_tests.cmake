# Wire-table rules, independent of recorder and viewer.
weft_add_test(wire SOURCES test_wire.c)

# Recorder tests: libweft through its public API, read back with the viewer's reader.
weft_add_test(recorder SOURCES test_recorder.c LIBS weft_static weftview)
weft_add_test(waits SOURCES test_waits.c LIBS weft_static weftview)

# The multi-threaded scenarios run in the child program recordee, the only
# part instrumented in the ThreadSanitizer build; these runners link no libweft.
add_executable(recordee support/recordee.c)
target_link_libraries(recordee PRIVATE weft_static)
weft_instrument(recordee)
weft_add_test(threads SOURCES test_threads.c LABELS threads)
weft_add_test(session SOURCES test_session.c LABELS threads)
weft_add_test(wait_threads SOURCES test_wait_threads.c LABELS threads)
weft_add_test(sched SOURCES test_sched.c LABELS threads)
foreach(t test_threads test_session test_wait_threads test_sched)
  target_compile_definitions(${t} PRIVATE RECORDEE_BIN="$<TARGET_FILE:recordee>")
  add_dependencies(${t} recordee)
endforeach()
