/*
 * chrome.h - `weft json`: a trace as Chrome trace-event JSON, the format
 * Perfetto (ui.perfetto.dev) and chrome://tracing open.
 *
 * The output is written as the events stream by (memory does not grow with
 * the trace): regions become complete `X` slices, tasks async `b`/`e`
 * pairs, a task's hops between threads `s`/`f` flows, logs `i` instants,
 * counters `C` events, thread and process names `M` metadata; recording
 * facts and diagnostics go in "otherData". Whatever the input, the output is
 * one complete JSON document of everything the reader recovered.
 */
#ifndef WV_CHROME_H
#define WV_CHROME_H

#include <stdio.h>

#include "reader.h"

/*! wv_chrome_write() :
 *  Writes the JSON for every event r delivers to `out` (not closed, flushed).
 *  The reader must have opened successfully; its status afterwards tells
 *  whether the input was complete.
 *  @return 0; -ENOMEM; or a positive errno if writing failed. */
int wv_chrome_write(wv_reader *r, FILE *out);

#endif /* WV_CHROME_H */
