/*
 * serve_index.c - builds the index of serve_index.h in one pass over the
 * trace: the model's sinks append slices, tasks and flows, the event sink
 * appends logs and counter points, and a final step copies the strings the
 * index uses out of the reader, numbers the slices and builds the pyramids
 * (serve_lod.c).
 */
#include "serve_index.h"

#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "serve_rt.h"

typedef struct builder {
    wv_index *x;
    wv_reader *r;
    wv_row **trow;          /* per thread index: its rows by depth (grown) */
    uint32_t *trow_n;
    uint32_t ntrow;
    wv_logs_build logs;
    wv_taskmap extra;       /* task id -> index + 1 in x->task_extra */
    uint64_t max_str;
    int oom;
} builder;

static void see_str(builder *b, uint64_t id)
{
    if (id > b->max_str && id < WV_MAX_STRINGS)
        b->max_str = id;
}

/* ---- sinks --------------------------------------------------------------- */

static wv_row *row_of(builder *b, uint32_t thread, uint32_t depth)
{
    if (thread >= b->ntrow) {
        uint32_t n = b->ntrow ? b->ntrow : 16;
        while (n <= thread)
            n *= 2;
        wv_row **t = realloc(b->trow, n * sizeof *t);
        uint32_t *c = t ? realloc(b->trow_n, n * sizeof *c) : NULL;
        if (t)
            b->trow = t;
        if (!c)
            return NULL;
        b->trow_n = c;
        memset(t + b->ntrow, 0, (n - b->ntrow) * sizeof *t);
        memset(c + b->ntrow, 0, (n - b->ntrow) * sizeof *c);
        b->ntrow = n;
    }
    if (depth >= b->trow_n[thread]) {
        uint32_t n = depth + 1;
        wv_row *rows = realloc(b->trow[thread], n * sizeof *rows);
        if (!rows)
            return NULL;
        memset(rows + b->trow_n[thread], 0, (n - b->trow_n[thread]) * sizeof *rows);
        for (uint32_t d = b->trow_n[thread]; d < n; d++)
            rows[d].thread = thread, rows[d].depth = d;
        b->trow[thread] = rows;
        b->trow_n[thread] = n;
    }
    return &b->trow[thread][depth];
}

/* The task word of the index: the task's index + 1 in its low half, its
 * latest hop's index + 1 in its high half (while loading). */
#define TASK_OF(word) ((uint32_t)(word))
#define LAST_HOP_OF(word) ((uint32_t)((word) >> 32))

/* A slice's reference to task `id`: the task live when its region began
 * (the model hands its word over), else an entry of task_extra (a region of
 * a task that began before the recording, or after the region, is rare).
 * @return the reference, or UINT32_MAX when out of memory. */
static uint32_t task_ref(builder *b, uint64_t id, uint64_t word)
{
    wv_index *x = b->x;
    if (!id)
        return 0;
    if (TASK_OF(word) && TASK_OF(word) < WV_TASK_EXTRA)
        return TASK_OF(word);
    uint32_t k = wv_taskmap_get(&b->extra, id);
    if (!k) {
        if (x->ntask_extra >= WV_TASK_EXTRA - 1 ||
            wv_grow(&x->task_extra, &x->task_extra_cap, x->ntask_extra + 1, sizeof *x->task_extra) ||
            wv_taskmap_put(&b->extra, id, (uint32_t)x->ntask_extra))
            return UINT32_MAX;
        x->task_extra[x->ntask_extra] = id;
        k = (uint32_t)++x->ntask_extra;
    }
    return WV_TASK_EXTRA | (k - 1);
}

static void on_region(void *ctx, const wv_span *sp)
{
    builder *b = ctx;
    wv_row *r = row_of(b, sp->thread, sp->depth);
    uint32_t task = task_ref(b, sp->task, sp->user);
    if (!r || task == UINT32_MAX || wv_grow(&r->sl, &r->cap, r->n + 1, sizeof *r->sl)) {
        b->oom = 1;
        return;
    }
    r->sl[r->n++] = (wv_slice){sp->start_ns, sp->end_ns - sp->start_ns, task,
                               sp->type < WV_NAME_NONE ? (uint32_t)sp->type : WV_NAME_NONE, sp->flags};
    see_str(b, sp->type);
}

static void on_task_begin(void *ctx, const wv_task_mark *t)
{
    builder *b = ctx;
    wv_index *x = b->x;
    if (wv_grow(&x->tasks, &x->tasks_cap, x->ntasks + 1, sizeof *x->tasks)) {
        b->oom = 1;
        return;
    }
    *t->user = x->ntasks + 1; /* the model gives it back at the task's end, hops and regions */
    x->tasks[x->ntasks++] = (wv_itask){.id = t->task, .parent = t->parent, .s = t->ns, .e = t->ns,
                                       .type = (uint32_t)t->type, .begin_thread = (uint16_t)t->thread,
                                       .end_thread = (uint16_t)t->thread};
    see_str(b, t->type);
}

static void on_task_end(void *ctx, const wv_task_mark *t)
{
    builder *b = ctx;
    uint32_t i = TASK_OF(*t->user);
    if (!i)
        return;
    wv_itask *k = &b->x->tasks[i - 1];
    k->e = t->ns;
    k->end_thread = (uint16_t)t->thread;
    k->ended = 1;
    k->unfinished = (uint8_t)t->unfinished;
}

static void on_flow(void *ctx, const wv_flow *f)
{
    builder *b = ctx;
    wv_index *x = b->x;
    if (wv_grow(&x->flows, &x->flows_cap, x->nflows + 1, sizeof *x->flows)) {
        b->oom = 1;
        return;
    }
    x->flows[x->nflows] = (wv_iflow){f->task, f->from_ns, f->to_ns, f->from_thread, f->to_thread, 0};
    /* a hop belongs to a live task: chain it to the task's hops now */
    uint32_t i = TASK_OF(*f->user), last = LAST_HOP_OF(*f->user);
    if (i) {
        if (last)
            x->flows[last - 1].next_of_task = (uint32_t)x->nflows + 1;
        else
            x->tasks[i - 1].first_flow = (uint32_t)x->nflows + 1;
        *f->user = (uint64_t)(x->nflows + 1) << 32 | i;
    }
    x->nflows++;
}

static void on_event(void *ctx, const wv_event *ev)
{
    builder *b = ctx;
    if (wv_logs_file(&b->logs, ev))
        b->oom = 1;
}

/* ---- finishing ----------------------------------------------------------- */

/* Copies strings 0..max_str out of the reader, which is closed afterwards. */
static int copy_strings(builder *b)
{
    wv_index *x = b->x;
    for (size_t i = 0; i < x->ndiags; i++)
        see_str(b, x->diags[i].name);
    x->nstr = (uint32_t)b->max_str + 1;
    x->str_off = malloc((x->nstr + 1) * sizeof *x->str_off);
    size_t total = 0, cap = 0;
    if (!x->str_off)
        return -ENOMEM;
    for (uint32_t k = 0; k < x->nstr; k++) {
        size_t len;
        const char *s = k ? wv_reader_string(b->r, k, &len) : "";
        if (!k)
            len = 0;
        if (wv_grow(&x->str_blob, &cap, total + len + 1, 1))
            return -ENOMEM;
        x->str_off[k] = total;
        memcpy(x->str_blob + total, s, len);
        x->str_blob[total + len] = 0;
        total += len + 1;
    }
    x->str_off[x->nstr] = total;
    return 0;
}

static int copy_threads(builder *b, wv_model *m)
{
    wv_index *x = b->x;
    uint32_t n = wv_reader_thread_count(b->r);
    x->thread_limit = n > b->ntrow ? n : b->ntrow;
    x->thread_pos = malloc((x->thread_limit + 1) * sizeof *x->thread_pos);
    x->threads = calloc(x->thread_limit + 1, sizeof *x->threads);
    if (!x->thread_pos || !x->threads)
        return -ENOMEM;
    for (uint32_t i = 0; i < x->thread_limit; i++) {
        const wv_thread *t = i < n ? wv_reader_thread(b->r, i) : NULL;
        uint32_t depths = i < b->ntrow ? b->trow_n[i] : 0;
        x->thread_pos[i] = UINT32_MAX;
        if (!depths && (!t || (!t->registered && !t->events)))
            continue;
        wv_ithread *it = &x->threads[x->nthreads];
        x->thread_pos[i] = (uint32_t)x->nthreads++;
        it->thread = i;
        it->tid = t ? t->tid : 0;
        it->events = t ? t->events : 0;
        it->dropped = t && x->end.present ? t->end_dropped : wv_model_dropped(m, i);
        it->name = strdup(t ? t->name : "");
        it->nrows = depths;
        it->rows = calloc(depths + 1, sizeof *it->rows);
        if (!it->name || !it->rows)
            return -ENOMEM;
    }
    return 0;
}

/* Moves the rows into one array in (thread, depth) order and numbers the
 * slices; builds each row's pyramid. */
static int number_rows(builder *b)
{
    wv_index *x = b->x;
    size_t n = 0;
    for (uint32_t t = 0; t < b->ntrow; t++)
        n += b->trow_n[t];
    x->rows = calloc(n + 1, sizeof *x->rows);
    if (!x->rows)
        return -ENOMEM;
    for (uint32_t t = 0; t < b->ntrow; t++) {
        for (uint32_t d = 0; d < b->trow_n[t]; d++) {
            wv_row *r = &x->rows[x->nrows];
            *r = b->trow[t][d];
            b->trow[t][d].sl = NULL;
            wv_fit(&r->sl, &r->cap, r->n, sizeof *r->sl);
            r->base = x->nslices;
            x->nslices += r->n;
            x->threads[x->thread_pos[t]].rows[d] = (uint32_t)x->nrows++;
            if (wv_lod_build_row(r))
                return -ENOMEM;
        }
    }
    return 0;
}

/* Task end maxima; the arrays of tasks and flows exist and are fitted. */
static int link_lists(wv_index *x)
{
    /* empty arrays still exist, so searches may take &a[0] */
    if (wv_grow(&x->tasks, &x->tasks_cap, 1, sizeof *x->tasks) ||
        wv_grow(&x->flows, &x->flows_cap, 1, sizeof *x->flows))
        return -ENOMEM;
    wv_fit(&x->tasks, &x->tasks_cap, x->ntasks, sizeof *x->tasks);
    wv_fit(&x->flows, &x->flows_cap, x->nflows, sizeof *x->flows);
    size_t groups = (x->ntasks + 63) / 64;
    x->task_maxend = malloc((groups + 1) * sizeof *x->task_maxend);
    if (!x->task_maxend)
        return -ENOMEM;
    for (size_t g = 0; g < groups; g++) {
        int64_t m = INT64_MIN;
        for (size_t i = g * 64; i < x->ntasks && i < g * 64 + 64; i++)
            m = x->tasks[i].e > m ? x->tasks[i].e : m;
        x->task_maxend[g] = m;
    }
    return 0;
}

static void copy_facts(builder *b, wv_model *m)
{
    wv_index *x = b->x;
    x->hdr = *wv_reader_header(b->r);
    x->end = *wv_reader_end(b->r);
    x->status = wv_reader_status(b->r);
    wv_progress pg = wv_reader_progress(b->r);
    x->events = pg.events;
    x->file_size = pg.file_size;
    x->dropped = x->end.present ? x->end.dropped : wv_model_dropped_total(m);
    x->end_ns = wv_model_end_ns(m) > 0 ? wv_model_end_ns(m) : 0;
    snprintf(x->message, sizeof x->message, "%s", wv_reader_message(b->r));
    x->ndiags = wv_model_diag_count(m);
    x->diag_unlisted = wv_model_diag_unlisted(m);
    x->diags = calloc(x->ndiags + 1, sizeof *x->diags);
    for (size_t i = 0; x->diags && i < x->ndiags; i++) {
        const wv_diag *d = wv_model_diag(m, i);
        x->diags[i] = (wv_idiag){d->kind, d->count, (uint32_t)d->name, d->thread, d->first_ns};
    }
    if (!x->diags)
        b->oom = 1;
}

wv_index *wv_index_load(wv_reader *r)
{
    static const wv_model_sink sink = {on_region, on_task_begin, on_task_end, on_flow, on_event};
    wv_index *x = calloc(1, sizeof *x);
    builder b = {.x = x, .r = r};
    wv_model *m = x ? wv_model_new(&sink, &b) : NULL;
    wv_rt_build *rb = m ? wv_rt_build_new(r) : NULL;
    if (!rb) {
        wv_model_free(m);
        free(x);
        return NULL;
    }
    pthread_mutex_init(&x->lazy_lock, NULL);
    int rc = wv_feed_model(m, r, wv_rt_build_tap(rb));
    see_str(&b, b.logs.max_str);
    copy_facts(&b, m);
    see_str(&b, wv_rt_build_finish(rb, wv_model_end_ns(m)));
    if (rc || b.oom || copy_strings(&b) || copy_threads(&b, m) || wv_rt_rows_start(rb, x->thread_limit) ||
        number_rows(&b) || link_lists(x) || wv_logs_finish(&b.logs, x)) {
        b.oom = 1;
        wv_rt_build_free(rb);
    } else if (wv_rt_index_take(x, rb, r)) { /* frees rb */
        b.oom = 1;
    }
    for (uint32_t t = 0; t < b.ntrow; t++) {
        for (uint32_t d = 0; d < b.trow_n[t]; d++)
            free(b.trow[t][d].sl);
        free(b.trow[t]);
    }
    free(b.trow);
    free(b.trow_n);
    wv_logs_free(&b.logs);
    wv_taskmap_free(&b.extra);
    wv_model_free(m);
    if (b.oom) {
        wv_index_free(x);
        return NULL;
    }
    return x;
}

void wv_index_free(wv_index *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->nrows; i++) {
        free(x->rows[i].sl);
        for (int k = 0; k < WV_LOD_LEVELS; k++)
            free(x->rows[i].lod[k]);
    }
    for (size_t i = 0; i < x->nthreads; i++) {
        free(x->threads[i].name);
        free(x->threads[i].rows);
        free(x->threads[i].logs);
    }
    for (size_t i = 0; i < x->ncounters; i++) {
        free(x->counters[i].t);
        free(x->counters[i].v);
        for (int k = 0; k < WV_LOD_LEVELS; k++)
            free(x->counters[i].mm[k]);
    }
    wv_rt_index_free(x->rt);
    wv_latency_free(&x->task_lat);
    wv_latency_free(&x->region_lat);
    free(x->logs_by_task);
    free(x->rows);
    free(x->threads);
    free(x->thread_pos);
    free(x->tasks);
    free(x->task_extra);
    wv_taskmap_free(&x->by_id);
    free(x->task_maxend);
    free(x->logs);
    free(x->log_text);
    free(x->counters);
    free(x->flows);
    free(x->diags);
    free(x->str_off);
    free(x->str_blob);
    pthread_mutex_destroy(&x->lazy_lock);
    free(x);
}

uint64_t wv_index_bytes(const wv_index *x)
{
    uint64_t n = sizeof *x + x->nstr * 8ull + x->str_off[x->nstr];
    for (size_t i = 0; i < x->nrows; i++) {
        n += x->rows[i].cap * sizeof(wv_slice) + sizeof(wv_row);
        for (int k = 0; k < WV_LOD_LEVELS; k++)
            n += x->rows[i].nlod[k] * sizeof(wv_lod_node);
    }
    for (size_t i = 0; i < x->nthreads; i++)
        n += sizeof(wv_ithread) + x->threads[i].logs_cap * 4 + x->threads[i].nrows * 4;
    for (size_t i = 0; i < x->ncounters; i++) {
        n += sizeof(wv_icounter) + x->counters[i].cap * 16;
        for (int k = 0; k < WV_LOD_LEVELS; k++)
            n += x->counters[i].nmm[k] * 8;
    }
    n += x->tasks_cap * sizeof(wv_itask) + x->by_id.cap * sizeof(wv_task_slot) + (x->ntasks / 64 + 1) * 8;
    n += x->task_extra_cap * sizeof *x->task_extra;
    n += x->logs_cap * sizeof(wv_ilog) + x->log_text_cap + x->flows_cap * sizeof(wv_iflow);
    n += x->thread_limit * 4ull + x->ndiags * sizeof(wv_idiag);
    return n + wv_rt_index_bytes(x->rt);
}
