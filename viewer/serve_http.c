/*
 * serve_http.c - every request `weft serve` answers: the safety checks, the
 * routing of docs/http-api.md, the embedded assets, uploads and the
 * streamed Chrome JSON download.
 *
 * All requests arrive in civetweb's begin_request callback and are answered
 * there, so civetweb's own file serving never runs (and no document_root is
 * configured): no part of a URL can reach the filesystem. Paths are checked
 * before routing; anything odd (dot segments, escapes, backslashes, empty
 * segments, control bytes) is a 404, since no valid path needs them.
 */
#define _GNU_SOURCE
#include <civetweb.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "chrome.h"
#include "serve_http.h"

#define JSON_TYPE "application/json; charset=utf-8"

/* ---- responses ------------------------------------------------------------ */

static void send_head(struct mg_connection *conn, int status, const char *type, long long len)
{
    char cl[32];
    mg_response_header_start(conn, status);
    mg_response_header_add(conn, "Content-Type", type, -1);
    if (len >= 0) {
        snprintf(cl, sizeof cl, "%lld", len);
        mg_response_header_add(conn, "Content-Length", cl, -1);
    } else if (len == -1) {
        mg_response_header_add(conn, "Transfer-Encoding", "chunked", -1);
    } /* else HTTP/1.0: the body ends when the connection closes */
    mg_response_header_add(conn, "Cache-Control", "no-store", -1);
    mg_response_header_add(conn, "X-Content-Type-Options", "nosniff", -1);
}

static void send_body(struct mg_connection *conn, int status, const char *type, const void *body,
                      size_t len)
{
    send_head(conn, status, type, (long long)len);
    mg_response_header_send(conn);
    if (strcmp(mg_get_request_info(conn)->request_method, "HEAD"))
        mg_write(conn, body, len);
}

static void send_error(struct mg_connection *conn, int status, const char *msg)
{
    char body[WV_ERR_MAX * 6 + 32];
    size_t n = (size_t)snprintf(body, sizeof body, "{\"error\":");
    n += wv_json_quote(body + n, msg, strnlen(msg, WV_ERR_MAX));
    n += (size_t)snprintf(body + n, sizeof body - n, "}\n");
    send_body(conn, status, JSON_TYPE, body, n);
}

/* Runs `fill` into memory, then sends its answer with a length: status `ok`,
 * or the error status and message it returns instead of 200. */
typedef int (*fill_fn)(void *ctx, const wv_params *p, wv_jw *w, char *err);

static void answer(struct mg_connection *conn, int ok, fill_fn fill, void *ctx, const wv_params *p)
{
    char *buf = NULL, err[WV_ERR_MAX] = "out of memory";
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    wv_jw w;
    int status = 500;
    if (f && !wv_jw_init(&w, f)) {
        status = fill(ctx, p, &w, err);
        if (wv_jw_close(&w) && status == 200)
            status = 500, snprintf(err, sizeof err, "out of memory");
    }
    if (f)
        fclose(f);
    if (status == 200)
        send_body(conn, ok, JSON_TYPE, buf, len);
    else
        send_error(conn, status, err);
    free(buf);
}

/* An API handler bound to its trace, as a fill_fn. */
typedef struct bound {
    wv_handler h;
    wv_trace *t;
} bound;

static int fill_bound(void *ctx, const wv_params *p, wv_jw *w, char *err)
{
    bound *b = ctx;
    return b->h(b->t, p, w, err);
}

/* ---- safety --------------------------------------------------------------- */

/* A path no valid request has: dot segments, escapes, backslashes, empty
 * segments, control bytes. */
static int path_suspicious(const char *u)
{
    if (!u || u[0] != '/')
        return 1;
    if (strstr(u, "..") || strstr(u, "//") || strstr(u, "/./") || strchr(u, '\\') || strchr(u, '%'))
        return 1;
    for (const unsigned char *c = (const unsigned char *)u; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            return 1;
    size_t n = strlen(u);
    return n >= 2 && u[n - 1] == '.' && u[n - 2] == '/';
}

/* ---- assets --------------------------------------------------------------- */

static const char *content_type(const char *path)
{
    static const char *types[][2] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
        {".json", JSON_TYPE}, {".svg", "image/svg+xml"}, {".png", "image/png"},
        {".ico", "image/x-icon"}, {".woff2", "font/woff2"}, {".txt", "text/plain; charset=utf-8"},
        {".map", JSON_TYPE}, {".md", "text/plain; charset=utf-8"}};
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(dot, types[i][0]))
            return types[i][1];
    return "application/octet-stream";
}

static void asset(struct mg_connection *conn, const char *path)
{
    const char *method = mg_get_request_info(conn)->request_method;
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return send_error(conn, 405, "method not allowed");
    const char *name = strcmp(path, "/") ? path + 1 : "index.html";
    for (size_t i = 0; i < wv_asset_count; i++)
        if (!strcmp(wv_assets[i].path, name))
            return send_body(conn, 200, content_type(name), wv_assets[i].data, wv_assets[i].len);
    send_error(conn, 404, "no such path");
}

/* ---- traces --------------------------------------------------------------- */

static int fill_list(void *ctx, const wv_params *p, wv_jw *w, char *err)
{
    wv_server *s = ctx;
    size_t n = atomic_load_explicit(&s->ntraces, memory_order_acquire);
    WV_JW_LIT(w, "{\"traces\":[");
    for (size_t i = 0, k = 0; i < n; i++) {
        if (wv_trace_wait(s->traces[i]) < 0)
            continue; /* a trace that could not be indexed is not listed */
        if (k++)
            WV_JW_LIT(w, ",\n");
        wv_api_trace_entry(s->traces[i], w);
    }
    WV_JW_LIT(w, "]}\n");
    return 200;
}

static int fill_entry(void *ctx, const wv_params *p, wv_jw *w, char *err)
{
    if (wv_trace_wait(ctx) < 0) {
        snprintf(err, WV_ERR_MAX, "out of memory while indexing this trace");
        return 500;
    }
    wv_api_trace_entry(ctx, w);
    WV_JW_LIT(w, "\n");
    return 200;
}

/* The body of a POST goes to an anonymous memory file (never a path), up to
 * --max-upload bytes. */
static void upload(struct mg_connection *conn, wv_server *s)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    char msg[WV_SERVE_ERR];
    if (ri->content_length > (long long)s->o.max_upload) {
        snprintf(msg, sizeof msg, "upload larger than %llu bytes", (unsigned long long)s->o.max_upload);
        return send_error(conn, 413, msg);
    }
    /* civetweb's worker threads have 100 KiB stacks: the buffer is on the heap */
    enum { CHUNK = 1 << 16 };
    int fd = memfd_create("weft-upload", MFD_CLOEXEC);
    char *buf = fd >= 0 ? malloc(CHUNK) : NULL;
    if (!buf) {
        if (fd >= 0)
            close(fd);
        return send_error(conn, 500, "cannot create a memory file");
    }
    uint64_t total = 0;
    int failed = 0;
    for (int n; !failed && (n = mg_read(conn, buf, CHUNK)) > 0;) {
        total += (uint64_t)n;
        if (total > s->o.max_upload)
            failed = 413;
        else if (write(fd, buf, (size_t)n) != n)
            failed = 500;
    }
    free(buf);
    if (failed) {
        close(fd);
        snprintf(msg, sizeof msg, failed == 413 ? "upload larger than %llu bytes" : "out of memory for the upload",
                 (unsigned long long)s->o.max_upload);
        return send_error(conn, failed, msg);
    }
    lseek(fd, 0, SEEK_SET);
    /* the name is only shown: keep its last path component, printable */
    const char *h = mg_get_header(conn, "X-Weft-Name");
    char name[128] = "upload.weft";
    if (h && *h) {
        const char *base = strrchr(h, '/') ? strrchr(h, '/') + 1 : h;
        size_t k = 0;
        for (; *base && k + 1 < sizeof name; base++)
            name[k++] = (unsigned char)*base < 0x20 || *base == '\\' ? '_' : *base;
        name[k] = 0;
    }
    int status = 400;
    int idx = wv_server_add_fd(s, fd, name, &status, msg);
    if (idx < 0) {
        close(fd);
        return send_error(conn, status, msg);
    }
    answer(conn, 201, fill_entry, s->traces[idx], NULL);
}

/* The download's FILE* writes into the connection as HTTP chunks. When the
 * client is gone mg_send_chunk fails, the write reports an error, and
 * wv_chrome_write() stops at its next event (it checks the writer's error),
 * so an abandoned download costs at most one buffer more. */
typedef struct download {
    struct mg_connection *conn;
    int chunked; /* 0: an HTTP/1.0 client, which knows no chunks */
    int dead;
} download;

static ssize_t download_write(void *cookie, const char *buf, size_t n)
{
    download *d = cookie;
    int sent = d->dead || !n ? 0 : d->chunked ? mg_send_chunk(d->conn, buf, (unsigned)n)
                                              : mg_write(d->conn, buf, n);
    if (d->dead || (n && sent <= 0)) {
        d->dead = 1;
        errno = EPIPE;
        return -1;
    }
    return (ssize_t)n;
}

static void trace_json(struct mg_connection *conn, wv_trace *t)
{
    /* a descriptor of its own, so concurrent downloads have their own offsets */
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", t->fd);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    wv_reader *r = fd >= 0 ? wv_reader_open_fd(fd, t->name) : NULL;
    if (!r || wv_reader_status(r) == WV_FAILED) {
        if (r)
            wv_reader_close(r);
        if (fd >= 0)
            close(fd);
        return send_error(conn, 500, "cannot reopen the trace");
    }
    char disp[400], base[256];
    snprintf(base, sizeof base, "%s", t->name);
    char *dot = strrchr(base, '.');
    if (dot && !strcmp(dot, ".weft"))
        *dot = 0;
    for (char *c = base; *c; c++)
        if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20)
            *c = '_';
    snprintf(disp, sizeof disp, "attachment; filename=\"%s.json\"", base);
    int chunked = strcmp(mg_get_request_info(conn)->http_version, "1.0") != 0;
    send_head(conn, 200, JSON_TYPE, chunked ? -1 : -2);
    mg_response_header_add(conn, "Content-Disposition", disp, -1);
    mg_response_header_send(conn);
    download d = {conn, chunked, 0};
    FILE *f = fopencookie(&d, "w", (cookie_io_functions_t){.write = download_write});
    if (f) {
        setvbuf(f, NULL, _IOFBF, 1 << 16);
        wv_chrome_write(r, f);
        fclose(f);
    }
    if (!d.dead && chunked)
        mg_send_chunk(conn, "", 0);
    wv_reader_close(r);
    close(fd);
}

static const struct {
    const char *name;
    wv_handler h;
} routes[] = {
    {"summary", wv_api_summary}, {"window", wv_api_window},     {"slice", wv_api_slice},
    {"logs", wv_api_logs},       {"search", wv_api_search},     {"aggregate", wv_api_aggregate},
    {"tasks", wv_api_tasks},     {"regions", wv_api_regions},   {"wait", wv_api_wait},
    {"blocking", wv_api_blocking},
};

static wv_trace *find_trace(wv_server *s, const char *id, size_t len)
{
    size_t n = atomic_load_explicit(&s->ntraces, memory_order_acquire);
    for (size_t i = 0; i < n; i++)
        if (strlen(s->traces[i]->id) == len && !memcmp(s->traces[i]->id, id, len))
            return s->traces[i];
    return NULL;
}

static void api(struct mg_connection *conn, wv_server *s, const char *path)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    int get = !strcmp(ri->request_method, "GET");
    if (!strcmp(path, "/api/traces")) {
        if (get)
            return answer(conn, 200, fill_list, s, NULL);
        if (!strcmp(ri->request_method, "POST"))
            return upload(conn, s);
        return send_error(conn, 405, "method not allowed");
    }
    if (strncmp(path, "/api/traces/", 12))
        return send_error(conn, 404, "no such path");
    const char *id = path + 12, *slash = strchr(id, '/');
    size_t idlen = slash ? (size_t)(slash - id) : strlen(id);
    wv_trace *t = idlen && idlen < sizeof t->id ? find_trace(s, id, idlen) : NULL;
    if (!t || !slash)
        return send_error(conn, 404, t ? "no such path" : "no such trace");
    if (wv_trace_wait(t) < 0)
        return send_error(conn, 500, "out of memory while indexing this trace");
    const char *what = slash + 1;
    int known = !strcmp(what, "trace.json");
    for (size_t i = 0; !known && i < sizeof routes / sizeof routes[0]; i++)
        known = !strcmp(what, routes[i].name);
    if (!known)
        return send_error(conn, 404, "no such path");
    if (!get)
        return send_error(conn, 405, "method not allowed");
    if (!strcmp(what, "trace.json"))
        return trace_json(conn, t);
    const char *qs = ri->query_string;
    size_t qlen = qs ? strlen(qs) + 1 : 1;
    char *buf = malloc(qlen), err[WV_ERR_MAX];
    wv_params p;
    if (!buf)
        return send_error(conn, 500, "out of memory");
    if (wv_params_parse(&p, qs, buf, qlen, err)) {
        free(buf);
        return send_error(conn, 400, err);
    }
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (!strcmp(what, routes[i].name)) {
            bound b = {routes[i].h, t};
            answer(conn, 200, fill_bound, &b, &p);
        }
    if (!strcmp(what, "window"))
        wv_trace_window_served(t);
    free(buf);
}

int wv_http_request(struct mg_connection *conn)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    wv_server *s = ri->user_data;
    if (s->auth_file[0] && mg_check_digest_access_authentication(conn, "weft", s->auth_file) <= 0) {
        mg_send_digest_access_authentication_request(conn, "weft");
        return 401;
    }
    /* request_uri is the path as sent; local_uri_raw the decoded one */
    if (path_suspicious(ri->request_uri) || path_suspicious(ri->local_uri_raw) ||
        path_suspicious(ri->local_uri)) {
        send_error(conn, 404, "no such path");
        return 404;
    }
    if (!strncmp(ri->local_uri, "/api/", 5) || !strcmp(ri->local_uri, "/api"))
        api(conn, s, ri->local_uri);
    else
        asset(conn, ri->local_uri);
    return 200;
}
