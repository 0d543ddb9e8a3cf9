/*
 * recordee.c - the programs the session and thread tests run as children.
 *
 * Running each scenario in its own process lets a test kill it, set its
 * environment, watch it exit - and, in the ThreadSanitizer build, run it
 * instrumented while the Criterion runner (which cannot start under TSan,
 * Criterion issue #274) checks its trace and exit status from outside.
 *
 *   recordee env                 relies on WEFT_OUT/WEFT_SECONDS, logs 400 ms
 *   recordee exit PATH           records, returns from main() without weft_stop()
 *   recordee kill PATH           records for 300 ms, then dies by SIGKILL
 *   recordee concurrent PATH     8 threads x 20000 region+counter, no drops
 *   recordee flood PATH          2 threads x 2 M regions into 2 chunks: drops
 *   recordee exits PATH          50 short-lived threads, one log each
 *   recordee racestop PATH PATH2 stop and restart while 3 threads record
 *   recordee fork PATH           fork while recording; the child must not record
 *                                (nor keep the parent's perf_event descriptors)
 *   recordee sleep PATH          "sleeper": 20 ms, then 3 x (log "begin", a 10 ms
 *                                nanosleep, log "end", 5 ms)
 *   recordee spin PATH           2 x CPUs + 1 threads spin 200 ms each
 *   recordee spawn PATH          threads created the way the preload library's
 *                                pthread_create does it, one renamed by its parent
 *   recordee fdlimit PATH        RLIMIT_NOFILE 16: of 7 registered threads, 3 get
 *                                no perf_event descriptor and fall back
 *   recordee mutexwait PATH      waits.c scenarios: a "holder" thread keeps a
 *   recordee condwait PATH       waiter blocked 5 ms (10 ms for pipewait) on a
 *   recordee semwait PATH        mutex, condition, semaphore, rwlock or empty
 *   recordee rwwait PATH         pipe, then lets it through; prints the
 *   recordee pipewait PATH       addresses the test checks the trace against
 *
 * Exit status 0 means the scenario ran as planned; the caller checks the trace.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "weft.h"

/* The recorder's hidden lifecycle hooks (recorder/internal.h), which the
 * preload library's pthread_create and pthread_setname_np interposers call.
 * They link here because recordee links the static library. */
uint64_t weft__thread_spawn(void);
void weft__thread_started(uint32_t parent_index, uint64_t spawn);
uint32_t weft__thread_index(void);
void weft__thread_renamed(pthread_t th, const char *name);

static int start(const char *path, size_t buffer_bytes)
{
    weft_config cfg = {0};
    cfg.path = path;
    cfg.buffer_bytes = buffer_bytes;
    int rc = weft_start(&cfg);
    if (rc)
        fprintf(stderr, "recordee: weft_start(%s): %s\n", path, weft_strerror(rc));
    return rc;
}

static int stop(void)
{
    int rc = weft_stop();
    if (rc)
        fprintf(stderr, "recordee: weft_stop: %s\n", weft_strerror(rc));
    return rc ? 1 : 0;
}

/* A log a millisecond; returns how many were logged while recording was on
 * just before (the window may end between that check and the log). */
static int log_for(int ms)
{
    struct timespec step = {0, 1000000};
    int enabled = 0;
    for (int i = 0; i < ms; i++) {
        enabled += weft_enabled();
        weft_logf(0, "tick", "%d", i);
        nanosleep(&step, NULL);
    }
    return enabled;
}

static void run_threads(int n, void *(*fn)(void *))
{
    pthread_t th[16];
    for (intptr_t i = 0; i < n; i++)
        pthread_create(&th[i], NULL, fn, (void *)i);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
}

/* ---- concurrent --------------------------------------------------------- */

static void *busy(void *arg)
{
    char name[16];
    snprintf(name, sizeof name, "busy-%d", (int)(intptr_t)arg);
    weft_thread_name(name);
    for (int i = 0; i < 20000; i++) {
        weft_region r = weft_region_begin(0, "unit");
        weft_counter("i", i);
        weft_region_end(r);
    }
    return NULL;
}

/* ---- flood ----------------------------------------------------------------- */

static atomic_int go;

static void *flood(void *arg)
{
    while (!atomic_load(&go))
        ;
    for (int i = 0; i < 2000000; i++) {
        weft_region r = weft_region_begin(0, "flood");
        weft_region_end(r);
    }
    return arg;
}

/* ---- exits, racestop ----------------------------------------------------------- */

static void *short_lived(void *arg)
{
    weft_log(0, "short", "hello");
    return arg;
}

static atomic_int running = 1;

static void *until_stopped(void *arg)
{
    while (atomic_load(&running)) {
        weft_region r = weft_region_begin(0, "spin");
        weft_region_end(r);
    }
    return arg;
}

static int racestop(const char *path, const char *path2)
{
    if (start(path, 0))
        return 3;
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, until_stopped, NULL);
    usleep(50000);
    int rc = stop();
    /* The threads keep calling in while stopped: no-ops. Then a new recording. */
    if (start(path2, 0))
        return 3;
    usleep(20000);
    atomic_store(&running, 0);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    return rc | stop();
}

/* ---- fork ---------------------------------------------------------------------- */

/* Descriptors of perf events open in this process. */
static int perf_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char link[300], target[64] = "";
        snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
        ssize_t k = readlink(link, target, sizeof target - 1);
        if (k > 0 && (target[k] = 0, strstr(target, "perf_event")))
            n++;
    }
    closedir(d);
    return n;
}

static int forked(const char *path)
{
    if (start(path, 0))
        return 3;
    weft_log(0, "who", "parent-before");
    pid_t pid = fork();
    if (pid == 0) {
        weft_log(0, "who", "child");
        if (perf_fds() > 0)
            _exit(5); /* the parent's context-switch events leaked into the child */
        _exit(weft_enabled() ? 4 : 0);
    }
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "recordee: the forked child failed (status %d): %s\n", WEXITSTATUS(st),
                WEXITSTATUS(st) == 5 ? "it kept the parent's perf_event descriptors"
                                     : "it was still recording");
        return 4;
    }
    weft_log(0, "who", "parent-after");
    return stop();
}

/* ---- waits: one thread blocks, another lets it through ---------------------------- */

static pthread_mutex_t w_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t w_cond = PTHREAD_COND_INITIALIZER;
static pthread_rwlock_t w_rwlock = PTHREAD_RWLOCK_INITIALIZER;
static sem_t w_sem;
static int w_pipe[2];
static atomic_int w_stage; /* 1: the holder holds; 2: the waiter is about to block */
static atomic_int w_waiter_tid;
static atomic_int w_cond_flag;
/* The timed calls' deadline, far enough never to pass (they end by the
 * release); set by waiter_ready(), so that the blocking functions stay
 * small and the call site near their start, sanitizers or not. */
static struct timespec w_deadline;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void spin_until(int stage)
{
    while (atomic_load(&w_stage) < stage)
        sched_yield();
}

/* Returns once the waiter thread sleeps in the kernel (state S in its
 * /proc stat), so the holder's delay is all waiting time, whatever the load. */
static void until_waiter_blocked(void)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", atomic_load(&w_waiter_tid));
    for (int tries = 0; tries < 100000; tries++) {
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
            fclose(f);
        buf[n] = 0;
        const char *paren = strrchr(buf, ')');
        if (paren && paren[1] == ' ' && paren[2] == 'S')
            return;
        sched_yield();
    }
    fprintf(stderr, "recordee: the waiter never blocked\n");
    exit(5);
}

/* The waiter's part up to the blocking call. */
static void waiter_ready(void)
{
    weft_log(0, "role", "waiter");
    clock_gettime(CLOCK_REALTIME, &w_deadline);
    w_deadline.tv_sec += 30;
    atomic_store(&w_waiter_tid, gettid());
    spin_until(1);
    atomic_store(&w_stage, 2);
}

static void holder_ready(void)
{
    weft_log(0, "role", "holder");
}

/* Each scenario: what the holder does first (take the resource), what the
 * waiter blocks in, and what lets the waiter through after the delay. */
typedef struct wait_case {
    const char *mode;
    int delay_ms;
    void (*take)(void);
    void (*block)(void);
    void (*release)(void);
    const void *lock; /* printed for the test */
} wait_case;

static void mutex_take(void) { weft_mutex_lock(&w_mutex); }
static void mutex_release(void) { weft_mutex_unlock(&w_mutex); }

__attribute__((noinline)) static void mutex_block(void)
{
    weft_mutex_lock(&w_mutex);
    weft_mutex_unlock(&w_mutex);
}

static void cond_take(void) {}

/* Holds the mutex from before it says it is about to block until the
 * condition wait releases it, so the signal cannot come first. */
__attribute__((noinline)) static void cond_block(void)
{
    weft_mutex_lock(&w_mutex);
    while (!atomic_load(&w_cond_flag))
        weft_cond_wait(&w_cond, &w_mutex);
    weft_mutex_unlock(&w_mutex);
}

static void cond_release(void)
{
    weft_mutex_lock(&w_mutex);
    atomic_store(&w_cond_flag, 1);
    weft_cond_signal(&w_cond);
    weft_mutex_unlock(&w_mutex);
}

static void sem_take(void) {}
/* Not a tail call: the site would then be this function's caller. */
__attribute__((noinline)) static void sem_block(void)
{
    if (weft_sem_wait(&w_sem) != 0)
        exit(6);
}
static void sem_release(void) { weft_sem_post(&w_sem); }


__attribute__((noinline)) static void mutex_timedblock(void)
{
    if (weft_mutex_timedlock(&w_mutex, &w_deadline) != 0)
        exit(6);
    weft_mutex_unlock(&w_mutex);
}

__attribute__((noinline)) static void sem_timedblock(void)
{
    if (weft_sem_timedwait(&w_sem, &w_deadline) != 0)
        exit(6);
}

static void rw_take(void) { weft_rwlock_rdlock(&w_rwlock); }

__attribute__((noinline)) static void rw_block(void)
{
    weft_rwlock_wrlock(&w_rwlock);
    weft_rwlock_unlock(&w_rwlock);
}

static void rw_release(void) { weft_rwlock_unlock(&w_rwlock); }

static void pipe_take(void) {}

__attribute__((noinline)) static void pipe_block(void)
{
    char buf[16];
    if (weft_read(w_pipe[0], buf, sizeof buf) != 3)
        exit(6);
}

static void pipe_release(void)
{
    if (write(w_pipe[1], "abc", 3) != 3)
        exit(6);
}

static const wait_case wait_cases[] = {
    {"mutexwait", 5, mutex_take, mutex_block, mutex_release, &w_mutex},
    {"condwait", 5, cond_take, cond_block, cond_release, &w_cond},
    {"semwait", 5, sem_take, sem_block, sem_release, &w_sem},
    {"mutextimedwait", 5, mutex_take, mutex_timedblock, mutex_release, &w_mutex},
    {"semtimedwait", 5, sem_take, sem_timedblock, sem_release, &w_sem},
    {"rwwait", 5, rw_take, rw_block, rw_release, &w_rwlock},
    {"pipewait", 10, pipe_take, pipe_block, pipe_release, NULL},
};

static const wait_case *w_case;

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t w_held_ns, w_blocked_ns; /* each written by one thread, read after join */

/* Holds for the delay, timed from the moment the waiter is seen blocked to
 * just before the release: the least the waiter can have waited. */
static void *wait_holder(void *arg)
{
    holder_ready();
    w_case->take();
    atomic_store(&w_stage, 1);
    spin_until(2);
    until_waiter_blocked();
    int64_t t0 = mono_ns();
    sleep_ms(w_case->delay_ms);
    w_held_ns = mono_ns() - t0;
    w_case->release();
    return arg;
}

/* Times the whole blocking call: the most the recorded wait can be. */
static void *wait_waiter(void *arg)
{
    waiter_ready();
    int64_t t0 = mono_ns();
    w_case->block();
    w_blocked_ns = mono_ns() - t0;
    return arg;
}

static const wait_case *find_wait_case(const char *mode)
{
    for (size_t i = 0; i < sizeof wait_cases / sizeof wait_cases[0]; i++)
        if (strcmp(wait_cases[i].mode, mode) == 0)
            return &wait_cases[i];
    return NULL;
}

static int wait_scenario(const wait_case *c, const char *path)
{
    w_case = c;
    if (sem_init(&w_sem, 0, 0) != 0 || pipe(w_pipe) != 0)
        return 3;
    printf("lock=%#lx fd=%d block=%#lx\n", (unsigned long)(uintptr_t)c->lock, w_pipe[0],
           (unsigned long)(uintptr_t)c->block);
    fflush(stdout);
    if (start(path, 0))
        return 3;
    pthread_t h, w;
    pthread_create(&h, NULL, wait_holder, NULL);
    pthread_create(&w, NULL, wait_waiter, NULL);
    pthread_join(h, NULL);
    pthread_join(w, NULL);
    printf("held_ns=%lld blocked_ns=%lld\n", (long long)w_held_ns, (long long)w_blocked_ns);
    return stop();
}

/* ---- sleep, spin ------------------------------------------------------------------ */

/* Three rounds, so that a test can still see one when a loaded machine
 * delays the recorder's sampler for most of another. */
static void sleeper(void)
{
    weft_thread_name("sleeper"); /* registers: its context switches are tracked from here */
    sleep_ms(20);
    for (int i = 0; i < 3; i++) {
        weft_log(0, "sleep", "begin");
        sleep_ms(10);
        weft_log(0, "sleep", "end");
        sleep_ms(5);
    }
    sleep_ms(15);
}

static void *spinner(void *arg)
{
    char name[16];
    snprintf(name, sizeof name, "spin-%d", (int)(intptr_t)arg);
    weft_thread_name(name);
    int64_t end = mono_ns() + 200000000;
    while (mono_ns() < end)
        ;
    return NULL;
}

/* More spinners than CPUs, so the kernel must preempt them (at most 15:
 * run_threads' limit). */
static void spin(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int n = cpus < 1 ? 3 : cpus > 7 ? 15 : 2 * (int)cpus + 1;
    run_threads(n, spinner);
}

/* ---- spawn: what the preload library's pthread_create interposer does ---------------- */

typedef struct spawned {
    void *(*fn)(void *);
    void *arg;
    uint32_t parent;
    uint64_t spawn;
} spawned;

static void *spawned_main(void *p)
{
    spawned s = *(spawned *)p;
    free(p);
    weft__thread_started(s.parent, s.spawn);
    return s.fn(s.arg);
}

static int spawn_thread(pthread_t *th, void *(*fn)(void *), void *arg)
{
    spawned *s = malloc(sizeof *s);
    if (!s)
        return -1;
    *s = (spawned){fn, arg, 0, weft__thread_spawn()};
    s->parent = weft__thread_index();
    return pthread_create(th, NULL, spawned_main, s);
}

static pthread_barrier_t renamed_ready, renamed_done;

static void *grandchild(void *arg)
{
    weft_log(0, "spawn", "grandchild");
    return arg;
}

static void *child(void *arg)
{
    int i = (int)(intptr_t)arg;
    weft_log(0, "spawn", "child");
    if (i == 0) {
        pthread_t g;
        spawn_thread(&g, grandchild, NULL);
        pthread_join(g, NULL);
    }
    if (i == 1) { /* stay alive while the parent renames this thread */
        pthread_barrier_wait(&renamed_ready);
        pthread_barrier_wait(&renamed_done);
        weft_log(0, "spawn", "renamed");
    }
    return NULL;
}

static int spawner(void)
{
    weft_thread_name("spawner");
    pthread_barrier_init(&renamed_ready, NULL, 2);
    pthread_barrier_init(&renamed_done, NULL, 2);
    pthread_t th[3];
    for (intptr_t i = 0; i < 3; i++)
        if (spawn_thread(&th[i], child, (void *)i) != 0)
            return 4;
    pthread_barrier_wait(&renamed_ready);
    pthread_setname_np(th[1], "renamed-1");
    weft__thread_renamed(th[1], "renamed-1");
    pthread_barrier_wait(&renamed_done);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    return 0;
}

/* ---- fdlimit: threads beyond weft's share of descriptors fall back ---------------------- */

static pthread_barrier_t all_registered;

/* All six are registered at once, so exactly three find no descriptor left
 * (an exited thread's descriptor would go back to the share). */
static void *fd_user(void *arg)
{
    weft_thread_name("fd-user");
    pthread_barrier_wait(&all_registered);
    sleep_ms(30);
    return arg;
}

static int fdlimit(const char *path)
{
    /* A quarter of 16 for weft: the main thread and 3 others get perf. */
    struct rlimit rl = {16, 16};
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 4;
    if (start(path, 0))
        return 3;
    weft_thread_name("fd-main");
    pthread_barrier_init(&all_registered, NULL, 6);
    run_threads(6, fd_user);
    return stop();
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    const char *path = argc > 2 ? argv[2] : NULL;
    if (strcmp(mode, "env") == 0) {
        int ticks = log_for(400);
        printf("enabled-ticks=%d\nenabled-at-end=%d\n", ticks, weft_enabled());
        return 7; /* a distinctive status for the caller to check */
    }
    if (!path)
        return 2;
    if (strcmp(mode, "racestop") == 0)
        return argc > 3 ? racestop(path, argv[3]) : 2;
    if (strcmp(mode, "fork") == 0)
        return forked(path);
    if (strcmp(mode, "fdlimit") == 0)
        return fdlimit(path);
    if (find_wait_case(mode))
        return wait_scenario(find_wait_case(mode), path);
    size_t buffer = strcmp(mode, "concurrent") == 0 ? 8u << 20 : strcmp(mode, "flood") == 0 ? 1 : 0;
    if (start(path, buffer))
        return 3;
    if (strcmp(mode, "exit") == 0) {
        log_for(20);
        return 0;
    } else if (strcmp(mode, "kill") == 0) {
        log_for(300);
        raise(SIGKILL);
    } else if (strcmp(mode, "concurrent") == 0) {
        run_threads(8, busy);
    } else if (strcmp(mode, "flood") == 0) {
        pthread_t th[2];
        for (int i = 0; i < 2; i++)
            pthread_create(&th[i], NULL, flood, NULL);
        atomic_store(&go, 1);
        for (int i = 0; i < 2; i++)
            pthread_join(th[i], NULL);
    } else if (strcmp(mode, "exits") == 0) {
        for (int round = 0; round < 50; round++)
            run_threads(1, short_lived);
    } else if (strcmp(mode, "sleep") == 0) {
        sleeper();
    } else if (strcmp(mode, "spin") == 0) {
        spin();
    } else if (strcmp(mode, "spawn") == 0) {
        if (spawner() != 0)
            return 4;
    } else {
        fprintf(stderr, "recordee: unknown mode '%s'\n", mode);
        return 2;
    }
    return stop();
}
