/*
 * serve_rt.c - the runtime part of the serve index (serve_rt.h) once the
 * file is read (serve_rt_load.c collects it): the spans and items become
 * rows with their pyramids and the pauses are laid out in lanes, on a
 * thread of their own while the index builds the rows of regions, then the
 * heap samples become counters. Also the lookups, the symbolizer and the
 * index's memory.
 */
#include "serve_rt_build.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vocab.h"

#define MAX_LANES 8u /* GC / allocator lanes; later pauses share the one that frees first */

/* ---- rows ---------------------------------------------------------------------------------- */

/* Gives back the doubling slack of a finished row. */
static void fit_row(wv_row *r)
{
    if (r->n && r->n < r->cap) {
        wv_slice *q = realloc(r->sl, r->n * sizeof *q);
        if (q)
            r->sl = q, r->cap = r->n;
    }
}

/* A row made of a span list (which it takes over). */
static wv_row row_of_list(wv_span_list *l, uint32_t id)
{
    wv_row r = {.thread = id, .sl = l->v, .n = l->n, .cap = l->cap};
    l->v = NULL, l->n = l->cap = 0;
    fit_row(&r);
    return r;
}

static int by_start(const void *x, const void *y)
{
    const wv_slice *a = x, *b = y;
    if (a->s != b->s)
        return a->s < b->s ? -1 : 1;
    return a->task < b->task ? -1 : a->task > b->task; /* delivery order */
}

/* Rows of items are filed in order of their ends; their starts are in
 * order too, bar damaged durations or a uv POLL_WAIT that is delivered
 * after the POLL_IO that follows it. Sorts a row that needs it and clips
 * overlaps, so the row's searches hold (slices of a row never overlap). */
static void settle(wv_row *r)
{
    size_t i = 1;
    while (i < r->n && by_start(&r->sl[i - 1], &r->sl[i]) <= 0)
        i++;
    if (i < r->n)
        qsort(r->sl, r->n, sizeof *r->sl, by_start);
    for (i = 1; i < r->n; i++) {
        int64_t prev_end = r->sl[i - 1].s + r->sl[i - 1].d;
        if (r->sl[i].s < prev_end) {
            int64_t end = r->sl[i].s + r->sl[i].d;
            r->sl[i].s = prev_end;
            r->sl[i].d = end > prev_end ? end - prev_end : 0;
        }
    }
}

/* One row per non-empty list below `limit` (the model names only threads
 * the file defines, all below it), in *rows; slot k of row_of names it. */
static int take_lists(wv_rt_index *rt, wv_span_list *lists, size_t nlists, int slot, wv_row **rows, size_t *nrows)
{
    size_t n = 0, limit = nlists < rt->thread_limit ? nlists : rt->thread_limit;
    for (size_t i = 0; i < limit; i++)
        n += lists[i].n > 0;
    if (!n)
        return 0;
    if (!(*rows = calloc(n, sizeof **rows)))
        return -ENOMEM;
    for (uint32_t i = 0; i < limit; i++) {
        if (!lists[i].n)
            continue;
        wv_row *r = &(*rows)[*nrows];
        *r = row_of_list(&lists[i], i);
        settle(r);
        rt->row_of[3 * i + slot] = (uint32_t)++*nrows;
        if (wv_lod_build_row(r))
            return -ENOMEM;
    }
    return 0;
}

static int take_states(wv_rt_index *rt, wv_rt_build *b)
{
    size_t n = 0, limit = b->nstates < rt->thread_limit ? b->nstates : rt->thread_limit;
    for (size_t i = 0; i < limit; i++)
        n += b->states[i].n > 0;
    if (!n)
        return 0;
    if (!(rt->states = calloc(n, sizeof *rt->states)))
        return -ENOMEM;
    for (uint32_t i = 0; i < limit; i++) {
        if (!b->states[i].n)
            continue;
        wv_state_row *s = &rt->states[rt->nstates];
        s->row = row_of_list(&b->states[i], i);
        rt->row_of[3 * i] = (uint32_t)++rt->nstates;
        if (wv_lod_build_states(s))
            return -ENOMEM;
    }
    return 0;
}

/* CPU rows, numbered by CPU (row.thread). */
static int take_cpus(wv_rt_index *rt, wv_rt_build *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->ncpus; i++)
        n += b->cpus[i].n > 0;
    if (!n)
        return 0;
    if (!(rt->cpus = calloc(n, sizeof *rt->cpus)))
        return -ENOMEM;
    for (uint32_t i = 0; i < b->ncpus; i++) {
        if (!b->cpus[i].n)
            continue;
        rt->cpus[rt->ncpus] = row_of_list(&b->cpus[i], i);
        if (wv_lod_build_row(&rt->cpus[rt->ncpus++]))
            return -ENOMEM;
    }
    return 0;
}

/* GC and allocator pauses in lanes, greedily by start: a pause takes the
 * first lane free at its start; with every lane busy it takes the one that
 * frees first and is drawn from then (flagged; its item keeps its times). */
static int take_lanes(wv_rt_index *rt)
{
    wv_span_list all = {0}, lanes[MAX_LANES] = {{0}};
    int64_t lane_end[MAX_LANES];
    int rc = 0;
    for (size_t i = 0; !rc && i < rt->nitems; i++) {
        const wv_rt_item *it = &rt->items[i];
        if (it->kind != WV_ITEM_GC && it->kind != WV_ITEM_ALLOC)
            continue;
        if (wv_grow(&all.v, &all.cap, all.n + 1, sizeof *all.v))
            rc = -ENOMEM;
        else
            all.v[all.n++] = (wv_slice){it->s, it->e - it->s, i, wv_item_name(it->kind, it->code), it->flags};
    }
    if (!rc && all.n)
        qsort(all.v, all.n, sizeof *all.v, by_start);
    uint32_t used = 0;
    for (size_t i = 0; !rc && i < all.n; i++) {
        wv_slice s = all.v[i];
        uint32_t k = 0;
        while (k < used && lane_end[k] > s.s)
            k++;
        if (k == used && used < MAX_LANES) {
            used++;
        } else if (k == used) {
            k = 0;
            for (uint32_t j = 1; j < MAX_LANES; j++)
                k = lane_end[j] < lane_end[k] ? j : k;
            int64_t end = s.s + s.d;
            s.s = lane_end[k];
            s.d = end > s.s ? end - s.s : 0;
            rt->items[s.task].flags |= WV_ITEM_CLIPPED;
        }
        lane_end[k] = s.s + s.d;
        if (wv_grow(&lanes[k].v, &lanes[k].cap, lanes[k].n + 1, sizeof *lanes[k].v))
            rc = -ENOMEM;
        else
            lanes[k].v[lanes[k].n++] = s;
    }
    free(all.v);
    if (!rc && used && !(rt->lanes = calloc(used, sizeof *rt->lanes)))
        rc = -ENOMEM;
    for (uint32_t k = 0; !rc && k < used; k++) {
        rt->lanes[k] = row_of_list(&lanes[k], 0);
        rt->lanes[k].depth = k;
        rt->nlanes++;
        if (wv_lod_build_row(&rt->lanes[k]))
            rc = -ENOMEM;
    }
    for (uint32_t k = 0; k < MAX_LANES; k++)
        free(lanes[k].v);
    return rc;
}

static int build_rows(wv_rt_build *b)
{
    wv_rt_index *rt = b->rt;
    if (!(rt->row_of = calloc(3 * (size_t)rt->thread_limit + 3, sizeof *rt->row_of)))
        return -ENOMEM;
    if (rt->nitems && rt->nitems < b->items_cap) {
        wv_rt_item *q = realloc(rt->items, rt->nitems * sizeof *q);
        rt->items = q ? q : rt->items;
    }
    if (take_states(rt, b) || take_cpus(rt, b) || take_lists(rt, b->waits, b->nwaits, 1, &rt->waits, &rt->nwaits) ||
        take_lists(rt, b->uvs, b->nuvs, 2, &rt->uvs, &rt->nuvs) || take_lanes(rt))
        return -ENOMEM;
    return 0;
}

static void *rows_main(void *p)
{
    wv_rt_build *b = p;
    b->rows_rc = build_rows(b);
    return NULL;
}

/* ---- when loading ends ------------------------------------------------------------------------ */

/* Anything to keep: a trace without runtime events has no rt part at all. */
static int has_data(const wv_rt_build *b)
{
    if (b->nitems || b->latency_samples || b->schedstat_samples || b->nheaps)
        return 1;
    for (size_t i = 0; i < b->nstates; i++)
        if (b->states[i].n)
            return 1;
    for (size_t i = 0; i < b->ncpus; i++)
        if (b->cpus[i].n)
            return 1;
    const wv_rt_totals *t = wv_rt_get_totals(b->model);
    return t->lost || t->ignored || wv_blocking_threads(b->blocking);
}

int wv_rt_rows_start(wv_rt_build *b, uint32_t thread_limit)
{
    if (b->oom || wv_blocking_failed(b->blocking))
        return -ENOMEM;
    if (!has_data(b))
        return 0;
    wv_rt_index *rt = b->rt = calloc(1, sizeof *rt);
    if (!rt)
        return -ENOMEM;
    pthread_mutex_init(&rt->lock, NULL);
    pthread_mutex_init(&rt->blocking_lock, NULL);
    rt->totals = *wv_rt_get_totals(b->model);
    rt->blocking = b->blocking, b->blocking = NULL;
    rt->items = b->items, rt->nitems = b->nitems, b->items = NULL;
    memcpy(rt->kinds, b->kinds, sizeof rt->kinds);
    rt->latency_samples = b->latency_samples;
    rt->schedstat_samples = b->schedstat_samples;
    rt->nheaps = b->nheaps;
    rt->thread_limit = thread_limit;
    /* the rows of regions are built meanwhile on the caller's thread */
    b->rows_running = !pthread_create(&b->rows, NULL, rows_main, b);
    if (!b->rows_running)
        b->rows_rc = build_rows(b);
    return 0;
}

static int take_modules(wv_rt_index *rt, wv_reader *r)
{
    uint32_t n = wv_reader_module_count(r);
    if (!n)
        return 0;
    if (!(rt->modules = calloc(n, sizeof *rt->modules)))
        return -ENOMEM;
    for (; rt->nmodules < n; rt->nmodules++) {
        const wv_module *m = wv_reader_module(r, rt->nmodules);
        rt->modules[rt->nmodules] = *m;
        if (!(rt->modules[rt->nmodules].path = strdup(m->path)))
            return -ENOMEM;
    }
    return 0;
}

/* Adds a counter named `name`, a string the index gets now, with n points
 * (t and v, which it takes over). @return 0 or -ENOMEM (t, v freed). */
static int add_counter(wv_index *x, const char *name, int64_t *t, int64_t *v, size_t n)
{
    size_t len = strlen(name), used = x->str_off[x->nstr];
    uint64_t *off = realloc(x->str_off, (x->nstr + 2) * sizeof *off);
    if (off)
        x->str_off = off;
    char *blob = off ? realloc(x->str_blob, used + len + 1) : NULL;
    wv_icounter *c = blob ? realloc(x->counters, (x->ncounters + 1) * sizeof *c) : NULL;
    if (blob)
        x->str_blob = blob;
    if (!c) {
        free(t);
        free(v);
        return -ENOMEM;
    }
    x->counters = c;
    memcpy(blob + used, name, len + 1);
    x->str_off[++x->nstr] = used + len + 1;
    c = &c[x->ncounters++];
    *c = (wv_icounter){.name = x->nstr - 1, .n = n, .cap = n, .t = t, .v = v};
    return wv_lod_build_counter(c);
}

static int take_heaps(wv_index *x, wv_rt_build *b)
{
    for (uint32_t k = 0; k < b->nheaps; k++) {
        wv_heap_list *l = &b->heaps[k];
        char name[48], op[32];
        snprintf(name, sizeof name, "heap (%s)", wv_code_label(wv_heap_source_name(l->source), l->source, op));
        int rc = add_counter(x, name, l->t, l->v, l->n);
        l->t = l->v = NULL; /* the counter owns them now, or they are freed */
        if (rc)
            return rc;
    }
    return 0;
}

/* Schedstat (the fallback when perf_event_open is refused) has no switches
 * to draw as states, so each thread's samples become two counters: the share
 * of each sampling period on a CPU and waiting for one. */
static int take_sched(wv_index *x, wv_rt_build *b, wv_reader *r)
{
    for (size_t i = 0; i < b->nsched; i++) {
        wv_sched_series *l = &b->sched[i];
        if (!l->n)
            continue;
        const wv_thread *th = wv_reader_thread(r, (uint32_t)i);
        char name[WV_MAX_NAME + 64];
        int64_t *t2 = malloc(l->n * sizeof *t2);
        if (!t2)
            return -ENOMEM;
        memcpy(t2, l->t, l->n * sizeof *t2);
        snprintf(name, sizeof name, "%s (tid %llu) on CPU (%%)", th->name, (unsigned long long)th->tid);
        int rc = add_counter(x, name, l->t, l->on, l->n);
        l->t = l->on = NULL; /* the counter owns them now, or they are freed */
        snprintf(name, sizeof name, "%s (tid %llu) waiting for a CPU (%%)", th->name,
                 (unsigned long long)th->tid);
        if (!rc)
            rc = add_counter(x, name, t2, l->wait, l->n);
        else
            free(t2), free(l->wait);
        l->wait = NULL;
        if (rc)
            return rc;
    }
    return 0;
}

int wv_rt_index_take(wv_index *x, wv_rt_build *b, wv_reader *r)
{
    if (b->rows_running)
        pthread_join(b->rows, NULL);
    b->rows_running = 0;
    int rc = b->rows_rc || take_heaps(x, b) || take_sched(x, b, r) || (b->rt && take_modules(b->rt, r)) ? -ENOMEM : 0;
    if (!rc)
        x->rt = b->rt, b->rt = NULL;
    wv_rt_build_free(b);
    return rc;
}

/* ---- lookups and lifetime -------------------------------------------------------------- */

static uint32_t row_slot(const wv_index *x, uint32_t thread, int slot)
{
    const wv_rt_index *rt = x->rt;
    return rt && thread < rt->thread_limit ? rt->row_of[3 * thread + slot] : 0;
}

const wv_state_row *wv_rt_state_row(const wv_index *x, uint32_t thread)
{
    uint32_t k = row_slot(x, thread, 0);
    return k ? &x->rt->states[k - 1] : NULL;
}

const wv_row *wv_rt_wait_row(const wv_index *x, uint32_t thread)
{
    uint32_t k = row_slot(x, thread, 1);
    return k ? &x->rt->waits[k - 1] : NULL;
}

const wv_row *wv_rt_uv_row(const wv_index *x, uint32_t thread)
{
    uint32_t k = row_slot(x, thread, 2);
    return k ? &x->rt->uvs[k - 1] : NULL;
}

const char *wv_state_key(unsigned code)
{
    if (code == WV_STATE_RUNNING)
        return "running";
    if (code == WV_STATE_RUNNABLE)
        return "runnable";
    return wv_block_reason_name(code - 1);
}

#define BIG_STACK (16u << 20)

static __thread int on_big_stack; /* this thread runs wv_rt_big_stack()'s fn */

typedef struct big_call {
    void *(*fn)(void *);
    void *arg;
} big_call;

static void *big_main(void *p)
{
    big_call *c = p;
    on_big_stack = 1;
    return c->fn(c->arg);
}

int wv_rt_big_stack(void *(*fn)(void *), void *arg)
{
    if (on_big_stack) {
        fn(arg);
        return 0;
    }
    big_call c = {fn, arg};
    pthread_attr_t a;
    pthread_t t;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, BIG_STACK);
    int rc = pthread_create(&t, &a, big_main, &c);
    pthread_attr_destroy(&a);
    if (rc)
        return -rc;
    pthread_join(t, NULL);
    return 0;
}

typedef struct lookup {
    wv_rt_index *rt;
    uint64_t addr;
    char *buf;
    size_t n;
} lookup;

static void *site_lookup(void *p)
{
    lookup *l = p;
    wv_rt_index *rt = l->rt;
    if (!rt->sym && (rt->sym = wv_symbols_new()))
        for (uint32_t i = 0; i < rt->nmodules; i++)
            if (wv_symbols_add_module(rt->sym, rt->modules[i].start, rt->modules[i].end, rt->modules[i].offset,
                                      rt->modules[i].path))
                break; /* out of memory: later sites stay addresses */
    if (rt->sym)
        snprintf(l->buf, l->n, "%s", wv_symbols_lookup(rt->sym, l->addr)->text);
    return NULL;
}

const char *wv_rt_site_text(wv_rt_index *rt, uint64_t addr, char *buf, size_t n)
{
    lookup l = {rt, addr, buf, n};
    snprintf(buf, n, "0x%llx", (unsigned long long)addr); /* if it cannot be named */
    pthread_mutex_lock(&rt->lock);
    wv_rt_big_stack(site_lookup, &l);
    pthread_mutex_unlock(&rt->lock);
    return buf;
}

static void free_row(wv_row *r)
{
    free(r->sl);
    for (int k = 0; k < WV_LOD_LEVELS; k++)
        free(r->lod[k]);
}

static void free_rows(wv_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free_row(&rows[i]);
    free(rows);
}

void wv_rt_index_free(wv_rt_index *rt)
{
    if (!rt)
        return;
    for (size_t i = 0; i < rt->nstates; i++) {
        free_row(&rt->states[i].row);
        for (int k = 0; k < WV_LOD_LEVELS; k++)
            free(rt->states[i].sums[k]);
    }
    free(rt->states);
    free_rows(rt->cpus, rt->ncpus);
    free_rows(rt->waits, rt->nwaits);
    free_rows(rt->uvs, rt->nuvs);
    free_rows(rt->lanes, rt->nlanes);
    free(rt->items);
    free(rt->row_of);
    wv_blocking_free(rt->blocking);
    for (uint32_t i = 0; i < rt->nmodules; i++)
        free((char *)rt->modules[i].path);
    free(rt->modules);
    wv_symbols_free(rt->sym);
    free(rt->blocking_json);
    pthread_mutex_destroy(&rt->lock);
    pthread_mutex_destroy(&rt->blocking_lock);
    free(rt);
}

static uint64_t row_bytes(const wv_row *r)
{
    uint64_t n = sizeof *r + r->cap * sizeof(wv_slice);
    for (int k = 0; k < WV_LOD_LEVELS; k++)
        n += r->nlod[k] * sizeof(wv_lod_node);
    return n;
}

uint64_t wv_rt_index_bytes(const wv_rt_index *rt)
{
    if (!rt)
        return 0;
    uint64_t n = sizeof *rt + rt->nitems * sizeof(wv_rt_item) + 12ull * rt->thread_limit + rt->blocking_len;
    for (size_t i = 0; i < rt->nstates; i++) {
        n += row_bytes(&rt->states[i].row);
        for (int k = 0; k < WV_LOD_LEVELS; k++)
            n += rt->states[i].nsums[k] * WV_STATE_CODES * sizeof(int64_t);
    }
    for (size_t i = 0; i < rt->ncpus; i++)
        n += row_bytes(&rt->cpus[i]);
    for (size_t i = 0; i < rt->nwaits; i++)
        n += row_bytes(&rt->waits[i]);
    for (size_t i = 0; i < rt->nuvs; i++)
        n += row_bytes(&rt->uvs[i]);
    for (size_t i = 0; i < rt->nlanes; i++)
        n += row_bytes(&rt->lanes[i]);
    return n;
}
