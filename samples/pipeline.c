/*
 * pipeline.c - a producer/consumer pipeline that shows what weft records.
 *
 *   ingest-1, ingest-2  make requests: a task per request ("request"), a
 *                        region "generate" filling a payload of random size
 *   worker-1..3          a region "process" with nested "decode", "sort" and
 *                        "checksum"; every 16th request gets a child task
 *                        "audit"; unusually large requests are logged
 *   sink                 a region "persist", then ends the request's task
 *
 * Each request's task begins on an ingest thread, moves to a worker and ends
 * on the sink, so the trace shows tasks spanning three threads. Counters track
 * both queue depths and the number of completed requests.
 *
 * Usage: pipeline [-o FILE] [-s SECONDS]   (defaults: pipeline.weft, 3 s)
 * With WEFT_OUT set, recording already started before main() and -o is
 * ignored.
 */
#include "sample.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define QCAP 64
#define NINGEST 2
#define NWORKERS 3

typedef struct request {
    weft_task task;
    weft_task audit;  /* child task, 0 if none */
    uint32_t id;
    size_t n;         /* payload length, in uint32_t */
    uint32_t *data;
    uint64_t sum;
} request;

typedef struct queue {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    request *items[QCAP];
    unsigned head, len;
    int closed;
    const char *depth_name; /* counter for this queue's depth */
} queue;

static queue q_work = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
                       {0}, 0, 0, 0, "work_queue_depth"};
static queue q_sink = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
                       {0}, 0, 0, 0, "sink_queue_depth"};
static atomic_int stopping;
static atomic_uint next_id;
static atomic_ulong completed;

static void push(queue *q, request *r)
{
    pthread_mutex_lock(&q->mu);
    while (q->len == QCAP)
        pthread_cond_wait(&q->not_full, &q->mu);
    q->items[(q->head + q->len++) % QCAP] = r;
    weft_counter(q->depth_name, q->len);
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
}

/* Returns NULL once the queue is closed and empty. */
static request *pop(queue *q)
{
    pthread_mutex_lock(&q->mu);
    while (q->len == 0 && !q->closed)
        pthread_cond_wait(&q->not_empty, &q->mu);
    request *r = NULL;
    if (q->len) {
        r = q->items[q->head];
        q->head = (q->head + 1) % QCAP;
        q->len--;
        weft_counter(q->depth_name, q->len);
        pthread_cond_signal(&q->not_full);
    }
    pthread_mutex_unlock(&q->mu);
    return r;
}

static void close_queue(queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
}

static uint32_t xorshift(uint32_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 17, *s ^= *s << 5;
    return *s;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static void *ingest(void *arg)
{
    char name[16];
    snprintf(name, sizeof name, "ingest-%d", (int)(intptr_t)arg);
    weft_thread_name(name);
    uint32_t seed = 0x9E3779B9u * (uint32_t)((intptr_t)arg + 1);
    while (!atomic_load(&stopping)) {
        request *r = calloc(1, sizeof *r);
        r->id = atomic_fetch_add(&next_id, 1);
        r->task = weft_task_begin(0, "request");
        WEFT_REGION(r->task, "generate") {
            /* Mostly small payloads with an occasional large one: the slow
             * requests a user would hunt for. */
            r->n = 256 + xorshift(&seed) % 2048;
            if (xorshift(&seed) % 50 == 0)
                r->n *= 40;
            r->data = malloc(r->n * sizeof *r->data);
            for (size_t i = 0; i < r->n; i++)
                r->data[i] = xorshift(&seed);
        }
        push(&q_work, r);
        struct timespec pause = {0, 100000 + xorshift(&seed) % 200000};
        nanosleep(&pause, NULL);
    }
    return NULL;
}

static void process(request *r)
{
    WEFT_REGION(r->task, "process") {
        WEFT_REGION(r->task, "decode") {
            for (size_t i = 0; i < r->n; i++)
                r->data[i] = (r->data[i] >> 3) ^ (r->data[i] << 7);
        }
        if (r->n > 10000)
            weft_logf(r->task, "slow", "request %u has a large payload: %zu words", r->id, r->n);
        WEFT_REGION(r->task, "sort") {
            qsort(r->data, r->n, sizeof *r->data, cmp_u32);
        }
        if (r->id % 16 == 0) {
            r->audit = weft_task_begin(r->task, "audit");
            weft_log(r->audit, "audit", "sampled for audit");
        }
        WEFT_REGION(r->task, "checksum") {
            uint64_t h = 1469598103934665603ull;
            for (size_t i = 0; i < r->n; i++)
                h = (h ^ r->data[i]) * 1099511628211ull;
            r->sum = h;
        }
    }
}

static void *worker(void *arg)
{
    char name[16];
    snprintf(name, sizeof name, "worker-%d", (int)(intptr_t)arg);
    weft_thread_name(name);
    request *r;
    while ((r = pop(&q_work)))
        process(r), push(&q_sink, r);
    return NULL;
}

static void *sink(void *arg)
{
    (void)arg;
    weft_thread_name("sink");
    request *r;
    uint64_t digest = 0;
    while ((r = pop(&q_sink))) {
        WEFT_REGION(r->task, "persist") {
            digest ^= r->sum;
            struct timespec io = {0, 20000}; /* stands in for a write */
            nanosleep(&io, NULL);
        }
        if (r->audit) {
            weft_log(r->audit, "audit", "checksum verified");
            weft_task_end(r->audit);
        }
        weft_task_end(r->task);
        weft_counter("completed", (int64_t)atomic_fetch_add(&completed, 1) + 1);
        free(r->data);
        free(r);
    }
    printf("pipeline: digest %016llx\n", (unsigned long long)digest);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *out = "pipeline.weft";
    double seconds = 3;
    int opt;
    while ((opt = getopt(argc, argv, "o:s:h")) != -1) {
        if (opt == 'o')
            out = optarg;
        else if (opt == 's')
            seconds = atof(optarg);
        else {
            fprintf(stderr, "usage: %s [-o FILE] [-s SECONDS]\n", argv[0]);
            return opt == 'h' ? 0 : 2;
        }
    }
    out = sample_start("pipeline", out);
    weft_thread_name("main");
    pthread_t in[NINGEST], wk[NWORKERS], sk;
    for (intptr_t i = 0; i < NINGEST; i++)
        pthread_create(&in[i], NULL, ingest, (void *)(i + 1));
    for (intptr_t i = 0; i < NWORKERS; i++)
        pthread_create(&wk[i], NULL, worker, (void *)(i + 1));
    pthread_create(&sk, NULL, sink, NULL);

    weft_log(0, "main", "pipeline running");
    struct timespec run = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
    nanosleep(&run, NULL);
    atomic_store(&stopping, 1);
    for (int i = 0; i < NINGEST; i++)
        pthread_join(in[i], NULL);
    close_queue(&q_work);
    for (int i = 0; i < NWORKERS; i++)
        pthread_join(wk[i], NULL);
    close_queue(&q_sink);
    pthread_join(sk, NULL);
    weft_log(0, "main", "pipeline drained");

    sample_stop("pipeline");
    printf("pipeline: %lu requests in %.1f s, trace in %s\n", (unsigned long)atomic_load(&completed),
           seconds, out);
    return 0;
}
