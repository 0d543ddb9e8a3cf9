/*
 * dist.c - see dist.h.
 *
 * Histogram buckets: values below 64 have a bucket each; a larger value with
 * its highest bit at position e (6..62) goes to bucket 64 + (e - 6) * 32 +
 * the 5 bits after the highest one, so a bucket spans 1/32 of its octave.
 */
#include "dist.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#define SUB_BITS 5
#define LINEAR 64
#define NBUCKETS (LINEAR + (63 - 6) * (1 << SUB_BITS))

static uint32_t bucket_of(uint64_t v)
{
    if (v < LINEAR)
        return (uint32_t)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    uint32_t sub = (uint32_t)(v >> (e - SUB_BITS)) & ((1u << SUB_BITS) - 1);
    return LINEAR + (e - 6) * (1u << SUB_BITS) + sub;
}

/* The middle of bucket b. */
static int64_t bucket_mid(uint32_t b)
{
    if (b < LINEAR)
        return b;
    unsigned e = (b - LINEAR) / (1u << SUB_BITS) + 6;
    uint64_t sub = (b - LINEAR) % (1u << SUB_BITS);
    uint64_t lo = (1ull << e) | sub << (e - SUB_BITS), width = 1ull << (e - SUB_BITS);
    return (int64_t)(lo + width / 2);
}

static int to_hist(wv_dist *d)
{
    d->hist = calloc(NBUCKETS, sizeof *d->hist);
    if (!d->hist)
        return -ENOMEM;
    for (uint32_t i = 0; i < d->nexact; i++)
        d->hist[bucket_of((uint64_t)d->exact[i])]++;
    free(d->exact);
    d->exact = NULL;
    d->nexact = d->cap = 0;
    return 0;
}

int wv_dist_add(wv_dist *d, int64_t v)
{
    if (v < 0)
        v = 0;
    if (!d->count || v < d->min)
        d->min = v;
    if (!d->count || v > d->max)
        d->max = v;
    d->count++;
    d->total += v;
    if (!d->hist && d->nexact == WV_DIST_EXACT && to_hist(d))
        return -ENOMEM;
    if (d->hist) {
        d->hist[bucket_of((uint64_t)v)]++;
        return 0;
    }
    if (d->nexact == d->cap) {
        uint32_t cap = d->cap ? d->cap * 2 : 16;
        int64_t *n = realloc(d->exact, cap * sizeof *n);
        if (!n)
            return -ENOMEM;
        d->exact = n, d->cap = cap;
    }
    d->exact[d->nexact++] = v;
    d->sorted = 0;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int64_t wv_dist_quantile(wv_dist *d, double q)
{
    uint64_t n = d->hist ? d->count : d->nexact;
    if (!n)
        return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)n); /* 1-based */
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    if (!d->hist) {
        if (!d->sorted)
            qsort(d->exact, d->nexact, sizeof *d->exact, cmp_i64);
        d->sorted = 1;
        return d->exact[rank - 1];
    }
    if (rank == n) /* the extremes are kept exactly */
        return d->max;
    if (rank == 1)
        return d->min;
    uint64_t seen = 0;
    for (uint32_t b = 0; b < NBUCKETS; b++) {
        seen += d->hist[b];
        if (seen >= rank) {
            int64_t v = bucket_mid(b);
            return v < d->min ? d->min : v > d->max ? d->max : v;
        }
    }
    return d->max;
}

int wv_dist_exact(const wv_dist *d) { return !d->hist && d->nexact == d->count; }

void wv_dist_free(wv_dist *d)
{
    free(d->exact);
    free(d->hist);
    *d = (wv_dist){0};
}
