/*
 * serve_rt_build.h - what the two halves of building the runtime index
 * share: serve_rt_load.c collects what the runtime model delivers while the
 * file is read; serve_rt.c turns it into rows when loading ends.
 */
#ifndef WV_SERVE_RT_BUILD_H
#define WV_SERVE_RT_BUILD_H

#include "serve_rt.h"

#define WV_RT_MAX_HEAPS 8u /* heap sources kept (two are defined) */

typedef struct wv_span_list {
    wv_slice *v;
    size_t n, cap;
} wv_span_list;

typedef struct wv_heap_list {
    uint64_t source;
    int64_t *t, *v;
    size_t n, cap;
} wv_heap_list;

/* One thread's schedstat samples as two counters: the share of each period
 * between samples it spent on a CPU, and waiting in the run queue. */
typedef struct wv_sched_series {
    wv_schedstat last; /* the previous sample, when have */
    int have;
    int64_t *t, *on, *wait; /* a point per period, at its start; percent */
    size_t n, cap;
} wv_sched_series;

struct wv_rt_build {
    /* the reading thread's */
    wv_rt *model;
    wv_feed_out *out;       /* where the model's output is recorded; NULL: filed at once */
    wv_feed_tap tap;
    int read_oom;

    /* the model thread's: what is filed (a cache line apart: a line both
     * threads write would bounce between their cores) */
    _Alignas(64) wv_blocking *blocking;
    wv_span_list *states, *cpus, *waits, *uvs; /* by thread index (CPU for cpus) */
    size_t nstates, ncpus, nwaits, nuvs;
    wv_rt_item *items;
    size_t nitems, items_cap;
    uint64_t kinds[WV_ITEM_KINDS], latency_samples, schedstat_samples;
    wv_heap_list heaps[WV_RT_MAX_HEAPS];
    uint32_t nheaps;
    wv_sched_series *sched; /* by thread index */
    size_t nsched;
    uint64_t max_str;       /* highest string id the items use */
    int oom;

    /* finishing: rows built on a thread of their own (serve_rt.c) */
    wv_rt_index *rt;
    uint32_t thread_limit;
    pthread_t rows;
    int rows_running, rows_rc;
};

#endif /* WV_SERVE_RT_BUILD_H */
