/*
 * record.c - `weft record [-o OUT] [--seconds N] -- PROGRAM ARGS...`: runs a
 * program that was never built with weft under libweft-preload.so, then says
 * where the trace went, and exits with the program's status.
 *
 * The preload library does the recording: this command only prepares the
 * child's environment (LD_PRELOAD, WEFT_OUT, WEFT_SECONDS, and
 * WEFT_RECORD_PID so that the program's own children, which inherit the
 * rest, do not record over its trace), runs the program, passes on the
 * signals sent to weft, and summarises the file afterwards.
 */
#define _GNU_SOURCE
#include "record.h"
#include "compact.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "reader.h"

#define PRELOAD_NAME "libweft-preload.so"

/* Exit statuses of weft itself, as env(1) and shells use them. */
enum { EXIT_USAGE = 2, EXIT_WEFT_FAILED = 125, EXIT_NOT_EXECUTABLE = 126, EXIT_NOT_FOUND = 127 };

const char wv_record_usage[] =
    "  record [-o OUT] [--seconds N] -- PROGRAM [ARGS...]\n"
    "                     run PROGRAM (unmodified) under libweft-preload.so and\n"
    "                     record its threads, lock waits, I/O, allocator and\n"
    "                     scheduling to OUT (default PROGRAM.weft) for N seconds\n"
    "                     (default 5; 0: until it exits); exits with its status\n";

typedef struct rec_opts {
    const char *out;
    const char *seconds;
    char **argv; /* PROGRAM ARGS..., NULL-terminated */
    char default_out[PATH_MAX];
} rec_opts;

static int usage(const char *fmt, const char *arg)
{
    fputs("weft: record: ", stderr);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nusage: weft record [-o OUT] [--seconds N] -- PROGRAM [ARGS...]\n");
    return EXIT_USAGE;
}

static bool seconds_ok(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    return *s && !*end && !errno && isfinite(v) && v >= 0;
}

/* Options come before "--" or before the first argument that is not one. */
static int parse_args(int argc, char **argv, rec_opts *o)
{
    int i = 0;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (a[0] != '-' || !a[1])
            break;
        if (strcmp(a, "-o") && strcmp(a, "--output") && strcmp(a, "--seconds"))
            return usage("unknown option %s", a);
        if (i + 1 >= argc)
            return usage("%s needs a value", a);
        if (!strcmp(a, "--seconds"))
            o->seconds = argv[++i];
        else
            o->out = argv[++i];
    }
    if (o->seconds && !seconds_ok(o->seconds))
        return usage("--seconds needs a number of seconds >= 0, not '%s'", o->seconds);
    if (i >= argc)
        return usage("%s", "missing the program to run");
    o->argv = argv + i;
    if (!o->out) { /* PROGRAM.weft in the current directory */
        char prog[PATH_MAX];
        snprintf(prog, sizeof prog, "%s", o->argv[0]);
        snprintf(o->default_out, sizeof o->default_out, "%s.weft", basename(prog));
        o->out = o->default_out;
    }
    return 0;
}

/* ---- finding the preload library --------------------------------------------------- */

/* Adds `path` to the list of places looked at; true if the library is there. */
static bool try_path(const char *path, char *found, char *looked, size_t lcap)
{
    size_t len = strlen(looked);
    snprintf(looked + len, lcap - len, "%s%s", len ? ", " : "", path);
    return realpath(path, found) != NULL && access(found, R_OK) == 0;
}

/* WEFT_PRELOAD_LIB if set; otherwise beside this weft binary in the build
 * tree (viewer/weft, recorder/libweft-preload.so), then in the library
 * directory of its installation prefix, then in the configured libdir. */
static const char *find_preload(char found[PATH_MAX], char *looked, size_t lcap)
{
    const char *env = getenv("WEFT_PRELOAD_LIB");
    if (env && *env)
        return try_path(env, found, looked, lcap) ? found : NULL;
    char exe[PATH_MAX], path[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        const char *dir = dirname(exe);
        snprintf(path, sizeof path, "%s/../recorder/%s", dir, PRELOAD_NAME);
        if (try_path(path, found, looked, lcap))
            return found;
        snprintf(path, sizeof path, "%s/../%s/%s", dir, WEFT_INSTALL_LIBDIR, PRELOAD_NAME);
        if (try_path(path, found, looked, lcap))
            return found;
    }
    snprintf(path, sizeof path, "%s/%s", WEFT_INSTALL_FULL_LIBDIR, PRELOAD_NAME);
    return try_path(path, found, looked, lcap) ? found : NULL;
}

/* ---- the child -------------------------------------------------------------------- */

static int set_env(const char *lib, const rec_opts *o)
{
    char buf[PATH_MAX * 2 + 64];
    const char *old = getenv("LD_PRELOAD");
    snprintf(buf, sizeof buf, "%s%s%s", lib, old && *old ? ":" : "", old && *old ? old : "");
    int rc = setenv("LD_PRELOAD", buf, 1) | setenv("WEFT_OUT", o->out, 1);
    if (o->seconds)
        rc |= setenv("WEFT_SECONDS", o->seconds, 1);
    snprintf(buf, sizeof buf, "%d", (int)getpid());
    rc |= setenv("WEFT_RECORD_PID", buf, 1);
    /* The recorder stores its blocks uncompressed and compact() compresses
     * the file once the program has exited: LZ4 is then never the program's
     * cost (viewer/compact.c). WEFT_COMPRESS=now in weft's own environment
     * keeps compression in the program, to compare the two. */
    rc |= setenv("WEFT_COMPRESS", "defer", 0);
#ifdef WEFT_RECORD_ASAN
    /* This weft is an AddressSanitizer build, and so is the preload library.
     * The program then loads the ASan runtime after it, which ASan refuses
     * unless told the order is intended (the library's malloc calls ASan's,
     * recorder/alloc.c); and a program linking libweft.so holds a second,
     * inert copy of the recorder's globals, which ASan would report as an
     * ODR violation (recorder/copies.c). */
    const char *asan = getenv("ASAN_OPTIONS");
    snprintf(buf, sizeof buf, "%s%sverify_asan_link_order=0:detect_odr_violation=0", asan ? asan : "",
             asan && *asan ? ":" : "");
    rc |= setenv("ASAN_OPTIONS", buf, 1);
#endif
    return rc;
}

/* In the forked child: set the environment and exec. On failure the errno
 * goes to the parent through `fd` (close-on-exec, so success closes it). */
static _Noreturn void run_child(const char *lib, const rec_opts *o, int fd)
{
    int err = set_env(lib, o) ? errno : 0;
    if (!err) {
        execvp(o->argv[0], o->argv);
        err = errno;
    }
    ssize_t w = write(fd, &err, sizeof err);
    (void)w;
    _exit(err == ENOENT ? EXIT_NOT_FOUND : EXIT_NOT_EXECUTABLE);
}

/* ---- signals -------------------------------------------------------------------------- */

static volatile pid_t child_pid;

/* A signal someone sent to weft goes on to the program. One the terminal
 * sent (Ctrl-C: si_code SI_KERNEL) already reached the program, which is in
 * the same process group: sending it again would deliver it twice. */
static void forward(int sig, siginfo_t *info, void *uctx)
{
    (void)uctx;
    if (child_pid > 0 && info->si_code != SI_KERNEL)
        kill(child_pid, sig);
}

static void forward_signals(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = forward;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
}

/* ---- running it --------------------------------------------------------------------- */

/* The exec error the child reported, 0 if the exec succeeded, -1 if unknown. */
static int exec_error(int fd)
{
    int err;
    ssize_t n;
    while ((n = read(fd, &err, sizeof err)) < 0 && errno == EINTR)
        ;
    return n == 0 ? 0 : n == (ssize_t)sizeof err ? err : -1;
}

static void report_exec_error(const char *prog, int err)
{
    if (err == ENOENT && !strchr(prog, '/'))
        fprintf(stderr, "weft: %s: command not found\n", prog);
    else
        fprintf(stderr, "weft: %s: %s\n", prog, strerror(err > 0 ? err : EIO));
}

static int wait_status(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return EXIT_WEFT_FAILED;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Forks and execs the program; returns its status, or a weft status when it
 * could not be started (with the reason on stderr, and *started false). */
static int run(const char *lib, const rec_opts *o, bool *started)
{
    *started = false;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        fprintf(stderr, "weft: record: pipe: %s\n", strerror(errno));
        return EXIT_WEFT_FAILED;
    }
    fflush(NULL); /* nothing buffered twice */
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "weft: record: fork: %s\n", strerror(errno));
        close(fds[0]), close(fds[1]);
        return EXIT_WEFT_FAILED;
    }
    if (pid == 0) {
        close(fds[0]);
        run_child(lib, o, fds[1]);
    }
    child_pid = pid;
    close(fds[1]);
    int err = exec_error(fds[0]);
    close(fds[0]);
    int status = wait_status(pid);
    if (err) {
        report_exec_error(o->argv[0], err);
        return err == ENOENT ? EXIT_NOT_FOUND : EXIT_NOT_EXECUTABLE;
    }
    *started = true;
    return status;
}

/* ---- the summary -------------------------------------------------------------------- */

typedef struct rec_summary {
    uint64_t events;
    uint32_t threads;
    int64_t end_ns;
} rec_summary;

static void summarise(wv_reader *r, rec_summary *s)
{
    wv_event ev;
    while (wv_reader_next(r, &ev))
        if (ev.ns > s->end_ns)
            s->end_ns = ev.ns;
    s->events = wv_reader_progress(r).events;
    for (uint32_t i = 0; i < wv_reader_thread_count(r); i++) {
        const wv_thread *t = wv_reader_thread(r, i);
        s->threads += i != WEFT_SYSTEM_THREAD && (t->registered || t->events);
    }
}

/* Compresses the trace the program left; a failure leaves it complete, only
 * larger, and says so. */
static void compact(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return; /* report_trace says no trace was written */
    wv_compact_result res;
    char err[512];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (wv_compact(path, &res, err, sizeof err) != 0) {
        fprintf(stderr, "weft: record: %s; the trace is complete but not compressed\n", err);
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "weft: compressed the trace after the program exited: %.1f MB -> %.1f MB in %.2f s\n",
            (double)res.bytes_before / 1e6, (double)res.bytes_after / 1e6,
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
}

/* One line: where the trace is and what it holds; a second one if reading
 * it found a problem (a killed program leaves a truncated file). */
static void report_trace(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "weft: no trace was written to %s\n", path);
        return;
    }
    wv_reader *r = wv_reader_open(path);
    if (!r) {
        fprintf(stderr, "weft: %s: out of memory\n", path);
        return;
    }
    rec_summary s = {0, 0, 0};
    summarise(r, &s);
    const wv_end *e = wv_reader_end(r);
    fprintf(stderr,
            "weft: trace in %s: %" PRIu32 " threads, %" PRIu64 " events over %.3f s, %" PRIu64
            " dropped (view it with: weft serve %s)\n",
            path, s.threads, s.events, (double)s.end_ns / 1e9, e->present ? e->dropped : 0, path);
    if (wv_reader_status(r) != WV_OK)
        fprintf(stderr, "%s\n", wv_reader_message(r));
    wv_reader_close(r);
}

int wv_record_main(int argc, char **argv)
{
    rec_opts o;
    memset(&o, 0, sizeof o);
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc;
    char lib[PATH_MAX], looked[4 * PATH_MAX] = "";
    if (!find_preload(lib, looked, sizeof looked)) {
        fprintf(stderr, "weft: record: cannot find %s (looked at: %s); set WEFT_PRELOAD_LIB to its path\n",
                PRELOAD_NAME, looked);
        return EXIT_WEFT_FAILED;
    }
    if (strpbrk(lib, ": ")) { /* LD_PRELOAD separates paths with both */
        fprintf(stderr, "weft: record: %s: LD_PRELOAD cannot take a path with ':' or ' '\n", lib);
        return EXIT_WEFT_FAILED;
    }
    if (unlink(o.out) != 0 && errno != ENOENT) { /* never report a stale trace */
        fprintf(stderr, "weft: record: %s: %s\n", o.out, strerror(errno));
        return EXIT_WEFT_FAILED;
    }
    forward_signals();
    bool started;
    int status = run(lib, &o, &started);
    if (started) {
        compact(o.out);
        report_trace(o.out);
    }
    return status;
}
