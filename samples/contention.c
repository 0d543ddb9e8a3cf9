/*
 * contention.c - lock contention, and its fix, as weft's lock waits show them.
 *
 * 100 threads each add to one shared counter. Every increment takes the
 * counter's mutex and keeps it about 1 ms: the new value is "journaled" under
 * the lock (a 1 ms sleep stands in for a synchronous write), the way a
 * sequence number often is. One mutex serialises the whole program: at any
 * moment one thread sleeps with the lock and 99 wait for it.
 *
 *   default      one counter, one mutex. The trace shows each thread's
 *                "increment" region made almost entirely of a lock wait
 *                ("lock: pthread_mutex_lock"), each wait with the thread that
 *                released the mutex to it as its holder; `weft stats` ranks
 *                the lock site first by total wait.
 *   --sharded    the fix: K shards (default 16), each a counter with its own
 *                mutex; thread i uses shard i % K and the shards are summed at
 *                the end. Each mutex now has 100/K threads instead of 100, so
 *                total lock wait falls by about K times and throughput rises
 *                by about K times for the same work.
 *
 * Every thread does the same number of increments (-n) in both modes, so the
 * two traces compare directly: total lock wait, increments per second and
 * wall time, all printed by `weft stats` and by this program.
 *
 * Usage: contention [--sharded] [-o FILE] [-t THREADS] [-n INCREMENTS]
 *                   [-k SHARDS] [-s SECONDS]
 *   defaults: contention.weft, 100 threads, 20 increments each, 16 shards;
 *   -s stops the threads early after SECONDS (default 10) if they are not done.
 * Record and view:
 *   build/samples/contention -o one.weft && build/samples/contention --sharded -o sharded.weft
 *   build/viewer/weft stats one.weft; build/viewer/weft stats sharded.weft
 *   build/viewer/weft serve one.weft sharded.weft
 * With WEFT_OUT set, recording already started before main() and -o is
 * ignored.
 */
#include "sample.h"

#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_THREADS 1000

/* One counter and its lock, alone on its cache lines so that shards do not
 * slow each other down by false sharing. */
typedef struct shard {
    pthread_mutex_t mu;
    uint64_t value;
} __attribute__((aligned(64))) shard;

static shard *shards;
static int nshards = 1;
static int increments = 20;
static double deadline; /* CLOCK_MONOTONIC seconds after which threads stop */
static atomic_ulong done_total;
/* Every thread starts adding at once, so both modes are measured under full
 * contention rather than while threads are still being created. */
static pthread_barrier_t start_line;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The critical section: bump the value and journal it before letting go of
 * the lock, so that no other thread can see a value that is not yet durable.
 * The 1 ms sleep is what makes this lock expensive; it is recorded too, so
 * the holder's thread shows what it was doing while others waited. */
static void increment(shard *s)
{
    weft_mutex_lock(&s->mu);
    s->value++;
    struct timespec journal = {0, 1000000};
    weft_nanosleep(&journal, NULL);
    weft_mutex_unlock(&s->mu);
}

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    char name[16];
    snprintf(name, sizeof name, "adder-%d", id);
    weft_thread_name(name);
    shard *s = &shards[id % nshards];
    pthread_barrier_wait(&start_line);
    for (int i = 0; i < increments && now() < deadline; i++) {
        WEFT_REGION(0, "increment") {
            increment(s);
        }
        atomic_fetch_add(&done_total, 1);
    }
    return NULL;
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--sharded] [-o FILE] [-t THREADS] [-n INCREMENTS] [-k SHARDS] [-s SECONDS]\n",
            argv0);
}

int main(int argc, char **argv)
{
    const char *out = "contention.weft";
    int nthreads = 100, sharded = 0, want_shards = 16;
    double seconds = 10;
    static const struct option longopts[] = {
        {"sharded", no_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "o:t:n:k:s:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'o': out = optarg; break;
        case 't': nthreads = atoi(optarg); break;
        case 'n': increments = atoi(optarg); break;
        case 'k': want_shards = atoi(optarg); break;
        case 's': seconds = atof(optarg); break;
        case 'S': sharded = 1; break;
        default: usage(argv[0]); return opt == 'h' ? 0 : 2;
        }
    }
    if (nthreads < 1 || nthreads > MAX_THREADS || increments < 1 || want_shards < 1 || seconds <= 0) {
        fprintf(stderr, "contention: need 1..%d threads, and positive increments, shards and seconds\n",
                MAX_THREADS);
        return 2;
    }
    nshards = sharded ? want_shards : 1;
    shards = aligned_alloc(64, sizeof *shards * (size_t)nshards);
    for (int i = 0; i < nshards; i++) {
        pthread_mutex_init(&shards[i].mu, NULL);
        shards[i].value = 0;
    }

    out = sample_start("contention", out);
    weft_thread_name("main");
    weft_logf(0, "mode", "%s: %d threads, %d increments each, %d shard(s)",
              sharded ? "sharded" : "one mutex", nthreads, increments, nshards);

    pthread_t *th = calloc((size_t)nthreads, sizeof *th);
    pthread_barrier_init(&start_line, NULL, (unsigned)nthreads + 1);
    for (int i = 0; i < nthreads; i++) {
        int rc = pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i);
        if (rc) {
            fprintf(stderr, "contention: thread %d: %s\n", i, strerror(rc));
            return 1;
        }
    }
    /* The barrier publishes the deadline to the threads. */
    double t0 = now();
    deadline = t0 + seconds;
    pthread_barrier_wait(&start_line);
    for (int i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    double wall = now() - t0;

    /* Combining the shards: every thread has been joined, so no lock is
     * needed to read them. */
    uint64_t total = 0;
    for (int i = 0; i < nshards; i++)
        total += shards[i].value;
    weft_counter("counter", (int64_t)total);
    weft_logf(0, "mode", "counter %llu after %.3f s", (unsigned long long)total, wall);

    sample_stop("contention");
    unsigned long done = atomic_load(&done_total);
    if (total != done) {
        fprintf(stderr, "contention: counter %llu, but %lu increments were made\n",
                (unsigned long long)total, done);
        return 1;
    }
    printf("contention: %s, %d threads x %d increments: counter %llu in %.3f s "
           "(%.0f increments/s), trace in %s\n",
           sharded ? "sharded" : "one mutex", nthreads, increments, (unsigned long long)total, wall,
           (double)total / wall, out);
    if (total < (uint64_t)nthreads * (uint64_t)increments)
        printf("contention: stopped after %.1f s (-s) before every increment was made\n", seconds);
    free(th);
    free(shards);
    return 0;
}
