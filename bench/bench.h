/*
 * bench.h - declarations shared by the parts of weft-bench, the benchmark
 * program that measures libweft and the `weft` viewer against baselines
 * taken in the same run.
 *
 *   timing.c       clocks, loops the figures are compared with, medians, spins
 *   proc.c         child processes: run, capture output, wall time, peak RSS
 *   tracefile.c    reads the END record and totals of a .weft file
 *   hotpath.c      recording-call costs: 1 thread, 2 threads, disabled
 *   workload.c     the realistic event mix, sustained rate, recorder memory
 *   lttng.c        the LTTng-UST baseline: session daemon, session, helper
 *   report.c       the results table
 *   weft-bench.c   options, and each figure: its runs, median and verdict
 *
 * weft-bench-lttng (lttng_child.c, lttng_tp.[ch]) is a separate executable so
 * that liblttng-ust, whose constructor starts listener threads in every
 * process that links it, is never loaded into the process measuring weft.
 */
#ifndef WEFT_BENCH_H
#define WEFT_BENCH_H

#include <stddef.h>
#include <stdint.h>

/* ---- timing.c ------------------------------------------------------------- */

uint64_t bench_now_ns(void); /* CLOCK_MONOTONIC */

/* The same unserialised rdtsc the recorder stamps events with
 * (recorder/internal.h), so "the rdtsc loop" is the like-for-like floor. */
static inline uint64_t bench_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

/* Makes the compiler believe `v` is used, so a loop computing it stays. */
static inline void bench_sink(uint64_t v) { __asm__ __volatile__("" : : "r"(v)); }

/* Median of n values (n >= 1); v is reordered. */
double bench_median(double *v, int n);
/* After bench_median(v, n) has sorted v: a distribution-free 95 % confidence
 * interval of that median, between the order statistics whose ranks are
 * (n -/+ 1.96 sqrt(n)) / 2 (the sign test's interval). With fewer than 6
 * values it is the whole range. */
void bench_median_ci(const double *sorted, int n, double *lo, double *hi);

/* Cost per iteration, in ns, of the loops printed beside the figures. */
double bench_loop_empty_ns(uint64_t iters);
double bench_loop_rdtsc_ns(uint64_t iters);
double bench_loop_clock_gettime_ns(uint64_t iters);
/* The untimed rdtsc loop, for bench_parallel_loop(): does the machine itself
 * scale to 2 threads reading the TSC? */
void bench_rdtsc_loop(uint64_t iters);

#define BENCH_MAX_THREADS 8

/* Runs loop(1) on each of `threads` new threads, then, once all are ready,
 * loop(iters) on all at once. Returns the mean over the threads of each
 * thread's ns per iteration, or -1 for a bad thread count. */
double bench_parallel_loop(int threads, void (*loop)(uint64_t), uint64_t iters);

/* Busy-waits about `ns` nanoseconds: the "work" between events of the mix. */
void bench_spin_ns(uint64_t ns);

/* xorshift64*: a cheap, reproducible generator for gaps and choices. */
uint64_t bench_rand(uint64_t *state);

/* A gap drawn log-uniformly between lo_ns and hi_ns. */
uint64_t bench_gap_ns(uint64_t *state, double lo_ns, double hi_ns);

/* Other work on the machine moves every figure on a 2-vCPU VM, so each
 * figure reports how many CPUs other processes kept busy meanwhile: machine
 * busy time (/proc/stat) minus this process's and its children's. */
typedef struct bench_others {
    double busy_s, own_s;
    uint64_t t0_ns;
} bench_others;
void bench_others_start(bench_others *o);
/* CPUs (0 = none, 1 = one full CPU) other processes used since start; -1
 * if unknown. Children count only once reaped. */
double bench_others_cpus(const bench_others *o);

/* Peak resident set (VmHWM) of this process in KiB, or -1. */
long bench_vmhwm_kib(void);

/* ---- proc.c --------------------------------------------------------------- */

typedef struct bench_child {
    int status;      /* as from waitpid(); -1 if the child could not start */
    double wall_s;   /* fork to reap */
    long maxrss_kib; /* ru_maxrss of the child, from wait4() */
} bench_child;

/* Runs argv[0] (searched in PATH) with argv. Its stdout goes to the file
 * `stdout_path` when not NULL; otherwise stdout and stderr are captured into
 * out[cap] (NUL-terminated, cut to fit; out may be NULL to discard). `env` is
 * NULL or extra "NAME=value" strings. Returns 0 if it exited with status 0,
 * -1 otherwise (res tells why). */
int bench_run(char *const argv[], char *const env[], const char *stdout_path, char *out,
              size_t cap, bench_child *res);

/* Describes res->status as "exit 3", "signal 9" or "could not start". */
const char *bench_child_status(const bench_child *res, char *buf, size_t cap);

/* Path of the running executable, and its directory (no trailing slash). */
const char *bench_self_exe(void);
const char *bench_self_dir(void);

/* True if `path` names an executable file. */
int bench_is_executable(const char *path);

/* ---- tracefile.c ---------------------------------------------------------- */

typedef struct bench_trace {
    uint64_t file_bytes;
    int clock;            /* header clock source: 1 tsc, 2 monotonic */
    uint64_t chunk_bytes, chunks_per_thread; /* header: a thread's buffer limit */
    uint64_t batch_events;/* sum of the BATCH records' counts */
    int has_end;          /* an END record was found */
    uint64_t end_reason, events, dropped, memory_bytes, threads;
} bench_trace;

/* Reads the whole .weft file at `path`. Returns 0, or -1 with a reason in
 * err[cap]. Decodes docs/format.md with recorder/wire.h, the single source of
 * the record kinds, so it does not depend on the viewer being built. */
int bench_trace_read(const char *path, bench_trace *out, char *err, size_t cap);

/* ---- hotpath.c ----------------------------------------------------------- */

#define BENCH_REGION "bench.region" /* the region type every hot loop uses */

/* `pairs` region begin+end pairs on the calling thread: the loop behind every
 * hot-path figure, recording or not. */
void bench_region_loop(uint64_t pairs);

/* weft_start() into `path` with `buffer_bytes` per thread (0: default). */
int bench_record_start(const char *path, size_t buffer_bytes, char *err, size_t cap);
/* weft_stop(), then reads the finished file into *tr. */
int bench_record_finish(const char *path, bench_trace *tr, char *err, size_t cap);

typedef struct bench_hot {
    double ns_per_event; /* mean over the threads of each one's ns per event */
    double writer_cpu;   /* writer thread's CPU time / loop wall time; -1: unknown */
    bench_trace trace;   /* the file written */
} bench_hot;

/* One run: `threads` threads each record `pairs` pairs at once into `path`
 * with `buffer_bytes` per thread. */
int bench_hot_recording(const char *path, size_t buffer_bytes, int threads, uint64_t pairs,
                        bench_hot *out, char *err, size_t cap);
/* ns per call of the same loop while nothing records. */
double bench_hot_disabled(uint64_t pairs);

/* ---- workload.c ---------------------------------------------------------- */

typedef struct bench_mix {
    double gap_lo_ns, gap_hi_ns; /* work between events; hi 0: none */
    double seconds;              /* stop after this long (0: no limit) */
    uint64_t max_requests;       /* or after this many requests */
    size_t buffer_bytes;         /* per thread; 0: the recorder's default */
} bench_mix;

/* Events one request of the mix records on average (5 on the frontend, 10.25
 * on the worker), used to size a trace by its event count. */
#define BENCH_MIX_EVENTS_PER_REQUEST 15.25

/* Records the two-thread mix into `path` and reads the file back. */
int bench_mix_record(const char *path, const bench_mix *cfg, bench_trace *tr, double *elapsed_s,
                     char *err, size_t cap);

typedef struct bench_sustained {
    uint64_t events, dropped, memory_bytes;
    uint64_t cap_bytes;           /* the thread's buffer limit, from the header */
    double seconds;
    long hwm_before_kib, hwm_kib; /* VmHWM before weft_start, after weft_stop */
} bench_sustained;

/* The child mode: records region pairs on one thread for `seconds` with the
 * default config, as fast as it can (rate 0) or paced at `rate` events/s,
 * and prints one "ok ..." line. Returns the process exit code. */
int bench_sustained_child(const char *path, double seconds, double rate);
/* Parses that line. Returns 0 or -1. */
int bench_sustained_parse(const char *out, bench_sustained *s);

/* ---- lttng.c ------------------------------------------------------------- */

typedef struct bench_lttng_opts {
    const char *helper; /* path of weft-bench-lttng */
    const char *tmpdir; /* LTTNG_HOME and the trace output go here */
    uint64_t events;    /* tracepoint calls per thread per run */
    int runs;
} bench_lttng_opts;

typedef struct bench_lttng {
    int measured[2];        /* [0]: 1 thread, [1]: 2 threads */
    double ns[2];           /* median ns per event (per thread) */
    uint64_t discarded[2];  /* events LTTng reported discarded */
    int shared_daemon;      /* a session daemon was already running: used, left running */
    char why[512];          /* reason when something was not measured */
} bench_lttng;

/* Starts a session daemon and session, times the helper, tears down. Never
 * fails the benchmark: what could not be measured has a reason in r->why. */
void bench_lttng_run(const bench_lttng_opts *o, bench_lttng *r);

/* ---- report.c ------------------------------------------------------------ */

typedef struct bench_row bench_row;

/* Adds a row; verdict is "PASS", "MISS" or "n/a" and may be set later. */
bench_row *bench_row_add(const char *figure, const char *target, const char *verdict);
void bench_row_weft(bench_row *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends one baseline (several are separated by "; "). */
void bench_row_base(bench_row *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bench_row_verdict(bench_row *r, const char *verdict);
int bench_row_count(void);
bench_row *bench_row_at(int i); /* 0 <= i < bench_row_count() */
void bench_report_print(void);

#endif /* WEFT_BENCH_H */
