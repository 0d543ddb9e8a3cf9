/*
 * test_serve_rt.c - the runtime answers of `weft serve` (viewer/serve_rt*.c)
 * on traces with known runtime events:
 *   - the /window state, CPU, wait and pause rows of the scenario of
 *     support/rttrace.h, span by span, and the same spans `weft json`
 *     writes for it;
 *   - merged state and CPU blocks on a dense trace: every span counted once
 *     and the time per state exact, at any zoom, against `weft json`;
 *   - /blocking against `weft stats`: its text lines rebuilt from the
 *     answer, and every figure to the nanosecond against the tables of the
 *     same code `weft stats` runs (blocking.c), on the scenario and on a
 *     weft_gentrace trace of ~100 k events;
 *   - /wait (a lock wait's site, holder and the holder's region), the
 *     summary's runtime part, and errors.
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <math.h>
#include <sys/mman.h>

#include "blocking.h"
#include "chrome.h"
#include "serve_json.h"
#include "serve_rt.h"
#include "rttrace.h"
#include "stats.h"
#include "test_serve.h"
#include "testutil.h"
#include "tracegen.h"

static int lock_line, io_line;

/* The scenario of rttrace.h with its sites symbolized, as a file. */
static const char *scenario(void)
{
    static char path[512];
    if (!path[0]) {
        tg *g = rt_sched_trace(rt_lock_site(&lock_line), rt_io_site(&io_line), 1);
        snprintf(path, sizeof path, "%s", tu_path("scenario.weft"));
        cr_assert_eq(tg_write(g, path), 0);
        tg_free(g);
    }
    return path;
}

static cJSON *get_json(int port, const char *path)
{
    ts_resp r = ts_get(port, path);
    cr_assert_eq(r.status, 200, "%s: %d %s", path, r.status, r.body);
    cJSON *j = cJSON_Parse(r.body);
    cr_assert(j, "%s: not JSON: %s", path, r.body);
    free(r.body);
    return j;
}

static int64_t inum(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(o, key);
    cr_assert(cJSON_IsNumber(v), "no number %s", key);
    return (int64_t)v->valuedouble;
}

static const char *istr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static const cJSON *thread_of(const cJSON *window, int thread)
{
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(window, "threads")) if (inum(t, "thread") == thread) return t;
    cr_assert_fail("thread %d not in the window", thread);
    return NULL;
}

/* "s d state/reason cpu" per span, one line each. */
static char *state_lines(const cJSON *thread)
{
    char *text;
    size_t len;
    FILE *f = open_memstream(&text, &len);
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(thread, "states"))
    {
        const cJSON *cpu = cJSON_GetObjectItem(s, "cpu");
        fprintf(f, "%lld %lld %s%s%s%s %d\n", (long long)inum(s, "s"), (long long)inum(s, "d"), istr(s, "state"),
                cJSON_GetObjectItem(s, "reason") ? ":" : "", istr(s, "reason"), istr(s, "why"),
                cpu ? cpu->valueint : -1);
    }
    fclose(f);
    return text;
}

Test(serve_rt, window_rows_of_the_scenario_are_exact)
{
    const char *paths[] = {scenario(), NULL};
    int port;
    wv_server *srv = ts_server(paths, 0, &port);
    cJSON *w = get_json(port, "/api/traces/t1/window?start=0&end=1000000&px=1000");
    /* rttrace.h: main and worker, span by span (us); every span is wider
     * than a pixel (1 us), so all are listed */
    char *main_states = state_lines(thread_of(w, 1)), *worker_states = state_lines(thread_of(w, 2));
    cr_expect_str_eq(main_states, "10000 190000 running 0\n"
                                  "200000 60000 runnablepreempted 0\n"
                                  "260000 140000 running 1\n"
                                  "400000 200000 blocked:io 1\n"
                                  "600000 200000 running 1\n"
                                  "800000 100000 blocked:blocked 1\n"
                                  "900000 100000 running 1\n");
    cr_expect_str_eq(worker_states, "10000 40000 runnablestarting -1\n"
                                    "50000 50000 running 2\n"
                                    "100000 200000 blocked:lock 2\n"
                                    "300000 200000 running 0\n"
                                    "500000 80000 blocked:gc 0\n"
                                    "580000 120000 running 0\n"
                                    "700000 50000 runnablepreempted 0\n"
                                    "750000 30000 running 0\n");
    free(main_states);
    free(worker_states);
    cr_expect_null(cJSON_GetObjectItem(thread_of(w, 3), "states"), "gc never switched: no state row");

    /* CPUs: which thread ran where */
    char *text;
    size_t len;
    FILE *f = open_memstream(&text, &len);
    const cJSON *c, *s;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(w, "cpus"))
    {
        fprintf(f, "cpu %d:", (int)inum(c, "cpu"));
        cJSON_ArrayForEach(s, cJSON_GetObjectItem(c, "spans")) fprintf(f, " %lld+%lld=%d", (long long)inum(s, "s"),
                                                                        (long long)inum(s, "d"), (int)inum(s, "thread"));
        fprintf(f, "\n");
    }
    fclose(f);
    cr_expect_str_eq(text, "cpu 0: 10000+190000=1 300000+200000=2 580000+120000=2 750000+30000=2\n"
                           "cpu 1: 260000+140000=1 600000+200000=1 900000+100000=1\n"
                           "cpu 2: 50000+50000=2\n");
    free(text);

    /* the worker's lock waits: the mutex, held by main, which released it
     * at 280 us; and the damaged one (op 99, holder 55 unknown) */
    const cJSON *waits = cJSON_GetObjectItem(thread_of(w, 2), "waits");
    cr_assert_eq(cJSON_GetArraySize(waits), 2);
    const cJSON *lock = cJSON_GetArrayItem(waits, 0);
    cr_expect_str_eq(istr(lock, "kind"), "lock");
    cr_expect_str_eq(istr(lock, "name"), "pthread_mutex_lock");
    cr_expect_str_eq(istr(lock, "lock"), "0x1000");
    cr_expect_eq(inum(lock, "s"), 100000);
    cr_expect_eq(inum(lock, "d"), 250000);
    cr_expect_eq(inum(lock, "holder"), 1);
    cr_expect_eq(inum(lock, "release_ns"), 280000);
    const cJSON *odd = cJSON_GetArrayItem(waits, 1);
    cr_expect_str_eq(istr(odd, "name"), "op 99");
    cr_expect_eq(inum(odd, "holder"), 0);
    cr_expect_null(cJSON_GetObjectItem(odd, "release_ns"));
    const cJSON *io = cJSON_GetArrayItem(cJSON_GetObjectItem(thread_of(w, 1), "waits"), 0);
    cr_expect_str_eq(istr(io, "name"), "read");
    cr_expect_eq(inum(io, "fd"), 3);
    cr_expect_eq(inum(io, "bytes"), 10);
    cr_expect_eq(inum(io, "s"), 400000);
    cr_expect_eq(inum(io, "d"), 250000);

    /* one lane holds both pauses: they do not overlap */
    const cJSON *lanes = cJSON_GetObjectItem(w, "lanes");
    cr_assert_eq(cJSON_GetArraySize(lanes), 1);
    const cJSON *pauses = cJSON_GetObjectItem(cJSON_GetArrayItem(lanes, 0), "pauses");
    cr_assert_eq(cJSON_GetArraySize(pauses), 2);
    cr_expect_str_eq(istr(cJSON_GetArrayItem(pauses, 0), "name"), "mark");
    cr_expect_eq(inum(cJSON_GetArrayItem(pauses, 0), "s"), 510000);
    cr_expect_eq(inum(cJSON_GetArrayItem(pauses, 0), "d"), 50000);
    cr_expect_str_eq(istr(cJSON_GetArrayItem(pauses, 1), "kind"), "allocator");
    cr_expect_eq(inum(cJSON_GetArrayItem(pauses, 1), "size"), 4096);
    cr_expect_eq(inum(cJSON_GetArrayItem(pauses, 1), "d"), 30000);

    /* the heap samples are a counter like any other */
    const cJSON *counter;
    int heap = 0;
    cJSON_ArrayForEach(counter, cJSON_GetObjectItem(w, "counters")) if (!strcmp(istr(counter, "name"), "heap (malloc)"))
        heap = cJSON_GetArraySize(cJSON_GetObjectItem(counter, "points"));
    cr_expect_eq(heap, 1);
    cJSON_Delete(w);
    wv_server_free(srv);
}

/* What `weft json` (wv_chrome_write) or `weft stats` (wv_stats_print) writes for a file. */
static char *output_of(const char *path, int (*write)(wv_reader *, FILE *))
{
    char *text;
    size_t len;
    FILE *f = open_memstream(&text, &len);
    wv_reader *r = wv_reader_open(path);
    cr_assert_eq(write(r, f), 0);
    wv_reader_close(r);
    fclose(f);
    return text;
}

/* ---- merged blocks against `weft json` --------------------------------------------------------- */

#define KEYS 8
static const char *const keys[KEYS] = {"running", "runnable", "lock", "io", "sleep", "condition", "gc", "blocked"};

static int key_index(const char *k)
{
    for (int i = 0; i < KEYS; i++)
        if (!strcmp(keys[i], k))
            return i;
    cr_assert_fail("state key %s", k);
    return 0;
}

/* A state slice name of `weft json` ("Running", "Blocked: io", "Blocked") as a key. */
static int chrome_state(const char *name)
{
    if (!strcmp(name, "Running"))
        return 0;
    if (!strcmp(name, "Runnable"))
        return 1;
    if (!strcmp(name, "Blocked"))
        return 7;
    cr_assert(!strncmp(name, "Blocked: ", 9), "%s", name);
    return key_index(name + 9);
}

typedef struct totals {
    int64_t ns[16][KEYS]; /* per thread, per state */
    uint64_t spans[16];
    int64_t cpu_ns[16];   /* per CPU */
    uint64_t cpu_spans[16];
} totals;

/* Time per state and span counts of `weft json` (ts and dur in us with ns
 * digits: exact). */
static void chrome_totals(const char *path, totals *t)
{
    char *text = output_of(path, wv_chrome_write);
    cJSON *j = cJSON_Parse(text);
    cr_assert(j);
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "traceEvents"))
    {
        const char *cat = istr(e, "cat");
        if (strcmp(cat, "state") && strcmp(cat, "cpu"))
            continue;
        int64_t d = llround(cJSON_GetObjectItem(e, "dur")->valuedouble * 1000.0);
        int thread = (int)inum(cJSON_GetObjectItem(e, "args"), "thread");
        if (!strcmp(cat, "state")) {
            t->ns[thread][chrome_state(istr(e, "name"))] += d;
            t->spans[thread]++;
        } else {
            int cpu = (int)(inum(e, "tid") - 0x43000000);
            t->cpu_ns[cpu] += d;
            t->cpu_spans[cpu]++;
        }
    }
    cJSON_Delete(j);
    free(text);
}

/* The same from a window answer: listed spans plus merged blocks. */
static void window_totals(const cJSON *w, totals *t)
{
    const cJSON *th, *s, *b, *c, *ns;
    cJSON_ArrayForEach(th, cJSON_GetObjectItem(w, "threads"))
    {
        int thread = (int)inum(th, "thread");
        cJSON_ArrayForEach(s, cJSON_GetObjectItem(th, "states"))
        {
            const char *state = istr(s, "state");
            t->ns[thread][key_index(strcmp(state, "blocked") ? state : istr(s, "reason"))] += inum(s, "d");
            t->spans[thread]++;
        }
        cJSON_ArrayForEach(b, cJSON_GetObjectItem(th, "state_blocks"))
        {
            int64_t sum = 0;
            cJSON_ArrayForEach(ns, cJSON_GetObjectItem(b, "ns"))
            {
                t->ns[thread][key_index(ns->string)] += (int64_t)ns->valuedouble;
                sum += (int64_t)ns->valuedouble;
            }
            cr_expect_leq(sum, inum(b, "d"), "a block's states fit in it");
            t->spans[thread] += (uint64_t)inum(b, "count");
        }
    }
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(w, "cpus"))
    {
        int cpu = (int)inum(c, "cpu");
        cJSON_ArrayForEach(s, cJSON_GetObjectItem(c, "spans")) t->cpu_ns[cpu] += inum(s, "d"), t->cpu_spans[cpu]++;
        cJSON_ArrayForEach(b, cJSON_GetObjectItem(c, "blocks")) t->cpu_spans[cpu] += (uint64_t)inum(b, "count");
    }
}

/* Thread 1 switches 4000 times: runs 600 ns from each us, then is
 * preempted (one in 3) or blocks; every other block is a read (an I/O wait
 * covering it), on CPU k % 3. */
static const char *dense_trace(void)
{
    tg_opts o = tg_defaults();
    o.sched_source = WEFT_SCHED_SRC_PERF;
    tg *g = tg_new(&o);
    tg_thread(g, 0, 900, "weft-sampler");
    tg_thread(g, 1, 101, "busy");
    tg_batch_chunk(g, 0);
    tg_ev(g, RT_B0, WEFT_EV_TIME_BASE, 0, 0, 0);
    for (uint64_t k = 0; k < 4000; k++) {
        tg_ev(g, RT_B0 + 1000 * k, WEFT_EV_SCHED, 1, k % 3, WEFT_SWITCH_IN);
        tg_ev(g, RT_B0 + 1000 * k + 600, WEFT_EV_SCHED, 1, k % 3, k % 3 == 1 ? WEFT_SWITCH_PREEMPTED : WEFT_SWITCH_OUT);
    }
    tg_batch_end(g);
    tg_batch_chunk(g, 1);
    tg_ev(g, RT_B0, WEFT_EV_TIME_BASE, 0, 0, 0);
    for (uint64_t k = 0; k < 4000; k += 2)
        if (k % 3 != 1)
            tg_ev5(g, RT_B0 + 1000 * k + 950, WEFT_EV_IO, WEFT_IO_READ, 4, 8, 300, 0x1234);
    tg_ev(g, RT_B0 + 4000000, WEFT_EV_COUNTER, 0, 1, 0);
    tg_batch_end(g);
    const char *p = tu_path("dense.weft");
    cr_assert_eq(tg_write(g, p), 0);
    tg_free(g);
    return p;
}

Test(serve_rt, merged_blocks_count_every_span_and_its_time_per_state)
{
    const char *path = dense_trace();
    const char *paths[] = {path, NULL};
    totals want = {0};
    chrome_totals(path, &want);
    cr_assert_gt(want.spans[1], 7900, "%llu spans", (unsigned long long)want.spans[1]);
    int port;
    wv_server *srv = ts_server(paths, 0, &port);
    static const int pxs[] = {1, 13, 640, 1920, 8192};
    for (size_t k = 0; k < sizeof pxs / sizeof pxs[0]; k++) {
        char q[128];
        snprintf(q, sizeof q, "/api/traces/t1/window?start=0&end=4000000&px=%d", pxs[k]);
        cJSON *w = get_json(port, q);
        totals got = {0};
        window_totals(w, &got);
        cr_expect_eq(got.spans[1], want.spans[1], "px %d: spans", pxs[k]);
        for (int s = 0; s < KEYS; s++)
            cr_expect_eq(got.ns[1][s], want.ns[1][s], "px %d: time %s", pxs[k], keys[s]);
        for (int c = 0; c < 3; c++)
            cr_expect_eq(got.cpu_spans[c], want.cpu_spans[c], "px %d: cpu %d spans", pxs[k], c);
        size_t blocks = (size_t)cJSON_GetArraySize(cJSON_GetObjectItem(thread_of(w, 1), "state_blocks"));
        cr_expect(pxs[k] >= 8192 || blocks > 0, "px %d merges", pxs[k]);
        cr_expect_leq(blocks, (size_t)pxs[k], "px %d: at most a block per pixel", pxs[k]);
        cJSON_Delete(w);
    }
    wv_server_free(srv);
}

/* ---- /blocking against `weft stats` ----------------------------------------------------------- */

static double ms(int64_t ns) { return (double)ns / 1e6; }

static void dist_line(FILE *f, const cJSON *d)
{
    fprintf(f, " %8llu %10.3f %10.3f %10.3f %10.3f\n", (unsigned long long)inum(d, "count"), ms(inum(d, "p50_ns")),
            ms(inum(d, "p90_ns")), ms(inum(d, "p99_ns")), ms(inum(d, "max_ns")));
}

static const char *holder_label(const cJSON *h, char *buf, size_t n)
{
    if (!cJSON_IsObject(h))
        return "-";
    snprintf(buf, n, "%s (tid %lld)", istr(h, "name")[0] ? istr(h, "name") : "-", (long long)inum(h, "tid"));
    return buf;
}

/* The blocking sections of `weft stats` (stats_rt.c's formats), rebuilt from
 * a /blocking answer. */
static char *stats_text_of(const cJSON *b)
{
    char *text, label[256];
    size_t len;
    FILE *f = open_memstream(&text, &len);
    const cJSON *r, *lost = cJSON_GetObjectItem(b, "lost");
    if (inum(lost, "total")) {
        fprintf(f, "scheduler records lost: %lld (state tracks there are incomplete)\n", (long long)inum(lost, "total"));
        cJSON_ArrayForEach(r, cJSON_GetObjectItem(lost, "threads"))
            fprintf(f, "  %-30s %10lld\n", holder_label(cJSON_GetObjectItem(r, "thread_ref"), label, sizeof label),
                    (long long)inum(r, "count"));
    }
    const cJSON *lat = cJSON_GetObjectItem(b, "latency");
    if (cJSON_GetArraySize(lat))
        fprintf(f, "scheduler latency (ms, preempted until running again):\n  %10s  %-20s %8s %10s %10s %10s %10s\n",
                "TID", "NAME", "COUNT", "P50", "P90", "P99", "MAX");
    cJSON_ArrayForEach(r, lat)
    {
        const cJSON *t = cJSON_GetObjectItem(r, "thread_ref");
        fprintf(f, "  %10lld  %-20s", (long long)inum(t, "tid"), istr(t, "name")[0] ? istr(t, "name") : "-");
        dist_line(f, r);
    }
    const cJSON *locks = cJSON_GetObjectItem(b, "locks");
    if (cJSON_GetArraySize(locks))
        fprintf(f, "lock waits by call site (ms):\n  %8s %10s %10s  %-24s %s\n", "COUNT", "TOTAL", "MAX", "TOP HOLDER",
                "SITE");
    int n = 0;
    cJSON_ArrayForEach(r, locks) if (n++ < 20) fprintf(
        f, "  %8lld %10.3f %10.3f  %-24s %s\n", (long long)inum(r, "count"), ms(inum(r, "total_ns")),
        ms(inum(r, "max_ns")), holder_label(cJSON_GetObjectItem(r, "top_holder"), label, sizeof label), istr(r, "site"));
    if (inum(b, "lock_sites") > 20)
        fprintf(f, "  ... %lld more sites\n", (long long)inum(b, "lock_sites") - 20);
    const cJSON *io = cJSON_GetObjectItem(b, "io");
    if (cJSON_GetArraySize(io))
        fprintf(f, "I/O waits by call site (ms):\n  %8s %10s %10s %12s  %-16s %s\n", "COUNT", "TOTAL", "MAX", "BYTES", "OP",
                "SITE");
    n = 0;
    cJSON_ArrayForEach(r, io) if (n++ < 20) fprintf(f, "  %8lld %10.3f %10.3f %12lld  %-16s %s\n", (long long)inum(r, "count"),
                                                    ms(inum(r, "total_ns")), ms(inum(r, "max_ns")),
                                                    (long long)inum(r, "bytes"), istr(r, "op"), istr(r, "site"));
    const cJSON *pauses = cJSON_GetObjectItem(b, "pauses");
    if (cJSON_GetArraySize(pauses)) {
        fprintf(f, "pauses (ms):\n  %-12s %8s %10s %10s %10s %10s\n", "KIND", "COUNT", "P50", "P90", "P99", "MAX");
        cJSON_ArrayForEach(r, pauses)
        {
            fprintf(f, "  %-12s", istr(r, "kind"));
            dist_line(f, r);
        }
        fprintf(f, "  minimum mutator utilization:");
        n = 0;
        cJSON_ArrayForEach(r, cJSON_GetObjectItem(cJSON_GetObjectItem(b, "mmu"), "stats"))
            fprintf(f, "%s %lld ms %.1f %%", n++ ? "," : "", (long long)inum(r, "window_ns") / 1000000,
                    100.0 * cJSON_GetObjectItem(r, "utilization")->valuedouble);
        fprintf(f, "\n");
    }
    fclose(f);
    return text;
}

/* `weft stats` of the file, from its first blocking section on. */
static char *stats_text(const char *path)
{
    char *text = output_of(path, wv_stats_print);
    char *status = strstr(text, "\nstatus:"), *from = status ? strchr(status + 1, '\n') : NULL;
    cr_assert_not_null(from, "%s", text);
    memmove(text, from + 1, strlen(from + 1) + 1);
    return text;
}

/* Every figure to the ns, against the tables `weft stats` builds (the same
 * calls as stats.c: a model of its own over every event). */
static void expect_exact(const char *path, const cJSON *b)
{
    wv_reader *r = wv_reader_open(path);
    wv_blocking *bl = wv_blocking_new(r);
    wv_event ev;
    int64_t end = 0;
    while (wv_reader_next(r, &ev)) {
        cr_assert_eq(wv_blocking_add(bl, &ev), 0);
        end = ev.ns > end ? ev.ns : end;
    }
    wv_blocking_finish(bl, end);
    const wv_site_row *rows;
    size_t n = wv_blocking_lock_sites(bl, &rows);
    cr_assert_eq((size_t)inum(b, "lock_sites"), n);
    const cJSON *row;
    size_t i = 0;
    cJSON_ArrayForEach(row, cJSON_GetObjectItem(b, "locks"))
    {
        cr_expect_eq((uint64_t)inum(row, "count"), rows[i].count);
        cr_expect_eq(inum(row, "total_ns"), rows[i].total_ns);
        cr_expect_eq(inum(row, "max_ns"), rows[i].max_ns);
        cr_expect_eq(inum(row, "top_holder_ns"), rows[i].top_holder_ns);
        cr_expect_eq(strtoull(istr(row, "site_addr"), NULL, 16), rows[i].site);
        i++;
    }
    n = wv_blocking_io_sites(bl, &rows);
    cr_assert_eq((size_t)inum(b, "io_sites"), n);
    i = 0;
    cJSON_ArrayForEach(row, cJSON_GetObjectItem(b, "io"))
    {
        cr_expect_eq(inum(row, "total_ns"), rows[i].total_ns);
        cr_expect_eq((uint64_t)inum(row, "bytes"), rows[i].bytes);
        i++;
    }
    cJSON_ArrayForEach(row, cJSON_GetObjectItem(b, "latency"))
    {
        wv_dist *d = wv_blocking_latency(bl, (uint32_t)inum(cJSON_GetObjectItem(row, "thread_ref"), "thread"));
        cr_assert_not_null(d);
        cr_expect_eq((uint64_t)inum(row, "count"), d->count);
        cr_expect_eq(inum(row, "total_ns"), d->total);
        cr_expect_eq(inum(row, "p50_ns"), wv_dist_quantile(d, 0.5));
        cr_expect_eq(inum(row, "p90_ns"), wv_dist_quantile(d, 0.9));
        cr_expect_eq(inum(row, "p99_ns"), wv_dist_quantile(d, 0.99));
        cr_expect_eq(inum(row, "max_ns"), d->max);
    }
    cJSON_ArrayForEach(row, cJSON_GetObjectItem(b, "pauses"))
    {
        wv_dist *d = wv_blocking_pauses(bl, strcmp(istr(row, "kind"), "gc") ? WV_PAUSE_ALLOC : WV_PAUSE_GC);
        cr_expect_eq((uint64_t)inum(row, "count"), d->count);
        cr_expect_eq(inum(row, "p99_ns"), wv_dist_quantile(d, 0.99));
        cr_expect_eq(inum(row, "max_ns"), d->max);
    }
    i = 0;
    cJSON_ArrayForEach(row, cJSON_GetObjectItem(cJSON_GetObjectItem(b, "mmu"), "stats"))
    {
        cr_expect_eq(inum(row, "window_ns"), wv_blocking_mmu_window(i));
        cr_expect(fabs(cJSON_GetObjectItem(row, "utilization")->valuedouble - wv_blocking_mmu(bl, i)) < 1e-9,
                  "mmu %zu: %f vs %f", i, cJSON_GetObjectItem(row, "utilization")->valuedouble, wv_blocking_mmu(bl, i));
        i++;
    }
    wv_blocking_free(bl);
    wv_reader_close(r);
}

static void check_blocking(const char *path)
{
    const char *paths[] = {path, NULL};
    int port;
    wv_server *srv = ts_server(paths, 0, &port);
    cJSON *b = get_json(port, "/api/traces/t1/blocking");
    char *stats = stats_text(path), *mine = stats_text_of(b);
    cr_expect_str_eq(mine, stats);
    expect_exact(path, b);
    /* a second request gets the same answer, from the cache */
    ts_resp again = ts_get(port, "/api/traces/t1/blocking");
    char *first = cJSON_PrintUnformatted(b);
    cJSON *j = cJSON_Parse(again.body);
    char *second = cJSON_PrintUnformatted(j);
    cr_expect_str_eq(first, second);
    free(first), free(second), free(again.body);
    cJSON_Delete(j);
    free(stats);
    free(mine);
    cJSON_Delete(b);
    wv_server_free(srv);
}

Test(serve_rt, blocking_of_the_scenario_is_weft_stats)
{
    check_blocking(scenario());
}

Test(serve_rt, blocking_of_a_generated_trace_is_weft_stats)
{
    const char *path = tu_path("gen.weft");
    char events[] = "100000", threads[] = "4", seconds[] = "1", rt[] = "rt";
    char *argv[] = {WEFT_GENTRACE, (char *)path, events, threads, seconds, rt, NULL};
    char *out;
    cr_assert_eq(tu_run(argv, NULL, &out), 0, "%s", out);
    free(out);
    check_blocking(path);
}

/* ---- /wait, the summary, errors -------------------------------------------------------------- */

static void add_module(void *ctx, uint64_t start, uint64_t end, uint64_t offset, const char *path)
{
    tg_module(ctx, start, end, offset, path);
}

Test(serve_rt, a_lock_wait_names_its_site_holder_and_the_holders_region)
{
    /* "holder" releases mutex 0x1000 at 20 us inside its region "commit"
     * [10, 30]; "waiter" waited for it [5, 40] and reads from fd 4 after */
    tg *g = tg_new(NULL);
    tu_self_mappings(add_module, g); /* so the sites in this test program are named */
    tg_string(g, 1, "commit");
    tg_thread(g, 1, 101, "holder");
    tg_thread(g, 2, 102, "waiter");
    tg_batch_chunk(g, 1);
    tg_ev(g, RT_US(0), WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, RT_US(10), WEFT_EV_REGION_BEGIN, 0, 1, 0);
    tg_ev(g, RT_US(20), WEFT_EV_LOCK_RELEASE, 0x1000, 0, 0);
    tg_ev(g, RT_US(30), WEFT_EV_REGION_END, 0, 0, 0);
    tg_batch_end(g);
    tg_batch_chunk(g, 2);
    tg_ev(g, RT_US(0), WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev5(g, RT_US(40), WEFT_EV_LOCK_WAIT, WEFT_LOCK_MUTEX, 0x1000, rt_lock_site(&lock_line), 35000, 1);
    tg_ev5(g, RT_US(60), WEFT_EV_IO, WEFT_IO_READ, 4, 10, 5000, rt_io_site(&io_line));
    tg_batch_end(g);
    const char *paths[] = {tu_path("holder.weft"), NULL};
    cr_assert_eq(tg_write(g, paths[0]), 0);
    tg_free(g);
    int port;
    wv_server *srv = ts_server(paths, 0, &port);
    cJSON *w = get_json(port, "/api/traces/t1/wait?i=0");
    char site[256];
    snprintf(site, sizeof site, "take_the_lock (rttrace.c:%d)", lock_line);
    cr_expect_str_eq(istr(w, "site"), site);
    cr_expect_str_eq(istr(w, "kind"), "lock");
    cr_expect_eq(inum(w, "s"), 5000);
    cr_expect_eq(inum(w, "d"), 35000);
    cr_expect_eq(inum(w, "release_ns"), 20000);
    cr_expect_str_eq(istr(cJSON_GetObjectItem(w, "holder_ref"), "name"), "holder");
    cr_expect_str_eq(istr(cJSON_GetObjectItem(w, "thread_ref"), "name"), "waiter");
    const cJSON *hs = cJSON_GetObjectItem(w, "holder_slice");
    cr_assert(cJSON_IsObject(hs), "the holder was in a region");
    cr_expect_str_eq(istr(hs, "name"), "commit");
    cr_expect_eq(inum(hs, "s"), 10000);
    cr_expect_eq(inum(hs, "d"), 20000);
    cJSON_Delete(w);
    w = get_json(port, "/api/traces/t1/wait?i=1");
    snprintf(site, sizeof site, "read_the_file (rttrace.c:%d)", io_line);
    cr_expect_str_eq(istr(w, "site"), site);
    cr_expect_eq(inum(w, "result"), 10);
    cJSON_Delete(w);
    ts_expect(port, "/api/traces/t1/wait?i=2", 404, "{\"error\":\"no wait 2 in this trace\"}\n");
    ts_expect(port, "/api/traces/t1/wait?i=x", 400, NULL);
    ts_expect(port, "/api/traces/t1/wait", 400, NULL);
    wv_server_free(srv);
}

Test(serve_rt, summary_says_which_runtime_views_exist)
{
    const char *paths[] = {scenario(), NULL};
    int port;
    wv_server *srv = ts_server(paths, 0, &port);
    cJSON *s = get_json(port, "/api/traces/t1/summary");
    cr_expect_str_eq(istr(s, "sched_source"), "perf");
    char *cpus = cJSON_PrintUnformatted(cJSON_GetObjectItem(s, "cpus"));
    cr_expect_str_eq(cpus, "[0,1,2]");
    free(cpus);
    cr_expect_eq(inum(s, "gc_lanes"), 1);
    const cJSON *rt = cJSON_GetObjectItem(s, "runtime");
    cr_expect_eq(inum(rt, "lost"), 3);
    cr_expect_eq(inum(rt, "ignored"), 4);
    char *has = cJSON_PrintUnformatted(cJSON_GetObjectItem(s, "has"));
    cr_expect_str_eq(has,
                     "{\"tasks\":false,\"regions\":false,\"logs\":true,\"counters\":true,\"thread_states\":true,"
                     "\"cpus\":true,\"locks\":true,\"io\":true,\"gc\":true,\"allocator\":true,\"pauses\":true,"
                     "\"heap\":true,\"uv\":false,\"sched_latency\":true,\"schedstat\":false,\"blocking\":true}");
    free(has);
    const cJSON *t;
    char flags[512] = "";
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(s, "threads"))
    {
        size_t n = strlen(flags);
        snprintf(flags + n, sizeof flags - n, "%s%s%s%s|", cJSON_IsTrue(cJSON_GetObjectItem(t, "system")) ? "system " : "",
                 cJSON_IsTrue(cJSON_GetObjectItem(t, "states")) ? "states " : "",
                 cJSON_IsTrue(cJSON_GetObjectItem(t, "waits")) ? "waits " : "",
                 cJSON_IsTrue(cJSON_GetObjectItem(t, "uv")) ? "uv" : "");
    }
    cr_expect_str_eq(flags, "system |states waits |states waits ||");
    cJSON_Delete(s);
    wv_server_free(srv);
}

/* The values of counter `name` in a window, in order. */
static char *counter_values(const cJSON *w, const char *name)
{
    char *text;
    size_t len;
    FILE *f = open_memstream(&text, &len);
    const cJSON *c, *pt;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(w, "counters")) if (!strcmp(istr(c, "name"), name))
        cJSON_ArrayForEach(pt, cJSON_GetObjectItem(c, "points"))
            fprintf(f, "%lld@%lld ", (long long)cJSON_GetArrayItem(pt, 1)->valuedouble,
                    (long long)cJSON_GetArrayItem(pt, 0)->valuedouble);
    fclose(f);
    return text;
}

/* Where perf_event_open is refused, the sampler reads schedstat: no
 * switches, so no state rows, but each thread gets its share of every
 * sampling period on a CPU and in the run queue as two counters. */
Test(serve_rt, schedstat_samples_become_cpu_and_run_queue_counters)
{
    tg_opts o = tg_defaults();
    o.sched_source = WEFT_SCHED_SRC_SCHEDSTAT;
    tg *g = tg_new(&o);
    tg_thread(g, 0, 900, "weft-sampler");
    tg_thread(g, 1, 101, "main");
    tg_batch_chunk(g, 0);
    tg_ev(g, RT_US(0), WEFT_EV_TIME_BASE, 0, 0, 0);
    /* cumulative ns, as the kernel counts: 1 ms periods, the first of them
     * half on a CPU and a quarter waiting, then all on a CPU, then mostly
     * waiting; the last sample repeats its time and adds no period */
    static const uint64_t at[] = {0, 1000, 2000, 3000, 3000}, run[] = {0, 500000, 1500000, 1500000, 1600000},
                          wait[] = {0, 250000, 250000, 1000000, 1000000};
    for (int i = 0; i < 5; i++)
        tg_ev5(g, RT_US(at[i]), WEFT_EV_SCHEDSTAT, 1, run[i], wait[i], (uint64_t)i, 0);
    tg_ev5(g, RT_US(3500), WEFT_EV_SCHEDSTAT, 99, 1, 2, 3, 0); /* no thread 99 */
    tg_batch_end(g);
    const char *paths[] = {tu_path("schedstat.weft"), NULL};
    cr_assert_eq(tg_write(g, paths[0]), 0);
    tg_free(g);
    int port;
    wv_server *srv = ts_server(paths, 0, &port);
    cJSON *w = get_json(port, "/api/traces/t1/window?start=0&end=4000000&px=4000");
    char *on = counter_values(w, "main (tid 101) on CPU (%)");
    char *queued = counter_values(w, "main (tid 101) waiting for a CPU (%)");
    cr_expect_str_eq(on, "50@0 100@1000000 0@2000000 ");
    cr_expect_str_eq(queued, "25@0 0@1000000 75@2000000 ");
    free(on);
    free(queued);
    char *text = cJSON_PrintUnformatted(w);
    cr_expect_null(strstr(text, "\"states\""), "schedstat draws no states");
    free(text);
    cJSON_Delete(w);
    wv_server_free(srv);
}

Test(serve_rt, a_trace_without_runtime_events_has_no_blocking_page)
{
    tg *g = tg_new(NULL);
    tg_string(g, 1, "work");
    tg_thread(g, 0, 9, "main");
    tg_batch_chunk(g, 0);
    tg_ev(g, RT_B0, WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, RT_B0 + 10, WEFT_EV_REGION_BEGIN, 0, 1, 0);
    tg_ev(g, RT_B0 + 20, WEFT_EV_REGION_END, 0, 0, 0);
    tg_batch_end(g);
    const char *paths[] = {tu_path("plain.weft"), NULL};
    cr_assert_eq(tg_write(g, paths[0]), 0);
    tg_free(g);
    int port;
    wv_server *srv = ts_server(paths, 0, &port);
    ts_expect(port, "/api/traces/t1/blocking", 404, "{\"error\":\"this trace has no runtime events\"}\n");
    ts_expect(port, "/api/traces/t1/wait?i=0", 404, "{\"error\":\"no wait 0 in this trace\"}\n");
    ts_resp r = ts_get(port, "/api/traces/t1/window?start=0&end=100&px=10");
    cr_expect(!strstr(r.body, "\"states\"") && !strstr(r.body, "\"cpus\"") && !strstr(r.body, "\"lanes\""),
              "no runtime rows: %s", r.body);
    free(r.body);
    wv_server_free(srv);
}

/* ---- damaged input -------------------------------------------------------------------------- */

static int answer(wv_trace *t, int (*h)(wv_trace *, const wv_params *, wv_jw *, char *), const char *qs)
{
    char buf[256], err[WV_ERR_MAX], *out;
    size_t len;
    wv_params p;
    cr_assert_eq(wv_params_parse(&p, qs, buf, sizeof buf, err), 0);
    FILE *f = open_memstream(&out, &len);
    wv_jw w;
    cr_assert_eq(wv_jw_init(&w, f), 0);
    int status = h(t, &p, &w, err);
    wv_jw_close(&w);
    fclose(f);
    if (status == 200) {
        cJSON *j = cJSON_Parse(out);
        cr_expect(j, "%s?%s: not JSON", qs, out);
        cJSON_Delete(j);
    }
    free(out);
    return status;
}

/* Random runtime events (any code, mostly small arguments, sometimes any
 * 64-bit value): every answer is valid JSON, nothing crashes (run under
 * ASan), and every listed item can be asked for. */
Test(serve_rt, random_runtime_events_give_valid_answers)
{
    uint64_t rng = 0x2545f4914f6cdd1dull;
    size_t items = 0, states = 0;
    for (int round = 0; round < 12; round++) {
        tg *g = rt_random_trace(&rng, 2 + (unsigned)(round % 4), 300);
        const char *path = tu_path("random.weft");
        cr_assert_eq(tg_write(g, path), 0);
        tg_free(g);
        wv_reader *r = wv_reader_open(path);
        wv_index *x = wv_index_load(r);
        wv_reader_close(r);
        cr_assert_not_null(x);
        wv_trace t = {.id = "t1", .x = x};
        char q[128];
        int64_t end = x->end_ns > 0 ? x->end_ns : 1;
        static const int pxs[] = {1, 50, 1920};
        for (size_t k = 0; k < sizeof pxs / sizeof pxs[0]; k++) {
            snprintf(q, sizeof q, "start=0&end=%lld&px=%d", (long long)end, pxs[k]);
            cr_expect_eq(answer(&t, wv_api_window, q), 200, "round %d: %s", round, q);
            snprintf(q, sizeof q, "start=%lld&end=%lld&px=%d", (long long)end / 3, (long long)end / 2 + 1, pxs[k]);
            cr_expect_eq(answer(&t, wv_api_window, q), 200, "round %d: %s", round, q);
        }
        cr_expect_eq(answer(&t, wv_api_summary, ""), 200);
        cr_expect_eq(answer(&t, wv_api_blocking, ""), x->rt ? 200 : 404, "round %d", round);
        for (size_t i = 0; x->rt && i < x->rt->nitems; i++) {
            snprintf(q, sizeof q, "i=%zu", i);
            cr_expect_eq(answer(&t, wv_api_wait, q), 200, "round %d: %s", round, q);
        }
        items += x->rt ? x->rt->nitems : 0;
        states += x->rt ? x->rt->nstates : 0;
        wv_index_free(x);
    }
    cr_expect(items > 100 && states > 5, "the damage still leaves waits (%zu) and state rows (%zu)", items, states);
}
