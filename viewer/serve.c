/*
 * serve.c - `weft serve`: the command line, loading traces into the server,
 * and the civetweb context (see serve.h).
 *
 * Safety defaults: the server listens on 127.0.0.1. Any other address is a
 * deliberate choice the user must confirm, either with --auth (digest
 * authentication against a passwords file this process creates with mode
 * 0600 and deletes when it exits) or with --insecure.
 */
#define _GNU_SOURCE
#include <civetweb.h>
#include <dirent.h>
#include <malloc.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "serve_http.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- traces --------------------------------------------------------------- */

#define WARM_AFTER_S 1 /* the longest the warm-up waits for the first window */

/* Builds the lazy tables (latency, task map) after the trace is published,
 * once its first /window answer is sent (or WARM_AFTER_S later, for a
 * client that never asks): the summary and that window are what the user
 * waits for, and the tables take about half a second of CPU and 200 MiB
 * of fresh memory on a 10 M-event trace, which on a 2-CPU machine compete
 * with them and with the browser drawing. For the same reason it runs
 * under SCHED_IDLE, on CPU time nothing else wants: at nice 10 (as it did)
 * it still took a tenth of a busy CPU, and after the first window it met
 * the browser redrawing under the user's first pans and zooms. A table
 * asked for before it is built is built by that request, which never
 * waits for the warm-up (serve_latency.c). */
static void *warm_main(void *p)
{
    wv_trace *t = p;
    struct sched_param idle = {0};
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle)) /* refused: nice it as before */
        setpriority(PRIO_PROCESS, (id_t)gettid(), 10);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until); /* the condition variable's clock */
    until.tv_sec += WARM_AFTER_S;
    pthread_mutex_lock(&t->ready_lock);
    while (!t->window_served && !t->stopping && pthread_cond_timedwait(&t->ready_cv, &t->ready_lock, &until) == 0)
        ;
    int stop = t->stopping;
    pthread_mutex_unlock(&t->ready_lock);
    if (!stop)
        wv_index_warm(t->x);
    return NULL;
}

void wv_trace_window_served(wv_trace *t)
{
    pthread_mutex_lock(&t->ready_lock);
    if (!t->window_served) {
        t->window_served = 1;
        pthread_cond_broadcast(&t->ready_cv);
    }
    pthread_mutex_unlock(&t->ready_lock);
}

/* Stops a warm-up that has not started: the server is going away. */
static void warm_stop(wv_trace *t)
{
    pthread_mutex_lock(&t->ready_lock);
    t->stopping = 1;
    pthread_cond_broadcast(&t->ready_cv);
    pthread_mutex_unlock(&t->ready_lock);
    pthread_join(t->warm, NULL);
}

int wv_trace_wait(wv_trace *t)
{
    int r = atomic_load_explicit(&t->ready, memory_order_acquire);
    if (r)
        return r;
    pthread_mutex_lock(&t->ready_lock);
    while (!(r = atomic_load_explicit(&t->ready, memory_order_acquire)))
        pthread_cond_wait(&t->ready_cv, &t->ready_lock);
    pthread_mutex_unlock(&t->ready_lock);
    return r;
}

static void trace_set_ready(wv_trace *t, int r)
{
    pthread_mutex_lock(&t->ready_lock);
    atomic_store_explicit(&t->ready, r, memory_order_release);
    pthread_cond_broadcast(&t->ready_cv);
    pthread_mutex_unlock(&t->ready_lock);
}

static void trace_free(wv_trace *t)
{
    wv_reader_close(t->pending);
    wv_index_free(t->x);
    pthread_cond_destroy(&t->ready_cv);
    pthread_mutex_destroy(&t->ready_lock);
    free(t);
}

/* Publishes a trace whose header was read; its index comes later. Returns
 * its slot, or -1 with *status and err set (the reader is then closed). */
static int trace_register(wv_server *s, int fd, const char *name, wv_reader *r, int *status,
                          char *err, wv_trace **out)
{
    wv_trace *t = calloc(1, sizeof *t);
    if (!t) {
        wv_reader_close(r);
        snprintf(err, WV_SERVE_ERR, "weft: %s: out of memory", name);
        *status = 500;
        return -1;
    }
    pthread_mutex_init(&t->ready_lock, NULL);
    pthread_cond_init(&t->ready_cv, NULL);
    t->pending = r;
    t->fd = fd;
    snprintf(t->name, sizeof t->name, "%s", name);
    pthread_mutex_lock(&s->lock);
    size_t n = atomic_load_explicit(&s->ntraces, memory_order_relaxed);
    if (n == WV_SERVE_MAX_TRACES) {
        pthread_mutex_unlock(&s->lock);
        trace_free(t);
        snprintf(err, WV_SERVE_ERR, "weft: %s: too many traces (at most %d)", name, WV_SERVE_MAX_TRACES);
        *status = 413;
        return -1;
    }
    snprintf(t->id, sizeof t->id, "t%u", ++s->next_id);
    s->traces[n] = t;
    atomic_store_explicit(&s->ntraces, n + 1, memory_order_release);
    pthread_mutex_unlock(&s->lock);
    *out = t;
    return (int)n;
}

/* Builds the index of a registered trace and wakes the requests waiting for
 * it. @return 0, or -1 when out of memory (the trace then answers 500). */
static int trace_index(wv_server *s, wv_trace *t)
{
    double t0 = now_s();
    wv_index *x = wv_index_load(t->pending);
    wv_reader_close(t->pending);
    t->pending = NULL;
    if (!x) {
        fprintf(stderr, "weft: %s: out of memory while indexing\n", t->name);
        trace_set_ready(t, -1);
        return -1;
    }
    t->x = x;
    trace_set_ready(t, 1);
    /* the latency tables and the task map are built once the UI has drawn */
    t->warming = !pthread_create(&t->warm, NULL, warm_main, t);
    if (!s->o.quiet) {
        uint64_t bytes = wv_index_bytes(x);
        fprintf(stderr,
                "weft: %s %s: %llu events, %s, indexed in %.2f s: %.1f MiB (%.1f bytes/event)\n",
                t->id, t->name, (unsigned long long)x->events, wv_trace_status(x), now_s() - t0,
                (double)bytes / 1048576.0, x->events ? (double)bytes / (double)x->events : 0.0);
        if (x->status != WV_OK)
            fprintf(stderr, "%s\n", x->message);
    }
    return 0;
}

int wv_server_add_fd(wv_server *s, int fd, const char *name, int *status, char *err)
{
    *status = 400;
    wv_reader *r = wv_reader_open_fd(fd, name);
    if (!r || wv_reader_status(r) == WV_FAILED) {
        snprintf(err, WV_SERVE_ERR, "%s", r ? wv_reader_message(r) : "out of memory");
        *status = r ? 400 : 500;
        wv_reader_close(r);
        return -1;
    }
    wv_trace *t;
    int n = trace_register(s, fd, name, r, status, err, &t);
    if (n < 0 || s->defer)
        return n;
    if (trace_index(s, t) < 0) {
        snprintf(err, WV_SERVE_ERR, "weft: %s: out of memory", name);
        *status = 500;
        return -1; /* published, and answers 500 */
    }
    return n;
}

static void *index_pending_main(void *arg)
{
    wv_server *s = arg;
    size_t n = atomic_load_explicit(&s->ntraces, memory_order_acquire);
    for (size_t i = 0; i < n; i++)
        if (!atomic_load_explicit(&s->traces[i]->ready, memory_order_acquire))
            trace_index(s, s->traces[i]);
    return NULL;
}

int wv_server_index_pending(wv_server *s)
{
    s->defer = 0; /* traces added from now on (uploads) are indexed at once */
    int rc = pthread_create(&s->indexer, NULL, index_pending_main, s);
    s->indexing = !rc;
    if (rc) /* no thread: index here, late rather than never */
        index_pending_main(s);
    return rc ? -1 : 0;
}

static int add_file(wv_server *s, const char *path, char *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, WV_SERVE_ERR, "weft: %s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    int status;
    if (wv_server_add_fd(s, fd, base, &status, err) < 0) {
        close(fd);
        return -1;
    }
    return 1;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_weft(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 5 && !strcmp(d->d_name + n - 5, ".weft");
}

int wv_server_add_path(wv_server *s, const char *path, char *err)
{
    struct stat st;
    if (stat(path, &st)) {
        snprintf(err, WV_SERVE_ERR, "weft: %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return add_file(s, path, err);
    struct dirent **list;
    int n = scandir(path, &list, is_weft, by_name), added = 0;
    if (n < 0) {
        snprintf(err, WV_SERVE_ERR, "weft: %s: %s", path, strerror(errno));
        return -1;
    }
    /* one file that is not a trace does not keep the others from being served */
    for (int i = 0; i < n; i++) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", path, list[i]->d_name);
        if (add_file(s, full, err) > 0)
            added++;
        else
            fprintf(stderr, "%s (skipped)\n", err);
        free(list[i]);
    }
    free(list);
    return added;
}

size_t wv_server_trace_count(const wv_server *s)
{
    return atomic_load_explicit(&((wv_server *)s)->ntraces, memory_order_acquire);
}

/* ---- the server ----------------------------------------------------------- */

static int is_loopback(const char *addr)
{
    return !strncmp(addr, "127.", 4) || !strncmp(addr, "localhost:", 10);
}

/* A passwords file for civetweb's digest authentication, readable only by
 * this user; deleted by wv_server_free(). */
static int make_auth_file(wv_server *s, const char *userpass, char *err)
{
    const char *colon = strchr(userpass, ':');
    if (!colon || colon == userpass || !colon[1] || colon - userpass > 64) {
        snprintf(err, WV_SERVE_ERR, "weft: serve: --auth needs USER:PASS");
        return -1;
    }
    char user[65];
    memcpy(user, userpass, (size_t)(colon - userpass));
    user[colon - userpass] = 0;
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(s->auth_file, sizeof s->auth_file, "%s/weft-auth-XXXXXX", tmp);
    mode_t old = umask(077);
    int fd = mkstemp(s->auth_file);
    int ok = fd >= 0 && mg_modify_passwords_file(s->auth_file, "weft", user, colon + 1) == 1;
    umask(old);
    if (fd >= 0)
        close(fd);
    if (!ok) {
        snprintf(err, WV_SERVE_ERR, "weft: serve: cannot create the passwords file %s", s->auth_file);
        if (fd >= 0)
            unlink(s->auth_file);
        s->auth_file[0] = 0;
        return -1;
    }
    return 0;
}

wv_server *wv_server_new(const wv_serve_opts *o, char *err)
{
    wv_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, WV_SERVE_ERR, "weft: serve: out of memory");
        return NULL;
    }
    s->o = *o;
    if (!s->o.addr)
        s->o.addr = WV_SERVE_DEFAULT_ADDR;
    if (!s->o.max_upload)
        s->o.max_upload = WV_SERVE_DEFAULT_UPLOAD;
    snprintf(s->addr, sizeof s->addr, "%s", s->o.addr);
    pthread_mutex_init(&s->lock, NULL);
    if (o->auth && make_auth_file(s, o->auth, err)) {
        wv_server_free(s);
        return NULL;
    }
    return s;
}

int wv_server_start(wv_server *s, char *err)
{
    const char *options[] = {
        "listening_ports", s->addr,
        "num_threads", "32",          /* concurrent connections served */
        "max_request_size", "16384",  /* request line and headers */
        "request_timeout_ms", "30000",
        "enable_keep_alive", "yes",
        /* Without it, Nagle's algorithm meets the browser's delayed ACK on
         * keep-alive connections: 40 ms stalls per module and per answer
         * written in pieces, which made the first timeline draw ~0.7 s late. */
        "tcp_nodelay", "1",
        "decode_url", "no",           /* see escapes: serve_http.c rejects them */
        "authentication_domain", "weft",
        NULL};
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.begin_request = wv_http_request;
    mg_init_library(0);
    s->ctx = mg_start(&cb, s, options);
    if (!s->ctx) {
        snprintf(err, WV_SERVE_ERR, "weft: serve: cannot listen on %s (in use, or not an IPv4 HOST:PORT)",
                 s->addr);
        return -1;
    }
    struct mg_server_port ports[4];
    int n = mg_get_server_ports(s->ctx, 4, ports);
    s->port = n > 0 ? ports[0].port : 0;
    return 0;
}

int wv_server_port(const wv_server *s) { return s->port; }

void wv_server_free(wv_server *s)
{
    if (!s)
        return;
    if (s->ctx)
        mg_stop(s->ctx);
    if (s->auth_file[0])
        unlink(s->auth_file);
    if (s->indexing)
        pthread_join(s->indexer, NULL);
    size_t n = atomic_load(&s->ntraces);
    for (size_t i = 0; i < n; i++) {
        if (s->traces[i]->warming)
            warm_stop(s->traces[i]);
        close(s->traces[i]->fd);
        trace_free(s->traces[i]);
    }
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* ---- the command ---------------------------------------------------------- */


static const char serve_usage[] =
    "usage: weft serve [FILE|DIR]... [--addr HOST:PORT] [--auth USER:PASS] [--insecure]\n"
    "                  [--max-upload BYTES]\n";

static int serve_usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "weft: serve: %s%s\n%s", what, arg ? arg : "", serve_usage);
    return 2;
}

int wv_serve_main(int argc, char **argv)
{
    /* Big index arrays grow by realloc: a fixed mmap threshold keeps them
     * in mmap'd chunks, which glibc grows with mremap instead of copying. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    wv_serve_opts o = {.addr = WV_SERVE_DEFAULT_ADDR};
    int insecure = 0, npaths = 0;
    char **paths = calloc((size_t)argc + 1, sizeof *paths), err[WV_SERVE_ERR];
    for (int i = 0; paths && i < argc; i++) {
        const char *a = argv[i];
        int has_value = !strcmp(a, "--addr") || !strcmp(a, "--auth") || !strcmp(a, "--max-upload");
        if (has_value && i + 1 >= argc) {
            free(paths);
            return serve_usage_error("missing value for ", a);
        }
        if (!strcmp(a, "--addr")) {
            o.addr = argv[++i];
        } else if (!strcmp(a, "--auth")) {
            o.auth = argv[++i];
        } else if (!strcmp(a, "--max-upload")) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(argv[++i], &end, 10);
            if (errno || *end || !v || argv[i][0] == '-') {
                free(paths);
                return serve_usage_error("--max-upload needs a positive number of bytes, not ", argv[i]);
            }
            o.max_upload = v;
        } else if (!strcmp(a, "--insecure")) {
            insecure = 1;
        } else if (a[0] == '-' && a[1]) {
            free(paths);
            return serve_usage_error("unknown option ", a);
        } else {
            paths[npaths++] = argv[i];
        }
    }
    if (!paths)
        return 1;
    if (!is_loopback(o.addr)) {
        fprintf(stderr, "weft: serve: warning: %s is reachable from other machines; "
                        "anyone who can connect can read every trace served\n", o.addr);
        if (!o.auth && !insecure) {
            free(paths);
            fprintf(stderr, "weft: serve: refusing to listen on %s without --auth USER:PASS "
                            "(or --insecure to allow it anyway)\n", o.addr);
            return 2;
        }
    }
    /* SIGINT and SIGTERM are blocked before any thread exists, so every
     * thread (civetweb's, the indexer, warm-ups) inherits the mask and the
     * main thread alone takes them in sigwait(). With a handler and pause()
     * instead, a signal delivered to another thread ran the handler there
     * and left the main thread paused forever. */
    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
    signal(SIGPIPE, SIG_IGN);
    wv_server *s = wv_server_new(&o, err);
    int status = 0;
    if (s) /* listen first, index after: the page loads while traces index */
        s->defer = 1;
    for (int i = 0; s && i < npaths && !status; i++)
        if (wv_server_add_path(s, paths[i], err) < 0)
            status = 1;
    free(paths);
    if (!s || status || wv_server_start(s, err)) {
        fprintf(stderr, "%s\n", err);
        wv_server_free(s);
        return 1;
    }
    const char *colon = strrchr(o.addr, ':');
    size_t n = wv_server_trace_count(s);
    printf("weft: serving %zu trace%s at http://%.*s:%d/\n", n, n == 1 ? "" : "s",
           colon ? (int)(colon - o.addr) : (int)strlen(o.addr), o.addr, wv_server_port(s));
    fflush(stdout);
    if (wv_server_index_pending(s))
        fprintf(stderr, "weft: serve: cannot start the indexing thread\n");
    int sig;
    while (sigwait(&stop_set, &sig))
        ;
    wv_server_free(s);
    return 0;
}
