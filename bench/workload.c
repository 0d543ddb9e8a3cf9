/*
 * workload.c - the recordings the size, sustained-rate, memory and json
 * figures are made from.
 *
 * The mix imitates a small server: a "frontend" thread begins a task per
 * request, accepts it and logs the request line, then hands the task to a
 * "worker" thread through a bounded queue; the worker handles it in nested
 * regions (handle > parse, query > db.read), logs now and then, updates a
 * counter and ends the task - so tasks span threads, regions nest, and logs
 * and counters are interleaved. Between events each thread "works" for a
 * log-uniform 0.2-50 us (by default), because the size of a time delta, and
 * so the size of the file, depends on the gaps a real program leaves; a
 * tight loop would flatter it. With no gaps the same mix generates the large
 * trace that the json figure converts.
 *
 * The sustained figure runs in a fresh child process (weft-bench --child
 * sustained ...), one per run, so that the recorder memory it reports is
 * this recording's alone and no earlier figure's buffers are counted.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "weft.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MIX_QUEUE 64 /* requests in flight between the two threads */

typedef struct mix_queue {
    pthread_mutex_t mu;
    pthread_cond_t changed;
    weft_task slot[MIX_QUEUE];
    unsigned head, tail; /* head - tail = requests queued */
    bool closed;
} mix_queue;

typedef struct mix_run {
    const bench_mix *cfg;
    mix_queue q;
    uint64_t deadline_ns;
} mix_run;

static void queue_push(mix_queue *q, weft_task t)
{
    pthread_mutex_lock(&q->mu);
    while (q->head - q->tail == MIX_QUEUE)
        pthread_cond_wait(&q->changed, &q->mu);
    q->slot[q->head++ % MIX_QUEUE] = t;
    pthread_cond_broadcast(&q->changed);
    pthread_mutex_unlock(&q->mu);
}

/* Returns false once the queue is closed and empty; *depth is what was left. */
static bool queue_pop(mix_queue *q, weft_task *t, unsigned *depth)
{
    pthread_mutex_lock(&q->mu);
    while (q->head == q->tail && !q->closed)
        pthread_cond_wait(&q->changed, &q->mu);
    bool got = q->head != q->tail;
    if (got) {
        *t = q->slot[q->tail++ % MIX_QUEUE];
        *depth = q->head - q->tail;
        pthread_cond_broadcast(&q->changed);
    }
    pthread_mutex_unlock(&q->mu);
    return got;
}

static void queue_close(mix_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_cond_broadcast(&q->changed);
    pthread_mutex_unlock(&q->mu);
}

/* The work between two events; none when the mix runs without gaps. */
static void gap(const bench_mix *c, uint64_t *rng)
{
    if (c->gap_hi_ns > 0)
        bench_spin_ns(bench_gap_ns(rng, c->gap_lo_ns, c->gap_hi_ns));
}

static const char *const request_lines[] = {
    "GET /api/items?page=2", "POST /api/orders", "GET /static/app.js", "GET /healthz",
};

static void *mix_frontend(void *arg)
{
    mix_run *m = arg;
    const bench_mix *c = m->cfg;
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    weft_thread_name("frontend");
    for (uint64_t n = 1; n <= c->max_requests && bench_now_ns() < m->deadline_ns; n++) {
        weft_task task = weft_task_begin(0, "request");
        gap(c, &rng);
        WEFT_REGION(task, "accept") {
            gap(c, &rng);
            weft_log(task, "http", request_lines[bench_rand(&rng) % 4]);
            gap(c, &rng);
        }
        weft_counter("requests", (int64_t)n);
        queue_push(&m->q, task);
        gap(c, &rng);
    }
    queue_close(&m->q);
    return NULL;
}

static void *mix_worker(void *arg)
{
    mix_run *m = arg;
    const bench_mix *c = m->cfg;
    uint64_t rng = 0xD1B54A32D192ED03ull;
    weft_thread_name("worker");
    weft_task task;
    unsigned depth;
    while (queue_pop(&m->q, &task, &depth)) {
        WEFT_REGION(task, "handle") {
            gap(c, &rng);
            WEFT_REGION(task, "parse") gap(c, &rng);
            gap(c, &rng);
            WEFT_REGION(task, "query") {
                gap(c, &rng);
                WEFT_REGION(task, "db.read") gap(c, &rng);
                uint64_t r = bench_rand(&rng);
                if (r % 4 == 0)
                    weft_logf(task, "db", "query returned %u rows", (unsigned)(r >> 40) % 500);
                gap(c, &rng);
            }
            weft_counter("queue_depth", depth);
            gap(c, &rng);
        }
        weft_task_end(task);
        gap(c, &rng);
    }
    return NULL;
}

int bench_mix_record(const char *path, const bench_mix *cfg, bench_trace *tr, double *elapsed_s,
                     char *err, size_t cap)
{
    mix_run m = {.cfg = cfg};
    pthread_mutex_init(&m.q.mu, NULL);
    pthread_cond_init(&m.q.changed, NULL);
    if (bench_record_start(path, cfg->buffer_bytes, err, cap) != 0)
        return -1;
    uint64_t t0 = bench_now_ns();
    m.deadline_ns = cfg->seconds > 0 ? t0 + (uint64_t)(cfg->seconds * 1e9) : UINT64_MAX;
    pthread_t fe, wk;
    pthread_create(&wk, NULL, mix_worker, &m);
    pthread_create(&fe, NULL, mix_frontend, &m);
    pthread_join(fe, NULL);
    pthread_join(wk, NULL);
    *elapsed_s = (double)(bench_now_ns() - t0) / 1e9;
    pthread_cond_destroy(&m.q.changed);
    pthread_mutex_destroy(&m.q.mu);
    return bench_record_finish(path, tr, err, cap);
}

/* ---- sustained rate, in a child process ----------------------------------- */

int bench_sustained_child(const char *path, double seconds, double rate)
{
    char err[512];
    bench_trace tr;
    long hwm_before = bench_vmhwm_kib();
    /* The default configuration: only the path is set (a zeroed struct). */
    if (bench_record_start(path, 0, err, sizeof err) != 0) {
        printf("error %s\n", err);
        return 1;
    }
    bench_region_loop(1); /* register before the clock starts */
    /* Flat out, the clock is read every 4096 pairs (~100 us); paced, every
     * 64 pairs, then the thread waits until it is back on schedule. */
    uint64_t batch = rate > 0 ? 64 : 4096, offered = 0;
    uint64_t t0 = bench_now_ns(), limit = (uint64_t)(seconds * 1e9), el;
    do {
        bench_region_loop(batch);
        offered += 2 * batch;
        el = bench_now_ns() - t0;
        while (rate > 0 && (double)offered > (double)el * rate * 1e-9)
            el = bench_now_ns() - t0;
    } while (el < limit);
    if (bench_record_finish(path, &tr, err, sizeof err) != 0) {
        printf("error %s\n", err);
        return 1;
    }
    printf("ok events=%llu dropped=%llu seconds=%.6f memory_bytes=%llu hwm_before_kib=%ld "
           "hwm_kib=%ld cap_bytes=%llu\n",
           (unsigned long long)tr.events, (unsigned long long)tr.dropped, (double)el / 1e9,
           (unsigned long long)tr.memory_bytes, hwm_before, bench_vmhwm_kib(),
           (unsigned long long)(tr.chunks_per_thread * tr.chunk_bytes));
    return 0;
}

int bench_sustained_parse(const char *out, bench_sustained *s)
{
    const char *p = strstr(out, "ok events=");
    unsigned long long ev, dr, mem, capb;
    if (!p || sscanf(p, "ok events=%llu dropped=%llu seconds=%lf memory_bytes=%llu "
                        "hwm_before_kib=%ld hwm_kib=%ld cap_bytes=%llu",
                     &ev, &dr, &s->seconds, &mem, &s->hwm_before_kib, &s->hwm_kib, &capb) != 7)
        return -1;
    s->events = ev, s->dropped = dr, s->memory_bytes = mem, s->cap_bytes = capb;
    return 0;
}
