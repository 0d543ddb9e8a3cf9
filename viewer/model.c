/*
 * model.c - regions, tasks, flows and diagnostics from the event stream
 * (see model.h).
 *
 * Tasks live in an open-addressing hash table (linear probing, backward-shift
 * deletion) that holds only live tasks. To tell "ended twice" from "never
 * began", ended ids go to a direct-mapped memory of WV_ENDED_MEMORY slots
 * indexed by the low bits of the id: the recorder hands out ids in dense
 * blocks, so the slots act as a window over the most recent ends. An id that
 * fell out of it is reported as TASK_END_UNKNOWN; that is the price of
 * memory that does not grow with the number of tasks.
 */
#include "model.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct open_region {
    uint64_t task, type;
    int64_t start_ns;
    unsigned flags;
    uint64_t user; /* its live task's word for the sink, 0: none */
} open_region;

typedef struct mthread {
    open_region *stack;
    uint32_t depth, cap;
    uint32_t overflow; /* begins past WV_MAX_DEPTH, ignored with their ends */
    int64_t last_ns;
    uint64_t dropped;
} mthread;

typedef struct live_task {
    uint64_t id; /* 0: empty slot */
    uint64_t parent, type;
    int64_t begin_ns, pt_ns;
    uint32_t begin_thread, pt_thread;
    int has_pt; /* pt: last place the task did something inside a slice */
    uint64_t user; /* the sink's (wv_task_mark.user) */
} live_task;

typedef struct ended_task {
    uint64_t id, type;
} ended_task;

struct wv_model {
    wv_model_sink sink;
    void *ctx;
    mthread **th;
    uint32_t nth;
    live_task *tasks;
    size_t task_cap, ntasks;
    ended_task *ended;
    wv_diag *diags;
    uint32_t *diag_index; /* hash slots: entry index + 1, 0 empty */
    size_t ndiags;
    uint64_t diag_unlisted;
    uint64_t next_flow;
    uint64_t dropped;
    int64_t end_ns;
    int seen;
};

#define DIAG_SLOTS (2 * WV_MAX_DIAG_ENTRIES)

static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* ---- diagnostics -------------------------------------------------------- */

static void diag_add(wv_model *m, uint64_t kind, uint64_t name, uint32_t thread, int64_t ns)
{
    size_t mask = DIAG_SLOTS - 1;
    size_t i = mix(kind * 31 + name * 0x9e3779b97f4a7c15ull + thread) & mask;
    for (; m->diag_index[i]; i = (i + 1) & mask) {
        wv_diag *d = &m->diags[m->diag_index[i] - 1];
        if (d->kind == kind && d->name == name && d->thread == thread) {
            d->count++;
            return;
        }
    }
    if (m->ndiags == WV_MAX_DIAG_ENTRIES) {
        m->diag_unlisted++;
        return;
    }
    m->diags[m->ndiags] = (wv_diag){kind, name, thread, ns, 1};
    m->diag_index[i] = (uint32_t)++m->ndiags;
}

size_t wv_model_diag_count(const wv_model *m) { return m->ndiags; }
const wv_diag *wv_model_diag(const wv_model *m, size_t i) { return &m->diags[i]; }
uint64_t wv_model_diag_unlisted(const wv_model *m) { return m->diag_unlisted; }

/* ---- threads ------------------------------------------------------------ */

static mthread *thread_at(wv_model *m, uint32_t index)
{
    if (index >= m->nth) {
        uint32_t n = m->nth ? m->nth : 16;
        while (n <= index)
            n *= 2;
        mthread **t = realloc(m->th, n * sizeof *t);
        if (!t)
            return NULL;
        memset(t + m->nth, 0, (n - m->nth) * sizeof *t);
        m->th = t, m->nth = n;
    }
    if (!m->th[index])
        m->th[index] = calloc(1, sizeof(mthread));
    return m->th[index];
}

uint64_t wv_model_dropped(const wv_model *m, uint32_t thread)
{
    return thread < m->nth && m->th[thread] ? m->th[thread]->dropped : 0;
}

uint64_t wv_model_dropped_total(const wv_model *m) { return m->dropped; }
int64_t wv_model_end_ns(const wv_model *m) { return m->end_ns; }

/* ---- live tasks --------------------------------------------------------- */

static live_task *task_find(wv_model *m, uint64_t id)
{
    size_t mask = m->task_cap - 1;
    for (size_t i = mix(id) & mask; m->tasks[i].id; i = (i + 1) & mask)
        if (m->tasks[i].id == id)
            return &m->tasks[i];
    return NULL;
}

static live_task *task_slot(live_task *tab, size_t cap, uint64_t id)
{
    size_t i = mix(id) & (cap - 1);
    while (tab[i].id)
        i = (i + 1) & (cap - 1);
    return &tab[i];
}

/* Keeps the table at most half full. */
static int task_grow(wv_model *m)
{
    if (2 * (m->ntasks + 1) <= m->task_cap)
        return 0;
    size_t cap = m->task_cap * 2;
    live_task *n = calloc(cap, sizeof *n);
    if (!n)
        return -ENOMEM;
    for (size_t i = 0; i < m->task_cap; i++)
        if (m->tasks[i].id)
            *task_slot(n, cap, m->tasks[i].id) = m->tasks[i];
    free(m->tasks);
    m->tasks = n, m->task_cap = cap;
    return 0;
}

/* Backward-shift deletion: later entries of the probe run move up so lookups
 * never stop at a hole. */
static void task_remove(wv_model *m, live_task *e)
{
    size_t mask = m->task_cap - 1, hole = (size_t)(e - m->tasks);
    for (size_t i = (hole + 1) & mask; m->tasks[i].id; i = (i + 1) & mask) {
        size_t home = mix(m->tasks[i].id) & mask;
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            m->tasks[hole] = m->tasks[i];
            hole = i;
        }
    }
    m->tasks[hole].id = 0;
    m->ntasks--;
}

/* The task did something on `thread` inside a slice: a hop from another
 * thread becomes a flow. */
static void task_point(wv_model *m, live_task *e, uint32_t thread, int64_t ns)
{
    if (e->has_pt && e->pt_thread != thread && m->sink.flow) {
        wv_flow f = {++m->next_flow, e->id, e->type, e->pt_thread, thread, e->pt_ns, ns, &e->user};
        m->sink.flow(m->ctx, &f);
    }
    e->pt_thread = thread;
    e->pt_ns = ns;
    e->has_pt = 1;
}

static void on_task_begin(wv_model *m, const wv_event *ev, mthread *t)
{
    uint64_t id = ev->arg[0];
    if (!id || task_find(m, id))
        return; /* the background task, or a repeated begin: nothing new */
    if (m->ntasks >= WV_MAX_LIVE_TASKS || task_grow(m))
        return; /* untracked; its end will read as TASK_END_UNKNOWN */
    live_task *e = task_slot(m->tasks, m->task_cap, id);
    *e = (live_task){id, ev->arg[1], ev->arg[2], ev->ns, 0, ev->thread, 0, 0, 0};
    m->ntasks++;
    if (m->sink.task_begin) {
        wv_task_mark mk = {id, e->parent, e->type, ev->thread, ev->ns, 0, &e->user};
        m->sink.task_begin(m->ctx, &mk);
    }
    if (t->depth)
        task_point(m, e, ev->thread, ev->ns);
}

static void task_finish(wv_model *m, live_task *e, uint32_t thread, int64_t ns, int unfinished)
{
    if (m->sink.task_end) {
        wv_task_mark mk = {e->id, e->parent, e->type, thread, ns < e->begin_ns ? e->begin_ns : ns,
                           unfinished, &e->user};
        m->sink.task_end(m->ctx, &mk);
    }
    m->ended[e->id & (WV_ENDED_MEMORY - 1)] = (ended_task){e->id, e->type};
    task_remove(m, e);
}

static void on_task_end(wv_model *m, const wv_event *ev, mthread *t)
{
    uint64_t id = ev->arg[0];
    if (!id)
        return;
    live_task *e = task_find(m, id);
    if (!e) {
        const ended_task *x = &m->ended[id & (WV_ENDED_MEMORY - 1)];
        if (x->id == id)
            diag_add(m, WEFT_DIAG_TASK_ENDED_TWICE, x->type, ev->thread, ev->ns);
        else
            diag_add(m, WEFT_DIAG_TASK_END_UNKNOWN, 0, ev->thread, ev->ns);
        return;
    }
    if (t->depth)
        task_point(m, e, ev->thread, ev->ns);
    task_finish(m, e, ev->thread, ev->ns, 0);
}

/* ---- regions ------------------------------------------------------------ */

static void region_pop(wv_model *m, uint32_t thread, mthread *t, int64_t ns, unsigned flags)
{
    open_region *o = &t->stack[--t->depth];
    if (m->sink.region) {
        wv_span s = {thread, t->depth, o->task, o->type, o->start_ns, ns < o->start_ns ? o->start_ns : ns,
                     o->flags | flags, o->user};
        m->sink.region(m->ctx, &s);
    }
}

static int on_region_begin(wv_model *m, const wv_event *ev, mthread *t)
{
    if (t->depth + t->overflow >= WV_MAX_DEPTH) {
        t->overflow++;
        diag_add(m, WEFT_DIAG_REGION_TOO_DEEP, ev->arg[1], ev->thread, ev->ns);
        return 0;
    }
    if (t->depth == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 16;
        open_region *s = realloc(t->stack, cap * sizeof *s);
        if (!s)
            return -ENOMEM;
        t->stack = s, t->cap = cap;
    }
    live_task *e = ev->arg[0] ? task_find(m, ev->arg[0]) : NULL;
    t->stack[t->depth++] = (open_region){ev->arg[0], ev->arg[1], ev->ns, 0, e ? e->user : 0};
    if (e)
        task_point(m, e, ev->thread, ev->ns);
    return 0;
}

static void on_region_end(wv_model *m, const wv_event *ev, mthread *t)
{
    if (t->overflow)
        t->overflow--;
    else if (t->depth) /* no open region: its begin was lost (gap); ignored */
        region_pop(m, ev->thread, t, ev->ns, 0);
}

/* Regions still open at the end of a thread's events. */
static void close_all(wv_model *m, uint32_t thread, mthread *t)
{
    t->overflow = 0;
    while (t->depth) {
        diag_add(m, WEFT_DIAG_REGION_NOT_ENDED, t->stack[t->depth - 1].type, thread, t->last_ns);
        region_pop(m, thread, t, t->last_ns, WV_SPAN_NOT_ENDED);
    }
}

/* DROP: only `open_regions` of the regions begun are still open; the deeper
 * ones ended while events were being dropped. */
static void on_drop(wv_model *m, const wv_event *ev, mthread *t)
{
    uint64_t open = ev->arg[1];
    t->dropped += ev->arg[0];
    m->dropped += ev->arg[0];
    while (t->depth + t->overflow > open) {
        if (t->overflow)
            t->overflow--;
        else
            region_pop(m, ev->thread, t, ev->ns, WV_SPAN_END_LOST);
    }
}

static void on_diag(wv_model *m, const wv_event *ev, mthread *t)
{
    diag_add(m, ev->arg[0], ev->arg[1], ev->thread, ev->ns);
    /* the recorder writes this right before the forced REGION_END */
    if (ev->arg[0] == WEFT_DIAG_REGION_OUT_OF_ORDER && t->depth &&
        t->stack[t->depth - 1].type == ev->arg[1])
        t->stack[t->depth - 1].flags |= WV_SPAN_ENDED_WITH_OUTER;
}

/* ---- the model ---------------------------------------------------------- */

int wv_model_add(wv_model *m, const wv_event *ev)
{
    mthread *t = thread_at(m, ev->thread);
    if (!t)
        return -ENOMEM;
    t->last_ns = ev->ns;
    if (!m->seen || ev->ns > m->end_ns)
        m->end_ns = ev->ns;
    m->seen = 1;
    int rc = 0;
    switch (ev->code) {
    case WEFT_EV_TASK_BEGIN: on_task_begin(m, ev, t); break;
    case WEFT_EV_TASK_END: on_task_end(m, ev, t); break;
    case WEFT_EV_REGION_BEGIN: rc = on_region_begin(m, ev, t); break;
    case WEFT_EV_REGION_END: on_region_end(m, ev, t); break;
    case WEFT_EV_DROP: on_drop(m, ev, t); break;
    case WEFT_EV_DIAG: on_diag(m, ev, t); break;
    case WEFT_EV_THREAD_EXIT: close_all(m, ev->thread, t); break;
    case WEFT_EV_LOG: {
        live_task *e = ev->arg[0] && t->depth ? task_find(m, ev->arg[0]) : NULL;
        if (e)
            task_point(m, e, ev->thread, ev->ns);
        break;
    }
    default: break;
    }
    if (m->sink.event)
        m->sink.event(m->ctx, ev);
    return rc;
}

static int by_id(const void *a, const void *b)
{
    uint64_t x = ((const live_task *)a)->id, y = ((const live_task *)b)->id;
    return x < y ? -1 : x > y;
}

void wv_model_finish(wv_model *m)
{
    for (uint32_t i = 0; i < m->nth; i++)
        if (m->th[i])
            close_all(m, i, m->th[i]);
    /* live tasks end at the end of the trace, in id order for stable output */
    live_task *left = malloc((m->ntasks + 1) * sizeof *left);
    size_t n = 0;
    for (size_t i = 0; left && i < m->task_cap; i++)
        if (m->tasks[i].id)
            left[n++] = m->tasks[i];
    if (left)
        qsort(left, n, sizeof *left, by_id);
    for (size_t i = 0; i < n; i++) {
        live_task *e = task_find(m, left[i].id);
        diag_add(m, WEFT_DIAG_TASK_NOT_ENDED, e->type, e->begin_thread, e->begin_ns);
        task_finish(m, e, e->has_pt ? e->pt_thread : e->begin_thread, m->end_ns, 1);
    }
    free(left);
}

int wv_model_run(wv_model *m, wv_reader *r)
{
    wv_event ev;
    int rc = 0;
    while (!rc && wv_reader_next(r, &ev))
        rc = wv_model_add(m, &ev);
    wv_model_finish(m);
    return rc;
}

wv_model *wv_model_new(const wv_model_sink *sink, void *ctx)
{
    wv_model *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    if (sink)
        m->sink = *sink;
    m->ctx = ctx;
    m->task_cap = 64;
    m->tasks = calloc(m->task_cap, sizeof *m->tasks);
    m->ended = calloc(WV_ENDED_MEMORY, sizeof *m->ended);
    m->diags = malloc(WV_MAX_DIAG_ENTRIES * sizeof *m->diags);
    m->diag_index = calloc(DIAG_SLOTS, sizeof *m->diag_index);
    if (!m->tasks || !m->ended || !m->diags || !m->diag_index) {
        wv_model_free(m);
        return NULL;
    }
    return m;
}

void wv_model_free(wv_model *m)
{
    if (!m)
        return;
    for (uint32_t i = 0; i < m->nth; i++)
        if (m->th[i]) {
            free(m->th[i]->stack);
            free(m->th[i]);
        }
    free(m->th);
    free(m->tasks);
    free(m->ended);
    free(m->diags);
    free(m->diag_index);
    free(m);
}
