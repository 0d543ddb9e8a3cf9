/*
 * alloc_bench.c - weft-bench-alloc: what libweft-preload.so adds to a
 * malloc/free pair, beside the plain pair measured in the same run.
 *
 * Each run starts weft-bench-alloc-child (which links no weft) four times
 * per workload, back to back so they share the same moments of a noisy VM:
 *   plain          no preload library
 *   idle           preloaded, nothing recording (WEFT_OUT unset)
 *   recording      preloaded and recording (the default: small calls timed
 *                  1 in 16, calls that can leave the tcache always)
 *   every call     recording with WEFT_ALLOC_SAMPLE=1: every call timed, to
 *                  show what the sampling rule saves
 * Workloads: malloc(32)+free, and a mix of sizes over a pool of live blocks
 * (alloc_child.c). The figure is the median over the runs of the per-run
 * difference from plain; the target is <= 15 ns per pair while recording.
 *
 * Usage: weft-bench-alloc [--quick] [--runs N] [--pairs N] [--preload LIB] [--dir DIR]
 */
#define _GNU_SOURCE
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_RUNS 64
#define TARGET_NS 15.0

static struct {
    int runs;
    uint64_t pairs; /* 32-byte pairs per child; the mix runs a third */
    const char *preload;
    const char *dir;
} O = {7, 20000000, WEFT_BENCH_PRELOAD, "/tmp"};

enum { PLAIN, IDLE, RECORDING, EVERY, NCONF };
static const char *const conf_label[NCONF] = {"plain", "preloaded, not recording",
                                              "preloaded, recording", "recording, every call timed"};

typedef struct workload {
    const char *name, *arg;
    uint64_t divisor;
    double ns[NCONF][MAX_RUNS];
} workload;

static workload loads[] = {
    {"malloc(32)+free", "32", 1, {{0}}},
    {"malloc+free, size mix", "mix", 3, {{0}}},
};
#define NLOAD (sizeof loads / sizeof loads[0])

/* One child: returns its ns per pair, or -1 with the reason printed. */
static double child(const workload *w, int conf)
{
    char child_bin[4200], pairs[32], preload[4200], out_env[4300], msg[512];
    snprintf(child_bin, sizeof child_bin, "%s/weft-bench-alloc-child", bench_self_dir());
    snprintf(pairs, sizeof pairs, "%lu", (unsigned long)(O.pairs / w->divisor));
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", O.preload);
    snprintf(out_env, sizeof out_env, "WEFT_OUT=%s/alloc-bench-%d.weft", O.dir, (int)getpid());
    char *env[5] = {NULL}, every[] = "WEFT_ALLOC_SAMPLE=1", secs[] = "WEFT_SECONDS=0";
    int n = 0;
    if (conf != PLAIN)
        env[n++] = preload;
    if (conf == RECORDING || conf == EVERY)
        env[n++] = out_env, env[n++] = secs;
    if (conf == EVERY)
        env[n++] = every;
    char *argv[] = {child_bin, (char *)w->arg, pairs, NULL};
    bench_child res;
    int rc = bench_run(argv, env, NULL, msg, sizeof msg, &res);
    unlink(out_env + strlen("WEFT_OUT="));
    const char *ns = strstr(msg, "ns=");
    if (rc != 0 || !ns) {
        char why[64];
        fprintf(stderr, "weft-bench-alloc: %s %s (%s): %s %s\n", w->name, conf_label[conf],
                bench_child_status(&res, why, sizeof why), child_bin, msg);
        return -1;
    }
    return strtod(ns + 3, NULL);
}

static double median_of(const double *v)
{
    double c[MAX_RUNS];
    memcpy(c, v, sizeof c);
    return bench_median(c, O.runs);
}

static double median_extra(const workload *w, int conf)
{
    double d[MAX_RUNS];
    for (int i = 0; i < O.runs; i++)
        d[i] = w->ns[conf][i] - w->ns[PLAIN][i];
    return median_of(d);
}

static void print_runs(const workload *w)
{
    printf("  %s (ns per pair, run by run)\n", w->name);
    for (int c = 0; c < NCONF; c++) {
        printf("    %-30s", conf_label[c]);
        for (int i = 0; i < O.runs; i++)
            printf(" %6.2f", w->ns[c][i]);
        printf("\n");
    }
}

static void report(const workload *w)
{
    print_runs(w);
    double plain = median_of(w->ns[PLAIN]), extra = median_extra(w, RECORDING);
    char figure[96];
    snprintf(figure, sizeof figure, "%s, recording", w->name);
    bench_row *r = bench_row_add(figure, "<= +15 ns over plain", extra <= TARGET_NS ? "PASS" : "MISS");
    bench_row_weft(r, "%.2f ns (%+.2f)", median_of(w->ns[RECORDING]), extra);
    bench_row_base(r, "plain %.2f ns", plain);
    bench_row_base(r, "preloaded, not recording %+.2f", median_extra(w, IDLE));
    snprintf(figure, sizeof figure, "%s, every call timed", w->name);
    r = bench_row_add(figure, "(reported)", "n/a");
    bench_row_weft(r, "%.2f ns (%+.2f)", median_of(w->ns[EVERY]), median_extra(w, EVERY));
    bench_row_base(r, "plain %.2f ns; WEFT_ALLOC_SAMPLE=1", plain);
}

static int parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0)
            O.runs = 1, O.pairs = 30000;
        else if (strcmp(a, "--runs") == 0 && v)
            O.runs = atoi(v), i++;
        else if (strcmp(a, "--pairs") == 0 && v)
            O.pairs = strtoull(v, NULL, 10), i++;
        else if (strcmp(a, "--preload") == 0 && v)
            O.preload = v, i++;
        else if (strcmp(a, "--dir") == 0 && v)
            O.dir = v, i++;
        else {
            fprintf(stderr, "usage: weft-bench-alloc [--quick] [--runs N] [--pairs N] [--preload LIB] "
                            "[--dir DIR]\n");
            return -1;
        }
    }
    if (O.runs < 1 || O.runs > MAX_RUNS || O.pairs < 3) {
        fprintf(stderr, "weft-bench-alloc: --runs must be 1..%d and --pairs >= 3\n", MAX_RUNS);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (parse_args(argc, argv) != 0)
        return 2;
    printf("weft-bench-alloc: %d run(s), %lu pairs per child (medians; ns per malloc+free pair)\n"
           "preload library: %s\n", O.runs, (unsigned long)O.pairs, O.preload);
    bench_others others;
    bench_others_start(&others);
    /* Run i of every configuration before run i+1 of any: a noisy moment of
     * the VM then touches one run of each, not all runs of one. */
    for (int i = 0; i < O.runs; i++)
        for (size_t k = 0; k < NLOAD; k++)
            for (int c = 0; c < NCONF; c++)
                if ((loads[k].ns[c][i] = child(&loads[k], c)) < 0)
                    return 1;
    for (size_t k = 0; k < NLOAD; k++)
        report(&loads[k]);
    double busy = bench_others_cpus(&others);
    if (busy >= 0)
        printf("other processes kept %.2f CPUs busy meanwhile\n", busy);
    bench_report_print();
    return 0;
}
