/*
 * sampler.c - weft-sampler-bench: what the recorder's sampler thread costs.
 *
 * The sampler wakes every WEFT_SAMPLE_US (1 ms) to drain each recorded
 * thread's context-switch ring (perf) or read its schedstat file. For N
 * recorded threads that are either idle (blocked, no switches) or sleeping
 * 1 ms in a loop (about 2000 switch records a second each), it prints:
 *
 *   - the sampler thread's own CPU time per millisecond of recording (one
 *     period at the default WEFT_SAMPLE_US) and as % of one CPU, beside the same run's floor: a bare thread that only wakes
 *     every 1 ms the same way, measured the same way (a timer wake-up is not
 *     free on a VM). Timeslices are not a period count: a preempted period
 *     takes two;
 *   - the whole process's CPU while recording, beside the same run's idle
 *     baseline: the same threads doing the same thing, not recording. The
 *     difference also holds the writer (a flush every 100 ms) and, for the
 *     sleeping threads, the events they record nothing of - only the
 *     recorder's threads differ.
 *
 * Medians of --runs runs (default 5), each --seconds long (default 0.5).
 *
 * Usage: weft-sampler-bench [--quick] [--runs N] [--seconds S] [--dir DIR]
 */
#define _GNU_SOURCE
#include "bench.h"

#include <dirent.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "weft.h"

#define MAX_WORKERS 64

static struct {
    int runs;
    double seconds;
    const char *dir;
} O = {5, 0.5, "."};

/* ---- the recorded threads ------------------------------------------------------ */

static struct {
    pthread_mutex_t m;
    pthread_cond_t c;
    int round;         /* bumped to make every worker record once (registers it) */
    int registered;    /* workers that recorded in this round */
    bool sleeping;     /* workers sleep 1 ms in a loop instead of blocking */
    atomic_bool quit;
} W = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, false, false};

static void sleep_ns(long ns)
{
    struct timespec ts = {0, ns};
    nanosleep(&ts, NULL);
}

static void *worker(void *arg)
{
    (void)arg;
    int seen = 0;
    pthread_mutex_lock(&W.m);
    while (!atomic_load(&W.quit)) {
        if (W.round != seen) {
            seen = W.round;
            pthread_mutex_unlock(&W.m);
            weft_log(0, "bench", "registered"); /* a no-op while not recording */
            pthread_mutex_lock(&W.m);
            W.registered++;
            pthread_cond_broadcast(&W.c);
        }
        if (W.sleeping) {
            pthread_mutex_unlock(&W.m);
            sleep_ns(1000000);
            pthread_mutex_lock(&W.m);
        } else {
            pthread_cond_wait(&W.c, &W.m);
        }
    }
    pthread_mutex_unlock(&W.m);
    return NULL;
}

/* Makes every worker record once and waits until all have. */
static void register_all(int n)
{
    pthread_mutex_lock(&W.m);
    W.round++;
    W.registered = 0;
    pthread_cond_broadcast(&W.c);
    while (W.registered < n)
        pthread_cond_wait(&W.c, &W.m);
    pthread_mutex_unlock(&W.m);
}

/* ---- measuring ----------------------------------------------------------------- */

static double process_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* run_ns and timeslices of a thread from a schedstat file; -1 on failure. */
static int read_schedstat(const char *path, uint64_t *run_ns, uint64_t *slices)
{
    FILE *f = fopen(path, "r");
    unsigned long long run, wait, sl;
    int ok = f && fscanf(f, "%llu %llu %llu", &run, &wait, &sl) == 3;
    if (f)
        fclose(f);
    if (!ok)
        return -1;
    *run_ns = run, *slices = sl;
    return 0;
}

/* The sampler's on-CPU ns and timeslices, from its schedstat; -1 if there
 * is no thread named weft-sampler. */
static int sampler_stat(uint64_t *run_ns, uint64_t *slices)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int rc = -1;
    struct dirent *e;
    while (rc && (e = readdir(d))) {
        char path[300], comm[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        /* The whole name: this program's own is "weft-sampler-be(nch)". */
        int named = fgets(comm, sizeof comm, f) && strcmp(comm, "weft-sampler\n") == 0;
        fclose(f);
        if (!named)
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/schedstat", e->d_name);
        rc = read_schedstat(path, run_ns, slices);
    }
    closedir(d);
    return rc;
}

/* ---- the floor: a thread that only wakes every 1 ms -------------------------------- */

static sem_t never; /* nobody posts: the wait always times out, like the idle sampler's */

static void *bare_waker(void *arg)
{
    double *ns_per_wake = arg;
    uint64_t run0, sl0, run1, sl1;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    int n = (int)(O.seconds * 1000);
    read_schedstat("/proc/thread-self/schedstat", &run0, &sl0);
    for (int i = 0; i < n; i++) {
        next.tv_nsec += 1000000;
        if (next.tv_nsec >= 1000000000)
            next.tv_sec++, next.tv_nsec -= 1000000000;
        sem_clockwait(&never, CLOCK_MONOTONIC, &next);
    }
    if (read_schedstat("/proc/thread-self/schedstat", &run1, &sl1) != 0 || n == 0)
        *ns_per_wake = -1;
    else
        *ns_per_wake = (double)(run1 - run0) / n;
    return NULL;
}

/* One run of the floor: CPU ns per wake-up, or -1. */
static double bare_wake_ns(void)
{
    pthread_t th;
    double ns = -1;
    pthread_create(&th, NULL, bare_waker, &ns);
    pthread_join(th, NULL);
    return ns;
}

typedef struct sample {
    double floor_ns;     /* the bare 1 ms waker's CPU per wake-up, this run */
    double sampler_ns;   /* sampler CPU per period */
    double sampler_pct;  /* sampler CPU, % of one CPU */
    double rec_pct;      /* process CPU while recording, % of one CPU */
    double idle_pct;     /* the same, not recording */
} sample;

/* Process CPU over `seconds` of the workers doing their thing, % of a CPU. */
static double process_pct(double seconds)
{
    double c0 = process_cpu_s();
    uint64_t t0 = bench_now_ns();
    struct timespec ts = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
    return 100.0 * (process_cpu_s() - c0) / ((double)(bench_now_ns() - t0) * 1e-9);
}

static int one_run(int n, const char *source, sample *s)
{
    s->idle_pct = process_pct(O.seconds); /* the baseline, same threads */
    if ((s->floor_ns = bare_wake_ns()) < 0)
        return -1;
    char path[4096];
    snprintf(path, sizeof path, "%s/sampler-bench-%d.weft", O.dir, (int)getpid());
    setenv("WEFT_SCHED", source, 1);
    weft_config cfg = {0};
    cfg.path = path;
    int rc = weft_start(&cfg);
    if (rc) {
        fprintf(stderr, "weft-sampler-bench: weft_start: %s\n", weft_strerror(rc));
        return -1;
    }
    register_all(n);
    uint64_t run0, sl0, run1, sl1;
    if (sampler_stat(&run0, &sl0) != 0) {
        fprintf(stderr, "weft-sampler-bench: no weft-sampler thread\n");
        weft_stop();
        return -1;
    }
    uint64_t t0 = bench_now_ns();
    s->rec_pct = process_pct(O.seconds);
    int ok = sampler_stat(&run1, &sl1);
    double periods = (double)(bench_now_ns() - t0) / 1e6;
    weft_stop();
    unlink(path);
    if (ok != 0 || sl1 <= sl0)
        return -1;
    s->sampler_ns = (double)(run1 - run0) / periods;
    s->sampler_pct = 100.0 * (double)(run1 - run0) / (periods * 1e6);
    return 0;
}

static int measure(int n, bool sleeping, const char *source, sample *med)
{
    pthread_t th[MAX_WORKERS];
    W.sleeping = sleeping;
    atomic_store(&W.quit, false);
    for (int i = 0; i < n; i++)
        pthread_create(&th[i], NULL, worker, NULL);
    double a[5][16];
    int runs = 0;
    for (int r = 0; r < O.runs && r < 16; r++) {
        sample s;
        if (one_run(n, source, &s) != 0)
            break;
        a[0][runs] = s.sampler_ns, a[1][runs] = s.sampler_pct;
        a[2][runs] = s.rec_pct, a[3][runs] = s.idle_pct, a[4][runs] = s.floor_ns;
        runs++;
    }
    pthread_mutex_lock(&W.m);
    atomic_store(&W.quit, true);
    pthread_cond_broadcast(&W.c);
    pthread_mutex_unlock(&W.m);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    if (runs < O.runs)
        return -1;
    med->sampler_ns = bench_median(a[0], runs);
    med->sampler_pct = bench_median(a[1], runs);
    med->rec_pct = bench_median(a[2], runs);
    med->idle_pct = bench_median(a[3], runs);
    med->floor_ns = bench_median(a[4], runs);
    return 0;
}

static int parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0)
            O.runs = 1, O.seconds = 0.05;
        else if (strcmp(a, "--runs") == 0 && v && atoi(v) > 0 && atoi(v) <= 16)
            O.runs = atoi(v), i++;
        else if (strcmp(a, "--seconds") == 0 && v && atof(v) > 0)
            O.seconds = atof(v), i++;
        else if (strcmp(a, "--dir") == 0 && v)
            O.dir = v, i++;
        else {
            fprintf(stderr, "usage: weft-sampler-bench [--quick] [--runs N<=16] [--seconds S] [--dir DIR]\n");
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (parse_args(argc, argv))
        return 2;
    static const int counts[] = {0, 1, 8, 64};
    static const char *sources[] = {"perf", "schedstat"};
    bench_others others;
    bench_others_start(&others);
    sem_init(&never, 0, 0);
    const char *period = getenv("WEFT_SAMPLE_US");
    printf("weft-sampler-bench: medians of %d runs of %.2f s, sampler period %s us\n", O.runs,
           O.seconds, period && *period ? period : "1000 (default)");
    printf("sampler/ms: the sampler's CPU per ms of recording; floor: CPU per wake-up of a bare\n"
           "thread waking every 1 ms, in the same runs; process CPU beside the idle baseline\n");
    printf("%-9s %-7s %5s | %11s %10s %11s | %11s %13s\n", "source", "threads", "state",
           "sampler/ms", "floor", "sampler CPU", "process CPU", "idle baseline");
    int failed = 0;
    for (int si = 0; si < 2; si++)
        for (int ci = 0; ci < 4; ci++)
            for (int sleeping = 0; sleeping < 2; sleeping++) {
                int n = counts[ci];
                if (n == 0 && sleeping)
                    continue;
                sample m;
                if (measure(n, sleeping, sources[si], &m) != 0) {
                    printf("%-9s %-7d %5s | failed\n", sources[si], n, sleeping ? "sleep" : "idle");
                    failed = 1;
                    continue;
                }
                printf("%-9s %-7d %5s | %8.1f us %7.1f us %10.2f%% | %10.2f%% %12.2f%%\n",
                       sources[si], n, sleeping ? "sleep" : "idle", m.sampler_ns / 1e3,
                       m.floor_ns / 1e3, m.sampler_pct, m.rec_pct, m.idle_pct);
                fflush(stdout);
            }
    double busy = bench_others_cpus(&others);
    if (busy >= 0)
        printf("other processes kept %.2f CPUs busy meanwhile\n", busy);
    return failed;
}
