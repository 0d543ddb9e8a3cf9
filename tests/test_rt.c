/*
 * test_rt.c - the runtime model (viewer/rt.c, rt_waits.c) on tracegen traces
 * with known timings: exact state spans with their Blocked reasons, CPU
 * spans, lock waits with holders and flows, I/O, pauses, uv phases,
 * scheduler latency, and damaged or pathological input (unknown threads,
 * bad codes, random arguments, a thread that never says why it blocked).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rt.h"
#include "rttrace.h"
#include "testutil.h"
#include "tracegen.h"

#define US(x) RT_US(x)
#define NS(x) ((int64_t)(x) * 1000)           /* x us as the model's ns */

/* ---- collecting what the model delivers ---------------------------------------- */

typedef struct got {
    wv_state_span st[8192];
    size_t nst;
    wv_cpu_span cpu[64];
    size_t ncpu;
    wv_lock_wait lock[8];
    size_t nlock;
    wv_io_wait io[8];
    size_t nio;
    wv_pause pause[8];
    size_t npause;
    wv_uv_phase uv[8];
    size_t nuv;
    wv_schedstat ss[8];
    size_t nss;
    wv_heap_sample heap[8];
    size_t nheap;
    int64_t lat[8][3];
    size_t nlat;
    uint64_t lost[3];
    size_t nlost;
    wv_rt_totals totals;
} got;

#define KEEP(arr, n, v)                                                                                 \
    do {                                                                                                \
        if ((n) < sizeof(arr) / sizeof((arr)[0]))                                                       \
            (arr)[(n)] = *(v);                                                                          \
        (n)++;                                                                                          \
    } while (0)

static void on_state(void *c, const wv_state_span *s) { KEEP(((got *)c)->st, ((got *)c)->nst, s); }
static void on_cpu(void *c, const wv_cpu_span *s) { KEEP(((got *)c)->cpu, ((got *)c)->ncpu, s); }
static void on_lock(void *c, const wv_lock_wait *w) { KEEP(((got *)c)->lock, ((got *)c)->nlock, w); }
static void on_io(void *c, const wv_io_wait *w) { KEEP(((got *)c)->io, ((got *)c)->nio, w); }
static void on_pause(void *c, const wv_pause *p) { KEEP(((got *)c)->pause, ((got *)c)->npause, p); }
static void on_uv(void *c, const wv_uv_phase *p) { KEEP(((got *)c)->uv, ((got *)c)->nuv, p); }
static void on_ss(void *c, const wv_schedstat *s) { KEEP(((got *)c)->ss, ((got *)c)->nss, s); }
static void on_heap(void *c, const wv_heap_sample *h) { KEEP(((got *)c)->heap, ((got *)c)->nheap, h); }
static void on_latency(void *c, uint32_t thread, int64_t ready, int64_t run)
{
    got *g = c;
    int64_t v[3] = {thread, ready, run};
    if (g->nlat < 8)
        memcpy(g->lat[g->nlat], v, sizeof v);
    g->nlat++;
}
static void on_lost(void *c, uint32_t thread, uint64_t count, int64_t ns)
{
    got *g = c;
    g->lost[0] = thread, g->lost[1] = count, g->lost[2] = (uint64_t)ns;
    g->nlost++;
}

static const wv_rt_sink sink = {on_state, on_cpu, on_latency, on_lock, on_io, on_pause, on_uv, on_ss, on_heap, on_lost};

/* Runs the model over the trace; the result is static (big). */
static got *run(tg *g)
{
    static got out;
    memset(&out, 0, sizeof out);
    size_t len;
    const uint8_t *b = tg_bytes(g, &len);
    int fd = memfd_create("weft-rt", MFD_CLOEXEC);
    cr_assert_eq(write(fd, b, len), (ssize_t)len);
    lseek(fd, 0, SEEK_SET);
    wv_reader *r = wv_reader_open_fd(fd, "in");
    cr_assert_neq(wv_reader_status(r), WV_FAILED, "%s", wv_reader_message(r));
    wv_rt *rt = wv_rt_new(r, &sink, &out);
    cr_assert_not_null(rt);
    wv_event ev;
    int64_t end = 0;
    while (wv_reader_next(r, &ev)) {
        cr_assert_eq(wv_rt_add(rt, &ev), 0);
        end = ev.ns > end ? ev.ns : end;
    }
    wv_rt_finish(rt, end);
    out.totals = *wv_rt_get_totals(rt);
    wv_rt_free(rt);
    wv_reader_close(r);
    close(fd);
    return &out;
}

static tg *new_trace(void)
{
    tg_opts o = tg_defaults();
    o.sched_source = WEFT_SCHED_SRC_PERF;
    return tg_new(&o);
}

/* ---- the scheduling scenario ---------------------------------------------------- */

static tg *sched_trace(void) { return rt_sched_trace(0x4000, 0x5000, 0); }

typedef struct want_state {
    uint32_t thread;
    int state, reason, flags;
    uint32_t cpu;
    int64_t start, end; /* us */
} want_state;

static void check_states(const got *o, const want_state *w, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        /* the i-th expected span is the next one of its thread */
        const wv_state_span *s = NULL;
        size_t seen = 0;
        for (size_t j = 0; j < i; j++)
            seen += w[j].thread == w[i].thread;
        for (size_t j = 0; j < o->nst && !s; j++)
            if (o->st[j].thread == w[i].thread && seen-- == 0)
                s = &o->st[j];
        cr_assert_not_null(s, "span %zu delivered", i);
        cr_assert_eq(s->state, w[i].state, "span %zu state", i);
        cr_assert_eq(s->reason, w[i].reason, "span %zu reason %d", i, s->reason);
        cr_assert_eq(s->flags, w[i].flags, "span %zu flags %d", i, s->flags);
        cr_assert_eq(s->cpu, w[i].cpu, "span %zu cpu %u", i, s->cpu);
        cr_assert_eq(s->start_ns, NS(w[i].start), "span %zu start %lld", i, (long long)s->start_ns);
        cr_assert_eq(s->end_ns, NS(w[i].end), "span %zu end %lld", i, (long long)s->end_ns);
        k++;
    }
    cr_assert_eq(o->nst, k, "%zu spans, no more", k);
}

Test(rt, state_spans_follow_the_switches_with_their_blocked_reasons)
{
    tg *g = sched_trace();
    got *o = run(g);
    const want_state w[] = {
        {1, WV_RUNNING, 0, 0, 0, 10, 200}, /* ran from its first event */
        {1, WV_RUNNABLE, 0, WV_RT_PREEMPTED, 0, 200, 260},
        {1, WV_RUNNING, 0, 0, 1, 260, 400},
        {1, WV_BLOCKED, WEFT_BLOCK_IO, 0, 1, 400, 600}, /* its read [400, 650] */
        {1, WV_RUNNING, 0, 0, 1, 600, 800},
        {1, WV_BLOCKED, WEFT_BLOCK_OTHER, 0, 1, 800, 900}, /* then a log: no wait */
        {1, WV_RUNNING, 0, WV_RT_OPEN, 1, 900, 1000},
        {2, WV_RUNNABLE, 0, WV_RT_STARTING, WV_NO_CPU, 10, 50}, /* created by main at 10 */
        {2, WV_RUNNING, 0, 0, 2, 50, 100},
        {2, WV_BLOCKED, WEFT_BLOCK_LOCK, 0, 2, 100, 300}, /* its lock wait [100, 350] */
        {2, WV_RUNNING, 0, 0, 0, 300, 500},
        {2, WV_BLOCKED, WEFT_BLOCK_GC, 0, 0, 500, 580}, /* no wait; the GC [510, 560] */
        {2, WV_RUNNING, 0, 0, 0, 580, 700},
        {2, WV_RUNNABLE, 0, WV_RT_PREEMPTED, 0, 700, 750},
        {2, WV_RUNNING, 0, 0, 0, 750, 780}, /* until it exited */
    };
    check_states(o, w, sizeof w / sizeof w[0]);
    tg_free(g);
}

Test(rt, cpu_spans_say_which_thread_ran_where)
{
    tg *g = sched_trace();
    got *o = run(g);
    const struct {
        uint32_t cpu, thread;
        int64_t start, end;
        unsigned flags;
    } w[] = {
        {2, 2, 50, 100, 0},  {0, 1, 10, 200, 0},  {1, 1, 260, 400, 0}, {0, 2, 300, 500, 0},
        {1, 1, 600, 800, 0}, {0, 2, 580, 700, 0}, {0, 2, 750, 780, 0}, {1, 1, 900, 1000, WV_RT_OPEN},
    };
    size_t n = sizeof w / sizeof w[0];
    cr_assert_eq(o->ncpu, n);
    for (size_t i = 0; i < n; i++) {
        int found = 0;
        for (size_t j = 0; j < o->ncpu; j++)
            found += o->cpu[j].cpu == w[i].cpu && o->cpu[j].thread == w[i].thread &&
                     o->cpu[j].start_ns == NS(w[i].start) && o->cpu[j].end_ns == NS(w[i].end) &&
                     o->cpu[j].flags == w[i].flags;
        cr_assert_eq(found, 1, "cpu span %zu", i);
    }
    tg_free(g);
}

Test(rt, lock_wait_has_its_holder_and_the_holders_release)
{
    tg *g = sched_trace();
    got *o = run(g);
    cr_assert_eq(o->nlock, 2);
    const wv_lock_wait *a = &o->lock[0], *b = &o->lock[1];
    cr_assert_eq(a->thread, 2);
    cr_assert_eq(a->holder, 1);
    cr_assert_eq(a->op, WEFT_LOCK_MUTEX);
    cr_assert_eq(a->lock, 0x1000);
    cr_assert_eq(a->site, 0x4000);
    cr_assert_eq(a->start_ns, NS(100));
    cr_assert_eq(a->end_ns, NS(350));
    cr_assert_eq(a->flow, 1);
    cr_assert_eq(a->release_ns, NS(280));
    /* op 99 passes through; holder 55 does not exist */
    cr_assert_eq(b->op, 99);
    cr_assert_eq(b->holder, 0);
    cr_assert_eq(b->flow, 0);
    cr_assert_eq(b->start_ns, NS(764));
    tg_free(g);
}

Test(rt, io_pauses_heap_latency_and_lost_records)
{
    tg *g = sched_trace();
    got *o = run(g);
    cr_assert_eq(o->nio, 1);
    cr_assert_eq(o->io[0].thread, 1);
    cr_assert_eq(o->io[0].op, WEFT_IO_READ);
    cr_assert_eq(o->io[0].fd, 3);
    cr_assert_eq(o->io[0].result, 10);
    cr_assert_eq(o->io[0].site, 0x5000);
    cr_assert_eq(o->io[0].start_ns, NS(400));
    cr_assert_eq(o->io[0].end_ns, NS(650));
    cr_assert_eq(o->npause, 2);
    cr_assert_eq(o->pause[0].kind, WV_PAUSE_GC);
    cr_assert_eq(o->pause[0].thread, 3);
    cr_assert_eq(o->pause[0].name, 1);
    cr_assert_eq(o->pause[0].start_ns, NS(510));
    cr_assert_eq(o->pause[0].end_ns, NS(560));
    cr_assert_eq(o->pause[1].kind, WV_PAUSE_ALLOC);
    cr_assert_eq(o->pause[1].thread, 2);
    cr_assert_eq(o->pause[1].name, WEFT_ALLOC_MALLOC);
    cr_assert_eq(o->pause[1].size, 4096);
    cr_assert_eq(o->pause[1].site, 0x6000);
    cr_assert_eq(o->pause[1].start_ns, NS(730));
    cr_assert_eq(o->pause[1].end_ns, NS(760));
    cr_assert_eq(o->nheap, 1);
    cr_assert_eq(o->heap[0].source, WEFT_HEAP_MALLOC);
    cr_assert_eq(o->heap[0].bytes, 4096);
    cr_assert_eq(o->heap[0].thread, 0);
    cr_assert_eq(o->nlat, 2);
    cr_assert_eq(o->lat[0][0], 1);
    cr_assert_eq(o->lat[0][1], NS(200));
    cr_assert_eq(o->lat[0][2], NS(260));
    cr_assert_eq(o->lat[1][0], 2);
    cr_assert_eq(o->lat[1][2] - o->lat[1][1], NS(50));
    cr_assert_eq(o->nlost, 1);
    cr_assert_eq(o->lost[0], 2);
    cr_assert_eq(o->lost[1], 3);
    cr_assert_eq(o->totals.lost, 3);
    cr_assert_eq(o->totals.sched_events, 12);
    cr_assert_eq(o->totals.ignored, 4, "thread 77, switch 9, schedstat of 99, holder 55");
    cr_assert_eq(o->nss, 0);
    tg_free(g);
}

/* ---- libuv loop and schedstat --------------------------------------------------------- */

/* A uv iteration as weft_uv_instrument() writes it (docs/format.md,
 * UV_LOOP): RUN at the prepare (100); at the check (500) POLL_IO [400, 500]
 * and then POLL_WAIT, whose 300 us end where POLL_IO began: [100, 400]. The
 * loop was switched out [150, 400]; a read in a callback at 450 comes before
 * the POLL_WAIT that explains that block, and must not decide it. */
Test(rt, uv_phases_tile_the_loop_and_poll_wait_explains_the_block)
{
    tg *g = new_trace();
    tg_thread(g, 0, 900, "weft-sampler");
    tg_thread(g, 1, 101, "loop");
    tg_batch_chunk(g, 0);
    tg_ev(g, US(0), WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, US(150), WEFT_EV_SCHED, 1, 3, WEFT_SWITCH_OUT);
    tg_ev(g, US(400), WEFT_EV_SCHED, 1, 3, WEFT_SWITCH_IN);
    tg_ev5(g, US(600), WEFT_EV_SCHEDSTAT, 1, 1000000, 20000, 7, 0);
    tg_batch_end(g);
    tg_batch_chunk(g, 1);
    tg_ev(g, US(5), WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, US(5), WEFT_EV_THREAD_START, 0, 0, 0);
    tg_ev(g, US(100), WEFT_EV_UV_LOOP, 0xAA, WEFT_UV_RUN, 95000);
    tg_ev5(g, US(450), WEFT_EV_IO, WEFT_IO_READ, 7, 5, 10000, 0x5000);
    tg_ev(g, US(500), WEFT_EV_UV_LOOP, 0xAA, WEFT_UV_POLL_IO, 100000);
    tg_ev(g, US(500), WEFT_EV_UV_LOOP, 0xAA, WEFT_UV_POLL_WAIT, 300000);
    tg_ev(g, US(520), WEFT_EV_UV_LOOP, 0xAA, WEFT_UV_POLL_WAIT, 5000); /* no POLL_IO before: a plain wait */
    tg_batch_end(g);
    got *o = run(g);
    cr_assert_eq(o->nuv, 4);
    const int64_t want[4][3] = {{WEFT_UV_RUN, 5, 100},
                                {WEFT_UV_POLL_IO, 400, 500},
                                {WEFT_UV_POLL_WAIT, 100, 400},
                                {WEFT_UV_POLL_WAIT, 515, 520}};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(o->uv[i].loop, 0xAA);
        cr_assert_eq((int64_t)o->uv[i].phase, want[i][0], "phase %d", i);
        cr_assert_eq(o->uv[i].start_ns, NS(want[i][1]), "phase %d start %lld", i, (long long)o->uv[i].start_ns);
        cr_assert_eq(o->uv[i].end_ns, NS(want[i][2]), "phase %d end %lld", i, (long long)o->uv[i].end_ns);
    }
    const want_state w[] = {
        {1, WV_RUNNING, 0, 0, 3, 5, 150},
        {1, WV_BLOCKED, WEFT_BLOCK_IO, 0, 3, 150, 400},
        {1, WV_RUNNING, 0, WV_RT_OPEN, 3, 400, 600},
    };
    check_states(o, w, 3);
    cr_assert_eq(o->nss, 1);
    cr_assert_eq(o->ss[0].thread, 1);
    cr_assert_eq(o->ss[0].run_ns, 1000000);
    cr_assert_eq(o->ss[0].wait_ns, 20000);
    cr_assert_eq(o->ss[0].slices, 7);
    cr_assert_eq(o->ss[0].ns, NS(600));
    tg_free(g);
}

/* A GC pause is process-wide: begun on one thread, ended on another; a
 * second begin while it is open and an end without one are ignored. */
Test(rt, a_gc_pause_may_end_on_another_thread)
{
    tg *g = tg_new(NULL);
    tg_string(g, 1, "full");
    tg_thread(g, 1, 101, "a");
    tg_thread(g, 2, 102, "b");
    tg_batch_chunk(g, 1);
    tg_ev(g, US(0), WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, US(10), WEFT_EV_GC_BEGIN, 1, 0, 0);
    tg_ev(g, US(15), WEFT_EV_GC_BEGIN, 0, 0, 0);
    tg_ev(g, US(50), WEFT_EV_GC_END, 0, 0, 0);
    tg_batch_end(g);
    tg_batch_chunk(g, 2);
    tg_ev(g, US(0), WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, US(30), WEFT_EV_GC_END, 0, 0, 0);
    tg_ev(g, US(60), WEFT_EV_GC_BEGIN, 0, 0, 0);
    tg_ev(g, US(90), WEFT_EV_COUNTER, 1, 1, 0);
    tg_batch_end(g);
    got *o = run(g);
    cr_assert_eq(o->npause, 2);
    cr_assert_eq(o->pause[0].thread, 1, "the thread that began it");
    cr_assert_eq(o->pause[0].name, 1);
    cr_assert_eq(o->pause[0].start_ns, NS(10));
    cr_assert_eq(o->pause[0].end_ns, NS(30));
    cr_assert_eq(o->pause[0].flags, 0);
    cr_assert_eq(o->pause[1].thread, 2);
    cr_assert_eq(o->pause[1].start_ns, NS(60));
    cr_assert_eq(o->pause[1].end_ns, NS(90), "still open at the end of the trace");
    cr_assert_eq(o->pause[1].flags, WV_RT_OPEN);
    tg_free(g);
}

/* ---- bounds and damage ------------------------------------------------------------------ */

/* A thread blocks 3000 times in calls it does not wrap and never writes an
 * event of its own: its spans are held up to the cap, then decided in order. */
Test(rt, held_spans_are_bounded_and_stay_in_order)
{
    tg *g = new_trace();
    tg_thread(g, 0, 900, "weft-sampler");
    tg_thread(g, 1, 101, "sleeper");
    tg_batch_chunk(g, 1);
    tg_ev(g, US(1), WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, US(1), WEFT_EV_THREAD_START, 0, 0, 0);
    tg_batch_end(g);
    tg_batch_chunk(g, 0);
    tg_ev(g, US(0), WEFT_EV_TIME_BASE, 0, 0, 0);
    for (int i = 0; i < 3000; i++) {
        tg_ev(g, US(10 + 10 * i), WEFT_EV_SCHED, 1, 0, WEFT_SWITCH_OUT);
        tg_ev(g, US(15 + 10 * i), WEFT_EV_SCHED, 1, 0, WEFT_SWITCH_IN);
    }
    tg_batch_end(g);
    got *o = run(g);
    /* Running from its start, then 3000 x (Blocked, Running); the last Running
     * begins at the last event, so it is empty and left out */
    cr_assert_eq(o->nst, 6000, "%zu spans", o->nst);
    cr_assert_gt(o->totals.forced, 0);
    for (size_t i = 1; i < o->nst; i++) {
        cr_assert_eq(o->st[i].start_ns, o->st[i - 1].end_ns, "span %zu follows the one before", i);
        if (o->st[i].state == WV_BLOCKED)
            cr_assert_eq(o->st[i].reason, WEFT_BLOCK_OTHER);
    }
    tg_free(g);
}

/* Any argument, small or huge, on random runtime events of random threads:
 * no crash (run under ASan+UBSan), and the model's promises hold: each
 * thread's spans and each CPU's spans are ordered and never overlap. */
Test(rt, random_runtime_events_never_break_the_model)
{
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    for (int round = 0; round < 20; round++) {
        tg *g = rt_random_trace(&rng, 5, 300);
        got *o = run(g);
        size_t n = o->nst < 8192 ? o->nst : 8192;
        for (size_t i = 0; i < n; i++) {
            cr_assert_leq(o->st[i].start_ns, o->st[i].end_ns);
            for (size_t j = i + 1; j < n; j++)
                if (o->st[j].thread == o->st[i].thread) {
                    cr_assert_geq(o->st[j].start_ns, o->st[i].end_ns, "round %d thread %u", round,
                                  o->st[i].thread);
                    break;
                }
        }
        size_t m = o->ncpu < 64 ? o->ncpu : 64;
        for (size_t i = 0; i < m; i++)
            for (size_t j = i + 1; j < m; j++)
                if (o->cpu[j].cpu == o->cpu[i].cpu)
                    cr_assert(o->cpu[j].start_ns >= o->cpu[i].end_ns || o->cpu[j].end_ns <= o->cpu[i].start_ns,
                              "round %d cpu %u", round, o->cpu[i].cpu);
        tg_free(g);
    }
}
