/*
 * serve_latency.c - latency analyses: /tasks and /regions (percentiles,
 * log-scale histograms, filtered lists slowest first) and /aggregate
 * (time per slice name in a range) (docs/http-api.md).
 *
 * The per-type tables sort every task or slice by duration, which takes
 * longer than indexing the trace does, so they are built after load (by
 * the warm-up, or on first use): opening a trace stays fast. So is the
 * list of logs by task that /slice and /logs?task use. Each is built
 * outside the index's lock and published under it, so a request never
 * waits for the warm-up, which runs only on idle CPU time (serve.c): it
 * builds its own copy, and whichever is done first is kept.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "serve_json.h"

/* ---- tables --------------------------------------------------------------- */

typedef struct lat_src {
    const wv_index *x;
    int tasks; /* 1: task latencies, 0: region durations */
} lat_src;

int64_t wv_index_duration(const wv_index *x, int tasks, uint32_t i)
{
    if (tasks)
        return x->tasks[i].e - x->tasks[i].s;
    size_t pos;
    const wv_row *r = wv_index_slice(x, i, &pos);
    return r->sl[pos].d;
}

/* A (key, index) pair; key = UINT64_MAX - duration, so ascending keys put the
 * slowest first. */
typedef struct lat_pair {
    uint64_t key;
    uint32_t idx;
} lat_pair;

/* Sorts pairs by key, stably, with an LSD radix sort on bytes, skipping the
 * bytes all keys share. Written by hand because glibc's qsort compares
 * through a callback: sorting the 10 M slices of a big trace that way took
 * several seconds of CPU, right while the browser draws its first timeline;
 * this takes a fraction of a second. `tmp` has room for n pairs. */
static void radix_sort(lat_pair *a, lat_pair *tmp, size_t n)
{
    uint64_t all_or = 0, all_and = UINT64_MAX;
    for (size_t i = 0; i < n; i++)
        all_or |= a[i].key, all_and &= a[i].key;
    for (unsigned shift = 0; shift < 64; shift += 8) {
        if (!(((all_or ^ all_and) >> shift) & 0xff))
            continue; /* every key has the same byte here */
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++)
            count[((a[i].key >> shift) & 0xff) + 1]++;
        for (int b = 0; b < 256; b++)
            count[b + 1] += count[b];
        for (size_t i = 0; i < n; i++)
            tmp[count[(a[i].key >> shift) & 0xff]++] = a[i];
        lat_pair *t = a;
        a = tmp, tmp = t;
        memcpy(tmp, a, n * sizeof *a); /* keep the result in both buffers */
    }
}

/* Orders each type's indexes slowest first (ties in index order). */
static int sort_types(wv_latency *l, const int64_t *dur, size_t n)
{
    lat_pair *p = malloc((2 * n + 1) * sizeof *p);
    if (!p)
        return -1;
    for (size_t k = 0; k < l->ntypes; k++) {
        wv_ltype *t = &l->types[k];
        for (size_t i = 0; i < t->n; i++)
            p[i] = (lat_pair){UINT64_MAX - (uint64_t)(dur[t->idx[i]] < 0 ? 0 : dur[t->idx[i]]), t->idx[i]};
        radix_sort(p, p + t->n, t->n);
        for (size_t i = 0; i < t->n; i++)
            t->idx[i] = p[i].idx;
    }
    free(p);
    return 0;
}

static int build(wv_latency *l, const lat_src *c)
{
    const wv_index *x = c->x;
    size_t n = c->tasks ? x->ntasks : x->nslices;
    uint32_t *slot = calloc(x->nstr + 1, sizeof *slot); /* type id -> types index + 1 */
    uint32_t *types = malloc(n * sizeof *types + 1);
    int64_t *dur = malloc(n * sizeof *dur + 1);
    uint64_t *unfinished = calloc(x->nstr + 1, sizeof *unfinished);
    int rc = slot && types && dur && unfinished ? 0 : -1;
    size_t pos = 0;
    const wv_row *row = x->rows;
    for (size_t i = 0; !rc && i < n; i++) { /* slices are numbered row by row */
        while (!c->tasks && i >= row->base + row->n)
            row++;
        const wv_slice *sl = c->tasks ? NULL : &row->sl[i - row->base];
        uint32_t type = c->tasks ? x->tasks[i].type : sl->name;
        types[i] = type < x->nstr ? type : 0;
        dur[i] = c->tasks ? x->tasks[i].e - x->tasks[i].s : sl->d;
        unfinished[types[i]] += c->tasks ? x->tasks[i].unfinished : (sl->flags & WV_SPAN_NOT_ENDED) != 0;
        if (!slot[types[i]]++)
            pos++;
    }
    l->types = rc ? NULL : calloc(pos + 1, sizeof *l->types);
    rc = l->types ? 0 : -1;
    for (uint32_t k = 0; !rc && k < x->nstr; k++) {
        if (!slot[k])
            continue;
        wv_ltype *t = &l->types[l->ntypes];
        t->type = k;
        t->unfinished = unfinished[k];
        t->idx = malloc(slot[k] * sizeof *t->idx);
        rc = t->idx ? 0 : -1;
        slot[k] = (uint32_t)++l->ntypes;
    }
    for (size_t i = 0; !rc && i < n; i++) {
        wv_ltype *t = &l->types[slot[types[i]] - 1];
        t->idx[t->n++] = (uint32_t)i;
    }
    if (!rc)
        rc = sort_types(l, dur, n);
    free(slot);
    free(types);
    free(dur);
    free(unfinished);
    return rc;
}

void wv_latency_free(wv_latency *l)
{
    for (size_t i = 0; l->types && i < l->ntypes; i++)
        free(l->types[i].idx);
    free(l->types);
}

static int is_built(wv_index *x, const int *built)
{
    pthread_mutex_lock(&x->lazy_lock);
    int b = *built;
    pthread_mutex_unlock(&x->lazy_lock);
    return b;
}

static const wv_latency *lazy(wv_index *x, wv_latency *l, int *built, int tasks)
{
    if (!is_built(x, built)) {
        wv_latency mine = {0};
        lat_src c = {x, tasks};
        int ok = !build(&mine, &c);
        pthread_mutex_lock(&x->lazy_lock);
        if (ok && !*built)
            *l = mine, *built = 1;
        else
            wv_latency_free(&mine); /* out of memory, or another thread's came first */
        pthread_mutex_unlock(&x->lazy_lock);
    }
    return is_built(x, built) ? l : NULL;
}

const wv_latency *wv_index_task_latency(wv_index *x)
{
    return lazy(x, &x->task_lat, &x->task_lat_built, 1);
}

const wv_latency *wv_index_region_latency(wv_index *x)
{
    return lazy(x, &x->region_lat, &x->region_lat_built, 0);
}

static int by_task(const void *a, const void *b, void *ctx)
{
    const wv_ilog *l = ctx;
    uint64_t x = l[*(const uint32_t *)a].task, y = l[*(const uint32_t *)b].task;
    if (x != y)
        return x < y ? -1 : 1;
    return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1; /* time order */
}

/* The logs in (task, time) order, sorted on first use. */
static const uint32_t *logs_by_task(wv_index *x)
{
    pthread_mutex_lock(&x->lazy_lock);
    uint32_t *sorted = x->logs_by_task;
    pthread_mutex_unlock(&x->lazy_lock);
    if (sorted)
        return sorted;
    uint32_t *mine = malloc(x->nlogs * sizeof(uint32_t) + 1);
    for (size_t i = 0; mine && i < x->nlogs; i++)
        mine[i] = (uint32_t)i;
    if (mine)
        qsort_r(mine, x->nlogs, sizeof(uint32_t), by_task, x->logs);
    pthread_mutex_lock(&x->lazy_lock);
    if (!x->logs_by_task)
        x->logs_by_task = mine, mine = NULL;
    sorted = x->logs_by_task;
    pthread_mutex_unlock(&x->lazy_lock);
    free(mine); /* another thread's came first */
    return sorted;
}

const uint32_t *wv_index_task_logs(wv_index *x, uint64_t task, size_t *n)
{
    const uint32_t *sorted = logs_by_task(x);
    *n = 0;
    if (!sorted)
        return NULL;
    size_t lo = 0, hi = x->nlogs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (x->logs[sorted[mid]].task < task)
            lo = mid + 1;
        else
            hi = mid;
    }
    while (lo + *n < x->nlogs && x->logs[sorted[lo + *n]].task == task)
        ++*n;
    return sorted + lo;
}
