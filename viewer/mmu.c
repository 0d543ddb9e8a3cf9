/*
 * mmu.c - see mmu.h.
 *
 * The paused time inside a window [a, a + w], as a function of a, is
 * piecewise linear and changes slope only where a window edge crosses a
 * pause edge; its maximum (the MMU's minimum utilization) is where the right
 * edge leaves a pause (a = end - w) or the left edge enters one (a = start),
 * or where the window meets the ends of the recording. So the candidates are
 * those two windows per pause, clamped into [t0, t1 - w], and each is
 * measured in O(log n) with prefix sums of the pause lengths.
 *
 * The tracker measures a candidate once its window is final: once it ends
 * before the frontier F = now - wmax. A pause that arrives later (it ends
 * at or after now) and starts before F lasts longer than wmax, so every
 * window is fully paused somewhere: the MMU is 0 for all, and nothing else
 * needs its exact place. Pauses that end before F - wmax no longer touch any
 * window still to be measured and are dropped.
 */
#include "mmu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- the union -------------------------------------------------------------- */

static int reserve(wv_interval **v, int64_t **cum, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    wv_interval *nv = realloc(*v, c * sizeof *nv);
    if (!nv)
        return -ENOMEM;
    *v = nv;
    if (cum) {
        int64_t *nc = realloc(*cum, c * sizeof *nc);
        if (!nc)
            return -ENOMEM;
        *cum = nc;
    }
    *cap = c;
    return 0;
}

/* Merges [start, end] into the sorted, disjoint v[lo, *n): the intervals it
 * overlaps or touches are a run [i, j), found from the tail since pauses
 * arrive in end order. @return i, the index of the merged interval. */
static size_t merge_into(wv_interval *v, size_t lo, size_t *n, int64_t start, int64_t end)
{
    size_t j = *n;
    while (j > lo && v[j - 1].start > end)
        j--;
    size_t i = j;
    while (i > lo && v[i - 1].end >= start)
        i--;
    if (i == j) { /* nothing overlaps: insert at i */
        memmove(&v[i + 1], &v[i], (*n - i) * sizeof *v);
        v[i] = (wv_interval){start, end};
        (*n)++;
        return i;
    }
    wv_interval m = {start < v[i].start ? start : v[i].start, end > v[j - 1].end ? end : v[j - 1].end};
    v[i] = m;
    memmove(&v[i + 1], &v[j], (*n - j) * sizeof *v);
    *n -= j - i - 1;
    return i;
}

int wv_union_add(wv_union *u, int64_t start, int64_t end)
{
    if (end < start)
        return 0;
    if (reserve(&u->v, NULL, &u->cap, u->n + 1))
        return -ENOMEM;
    merge_into(u->v, 0, &u->n, start, end);
    return 0;
}

int64_t wv_union_total(const wv_union *u)
{
    int64_t t = 0;
    for (size_t i = 0; i < u->n; i++)
        t += u->v[i].end - u->v[i].start;
    return t;
}

void wv_union_free(wv_union *u)
{
    free(u->v);
    *u = (wv_union){0};
}

/* ---- measuring a window ---------------------------------------------------- */

/* Paused time before x, given the intervals v[lo, n) with cum[i] the paused
 * time before v[i] and `total` the paused time of everything. */
static int64_t paused_upto(const wv_interval *v, const int64_t *cum, size_t lo, size_t n, int64_t total,
                           int64_t x)
{
    if (lo == n)
        return total;
    if (x < v[lo].start)
        return cum[lo];
    size_t a = lo, b = n; /* last i with v[i].start <= x lies in [a, b) */
    while (b - a > 1) {
        size_t mid = a + (b - a) / 2;
        if (v[mid].start <= x)
            a = mid;
        else
            b = mid;
    }
    return cum[a] + (x < v[a].end ? x : v[a].end) - v[a].start;
}

static double utilization(int64_t paused, int64_t w) { return 1.0 - (double)paused / (double)w; }

/* ---- the whole list ------------------------------------------------------- */

double wv_mmu(const wv_interval *v, size_t n, int64_t t0, int64_t t1, int64_t window)
{
    if (t1 <= t0 || window <= 0)
        return 1.0;
    wv_interval *c = malloc((n + 1) * sizeof *c);
    int64_t *cum = malloc((n + 1) * sizeof *cum);
    if (!c || !cum) {
        free(c);
        free(cum);
        return -1.0;
    }
    size_t m = 0;
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) { /* clipped to the recording */
        int64_t s = v[i].start < t0 ? t0 : v[i].start, e = v[i].end > t1 ? t1 : v[i].end;
        if (e <= s)
            continue;
        c[m] = (wv_interval){s, e};
        cum[m++] = total;
        total += e - s;
    }
    double min = 1.0;
    if (t1 - t0 <= window) {
        min = utilization(total, t1 - t0);
    } else {
        for (size_t i = 0; i < 2 * m; i++) {
            int64_t a = i % 2 ? c[i / 2].end - window : c[i / 2].start;
            a = a < t0 ? t0 : a > t1 - window ? t1 - window : a;
            int64_t p = paused_upto(c, cum, 0, m, total, a + window) - paused_upto(c, cum, 0, m, total, a);
            double u = utilization(p, window);
            min = u < min ? u : min;
        }
    }
    free(c);
    free(cum);
    return min;
}

/* ---- the streaming tracker -------------------------------------------------- */

struct wv_mmu_tracker {
    size_t nw;
    int64_t w[WV_MMU_MAX_WINDOWS], wmax;
    double min[WV_MMU_MAX_WINDOWS];
    /* next candidates to measure, as absolute pause numbers: the window
     * ending at pause ne[k]'s end, the window starting at pause ns[k] */
    uint64_t ne[WV_MMU_MAX_WINDOWS], ns[WV_MMU_MAX_WINDOWS];
    int64_t t0, t1, now, frontier;
    wv_interval *v; /* kept pauses: v[head, n); v[i] is pause number base + i */
    int64_t *cum;   /* paused time before v[i] */
    size_t head, n, cap;
    uint64_t base;
    int64_t total;  /* paused time of every pause so far */
    int zero, approx, finished;
};

wv_mmu_tracker *wv_mmu_tracker_new(const int64_t *windows, size_t n, int64_t t0)
{
    if (!n || n > WV_MMU_MAX_WINDOWS)
        return NULL;
    wv_mmu_tracker *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->nw = n;
    for (size_t k = 0; k < n; k++) {
        if (windows[k] <= 0) {
            free(m);
            return NULL;
        }
        m->w[k] = windows[k];
        m->min[k] = 1.0;
        m->wmax = windows[k] > m->wmax ? windows[k] : m->wmax;
    }
    m->t0 = m->now = m->t1 = t0;
    m->frontier = t0 - m->wmax;
    return m;
}

static void measure(wv_mmu_tracker *m, size_t k, int64_t a)
{
    int64_t w = m->w[k];
    if (m->finished && a > m->t1 - w)
        a = m->t1 - w;
    if (a < m->t0)
        a = m->t0;
    int64_t p = paused_upto(m->v, m->cum, m->head, m->n, m->total, a + w) -
                paused_upto(m->v, m->cum, m->head, m->n, m->total, a);
    double u = utilization(p, w);
    if (u < m->min[k])
        m->min[k] = u;
}

/* Measures every candidate of window k whose window is final. */
static void measure_ready(wv_mmu_tracker *m, size_t k)
{
    int64_t w = m->w[k], f = m->frontier;
    for (; m->ne[k] < m->base + m->n; m->ne[k]++) {
        const wv_interval *p = &m->v[m->ne[k] - m->base];
        if (!m->finished && (p->end > f || m->t0 + w > f))
            break;
        measure(m, k, p->end - w);
    }
    for (; m->ns[k] < m->base + m->n; m->ns[k]++) {
        const wv_interval *p = &m->v[m->ns[k] - m->base];
        if (!m->finished && p->start + w > f)
            break;
        measure(m, k, p->start);
    }
}

/* Drops pauses no window still to be measured touches. */
static void evict(wv_mmu_tracker *m)
{
    uint64_t lowest = UINT64_MAX;
    for (size_t k = 0; k < m->nw; k++) {
        lowest = m->ne[k] < lowest ? m->ne[k] : lowest;
        lowest = m->ns[k] < lowest ? m->ns[k] : lowest;
    }
    while (m->head < m->n && m->base + m->head < lowest && m->v[m->head].end < m->frontier - m->wmax)
        m->head++;
    if (m->head > m->cap / 2) {
        memmove(m->v, m->v + m->head, (m->n - m->head) * sizeof *m->v);
        memmove(m->cum, m->cum + m->head, (m->n - m->head) * sizeof *m->cum);
        m->base += m->head;
        m->n -= m->head;
        m->head = 0;
    }
}

void wv_mmu_advance(wv_mmu_tracker *m, int64_t now)
{
    if (m->finished || now <= m->now)
        return;
    m->now = now;
    m->frontier = now - m->wmax;
    for (size_t k = 0; k < m->nw; k++)
        measure_ready(m, k);
    evict(m);
}

void wv_mmu_add(wv_mmu_tracker *m, int64_t start, int64_t end)
{
    if (m->finished)
        return;
    if (start < m->t0)
        start = m->t0;
    if (end <= start)
        return;
    if (start < m->frontier) {
        if (end - start >= m->wmax) { /* a window of every length is fully paused */
            m->zero = 1;
            return;
        }
        m->approx = 1; /* it arrived after windows it overlaps were measured */
        start = m->frontier;
        if (end <= start)
            return;
    }
    if (m->n - m->head >= WV_MMU_MAX_KEPT) { /* cover the last pause: n stays */
        m->approx = 1;
        const wv_interval *last = &m->v[m->n - 1];
        start = start < last->start ? start : last->start;
        end = end > last->end ? end : last->end;
    } else if (reserve(&m->v, &m->cum, &m->cap, m->n + 1)) {
        m->approx = 1;
        return;
    }
    /* paused time before the oldest kept pause (those dropped) */
    int64_t dropped = m->head < m->n ? m->cum[m->head] : m->total;
    size_t i = merge_into(m->v, m->head, &m->n, start, end);
    /* Prefix sums from the merged pause on; what precedes it is unchanged. */
    int64_t acc = i > m->head ? m->cum[i - 1] + (m->v[i - 1].end - m->v[i - 1].start) : dropped;
    for (size_t j = i; j < m->n; j++) {
        m->cum[j] = acc;
        acc += m->v[j].end - m->v[j].start;
    }
    m->total = acc;
    uint64_t seq = m->base + i; /* re-measure the merged pause's candidates */
    for (size_t k = 0; k < m->nw; k++) {
        m->ne[k] = m->ne[k] < seq ? m->ne[k] : seq;
        m->ns[k] = m->ns[k] < seq ? m->ns[k] : seq;
    }
    wv_mmu_advance(m, end);
}

void wv_mmu_finish(wv_mmu_tracker *m, int64_t t1)
{
    if (m->finished)
        return;
    int64_t last = m->n > m->head ? m->v[m->n - 1].end : m->now;
    m->t1 = t1 > m->now ? t1 : m->now;
    m->t1 = last > m->t1 ? last : m->t1;
    m->finished = 1;
    for (size_t k = 0; k < m->nw; k++) {
        if (m->zero) {
            m->min[k] = 0.0;
        } else if (m->t1 - m->t0 <= m->w[k]) { /* the whole recording is the window */
            m->min[k] = m->t1 > m->t0 ? utilization(m->total, m->t1 - m->t0) : 1.0;
        } else {
            measure_ready(m, k);
        }
    }
}

double wv_mmu_value(const wv_mmu_tracker *m, size_t i) { return i < m->nw ? m->min[i] : 1.0; }
int wv_mmu_approximate(const wv_mmu_tracker *m) { return m->approx; }

void wv_mmu_free(wv_mmu_tracker *m)
{
    if (!m)
        return;
    free(m->v);
    free(m->cum);
    free(m);
}
