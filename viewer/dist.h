/*
 * dist.h - a distribution of durations (ns) for count, total, max and
 * percentiles, in bounded memory.
 *
 * Percentiles are exact (nearest rank) while the distribution holds at most
 * WV_DIST_EXACT samples, which covers the blocking profiles of most traces;
 * past that the samples move into a log-linear histogram of 32 buckets per
 * power of two, and a percentile is the middle of its bucket (within 1.6 %
 * of the true value), clamped to [min, max]. Count, total, min and max stay
 * exact. Memory: at most WV_DIST_EXACT * 8 bytes, then ~7.5 KiB.
 */
#ifndef WV_DIST_H
#define WV_DIST_H

#include <stdint.h>

#define WV_DIST_EXACT 1024u

typedef struct wv_dist {
    uint64_t count;
    int64_t total, min, max;
    int64_t *exact;   /* the samples, while count <= WV_DIST_EXACT */
    uint32_t nexact, cap;
    int sorted;       /* exact[] is sorted */
    uint32_t *hist;   /* after that: counts per bucket */
} wv_dist;

/* A zeroed wv_dist is empty. Adds one sample (negative values count as 0).
 * @return 0, or -ENOMEM (the sample then only counts in count/total/max). */
int wv_dist_add(wv_dist *d, int64_t v);
/* The nearest-rank q-quantile (0 < q <= 1): the smallest sample such that at
 * least q * count samples are <= it. 0 for an empty distribution. */
int64_t wv_dist_quantile(wv_dist *d, double q);
/* 1 if wv_dist_quantile() is exact (the samples are all kept). */
int wv_dist_exact(const wv_dist *d);
void wv_dist_free(wv_dist *d);

#endif /* WV_DIST_H */
