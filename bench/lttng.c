/*
 * lttng.c - the LTTng-UST baseline: weft-bench starts its own session
 * daemon, creates and enables a session, runs the weft-bench-lttng helper
 * (lttng_child.c) once with 1 thread and once with 2, and tears everything
 * down again, killing only the daemon it started.
 *
 * The helper is a separate process because liblttng-ust registers with the
 * session daemon in its constructor, before main(), so the daemon and the
 * enabled session must exist before the traced process starts.
 *
 * Any failure ends the baseline with a reason ("not measured: ...") and never
 * the benchmark. LTTng is told to keep its files under a temporary directory
 * (LTTNG_HOME, --output); the root session daemon's sockets live in
 * /var/run/lttng, which is why an already running root daemon is used as is.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SESSIOND_READY_S 15 /* a cold start with consumerd takes ~1 s here */

typedef struct lt_ctx {
    const bench_lttng_opts *o;
    char home_env[4200]; /* "LTTNG_HOME=<dir>" for every lttng process */
    char session[64];
    char out[8192];      /* output of the last command */
    pid_t daemon;        /* the session daemon we started, or 0 */
    int shared;          /* using a daemon that was already running */
} lt_ctx;

/* Keeps the last non-empty line of s, for a one-line reason. */
static const char *last_line(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = 0;
    char *nl = strrchr(s, '\n');
    return nl ? nl + 1 : s;
}

/* Runs `lttng ARGS...` (NULL-terminated); on failure writes the reason. */
static int lttng(lt_ctx *c, char *why, size_t cap, ...)
{
    char *argv[16] = {"lttng"};
    va_list ap;
    va_start(ap, cap);
    for (int i = 1; i < 15 && (argv[i] = va_arg(ap, char *)); i++)
        ;
    va_end(ap);
    argv[15] = NULL;
    char *env[] = {c->home_env, NULL};
    bench_child res;
    if (bench_run(argv, env, NULL, c->out, sizeof c->out, &res) == 0)
        return 0;
    char st[64];
    snprintf(why, cap, "`lttng %s` failed (%s): %s", argv[1],
             bench_child_status(&res, st, sizeof st), last_line(c->out));
    return -1;
}

static void noop(int sig) { (void)sig; }

/* Starts `lttng-sessiond --no-kernel --sig-parent` as our child and waits
 * for its SIGUSR1 (sent once it accepts commands). */
static int start_daemon(lt_ctx *c, char *why, size_t cap)
{
    char log[4200];
    snprintf(log, sizeof log, "%s/sessiond.log", c->o->tmpdir);
    /* SIGUSR1 stays blocked until sigtimedwait collects it; a handler (not
     * SIG_IGN, which would discard it) makes a late one harmless. */
    struct sigaction sa = {.sa_handler = noop}, old_sa;
    sigaction(SIGUSR1, &sa, &old_sa);
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, &old);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0)
            dup2(fd, 1), dup2(fd, 2);
        putenv(c->home_env);
        execlp("lttng-sessiond", "lttng-sessiond", "--no-kernel", "--sig-parent", (char *)NULL);
        _exit(127);
    }
    int rc = -1;
    if (pid < 0) {
        snprintf(why, cap, "fork: %s", strerror(errno));
        goto out;
    }
    struct timespec limit = {SESSIOND_READY_S, 0};
    for (;;) {
        int sig = sigtimedwait(&set, NULL, &limit);
        if (sig == SIGUSR1) {
            c->daemon = pid;
            rc = 0;
            break;
        }
        int status;
        if (sig == SIGCHLD && waitpid(pid, &status, WNOHANG) == pid) {
            char text[4096] = "";
            FILE *f = fopen(log, "r");
            if (f) {
                text[fread(text, 1, sizeof text - 1, f)] = 0;
                fclose(f);
            }
            if (strstr(text, "already running")) { /* a root daemon is up: use it */
                c->shared = 1;
                rc = 0;
                break;
            }
            if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
                snprintf(why, cap, "lttng-sessiond not found in PATH (install lttng-tools)");
            else
                snprintf(why, cap, "lttng-sessiond exited before it was ready: %s",
                         last_line(text));
            break;
        }
        if (sig < 0 && errno == EAGAIN) {
            snprintf(why, cap, "lttng-sessiond not ready after %d s", SESSIOND_READY_S);
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            break;
        }
    }
out:
    sigprocmask(SIG_SETMASK, &old, NULL);
    sigaction(SIGUSR1, &old_sa, NULL);
    return rc;
}

/* SIGTERM lets the daemon stop its consumer daemons; SIGKILL after 5 s. */
static void stop_daemon(lt_ctx *c)
{
    if (!c->daemon)
        return;
    kill(c->daemon, SIGTERM);
    for (int i = 0; i < 500; i++) {
        if (waitpid(c->daemon, NULL, WNOHANG) == c->daemon) {
            c->daemon = 0;
            return;
        }
        usleep(10000);
    }
    kill(c->daemon, SIGKILL);
    waitpid(c->daemon, NULL, 0);
    c->daemon = 0;
}

/* Runs the helper with `threads` threads inside a started session; fills the
 * median and the events LTTng reports discarded. */
static int measure(lt_ctx *c, int threads, double *ns, uint64_t *discarded, char *why, size_t cap)
{
    if (lttng(c, why, cap, "start", c->session, NULL) != 0)
        return -1;
    char ev[32], th[16], runs[16];
    snprintf(ev, sizeof ev, "%llu", (unsigned long long)c->o->events);
    snprintf(th, sizeof th, "%d", threads);
    snprintf(runs, sizeof runs, "%d", c->o->runs);
    char *argv[] = {(char *)c->o->helper, ev, th, runs, NULL};
    char *env[] = {c->home_env, NULL};
    bench_child res;
    int ok = bench_run(argv, env, NULL, c->out, sizeof c->out, &res);
    double v[64];
    int n = 0;
    for (char *p = c->out; n < 64 && (p = strstr(p, "run ")); p += 4)
        v[n++] = strtod(p + 4, NULL);
    if (ok != 0 || n < c->o->runs) {
        char st[64];
        char *e = strstr(c->out, "error ");
        snprintf(why, cap, "weft-bench-lttng failed (%s): %s",
                 bench_child_status(&res, st, sizeof st), e ? last_line(e + 6) : last_line(c->out));
        return -1;
    }
    *ns = bench_median(v, n);
    if (lttng(c, why, cap, "stop", c->session, NULL) != 0)
        return -1;
    /* `lttng stop` warns "Warning: N events were discarded, ..." when its
     * buffers overflowed; those tracepoint calls were cheaper than a write. */
    *discarded = 0;
    for (char *p = c->out; (p = strstr(p, "Warning: ")); p += 9) {
        unsigned long long lost;
        if (sscanf(p, "Warning: %llu events were discarded", &lost) == 1)
            *discarded += lost;
    }
    return 0;
}

static int run_session(lt_ctx *c, bench_lttng *r, char *why, size_t cap)
{
    char output[4200];
    snprintf(output, sizeof output, "--output=%s/lttng-trace", c->o->tmpdir);
    if (lttng(c, why, cap, "create", c->session, output, NULL) != 0)
        return -1;
    /* Large sub-buffers so the consumer daemon keeps up and the tracepoints
     * are timed writing events, not discarding them. */
    int rc = lttng(c, why, cap, "enable-channel", "-u", "-s", c->session, "--subbuf-size=4M",
                   "--num-subbuf=8", "weftch", NULL);
    if (!rc)
        rc = lttng(c, why, cap, "enable-event", "-u", "-s", c->session, "-c", "weftch",
                   "weftbench:*", NULL);
    for (int i = 0; !rc && i < 2; i++) {
        rc = measure(c, i + 1, &r->ns[i], &r->discarded[i], why, cap);
        r->measured[i] = rc == 0;
    }
    char ignore[256];
    lttng(c, ignore, sizeof ignore, "destroy", c->session, NULL);
    return rc;
}

void bench_lttng_run(const bench_lttng_opts *o, bench_lttng *r)
{
    memset(r, 0, sizeof *r);
    if (!bench_is_executable(o->helper)) {
        snprintf(r->why, sizeof r->why, "helper %s not found", o->helper);
        return;
    }
    lt_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(r->why, sizeof r->why, "out of memory");
        return;
    }
    c->o = o;
    snprintf(c->home_env, sizeof c->home_env, "LTTNG_HOME=%s", o->tmpdir);
    snprintf(c->session, sizeof c->session, "weftbench-%d", (int)getpid());
    if (start_daemon(c, r->why, sizeof r->why) == 0) {
        r->shared_daemon = c->shared;
        run_session(c, r, r->why, sizeof r->why);
        stop_daemon(c);
    }
    free(c);
}
