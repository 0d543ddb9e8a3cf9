/*
 * stats_rt.c - the blocking profiles of `weft stats` (blocking.h), printed
 * after the summary. A section appears only when the trace has its events.
 * Call sites are symbolized here, at the end, when every MODULE record of
 * the file (libraries loaded while recording included) has been read.
 */
#include <inttypes.h>
#include <stdio.h>

#include "blocking.h"
#include "sites.h"
#include "stats.h"
#include "vocab.h"

#define MAX_ROWS 20 /* sites listed per table */

static double ms(int64_t ns) { return (double)ns / 1e6; }

/* "name (tid N)", "- (tid N)" without a name, "-" for index 0 (unknown). */
static const char *thread_label(wv_reader *r, uint32_t index, char *buf, size_t n)
{
    if (!index)
        return "-";
    const wv_thread *t = wv_reader_thread(r, index);
    snprintf(buf, n, "%s (tid %" PRIu64 ")", t->name[0] ? t->name : "-", t->tid);
    return buf;
}

static void print_lost(wv_blocking *b, wv_reader *r, FILE *out)
{
    uint64_t total = wv_blocking_totals(b)->lost;
    if (!total)
        return;
    fprintf(out, "scheduler records lost: %" PRIu64 " (state tracks there are incomplete)\n", total);
    char label[WV_MAX_NAME + 32];
    for (uint32_t i = 0; i < wv_blocking_threads(b); i++)
        if (wv_blocking_lost(b, i))
            fprintf(out, "  %-30s %10" PRIu64 "\n", i ? thread_label(r, i, label, sizeof label) : "unknown thread",
                    wv_blocking_lost(b, i));
}

static void dist_row(wv_dist *d, FILE *out)
{
    fprintf(out, " %8" PRIu64 " %10.3f %10.3f %10.3f %10.3f\n", d->count, ms(wv_dist_quantile(d, 0.5)),
            ms(wv_dist_quantile(d, 0.9)), ms(wv_dist_quantile(d, 0.99)), ms(d->max));
}

static void print_latency(wv_blocking *b, wv_reader *r, FILE *out)
{
    int header = 0;
    for (uint32_t i = 0; i < wv_blocking_threads(b); i++) {
        wv_dist *d = wv_blocking_latency(b, i);
        if (!d)
            continue;
        if (!header++)
            fprintf(out, "scheduler latency (ms, preempted until running again):\n  %10s  %-20s %8s %10s %10s %10s %10s\n",
                    "TID", "NAME", "COUNT", "P50", "P90", "P99", "MAX");
        const wv_thread *t = wv_reader_thread(r, i);
        fprintf(out, "  %10" PRIu64 "  %-20s", t->tid, t->name[0] ? t->name : "-");
        dist_row(d, out);
    }
}

static void more_rows(size_t n, FILE *out)
{
    if (n > MAX_ROWS)
        fprintf(out, "  ... %zu more sites\n", n - MAX_ROWS);
}

static void print_locks(wv_blocking *b, wv_reader *r, wv_sites *sites, FILE *out)
{
    const wv_site_row *rows;
    size_t n = wv_blocking_lock_sites(b, &rows);
    if (!n)
        return;
    fprintf(out, "lock waits by call site (ms):\n  %8s %10s %10s  %-24s %s\n", "COUNT", "TOTAL", "MAX", "TOP HOLDER",
            "SITE");
    char label[WV_MAX_NAME + 32];
    for (size_t i = 0; i < n && i < MAX_ROWS; i++)
        fprintf(out, "  %8" PRIu64 " %10.3f %10.3f  %-24s %s\n", rows[i].count, ms(rows[i].total_ns),
                ms(rows[i].max_ns), thread_label(r, rows[i].top_holder, label, sizeof label),
                wv_sites_text(sites, rows[i].site));
    more_rows(n, out);
}

static void print_io(wv_blocking *b, wv_sites *sites, FILE *out)
{
    const wv_site_row *rows;
    size_t n = wv_blocking_io_sites(b, &rows);
    if (!n)
        return;
    fprintf(out, "I/O waits by call site (ms):\n  %8s %10s %10s %12s  %-16s %s\n", "COUNT", "TOTAL", "MAX", "BYTES",
            "OP", "SITE");
    char op[32];
    for (size_t i = 0; i < n && i < MAX_ROWS; i++)
        fprintf(out, "  %8" PRIu64 " %10.3f %10.3f %12" PRIu64 "  %-16s %s\n", rows[i].count, ms(rows[i].total_ns),
                ms(rows[i].max_ns), rows[i].bytes, wv_code_label(wv_io_op_name(rows[i].op), rows[i].op, op),
                wv_sites_text(sites, rows[i].site));
    more_rows(n, out);
}

static void print_pauses(wv_blocking *b, FILE *out)
{
    wv_dist *gc = wv_blocking_pauses(b, WV_PAUSE_GC), *alloc = wv_blocking_pauses(b, WV_PAUSE_ALLOC);
    if (!gc->count && !alloc->count)
        return;
    fprintf(out, "pauses (ms):\n  %-12s %8s %10s %10s %10s %10s\n", "KIND", "COUNT", "P50", "P90", "P99", "MAX");
    if (gc->count) {
        fprintf(out, "  %-12s", "gc");
        dist_row(gc, out);
    }
    if (alloc->count) {
        fprintf(out, "  %-12s", "allocator");
        dist_row(alloc, out);
    }
    fprintf(out, "  minimum mutator utilization:");
    for (size_t i = 0; i < WV_BLOCKING_MMU_WINDOWS; i++)
        fprintf(out, "%s %" PRId64 " ms %.1f %%", i ? "," : "", wv_blocking_mmu_window(i) / 1000000,
                100.0 * wv_blocking_mmu(b, i));
    fprintf(out, "%s\n", wv_blocking_mmu_approximate(b) ? " (lower bounds: too many pauses kept)" : "");
}

static void print_schedstat(wv_blocking *b, wv_reader *r, FILE *out)
{
    int header = 0;
    for (uint32_t i = 0; i < wv_blocking_threads(b); i++) {
        const wv_schedstat *s = wv_blocking_schedstat(b, i);
        if (!s)
            continue;
        if (!header++)
            fprintf(out, "schedstat (ms, at the last sample):\n  %10s  %-20s %12s %12s %10s\n", "TID", "NAME",
                    "ON-CPU", "RUNQ WAIT", "SLICES");
        const wv_thread *t = wv_reader_thread(r, i);
        fprintf(out, "  %10" PRIu64 "  %-20s %12.3f %12.3f %10" PRIu64 "\n", t->tid, t->name[0] ? t->name : "-",
                ms((int64_t)s->run_ns), ms((int64_t)s->wait_ns), s->slices);
    }
}

int wv_stats_rt_print(wv_blocking *b, wv_reader *r, FILE *out)
{
    wv_sites *sites = wv_sites_new(r);
    if (!sites)
        return -1;
    print_lost(b, r, out);
    print_latency(b, r, out);
    print_schedstat(b, r, out);
    print_locks(b, r, sites, out);
    print_io(b, sites, out);
    if (wv_blocking_unlisted(b))
        fprintf(out, "  (%" PRIu64 " waits at sites past the first %u not listed)\n", wv_blocking_unlisted(b),
                WV_BLOCKING_MAX_SITES);
    print_pauses(b, out);
    wv_sites_free(sites);
    return 0;
}
