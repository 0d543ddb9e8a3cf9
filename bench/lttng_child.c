/*
 * lttng_child.c - weft-bench-lttng, the helper that times LTTng-UST
 * tracepoints for the baseline beside weft's hot-path figures.
 *
 * weft-bench starts a session daemon and an active session first and runs
 * this program afterwards, because liblttng-ust registers a process with the
 * session daemon in its constructor, before main(): the session must already
 * be enabled when the process starts or its tracepoints stay off.
 *
 * Usage: weft-bench-lttng EVENTS THREADS RUNS
 * Prints "enabled" (or "error <reason>" and exits 1), then one
 * "run <ns per event>" line per run: the mean over the threads of each
 * thread's ns per event, timed by the same bench_parallel_loop() as weft.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "lttng_tp.h"

#include <stdio.h>
#include <stdlib.h>

static __attribute__((noinline)) void tracepoint_loop(uint64_t events)
{
    for (uint64_t i = 0; i < events; i++)
        lttng_ust_tracepoint(weftbench, event, (int)i);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s EVENTS THREADS RUNS\n", argv[0]);
        return 2;
    }
    uint64_t events = strtoull(argv[1], NULL, 10);
    int threads = atoi(argv[2]), runs = atoi(argv[3]);
    if (!events || threads < 1 || threads > BENCH_MAX_THREADS || runs < 1) {
        printf("error bad arguments\n");
        return 2;
    }
    if (!lttng_ust_tracepoint_enabled(weftbench, event)) {
        printf("error tracepoint weftbench:event is not enabled in this process "
               "(it did not register with an active session)\n");
        return 1;
    }
    printf("enabled\n");
    for (int r = 0; r < runs; r++)
        printf("run %.3f\n", bench_parallel_loop(threads, tracepoint_loop, events));
    return 0;
}
