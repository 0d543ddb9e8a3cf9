/*
 * test_serve.h - what the `weft serve` tests share: a server started in
 * process on a free port, and a minimal HTTP/1.1 client on raw sockets
 * (one request per connection, chunked answers decoded) so tests can also
 * send what no well-behaved client would: raw dot segments, escapes, NUL.
 *
 * Header-only (static functions): each test file is its own executable.
 */
#ifndef WEFT_TEST_SERVE_H
#define WEFT_TEST_SERVE_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "serve.h"

typedef struct ts_resp {
    int status;
    char head[4096];
    char *body; /* NUL-terminated, malloc'd */
    size_t len;
} ts_resp;

static inline int ts_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(fd >= 0 && !connect(fd, (struct sockaddr *)&a, sizeof a), "connect to port %d", port);
    return fd;
}

static inline void ts_send(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = write(fd, c, n);
        if (k <= 0)
            return; /* the server may close early (413): the answer is what counts */
        c += k, n -= (size_t)k;
    }
}

/* Decodes a chunked body in place. */
static inline size_t ts_dechunk(char *b, size_t n)
{
    size_t in = 0, out = 0;
    while (in < n) {
        char *end;
        unsigned long k = strtoul(b + in, &end, 16);
        char *crlf = strstr(b + in, "\r\n");
        if (!crlf || !k)
            break;
        in = (size_t)(crlf - b) + 2;
        memmove(b + out, b + in, k);
        out += k, in += k + 2;
        (void)end;
    }
    b[out] = 0;
    return out;
}

/* Sends a raw request (all of `req`, `len` bytes) and reads the answer. */
static inline ts_resp ts_raw(int port, const void *req, size_t len)
{
    ts_resp r = {0};
    int fd = ts_connect(port);
    ts_send(fd, req, len);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    for (ssize_t k; (k = read(fd, buf + n, cap - n)) > 0;) {
        n += (size_t)k;
        if (n == cap)
            buf = realloc(buf, (cap *= 2) + 1);
    }
    close(fd);
    buf[n] = 0;
    char *sep = strstr(buf, "\r\n\r\n");
    if (sscanf(buf, "HTTP/1.%*d %d", &r.status) != 1 || !sep) {
        r.body = buf;
        return r;
    }
    size_t hl = (size_t)(sep - buf);
    snprintf(r.head, sizeof r.head, "%.*s", (int)hl, buf);
    r.len = n - hl - 4;
    memmove(buf, sep + 4, r.len + 1);
    r.body = buf;
    if (strcasestr(r.head, "Transfer-Encoding: chunked"))
        r.len = ts_dechunk(r.body, r.len);
    return r;
}

static inline ts_resp ts_req(int port, const char *method, const char *path, const void *body, size_t blen,
                      const char *extra)
{
    char head[2048];
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%sContent-Length: %zu\r\n\r\n",
                     method, path, extra ? extra : "", blen);
    char *req = malloc((size_t)n + blen);
    memcpy(req, head, (size_t)n);
    if (blen)
        memcpy(req + n, body, blen);
    ts_resp r = ts_raw(port, req, (size_t)n + blen);
    free(req);
    return r;
}

static inline ts_resp ts_get(int port, const char *path) { return ts_req(port, "GET", path, NULL, 0, NULL); }

/* Asserts status and exact body. */
static inline void ts_expect(int port, const char *path, int status, const char *body)
{
    ts_resp r = ts_get(port, path);
    cr_expect_eq(r.status, status, "%s: status %d, expected %d (%s)", path, r.status, status, r.body);
    if (body)
        cr_expect_str_eq(r.body, body, "%s", path);
    free(r.body);
}

/* A server on 127.0.0.1 with the given traces (NULL-terminated). */
static inline wv_server *ts_server(const char *const *paths, uint64_t max_upload, int *port)
{
    char err[WV_SERVE_ERR];
    wv_serve_opts o = {.addr = "127.0.0.1:0", .max_upload = max_upload, .quiet = 1};
    wv_server *s = wv_server_new(&o, err);
    cr_assert(s, "%s", err);
    for (int i = 0; paths && paths[i]; i++)
        cr_assert(wv_server_add_path(s, paths[i], err) > 0, "%s", err);
    cr_assert_eq(wv_server_start(s, err), 0, "%s", err);
    *port = wv_server_port(s);
    cr_assert(*port > 0);
    return s;
}

#endif /* WEFT_TEST_SERVE_H */
