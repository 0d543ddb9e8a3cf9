/*
 * http_get.h - one HTTP/1.0 GET to 127.0.0.1 on raw sockets (the server
 * closes after its answer), for programs that talk to a `weft serve`
 * without Criterion: tests/support/indexee.c and bench/serve_bench.c.
 * Header-only (static functions).
 */
#ifndef WEFT_HTTP_GET_H
#define WEFT_HTTP_GET_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* GETs path. @return the whole answer, headers included (malloc'd,
 * NUL-terminated), or NULL if it could not connect, send or allocate; its
 * status in *status (-1: none) and its length in *bytes when not NULL. */
static inline char *hg_get(int port, const char *path, int *status, long *bytes)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char req[512], *buf = NULL;
    size_t cap = 1 << 16, len = 0;
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    if (fd >= 0 && !connect(fd, (struct sockaddr *)&a, sizeof a) && write(fd, req, (size_t)n) == n)
        buf = malloc(cap + 1);
    for (ssize_t k; buf && (k = read(fd, buf + len, cap - len)) > 0;) {
        if ((len += (size_t)k) == cap) {
            char *more = realloc(buf, (cap *= 2) + 1);
            if (!more)
                free(buf);
            buf = more;
        }
    }
    if (fd >= 0)
        close(fd);
    if (buf)
        buf[len] = 0;
    if (status && !(buf && sscanf(buf, "HTTP/1.%*d %d", status) == 1))
        *status = -1;
    if (bytes)
        *bytes = buf ? (long)len : -1;
    return buf;
}

#endif /* WEFT_HTTP_GET_H */
