/*
 * timing.c - the clock used to time every figure, the baseline loops printed
 * beside them, medians, and the busy-wait that stands for "real work" between
 * events. Shared by weft-bench and weft-bench-lttng, so both programs time
 * their loops the same way (bench_parallel_loop for every traced loop).
 */
#define _GNU_SOURCE
#include "bench.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void bench_median_ci(const double *sorted, int n, double *lo, double *hi)
{
    int k = (int)floor(((double)n - 1.96 * sqrt((double)n)) / 2);
    if (k < 0)
        k = 0;
    *lo = sorted[k];
    *hi = sorted[n - 1 - k];
}

/* The loops below are kept by bench_sink(): an empty asm that "uses" a value
 * in a register, so the compiler must compute it every iteration but emits no
 * instruction for the sink itself. */

double bench_loop_empty_ns(uint64_t iters)
{
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < iters; i++)
        bench_sink(i);
    return (double)(bench_now_ns() - t0) / (double)iters;
}

__attribute__((noinline)) void bench_rdtsc_loop(uint64_t iters)
{
    for (uint64_t i = 0; i < iters; i++)
        bench_sink(bench_rdtsc());
}

double bench_loop_rdtsc_ns(uint64_t iters)
{
    uint64_t t0 = bench_now_ns();
    bench_rdtsc_loop(iters);
    return (double)(bench_now_ns() - t0) / (double)iters;
}

double bench_loop_clock_gettime_ns(uint64_t iters)
{
    uint64_t t0 = bench_now_ns();
    struct timespec ts;
    for (uint64_t i = 0; i < iters; i++) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        bench_sink((uint64_t)ts.tv_nsec);
    }
    return (double)(bench_now_ns() - t0) / (double)iters;
}

void bench_spin_ns(uint64_t ns)
{
    uint64_t until = bench_now_ns() + ns;
    while (bench_now_ns() < until)
        ;
}

uint64_t bench_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* Log-uniform, so short gaps are common and long ones rare but present, as
 * between the calls of a real request handler. */
uint64_t bench_gap_ns(uint64_t *state, double lo_ns, double hi_ns)
{
    double u = (double)(bench_rand(state) >> 11) / (double)(1ull << 53);
    return (uint64_t)(lo_ns * exp(u * log(hi_ns / lo_ns)));
}

long bench_vmhwm_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kib;
}

typedef struct par_thread {
    pthread_t th;
    pthread_barrier_t *start;
    void (*loop)(uint64_t);
    uint64_t iters;
    double ns_per_iter;
} par_thread;

static void *par_main(void *arg)
{
    par_thread *p = arg;
    /* One warm-up iteration outside the clock: a tracer's first event on a
     * thread registers it (allocates, pre-faults), which is not per-event. */
    p->loop(1);
    pthread_barrier_wait(p->start);
    uint64_t t0 = bench_now_ns();
    p->loop(p->iters);
    p->ns_per_iter = (double)(bench_now_ns() - t0) / (double)p->iters;
    return NULL;
}

double bench_parallel_loop(int threads, void (*loop)(uint64_t), uint64_t iters)
{
    par_thread t[BENCH_MAX_THREADS];
    pthread_barrier_t start;
    if (threads < 1 || threads > BENCH_MAX_THREADS)
        return -1;
    pthread_barrier_init(&start, NULL, (unsigned)threads);
    for (int i = 0; i < threads; i++) {
        t[i] = (par_thread){.start = &start, .loop = loop, .iters = iters};
        if (pthread_create(&t[i].th, NULL, par_main, &t[i]) != 0) {
            /* The others wait at the barrier for ever: no figure can come
             * out of this process any more. */
            fprintf(stderr, "weft-bench: pthread_create failed\n");
            exit(1);
        }
    }
    double sum = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i].th, NULL);
        sum += t[i].ns_per_iter;
    }
    pthread_barrier_destroy(&start);
    return sum / threads;
}

/* Busy CPU time of the whole machine from /proc/stat, in seconds. */
static double machine_busy_s(void)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n != 8)
        return -1;
    /* user nice system [idle iowait] irq softirq steal */
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

/* CPU seconds used by this process and its reaped children. */
static double own_cpu_s(void)
{
    struct rusage a, b;
    getrusage(RUSAGE_SELF, &a);
    getrusage(RUSAGE_CHILDREN, &b);
    return (double)(a.ru_utime.tv_sec + a.ru_stime.tv_sec + b.ru_utime.tv_sec + b.ru_stime.tv_sec) +
           (double)(a.ru_utime.tv_usec + a.ru_stime.tv_usec + b.ru_utime.tv_usec +
                    b.ru_stime.tv_usec) * 1e-6;
}

void bench_others_start(bench_others *o)
{
    o->busy_s = machine_busy_s();
    o->own_s = own_cpu_s();
    o->t0_ns = bench_now_ns();
}

double bench_others_cpus(const bench_others *o)
{
    double busy = machine_busy_s(), wall = (double)(bench_now_ns() - o->t0_ns) * 1e-9;
    if (busy < 0 || o->busy_s < 0 || wall <= 0)
        return -1;
    double others = (busy - o->busy_s) - (own_cpu_s() - o->own_s);
    return others > 0 ? others / wall : 0;
}
