/*
 * testutil.c - see testutil.h.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char *tu_path(const char *name)
{
    static char buf[8][512];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, 512, "%s/%s-%d", WEFT_TEST_TMP, name, (int)getpid());
    return p;
}

/* One copy per string id, so events can point at it after the reader closes. */
static const char *keep(trace *t, wv_reader *r, uint64_t id)
{
    if (id >= t->nstrings) {
        size_t n = t->nstrings ? t->nstrings : 64;
        while (n <= id)
            n *= 2;
        t->strings = realloc(t->strings, n * sizeof *t->strings);
        memset(t->strings + t->nstrings, 0, (n - t->nstrings) * sizeof *t->strings);
        t->nstrings = n;
    }
    if (!t->strings[id])
        t->strings[id] = strdup(wv_reader_string(r, id, NULL));
    return t->strings[id];
}

int tu_load(const char *path, trace *t)
{
    memset(t, 0, sizeof *t);
    wv_reader *r = wv_reader_open(path);
    if (!r)
        return t->status = WV_FAILED;
    size_t cap = 0;
    wv_event e;
    while (wv_reader_next(r, &e)) {
        if (t->n == cap) {
            cap = cap ? cap * 2 : 1024;
            t->ev = realloc(t->ev, cap * sizeof *t->ev);
        }
        tev *v = &t->ev[t->n++];
        memset(v, 0, sizeof *v);
        v->code = e.code;
        v->thread = e.thread;
        v->ns = e.ns;
        const wv_thread *th = wv_reader_thread(r, e.thread);
        v->tid = th ? th->tid : 0;
        memcpy(v->arg, e.arg, sizeof v->arg);
        const weft_event_spec *s = e.code < WEFT_EV_LIMIT ? &weft_event_specs[e.code] : NULL;
        for (int i = 0; s && i < s->nargs; i++) {
            if (strcmp(s->arg_name[i], "dur") == 0) /* ends at the event: began dur before */
                v->dur_ns = e.ns - wv_reader_ticks_to_ns(r, e.ticks - e.arg[i]);
            if (s->kind[i] == WEFT_ARG_S)
                v->str[i] = keep(t, r, e.arg[i]);
            if (s->kind[i] == WEFT_ARG_B) {
                v->data = malloc(e.data_len + 1);
                memcpy(v->data, e.data, e.data_len);
                v->data[e.data_len] = 0;
            }
        }
    }
    t->status = wv_reader_status(r);
    snprintf(t->msg, sizeof t->msg, "%s", wv_reader_message(r));
    if (wv_reader_header(r))
        t->hdr = *wv_reader_header(r);
    t->end = *wv_reader_end(r);
    wv_reader_close(r);
    return t->status;
}

void tu_free(trace *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->ev[i].data);
    for (size_t i = 0; i < t->nstrings; i++)
        free(t->strings[i]);
    free(t->strings);
    free(t->ev);
    memset(t, 0, sizeof *t);
}

size_t tu_count(const trace *t, unsigned code, uint32_t thread)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += (!code || t->ev[i].code == code) && (!thread || t->ev[i].thread == thread);
    return n;
}

const tev *tu_nth(const trace *t, unsigned code, size_t i)
{
    for (size_t k = 0; k < t->n; k++)
        if (t->ev[k].code == code && i-- == 0)
            return &t->ev[k];
    return NULL;
}

size_t tu_user_events(const trace *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += t->ev[i].thread != WEFT_SYSTEM_THREAD && t->ev[i].code != WEFT_EV_TIME_BASE &&
             t->ev[i].code != WEFT_EV_DROP;
    return n;
}

char *tu_env(const char *k, const char *v)
{
    static char buf[4][600];
    static int n;
    char *b = buf[n++ % 4];
    snprintf(b, sizeof buf[0], "%s=%s", k, v);
    return b;
}

int tu_run(char *const argv[], char *const env[], char **out)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        for (int i = 0; env && env[i]; i++)
            putenv(env[i]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    ssize_t n;
    while ((n = read(fds[0], buf + len, cap - len - 1)) > 0) {
        len += (size_t)n;
        if (cap - len < 2)
            buf = realloc(buf, cap *= 2);
    }
    buf[len] = 0;
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int tu_self_mappings(void (*fn)(void *ctx, uint64_t start, uint64_t end, uint64_t offset, const char *path),
                     void *ctx)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return 0;
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        uint64_t start, end, off;
        char perms[8];
        int path_at = 0;
        if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %*s %n", &start, &end, perms, &off,
                   &path_at) < 4 ||
            perms[2] != 'x' || !path_at || line[path_at] != '/')
            continue;
        line[strcspn(line, "\n")] = 0;
        fn(ctx, start, end, off, line + path_at);
        n++;
    }
    fclose(f);
    return n;
}
