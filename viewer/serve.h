/*
 * serve.h - `weft serve`: an HTTP server (civetweb) for the web UI in web/
 * and the JSON API of docs/http-api.md over indexed traces.
 *
 * Lifecycle: wv_server_new(), wv_server_add_path() for each trace or
 * directory (before or after start; with `defer` set they are only
 * registered, and wv_server_index_pending() indexes them on a thread after
 * start), wv_server_start(), then requests are
 * served by civetweb's worker threads until wv_server_free(). Traces are
 * never removed while the server runs, and an index is read-only once
 * added, so request threads share them without locks; adding a trace (an
 * upload) takes the server's lock only to publish it.
 */
#ifndef WV_SERVE_H
#define WV_SERVE_H

#include <stddef.h>
#include <stdint.h>

#define WV_SERVE_DEFAULT_ADDR "127.0.0.1:8080"
#define WV_SERVE_DEFAULT_UPLOAD (256ull << 20)
#define WV_SERVE_MAX_TRACES 1024
#define WV_SERVE_ERR 512

typedef struct wv_serve_opts {
    const char *addr;        /* HOST:PORT; port 0 picks a free port */
    const char *auth;        /* USER:PASS for digest authentication, or NULL */
    uint64_t max_upload;     /* bytes */
    int quiet;               /* no per-trace log lines on stderr */
} wv_serve_opts;

typedef struct wv_server wv_server;

/* @return a server (not listening yet), or NULL with a message in err. */
wv_server *wv_server_new(const wv_serve_opts *o, char *err);
/*! wv_server_add_path() :
 *  Indexes a .weft file, or every *.weft file of a directory (in name order;
 *  one that cannot be read is skipped with a message on stderr). A truncated
 *  or damaged file is still added with what could be read.
 *  @return the number of traces added, or -1 with a message in err (the file
 *          cannot be opened or is not a weft file; out of memory). */
int wv_server_add_path(wv_server *s, const char *path, char *err);
/* Indexes the trace read from fd (kept open by the server, which closes it
 * when freed); `name` is shown in the list. @return its index, or -1 with a
 * message in err (`status` set to the HTTP status to answer). */
int wv_server_add_fd(wv_server *s, int fd, const char *name, int *status, char *err);
/* Starts listening. @return 0, or -1 with a message in err. */
int wv_server_start(wv_server *s, char *err);
/* The port listened on (after start). */
int wv_server_port(const wv_server *s);
size_t wv_server_trace_count(const wv_server *s);
/* Stops listening, frees the traces and deletes the passwords file. */
void wv_server_free(wv_server *s);

/* The `weft serve` command: argv after "serve". @return the exit status. */
int wv_serve_main(int argc, char **argv);

#endif /* WV_SERVE_H */
