/*
 * serve_stats.c - the answers of /tasks, /regions and /aggregate
 * (docs/http-api.md), from the latency tables of serve_latency.c.
 *
 * Percentiles are nearest-rank on the sorted durations. Histogram buckets
 * are powers of sqrt(10) from 1 us, wide enough that 20 buckets cover 1 us
 * to 10 min, the range where task latencies live.
 */
#include <math.h>
#include <stdlib.h>

#include "model.h"
#include "serve_json.h"

#define AGG_ROWS 500
#define HIST_MAX 38 /* the last bound, 10^21.5 ns, is past any int64 */

typedef struct kind {
    int tasks; /* 1: /tasks, 0: /regions */
    wv_index *x;
} kind;

static int64_t dur_of(const kind *k, uint32_t i) { return wv_index_duration(k->x, k->tasks, i); }

/* Lower bound of bucket b: 1000 * 10^(b/2) ns, rounded down. */
static int64_t bucket_lo(int b)
{
    return b ? (int64_t)floor(1000.0 * pow(10.0, b / 2.0)) : 1000;
}

static int bucket_of(int64_t ns)
{
    int b = 0;
    while (b + 1 < HIST_MAX && ns >= bucket_lo(b + 1))
        b++;
    return b;
}

/* Nearest rank p% of n durations sorted slowest first. */
static int64_t percentile(const kind *k, const wv_ltype *t, int p)
{
    size_t rank = (size_t)((p * t->n + 99) / 100); /* ceil(p/100 * n), at least 1 */
    return dur_of(k, t->idx[t->n - (rank ? rank : 1)]);
}

static void put_type_stats(const kind *k, const wv_ltype *t, wv_jw *w, int first)
{
    WV_JW_ITEM(w, !first, "\n{\"type\":");
    wv_jw_istr(w, k->x, t->type);
    WV_JNK(w, "count");
    wv_jw_u64(w, t->n);
    WV_JNK(w, "unfinished");
    wv_jw_u64(w, t->unfinished);
    static const struct { const char *key; int p; } ps[] = {{",\"p50_ns\":", 50}, {",\"p90_ns\":", 90},
                                                            {",\"p99_ns\":", 99}};
    for (int i = 0; i < 3; i++) {
        wv_jw_raw(w, ps[i].key, strlen(ps[i].key));
        wv_jw_i64(w, percentile(k, t, ps[i].p));
    }
    WV_JNK(w, "max_ns");
    wv_jw_i64(w, dur_of(k, t->idx[0]));
    uint64_t hist[HIST_MAX] = {0};
    int top = 0;
    for (size_t i = 0; i < t->n; i++) {
        int b = bucket_of(dur_of(k, t->idx[i]));
        hist[b]++;
        top = b > top ? b : top;
    }
    WV_JNK(w, "histogram");
    WV_JW_LIT(w, "[");
    for (int b = 0; b <= top; b++) {
        WV_JW_ITEM(w, b, "{\"lo_ns\":");
        wv_jw_i64(w, bucket_lo(b));
        WV_JNK(w, "hi_ns");
        wv_jw_i64(w, bucket_lo(b + 1));
        WV_JNK(w, "count");
        wv_jw_u64(w, hist[b]);
        WV_JW_LIT(w, "}");
    }
    WV_JW_LIT(w, "]}");
}

/* The threads a task was seen on: where it began and ended and every hop. */
static void put_task_threads(const wv_index *x, const wv_itask *t, wv_jw *w)
{
    uint32_t seen[64];
    int n = 0;
    seen[n++] = t->begin_thread;
    for (uint32_t f = t->first_flow; f && n < 62; f = x->flows[f - 1].next_of_task) {
        seen[n++] = x->flows[f - 1].from_thread;
        seen[n++] = x->flows[f - 1].to_thread;
    }
    seen[n++] = t->end_thread;
    for (int i = 1; i < n; i++) /* insertion sort, then unique */
        for (int j = i; j > 0 && seen[j - 1] > seen[j]; j--) {
            uint32_t v = seen[j];
            seen[j] = seen[j - 1], seen[j - 1] = v;
        }
    WV_JW_LIT(w, "[");
    for (int i = 0; i < n; i++) {
        if (i && seen[i] == seen[i - 1])
            continue;
        if (i)
            WV_JW_LIT(w, ",");
        wv_jw_u64(w, seen[i]);
    }
    WV_JW_LIT(w, "]");
}

static void put_item(const kind *k, uint32_t i, wv_jw *w, int first)
{
    const wv_index *x = k->x;
    if (k->tasks) {
        const wv_itask *t = &x->tasks[i];
        WV_JW_ITEM(w, !first, "{\"task\":");
        wv_jw_u64(w, t->id);
        WV_JNK(w, "s");
        wv_jw_i64(w, t->s);
        WV_JNK(w, "e");
        wv_jw_i64(w, t->e);
        WV_JNK(w, "latency_ns");
        wv_jw_i64(w, t->e - t->s);
        WV_JNK(w, "threads");
        put_task_threads(x, t, w);
        WV_JNK(w, "unfinished");
        wv_jw_bool(w, t->unfinished);
    } else {
        size_t pos;
        const wv_row *r = wv_index_slice(x, i, &pos);
        WV_JW_ITEM(w, !first, "{");
        wv_put_slice(w, x, r, pos);
        WV_JNK(w, "thread");
        wv_jw_u64(w, r->thread);
    }
    WV_JW_LIT(w, "}");
}

/* First position at or after `from` of a type's items (slowest first)
 * whose duration is below v. */
static size_t first_below(const kind *k, const wv_ltype *t, size_t from, int64_t v)
{
    size_t lo = from, hi = t->n;
    while (lo < hi) {
        size_t m = lo + (hi - lo) / 2;
        if (dur_of(k, t->idx[m]) >= v)
            lo = m + 1;
        else
            hi = m;
    }
    return lo;
}

/* ?type=T[&latmin][&latmax][&limit]: the type's items in [latmin, latmax). */
static int list_type(const kind *k, const wv_latency *l, const char *type, const wv_params *p,
                     wv_jw *w, char *err)
{
    int64_t lo, hi, limit;
    if (wv_param_i64(p, "latmin", 0, 0, INT64_MAX, 0, &lo, err) ||
        wv_param_i64(p, "latmax", 0, 0, INT64_MAX, INT64_MAX, &hi, err) ||
        wv_param_i64(p, "limit", 0, 1, 100000, 1000, &limit, err))
        return 400;
    const wv_ltype *t = NULL;
    for (size_t i = 0; i < l->ntypes && !t; i++)
        if (!strcmp(wv_index_str(k->x, l->types[i].type, NULL), type))
            t = &l->types[i];
    if (!t) {
        snprintf(err, WV_ERR_MAX, "no %s type %.60s in this trace", k->tasks ? "task" : "region", type);
        return 404;
    }
    /* slowest first: [a, b) are the durations below hi and at least lo */
    size_t a = first_below(k, t, 0, hi), b = first_below(k, t, a, lo);
    WV_JW_LIT(w, "{\"type\":");
    wv_jw_cstr(w, type);
    if (k->tasks)
        WV_JNK(w, "tasks");
    else
        WV_JNK(w, "slices");
    WV_JW_LIT(w, "[");
    for (size_t i = a; i < b && i < a + (size_t)limit; i++)
        put_item(k, t->idx[i], w, i == a);
    WV_JW_LIT(w, "],\"total\":");
    wv_jw_u64(w, b - a);
    WV_JW_LIT(w, "}\n");
    return 200;
}

static int latency_answer(kind *k, const wv_params *p, wv_jw *w, char *err)
{
    const wv_latency *l = k->tasks ? wv_index_task_latency(k->x) : wv_index_region_latency(k->x);
    if (!l) {
        snprintf(err, WV_ERR_MAX, "out of memory");
        return 500;
    }
    const char *type = wv_param(p, "type");
    if (type)
        return list_type(k, l, type, p, w, err);
    WV_JW_LIT(w, "{\"types\":[");
    for (size_t i = 0; i < l->ntypes; i++)
        put_type_stats(k, &l->types[i], w, i == 0);
    WV_JW_LIT(w, "]}\n");
    return 200;
}

int wv_api_tasks(wv_trace *t, const wv_params *p, wv_jw *w, char *err)
{
    kind k = {1, t->x};
    return latency_answer(&k, p, w, err);
}

int wv_api_regions(wv_trace *t, const wv_params *p, wv_jw *w, char *err)
{
    kind k = {0, t->x};
    return latency_answer(&k, p, w, err);
}

/* ---- /aggregate ----------------------------------------------------------- */

typedef struct agg {
    uint32_t name;
    uint64_t count;
    int64_t total, max;
    uint64_t max_i;
} agg;

static int by_total(const void *a, const void *b)
{
    const agg *x = a, *y = b;
    if (x->total != y->total)
        return x->total > y->total ? -1 : 1;
    return x->name < y->name ? -1 : x->name > y->name;
}

int wv_api_aggregate(wv_trace *t, const wv_params *p, wv_jw *w, char *err)
{
    wv_index *x = t->x;
    int64_t start, end;
    uint32_t *sel;
    size_t nsel;
    if (wv_param_i64(p, "start", 1, INT64_MIN / 4, INT64_MAX / 4, 0, &start, err) ||
        wv_param_i64(p, "end", 1, INT64_MIN / 4, INT64_MAX / 4, 0, &end, err) ||
        wv_param_threads(p, &sel, &nsel, err))
        return 400;
    if (start >= end) {
        free(sel);
        snprintf(err, WV_ERR_MAX, "start must be less than end");
        return 400;
    }
    agg *by = calloc(x->nstr + 1, sizeof *by);
    if (!by) {
        free(sel);
        snprintf(err, WV_ERR_MAX, "out of memory");
        return 500;
    }
    for (size_t r = 0; r < x->nrows; r++) {
        const wv_row *row = &x->rows[r];
        if (!wv_thread_selected(sel, nsel, row->thread))
            continue;
        for (size_t i = wv_row_first_after(row, start); i < row->n && row->sl[i].s < end; i++) {
            const wv_slice *s = &row->sl[i];
            int64_t a = s->s > start ? s->s : start, e = s->s + s->d < end ? s->s + s->d : end;
            agg *g = &by[s->name < x->nstr ? s->name : 0];
            if (!g->count || e - a > g->max)
                g->max = e - a, g->max_i = row->base + i;
            g->name = s->name;
            g->count++;
            g->total += e - a;
        }
    }
    free(sel);
    size_t n = 0;
    for (size_t k = 0; k < x->nstr; k++)
        if (by[k].count)
            by[n++] = by[k];
    qsort(by, n, sizeof *by, by_total);
    WV_JW_LIT(w, "{\"start\":");
    wv_jw_i64(w, start);
    WV_JNK(w, "end");
    wv_jw_i64(w, end);
    WV_JNK(w, "rows");
    WV_JW_LIT(w, "[");
    for (size_t k = 0; k < n && k < AGG_ROWS; k++) {
        WV_JW_ITEM(w, k, "{\"name\":");
        wv_jw_istr(w, x, by[k].name);
        WV_JNK(w, "count");
        wv_jw_u64(w, by[k].count);
        WV_JNK(w, "total_ns");
        wv_jw_i64(w, by[k].total);
        WV_JNK(w, "avg_ns");
        wv_jw_i64(w, by[k].total / (int64_t)by[k].count);
        WV_JNK(w, "max_ns");
        wv_jw_i64(w, by[k].max);
        WV_JNK(w, "max_i");
        wv_jw_u64(w, by[k].max_i);
        WV_JW_LIT(w, "}");
    }
    WV_JW_LIT(w, "]}\n");
    free(by);
    return 200;
}
