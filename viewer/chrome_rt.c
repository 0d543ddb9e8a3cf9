/*
 * chrome_rt.c - the runtime events in `weft json`: it runs the runtime model
 * (rt.h) beside the region model and writes what it delivers.
 *
 * Where things go, and why:
 *   - a thread's lock waits and I/O calls are X slices on the thread itself:
 *     they happen inside one call, so they nest with its regions;
 *   - its scheduling states go on a track of their own beside it, "<name>
 *     state" (sort index right after the thread): Running / Runnable /
 *     Blocked: <reason> tile the time, which regions would not nest with;
 *   - uv loop phases go on "<name> uv loop": a region may begin in one
 *     callback and end in a later one, crossing phase boundaries, and X
 *     slices of one tid must nest;
 *   - GC and allocator pauses go on "GC / allocator" lanes: pauses of
 *     different threads overlap, so each lane holds pauses that do not, and
 *     a new lane opens when all are busy (at most GC_LANES);
 *   - CPUs are tracks "CPU n" of a separate process "CPUs". Perfetto groups
 *     the tracks of a process and orders them itself, and chrome://tracing
 *     draws one box per process: a process of their own keeps the CPU view
 *     together, collapsible, and out of the program's thread list in both.
 * Synthetic tids and the CPUs pid start at 0x41000000, above any Linux tid
 * (PID_MAX_LIMIT is 2^22) and above the replacement tids of chrome.c.
 *
 * The lock flow, from the holder's release to the waiter's wake-up, uses
 * the flow v2 form (bind_id with flow_out / flow_in on X slices): Perfetto
 * ties a v1 "s" or "f" to whatever slice is open on the track when it reads
 * it, in time order, and the wait slice starts before the release it waits
 * for, so a v1 end would be read before its start. Two zero-length slices
 * carry the ends instead, "lock release" on the holder and "lock wake-up" at
 * the end of the wait. bind_ids start at 2^32 because Perfetto numbers the
 * v1 flows (chrome.c's task flows) from 0 in the same space.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chrome_int.h"
#include "grow.h"
#include "rt.h"
#include "sites.h"
#include "vocab.h"

#define STATE_TID 0x41000000u
#define UV_TID 0x42000000u
#define CPU_TID 0x43000000u
#define GC_TID 0x44000000u
#define CPU_PID 0x45000000u
#define GC_LANES 8u
#define FLOW_BASE (1ull << 32)

typedef struct track {
    char ident[48]; /* "pid":P,"tid":T */
    uint8_t len;    /* 0: not used yet */
} track;

typedef struct rt_thread {
    track state, uv;
    char *schedstat; /* quoted counter name, fixed at its first sample */
} rt_thread;

struct cj_rt {
    wv_rt *model;
    wv_sites *sites;
    rt_thread *th;
    uint32_t nth;
    track *cpus;
    uint32_t ncpus;
    track gc[GC_LANES];
    int64_t gc_end[GC_LANES];
    uint32_t ngc;
};

/* ---- tracks ------------------------------------------------------------------ */

static const track *use(track *t, uint32_t pid, uint32_t tid)
{
    if (!t->len) {
        char *p = t->ident;
        memcpy(p, "\"pid\":", 6);
        p = wv_fmt_u64(p + 6, pid);
        memcpy(p, ",\"tid\":", 7);
        p = wv_fmt_u64(p + 7, tid);
        t->len = (uint8_t)(p - t->ident);
    }
    return t;
}

static rt_thread *rt_thread_at(chrome *c, uint32_t index)
{
    cj_rt *x = c->rt;
    if (wv_grow((void **)&x->th, &x->nth, index, sizeof *x->th))
        return c->oom = 1, NULL;
    return &x->th[index];
}

/* The state track of a thread; NULL when out of memory (the slice is then
 * left out). */
static const track *state_track(chrome *c, uint32_t index)
{
    rt_thread *t = rt_thread_at(c, index);
    return t ? use(&t->state, c->pid, STATE_TID + index) : NULL;
}

static const track *cpu_track(chrome *c, uint32_t cpu)
{
    cj_rt *x = c->rt;
    if (wv_grow((void **)&x->cpus, &x->ncpus, cpu, sizeof *x->cpus))
        return c->oom = 1, NULL;
    return use(&x->cpus[cpu], CPU_PID, CPU_TID + cpu);
}

/* The first lane free at `*start`; with every lane busy, the one that frees
 * first, and *start moves to when it does. */
static const track *gc_lane(chrome *c, int64_t *start, int *clipped)
{
    cj_rt *x = c->rt;
    uint32_t k = 0;
    while (k < x->ngc && x->gc_end[k] > *start)
        k++;
    if (k == x->ngc && x->ngc < GC_LANES) {
        x->ngc++;
    } else if (k == x->ngc) {
        k = 0;
        for (uint32_t i = 1; i < GC_LANES; i++)
            k = x->gc_end[i] < x->gc_end[k] ? i : k;
        *start = x->gc_end[k];
        *clipped = 1;
    }
    return use(&x->gc[k], c->pid, GC_TID + k);
}

/* ---- writing slices ----------------------------------------------------------- */

/* {"ph":"X","cat":CAT,"name":NAME,IDENT,"ts":..,"dur":.. (the caller adds
 * args and closes the object). */
static void slice(chrome *c, const char *cat, const char *name, const track *t, int64_t start, int64_t end)
{
    CJ_OPEN(c, "{\"ph\":\"X\",\"cat\":");
    wv_jw_str(&c->w, cat, strlen(cat));
    WV_JW_LIT(&c->w, ",\"name\":");
    wv_jw_str(&c->w, name, strlen(name));
    WV_JW_LIT(&c->w, ",");
    wv_jw_raw(&c->w, t->ident, t->len);
    wv_cj_ts(c, start);
    WV_JW_LIT(&c->w, ",\"dur\":");
    wv_jw_us(&c->w, end > start ? end - start : 0);
}

/* ,"KEY":"0x..." */
static void arg_hex(chrome *c, const char *key, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "0x%" PRIx64, v);
    WV_JW_LIT(&c->w, ",");
    wv_cj_key_str(c, key, buf);
}

/* ,"KEY":milliseconds with microsecond digits */
static void arg_ms(chrome *c, const char *key, int64_t ns)
{
    WV_JW_LIT(&c->w, ",");
    wv_jw_str(&c->w, key, strlen(key));
    WV_JW_LIT(&c->w, ":");
    wv_jw_us(&c->w, ns / 1000);
}

static void arg_i64(chrome *c, const char *key, int64_t v)
{
    WV_JW_LIT(&c->w, ",");
    wv_jw_str(&c->w, key, strlen(key));
    WV_JW_LIT(&c->w, ":");
    wv_jw_i64(&c->w, v);
}

static void arg_site(chrome *c, uint64_t addr)
{
    WV_JW_LIT(&c->w, ",");
    wv_cj_key_str(c, "site", wv_sites_text(c->rt->sites, addr));
}

/* ,"KEY":"name (thread N)" */
static void arg_thread(chrome *c, const char *key, uint32_t index)
{
    char label[WV_MAX_NAME + 64], buf[WV_MAX_NAME + 96];
    wv_cj_thread_label(c, index, label, sizeof label);
    snprintf(buf, sizeof buf, "%s (thread %" PRIu32 ")", label, index);
    WV_JW_LIT(&c->w, ",");
    wv_cj_key_str(c, key, buf);
}

/* ---- the model's callbacks ---------------------------------------------------- */

static void on_state(void *ctx, const wv_state_span *s)
{
    chrome *c = ctx;
    const track *t = state_track(c, s->thread);
    if (!t)
        return;
    char name[48];
    if (s->state == WV_RUNNING)
        snprintf(name, sizeof name, "Running");
    else if (s->state == WV_RUNNABLE)
        snprintf(name, sizeof name, "Runnable");
    else if (s->reason == WEFT_BLOCK_OTHER)
        snprintf(name, sizeof name, "Blocked");
    else
        snprintf(name, sizeof name, "Blocked: %s", wv_block_reason_name(s->reason));
    slice(c, "state", name, t, s->start_ns, s->end_ns);
    WV_JW_LIT(&c->w, ",\"args\":{\"thread\":");
    wv_jw_u64(&c->w, s->thread);
    if (s->state == WV_RUNNING && s->cpu != WV_NO_CPU)
        arg_i64(c, "cpu", s->cpu);
    if (s->state == WV_RUNNABLE) {
        WV_JW_LIT(&c->w, ",");
        wv_cj_key_str(c, "why", s->flags & WV_RT_STARTING ? "starting" : "preempted");
    }
    if (s->state == WV_BLOCKED) {
        WV_JW_LIT(&c->w, ",");
        wv_cj_key_str(c, "reason", wv_block_reason_name(s->reason));
    }
    if (s->flags & WV_RT_OPEN)
        WV_JW_LIT(&c->w, ",\"did_not_end\":true");
    WV_JW_LIT(&c->w, "}}");
}

static void on_cpu(void *ctx, const wv_cpu_span *s)
{
    chrome *c = ctx;
    const track *t = cpu_track(c, s->cpu);
    if (!t)
        return;
    char name[WV_MAX_NAME + 64];
    wv_cj_thread_label(c, s->thread, name, sizeof name);
    slice(c, "cpu", name, t, s->start_ns, s->end_ns);
    WV_JW_LIT(&c->w, ",\"args\":{\"thread\":");
    wv_jw_u64(&c->w, s->thread);
    WV_JW_LIT(&c->w, ",\"tid\":");
    wv_jw_u64(&c->w, wv_reader_thread(c->r, s->thread)->tid);
    WV_JW_LIT(&c->w, "}}");
}

/* A recorded thread's own track. */
static track thread_track(chrome *c, uint32_t index)
{
    jthread *j = wv_cj_thread(c, index);
    track t = {.len = j->len};
    memcpy(t.ident, j->ident, j->len);
    return t;
}

/* A zero-length slice carrying one end of a lock flow. */
static void flow_end(chrome *c, const char *name, uint32_t thread, int64_t ns, uint64_t flow, uint64_t lock,
                     int out)
{
    track t = thread_track(c, thread);
    slice(c, "lock", name, &t, ns, ns);
    WV_JW_LIT(&c->w, ",\"bind_id\":");
    wv_jw_u64(&c->w, FLOW_BASE + flow);
    if (out)
        WV_JW_LIT(&c->w, ",\"flow_out\":true");
    else
        WV_JW_LIT(&c->w, ",\"flow_in\":true");
    WV_JW_LIT(&c->w, ",\"args\":{\"thread\":");
    wv_jw_u64(&c->w, thread);
    arg_hex(c, "lock", lock);
    WV_JW_LIT(&c->w, "}}");
}

static void on_lock_wait(void *ctx, const wv_lock_wait *w)
{
    chrome *c = ctx;
    char op[32], name[64];
    snprintf(name, sizeof name, "lock wait: %s", wv_code_label(wv_lock_op_name(w->op), w->op, op));
    track t = thread_track(c, w->thread);
    slice(c, "lock", name, &t, w->start_ns, w->end_ns);
    WV_JW_LIT(&c->w, ",\"args\":{\"thread\":");
    wv_jw_u64(&c->w, w->thread);
    arg_hex(c, "lock", w->lock);
    arg_site(c, w->site);
    if (w->holder)
        arg_thread(c, "holder", w->holder);
    else
        WV_JW_LIT(&c->w, ",\"holder\":null");
    arg_ms(c, "wait_ms", w->end_ns - w->start_ns);
    WV_JW_LIT(&c->w, "}}");
    if (w->flow) {
        flow_end(c, "lock release", w->holder, w->release_ns, w->flow, w->lock, 1);
        flow_end(c, "lock wake-up", w->thread, w->end_ns, w->flow, w->lock, 0);
    }
}

static void on_io(void *ctx, const wv_io_wait *w)
{
    chrome *c = ctx;
    char op[32];
    const char *name = wv_code_label(wv_io_op_name(w->op), w->op, op);
    track t = thread_track(c, w->thread);
    slice(c, "io", name, &t, w->start_ns, w->end_ns);
    WV_JW_LIT(&c->w, ",\"args\":{\"thread\":");
    wv_jw_u64(&c->w, w->thread);
    arg_i64(c, "fd", w->fd);
    arg_i64(c, "result", w->result);
    if (wv_io_op_moves_bytes(w->op) && w->result >= 0)
        arg_i64(c, "bytes", w->result);
    arg_site(c, w->site);
    arg_ms(c, "wait_ms", w->end_ns - w->start_ns);
    WV_JW_LIT(&c->w, "}}");
}

static void on_pause(void *ctx, const wv_pause *p)
{
    chrome *c = ctx;
    int64_t start = p->start_ns;
    int clipped = 0;
    const track *t = gc_lane(c, &start, &clipped);
    c->rt->gc_end[t - c->rt->gc] = p->end_ns > start ? p->end_ns : start;
    char op[32];
    if (p->kind == WV_PAUSE_GC) {
        CJ_OPEN(c, "{\"ph\":\"X\",\"cat\":\"gc\",\"name\":");
        if (p->name)
            wv_cj_name(c, p->name);
        else
            WV_JW_LIT(&c->w, "\"gc\"");
        WV_JW_LIT(&c->w, ",");
        wv_jw_raw(&c->w, t->ident, t->len);
        wv_cj_ts(c, start);
        WV_JW_LIT(&c->w, ",\"dur\":");
        wv_jw_us(&c->w, p->end_ns > start ? p->end_ns - start : 0);
    } else {
        slice(c, "alloc", wv_code_label(wv_alloc_op_name(p->name), p->name, op), t, start, p->end_ns);
    }
    WV_JW_LIT(&c->w, ",\"args\":{");
    wv_cj_key_str(c, "kind", p->kind == WV_PAUSE_GC ? "gc" : "allocator");
    arg_thread(c, "thread", p->thread);
    if (p->kind == WV_PAUSE_ALLOC) {
        arg_i64(c, "size", (int64_t)p->size);
        arg_site(c, p->site);
    }
    arg_ms(c, "pause_ms", p->end_ns - p->start_ns);
    if (clipped) /* drawn from when a lane was free; pause_ms is the whole pause */
        WV_JW_LIT(&c->w, ",\"clipped\":true");
    if (p->flags & WV_RT_OPEN)
        WV_JW_LIT(&c->w, ",\"did_not_end\":true");
    WV_JW_LIT(&c->w, "}}");
}

static void on_uv(void *ctx, const wv_uv_phase *p)
{
    chrome *c = ctx;
    rt_thread *rt = rt_thread_at(c, p->thread);
    if (!rt)
        return;
    char buf[32];
    const track *t = use(&rt->uv, c->pid, UV_TID + p->thread);
    slice(c, "uv", wv_code_label(wv_uv_phase_name(p->phase), p->phase, buf), t, p->start_ns, p->end_ns);
    WV_JW_LIT(&c->w, ",\"args\":{\"thread\":");
    wv_jw_u64(&c->w, p->thread);
    arg_hex(c, "loop", p->loop);
    arg_ms(c, "phase_ms", p->end_ns - p->start_ns);
    WV_JW_LIT(&c->w, "}}");
}

/* Cumulative on-CPU and run-queue wait time, as the kernel counts them: the
 * slope is the rate, and the value is exact whatever the sampling period
 * or samples missed. */
static void on_schedstat(void *ctx, const wv_schedstat *s)
{
    chrome *c = ctx;
    rt_thread *t = rt_thread_at(c, s->thread);
    if (!t)
        return;
    if (!t->schedstat) {
        char label[WV_MAX_NAME + 64], name[WV_MAX_NAME + 80];
        wv_cj_thread_label(c, s->thread, label, sizeof label);
        snprintf(name, sizeof name, "%s schedstat", label);
        if (!(t->schedstat = malloc(wv_json_quoted_max(strlen(name)) + 1)))
            return (void)(c->oom = 1);
        t->schedstat[wv_json_quote(t->schedstat, name, strlen(name))] = 0;
    }
    CJ_OPEN(c, "{\"ph\":\"C\",\"name\":");
    wv_jw_raw(&c->w, t->schedstat, strlen(t->schedstat));
    WV_JW_LIT(&c->w, ",");
    wv_cj_ident(c, s->thread);
    wv_cj_ts(c, s->ns);
    WV_JW_LIT(&c->w, ",\"args\":{\"on_cpu_ms\":");
    wv_jw_us(&c->w, (int64_t)(s->run_ns / 1000));
    WV_JW_LIT(&c->w, ",\"runq_wait_ms\":");
    wv_jw_us(&c->w, (int64_t)(s->wait_ns / 1000));
    WV_JW_LIT(&c->w, "}}");
}

/* One counter per heap source, so the program's own figure and the malloc
 * tracking never share a track. */
static void on_heap(void *ctx, const wv_heap_sample *h)
{
    chrome *c = ctx;
    char name[48], buf[32];
    snprintf(name, sizeof name, "heap (%s)", wv_code_label(wv_heap_source_name(h->source), h->source, buf));
    CJ_OPEN(c, "{\"ph\":\"C\",\"name\":");
    wv_jw_str(&c->w, name, strlen(name));
    WV_JW_LIT(&c->w, ",");
    wv_cj_ident(c, h->thread);
    wv_cj_ts(c, h->ns);
    WV_JW_LIT(&c->w, ",\"args\":{\"bytes\":");
    wv_jw_u64(&c->w, h->bytes);
    WV_JW_LIT(&c->w, "}}");
}

/* Where context switches were lost the state track cannot be trusted: an
 * instant says so on it (the total is in otherData). */
static void on_lost(void *ctx, uint32_t thread, uint64_t count, int64_t ns)
{
    chrome *c = ctx;
    const track *t = thread ? state_track(c, thread) : NULL;
    if (!t)
        return;
    CJ_OPEN(c, "{\"ph\":\"i\",\"s\":\"t\",\"cat\":\"weft\",\"name\":\"scheduler records lost\",");
    wv_jw_raw(&c->w, t->ident, t->len);
    wv_cj_ts(c, ns);
    WV_JW_LIT(&c->w, ",\"args\":{\"count\":");
    wv_jw_u64(&c->w, count);
    WV_JW_LIT(&c->w, "}}");
}

/* ---- driving, names, otherData -------------------------------------------------- */

int wv_cj_rt_init(chrome *c)
{
    static const wv_rt_sink sink = {.state = on_state, .cpu = on_cpu, .lock_wait = on_lock_wait, .io = on_io,
                                    .pause = on_pause, .uv = on_uv, .schedstat = on_schedstat,
                                    .heap = on_heap, .lost = on_lost};
    if (!(c->rt = calloc(1, sizeof *c->rt)))
        return -ENOMEM;
    c->rt->model = wv_rt_new(c->r, &sink, c);
    c->rt->sites = wv_sites_new(c->r);
    return c->rt->model && c->rt->sites ? 0 : -ENOMEM;
}

void wv_cj_rt_event(chrome *c, const wv_event *ev)
{
    if (wv_rt_add(c->rt->model, ev))
        c->oom = 1;
}

void wv_cj_rt_finish(chrome *c, int64_t end_ns) { wv_rt_finish(c->rt->model, end_ns); }

static void track_names(chrome *c, const track *t, const char *name, uint64_t sort)
{
    if (t->len)
        wv_cj_track_names(c, t->ident, t->len, name, sort);
}

void wv_cj_rt_metadata(chrome *c)
{
    cj_rt *x = c->rt;
    char label[WV_MAX_NAME + 64], name[WV_MAX_NAME + 80];
    for (uint32_t i = 0; i < x->nth; i++) {
        if (!x->th[i].state.len && !x->th[i].uv.len)
            continue;
        wv_cj_thread_label(c, i, label, sizeof label);
        snprintf(name, sizeof name, "%s state", label);
        track_names(c, &x->th[i].state, name, wv_cj_sort_index(i) + 1);
        snprintf(name, sizeof name, "%s uv loop", label);
        track_names(c, &x->th[i].uv, name, wv_cj_sort_index(i) + 2);
    }
    uint64_t after = wv_cj_sort_index(wv_reader_thread_count(c->r));
    for (uint32_t k = 0; k < x->ngc; k++) {
        if (k)
            snprintf(name, sizeof name, "GC / allocator (%" PRIu32 ")", k + 1);
        else
            snprintf(name, sizeof name, "GC / allocator");
        track_names(c, &x->gc[k], name, after + k);
    }
    int cpus = 0;
    for (uint32_t n = 0; n < x->ncpus; n++) {
        snprintf(name, sizeof name, "CPU %" PRIu32, n);
        track_names(c, &x->cpus[n], name, n);
        cpus |= x->cpus[n].len != 0;
    }
    if (cpus) {
        CJ_OPEN(c, "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":");
        wv_jw_u64(&c->w, CPU_PID);
        WV_JW_LIT(&c->w, ",\"args\":{\"name\":\"CPUs\"}}");
        CJ_OPEN(c, "{\"ph\":\"M\",\"name\":\"process_sort_index\",\"pid\":");
        wv_jw_u64(&c->w, CPU_PID);
        WV_JW_LIT(&c->w, ",\"args\":{\"sort_index\":1}}");
    }
}

void wv_cj_rt_other_data(chrome *c)
{
    const wv_rt_totals *t = wv_rt_get_totals(c->rt->model);
    WV_JW_LIT(&c->w, ",");
    wv_cj_key_str(c, "sched_source", wv_sched_source_text(wv_reader_header(c->r)->sched_source));
    WV_JW_LIT(&c->w, ",");
    wv_cj_key_u64(c, "sched_records_lost", t->lost);
    if (t->ignored) {
        WV_JW_LIT(&c->w, ",");
        wv_cj_key_u64(c, "runtime_events_ignored", t->ignored);
    }
}

void wv_cj_rt_free(chrome *c)
{
    if (!c->rt)
        return;
    for (uint32_t i = 0; i < c->rt->nth; i++)
        free(c->rt->th[i].schedstat);
    free(c->rt->th);
    free(c->rt->cpus);
    wv_rt_free(c->rt->model);
    wv_sites_free(c->rt->sites);
    free(c->rt);
    c->rt = NULL;
}
