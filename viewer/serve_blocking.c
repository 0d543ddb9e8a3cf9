/*
 * serve_blocking.c - GET /api/traces/{id}/blocking, the Blocking page's
 * profiles (docs/http-api.md): lock and I/O call sites by total wait,
 * scheduler latency per thread, schedstat, lost scheduler records, GC and
 * allocator pauses with the MMU curve, each row with its worst instance.
 *
 * The answer is built on the first request and kept: its tables come from
 * blocking.c (fed while loading, the same code and order as `weft stats`,
 * so the numbers match it exactly), but naming call sites loads DWARF, and
 * the MMU curve measures ~30 windows over every pause, which a trace
 * nobody asks about should not pay for at load.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "mmu.h"
#include "serve_json.h"
#include "serve_rt.h"
#include "vocab.h"

#define MAX_SITE_ROWS 500
#define MMU_POINTS 30
#define MMU_FROM_NS 100000 /* the shortest window of the curve: 100 us */

/* ---- /blocking: site tables ------------------------------------------------------------------- */

typedef struct site_key {
    uint64_t site, op;
    size_t row;
} site_key;

static int by_key(const void *a, const void *b)
{
    const site_key *x = a, *y = b;
    if (x->site != y->site)
        return x->site < y->site ? -1 : 1;
    return x->op < y->op ? -1 : x->op > y->op;
}

/* worst[r]: the item of the longest wait of row r (the first such), or
 * SIZE_MAX. I/O rows are per site and op, lock rows per site. */
static size_t *worst_items(const wv_rt_index *rt, const wv_site_row *rows, size_t n, unsigned kind)
{
    site_key *keys = malloc((n + 1) * sizeof *keys);
    size_t *worst = malloc((n + 1) * sizeof *worst);
    if (!keys || !worst) {
        free(keys);
        free(worst);
        return NULL;
    }
    for (size_t r = 0; r < n; r++)
        keys[r] = (site_key){rows[r].site, rows[r].op, r}, worst[r] = SIZE_MAX;
    qsort(keys, n, sizeof *keys, by_key);
    for (size_t i = 0; i < rt->nitems; i++) {
        const wv_rt_item *it = &rt->items[i];
        if (it->kind != kind)
            continue;
        site_key k = {it->site, kind == WV_ITEM_IO ? it->code : 0, 0};
        const site_key *f = bsearch(&k, keys, n, sizeof *keys, by_key);
        if (f && it->e - it->s == rows[f->row].max_ns && worst[f->row] == SIZE_MAX)
            worst[f->row] = i;
    }
    free(keys);
    return worst;
}

static void put_worst_item(wv_jw *w, const wv_rt_index *rt, size_t i)
{
    WV_JNK(w, "worst");
    if (i == SIZE_MAX) {
        WV_JW_LIT(w, "null");
        return;
    }
    const wv_rt_item *it = &rt->items[i];
    WV_JW_LIT(w, "{\"i\":");
    wv_jw_u64(w, i);
    WV_JNK(w, "s");
    wv_jw_i64(w, it->s);
    WV_JNK(w, "d");
    wv_jw_i64(w, it->e - it->s);
    WV_JNK(w, "thread");
    wv_jw_u64(w, it->thread);
    WV_JW_LIT(w, "}");
}

static int put_sites(wv_jw *w, const wv_index *x, int io)
{
    wv_rt_index *rt = x->rt;
    const wv_site_row *rows;
    size_t n = io ? wv_blocking_io_sites(rt->blocking, &rows) : wv_blocking_lock_sites(rt->blocking, &rows);
    size_t shown = n < MAX_SITE_ROWS ? n : MAX_SITE_ROWS;
    size_t *worst = worst_items(rt, rows, shown, io ? WV_ITEM_IO : WV_ITEM_LOCK);
    if (!worst)
        return -1;
    if (io)
        WV_JNK(w, "io");
    else
        WV_JNK(w, "locks");
    WV_JW_LIT(w, "[");
    for (size_t r = 0; r < shown; r++) {
        const wv_site_row *s = &rows[r];
        WV_JW_ITEM(w, r, "\n{\"count\":");
        wv_jw_u64(w, s->count);
        WV_JNK(w, "total_ns");
        wv_jw_i64(w, s->total_ns);
        WV_JNK(w, "max_ns");
        wv_jw_i64(w, s->max_ns);
        wv_rt_put_site(w, rt, s->site);
        if (io) {
            char buf[32];
            WV_JNK(w, "op");
            wv_jw_cstr(w, wv_code_label(wv_io_op_name(s->op), s->op, buf));
            WV_JNK(w, "bytes");
            wv_jw_u64(w, s->bytes);
        } else {
            WV_JNK(w, "top_holder");
            wv_rt_put_thread_ref(w, x, s->top_holder);
            WV_JNK(w, "top_holder_ns");
            wv_jw_i64(w, s->top_holder_ns);
        }
        put_worst_item(w, rt, worst[r]);
        WV_JW_LIT(w, "}");
    }
    WV_JW_LIT(w, "]");
    if (io) /* how many sites there are: at most MAX_SITE_ROWS are listed */
        WV_JNK(w, "io_sites");
    else
        WV_JNK(w, "lock_sites");
    wv_jw_u64(w, n);
    free(worst);
    return 0;
}

/* ---- /blocking: distributions ------------------------------------------------------------------ */

static void put_dist(wv_jw *w, wv_dist *d)
{
    WV_JW_LIT(w, "\"count\":");
    wv_jw_u64(w, d->count);
    WV_JNK(w, "total_ns");
    wv_jw_i64(w, d->total);
    static const struct { const char *key; double q; } qs[] = {
        {",\"p50_ns\":", 0.5}, {",\"p90_ns\":", 0.9}, {",\"p99_ns\":", 0.99}};
    for (int i = 0; i < 3; i++) {
        wv_jw_raw(w, qs[i].key, strlen(qs[i].key));
        wv_jw_i64(w, wv_dist_quantile(d, qs[i].q));
    }
    WV_JNK(w, "max_ns");
    wv_jw_i64(w, d->max);
    WV_JNK(w, "exact");
    wv_jw_bool(w, wv_dist_exact(d));
}

/* The longest preempted Runnable span of a thread: where its worst
 * scheduler latency is on the timeline. */
static void put_worst_runnable(wv_jw *w, const wv_index *x, uint32_t thread)
{
    const wv_state_row *sr = wv_rt_state_row(x, thread);
    const wv_slice *best = NULL;
    for (size_t i = 0; sr && i < sr->row.n; i++) {
        const wv_slice *s = &sr->row.sl[i];
        if (s->name == WV_STATE_RUNNABLE && (s->flags & WV_RT_PREEMPTED) && (!best || s->d > best->d))
            best = s;
    }
    WV_JNK(w, "worst");
    if (!best) {
        WV_JW_LIT(w, "null");
        return;
    }
    WV_JW_LIT(w, "{\"s\":");
    wv_jw_i64(w, best->s);
    WV_JNK(w, "d");
    wv_jw_i64(w, best->d);
    WV_JW_LIT(w, "}");
}

static void put_latency(wv_jw *w, const wv_index *x)
{
    wv_blocking *b = x->rt->blocking;
    WV_JNK(w, "latency");
    WV_JW_LIT(w, "[");
    for (uint32_t i = 0, n = 0; i < wv_blocking_threads(b); i++) {
        wv_dist *d = wv_blocking_latency(b, i);
        if (!d)
            continue;
        WV_JW_ITEM(w, n++, "\n{\"thread_ref\":");
        wv_rt_put_thread_ref(w, x, i);
        WV_JW_LIT(w, ",");
        put_dist(w, d);
        put_worst_runnable(w, x, i);
        WV_JW_LIT(w, "}");
    }
    WV_JW_LIT(w, "]");
}

static void put_schedstat(wv_jw *w, const wv_index *x)
{
    wv_blocking *b = x->rt->blocking;
    WV_JNK(w, "schedstat");
    WV_JW_LIT(w, "[");
    for (uint32_t i = 0, n = 0; i < wv_blocking_threads(b); i++) {
        const wv_schedstat *s = wv_blocking_schedstat(b, i);
        if (!s)
            continue;
        WV_JW_ITEM(w, n++, "{\"thread_ref\":");
        wv_rt_put_thread_ref(w, x, i);
        WV_JNK(w, "on_cpu_ns");
        wv_jw_u64(w, s->run_ns);
        WV_JNK(w, "runq_wait_ns");
        wv_jw_u64(w, s->wait_ns);
        WV_JNK(w, "slices");
        wv_jw_u64(w, s->slices);
        WV_JNK(w, "t");
        wv_jw_i64(w, s->ns);
        WV_JW_LIT(w, "}");
    }
    WV_JW_LIT(w, "],\"lost\":{\"total\":");
    wv_jw_u64(w, x->rt->totals.lost);
    WV_JNK(w, "threads");
    WV_JW_LIT(w, "[");
    for (uint32_t i = 0, n = 0; i < wv_blocking_threads(b); i++) {
        if (!wv_blocking_lost(b, i))
            continue;
        WV_JW_ITEM(w, n++, "{\"thread_ref\":");
        wv_rt_put_thread_ref(w, x, i);
        WV_JNK(w, "count");
        wv_jw_u64(w, wv_blocking_lost(b, i));
        WV_JW_LIT(w, "}");
    }
    WV_JW_LIT(w, "]}");
}

/* ---- /blocking: pauses and the MMU curve ---------------------------------------------------------- */

static void put_pause_kind(wv_jw *w, const wv_index *x, int kind, int first)
{
    const wv_rt_index *rt = x->rt;
    wv_dist *d = wv_blocking_pauses(rt->blocking, kind);
    unsigned item_kind = kind == WV_PAUSE_GC ? WV_ITEM_GC : WV_ITEM_ALLOC;
    size_t worst = SIZE_MAX;
    for (size_t i = 0; i < rt->nitems; i++)
        if (rt->items[i].kind == item_kind &&
            (worst == SIZE_MAX || rt->items[i].e - rt->items[i].s > rt->items[worst].e - rt->items[worst].s))
            worst = i;
    WV_JW_ITEM(w, !first, "{\"kind\":");
    wv_jw_cstr(w, kind == WV_PAUSE_GC ? "gc" : "allocator");
    WV_JW_LIT(w, ",");
    put_dist(w, d);
    put_worst_item(w, rt, worst);
    WV_JW_LIT(w, "}");
}

static void put_mmu_point(wv_jw *w, const wv_union *u, int64_t end_ns, int64_t window, int first)
{
    WV_JW_ITEM(w, !first, "{\"window_ns\":");
    wv_jw_i64(w, window);
    WV_JNK(w, "utilization");
    double v = wv_mmu(u->v, u->n, 0, end_ns, window);
    char num[32];
    int n = snprintf(num, sizeof num, "%.9g", v < 0 ? 0.0 : v);
    wv_jw_raw(w, num, (size_t)n);
    WV_JW_LIT(w, "}");
}

/* MMU over the union of every pause (GC and allocator: the program is
 * paused either way), as `weft stats` measures it: ~30 log-spaced windows
 * from 100 us to the whole recording, and the three `weft stats` prints. */
static int put_pauses(wv_jw *w, const wv_index *x)
{
    const wv_rt_index *rt = x->rt;
    WV_JNK(w, "pauses");
    WV_JW_LIT(w, "[");
    int n = 0;
    if (wv_blocking_pauses(rt->blocking, WV_PAUSE_GC)->count)
        put_pause_kind(w, x, WV_PAUSE_GC, !n++);
    if (wv_blocking_pauses(rt->blocking, WV_PAUSE_ALLOC)->count)
        put_pause_kind(w, x, WV_PAUSE_ALLOC, !n++);
    WV_JW_LIT(w, "]");
    if (!n)
        return 0;
    wv_union u = {0};
    for (size_t i = 0; i < rt->nitems; i++) {
        const wv_rt_item *it = &rt->items[i];
        if ((it->kind == WV_ITEM_GC || it->kind == WV_ITEM_ALLOC) && wv_union_add(&u, it->s, it->e)) {
            wv_union_free(&u);
            return -1;
        }
    }
    int64_t len = x->end_ns > 1 ? x->end_ns : 1;
    WV_JNK(w, "mmu");
    WV_JW_LIT(w, "{\"curve\":[");
    int64_t last = 0;
    for (int k = 0, first = 1; k < MMU_POINTS; k++) {
        double f = MMU_POINTS > 1 ? (double)k / (MMU_POINTS - 1) : 1.0;
        int64_t win = len <= MMU_FROM_NS ? len : (int64_t)llround(MMU_FROM_NS * pow((double)len / MMU_FROM_NS, f));
        if (win <= last)
            continue;
        put_mmu_point(w, &u, x->end_ns, win, first);
        first = 0, last = win;
    }
    WV_JW_LIT(w, "],\"stats\":[");
    for (size_t i = 0; i < WV_BLOCKING_MMU_WINDOWS; i++)
        put_mmu_point(w, &u, x->end_ns, wv_blocking_mmu_window(i), i == 0);
    WV_JW_LIT(w, "]}");
    wv_union_free(&u);
    return 0;
}

/* ---- /blocking ------------------------------------------------------------------------------------- */

static int build_blocking(const wv_index *x, FILE *f)
{
    wv_jw jw, *w = &jw;
    if (wv_jw_init(w, f))
        return -1;
    wv_blocking_finish(x->rt->blocking, x->end_ns);
    WV_JW_LIT(w, "{");
    wv_rt_put_sched_source(x, w);
    int rc = put_sites(w, x, 0) || put_sites(w, x, 1) ? -1 : 0;
    WV_JNK(w, "unlisted");
    wv_jw_u64(w, wv_blocking_unlisted(x->rt->blocking));
    put_latency(w, x);
    put_schedstat(w, x);
    if (!rc)
        rc = put_pauses(w, x);
    WV_JW_LIT(w, "}\n");
    return wv_jw_close(w) || rc ? -1 : 0;
}

/* Builds and keeps the answer (x->rt->blocking_json; NULL if out of memory). */
static void *blocking_main(void *p)
{
    const wv_index *x = p;
    wv_rt_index *rt = x->rt;
    FILE *f = open_memstream(&rt->blocking_json, &rt->blocking_len);
    int rc = f ? build_blocking(x, f) : -1;
    if (f)
        fclose(f);
    if (rc) {
        free(rt->blocking_json);
        rt->blocking_json = NULL;
    }
    return NULL;
}

int wv_api_blocking(wv_trace *t, const wv_params *p, wv_jw *w, char *err)
{
    (void)p;
    wv_rt_index *rt = t->x->rt;
    if (!rt) {
        snprintf(err, WV_ERR_MAX, "this trace has no runtime events");
        return 404;
    }
    pthread_mutex_lock(&rt->blocking_lock);
    if (!rt->blocking_json) /* it names call sites: on a stack libdw fits in */
        wv_rt_big_stack(blocking_main, t->x);
    const char *json = rt->blocking_json; /* once set, never changed until the index is freed */
    size_t len = rt->blocking_len;
    pthread_mutex_unlock(&rt->blocking_lock);
    if (!json) {
        snprintf(err, WV_ERR_MAX, "out of memory");
        return 500;
    }
    wv_jw_raw(w, json, len);
    return 200;
}
