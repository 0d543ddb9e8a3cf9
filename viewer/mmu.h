/*
 * mmu.h - minimum mutator utilization (MMU) of a set of pauses, as Go's
 * trace tool reports it for GC: for a window length w, the smallest fraction
 * of any w-long window of the recording during which no pause was in
 * progress. Pauses from several threads count once where they overlap (the
 * union), since the program is paused either way.
 *
 * Two ways in:
 *   - wv_mmu() on a sorted list of disjoint pauses (a wv_union), for any
 *     window: the MMU curve of a UI;
 *   - a streaming tracker for a few windows fixed up front (`weft stats`
 *     uses 1, 10 and 100 ms), which keeps only the pauses of the last
 *     2 x the largest window, so memory does not grow with the trace.
 * Both are exact (up to a cap the tracker reports, see below).
 *
 * Windows lie inside [t0, t1]; a window longer than the recording gives the
 * utilization of the whole recording. Without pauses the MMU is 1.
 */
#ifndef WV_MMU_H
#define WV_MMU_H

#include <stddef.h>
#include <stdint.h>

typedef struct wv_interval {
    int64_t start, end;
} wv_interval;

/* A sorted list of disjoint intervals; a zeroed one is empty. Intervals that
 * overlap or touch are merged as they are added. Adding in order of end
 * time (as pause events arrive) costs O(1) amortized. */
typedef struct wv_union {
    wv_interval *v;
    size_t n, cap;
} wv_union;

/* @return 0, or -ENOMEM (the union is then unchanged). */
int wv_union_add(wv_union *u, int64_t start, int64_t end);
/* Total length of the union. */
int64_t wv_union_total(const wv_union *u);
void wv_union_free(wv_union *u);

/*! wv_mmu() :
 *  The MMU for `window` ns over [t0, t1] of the sorted, disjoint pauses
 *  v[0..n) (clipped to [t0, t1]).
 *  @return a fraction in [0, 1]; 1 when there is no pause; -1 when out of
 *          memory. */
double wv_mmu(const wv_interval *v, size_t n, int64_t t0, int64_t t1, int64_t window);

/* ---- streaming ------------------------------------------------------------ */

#define WV_MMU_MAX_WINDOWS 8
/* Pauses kept at once (24 bytes each); beyond it a new pause is merged with
 * the one before (the gap counts as paused) and the result is flagged. */
#define WV_MMU_MAX_KEPT (1u << 20)

typedef struct wv_mmu_tracker wv_mmu_tracker;

/* Windows (ns, > 0) in any order, at most WV_MMU_MAX_WINDOWS; the recording
 * starts at t0. @return NULL when out of memory or on bad arguments. */
wv_mmu_tracker *wv_mmu_tracker_new(const int64_t *windows, size_t n, int64_t t0);
/* A pause [start, end]. Pauses must arrive in order of their END (their
 * starts may be in any order), and no later than wv_mmu_advance() reached
 * past their end. */
void wv_mmu_add(wv_mmu_tracker *m, int64_t start, int64_t end);
/* Time has reached `now`: no pause added later ends before it. */
void wv_mmu_advance(wv_mmu_tracker *m, int64_t now);
/* The recording ended at t1; the results are final. */
void wv_mmu_finish(wv_mmu_tracker *m, int64_t t1);
/* The MMU for windows[i] (after wv_mmu_finish()). */
double wv_mmu_value(const wv_mmu_tracker *m, size_t i);
/* 1 if WV_MMU_MAX_KEPT was reached or memory ran out: the values are then
 * lower bounds. */
int wv_mmu_approximate(const wv_mmu_tracker *m);
void wv_mmu_free(wv_mmu_tracker *m);

#endif /* WV_MMU_H */
