/*
 * worker_pool.c - a worker pool where one request is slow, and the trace
 * shows why.
 *
 *   main          the client: submits requests at a steady rate, each a task
 *                 "request" begun at submission, so queueing counts too
 *   worker-1..W   serve requests: region "lookup" takes the cache bucket's
 *                 mutex (weft_mutex_lock) and looks the key up; on a miss,
 *                 region "fetch" asks the storage over a pipe and reads the
 *                 answer (weft_write / weft_read), then inserts it; region
 *                 "render" builds the reply. A request slower than 10 ms logs
 *                 a "slow" line with its own breakdown.
 *   storage-1..W  the other end of each worker's pipes: answers at once for
 *                 keys in its page cache, and after 30 ms for the rest (a disk
 *                 read), so the worker's read blocks that long
 *
 * Halfway through, the client submits a "compact" job: the worker that takes
 * it holds one cache bucket's mutex for 40 ms while it rewrites the bucket.
 * Right after the compaction has taken the lock, the client submits request
 * "slow", whose key is in that bucket and not in the storage's cache. In the
 * trace that request's task shows, on its worker, a 40 ms "lock:
 * pthread_mutex_lock" wait whose holder is the compacting worker (a flow
 * arrow joins them), then a 30 ms "read" on the storage pipe - and its
 * "slow" log says the same in numbers. Other requests for that bucket during
 * the compaction wait for the lock too, but only this one also reads from
 * disk: the rest take well under a millisecond.
 *
 * Usage: worker_pool [-o FILE] [-s SECONDS] [-w WORKERS] [-r RATE]
 *   defaults: worker_pool.weft, 2 s, 4 workers, 200 requests/s
 * Record and view:
 *   build/samples/worker_pool -o pool.weft && build/viewer/weft stats pool.weft
 *   build/viewer/weft serve pool.weft     (Tasks page: the slowest "request")
 * With WEFT_OUT set, recording already started before main() and -o is
 * ignored.
 */
#include "sample.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 32
#define NBUCKETS 8
#define BUCKET_CAP 16       /* cached entries per bucket: misses are common */
#define HOT_KEYS 512        /* keys the storage has in its page cache */
#define COLD_READ_MS 30     /* the storage's "disk read" for any other key */
#define COMPACT_HOLD_MS 40  /* how long compaction holds a bucket's mutex */
#define SLOW_MS 10          /* a request slower than this logs why */
#define VALUE_LEN 64

typedef enum { JOB_REQUEST, JOB_COMPACT, JOB_STOP } job_kind;

typedef struct job {
    job_kind kind;
    uint32_t id, key; /* key; for JOB_COMPACT the bucket */
    weft_task task;
    double submitted;
    struct job *next;
} job;

typedef struct entry {
    uint32_t key;
    char value[VALUE_LEN];
} entry;

typedef struct bucket {
    pthread_mutex_t mu;
    entry e[BUCKET_CAP];
    int n;
    uint32_t evict; /* next slot to replace once full */
} bucket;

/* The job queue is plain pthread: waiting for work is idleness, not the
 * contention this sample is about, so it is not recorded as lock waits. */
static pthread_mutex_t q_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cv = PTHREAD_COND_INITIALIZER;
static job *q_head, *q_tail;

static bucket cache[NBUCKETS];
static atomic_int compacting; /* set once compaction holds its bucket's mutex */
static atomic_ulong served;

typedef struct worker {
    int id;
    int to_storage, from_storage;     /* the worker's ends of its two pipes */
    int storage_in, storage_out;      /* the storage thread's ends */
    double slowest_ms, slowest_lock_ms, slowest_read_ms;
    uint32_t slowest_id;
    pthread_t th, storage;
} worker;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static void sleep_ms(double ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)((ms - (time_t)(ms / 1000) * 1000) * 1e6)};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

static void submit(job *j)
{
    pthread_mutex_lock(&q_mu);
    j->next = NULL;
    if (q_tail)
        q_tail->next = j;
    else
        q_head = j;
    q_tail = j;
    pthread_cond_signal(&q_cv);
    pthread_mutex_unlock(&q_mu);
}

static job *take(void)
{
    pthread_mutex_lock(&q_mu);
    while (!q_head)
        pthread_cond_wait(&q_cv, &q_mu);
    job *j = q_head;
    q_head = j->next;
    if (!q_head)
        q_tail = NULL;
    pthread_mutex_unlock(&q_mu);
    return j;
}

/* ---- storage: the slow side of the pipe ----------------------------------- */

static void value_of(uint32_t key, char *out)
{
    uint32_t s = key * 2654435761u + 1;
    for (int i = 0; i < VALUE_LEN; i++) {
        s ^= s << 13, s ^= s >> 17, s ^= s << 5;
        out[i] = (char)('a' + s % 26);
    }
}

static void *storage(void *arg)
{
    worker *w = arg;
    char name[16];
    snprintf(name, sizeof name, "storage-%d", w->id);
    weft_thread_name(name);
    uint32_t key;
    /* A key at a time; end of file when the worker closes its pipe. */
    while (read(w->storage_in, &key, sizeof key) == (ssize_t)sizeof key) {
        char value[VALUE_LEN];
        if (key >= HOT_KEYS)
            sleep_ms(COLD_READ_MS); /* not in the page cache: a disk read */
        value_of(key, value);
        if (write(w->storage_out, value, sizeof value) != (ssize_t)sizeof value)
            break;
    }
    close(w->storage_out);
    return NULL;
}

/* Asks the storage for `key`; returns how long the read blocked, in ms. */
static double fetch(worker *w, weft_task task, uint32_t key, char *value)
{
    double read_ms = 0;
    WEFT_REGION(task, "fetch") {
        if (weft_write(w->to_storage, &key, sizeof key) != (ssize_t)sizeof key) {
            perror("worker_pool: write to storage");
            exit(1);
        }
        double t0 = now_ms();
        size_t got = 0;
        while (got < VALUE_LEN) {
            ssize_t n = weft_read(w->from_storage, value + got, VALUE_LEN - got);
            if (n <= 0) {
                fprintf(stderr, "worker_pool: storage closed its pipe\n");
                exit(1);
            }
            got += (size_t)n;
        }
        read_ms = now_ms() - t0;
    }
    return read_ms;
}

/* ---- workers --------------------------------------------------------------- */

/* Finds `key` in its bucket under the bucket's mutex; returns the lock wait. */
static double lookup(weft_task task, uint32_t key, char *value, int *hit)
{
    bucket *b = &cache[key % NBUCKETS];
    double wait_ms = 0;
    WEFT_REGION(task, "lookup") {
        double t0 = now_ms();
        weft_mutex_lock(&b->mu);
        wait_ms = now_ms() - t0;
        *hit = 0;
        for (int i = 0; i < b->n; i++) {
            if (b->e[i].key == key) {
                memcpy(value, b->e[i].value, VALUE_LEN);
                *hit = 1;
                break;
            }
        }
        weft_mutex_unlock(&b->mu);
    }
    return wait_ms;
}

static void insert(uint32_t key, const char *value)
{
    bucket *b = &cache[key % NBUCKETS];
    weft_mutex_lock(&b->mu);
    int slot = b->n < BUCKET_CAP ? b->n++ : (int)(b->evict++ % BUCKET_CAP);
    b->e[slot].key = key;
    memcpy(b->e[slot].value, value, VALUE_LEN);
    weft_mutex_unlock(&b->mu);
}

static void serve(worker *w, job *j)
{
    char value[VALUE_LEN];
    int hit;
    double lock_ms = lookup(j->task, j->key, value, &hit), read_ms = 0;
    if (!hit) {
        read_ms = fetch(w, j->task, j->key, value);
        insert(j->key, value);
    }
    uint64_t digest = 1469598103934665603ull;
    WEFT_REGION(j->task, "render") {
        for (int round = 0; round < 64; round++)
            for (int i = 0; i < VALUE_LEN; i++)
                digest = (digest ^ (uint8_t)value[i] ^ (uint64_t)round) * 1099511628211ull;
    }
    double total_ms = now_ms() - j->submitted;
    if (total_ms > SLOW_MS)
        weft_logf(j->task, "slow",
                  "request %u (key %u) took %.1f ms: %.1f ms waiting for cache bucket %u, "
                  "%.1f ms reading from storage (%s)",
                  j->id, j->key, total_ms, lock_ms, j->key % NBUCKETS, read_ms,
                  hit ? "cache hit" : "cache miss");
    if (total_ms > w->slowest_ms) {
        w->slowest_ms = total_ms, w->slowest_lock_ms = lock_ms, w->slowest_read_ms = read_ms;
        w->slowest_id = j->id;
    }
    weft_logf(j->task, "reply", "%016llx", (unsigned long long)digest);
    weft_task_end(j->task);
    atomic_fetch_add(&served, 1);
}

/* Rewrites one bucket in key order; holds its mutex the whole time, like a
 * compaction that must not let readers see a half-written bucket. */
static void compact(job *j)
{
    bucket *b = &cache[j->key];
    WEFT_REGION(j->task, "compact") {
        weft_mutex_lock(&b->mu);
        atomic_store(&compacting, 1);
        weft_logf(j->task, "compact", "rewriting bucket %u (%d entries)", j->key, b->n);
        for (int i = 1; i < b->n; i++) /* insertion sort: the bucket is tiny */
            for (int k = i; k > 0 && b->e[k - 1].key > b->e[k].key; k--) {
                entry t = b->e[k];
                b->e[k] = b->e[k - 1], b->e[k - 1] = t;
            }
        b->evict = 0;
        /* Writing the bucket's snapshot out: the long part, done under the lock. */
        struct timespec flush = {0, COMPACT_HOLD_MS * 1000000L};
        weft_nanosleep(&flush, NULL);
        weft_mutex_unlock(&b->mu);
    }
    weft_task_end(j->task);
}

static void *work(void *arg)
{
    worker *w = arg;
    char name[16];
    snprintf(name, sizeof name, "worker-%d", w->id);
    weft_thread_name(name);
    for (;;) {
        job *j = take();
        job_kind kind = j->kind;
        if (kind == JOB_REQUEST)
            serve(w, j);
        else if (kind == JOB_COMPACT)
            compact(j);
        free(j);
        if (kind == JOB_STOP)
            break;
    }
    close(w->to_storage); /* the storage thread sees end of file and exits */
    return NULL;
}

/* ---- the client ------------------------------------------------------------ */

static job *new_job(job_kind kind, uint32_t id, uint32_t key, const char *type)
{
    job *j = calloc(1, sizeof *j);
    if (!j) {
        fprintf(stderr, "worker_pool: out of memory\n");
        exit(1);
    }
    j->kind = kind, j->id = id, j->key = key;
    j->submitted = now_ms();
    if (type)
        j->task = weft_task_begin(0, type);
    return j;
}

static uint32_t xorshift(uint32_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 17, *s ^= *s << 5;
    return *s;
}

int main(int argc, char **argv)
{
    const char *out = "worker_pool.weft";
    double seconds = 2, rate = 200;
    int nworkers = 4, opt;
    while ((opt = getopt(argc, argv, "o:s:w:r:h")) != -1) {
        switch (opt) {
        case 'o': out = optarg; break;
        case 's': seconds = atof(optarg); break;
        case 'w': nworkers = atoi(optarg); break;
        case 'r': rate = atof(optarg); break;
        default:
            fprintf(stderr, "usage: %s [-o FILE] [-s SECONDS] [-w WORKERS] [-r RATE]\n", argv[0]);
            return opt == 'h' ? 0 : 2;
        }
    }
    /* Two workers at least: the slow request must wait on another one. */
    if (nworkers < 2 || nworkers > MAX_WORKERS || seconds <= 0 || rate <= 0) {
        fprintf(stderr, "worker_pool: need 2..%d workers and positive seconds and rate\n",
                MAX_WORKERS);
        return 2;
    }
    out = sample_start("worker_pool", out);
    weft_thread_name("main");
    for (int i = 0; i < NBUCKETS; i++)
        pthread_mutex_init(&cache[i].mu, NULL);

    worker *w = calloc((size_t)nworkers, sizeof *w);
    for (int i = 0; i < nworkers; i++) {
        int req[2], resp[2];
        if (pipe(req) || pipe(resp)) {
            perror("worker_pool: pipe");
            return 1;
        }
        w[i].id = i + 1;
        w[i].to_storage = req[1], w[i].storage_in = req[0];
        w[i].storage_out = resp[1], w[i].from_storage = resp[0];
        pthread_create(&w[i].storage, NULL, storage, &w[i]);
        pthread_create(&w[i].th, NULL, work, &w[i]);
    }

    /* Hot keys at random; the one slow request is submitted halfway, right
     * after the compaction of its bucket has taken the lock. */
    long total = (long)(seconds * rate);
    long slow_at = total / 2;
    uint32_t seed = 0x2545F491u, slow_id = 0, slow_key = HOT_KEYS + 3; /* cold */
    double period_ms = 1000 / rate, next = now_ms();
    for (long i = 0; i < total; i++) {
        if (i == slow_at) {
            submit(new_job(JOB_COMPACT, 0, slow_key % NBUCKETS, "compact"));
            while (!atomic_load(&compacting))
                sleep_ms(0.1);
            slow_id = (uint32_t)i;
            job *j = new_job(JOB_REQUEST, slow_id, slow_key, "request");
            weft_logf(j->task, "client", "request %u: key %u, in the bucket being compacted", slow_id,
                      slow_key);
            submit(j);
        } else {
            submit(new_job(JOB_REQUEST, (uint32_t)i, xorshift(&seed) % HOT_KEYS, "request"));
        }
        next += period_ms;
        double wait = next - now_ms();
        if (wait > 0)
            sleep_ms(wait);
    }
    for (int i = 0; i < nworkers; i++)
        submit(new_job(JOB_STOP, 0, 0, NULL));
    worker *slowest = &w[0];
    for (int i = 0; i < nworkers; i++) {
        pthread_join(w[i].th, NULL);
        pthread_join(w[i].storage, NULL);
        close(w[i].from_storage), close(w[i].storage_in);
        if (w[i].slowest_ms > slowest->slowest_ms)
            slowest = &w[i];
    }
    sample_stop("worker_pool");
    printf("worker_pool: %lu requests served by %d workers; slowest: request %u, %.1f ms "
           "(%.1f ms lock wait, %.1f ms storage read); trace in %s\n",
           (unsigned long)atomic_load(&served), nworkers, slowest->slowest_id,
           slowest->slowest_ms, slowest->slowest_lock_ms, slowest->slowest_read_ms,
           out);
    if (slowest->slowest_id != slow_id) /* only a badly overloaded machine does this */
        printf("worker_pool: note: request %u was not the slowest this time\n", slow_id);
    free(w);
    return 0;
}
