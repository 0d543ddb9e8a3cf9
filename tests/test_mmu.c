/*
 * test_mmu.c - the pause arithmetic of the viewer (viewer/mmu.c, dist.c):
 * MMU values worked out by hand for a known pause pattern, the streaming
 * tracker against the whole-list computation on random patterns, and
 * nearest-rank percentiles, exact and past the exact limit.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "dist.h"
#include "mmu.h"
#include "testutil.h"

#define MS 1000000ll

/* Pauses (ms): A [10, 12], B [15, 16], C [100, 103], D [104, 106],
 * E [500, 500.5]; the recording is [0, 1000] ms.
 *   1 ms:   A alone fills a window                          -> 0
 *   5 ms:   [101, 106] holds 2 of C and 2 of D               -> 1 - 4/5  = 0.2
 *   10 ms:  [96, 106] holds C and D, 5 ms                    -> 1 - 5/10 = 0.5
 *   100 ms: [6, 106] holds A, B, C and D, 8 ms               -> 1 - 8/100 = 0.92
 *   2 s:    longer than the recording: all of it, 8.5 ms     -> 0.9915 */
static const wv_interval known[] = {
    {10 * MS, 12 * MS}, {15 * MS, 16 * MS}, {100 * MS, 103 * MS}, {104 * MS, 106 * MS}, {500 * MS, 500 * MS + MS / 2},
};
static const int64_t known_w[] = {1 * MS, 5 * MS, 10 * MS, 100 * MS, 2000 * MS};
static const double known_mmu[] = {0.0, 0.2, 0.5, 0.92, 0.9915};

Test(mmu, known_pattern_gives_the_hand_computed_values)
{
    for (int i = 0; i < 5; i++)
        cr_assert_float_eq(wv_mmu(known, 5, 0, 1000 * MS, known_w[i]), known_mmu[i], 1e-12, "window %d", i);
    cr_assert_float_eq(wv_mmu(NULL, 0, 0, 1000 * MS, MS), 1.0, 0, "no pause");
}

Test(mmu, streaming_tracker_gives_the_same_values)
{
    wv_mmu_tracker *m = wv_mmu_tracker_new(known_w, 5, 0);
    cr_assert_not_null(m);
    for (int i = 0; i < 5; i++) {
        wv_mmu_advance(m, known[i].start);
        wv_mmu_add(m, known[i].start, known[i].end);
    }
    wv_mmu_advance(m, 900 * MS);
    wv_mmu_finish(m, 1000 * MS);
    for (int i = 0; i < 5; i++)
        cr_assert_float_eq(wv_mmu_value(m, (size_t)i), known_mmu[i], 1e-12, "window %d", i);
    cr_assert_eq(wv_mmu_approximate(m), 0);
    wv_mmu_free(m);
}

Test(mmu, overlapping_pauses_count_once)
{
    /* two threads paused [10, 14] and [12, 16] ms: 6 ms paused in [10, 20] */
    wv_union u = {0};
    cr_assert_eq(wv_union_add(&u, 10 * MS, 14 * MS), 0);
    cr_assert_eq(wv_union_add(&u, 12 * MS, 16 * MS), 0);
    cr_assert_eq(u.n, 1);
    cr_assert_eq(wv_union_total(&u), 6 * MS);
    cr_assert_float_eq(wv_mmu(u.v, u.n, 0, 100 * MS, 10 * MS), 0.4, 1e-12);
    wv_union_free(&u);
}

Test(mmu, a_pause_longer_than_every_window_gives_zero)
{
    int64_t w[] = {MS, 10 * MS};
    wv_mmu_tracker *m = wv_mmu_tracker_new(w, 2, 0);
    wv_mmu_advance(m, 300 * MS);
    wv_mmu_add(m, 50 * MS, 300 * MS); /* a GC that began long ago */
    wv_mmu_finish(m, 400 * MS);
    cr_assert_eq(wv_mmu_value(m, 0), 0.0);
    cr_assert_eq(wv_mmu_value(m, 1), 0.0);
    wv_mmu_free(m);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void) { return tu_rand(&rng); }

typedef struct pause_ev {
    int64_t start, end;
} pause_ev;

static int by_end(const void *a, const void *b)
{
    const pause_ev *x = a, *y = b;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Random pauses of 4 "threads" (they overlap), fed in order of their end as
 * events arrive; the tracker must agree with the whole list exactly. */
Test(mmu, tracker_matches_the_whole_list_on_random_patterns)
{
    int64_t w[] = {MS, 10 * MS, 100 * MS};
    for (int round = 0; round < 50; round++) {
        size_t n = 1 + next_rand() % 400;
        pause_ev *p = malloc(n * sizeof *p);
        for (size_t i = 0; i < n; i++) {
            int64_t s = (int64_t)(next_rand() % (2000 * MS));
            int64_t d = (int64_t)(next_rand() % (round % 3 == 0 ? 3 * MS : MS / 2)) + 1;
            p[i] = (pause_ev){s, s + d};
        }
        qsort(p, n, sizeof *p, by_end);
        wv_mmu_tracker *m = wv_mmu_tracker_new(w, 3, 0);
        wv_union u = {0};
        for (size_t i = 0; i < n; i++) {
            wv_mmu_advance(m, p[i].end);
            wv_mmu_add(m, p[i].start, p[i].end);
            wv_union_add(&u, p[i].start, p[i].end);
        }
        int64_t t1 = p[n - 1].end + (int64_t)(next_rand() % (50 * MS));
        wv_mmu_finish(m, t1);
        for (int k = 0; k < 3; k++)
            cr_assert_float_eq(wv_mmu_value(m, (size_t)k), wv_mmu(u.v, u.n, 0, t1, w[k]), 1e-12,
                               "round %d window %d", round, k);
        cr_assert_eq(wv_mmu_approximate(m), 0);
        wv_mmu_free(m);
        wv_union_free(&u);
        free(p);
    }
}

/* ---- percentiles --------------------------------------------------------- */

Test(dist, nearest_rank_percentiles_are_exact_while_small)
{
    wv_dist d = {0};
    const int64_t v[] = {2 * MS, 1 * MS, 3 * MS, 2 * MS, MS / 2};
    for (int i = 0; i < 5; i++)
        cr_assert_eq(wv_dist_add(&d, v[i]), 0);
    cr_assert_eq(d.count, 5);
    cr_assert_eq(d.total, 8 * MS + MS / 2);
    cr_assert_eq(d.max, 3 * MS);
    cr_assert_eq(wv_dist_quantile(&d, 0.5), 2 * MS, "3rd of 5");
    cr_assert_eq(wv_dist_quantile(&d, 0.9), 3 * MS, "5th of 5");
    cr_assert_eq(wv_dist_quantile(&d, 0.2), MS / 2, "1st of 5");
    cr_assert_eq(wv_dist_quantile(&d, 0.21), 1 * MS, "2nd of 5");
    cr_assert(wv_dist_exact(&d));
    wv_dist_free(&d);
    cr_assert_eq(wv_dist_quantile(&d, 0.5), 0, "empty");
}

Test(dist, past_the_exact_limit_percentiles_stay_within_their_bucket)
{
    wv_dist d = {0};
    int64_t n = 100000; /* 1 .. n us */
    for (int64_t i = n; i >= 1; i--)
        cr_assert_eq(wv_dist_add(&d, i * 1000), 0);
    cr_assert_not(wv_dist_exact(&d));
    cr_assert_eq(d.count, (uint64_t)n);
    cr_assert_eq(d.max, n * 1000);
    cr_assert_eq(d.min, 1000);
    const double q[] = {0.5, 0.9, 0.99, 1.0};
    for (int i = 0; i < 4; i++) {
        double want = ceil(q[i] * (double)n) * 1000.0, got = (double)wv_dist_quantile(&d, q[i]);
        cr_assert(fabs(got - want) <= want / 64.0, "q %.2f: %.0f vs %.0f", q[i], got, want);
    }
    cr_assert_eq(wv_dist_quantile(&d, 1.0), n * 1000, "clamped to the max");
    wv_dist_free(&d);
}
