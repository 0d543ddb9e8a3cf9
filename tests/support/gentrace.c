/*
 * gentrace.c - writes a large synthetic .weft file with tracegen, for
 * measuring `weft json` / `weft stats` speed and memory without running the
 * recorder: `weft_gentrace OUT [EVENTS [THREADS [SECONDS]]]` (default 10 M
 * events, 4 threads, 5 s).
 *
 * Shape: every thread repeats a request of about 12 events (task begin,
 * regions nested three deep, a counter, a log, task end); every fourth task
 * is finished by the next thread, so flows appear. Durations are spread
 * over SECONDS with +-50 % jitter, and one `db` region in 500 is 50 times
 * slower, so timelines and latency views have the varied widths and long
 * tails of a real service. One frame per cycle of 2500 events per
 * thread, with a CLOCK sample first, as the recorder writes them; chunks
 * roll over at 64 KiB like the recorder's.
 *
 * With a fifth argument `rt`, the trace also has runtime events, as a
 * recording with context switches has them (for the viewer's state, CPU,
 * wait and pause views; the total stays EVENTS): each `query` region is a
 * read that blocks (the thread switches out and back in around it), one
 * request in 8 waits for a mutex the previous thread releases, one in 16 is
 * preempted, one in 200 has a slow malloc, worker-0 runs a 200 us GC every
 * ~10 ms and the heap is sampled every ms. Scheduler events and heap
 * samples go on the system stream (index 0; the workers are 1..THREADS),
 * written in time order up to the slowest thread's clock at each cycle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracegen.h"

#define PER_BATCH 2500
#define NCPUS 4
#define LOCK_ADDR 0x7f0000001000ull
#define SITE_READ 0x401234ull
#define SITE_LOCK 0x401567ull
#define SITE_MALLOC 0x4019abull

typedef struct gthread {
    uint64_t ticks, chunk_bytes, task, rng;
    uint64_t handoff, handoff_at; /* a task handed over by the previous thread */
    uint64_t index;               /* its thread index */
    uint64_t next_gc;             /* rt: when worker-0 collects next */
} gthread;

static uint64_t batch_bytes_guess(void) { return PER_BATCH * 8u; }

static double scale = 1.0; /* ticks per unit of the request's nominal deltas */

/* rt: system-stream events waiting for every thread's clock to pass them. */
typedef struct sys_ev {
    uint64_t ticks, code, a0, a1, a2;
} sys_ev;

static struct {
    int on;
    sys_ev *v;
    size_t n, cap;
    uint64_t next_heap, heap;
} rt;

static void sys_push(uint64_t ticks, uint64_t code, uint64_t a0, uint64_t a1, uint64_t a2)
{
    if (rt.n == rt.cap) {
        rt.cap = rt.cap ? 2 * rt.cap : 4096;
        rt.v = realloc(rt.v, rt.cap * sizeof *rt.v);
        if (!rt.v)
            abort();
    }
    rt.v[rt.n++] = (sys_ev){ticks, code, a0, a1, a2};
}

static int by_ticks(const void *a, const void *b)
{
    const sys_ev *x = a, *y = b;
    return x->ticks < y->ticks ? -1 : x->ticks > y->ticks;
}

/* Writes the system events up to `upto` (sorted: one stream's times never go
 * back) in a batch of the system stream; returns the events written. */
static uint64_t sys_flush(tg *g, uint64_t upto, uint64_t *chunk_bytes)
{
    for (; rt.next_heap <= upto; rt.next_heap += 1000000) { /* samples count when written */
        rt.heap += 4096 * (rt.next_heap / 1000000 % 7) + 1024;
        sys_push(rt.next_heap, WEFT_EV_HEAP, WEFT_HEAP_MALLOC, rt.heap, 0);
    }
    qsort(rt.v, rt.n, sizeof *rt.v, by_ticks);
    size_t k = 0;
    while (k < rt.n && rt.v[k].ticks <= upto)
        k++;
    if (!k)
        return 0;
    uint64_t written = k;
    for (size_t from = 0; from < k; from += PER_BATCH) { /* a batch fits in a chunk */
        size_t to = from + PER_BATCH < k ? from + PER_BATCH : k;
        if (*chunk_bytes == 0 || *chunk_bytes + batch_bytes_guess() > WEFT_CHUNK_BYTES) {
            tg_batch_chunk(g, 0);
            tg_ev(g, rt.v[from].ticks, WEFT_EV_TIME_BASE, 0, 0, 0);
            *chunk_bytes = 0;
            written++;
        } else {
            tg_batch(g, 0);
        }
        for (size_t i = from; i < to; i++)
            tg_ev(g, rt.v[i].ticks, (unsigned)rt.v[i].code, rt.v[i].a0, rt.v[i].a1, rt.v[i].a2);
        *chunk_bytes += batch_bytes_guess();
        tg_batch_end(g);
    }
    memmove(rt.v, rt.v + k, (rt.n - k) * sizeof *rt.v);
    rt.n -= k;
    return written;
}

/* The thread is switched out from `out` to `in` (a wait, or preempted). */
static void sys_switch(const gthread *t, uint64_t out, uint64_t in, int preempted)
{
    uint64_t cpu = t->index % NCPUS;
    sys_push(out, WEFT_EV_SCHED, t->index, cpu, preempted ? WEFT_SWITCH_PREEMPTED : WEFT_SWITCH_OUT);
    sys_push(in, WEFT_EV_SCHED, t->index, cpu, WEFT_SWITCH_IN);
}


/* A nominal delta scaled to the requested duration, with +-50 % jitter
 * (xorshift64 per thread, so the output is reproducible). */
static uint64_t dt(gthread *t, uint64_t nominal)
{
    t->rng ^= t->rng << 13;
    t->rng ^= t->rng >> 7;
    t->rng ^= t->rng << 17;
    double j = 0.5 + (double)(t->rng % 1024) / 1024.0;
    uint64_t v = (uint64_t)((double)nominal * scale * j);
    return v ? v : 1;
}

/* rt: before `parse`, one request in 8 waits for the mutex (released by
 * the previous thread at the end of its handle regions), one in 16 is
 * preempted, one in 200 has a slow malloc; returns the events written. */
static uint64_t rt_before_parse(tg *g, gthread *t, uint64_t n, uint64_t holder)
{
    uint64_t k = 0;
    if (n % 8 == 3) {
        uint64_t from = t->ticks + 2, wait = dt(t, 60);
        sys_switch(t, from, from + wait, 0);
        tg_ev5(g, t->ticks = from + wait + 2, WEFT_EV_LOCK_WAIT, WEFT_LOCK_MUTEX, LOCK_ADDR, SITE_LOCK,
               wait + 2, holder);
        k++; /* the switches count when the system stream is written */
    }
    if (n % 16 == 9) {
        uint64_t from = t->ticks + 3;
        sys_switch(t, from, t->ticks = from + dt(t, 40), 1);
    }
    if (n % 200 == 77) {
        uint64_t took = dt(t, 30);
        tg_ev5(g, t->ticks += took, WEFT_EV_ALLOC_PAUSE, WEFT_ALLOC_MALLOC, 65536, took, SITE_MALLOC, 0);
        k++;
    }
    if (t->index == 1 && t->ticks >= t->next_gc) {
        tg_ev(g, t->ticks += 1, WEFT_EV_GC_BEGIN, 8, 0, 0);
        tg_ev(g, t->ticks += 150000 + dt(t, 1000), WEFT_EV_GC_END, 0, 0, 0);
        t->next_gc = t->ticks + 10000000;
        k += 2;
    }
    return k;
}

/* One request of thread i: 11 to 13 events (more with rt). A task handed
 * over by the previous thread is worked on in a region here (a flow) and
 * ended here. */
static uint64_t request(tg *g, gthread *t, gthread *next, uint32_t i, uint64_t n)
{
    uint64_t id = (uint64_t)(i + 1) << 40 | ++t->task, k = 11;
    uint64_t took = t->handoff && t->ticks > t->handoff_at ? t->handoff : 0;
    tg_ev(g, t->ticks += dt(t, 40), WEFT_EV_TASK_BEGIN, id, 0, 1);
    tg_ev(g, t->ticks += dt(t, 30), WEFT_EV_REGION_BEGIN, id, 2, 0);
    if (rt.on)
        k += rt_before_parse(g, t, n, t == next ? 0 : next->index);
    tg_ev(g, t->ticks += dt(t, 25), WEFT_EV_REGION_BEGIN, id, 3, 0);
    tg_ev(g, t->ticks += dt(t, 20), WEFT_EV_COUNTER, 5, (uint64_t)(n % 64), 0);
    tg_ev(g, t->ticks += dt(t, 90), WEFT_EV_REGION_END, 0, 0, 0);
    tg_ev_b(g, t->ticks += dt(t, 15), WEFT_EV_LOG, id, 4, "GET /item/12345", 15);
    tg_ev(g, t->ticks += dt(t, 35), WEFT_EV_REGION_BEGIN, took ? took : id, 6, 0);
    tg_ev(g, t->ticks += dt(t, 10), WEFT_EV_REGION_BEGIN, took ? took : id, 7, 0);
    if (rt.on) { /* the query blocks in a read */
        uint64_t from = t->ticks + 1, wait = dt(t, n % 500 == 7 ? 5000 : 100);
        sys_switch(t, from + 1, from + wait - 1, 0);
        tg_ev5(g, t->ticks = from + wait, WEFT_EV_IO, WEFT_IO_READ, 7, 512, wait, SITE_READ);
        k++;
    }
    tg_ev(g, t->ticks += dt(t, n % 500 == 7 && !rt.on ? 5000 : 100), WEFT_EV_REGION_END, 0, 0, 0);
    tg_ev(g, t->ticks += dt(t, 10), WEFT_EV_REGION_END, 0, 0, 0);
    if (rt.on && n % 8 == 2) { /* the previous thread waits for this release */
        tg_ev(g, t->ticks += 1, WEFT_EV_LOCK_RELEASE, LOCK_ADDR, 0, 0);
        k++;
    }
    if (took) {
        tg_ev(g, t->ticks += dt(t, 5), WEFT_EV_TASK_END, took, 0, 0);
        t->handoff = 0;
        k++;
    }
    tg_ev(g, t->ticks += dt(t, 10), WEFT_EV_REGION_END, 0, 0, 0);
    if (n % 4 == 0 && next != t && !next->handoff) {
        next->handoff = id;
        next->handoff_at = t->ticks;
    } else {
        tg_ev(g, t->ticks += 5, WEFT_EV_TASK_END, id, 0, 0);
        k++;
    }
    return k;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: weft_gentrace OUT [EVENTS [THREADS [SECONDS [rt]]]]\n");
        return 2;
    }
    rt.on = argc > 5 && !strcmp(argv[5], "rt");
    uint64_t events = argc > 2 ? strtoull(argv[2], NULL, 10) : 10000000ull;
    uint32_t nthreads = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 4;
    if (nthreads < 1 || nthreads > 64)
        nthreads = 4;
    double seconds = argc > 4 ? strtod(argv[4], NULL) : 5.0;
    /* a request's nominal deltas sum to about 410 ticks (1 ns each); with rt
     * it has about 16 events and waits 120 more */
    double per_thread = (double)events / nthreads / (rt.on ? 16.0 : 12.0);
    double nominal = rt.on ? 530.0 : 410.0;
    if (seconds > 0 && per_thread > 0 && seconds * 1e9 / per_thread > nominal)
        scale = seconds * 1e9 / per_thread / nominal;
    tg_opts o = tg_defaults();
    if (rt.on)
        o.sched_source = WEFT_SCHED_SRC_PERF;
    tg *g = tg_new(&o);
    const char *names[] = {"", "request", "handle", "parse", "http", "queue", "db", "query", "mark"};
    for (int s = 1; s <= 8; s++)
        tg_string(g, (uint64_t)s, names[s]);
    gthread *th = calloc(nthreads, sizeof *th);
    if (rt.on)
        tg_thread(g, 0, 999, "weft-sampler");
    for (uint32_t i = 0; i < nthreads; i++) {
        char name[32];
        snprintf(name, sizeof name, "worker-%u", i);
        th[i].index = i + (rt.on ? 1 : 0);
        tg_thread(g, th[i].index, 1000 + i, name);
        th[i].ticks = 1000000;
        th[i].rng = 0x9e3779b97f4a7c15ull * (i + 1);
        th[i].next_gc = 1000000 + 5000000;
    }
    rt.next_heap = 1000000;
    uint64_t written = 0, n = 0, sys_bytes = 0;
    while (written < events) {
        uint64_t now = 0;
        for (uint32_t i = 0; i < nthreads; i++)
            now = th[i].ticks > now ? th[i].ticks : now;
        uint64_t ahead = (uint64_t)(PER_BATCH * 40 * scale);
        tg_clock(g, now + ahead, now + ahead, 0);
        for (uint32_t i = 0; i < nthreads && written < events; i++) {
            gthread *t = &th[i];
            int chunk = t->chunk_bytes == 0 || t->chunk_bytes + batch_bytes_guess() > WEFT_CHUNK_BYTES;
            if (chunk) {
                tg_batch_chunk(g, t->index);
                tg_ev(g, t->ticks, WEFT_EV_TIME_BASE, 0, 0, 0);
                t->chunk_bytes = 0;
                written++;
            } else {
                tg_batch(g, t->index);
            }
            for (int k = 0; k < PER_BATCH / 10 && written < events; k++, n++)
                written += request(g, t, &th[(i + 1) % nthreads], i, n);
            t->chunk_bytes += batch_bytes_guess();
            tg_batch_end(g);
        }
        if (rt.on) { /* up to the slowest thread: no later event of any thread is earlier */
            uint64_t upto = UINT64_MAX;
            for (uint32_t i = 0; i < nthreads; i++)
                upto = th[i].ticks < upto ? th[i].ticks : upto;
            written += sys_flush(g, upto, &sys_bytes);
        }
        tg_frame(g);
    }
    if (rt.on) {
        uint64_t upto = 0;
        for (uint32_t i = 0; i < nthreads; i++)
            upto = th[i].ticks > upto ? th[i].ticks : upto;
        written += sys_flush(g, upto, &sys_bytes);
        tg_frame(g);
        free(rt.v);
    }
    tg_end(g, WEFT_END_STOP, written, 0, 1u << 22);
    int rc = tg_write(g, argv[1]);
    size_t len;
    tg_bytes(g, &len);
    printf("%s: %llu events, %zu bytes (%.2f bytes/event)\n", argv[1], (unsigned long long)written,
           len, (double)len / (double)written);
    tg_free(g);
    free(th);
    return rc ? 1 : 0;
}
