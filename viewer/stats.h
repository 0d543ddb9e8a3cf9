/*
 * stats.h - `weft stats`: a plain-text summary of a trace (who recorded it,
 * when, how long, which threads, how many events of each type, how compact
 * the file is, what was dropped and what went wrong), then the blocking
 * profiles of the runtime events (stats_rt.c).
 */
#ifndef WV_STATS_H
#define WV_STATS_H

#include <stdio.h>

#include "reader.h"

/*! wv_stats_print() :
 *  Reads every event of r (which must have opened successfully) and prints
 *  the summary to `out`.
 *  @return 0; -ENOMEM; or a positive errno if writing failed. */
int wv_stats_print(wv_reader *r, FILE *out);

/* stats_rt.c: the blocking-profile sections of a finished wv_blocking.
 * @return 0, or -1 when out of memory. */
struct wv_blocking;
int wv_stats_rt_print(struct wv_blocking *b, wv_reader *r, FILE *out);

#endif /* WV_STATS_H */
