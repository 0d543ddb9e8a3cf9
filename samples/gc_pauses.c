/*
 * gc_pauses.c - real garbage-collector pauses in a trace: a program that
 * allocates with the Boehm-Demers-Weiser collector (Debian libgc-dev) and
 * marks each collection's stop-the-world pause with weft_gc_begin() and
 * weft_gc_end() from the collector's own event callback, and the heap in use
 * after each collection with weft_heap().
 *
 * The workload is a session store: each mutator thread keeps a hash map of
 * sessions, each session a key string and a linked history of events with
 * payloads. The threads keep replacing random sessions with new ones, so the
 * live graph stays about the same size (-m sessions per thread) while the
 * old ones become garbage, and the collector runs again and again, every
 * time marking the whole live graph with every mutator stopped.
 *
 * In the trace: a "GC / allocator" track with one "stop-the-world" slice per
 * collection, a "heap" counter that saw-tooths between collections, and the
 * mutators' "batch" regions stretched wherever a pause hit them. `weft stats`
 * gives the pause percentiles and the minimum mutator utilization at 1, 10
 * and 100 ms. The program prints its own count and total of the pauses,
 * measured in the same callback, to compare with.
 *
 * Usage: gc_pauses [-o FILE] [-s SECONDS] [-t THREADS] [-m SESSIONS]
 *   defaults: gc_pauses.weft, 3 s, 2 mutator threads, 5000 sessions each
 * Record and view:
 *   build/samples/gc_pauses -o gc.weft && build/viewer/weft stats gc.weft
 * With WEFT_OUT set, recording already started before main() and -o is
 * ignored.
 */
#include "sample.h"

/* Before gc.h: threads are created through GC_pthread_create, so that the
 * collector knows them, scans their stacks and stops them when it marks. */
#define GC_THREADS
#include <gc.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 16
#define BATCH 512 /* replacements per "batch" region */

typedef struct event {
    struct event *next;
    uint64_t at;
    char *payload; /* pointer-free: allocated with GC_MALLOC_ATOMIC */
    size_t len;
} event;

typedef struct session {
    struct session *next; /* hash chain */
    char *key;
    event *history;
    uint32_t nevents;
} session;

typedef struct store {
    session **buckets;
    size_t nbuckets;
    long replaced;
} store;

static long nsessions = 5000;
static double deadline_ns;

/* Collector callback state; the callback runs with the collector's lock held,
 * so these are never updated by two threads at once. */
static double pause_began_ns, pause_total_ms, pause_max_ms;
static long npauses;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/*
 * The collector calls this at each step of a collection. Which pair of
 * events is the pause? GC_EVENT_START..GC_EVENT_END spans the whole
 * collection on the collecting thread, including the part after the world
 * restarts (the reclaim setup and finalization bookkeeping of
 * GC_finish_collection), when the other threads already run again. GC_EVENT_PRE_STOP_WORLD..GC_EVENT_POST_START_WORLD is
 * exactly the interval in which the collector has, or is getting, every
 * registered thread suspended - the signal handshake that stops them, the
 * mark of the whole live graph, and the handshake that restarts them. That
 * is the time the mutators cannot run: the stop-the-world pause that Go's
 * trace shows and that minimum mutator utilization is computed from. Both
 * ends run with the world running (before the stop, after the restart), so
 * weft is never called while another thread is frozen mid-call.
 * The heap is read at GC_EVENT_END, once the collection has returned the
 * blocks it found empty: heap size minus free bytes is what is in use.
 */
static void on_collection_event(GC_EventType ev)
{
    switch (ev) {
    case GC_EVENT_PRE_STOP_WORLD:
        pause_began_ns = now_ns();
        weft_gc_begin("stop-the-world");
        break;
    case GC_EVENT_POST_START_WORLD: {
        weft_gc_end();
        double ms = (now_ns() - pause_began_ns) / 1e6;
        pause_total_ms += ms;
        if (ms > pause_max_ms)
            pause_max_ms = ms;
        npauses++;
        break;
    }
    case GC_EVENT_END:
        /* Unsynchronized getters, meant for use from this callback, which
         * holds the collector's lock. */
        weft_heap(GC_get_heap_size() - GC_get_free_bytes());
        break;
    default:
        break;
    }
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A new session: a key and 2..24 events with 16..256-byte payloads. */
static session *make_session(long id, uint64_t *rng)
{
    session *s = GC_MALLOC(sizeof *s);
    s->key = GC_MALLOC_ATOMIC(24);
    snprintf(s->key, 24, "session-%ld", id);
    s->nevents = 2 + (uint32_t)(splitmix(rng) % 23);
    for (uint32_t i = 0; i < s->nevents; i++) {
        event *e = GC_MALLOC(sizeof *e);
        e->len = 16 + splitmix(rng) % 241;
        e->payload = GC_MALLOC_ATOMIC(e->len);
        memset(e->payload, (int)(i & 0x7f), e->len);
        e->at = (uint64_t)now_ns();
        e->next = s->history;
        s->history = e;
    }
    return s;
}

static uint64_t hash_key(long id)
{
    uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

/* Replaces session `id` (or adds it): the old one becomes garbage. */
static void replace(store *st, long id, uint64_t *rng)
{
    session *fresh = make_session(id, rng);
    session **p = &st->buckets[hash_key(id) % st->nbuckets];
    char key[24];
    snprintf(key, sizeof key, "session-%ld", id);
    for (; *p; p = &(*p)->next) {
        if (strcmp((*p)->key, key) == 0) {
            fresh->next = (*p)->next;
            *p = fresh;
            st->replaced++;
            return;
        }
    }
    *p = fresh;
}

static void *mutator(void *arg)
{
    int id = (int)(intptr_t)arg;
    char name[16];
    snprintf(name, sizeof name, "mutator-%d", id);
    weft_thread_name(name);
    uint64_t rng = 0xC0FFEEull + (uint64_t)id;
    /* The store itself lives in collected memory and is reachable from this
     * thread's stack, which the collector scans. */
    store *st = GC_MALLOC(sizeof *st);
    st->nbuckets = (size_t)nsessions;
    st->buckets = GC_MALLOC(st->nbuckets * sizeof *st->buckets);
    WEFT_REGION(0, "populate") {
        for (long i = 0; i < nsessions; i++)
            replace(st, i, &rng);
    }
    while (now_ns() < deadline_ns) {
        WEFT_REGION(0, "batch") {
            for (int i = 0; i < BATCH; i++)
                replace(st, (long)(splitmix(&rng) % (uint64_t)nsessions), &rng);
        }
    }
    weft_logf(0, "store", "%ld sessions replaced", st->replaced);
    return (void *)(intptr_t)st->replaced;
}

int main(int argc, char **argv)
{
    const char *out = "gc_pauses.weft";
    double seconds = 3;
    int nthreads = 2, opt;
    while ((opt = getopt(argc, argv, "o:s:t:m:h")) != -1) {
        switch (opt) {
        case 'o': out = optarg; break;
        case 's': seconds = atof(optarg); break;
        case 't': nthreads = atoi(optarg); break;
        case 'm': nsessions = atol(optarg); break;
        default:
            fprintf(stderr, "usage: %s [-o FILE] [-s SECONDS] [-t THREADS] [-m SESSIONS]\n", argv[0]);
            return opt == 'h' ? 0 : 2;
        }
    }
    if (seconds <= 0 || nthreads < 1 || nthreads > MAX_THREADS || nsessions < 1) {
        fprintf(stderr, "gc_pauses: need positive seconds and sessions, 1..%d threads\n", MAX_THREADS);
        return 2;
    }
    GC_INIT();
    GC_set_on_collection_event(on_collection_event);

    out = sample_start("gc_pauses", out);
    weft_thread_name("main");
    size_t gc0 = GC_get_gc_no();
    deadline_ns = now_ns() + seconds * 1e9;
    pthread_t th[MAX_THREADS];
    for (intptr_t i = 0; i < nthreads; i++) {
        int rc = pthread_create(&th[i], NULL, mutator, (void *)(i + 1));
        if (rc) {
            fprintf(stderr, "gc_pauses: cannot start a mutator: %s\n", strerror(rc));
            return 1;
        }
    }
    long replaced = 0;
    for (int i = 0; i < nthreads; i++) {
        void *r;
        pthread_join(th[i], &r);
        replaced += (long)(intptr_t)r;
    }
    size_t collections = GC_get_gc_no() - gc0;

    sample_stop("gc_pauses");
    /* A collector built without thread support never reports stopping the
     * world: say so rather than print a trace without pauses. */
    if (collections > 0 && npauses == 0) {
        fprintf(stderr, "gc_pauses: %zu collections but no stop-the-world events: "
                        "libgc was built without threads\n", collections);
        return 1;
    }
    printf("gc_pauses: %d threads replaced %ld sessions; %zu collections, %ld stop-the-world pauses: "
           "total %.1f ms, mean %.2f ms, max %.2f ms; heap %zu KiB; trace in %s\n",
           nthreads, replaced, collections, npauses, pause_total_ms,
           npauses ? pause_total_ms / (double)npauses : 0.0, pause_max_ms,
           (GC_get_heap_size() - GC_get_free_bytes()) / 1024, out);
    return 0;
}
