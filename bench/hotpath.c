/*
 * hotpath.c - what one recording call costs: a region begin or end while
 * recording on 1 thread and on 2 threads at once, and the same calls while
 * nothing records.
 *
 * Every figure runs the one loop below, bench_region_loop(), so recording
 * and disabled costs come from identical machine code. Threads are timed by
 * bench_parallel_loop(), which runs one warm-up pair first: that event
 * registers the thread (allocating and pre-faulting its buffers) and caches
 * the region name, neither of which belongs to the per-event cost. The trace
 * of every run is read back so dropped events, which are cheaper than written
 * ones, cannot flatter a figure silently.
 *
 * buffer_bytes is only a limit: the recorder starts a thread with 256 KiB
 * and grows it a chunk at a time, on the recording thread, when the writer
 * falls behind. How a figure sets it decides what it measures (see the
 * configurations in weft-bench.c): recycled chunks stay warm in the cache;
 * chunks grown and written once cost page faults and cache misses.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "weft.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>

__attribute__((noinline)) void bench_region_loop(uint64_t pairs)
{
    for (uint64_t i = 0; i < pairs; i++) {
        weft_region r = weft_region_begin(0, BENCH_REGION);
        bench_sink(r.id); /* keep the handle live even when disabled */
        weft_region_end(r);
    }
}

int bench_record_start(const char *path, size_t buffer_bytes, char *err, size_t cap)
{
    weft_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.path = path;
    cfg.buffer_bytes = buffer_bytes;
    int rc = weft_start(&cfg);
    if (rc)
        snprintf(err, cap, "weft_start(%s): %s", path, weft_strerror(rc));
    return rc ? -1 : 0;
}

int bench_record_finish(const char *path, bench_trace *tr, char *err, size_t cap)
{
    int rc = weft_stop();
    if (rc) {
        snprintf(err, cap, "weft_stop: %s", weft_strerror(rc));
        return -1;
    }
    return bench_trace_read(path, tr, err, cap);
}

/* On-CPU nanoseconds of this process's "weft-writer" thread so far (the first
 * field of /proc/self/task/TID/schedstat), or -1 if it is not found. Lets the
 * benchmark show how much of a core the writer takes from the producers. */
static double writer_cpu_ns(void)
{
    DIR *d = opendir("/proc/self/task");
    double ns = -1;
    struct dirent *e;
    while (d && ns < 0 && (e = readdir(d))) {
        char path[320], comm[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (!fgets(comm, sizeof comm, f))
            comm[0] = 0;
        fclose(f);
        if (strncmp(comm, "weft-writer", 11) != 0)
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/schedstat", e->d_name);
        if ((f = fopen(path, "r"))) {
            unsigned long long run;
            if (fscanf(f, "%llu", &run) == 1)
                ns = (double)run;
            fclose(f);
        }
    }
    if (d)
        closedir(d);
    return ns;
}

int bench_hot_recording(const char *path, size_t buffer_bytes, int threads, uint64_t pairs,
                        bench_hot *out, char *err, size_t cap)
{
    if (bench_record_start(path, buffer_bytes, err, cap) != 0)
        return -1;
    double w0 = writer_cpu_ns();
    uint64_t t0 = bench_now_ns();
    /* ns per iteration of a begin+end pair, 2 events */
    out->ns_per_event = bench_parallel_loop(threads, bench_region_loop, pairs) / 2;
    double wall = (double)(bench_now_ns() - t0), w1 = writer_cpu_ns();
    out->writer_cpu = w0 >= 0 && w1 >= 0 ? (w1 - w0) / wall : -1;
    return bench_record_finish(path, &out->trace, err, cap);
}

double bench_hot_disabled(uint64_t pairs)
{
    uint64_t t0 = bench_now_ns();
    bench_region_loop(pairs);
    return (double)(bench_now_ns() - t0) / (double)(2 * pairs);
}
