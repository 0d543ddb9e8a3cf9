/*
 * plainprog.c - a program built WITHOUT weft, for the `weft record` tests:
 * everything it records comes from libweft-preload.so's interposers. It
 * prints what it did (thread ids, addresses, its own timings) as key=value
 * lines for the test to check the trace against.
 *
 *   plainprog work       named threads, a contended mutex, a pipe read that
 *                        blocks 10 ms, and a heap phase bracketed by writes
 *                        to a marker fd (/dev/null)
 *   plainprog reentrant  one thread: 2000 malloc(777)/free pairs
 *   plainprog mallocs    4 threads allocate and free across threads, and
 *                        short-lived threads keep being born (TSan stress)
 *   plainprog exits      20 threads each leave 1 MiB allocated and exit;
 *                        main frees it all later
 *   plainprog fork       forks while recorded; the child uses threads, a
 *                        mutex, a pipe and malloc, and must not be recorded
 *   plainprog exit N     exits with status N
 *   plainprog kill       kills itself with SIGTERM
 *
 * Exit status 0 means the scenario ran as planned.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "blocked.h"

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void fail(const char *what)
{
    fprintf(stderr, "plainprog: %s\n", what);
    exit(9);
}

static void spin_until(atomic_int *v, int want)
{
    while (atomic_load(v) < want)
        sched_yield();
}

/* ---- work: a contended mutex -------------------------------------------------- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int stage;       /* 1: the holder holds; 2: the waiter is about to lock */
static atomic_int waiter_tid;
static int64_t held_ns, blocked_ns;

static void *holder(void *arg)
{
    pthread_setname_np(pthread_self(), "holder"); /* names itself */
    printf("holder_tid=%d\n", gettid());
    pthread_mutex_lock(&mu);
    atomic_store(&stage, 1);
    spin_until(&stage, 2);
    if (until_blocked(atomic_load(&waiter_tid)) != 0)
        fail("the waiter never blocked");
    int64_t t0 = mono_ns();
    sleep_ms(5);
    held_ns = mono_ns() - t0;
    pthread_mutex_unlock(&mu);
    return arg;
}

__attribute__((noinline)) static void lock_block(void)
{
    int64_t t0 = mono_ns();
    pthread_mutex_lock(&mu);
    blocked_ns = mono_ns() - t0;
    pthread_mutex_unlock(&mu);
}

static void *waiter(void *arg)
{
    atomic_store(&waiter_tid, gettid());
    printf("waiter_tid=%d\n", gettid());
    spin_until(&stage, 1);
    atomic_store(&stage, 2);
    lock_block();
    return arg;
}

static void contended_mutex(void)
{
    pthread_t h, w;
    pthread_create(&h, NULL, holder, NULL);
    pthread_create(&w, NULL, waiter, NULL);
    pthread_setname_np(w, "waiter"); /* names another thread */
    pthread_join(h, NULL);
    pthread_join(w, NULL);
    printf("lock=%p\nlock_block=%p\nheld_ns=%lld\nblocked_ns=%lld\n", (void *)&mu,
           (void *)lock_block, (long long)held_ns, (long long)blocked_ns);
}

/* ---- work: a read that blocks 10 ms ------------------------------------------------ */

static int pipefd[2];
static atomic_int reader_tid;
static int64_t read_ns;

__attribute__((noinline)) static void read_block(void)
{
    char buf[16];
    int64_t t0 = mono_ns();
    if (read(pipefd[0], buf, sizeof buf) != 3)
        fail("short read");
    read_ns = mono_ns() - t0;
}

static void *reader(void *arg)
{
    pthread_setname_np(pthread_self(), "reader");
    atomic_store(&reader_tid, gettid());
    printf("reader_tid=%d\n", gettid());
    read_block();
    return arg;
}

static void blocking_read(void)
{
    if (pipe(pipefd) != 0)
        fail("pipe");
    pthread_t r;
    pthread_create(&r, NULL, reader, NULL);
    spin_until(&reader_tid, 1);
    if (until_blocked(atomic_load(&reader_tid)) != 0)
        fail("the reader never blocked");
    int64_t t0 = mono_ns();
    sleep_ms(10);
    int64_t delay = mono_ns() - t0;
    if (write(pipefd[1], "abc", 3) != 3)
        fail("write");
    pthread_join(r, NULL);
    printf("pipe_fd=%d\nread_block=%p\npipe_held_ns=%lld\nread_ns=%lld\n", pipefd[0],
           (void *)read_block, (long long)delay, (long long)read_ns);
}

/* ---- work: the heap ------------------------------------------------------------------- */

#define BIG 1000   /* blocks of 32 KiB: the always-timed path */
#define SMALL 100000 /* blocks of 100 bytes: the sampled path */

static int marker_fd;

/* A write to /dev/null: an IO event that tells the test when the phase is. */
static void marker(void)
{
    if (write(marker_fd, "m", 1) != 1)
        fail("marker");
}

/* Opens the marker fd and writes the first marker once the recorder's
 * sampler (every 1-10 ms, but its first read can come 20 ms after the start
 * on a loaded machine) has surely read the heap counter's baseline. */
static void heap_phase_begin(void)
{
    marker_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    printf("marker_fd=%d\n", marker_fd);
    sleep_ms(100);
    marker(); /* 1: before */
}

static void heap_phase(void)
{
    static void *big[BIG], *small[SMALL];
    size_t bytes = 0;
    heap_phase_begin();
    for (int i = 0; i < BIG; i++)
        bytes += malloc_usable_size(big[i] = malloc(32 << 10));
    for (int i = 0; i < SMALL; i++)
        bytes += malloc_usable_size(small[i] = malloc(100));
    marker(); /* 2: allocated */
    sleep_ms(30);
    marker(); /* 3: freeing */
    for (int i = 0; i < BIG; i++)
        free(big[i]);
    for (int i = 0; i < SMALL; i++)
        free(small[i]);
    marker(); /* 4: freed */
    sleep_ms(30);
    printf("heap_bytes=%zu\n", bytes);
}

static int work(void)
{
    printf("main_tid=%d\n", gettid());
    contended_mutex();
    blocking_read();
    heap_phase();
    return 0;
}

/* ---- reentrant ---------------------------------------------------------------------------- */

#define PAIRS 2000

__attribute__((noinline)) static void *alloc_loop(void *arg)
{
    size_t usable = 0;
    for (int i = 0; i < PAIRS; i++) {
        char *p = malloc(777);
        p[0] = (char)i;
        usable = malloc_usable_size(p);
        free(p);
    }
    printf("alloc_tid=%d\nalloc_usable=%zu\n", gettid(), usable);
    return arg;
}

static int reentrant(void)
{
    pthread_t th;
    pthread_create(&th, NULL, alloc_loop, NULL);
    pthread_join(th, NULL);
    printf("alloc_fn=%p\npairs=%d\n", (void *)alloc_loop, PAIRS);
    return 0;
}

/* ---- mallocs: allocation across threads ------------------------------------------------- */

#define QUEUE 64
#define ITEMS 20000

static void *queue[QUEUE];
static int q_head, q_tail;
static pthread_mutex_t q_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cv = PTHREAD_COND_INITIALIZER;

static void *produce(void *arg)
{
    for (int i = 0; i < ITEMS; i++) {
        size_t n = 16 + (size_t)(i * 37) % 3000;
        char *p = malloc(n);
        memset(p, i, n);
        pthread_mutex_lock(&q_mu);
        while (q_head - q_tail == QUEUE)
            pthread_cond_wait(&q_cv, &q_mu);
        queue[q_head++ % QUEUE] = p;
        pthread_cond_broadcast(&q_cv);
        pthread_mutex_unlock(&q_mu);
    }
    return arg;
}

static void *consume(void *arg)
{
    for (int i = 0; i < ITEMS; i++) {
        pthread_mutex_lock(&q_mu);
        while (q_head == q_tail)
            pthread_cond_wait(&q_cv, &q_mu);
        char *p = queue[q_tail++ % QUEUE];
        pthread_cond_broadcast(&q_cv);
        pthread_mutex_unlock(&q_mu);
        if (p[0] != (char)i)
            fail("queue order");
        p = realloc(p, 4000);
        free(p);
    }
    return arg;
}

static void *churn(void *arg)
{
    for (int i = 0; i < ITEMS; i++) {
        void *p = i % 3 ? malloc(32 + i % 200) : calloc(1, 2000);
        void *q = NULL;
        if (i % 100 == 0 && posix_memalign(&q, 64, 256) != 0)
            fail("posix_memalign");
        free(q);
        free(p);
    }
    return arg;
}

static void *brief(void *arg)
{
    free(malloc(1000));
    return arg;
}

static int mallocs(void)
{
    pthread_t th[4];
    pthread_create(&th[0], NULL, produce, NULL);
    pthread_create(&th[1], NULL, consume, NULL);
    pthread_create(&th[2], NULL, churn, NULL);
    pthread_create(&th[3], NULL, churn, NULL);
    for (int i = 0; i < 50; i++) {
        pthread_t b;
        pthread_create(&b, NULL, brief, NULL);
        pthread_join(b, NULL);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    return 0;
}

/* ---- ramp: a heap that grows for 50 ms ------------------------------------------------- */

#define RAMP_MS 50

/* Small blocks, kept, for RAMP_MS of wall time between two markers: the
 * heap counter changes all along, so it must be sampled every millisecond. */
static int ramp(void)
{
    heap_phase_begin();
    size_t cap = 1 << 16, n = 0;
    void **kept = malloc(cap * sizeof *kept);
    int64_t end = mono_ns() + RAMP_MS * 1000000ll;
    while (mono_ns() < end) {
        for (int i = 0; i < 64; i++) {
            if (n == cap && !(kept = realloc(kept, (cap *= 2) * sizeof *kept)))
                fail("realloc");
            kept[n++] = malloc(100);
        }
    }
    marker(); /* 2: the ramp's end */
    for (size_t i = 0; i < n; i++)
        free(kept[i]);
    free(kept);
    sleep_ms(30);
    printf("ramp_ms=%d\nblocks=%zu\n", RAMP_MS, n);
    return 0;
}

/* ---- exits: threads that leave memory behind -------------------------------------------- */

#define LEAVERS 20
static void *left[LEAVERS];

static void *leave(void *arg)
{
    intptr_t i = (intptr_t)arg;
    left[i] = malloc(1 << 20);
    memset(left[i], 1, 1 << 20);
    return NULL;
}

static int exits(void)
{
    size_t bytes = 0;
    heap_phase_begin();
    for (intptr_t i = 0; i < LEAVERS; i++) {
        pthread_t th;
        pthread_create(&th, NULL, leave, (void *)i);
        pthread_join(th, NULL);
        bytes += malloc_usable_size(left[i]);
    }
    marker(); /* 2: all exited */
    sleep_ms(30);
    marker(); /* 3: freeing */
    for (int i = 0; i < LEAVERS; i++)
        free(left[i]);
    marker(); /* 4: freed */
    sleep_ms(30);
    printf("heap_bytes=%zu\nleavers=%d\n", bytes, LEAVERS);
    return 0;
}

/* ---- fork ------------------------------------------------------------------------------------ */

static void *child_thread(void *arg)
{
    int *tid = arg;
    *tid = gettid();
    for (int i = 0; i < 1000; i++) {
        pthread_mutex_lock(&mu);
        free(malloc(64 + i));
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

/* ThreadSanitizer cannot start threads in a child forked from a
 * multi-threaded process (and the recorder's writer makes every recorded
 * process multi-threaded): there the child runs the same calls on its one
 * thread. */
#if defined(__SANITIZE_THREAD__)
#define CHILD_THREADS 0
#else
#define CHILD_THREADS 2
#endif

/* The child: every interposed call must simply work. Reports its tids. */
static int forked_child(void)
{
    int tids[2];
    pthread_t th[2];
    for (int i = 0; i < CHILD_THREADS; i++)
        pthread_create(&th[i], NULL, child_thread, &tids[i]);
    for (int i = 0; i < CHILD_THREADS; i++)
        pthread_join(th[i], NULL);
    if (!CHILD_THREADS)
        child_thread(&tids[0]);
    int fds[2];
    char c;
    if (pipe(fds) != 0 || write(fds[1], "x", 1) != 1 || read(fds[0], &c, 1) != 1 || c != 'x')
        return 3;
    if (CHILD_THREADS)
        printf("child_tids=%d,%d,%d\n", getpid(), tids[0], tids[1]);
    else
        printf("child_tids=%d\n", getpid());
    return 0;
}

static int forks(void)
{
    contended_mutex(); /* the parent's events before the fork */
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int rc = forked_child();
        fflush(stdout);
        _exit(rc);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail("the forked child failed");
    atomic_store(&stage, 0);
    contended_mutex(); /* and after it */
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "work"))
        return work();
    if (!strcmp(mode, "reentrant"))
        return reentrant();
    if (!strcmp(mode, "mallocs"))
        return mallocs();
    if (!strcmp(mode, "exits"))
        return exits();
    if (!strcmp(mode, "ramp"))
        return ramp();
    if (!strcmp(mode, "fork"))
        return forks();
    if (!strcmp(mode, "exit") && argc > 2)
        return atoi(argv[2]);
    if (!strcmp(mode, "kill"))
        return raise(SIGTERM);
    fprintf(stderr, "plainprog: unknown mode '%s'\n", mode);
    return 2;
}
