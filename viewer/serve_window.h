/*
 * serve_window.h - the state of one window query, shared by its two halves:
 * the slice rows (serve_window.c) and the tasks, counters, logs and flows
 * drawn over them (serve_overlay.c), and the runtime rows (serve_rt_window.c).
 * Pixel columns are computed in integer
 * arithmetic: column c covers [col_end(c-1), col_end(c)).
 */
#ifndef WV_SERVE_WINDOW_H
#define WV_SERVE_WINDOW_H

#include "serve_json.h"

#define WV_WINDOW_MAX_FLOWS 4096
#define WV_WINDOW_BLOCK_PX 16 /* widest merged block, task block or log block */
#define WV_WINDOW_MAX_FILTERED 100000 /* items listed with a task filter, per kind */

#define WV_BLOCK_UNNAMED UINT32_MAX

/* A merged block. Unfiltered, it is slices [first, first + count) of its
 * row, named when written (from the row's pyramid); with a task filter it
 * is named as it is built (name). */
typedef struct block {
    int64_t s, d;
    uint64_t count;
    size_t first;
    uint32_t depth, name;
} block;

typedef struct win {
    wv_index *x;
    wv_jw *w;
    int64_t start, end, span;
    int64_t px;
    uint32_t *sel;           /* selected threads, NULL: all */
    size_t nsel;
    uint64_t *set;           /* the task filter: task ids, sorted; NULL: none */
    size_t nset;
    int64_t fs, fe;          /* time span of the filtered tasks */
    /* per-thread output collected before it is written */
    uint64_t *sl;            /* global slice indexes */
    size_t nsl, sl_cap;
    block *bl;
    size_t nbl, bl_cap;
    const wv_row *run_row;   /* the last block: its row and slices [run_start, run_end) */
    size_t run_start, run_end;
    uint64_t slices_total, blocks_total;
    int oom;
} win;

static inline int64_t col_of(const win *c, int64_t t)
{
    if (t <= c->start)
        return 0;
    int64_t col = (int64_t)((__int128)(t - c->start) * c->px / c->span);
    return col < c->px ? col : c->px - 1;
}

/* The first time of column col+1: the end of column col. */
static inline int64_t col_end(const win *c, int64_t col)
{
    return c->start + (int64_t)(((__int128)(col + 1) * c->span + c->px - 1) / c->px);
}

static inline int wide(const win *c, int64_t d) { return (__int128)d * c->px >= c->span; }

static inline int in_set(const win *c, uint64_t task)
{
    size_t lo = 0, hi = c->nset;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c->set[mid] < task)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->nset && c->set[lo] == task;
}

/* Lists the slices of row r in the window in c->sl (r->base + position)
 * and merges the narrow ones into c->bl (serve_window.c). */
void wv_window_walk(win *c, const wv_row *r);

/* The runtime rows (serve_rt_window.c): a thread's state, wait and uv rows
 * (inside its object), then the CPUs and the GC / allocator lanes. */
void wv_window_rt_thread(win *c, uint32_t thread);
void wv_window_rt(win *c);

void wv_window_tasks(win *c);
void wv_window_counters(win *c);
void wv_window_logs(win *c);
void wv_window_flows(win *c);

#endif /* WV_SERVE_WINDOW_H */
