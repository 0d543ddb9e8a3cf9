/*
 * blocking.h - blocking profiles of a trace, as `go tool trace` has them:
 * lock waits and I/O waits by call site ranked by total wait, scheduler
 * latency per thread, GC and allocator pauses with their minimum mutator
 * utilization, lost scheduler records and the last schedstat sample of
 * each thread. `weft stats` prints them; the web UI serves them.
 *
 * It runs its own runtime model (rt.h) over the events it is given, so feed
 * it every event of a reader in order, then finish it. Memory is bounded:
 * at most WV_BLOCKING_MAX_SITES sites of each kind (waits past that are
 * only counted, see wv_blocking_unlisted()), one wv_dist per thread with
 * latency samples and per pause kind (dist.h: exact percentiles up to 1024
 * samples, within 1.6 % beyond), the MMU tracker's window (mmu.h).
 */
#ifndef WV_BLOCKING_H
#define WV_BLOCKING_H

#include <stddef.h>
#include <stdint.h>

#include "dist.h"
#include "reader.h"
#include "rt.h"

#define WV_BLOCKING_MAX_SITES (1u << 16)
#define WV_BLOCKING_MMU_WINDOWS 3 /* 1, 10 and 100 ms */

typedef struct wv_site_row {
    uint64_t site;
    uint64_t op;          /* I/O rows: the op (rows are per site and op); lock rows: 0 */
    uint64_t count;
    int64_t total_ns, max_ns;
    uint64_t bytes;       /* I/O rows: bytes moved (reads, writes, sends, ...) */
    uint32_t top_holder;  /* lock rows: the holder this site waited for longest in total; 0: none known */
    int64_t top_holder_ns;
} wv_site_row;

typedef struct wv_blocking wv_blocking;

/* @return NULL when out of memory. */
wv_blocking *wv_blocking_new(wv_reader *r);
/* Tables fed by a runtime model the caller runs, for a caller that needs
 * the model's output for more than these profiles (`weft serve` runs one
 * model for its index and these tables): the model gets wv_blocking_sink()
 * with the wv_blocking as its ctx, and wv_blocking_add() is not used. Such
 * tables have no MMU tracker (wv_blocking_mmu() is 1: the caller keeps the
 * pauses and measures what windows it wants with mmu.h) and their
 * wv_blocking_totals() are zero (they are the caller's model's).
 * @return NULL when out of memory. */
wv_blocking *wv_blocking_new_fed(void);
const wv_rt_sink *wv_blocking_sink(void);
/* Fed tables: 1 if memory ran out while feeding them (a wait, a sample or a
 * pause may be missing). */
int wv_blocking_failed(const wv_blocking *b);
/* @return 0 or -ENOMEM. */
int wv_blocking_add(wv_blocking *b, const wv_event *ev);
/* The trace ended at end_ns (its last event); sorts the rows. */
void wv_blocking_finish(wv_blocking *b, int64_t end_ns);

/* After finish: rows by total wait, longest first (then by count, then by
 * address); valid until wv_blocking_free(). */
size_t wv_blocking_lock_sites(const wv_blocking *b, const wv_site_row **rows);
size_t wv_blocking_io_sites(const wv_blocking *b, const wv_site_row **rows);
/* Waits that found their site table full and are in no row. */
uint64_t wv_blocking_unlisted(const wv_blocking *b);

/* Scheduler latency (preempted -> running again) of thread `index`; NULL if
 * it has none. */
wv_dist *wv_blocking_latency(wv_blocking *b, uint32_t index);
/* Pauses of a kind (enum wv_pause_kind); count 0 if none. */
wv_dist *wv_blocking_pauses(wv_blocking *b, int kind);
/* The windows (ns) and MMU over the union of all pauses, after finish. */
int64_t wv_blocking_mmu_window(size_t i);
double wv_blocking_mmu(const wv_blocking *b, size_t i);
int wv_blocking_mmu_approximate(const wv_blocking *b);
/* The last schedstat sample of a thread; NULL if none. */
const wv_schedstat *wv_blocking_schedstat(const wv_blocking *b, uint32_t index);
/* Scheduler records lost about a thread (0: those of unknown threads). */
uint64_t wv_blocking_lost(const wv_blocking *b, uint32_t index);
/* Threads indexes that may have data: 0 .. wv_blocking_threads()-1. */
uint32_t wv_blocking_threads(const wv_blocking *b);
const wv_rt_totals *wv_blocking_totals(const wv_blocking *b);

void wv_blocking_free(wv_blocking *b);

#endif /* WV_BLOCKING_H */
