/*
 * infile.c - the read(2) window of infile.h.
 */
#define _GNU_SOURCE
#include "infile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int wv_infile_init(wv_infile *f, int fd, size_t cap)
{
    memset(f, 0, sizeof *f);
    f->fd = fd;
    f->cap = cap;
    f->buf = malloc(cap);
    return f->buf ? 0 : -1;
}

void wv_infile_free(wv_infile *f)
{
    free(f->buf);
    f->buf = NULL;
}

size_t wv_infile_need(wv_infile *f, size_t n)
{
    while (wv_infile_avail(f) < n && !f->eof) {
        if (f->pos) {
            memmove(f->buf, f->buf + f->pos, wv_infile_avail(f));
            f->base += f->pos;
            f->len -= f->pos;
            f->pos = 0;
        }
        ssize_t k = read(f->fd, f->buf + f->len, f->cap - f->len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            f->err = k < 0 ? errno : 0;
            f->eof = 1;
            break;
        }
        f->len += (size_t)k;
    }
    return wv_infile_avail(f);
}

int wv_infile_skip(wv_infile *f, uint64_t n)
{
    while (n) {
        size_t k = wv_infile_need(f, n < f->cap ? (size_t)n : f->cap);
        if (!k)
            return -1;
        k = k < n ? k : (size_t)n;
        f->pos += k;
        n -= k;
    }
    return 0;
}

int wv_infile_seek(wv_infile *f, uint64_t off)
{
    if (lseek(f->fd, (off_t)off, SEEK_SET) < 0)
        return -1;
    f->base = off;
    f->pos = f->len = 0;
    f->eof = f->err = 0;
    return 0;
}
