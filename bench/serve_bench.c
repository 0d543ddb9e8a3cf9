/*
 * serve_bench.c - weft-serve-bench: the speed and memory figures of
 * `weft serve` (issue 4) on a big trace, each beside a baseline measured in
 * the same run:
 *
 *   index build   reader + model + index (wv_index_load), beside reading and
 *                 decoding alone and reader + model alone (what `weft stats`
 *                 does)
 *   command start `weft serve FILE --addr 127.0.0.1:0` until it prints its
 *                 URL (listening; it indexes after) and until its first
 *                 answer about the trace (indexed), beside `weft stats FILE`
 *   window query  /window at 1920 px over random pans and zooms (full range
 *                 to 1 us), p50/p99 server side (the handler, in process),
 *                 beside a scan of every slice in the same windows (no LOD);
 *                 and over HTTP to the child server (client side); for a
 *                 trace with runtime events, beside the same windows with
 *                 the runtime rows hidden
 *   memory        index bytes per event and the server's RSS, beside the
 *                 .weft file size and the size of the trace's Chrome JSON
 *
 * Usage: weft-serve-bench [--trace FILE] [--events N] [--threads T]
 *                         [--seconds S] [--windows N] [--quick] [--rt]
 * Without --trace it writes a synthetic trace with weft_gentrace (10 M
 * events, 4 threads, 5 s by default; --rt: with runtime events). Speed is never asserted: the figures
 * are printed for a person to judge, on a machine they know.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chrome.h"
#include "http_get.h"
#include "model.h"
#include "serve_json.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* VmRSS or VmHWM of a process, in KiB. */
static long proc_kib(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, strlen(field)))
            v = strtol(line + strlen(field) + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int k = (int)ceil(p / 100.0 * n);
    return v[k > 0 ? k - 1 : 0];
}

/* A FILE that counts what is written to it. */
static ssize_t count_write(void *c, const char *buf, size_t n)
{
    *(uint64_t *)c += n;
    return (ssize_t)n;
}

static FILE *counting_file(uint64_t *count)
{
    return fopencookie(count, "w", (cookie_io_functions_t){.write = count_write});
}

static wv_reader *open_trace(const char *path)
{
    wv_reader *r = wv_reader_open(path);
    if (!r || wv_reader_status(r) == WV_FAILED) {
        fprintf(stderr, "weft-serve-bench: %s\n", r ? wv_reader_message(r) : "out of memory");
        exit(1);
    }
    return r;
}

/* ---- windows -------------------------------------------------------------- */

typedef struct window {
    int64_t start, end;
} window;

/* A fixed mix: every tenth the full range, the rest a random centre with a
 * width log-uniform between 1 us and the full range. */
static window *make_windows(int n, int64_t dur)
{
    window *w = malloc((size_t)n * sizeof *w);
    unsigned seed = 42;
    for (int i = 0; i < n; i++) {
        if (i % 10 == 0) {
            w[i] = (window){0, dur};
            continue;
        }
        double lw = log(1000.0) + (log((double)dur) - log(1000.0)) * rand_r(&seed) / (double)RAND_MAX;
        int64_t width = (int64_t)exp(lw);
        int64_t c = (int64_t)((double)dur * rand_r(&seed) / (double)RAND_MAX);
        int64_t s = c - width / 2 < 0 ? 0 : c - width / 2;
        w[i] = (window){s, s + (width > 0 ? width : 1)};
    }
    return w;
}

static double window_query(wv_trace *t, window win, uint64_t *bytes)
{
    char qs[128], buf[128], err[WV_ERR_MAX];
    snprintf(qs, sizeof qs, "start=%lld&end=%lld&px=1920", (long long)win.start, (long long)win.end);
    wv_params p;
    wv_params_parse(&p, qs, buf, sizeof buf, err);
    FILE *f = counting_file(bytes);
    wv_jw w;
    wv_jw_init(&w, f);
    double t0 = now_s();
    int status = wv_api_window(t, &p, &w, err);
    wv_jw_close(&w);
    double dt = now_s() - t0;
    fclose(f);
    if (status != 200)
        fprintf(stderr, "weft-serve-bench: window %lld..%lld: %s\n", (long long)win.start,
                (long long)win.end, err);
    return dt;
}

/* The baseline: touch every slice overlapping the window, as a server
 * without levels of detail would. */
static double scan_query(const wv_index *x, window win, uint64_t *seen)
{
    double t0 = now_s();
    for (size_t r = 0; r < x->nrows; r++) {
        const wv_row *row = &x->rows[r];
        for (size_t i = wv_row_first_after(row, win.start); i < row->n && row->sl[i].s < win.end; i++)
            *seen += row->sl[i].name + 1;
    }
    return now_s() - t0;
}

/* ---- the child server ----------------------------------------------------- */

typedef struct child {
    pid_t pid;
    int port;
    double ready_s, indexed_s; /* URL printed; first answer about the trace */
} child;

static child start_server(const char *weft, const char *trace)
{
    int pipefd[2];
    child c = {0};
    if (pipe(pipefd))
        return c;
    double t0 = now_s();
    c.pid = fork();
    if (c.pid == 0) {
        dup2(pipefd[1], 1);
        close(pipefd[0]);
        execl(weft, weft, "serve", trace, "--addr", "127.0.0.1:0", (char *)NULL);
        _exit(127);
    }
    close(pipefd[1]);
    FILE *f = fdopen(pipefd[0], "r");
    char line[512];
    if (f && fgets(line, sizeof line, f)) {
        c.ready_s = now_s() - t0;
        char *colon = strrchr(line, ':');
        c.port = colon ? atoi(colon + 1) : 0;
    }
    if (f)
        fclose(f);
    free(c.port ? hg_get(c.port, "/api/traces", NULL, NULL) : NULL); /* waits for the index */
    c.indexed_s = now_s() - t0;
    return c;
}

static double run_wall(const char *weft, const char *cmd, const char *trace)
{
    double t0 = now_s();
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout))
            _exit(127);
        execl(weft, weft, cmd, trace, (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    return now_s() - t0;
}

/* ---- main ----------------------------------------------------------------- */

int main(int argc, char **argv)
{
    mallopt(M_MMAP_THRESHOLD, 1 << 20); /* as `weft serve` does */
    const char *trace = NULL, *events = "10000000", *threads = "4", *seconds = "5";
    int nwin = 200, quick = 0;
    const char *with_rt = "";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick"))
            quick = 1, events = "1000000";
        else if (!strcmp(a, "--rt"))
            with_rt = "rt";
        else if (v && !strcmp(a, "--trace"))
            trace = argv[++i];
        else if (v && !strcmp(a, "--events"))
            events = argv[++i];
        else if (v && !strcmp(a, "--threads"))
            threads = argv[++i];
        else if (v && !strcmp(a, "--seconds"))
            seconds = argv[++i];
        else if (v && !strcmp(a, "--windows"))
            nwin = atoi(argv[++i]) > 0 ? atoi(argv[i]) : 200;
        else {
            fprintf(stderr, "usage: weft-serve-bench [--trace FILE] [--events N] [--threads T] "
                            "[--seconds S] [--windows N] [--quick] [--rt]\n");
            return 2;
        }
    }
    char tmp[] = "/tmp/weft-serve-bench-XXXXXX.weft";
    if (!trace) {
        int fd = mkstemps(tmp, 5);
        if (fd < 0)
            return 1;
        close(fd);
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "'%s' '%s' %s %s %s %s >/dev/null", WEFT_SERVE_BENCH_GENTRACE, tmp,
                 events, threads, seconds, with_rt);
        if (system(cmd)) {
            fprintf(stderr, "weft-serve-bench: %s failed\n", cmd);
            return 1;
        }
        trace = tmp;
    }

    /* baselines: decode only, then reader + model */
    wv_reader *r = open_trace(trace);
    wv_event ev;
    uint64_t nev = 0;
    double t0 = now_s(), c0 = cpu_s();
    while (wv_reader_next(r, &ev))
        nev++;
    double t_decode = now_s() - t0, c_decode = cpu_s() - c0;
    uint64_t file_size = wv_reader_progress(r).file_size;
    wv_reader_close(r);
    r = open_trace(trace);
    wv_model *m = wv_model_new(NULL, NULL);
    t0 = now_s(), c0 = cpu_s();
    wv_model_run(m, r);
    double t_model = now_s() - t0, c_model = cpu_s() - c0;
    wv_model_free(m);
    wv_reader_close(r);

    /* the index */
    long rss0 = proc_kib(getpid(), "VmRSS:");
    r = open_trace(trace);
    t0 = now_s(), c0 = cpu_s();
    wv_index *x = wv_index_load(r);
    double t_index = now_s() - t0, c_index = cpu_s() - c0;
    wv_reader_close(r);
    long rss1 = proc_kib(getpid(), "VmRSS:");
    if (!x)
        return 1;
    wv_trace tr = {.id = "t1", .fd = -1, .x = x};
    snprintf(tr.name, sizeof tr.name, "bench.weft");

    /* window queries, in process */
    window *wins = make_windows(nwin, x->end_ns > 0 ? x->end_ns : 1);
    double *lat = malloc((size_t)nwin * sizeof *lat), *scan = malloc((size_t)nwin * sizeof *scan);
    double full_q = 0, full_scan = 0;
    uint64_t bytes = 0, full_bytes = 0, seen = 0;
    for (int i = 0; i < nwin; i++) {
        uint64_t b = 0;
        lat[i] = window_query(&tr, wins[i], &b);
        scan[i] = scan_query(x, wins[i], &seen);
        bytes += b;
        if (i == 0)
            full_q = lat[0], full_scan = scan[0], full_bytes = b;
    }
    /* the same windows without the runtime rows (state, CPU, wait and pause
     * rows hidden from the handler), when the trace has them */
    double *bare = malloc((size_t)nwin * sizeof *bare), full_bare = 0;
    uint64_t bare_bytes = 0, full_bare_bytes = 0;
    struct wv_rt_index *rt = x->rt;
    for (int i = 0; rt && i < nwin; i++) {
        uint64_t b = 0;
        x->rt = NULL;
        bare[i] = window_query(&tr, wins[i], &b);
        x->rt = rt;
        bare_bytes += b;
        if (i == 0)
            full_bare = bare[0], full_bare_bytes = b;
    }
    double p50 = pct(lat, nwin, 50), p99 = pct(lat, nwin, 99), mx = lat[nwin - 1];
    double s50 = pct(scan, nwin, 50), s99 = pct(scan, nwin, 99);

    /* the Chrome JSON the UI never has to load */
    uint64_t json_bytes = 0;
    if (!quick) {
        r = open_trace(trace);
        FILE *f = counting_file(&json_bytes);
        wv_chrome_write(r, f);
        fclose(f);
        wv_reader_close(r);
    }

    /* the real command, as a child */
    double t_stats = run_wall(WEFT_SERVE_BENCH_WEFT, "stats", trace);
    child c = start_server(WEFT_SERVE_BENCH_WEFT, trace);
    long rss_srv = c.pid > 0 ? proc_kib(c.pid, "VmRSS:") : -1;
    double *http = malloc((size_t)nwin * sizeof *http);
    int nhttp = 0;
    for (int i = 0; c.port && i < nwin; i++) {
        char path[160];
        snprintf(path, sizeof path, "/api/traces/t1/window?start=%lld&end=%lld&px=1920",
                 (long long)wins[i].start, (long long)wins[i].end);
        double h0 = now_s();
        long got;
        free(hg_get(c.port, path, NULL, &got));
        if (got > 0)
            http[nhttp++] = now_s() - h0;
    }
    long hwm_srv = c.pid > 0 ? proc_kib(c.pid, "VmHWM:") : -1;
    if (c.pid > 0) {
        kill(c.pid, SIGTERM);
        waitpid(c.pid, NULL, 0);
    }

    uint64_t ib = wv_index_bytes(x);
    printf("weft-serve-bench: %s: %llu events, %.3f s, %zu threads, %llu slices, %zu tasks, %zu logs\n",
           trace, (unsigned long long)nev, (double)x->end_ns / 1e9, x->nthreads,
           (unsigned long long)x->nslices, x->ntasks, x->nlogs);
    printf("%-34s %14s   %s\n", "figure", "weft serve", "baseline (same run)");
    printf("%-34s %11.3f s   %.3f s read+decode only; %.3f s reader+model (weft stats)\n",
           "index build (wall)", t_index, t_decode, t_model);
    printf("%-34s %11.3f s   %.3f s read+decode only; %.3f s reader+model\n", "index build (CPU)",
           c_index, c_decode, c_model);
    printf("%-34s %11.3f s   %.3f s `weft stats FILE`\n", "command start to listening", c.ready_s, t_stats);
    printf("%-34s %11.3f s   %.3f s `weft stats FILE`\n", "command start to trace indexed", c.indexed_s, t_stats);
    printf("%-34s %11.3f ms  %.3f ms scanning every slice in the window\n", "window 1920 px: p50 (server)",
           p50 * 1e3, s50 * 1e3);
    printf("%-34s %11.3f ms  %.3f ms scanning every slice in the window\n", "window 1920 px: p99 (server)",
           p99 * 1e3, s99 * 1e3);
    printf("%-34s %11.3f ms  %.3f ms scan; answer %.0f KiB\n", "window: full range (server)", full_q * 1e3,
           full_scan * 1e3, (double)full_bytes / 1024.0);
    printf("%-34s %11.3f ms  over %d windows, mean answer %.0f KiB\n", "window: max (server)", mx * 1e3, nwin,
           (double)bytes / nwin / 1024.0);
    if (rt) {
        printf("%-34s %11.3f ms  %.3f ms the same windows without the runtime rows\n",
               "window with runtime rows: p50", p50 * 1e3, pct(bare, nwin, 50) * 1e3);
        printf("%-34s %11.3f ms  %.3f ms without\n", "window with runtime rows: p99", p99 * 1e3,
               pct(bare, nwin, 99) * 1e3);
        printf("%-34s %11.3f ms  %.3f ms without; answer %.0f KiB, %.0f KiB without\n",
               "window with runtime rows: full", full_q * 1e3, full_bare * 1e3, (double)full_bytes / 1024.0,
               (double)full_bare_bytes / 1024.0);
        printf("%-34s %11.0f KiB %.0f KiB without\n", "window with runtime rows: mean", (double)bytes / nwin / 1024.0,
               (double)bare_bytes / nwin / 1024.0);
    }
    if (nhttp)
        printf("%-34s %11.3f ms  p99 %.3f ms (HTTP/1.0, client side, JSON included)\n",
               "window p50 over HTTP", pct(http, nhttp, 50) * 1e3, pct(http, nhttp, 99) * 1e3);
    printf("%-34s %11.1f     %.2f bytes/event in the .weft file\n", "index bytes/event",
           (double)ib / (double)nev, (double)file_size / (double)nev);
    printf("%-34s %11.1f MiB %.1f MiB index; RSS growth while indexing in process %.1f MiB\n",
           "server RSS after load (VmRSS)", rss_srv / 1024.0, (double)ib / 1048576.0,
           (rss1 - rss0) / 1024.0);
    printf("%-34s %11.1f MiB %.1f MiB .weft file; %s\n", "server peak RSS (VmHWM)", hwm_srv / 1024.0,
           (double)file_size / 1048576.0, quick ? "Chrome JSON not measured (--quick)" : "");
    if (!quick)
        printf("%-34s %11.1f MiB (the index is %.2fx its size)\n", "Chrome JSON of the trace",
               (double)json_bytes / 1048576.0, (double)ib / (double)json_bytes);
    if (trace == tmp)
        unlink(tmp);
    free(wins);
    free(lat);
    free(scan);
    free(bare);
    free(http);
    wv_index_free(x);
    return seen == 42 ? 3 : 0; /* `seen` keeps the scan from being optimised away */
}
