/*
 * indexee.c - `weft serve`'s threads at work on one trace, as a child
 * program of test_index_threads.c, so that the ThreadSanitizer build runs
 * it instrumented (a reported race makes it exit 66) while the runner,
 * which Criterion keeps uninstrumented, checks its exit status.
 *
 * `indexee TRACE` does what `weft serve TRACE` and a browser do at start:
 * the server listens, then indexes on its indexing thread (which reads on
 * the feed's thread and builds runtime rows on another); clients ask for
 * the summary and the first window while that runs (their requests wait
 * for the index), then for what needs the lazily built tables (a task's
 * window, a region type's latencies, a slice) while the warm-up, woken by
 * the first window, builds them; then the server stops.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_get.h"
#include "serve_http.h"

#define CLIENTS 3

typedef struct client {
    int port, failed;
} client;

/* The number after "key": in body, or -1. */
static long long field(const char *body, const char *key)
{
    char k[64];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = body ? strstr(body, k) : NULL;
    return p ? strtoll(p + strlen(k), NULL, 10) : -1;
}

/* GETs path, which must answer 200. @return the answer (malloc'd). */
static char *fetch(client *c, const char *path)
{
    int status;
    char *text = hg_get(c->port, path, &status, NULL);
    if (status != 200) {
        fprintf(stderr, "indexee: %s: status %d\n", path, status);
        c->failed = 1;
    }
    return text;
}

static void *client_main(void *p)
{
    client *c = p;
    char path[256];
    char *summary = fetch(c, "/api/traces/t1/summary");
    long long end = field(summary, "end_ns");
    snprintf(path, sizeof path, "/api/traces/t1/window?start=0&end=%lld&px=1000", end > 0 ? end : 1);
    char *window = fetch(c, path);
    long long task = field(window ? strstr(window, "\"tasks\":") : NULL, "task");
    if (task > 0) {
        snprintf(path, sizeof path, "/api/traces/t1/window?start=0&end=%lld&px=500&task=%lld", end, task);
        free(fetch(c, path));
    }
    static const char first_type[] = "\"region_types\":[{\"type\":\"";
    const char *type = summary ? strstr(summary, first_type) : NULL;
    if (type) {
        const char *name = type + sizeof first_type - 1;
        snprintf(path, sizeof path, "/api/traces/t1/regions?type=%.*s", (int)strcspn(name, "\""), name);
        free(fetch(c, path));
    }
    free(fetch(c, "/api/traces/t1/slice?i=0"));
    free(summary);
    free(window);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: indexee TRACE\n");
        return 2;
    }
    char err[WV_SERVE_ERR];
    wv_serve_opts o = {.addr = "127.0.0.1:0", .max_upload = 1 << 20, .quiet = 1};
    wv_server *s = wv_server_new(&o, err);
    if (!s) {
        fprintf(stderr, "indexee: %s\n", err);
        return 1;
    }
    s->defer = 1; /* as `weft serve`: listen first, index after */
    if (wv_server_add_path(s, argv[1], err) != 1 || wv_server_start(s, err)) {
        fprintf(stderr, "indexee: %s\n", err);
        wv_server_free(s);
        return 1;
    }
    client c[CLIENTS];
    pthread_t t[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        c[i] = (client){wv_server_port(s), 0};
        if (pthread_create(&t[i], NULL, client_main, &c[i]))
            return 1;
    }
    int failed = wv_server_index_pending(s) != 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(t[i], NULL);
        failed |= c[i].failed;
    }
    wv_server_free(s); /* a warm-up still waiting, or at work, is stopped or joined */
    return failed;
}
