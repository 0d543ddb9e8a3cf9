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
 */
#include <stdio.h>
#include <stdlib.h>

#include "tracegen.h"

#define PER_BATCH 2500

typedef struct gthread {
    uint64_t ticks, chunk_bytes, task, rng;
    uint64_t handoff, handoff_at; /* a task handed over by the previous thread */
} gthread;

static uint64_t batch_bytes_guess(void) { return PER_BATCH * 8u; }

static double scale = 1.0; /* ticks per unit of the request's nominal deltas */

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

/* One request of thread i: 11 to 13 events. A task handed over by the
 * previous thread is worked on in a region here (a flow) and ended here. */
static uint64_t request(tg *g, gthread *t, gthread *next, uint32_t i, uint64_t n)
{
    uint64_t id = (uint64_t)(i + 1) << 40 | ++t->task, k = 11;
    uint64_t took = t->handoff && t->ticks > t->handoff_at ? t->handoff : 0;
    tg_ev(g, t->ticks += dt(t, 40), WEFT_EV_TASK_BEGIN, id, 0, 1);
    tg_ev(g, t->ticks += dt(t, 30), WEFT_EV_REGION_BEGIN, id, 2, 0);
    tg_ev(g, t->ticks += dt(t, 25), WEFT_EV_REGION_BEGIN, id, 3, 0);
    tg_ev(g, t->ticks += dt(t, 20), WEFT_EV_COUNTER, 5, (uint64_t)(n % 64), 0);
    tg_ev(g, t->ticks += dt(t, 90), WEFT_EV_REGION_END, 0, 0, 0);
    tg_ev_b(g, t->ticks += dt(t, 15), WEFT_EV_LOG, id, 4, "GET /item/12345", 15);
    tg_ev(g, t->ticks += dt(t, 35), WEFT_EV_REGION_BEGIN, took ? took : id, 6, 0);
    tg_ev(g, t->ticks += dt(t, 10), WEFT_EV_REGION_BEGIN, took ? took : id, 7, 0);
    tg_ev(g, t->ticks += dt(t, n % 500 == 7 ? 5000 : 100), WEFT_EV_REGION_END, 0, 0, 0);
    tg_ev(g, t->ticks += dt(t, 10), WEFT_EV_REGION_END, 0, 0, 0);
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
        fprintf(stderr, "usage: weft_gentrace OUT [EVENTS [THREADS [SECONDS]]]\n");
        return 2;
    }
    uint64_t events = argc > 2 ? strtoull(argv[2], NULL, 10) : 10000000ull;
    uint32_t nthreads = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 4;
    if (nthreads < 1 || nthreads > 64)
        nthreads = 4;
    double seconds = argc > 4 ? strtod(argv[4], NULL) : 5.0;
    /* a request's nominal deltas sum to about 410 ticks (1 ns each) */
    double per_thread = (double)events / nthreads / 12.0;
    if (seconds > 0 && per_thread > 0 && seconds * 1e9 / per_thread > 410.0)
        scale = seconds * 1e9 / per_thread / 410.0;
    tg *g = tg_new(NULL);
    const char *names[] = {"", "request", "handle", "parse", "http", "queue", "db", "query"};
    for (int s = 1; s <= 7; s++)
        tg_string(g, (uint64_t)s, names[s]);
    gthread *th = calloc(nthreads, sizeof *th);
    for (uint32_t i = 0; i < nthreads; i++) {
        char name[32];
        snprintf(name, sizeof name, "worker-%u", i);
        tg_thread(g, i, 1000 + i, name);
        th[i].ticks = 1000000;
        th[i].rng = 0x9e3779b97f4a7c15ull * (i + 1);
    }
    uint64_t written = 0, n = 0;
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
                tg_batch_chunk(g, i);
                tg_ev(g, t->ticks, WEFT_EV_TIME_BASE, 0, 0, 0);
                t->chunk_bytes = 0;
                written++;
            } else {
                tg_batch(g, i);
            }
            for (int k = 0; k < PER_BATCH / 10 && written < events; k++, n++)
                written += request(g, t, &th[(i + 1) % nthreads], i, n);
            t->chunk_bytes += batch_bytes_guess();
            tg_batch_end(g);
        }
        tg_frame(g);
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
