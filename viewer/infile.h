/*
 * infile.h - a read(2) window over a file, for code that walks a trace front
 * to back: the reader's input layer (reader_frames.c) and the compactor
 * (compact.c). Offsets are file offsets, so errors can name where they are.
 */
#ifndef WV_INFILE_H
#define WV_INFILE_H

#include <stddef.h>
#include <stdint.h>

typedef struct wv_infile {
    int fd;
    uint8_t *buf;    /* cap bytes; buf[pos, len) is the file from offset base + pos */
    size_t cap, pos, len;
    uint64_t base;
    int eof, err;    /* the file ended, or read(2) failed with errno err */
} wv_infile;

/* Sets f up to read fd through a window of cap bytes. @return 0, or -1 when
 * out of memory (f->buf NULL). */
int wv_infile_init(wv_infile *f, int fd, size_t cap);
void wv_infile_free(wv_infile *f);

/* Makes at least n (<= cap) bytes available unless the file ends or a read
 * fails first (f->eof, f->err). @return the bytes available. */
size_t wv_infile_need(wv_infile *f, size_t n);

/* Skips n bytes. @return 0, or -1 if the file ends first. */
int wv_infile_skip(wv_infile *f, uint64_t n);

/* Goes back or forward to file offset off (lseek). @return 0, or -1 with
 * errno set. */
int wv_infile_seek(wv_infile *f, uint64_t off);

static inline uint64_t wv_infile_off(const wv_infile *f) { return f->base + f->pos; }
static inline size_t wv_infile_avail(const wv_infile *f) { return f->len - f->pos; }
static inline const uint8_t *wv_infile_ptr(const wv_infile *f) { return f->buf + f->pos; }

#endif /* WV_INFILE_H */
