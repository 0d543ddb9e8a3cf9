/*
 * blocking.c - see blocking.h.
 *
 * Sites live in open-addressing tables (linear probing, never deleted) kept
 * at most half full: they start small and double up to 2 x
 * WV_BLOCKING_MAX_SITES slots, so a small trace costs little. The top holder of a lock site is exact: the total wait
 * of each (site, holder) pair is kept in a third table, and a site's top
 * holder is replaced whenever one of its pairs passes it.
 */
#include "blocking.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "mmu.h"
#include "vocab.h"

typedef struct pair {
    uint64_t site;
    uint32_t holder; /* 0: empty slot */
    int64_t total_ns;
} pair;

typedef struct rows {
    wv_site_row *v; /* count 0: empty slot */
    size_t cap, n;
} rows;

typedef struct pairs {
    pair *v;
    size_t cap, n;
} pairs;

typedef struct per_thread {
    wv_dist latency;
    wv_schedstat last; /* last.ns < 0: no sample */
    uint64_t lost;
} per_thread;

static const int64_t windows[WV_BLOCKING_MMU_WINDOWS] = {1000000, 10000000, 100000000};

struct wv_blocking {
    wv_rt *rt;
    rows locks, ios;
    pairs pairs;
    wv_site_row *sorted_locks, *sorted_ios;
    size_t nsorted_locks, nsorted_ios;
    uint64_t unlisted;
    per_thread *th;
    uint32_t nth;
    wv_dist gc, alloc;
    wv_mmu_tracker *mmu;
    int oom;
};

static size_t slot_of(uint64_t a, uint64_t b, size_t cap)
{
    uint64_t x = a ^ (b * 0x9e3779b97f4a7c15ull);
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    return (size_t)x & (cap - 1);
}

/* Doubles a table of `size`-byte entries whose key is read by key(); an
 * entry is empty when used() says so. @return 0 or -1 (out of memory). */
static int rehash(void **v, size_t *cap, size_t size, void (*key)(const void *, uint64_t *, uint64_t *),
                  int (*used)(const void *))
{
    size_t ncap = *cap ? *cap * 2 : 64;
    char *nv = calloc(ncap, size), *old = *v;
    if (!nv)
        return -1;
    for (size_t i = 0; i < *cap; i++) {
        const void *e = old + i * size;
        if (!used(e))
            continue;
        uint64_t a, b;
        key(e, &a, &b);
        size_t j = slot_of(a, b, ncap);
        while (used(nv + j * size))
            j = (j + 1) & (ncap - 1);
        memcpy(nv + j * size, e, size);
    }
    free(old);
    *v = nv, *cap = ncap;
    return 0;
}

static void row_key(const void *e, uint64_t *a, uint64_t *b)
{
    *a = ((const wv_site_row *)e)->site, *b = ((const wv_site_row *)e)->op;
}
static int row_used(const void *e) { return ((const wv_site_row *)e)->count != 0; }
static void pair_key(const void *e, uint64_t *a, uint64_t *b)
{
    *a = ((const pair *)e)->site, *b = ((const pair *)e)->holder;
}
static int pair_used(const void *e) { return ((const pair *)e)->holder != 0; }

/* The row of (site, op), created if there is room; NULL if not. */
static wv_site_row *row_of(wv_blocking *b, rows *t, uint64_t site, uint64_t op)
{
    for (size_t i = t->cap ? slot_of(site, op, t->cap) : 0; t->cap && t->v[i].count; i = (i + 1) & (t->cap - 1))
        if (t->v[i].site == site && t->v[i].op == op)
            return &t->v[i];
    if (t->n == WV_BLOCKING_MAX_SITES) {
        b->unlisted++;
        return NULL;
    }
    if (2 * (t->n + 1) > t->cap && rehash((void **)&t->v, &t->cap, sizeof *t->v, row_key, row_used))
        return b->oom = 1, NULL;
    size_t i = slot_of(site, op, t->cap);
    while (t->v[i].count)
        i = (i + 1) & (t->cap - 1);
    t->n++;
    t->v[i] = (wv_site_row){.site = site, .op = op};
    return &t->v[i];
}

static void row_add(wv_site_row *r, int64_t ns)
{
    r->count++;
    r->total_ns += ns;
    if (ns > r->max_ns)
        r->max_ns = ns;
}

/* Adds ns to the (site, holder) pair; returns its total, or -1 if the
 * table is full. */
static int64_t pair_add(wv_blocking *b, uint64_t site, uint32_t holder, int64_t ns)
{
    pairs *t = &b->pairs;
    for (size_t i = t->cap ? slot_of(site, holder, t->cap) : 0; t->cap && t->v[i].holder;
         i = (i + 1) & (t->cap - 1))
        if (t->v[i].site == site && t->v[i].holder == holder)
            return t->v[i].total_ns += ns;
    if (t->n == WV_BLOCKING_MAX_SITES)
        return -1;
    if (2 * (t->n + 1) > t->cap && rehash((void **)&t->v, &t->cap, sizeof *t->v, pair_key, pair_used))
        return b->oom = 1, -1;
    size_t i = slot_of(site, holder, t->cap);
    while (t->v[i].holder)
        i = (i + 1) & (t->cap - 1);
    t->n++;
    t->v[i] = (pair){site, holder, ns};
    return ns;
}

static per_thread *thread_of(wv_blocking *b, uint32_t index)
{
    uint32_t old = b->nth;
    if (wv_grow((void **)&b->th, &b->nth, index, sizeof *b->th))
        return b->oom = 1, NULL;
    for (uint32_t i = old; i < b->nth; i++)
        b->th[i].last.ns = -1;
    return &b->th[index];
}

/* ---- the model's callbacks ------------------------------------------------------ */

static void on_lock_wait(void *ctx, const wv_lock_wait *w)
{
    wv_blocking *b = ctx;
    int64_t ns = w->end_ns - w->start_ns;
    wv_site_row *r = row_of(b, &b->locks, w->site, 0);
    if (!r)
        return;
    row_add(r, ns);
    int64_t t = w->holder ? pair_add(b, w->site, w->holder, ns) : -1;
    if (t > r->top_holder_ns) {
        r->top_holder = w->holder;
        r->top_holder_ns = t;
    }
}

static void on_io(void *ctx, const wv_io_wait *w)
{
    wv_blocking *b = ctx;
    wv_site_row *r = row_of(b, &b->ios, w->site, w->op);
    if (!r)
        return;
    row_add(r, w->end_ns - w->start_ns);
    if (wv_io_op_moves_bytes(w->op) && w->result > 0)
        r->bytes += (uint64_t)w->result;
}

static void on_latency(void *ctx, uint32_t thread, int64_t ready_ns, int64_t run_ns)
{
    wv_blocking *b = ctx;
    per_thread *t = thread_of(b, thread);
    if (t && wv_dist_add(&t->latency, run_ns - ready_ns))
        b->oom = 1;
}

static void on_pause(void *ctx, const wv_pause *p)
{
    wv_blocking *b = ctx;
    if (wv_dist_add(p->kind == WV_PAUSE_GC ? &b->gc : &b->alloc, p->end_ns - p->start_ns))
        b->oom = 1;
    if (b->mmu)
        wv_mmu_add(b->mmu, p->start_ns, p->end_ns);
}

static void on_schedstat(void *ctx, const wv_schedstat *s)
{
    wv_blocking *b = ctx;
    per_thread *t = thread_of(b, s->thread);
    if (t)
        t->last = *s;
}

static void on_lost(void *ctx, uint32_t thread, uint64_t count, int64_t ns)
{
    wv_blocking *b = ctx;
    (void)ns;
    per_thread *t = thread_of(b, thread);
    if (t)
        t->lost += count;
}

/* ---- driving ---------------------------------------------------------------------- */

static const wv_rt_sink sink = {.latency = on_latency, .lock_wait = on_lock_wait, .io = on_io,
                                .pause = on_pause, .schedstat = on_schedstat, .lost = on_lost};

const wv_rt_sink *wv_blocking_sink(void) { return &sink; }

wv_blocking *wv_blocking_new_fed(void) { return calloc(1, sizeof(wv_blocking)); }

wv_blocking *wv_blocking_new(wv_reader *r)
{
    wv_blocking *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->rt = wv_rt_new(r, &sink, b);
    b->mmu = wv_mmu_tracker_new(windows, WV_BLOCKING_MMU_WINDOWS, 0);
    if (!b->rt || !b->mmu) {
        wv_blocking_free(b);
        return NULL;
    }
    return b;
}

int wv_blocking_add(wv_blocking *b, const wv_event *ev)
{
    if (wv_rt_add(b->rt, ev))
        b->oom = 1;
    wv_mmu_advance(b->mmu, ev->ns);
    int oom = b->oom;
    b->oom = 0;
    return oom ? -ENOMEM : 0;
}

static int by_total(const void *x, const void *y)
{
    const wv_site_row *a = x, *b = y;
    if (a->total_ns != b->total_ns)
        return a->total_ns > b->total_ns ? -1 : 1;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    if (a->site != b->site)
        return a->site < b->site ? -1 : 1;
    return a->op < b->op ? -1 : a->op > b->op;
}

/* The used rows of a table, sorted, in *out; @return how many (0 if none
 * or out of memory). */
static size_t sorted(const rows *t, wv_site_row **out)
{
    free(*out);
    *out = t->n ? malloc(t->n * sizeof **out) : NULL;
    if (!*out)
        return 0;
    size_t k = 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->v[i].count)
            (*out)[k++] = t->v[i];
    qsort(*out, k, sizeof **out, by_total);
    return k;
}

void wv_blocking_finish(wv_blocking *b, int64_t end_ns)
{
    if (b->rt) {
        wv_rt_finish(b->rt, end_ns);
        wv_mmu_finish(b->mmu, end_ns);
    }
    b->nsorted_locks = sorted(&b->locks, &b->sorted_locks);
    b->nsorted_ios = sorted(&b->ios, &b->sorted_ios);
}

/* ---- results ------------------------------------------------------------------------ */

size_t wv_blocking_lock_sites(const wv_blocking *b, const wv_site_row **out)
{
    *out = b->sorted_locks;
    return b->nsorted_locks;
}

size_t wv_blocking_io_sites(const wv_blocking *b, const wv_site_row **out)
{
    *out = b->sorted_ios;
    return b->nsorted_ios;
}

uint64_t wv_blocking_unlisted(const wv_blocking *b) { return b->unlisted; }
int wv_blocking_failed(const wv_blocking *b) { return b->oom; }

wv_dist *wv_blocking_latency(wv_blocking *b, uint32_t index)
{
    return index < b->nth && b->th[index].latency.count ? &b->th[index].latency : NULL;
}

wv_dist *wv_blocking_pauses(wv_blocking *b, int kind) { return kind == WV_PAUSE_GC ? &b->gc : &b->alloc; }
int64_t wv_blocking_mmu_window(size_t i) { return i < WV_BLOCKING_MMU_WINDOWS ? windows[i] : 0; }
double wv_blocking_mmu(const wv_blocking *b, size_t i) { return b->mmu ? wv_mmu_value(b->mmu, i) : 1.0; }
int wv_blocking_mmu_approximate(const wv_blocking *b) { return b->mmu ? wv_mmu_approximate(b->mmu) : 0; }

const wv_schedstat *wv_blocking_schedstat(const wv_blocking *b, uint32_t index)
{
    return index < b->nth && b->th[index].last.ns >= 0 ? &b->th[index].last : NULL;
}

uint64_t wv_blocking_lost(const wv_blocking *b, uint32_t index)
{
    return index < b->nth ? b->th[index].lost : 0;
}

uint32_t wv_blocking_threads(const wv_blocking *b) { return b->nth; }
const wv_rt_totals *wv_blocking_totals(const wv_blocking *b)
{
    static const wv_rt_totals none;
    return b->rt ? wv_rt_get_totals(b->rt) : &none;
}

void wv_blocking_free(wv_blocking *b)
{
    if (!b)
        return;
    wv_rt_free(b->rt);
    free(b->locks.v);
    free(b->ios.v);
    free(b->pairs.v);
    free(b->sorted_locks);
    free(b->sorted_ios);
    for (uint32_t i = 0; i < b->nth; i++)
        wv_dist_free(&b->th[i].latency);
    free(b->th);
    wv_dist_free(&b->gc);
    wv_dist_free(&b->alloc);
    wv_mmu_free(b->mmu);
    free(b);
}
