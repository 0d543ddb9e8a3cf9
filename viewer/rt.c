/*
 * rt.c - the runtime model's scheduling half (see rt.h): thread states and
 * CPU occupancy from SCHED, the spans held until their Blocked reason is
 * known, thread creation, schedstat, heap and lost-record pass-through, and
 * the event dispatch. The wait events are in rt_waits.c.
 *
 * A thread's state machine, per SCHED about it:
 *   in:         Running from now on its CPU; the span it ends (Runnable,
 *               Blocked, or a Running whose "out" was lost) is queued
 *   out:        Running ends; Blocked (voluntary) or Runnable (preempted)
 *               from now
 *   first one:  before its first SCHED a thread is not tracked (no state
 *               track at all without context switches); if the first is an
 *               "out", the thread ran from its first event (it opened its
 *               context-switch ring when it registered, at that event)
 * A second "out" in a row (an "in" was lost) restarts the open span: the
 * time between is unknown and left out rather than guessed.
 */
#include "rt_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"

static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* ---- threads and CPUs -------------------------------------------------------- */

static rthread *new_thread(wv_rt *rt, uint32_t index)
{
    if (wv_grow((void **)&rt->th, &rt->nth, index, sizeof *rt->th))
        return rt->oom = 1, NULL;
    rthread *t = rt->th[index];
    if (!t) {
        if (!(t = rt->th[index] = calloc(1, sizeof *t)))
            return rt->oom = 1, NULL;
        t->first_ns = t->create_ns = t->start_ns = -1;
        t->emitted = t->uv_end = INT64_MIN;
        t->cpu = WV_NO_CPU;
    }
    return t;
}

rthread *wv__rt_thread(wv_rt *rt, uint32_t index)
{
    return index < rt->nth && rt->th[index] ? rt->th[index] : new_thread(rt, index);
}

/* A thread index an argument may name: one the file defines, not the
 * system stream. */
int wv__rt_known(const wv_rt *rt, uint64_t index)
{
    if (index == 0 && rt->system)
        return 0;
    if (index >= wv_reader_thread_count(rt->r))
        return 0;
    const wv_thread *t = wv_reader_thread(rt->r, (uint32_t)index);
    return t->registered || t->events;
}

static rcpu *cpu_at(wv_rt *rt, uint32_t cpu)
{
    if (cpu >= WV_MAX_CPUS)
        return NULL;
    if (wv_grow((void **)&rt->cpus, &rt->ncpus, cpu, sizeof *rt->cpus))
        return rt->oom = 1, NULL;
    return &rt->cpus[cpu];
}

static void cpu_span(wv_rt *rt, uint32_t cpu, rcpu *c, int64_t end, unsigned flags)
{
    if (rt->sink.cpu && end > c->since) {
        wv_cpu_span s = {cpu, c->thread, flags, c->since, end};
        rt->sink.cpu(rt->ctx, &s);
    }
    c->last_end = end > c->since ? end : c->since;
    c->busy = 0;
}

/* `thread` runs on `cpu` from `since`; a thread still there lost its "out". */
static void cpu_take(wv_rt *rt, uint32_t cpu, uint32_t thread, int64_t since)
{
    rcpu *c = cpu_at(rt, cpu);
    if (!c)
        return;
    if (c->busy)
        cpu_span(rt, cpu, c, since, 0);
    c->busy = 1;
    c->thread = thread;
    c->since = since > c->last_end ? since : c->last_end;
}

static void cpu_leave(wv_rt *rt, uint32_t cpu, uint32_t thread, int64_t end, unsigned flags)
{
    rcpu *c = cpu_at(rt, cpu);
    if (c && c->busy && c->thread == thread)
        cpu_span(rt, cpu, c, end, flags);
}

/* ---- held spans ------------------------------------------------------------- */

static int resolved(const wv_state_span *s) { return s->state != WV_BLOCKED || s->reason; }

static unsigned default_reason(const wv_rt *rt, const wv_state_span *s)
{
    return wv__rt_gc_overlaps(rt, s->start_ns, s->end_ns) ? WEFT_BLOCK_GC : WEFT_BLOCK_OTHER;
}

static wv_state_span *held(rthread *t, uint32_t i) { return &t->q[(t->qhead + i) % t->qcap]; }

/* Delivers the decided spans at the head. */
static void drain(wv_rt *rt, rthread *t)
{
    while (t->qlen && resolved(held(t, 0))) {
        if (rt->sink.state)
            rt->sink.state(rt->ctx, held(t, 0));
        t->qhead = (t->qhead + 1) % t->qcap;
        t->qlen--;
    }
}

/* Held Blocked spans ending by `until` had no wait covering them. */
static void decide_until(wv_rt *rt, rthread *t, int64_t until)
{
    for (uint32_t i = 0; i < t->qlen && held(t, i)->end_ns <= until; i++)
        if (!resolved(held(t, i)))
            held(t, i)->reason = (uint8_t)default_reason(rt, held(t, i));
    drain(rt, t);
}

void wv__rt_wait(wv_rt *rt, rthread *t, int64_t start, int64_t end, unsigned reason)
{
    for (uint32_t i = 0; i < t->qlen; i++) {
        wv_state_span *s = held(t, i);
        if (!resolved(s) && s->start_ns < end && s->end_ns > start)
            s->reason = (uint8_t)reason;
    }
    if (t->state == WV_BLOCKED && t->since < end && !t->open_reason)
        t->open_reason = (uint8_t)reason;
    drain(rt, t);
}

static int grow_queue(wv_rt *rt, rthread *t)
{
    uint32_t cap = t->qcap ? t->qcap * 2 : 8;
    wv_state_span *q = malloc(cap * sizeof *q);
    if (!q)
        return rt->oom = 1, -ENOMEM;
    for (uint32_t i = 0; i < t->qlen; i++)
        q[i] = *held(t, i);
    free(t->q);
    t->q = q, t->qcap = cap, t->qhead = 0;
    return 0;
}

/* Queues a span of thread `index`, clipped so spans never overlap. */
static void push(wv_rt *rt, uint32_t index, rthread *t, wv_state_span s)
{
    if (s.start_ns < t->emitted)
        s.start_ns = t->emitted;
    if (s.end_ns <= s.start_ns)
        return;
    s.thread = index;
    t->emitted = s.end_ns;
    if (t->qlen == WV_RT_MAX_PENDING) { /* decide the oldest without its wait */
        wv_state_span *h = held(t, 0);
        if (!resolved(h))
            h->reason = (uint8_t)default_reason(rt, h);
        rt->totals.forced++;
        drain(rt, t);
    }
    if (t->qlen == t->qcap && grow_queue(rt, t))
        return;
    *held(t, t->qlen++) = s;
    drain(rt, t);
}

/* Ends the open state at `end`. */
static void close_state(wv_rt *rt, uint32_t index, rthread *t, int64_t end, unsigned flags)
{
    wv_state_span s = {index, t->state, 0, (uint16_t)(t->flags | flags), t->cpu, t->since, end};
    if (t->state == WV_RUNNING)
        cpu_leave(rt, t->cpu, index, end, flags);
    if (t->state == WV_BLOCKED)
        s.reason = t->open_reason;
    if (t->state == WV_RUNNABLE && (t->flags & WV_RT_PREEMPTED) && rt->sink.latency && end > t->since)
        rt->sink.latency(rt->ctx, index, t->since, end);
    push(rt, index, t, s);
}

static void open_state(rthread *t, uint8_t state, uint8_t flags, uint32_t cpu, int64_t since)
{
    t->state = state;
    t->flags = flags;
    t->cpu = cpu;
    t->since = since;
    t->open_reason = 0;
}

/* ---- SCHED ------------------------------------------------------------------ */

/* The first SCHED about a thread: what is known of it before. */
static void start_tracking(wv_rt *rt, uint32_t index, rthread *t, int switch_in, uint32_t cpu, int64_t ns)
{
    if (t->create_ns >= 0 && t->start_ns >= t->create_ns)
        push(rt, index, t,
             (wv_state_span){index, WV_RUNNABLE, 0, WV_RT_STARTING, WV_NO_CPU, t->create_ns, t->start_ns});
    if (switch_in)
        return;
    int64_t ran = t->start_ns >= 0 ? t->start_ns : t->first_ns;
    if (ran < 0 || ran >= ns)
        return;
    open_state(t, WV_RUNNING, 0, cpu, ran);
    rcpu *c = cpu_at(rt, cpu);
    if (c && !c->busy) { /* it had that CPU, unless another thread is known to */
        c->thread = index;
        c->since = ran > c->last_end ? ran : c->last_end;
        c->busy = 1;
    }
}

static void on_sched(wv_rt *rt, const wv_event *ev)
{
    uint64_t thread = ev->arg[0], sw = ev->arg[2];
    uint32_t cpu = ev->arg[1] < WV_MAX_CPUS ? (uint32_t)ev->arg[1] : WV_NO_CPU;
    if (!wv__rt_known(rt, thread) || sw > WEFT_SWITCH_PREEMPTED) {
        rt->totals.ignored++;
        return;
    }
    uint32_t index = (uint32_t)thread;
    rthread *t = wv__rt_thread(rt, index);
    if (!t || t->exited)
        return;
    rt->totals.sched_events++;
    if (!t->state)
        start_tracking(rt, index, t, sw == WEFT_SWITCH_IN, cpu, ev->ns);
    if (sw == WEFT_SWITCH_IN) {
        if (t->state)
            close_state(rt, index, t, ev->ns, 0);
        open_state(t, WV_RUNNING, 0, cpu, ev->ns);
        cpu_take(rt, cpu, index, ev->ns);
        return;
    }
    if (t->state == WV_RUNNING)
        close_state(rt, index, t, ev->ns, 0);
    if (sw == WEFT_SWITCH_PREEMPTED)
        open_state(t, WV_RUNNABLE, WV_RT_PREEMPTED, cpu, ev->ns);
    else
        open_state(t, WV_BLOCKED, 0, cpu, ev->ns);
}

/* ---- thread lifecycle --------------------------------------------------------- */

static spawn_slot *spawn_slot_of(wv_rt *rt, uint64_t spawn)
{
    return &rt->spawns[mix(spawn) & (WV_RT_SPAWN_SLOTS - 1)];
}

static void on_thread_create(wv_rt *rt, const wv_event *ev)
{
    if (ev->arg[0])
        *spawn_slot_of(rt, ev->arg[0]) = (spawn_slot){ev->arg[0], ev->ns};
}

static void on_thread_start(wv_rt *rt, const wv_event *ev, rthread *t)
{
    t->start_ns = ev->ns;
    spawn_slot *s = ev->arg[1] ? spawn_slot_of(rt, ev->arg[1]) : NULL;
    if (s && s->spawn == ev->arg[1] && s->ns <= ev->ns) {
        t->create_ns = s->ns;
        s->spawn = 0;
    }
}

/* The thread is gone: its open state ends here, held spans are decided (no
 * wait of it can follow) and later SCHED about it is ignored. */
static void on_thread_exit(wv_rt *rt, const wv_event *ev, rthread *t)
{
    if (t->state)
        close_state(rt, ev->thread, t, ev->ns, 0);
    t->state = 0;
    t->exited = 1;
    decide_until(rt, t, INT64_MAX);
}

/* ---- pass-through ------------------------------------------------------------- */

static void on_schedstat(wv_rt *rt, const wv_event *ev)
{
    if (!wv__rt_known(rt, ev->arg[0])) {
        rt->totals.ignored++;
        return;
    }
    wv_schedstat s = {(uint32_t)ev->arg[0], ev->arg[1], ev->arg[2], ev->arg[3], ev->ns};
    if (rt->sink.schedstat)
        rt->sink.schedstat(rt->ctx, &s);
}

static void on_sched_lost(wv_rt *rt, const wv_event *ev)
{
    uint32_t thread = wv__rt_known(rt, ev->arg[0]) ? (uint32_t)ev->arg[0] : 0;
    rt->totals.lost += ev->arg[1];
    if (rt->sink.lost)
        rt->sink.lost(rt->ctx, thread, ev->arg[1], ev->ns);
}

static void on_heap(wv_rt *rt, const wv_event *ev)
{
    wv_heap_sample h = {ev->thread, ev->arg[0], ev->arg[1], ev->ns};
    if (rt->sink.heap)
        rt->sink.heap(rt->ctx, &h);
}

/* ---- dispatch ----------------------------------------------------------------- */

/* The thread's own events (not the system stream's, which are about others). */
static rthread *own_thread(wv_rt *rt, const wv_event *ev)
{
    if (ev->synthetic || ev->code == WEFT_EV_TIME_BASE || ev->code == WEFT_EV_DROP)
        return NULL;
    if (rt->system && ev->thread == WEFT_SYSTEM_THREAD)
        return NULL;
    return wv__rt_thread(rt, ev->thread);
}

int wv_rt_add(wv_rt *rt, const wv_event *ev)
{
    if (ev->ns > rt->end_ns)
        rt->end_ns = ev->ns;
    /* Most events (tasks, regions, logs, counters) only mark their thread's
     * latest own event, once it has a first one and holds no span: what
     * the general path below does for them, without its lookups. */
    if (ev->code >= WEFT_EV_TASK_BEGIN && ev->code <= WEFT_EV_COUNTER && ev->thread < rt->nth &&
        !(rt->system && ev->thread == WEFT_SYSTEM_THREAD)) {
        rthread *f = rt->th[ev->thread];
        if (f && f->first_ns >= 0 && !f->qlen) {
            f->last_own = ev->ns;
            return 0;
        }
    }
    rthread *t = own_thread(rt, ev);
    switch (ev->code) {
    case WEFT_EV_SCHED: on_sched(rt, ev); break;
    case WEFT_EV_SCHEDSTAT: on_schedstat(rt, ev); break;
    case WEFT_EV_SCHED_LOST: on_sched_lost(rt, ev); break;
    case WEFT_EV_HEAP: on_heap(rt, ev); break;
    case WEFT_EV_THREAD_CREATE: on_thread_create(rt, ev); break;
    case WEFT_EV_LOCK_RELEASE: wv__rt_lock_release(rt, ev); break;
    default: break;
    }
    if (t) {
        switch (ev->code) {
        case WEFT_EV_THREAD_START: on_thread_start(rt, ev, t); break;
        case WEFT_EV_THREAD_EXIT: on_thread_exit(rt, ev, t); break;
        case WEFT_EV_LOCK_WAIT: wv__rt_lock_wait(rt, ev, t); break;
        case WEFT_EV_IO: wv__rt_io(rt, ev, t); break;
        case WEFT_EV_ALLOC_PAUSE: wv__rt_alloc_pause(rt, ev, t); break;
        case WEFT_EV_UV_LOOP: wv__rt_uv(rt, ev, t); break;
        case WEFT_EV_GC_BEGIN: wv__rt_gc_begin(rt, ev); break;
        case WEFT_EV_GC_END: wv__rt_gc_end(rt, ev); break;
        default: break;
        }
        if (t->first_ns < 0)
            t->first_ns = ev->ns;
        t->last_own = ev->ns;
        /* The thread is doing something else than waiting: what it held up
         * to now had no wait. Not so on a uv loop's thread: the callbacks
         * after a poll write events before the POLL_WAIT that explains the
         * block before them, so there the end of an iteration decides. */
        if (t->qlen && (!t->uv_loop || (ev->code == WEFT_EV_UV_LOOP && ev->arg[1] == WEFT_UV_POLL_WAIT)))
            decide_until(rt, t, ev->ns);
    }
    int oom = rt->oom;
    rt->oom = 0;
    return oom ? -ENOMEM : 0;
}

void wv_rt_finish(wv_rt *rt, int64_t end_ns)
{
    if (end_ns < rt->end_ns)
        end_ns = rt->end_ns;
    wv__rt_gc_finish(rt, end_ns);
    for (uint32_t i = 0; i < rt->nth; i++) {
        rthread *t = rt->th[i];
        if (!t)
            continue;
        if (t->state) {
            if (t->state == WV_BLOCKED && !t->open_reason) {
                wv_state_span s = {i, WV_BLOCKED, 0, 0, t->cpu, t->since, end_ns};
                t->open_reason = (uint8_t)default_reason(rt, &s);
            }
            close_state(rt, i, t, end_ns, WV_RT_OPEN);
            t->state = 0;
        }
        decide_until(rt, t, INT64_MAX);
    }
    for (uint32_t c = 0; c < rt->ncpus; c++)
        if (rt->cpus[c].busy)
            cpu_span(rt, c, &rt->cpus[c], end_ns, WV_RT_OPEN);
}

const wv_rt_totals *wv_rt_get_totals(const wv_rt *rt) { return &rt->totals; }

wv_rt *wv_rt_new(wv_reader *r, const wv_rt_sink *sink, void *ctx)
{
    wv_rt *rt = calloc(1, sizeof *rt);
    if (!rt)
        return NULL;
    rt->r = r;
    if (sink)
        rt->sink = *sink;
    rt->ctx = ctx;
    rt->system = wv_reader_header(r)->sched_source != 0;
    rt->end_ns = INT64_MIN;
    rt->releases = calloc(WV_RT_RELEASE_SLOTS, sizeof *rt->releases);
    rt->spawns = calloc(WV_RT_SPAWN_SLOTS, sizeof *rt->spawns);
    if (!rt->releases || !rt->spawns) {
        wv_rt_free(rt);
        return NULL;
    }
    return rt;
}

void wv_rt_free(wv_rt *rt)
{
    if (!rt)
        return;
    for (uint32_t i = 0; i < rt->nth; i++)
        if (rt->th[i]) {
            free(rt->th[i]->q);
            free(rt->th[i]);
        }
    free(rt->th);
    free(rt->cpus);
    free(rt->releases);
    free(rt->spawns);
    free(rt);
}
