/*
 * rt_waits.c - the runtime model's wait half (see rt.h): lock waits with
 * their holder's release, I/O waits, allocator and GC pauses and uv loop
 * phases. Each is delivered to the sink and, being a wait of its thread,
 * decides the reason of the thread's held Blocked spans it overlaps.
 *
 * A wait event is written when the wait ends, with its duration in ticks:
 * it began at ticks - dur. That start is clipped to the thread's previous
 * own event (a thread does nothing else inside a wrapped call, so only a
 * damaged duration or an odd clock sample could reach back past it; the
 * clip keeps the slices of one thread strictly nested) and to the start of
 * the recording. uv phases enclose other events of their thread (the I/O
 * calls of callbacks), so they are clipped to the previous phase instead.
 */
#include "rt_int.h"

#include "vocab.h"

/* Start (ns) of a wait of `dur` ticks that ended at `end_ticks` (end_ns),
 * not before `floor`. */
static int64_t start_of(wv_rt *rt, uint64_t end_ticks, uint64_t dur, int64_t floor, int64_t end_ns)
{
    uint64_t ticks = dur <= end_ticks ? end_ticks - dur : 0;
    int64_t s = wv_reader_ticks_to_ns(rt->r, ticks);
    if (s < 0)
        s = 0;
    if (s < floor)
        s = floor;
    return s > end_ns ? end_ns : s;
}

/* The start of the wait that ends with ev. */
static int64_t wait_start(wv_rt *rt, const wv_event *ev, uint64_t dur, int64_t floor)
{
    return start_of(rt, ev->ticks, dur, floor, ev->ns);
}

static int64_t own_floor(const rthread *t) { return t->first_ns >= 0 ? t->last_own : INT64_MIN; }

/* ---- locks ------------------------------------------------------------------ */

static release_slot *release_slot_of(wv_rt *rt, uint64_t lock, uint32_t thread)
{
    uint64_t x = lock ^ ((uint64_t)thread * 0x9e3779b97f4a7c15ull);
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 32;
    return &rt->releases[x & (WV_RT_RELEASE_SLOTS - 1)];
}

void wv__rt_lock_release(wv_rt *rt, const wv_event *ev)
{
    if (rt->system && ev->thread == WEFT_SYSTEM_THREAD)
        return;
    *release_slot_of(rt, ev->arg[0], ev->thread) = (release_slot){ev->arg[0], ev->thread, ev->ns};
}

void wv__rt_lock_wait(wv_rt *rt, const wv_event *ev, rthread *t)
{
    wv_lock_wait w = {ev->thread, 0, ev->arg[0], ev->arg[1], ev->arg[2], 0, ev->ns, 0, 0};
    w.start_ns = wait_start(rt, ev, ev->arg[3], own_floor(t));
    if (wv__rt_known(rt, ev->arg[4])) {
        w.holder = (uint32_t)ev->arg[4];
        const release_slot *s = release_slot_of(rt, w.lock, w.holder);
        if (s->thread == w.holder && s->lock == w.lock && s->ns <= w.end_ns) {
            w.flow = ++rt->next_flow;
            w.release_ns = s->ns;
        }
    } else if (ev->arg[4]) {
        rt->totals.ignored++;
    }
    if (rt->sink.lock_wait)
        rt->sink.lock_wait(rt->ctx, &w);
    wv__rt_wait(rt, t, w.start_ns, w.end_ns, wv_lock_op_reason(w.op));
}

/* ---- I/O and uv ------------------------------------------------------------- */

void wv__rt_io(wv_rt *rt, const wv_event *ev, rthread *t)
{
    wv_io_wait w = {ev->thread, ev->arg[0], ev->arg[4], (int64_t)ev->arg[1], (int64_t)ev->arg[2], 0, ev->ns};
    w.start_ns = wait_start(rt, ev, ev->arg[3], own_floor(t));
    if (rt->sink.io)
        rt->sink.io(rt->ctx, &w);
    wv__rt_wait(rt, t, w.start_ns, w.end_ns, wv_io_op_reason(w.op));
}

/* POLL_WAIT comes right after the POLL_IO it precedes, with the same time:
 * it ends where that POLL_IO began (docs/format.md, UV_LOOP). */
void wv__rt_uv(wv_rt *rt, const wv_event *ev, rthread *t)
{
    uint64_t loop = ev->arg[0], phase = ev->arg[1], dur = ev->arg[2], end_ticks = ev->ticks;
    int64_t floor = t->uv_end;
    int before_io = phase == WEFT_UV_POLL_WAIT && t->uv_io_valid && t->uv_io_ticks == ev->ticks &&
                    t->uv_io_loop == loop;
    wv_uv_phase p = {ev->thread, loop, phase, 0, ev->ns};
    if (before_io) {
        end_ticks -= t->uv_io_dur <= end_ticks ? t->uv_io_dur : end_ticks;
        floor = t->uv_before_io;
        p.end_ns = start_of(rt, end_ticks, 0, floor, ev->ns);
    }
    p.start_ns = start_of(rt, end_ticks, dur, floor, p.end_ns);
    t->uv_loop = 1;
    t->uv_io_valid = phase == WEFT_UV_POLL_IO;
    if (t->uv_io_valid) {
        t->uv_io_ticks = ev->ticks, t->uv_io_dur = dur, t->uv_io_loop = loop;
        t->uv_before_io = t->uv_end;
    }
    if (!before_io)
        t->uv_end = p.end_ns;
    if (rt->sink.uv)
        rt->sink.uv(rt->ctx, &p);
    if (phase == WEFT_UV_POLL_WAIT) /* the loop blocked in the kernel for I/O */
        wv__rt_wait(rt, t, p.start_ns, p.end_ns, WEFT_BLOCK_IO);
}

/* ---- pauses ------------------------------------------------------------------ */

void wv__rt_alloc_pause(wv_rt *rt, const wv_event *ev, rthread *t)
{
    wv_pause p = {WV_PAUSE_ALLOC, 0, ev->thread, ev->arg[0], ev->arg[1], ev->arg[3], 0, ev->ns};
    p.start_ns = wait_start(rt, ev, ev->arg[2], own_floor(t));
    if (rt->sink.pause)
        rt->sink.pause(rt->ctx, &p);
    wv__rt_wait(rt, t, p.start_ns, p.end_ns, WEFT_BLOCK_GC);
}

/* A GC pause is process-wide: it may begin on one thread and end on
 * another, and the recorder makes begins and ends alternate. A begin while
 * one is open is ignored, as is an end without one. */
void wv__rt_gc_begin(wv_rt *rt, const wv_event *ev)
{
    if (rt->gc_open)
        return;
    rt->gc_open = 1;
    rt->gc_thread = ev->thread;
    rt->gc_kind = ev->arg[0];
    rt->gc_begin = ev->ns;
}

static void gc_close(wv_rt *rt, int64_t end, unsigned flags)
{
    rt->gc_open = 0;
    uint32_t slot = rt->ngc++ % WV_RT_GC_MEMORY;
    rt->gc[slot].start = rt->gc_begin;
    rt->gc[slot].end = end;
    wv_pause p = {WV_PAUSE_GC, (uint8_t)flags, rt->gc_thread, rt->gc_kind, 0, 0, rt->gc_begin, end};
    if (rt->sink.pause)
        rt->sink.pause(rt->ctx, &p);
}

void wv__rt_gc_end(wv_rt *rt, const wv_event *ev)
{
    if (rt->gc_open)
        gc_close(rt, ev->ns, 0);
}

void wv__rt_gc_finish(wv_rt *rt, int64_t end_ns)
{
    if (rt->gc_open)
        gc_close(rt, end_ns, WV_RT_OPEN);
}

int wv__rt_gc_overlaps(const wv_rt *rt, int64_t start, int64_t end)
{
    uint32_t n = rt->ngc < WV_RT_GC_MEMORY ? rt->ngc : WV_RT_GC_MEMORY;
    for (uint32_t i = 0; i < n; i++)
        if (rt->gc[i].start < end && rt->gc[i].end > start)
            return 1;
    return rt->gc_open && rt->gc_begin < end;
}
