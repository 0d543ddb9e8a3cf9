/*
 * serve_http.h - the server's state, shared by its lifecycle (serve.c) and
 * the request handling (serve_http.c), and the embedded web assets
 * (generated at build time by viewer/embed_assets.cmake).
 */
#ifndef WV_SERVE_HTTP_H
#define WV_SERVE_HTTP_H

#include <pthread.h>
#include <stdatomic.h>

#include "serve.h"
#include "serve_json.h"

struct mg_context;
struct mg_connection;

struct wv_server {
    struct mg_context *ctx;
    wv_serve_opts o;
    char addr[128];
    int port;
    pthread_mutex_t lock;          /* serializes adding traces */
    wv_trace *traces[WV_SERVE_MAX_TRACES];
    atomic_size_t ntraces;         /* published with release after the slot is set */
    unsigned next_id;
    char auth_file[256];           /* digest passwords file, "" without --auth */
    _Atomic int defer;             /* add_path registers; wv_server_index_pending indexes */
    pthread_t indexer;             /* indexes the registered traces after start */
    int indexing;
};

/* Indexes, on a background thread, the traces added while `defer` was set. */
int wv_server_index_pending(wv_server *s);

/* The civetweb begin_request callback: answers every request itself, so
 * civetweb never looks for a file. @return 1 (handled). */
int wv_http_request(struct mg_connection *conn);

/* Indexes the trace in fd and publishes it (serve.c). */
int wv_server_add_fd(wv_server *s, int fd, const char *name, int *status, char *err);

typedef struct wv_asset {
    const char *path;              /* relative to web/, e.g. "index.html" */
    const unsigned char *data;
    size_t len;
} wv_asset;

extern const wv_asset wv_assets[];
extern const size_t wv_asset_count;

#endif /* WV_SERVE_HTTP_H */
