/*
 * serve_rt_load.c - runs the runtime model (rt.h) while `weft serve` reads
 * a trace, and files what it delivers for the index (serve_rt.h).
 *
 * The model runs on the reading thread (serve_feed.c's tap: it asks the
 * reader about threads and clock samples, which only that thread may), but
 * filing its output writes to big fresh arrays, slow cache misses that made
 * that thread the slower of the two. So the model's sink only records each
 * call, in order, into the batch's output; the model's thread replays the
 * calls into the real sink, which files spans and items and feeds the
 * blocking tables (blocking.h) exactly as `weft stats` feeds them. Calls
 * made while finishing (on the model's thread, the reader done) are filed
 * at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "serve_rt_build.h"

/* ---- filing (the model's thread) --------------------------------------------------------- */

/* Entry i of a zero-filled table of `size`-byte entries. */
static void *table_at(void *p, size_t *n, size_t i, size_t size)
{
    size_t old = *n;
    if (wv_grow(p, n, i + 1, size))
        return NULL;
    memset(*(char **)p + old * size, 0, (*n - old) * size);
    return *(char **)p + i * size;
}

static void append_span(wv_rt_build *b, wv_span_list **lists, size_t *n, uint32_t at, wv_slice s)
{
    wv_span_list *l = at < *n ? &(*lists)[at] : table_at(lists, n, at, sizeof **lists);
    if (!l || wv_grow(&l->v, &l->cap, l->n + 1, sizeof *l->v)) {
        b->oom = 1;
        return;
    }
    l->v[l->n++] = s;
}

/* Files an item, and its slice in its thread's row of waits or uv phases
 * (pauses are laid out in lanes at the end). */
static void append_item(wv_rt_build *b, wv_rt_item it)
{
    /* a slice points at its item with 32 bits */
    if (b->nitems >= UINT32_MAX || wv_grow(&b->items, &b->items_cap, b->nitems + 1, sizeof *b->items)) {
        b->oom = 1;
        return;
    }
    wv_slice s = {it.s, it.e - it.s, (uint32_t)b->nitems, wv_item_name(it.kind, it.code), it.flags};
    b->items[b->nitems++] = it;
    b->kinds[it.kind]++;
    if (it.kind == WV_ITEM_LOCK || it.kind == WV_ITEM_IO)
        append_span(b, &b->waits, &b->nwaits, it.thread, s);
    else if (it.kind == WV_ITEM_UV)
        append_span(b, &b->uvs, &b->nuvs, it.thread, s);
}

static uint32_t code32(uint64_t v) { return v < UINT32_MAX ? (uint32_t)v : UINT32_MAX; }

static unsigned state_code(const wv_state_span *s)
{
    if (s->state == WV_RUNNING)
        return WV_STATE_RUNNING;
    if (s->state == WV_RUNNABLE)
        return WV_STATE_RUNNABLE;
    return 1u + (s->reason >= WEFT_BLOCK_LOCK && s->reason <= WEFT_BLOCK_OTHER ? s->reason : WEFT_BLOCK_OTHER);
}

static void file_state(wv_rt_build *b, const wv_state_span *s)
{
    append_span(b, &b->states, &b->nstates, s->thread,
                (wv_slice){s->start_ns, s->end_ns - s->start_ns, s->cpu, state_code(s), s->flags});
}

static void file_cpu(wv_rt_build *b, const wv_cpu_span *s)
{
    append_span(b, &b->cpus, &b->ncpus, s->cpu, (wv_slice){s->start_ns, s->end_ns - s->start_ns, 0, s->thread, s->flags});
}

static void file_lock(wv_rt_build *b, const wv_lock_wait *w)
{
    append_item(b, (wv_rt_item){w->start_ns, w->end_ns, w->lock, w->flow ? w->release_ns : -1, w->site, w->thread,
                                w->holder, code32(w->op), WV_ITEM_LOCK, 0});
    wv_blocking_sink()->lock_wait(b->blocking, w);
}

static void file_io(wv_rt_build *b, const wv_io_wait *w)
{
    append_item(b, (wv_rt_item){w->start_ns, w->end_ns, (uint64_t)w->fd, w->result, w->site, w->thread, 0,
                                code32(w->op), WV_ITEM_IO, 0});
    wv_blocking_sink()->io(b->blocking, w);
}

static void file_pause(wv_rt_build *b, const wv_pause *p)
{
    int gc = p->kind == WV_PAUSE_GC;
    uint32_t name = gc && p->name >= WV_MAX_STRINGS ? 0 : code32(p->name);
    if (gc && name > b->max_str)
        b->max_str = name;
    append_item(b, (wv_rt_item){p->start_ns, p->end_ns, gc ? 0 : p->size, 0, gc ? 0 : p->site, p->thread, 0, name,
                                gc ? WV_ITEM_GC : WV_ITEM_ALLOC, p->flags & WV_RT_OPEN});
    wv_blocking_sink()->pause(b->blocking, p);
}

static void file_uv(wv_rt_build *b, const wv_uv_phase *p)
{
    append_item(b, (wv_rt_item){p->start_ns, p->end_ns, p->loop, 0, 0, p->thread, 0, code32(p->phase), WV_ITEM_UV, 0});
}

/* One counter per heap source, as `weft json` has them: the program's own
 * figure and the malloc tracking never share a line. */
static void file_heap(wv_rt_build *b, const wv_heap_sample *h)
{
    uint32_t k = 0;
    while (k < b->nheaps && b->heaps[k].source != h->source)
        k++;
    if (k == WV_RT_MAX_HEAPS)
        return;
    wv_heap_list *l = &b->heaps[k];
    if (k == b->nheaps)
        b->nheaps++, l->source = h->source;
    size_t cap = l->cap;
    if (wv_grow(&l->t, &cap, l->n + 1, sizeof *l->t) || wv_grow(&l->v, &l->cap, l->n + 1, sizeof *l->v)) {
        b->oom = 1;
        return;
    }
    l->t[l->n] = h->ns;
    l->v[l->n++] = h->bytes < INT64_MAX ? (int64_t)h->bytes : INT64_MAX;
}

static int64_t percent_of(uint64_t part, int64_t whole)
{
    uint64_t pc = (part * 100 + (uint64_t)whole / 2) / (uint64_t)whole;
    return pc < 100 ? (int64_t)pc : 100; /* samples are taken a little apart */
}

/* A period's point needs the sample before it: the first sample of a thread
 * only starts its series. A count that went backwards (a thread id the
 * kernel reused) starts it again. */
static void file_schedstat(wv_rt_build *b, const wv_schedstat *s)
{
    wv_sched_series *l = s->thread < b->nsched ? &b->sched[s->thread]
                                                : table_at(&b->sched, &b->nsched, s->thread, sizeof *b->sched);
    if (!l) {
        b->oom = 1;
        return;
    }
    int64_t dt = s->ns - l->last.ns;
    if (l->have && dt > 0 && s->run_ns >= l->last.run_ns && s->wait_ns >= l->last.wait_ns) {
        size_t cap = l->cap, cap2 = l->cap;
        if (wv_grow(&l->t, &cap, l->n + 1, sizeof *l->t) || wv_grow(&l->on, &cap2, l->n + 1, sizeof *l->on) ||
            wv_grow(&l->wait, &l->cap, l->n + 1, sizeof *l->wait)) {
            b->oom = 1;
            return;
        }
        l->t[l->n] = l->last.ns;
        l->on[l->n] = percent_of(s->run_ns - l->last.run_ns, dt);
        l->wait[l->n++] = percent_of(s->wait_ns - l->last.wait_ns, dt);
    }
    if (dt > 0 || !l->have)
        l->last = *s, l->have = 1;
}

/* ---- recording (the reading thread) and replaying --------------------------------------------- */

enum rec_type { R_STATE, R_CPU, R_LATENCY, R_LOCK, R_IO, R_PAUSE, R_UV, R_SCHEDSTAT, R_HEAP, R_LOST };

typedef struct latency_rec {
    uint32_t thread;
    int64_t ready, run;
} latency_rec;

typedef struct lost_rec {
    uint32_t thread;
    uint64_t count;
    int64_t ns;
} lost_rec;

typedef union rec {
    wv_state_span state;
    wv_cpu_span cpu;
    latency_rec latency;
    wv_lock_wait lock;
    wv_io_wait io;
    wv_pause pause;
    wv_uv_phase uv;
    wv_schedstat schedstat;
    wv_heap_sample heap;
    lost_rec lost;
} rec;

/* A recorded call. Fixed size, so recording and replaying copy a known
 * number of bytes (no memcpy call per record). */
typedef struct entry {
    uint64_t type;
    rec u;
} entry;

static void file_rec(wv_rt_build *b, const entry *e)
{
    const wv_rt_sink *bs = wv_blocking_sink();
    const rec *r = &e->u;
    switch (e->type) {
    case R_STATE: file_state(b, &r->state); break;
    case R_CPU: file_cpu(b, &r->cpu); break;
    case R_LATENCY:
        b->latency_samples++;
        bs->latency(b->blocking, r->latency.thread, r->latency.ready, r->latency.run);
        break;
    case R_LOCK: file_lock(b, &r->lock); break;
    case R_IO: file_io(b, &r->io); break;
    case R_PAUSE: file_pause(b, &r->pause); break;
    case R_UV: file_uv(b, &r->uv); break;
    case R_SCHEDSTAT:
        b->schedstat_samples++;
        bs->schedstat(b->blocking, &r->schedstat);
        file_schedstat(b, &r->schedstat);
        break;
    case R_HEAP: file_heap(b, &r->heap); break;
    case R_LOST: bs->lost(b->blocking, r->lost.thread, r->lost.count, r->lost.ns); break;
    default: break;
    }
}

/* A call of the model's sink: an entry of the batch's output while reading,
 * `local` (filed by done()) when finishing; NULL when out of memory. */
static entry *begin(wv_rt_build *b, uint64_t type, entry *local)
{
    entry *e = b->out ? wv_feed_reserve(b->out, sizeof *e) : local;
    if (!e) {
        b->read_oom = 1;
        return NULL;
    }
    e->type = type;
    return e;
}

static void done(wv_rt_build *b, const entry *e)
{
    if (!b->out)
        file_rec(b, e);
}

#define RECORD(ctx, type, member, value)                                                    \
    do {                                                                                    \
        entry local_, *e_ = begin((ctx), (type), &local_);                                  \
        if (e_) {                                                                           \
            e_->u.member = (value);                                                         \
            done((ctx), e_);                                                                \
        }                                                                                   \
    } while (0)

static void on_state(void *ctx, const wv_state_span *s) { RECORD(ctx, R_STATE, state, *s); }
static void on_cpu(void *ctx, const wv_cpu_span *s) { RECORD(ctx, R_CPU, cpu, *s); }
static void on_lock_wait(void *ctx, const wv_lock_wait *w) { RECORD(ctx, R_LOCK, lock, *w); }
static void on_io(void *ctx, const wv_io_wait *w) { RECORD(ctx, R_IO, io, *w); }
static void on_pause(void *ctx, const wv_pause *p) { RECORD(ctx, R_PAUSE, pause, *p); }
static void on_uv(void *ctx, const wv_uv_phase *p) { RECORD(ctx, R_UV, uv, *p); }
static void on_schedstat(void *ctx, const wv_schedstat *s) { RECORD(ctx, R_SCHEDSTAT, schedstat, *s); }
static void on_heap(void *ctx, const wv_heap_sample *h) { RECORD(ctx, R_HEAP, heap, *h); }

static void on_latency(void *ctx, uint32_t thread, int64_t ready_ns, int64_t run_ns)
{
    RECORD(ctx, R_LATENCY, latency, ((latency_rec){thread, ready_ns, run_ns}));
}

static void on_lost(void *ctx, uint32_t thread, uint64_t count, int64_t ns)
{
    RECORD(ctx, R_LOST, lost, ((lost_rec){thread, count, ns}));
}

static int tap_read(void *ctx, const wv_event *ev, wv_feed_out *out)
{
    wv_rt_build *b = ctx;
    b->out = out;
    int rc = wv_rt_add(b->model, ev);
    b->out = NULL;
    return rc || b->read_oom ? -ENOMEM : 0;
}

static int tap_take(void *ctx, const uint8_t *data, size_t len)
{
    wv_rt_build *b = ctx;
    for (size_t at = 0; at + sizeof(entry) <= len; at += sizeof(entry))
        file_rec(b, (const entry *)(data + at)); /* aligned: see wv_feed_reserve() */
    return b->oom || wv_blocking_failed(b->blocking) ? -ENOMEM : 0;
}

/* ---- lifetime ----------------------------------------------------------------------------- */

wv_rt_build *wv_rt_build_new(wv_reader *r)
{
    static const wv_rt_sink sink = {on_state, on_cpu, on_latency, on_lock_wait, on_io,
                                    on_pause, on_uv, on_schedstat, on_heap, on_lost};
    wv_rt_build *b = aligned_alloc(_Alignof(wv_rt_build), sizeof *b);
    if (!b)
        return NULL;
    memset(b, 0, sizeof *b);
    b->tap = (wv_feed_tap){tap_read, tap_take, b};
    b->model = wv_rt_new(r, &sink, b);
    b->blocking = wv_blocking_new_fed();
    if (!b->model || !b->blocking) {
        wv_rt_build_free(b);
        return NULL;
    }
    return b;
}

const wv_feed_tap *wv_rt_build_tap(wv_rt_build *b) { return &b->tap; }

uint64_t wv_rt_build_finish(wv_rt_build *b, int64_t end_ns)
{
    wv_rt_finish(b->model, end_ns); /* b->out is NULL: filed at once */
    return b->max_str;
}

static void free_lists(wv_span_list *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(l[i].v);
    free(l);
}

void wv_rt_build_free(wv_rt_build *b)
{
    if (!b)
        return;
    if (b->rows_running)
        pthread_join(b->rows, NULL);
    wv_rt_index_free(b->rt);
    wv_rt_free(b->model);
    wv_blocking_free(b->blocking);
    free_lists(b->states, b->nstates);
    free_lists(b->cpus, b->ncpus);
    free_lists(b->waits, b->nwaits);
    free_lists(b->uvs, b->nuvs);
    for (uint32_t i = 0; i < b->nheaps; i++)
        free(b->heaps[i].t), free(b->heaps[i].v);
    for (size_t i = 0; i < b->nsched; i++)
        free(b->sched[i].t), free(b->sched[i].on), free(b->sched[i].wait);
    free(b->sched);
    free(b->items);
    free(b);
}
