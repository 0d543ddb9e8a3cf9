/*
 * compact.c - recompresses a finished trace: every LZ4 frame is decompressed
 * and compressed again with LZ4HC, frame for frame, into a new file that
 * replaces the old one.
 *
 * Why: `weft record` has the recorder store its blocks uncompressed
 * (WEFT_COMPRESS=defer, recorder/writer.c). LZ4 was two thirds of the
 * writer's CPU, ~25-45 ns per event, and a recorded server pays for every
 * cycle of it; after the program has exited the same work costs it nothing,
 * and there is time for LZ4HC, which makes the file ~20 % smaller than the
 * fast mode the writer uses under load.
 *
 * The walk is the reader's (reader_frames.c) in miniature, but it needs no
 * records: LZ4F_decompress() says where a frame ends, and a frame's bytes go
 * into one new frame, so no record ever crosses a frame boundary that it
 * did not cross before. Anything that is not a complete, valid frame - a
 * truncated tail, a damaged block - stops the walk, and the rest of the file
 * is copied as it is, for the reader to recover what it can.
 */
#define _GNU_SOURCE
#include "compact.h"

#include <errno.h>
#include <fcntl.h>
#include <lz4frame.h>
#include <lz4hc.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IN_CAP (256u << 10)
#define PLAIN_CAP (64u << 10)
#define LZ4_FRAME_MAGIC 0x184D2204u
#define COMPACT_LEVEL LZ4HC_CLEVEL_MIN /* 3: ~100 MB/s, ~20 % smaller than the fast mode */

typedef struct cx {
    const char *path;
    int in, out;
    uint8_t *buf; /* input window: buf[pos, len) is the file from offset base + pos */
    size_t len, pos;
    uint64_t base;
    bool eof;
    int read_err;
    LZ4F_dctx *d;
    LZ4F_cctx *c;
    LZ4F_preferences_t prefs;
    uint8_t *plain, *z;
    size_t zcap;
    uint64_t out_off;
    char *err;
    size_t errcap;
} cx;

static int fail(cx *x, const char *fmt, ...)
{
    if (x->err && x->errcap && !*x->err) {
        int n = snprintf(x->err, x->errcap, "%s: ", x->path);
        va_list ap;
        va_start(ap, fmt);
        if (n >= 0 && (size_t)n < x->errcap)
            vsnprintf(x->err + n, x->errcap - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static uint64_t in_off(const cx *x) { return x->base + x->pos; }

/* Makes at least n (<= IN_CAP) bytes available unless the file ends first.
 * @return the bytes available. */
static size_t fill(cx *x, size_t n)
{
    while (x->len - x->pos < n && !x->eof) {
        if (x->pos) {
            memmove(x->buf, x->buf + x->pos, x->len - x->pos);
            x->base += x->pos;
            x->len -= x->pos;
            x->pos = 0;
        }
        ssize_t k = read(x->in, x->buf + x->len, IN_CAP - x->len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            x->read_err = k < 0 ? errno : 0;
            x->eof = true;
        } else {
            x->len += (size_t)k;
        }
    }
    return x->len - x->pos;
}

static int put(cx *x, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t k = write(x->out, b, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return fail(x, "cannot write the compressed copy: %s", k < 0 ? strerror(errno) : "no space");
        b += k, n -= (size_t)k;
        x->out_off += (uint64_t)k;
    }
    return 0;
}

/* Copies the input from the current position to its end. */
static int copy_rest(cx *x)
{
    for (;;) {
        size_t k = fill(x, IN_CAP);
        if (!k)
            return x->read_err ? fail(x, "read error at offset %llu: %s", (unsigned long long)in_off(x),
                                      strerror(x->read_err))
                               : 0;
        if (put(x, x->buf + x->pos, k))
            return -1;
        x->pos += k;
    }
}

static bool lz4_failed(size_t r) { return LZ4F_isError(r); }

/* Recompresses the frame at the current position. @return 1 when it was
 * complete and valid and is now written, 0 when it is truncated or damaged
 * (nothing of it written: the caller copies it as it is), -1 on a write
 * error. */
static int frame(cx *x)
{
    uint64_t out_start = x->out_off;
    LZ4F_resetDecompressionContext(x->d);
    size_t r = LZ4F_compressBegin(x->c, x->z, x->zcap, &x->prefs);
    if (lz4_failed(r) || put(x, x->z, r))
        return lz4_failed(r) ? fail(x, "LZ4: %s", LZ4F_getErrorName(r)) : -1;
    for (;;) {
        size_t avail = fill(x, 1);
        if (!avail)
            break; /* truncated */
        size_t used = avail, got = PLAIN_CAP;
        size_t hint = LZ4F_decompress(x->d, x->plain, &got, x->buf + x->pos, &used, NULL);
        if (lz4_failed(hint) || (!used && !got))
            break; /* damaged */
        x->pos += used;
        if (got) {
            r = LZ4F_compressUpdate(x->c, x->z, x->zcap, x->plain, got, NULL);
            if (lz4_failed(r) || put(x, x->z, r))
                return lz4_failed(r) ? fail(x, "LZ4: %s", LZ4F_getErrorName(r)) : -1;
        }
        if (hint == 0) { /* the frame ended where it should */
            r = LZ4F_compressEnd(x->c, x->z, x->zcap, NULL);
            if (lz4_failed(r) || put(x, x->z, r))
                return lz4_failed(r) ? fail(x, "LZ4: %s", LZ4F_getErrorName(r)) : -1;
            return 1;
        }
    }
    /* Take back what was written of this frame. */
    if (ftruncate(x->out, (off_t)out_start) != 0 || lseek(x->out, (off_t)out_start, SEEK_SET) < 0)
        return fail(x, "cannot write the compressed copy: %s", strerror(errno));
    x->out_off = out_start;
    return 0;
}

/* Walks the file. @return 0 or -1. */
static int walk(cx *x, wv_compact_result *res)
{
    for (;;) {
        uint64_t start = in_off(x);
        size_t k = fill(x, 8);
        if (x->read_err)
            return fail(x, "read error at offset %llu: %s", (unsigned long long)start, strerror(x->read_err));
        if (k == 0)
            return 0;
        uint32_t magic = k >= 4 ? (uint32_t)x->buf[x->pos] | (uint32_t)x->buf[x->pos + 1] << 8 |
                                          (uint32_t)x->buf[x->pos + 2] << 16 | (uint32_t)x->buf[x->pos + 3] << 24
                                : 0;
        if (k >= 8 && (magic & 0xFFFFFFF0u) == 0x184D2A50u) { /* skippable: copied */
            uint64_t size = 8 + ((uint64_t)x->buf[x->pos + 4] | (uint64_t)x->buf[x->pos + 5] << 8 |
                                 (uint64_t)x->buf[x->pos + 6] << 16 | (uint64_t)x->buf[x->pos + 7] << 24);
            while (size) {
                size_t n = fill(x, size < IN_CAP ? (size_t)size : IN_CAP);
                if (!n)
                    break;
                n = n < size ? n : (size_t)size;
                if (put(x, x->buf + x->pos, n))
                    return -1;
                x->pos += n, size -= n;
            }
            if (size) { /* the file ends inside it: what was there is copied */
                res->kept_offset = start;
                return x->read_err ? fail(x, "read error: %s", strerror(x->read_err)) : 0;
            }
            continue;
        }
        int rc = magic == LZ4_FRAME_MAGIC ? frame(x) : 0;
        if (rc < 0)
            return -1;
        if (rc == 0) { /* from here on, byte for byte */
            if (lseek(x->in, (off_t)start, SEEK_SET) < 0)
                return fail(x, "cannot seek: %s", strerror(errno));
            x->base = start, x->pos = x->len = 0, x->eof = false, x->read_err = 0;
            res->kept_offset = start;
            return copy_rest(x);
        }
        res->frames++;
    }
}

static int setup(cx *x)
{
    memset(&x->prefs, 0, sizeof x->prefs);
    x->prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    x->prefs.frameInfo.blockMode = LZ4F_blockLinked;
    x->prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    x->prefs.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
    x->prefs.compressionLevel = COMPACT_LEVEL;
    x->zcap = LZ4F_compressBound(PLAIN_CAP, &x->prefs) + LZ4F_HEADER_SIZE_MAX;
    x->buf = malloc(IN_CAP);
    x->plain = malloc(PLAIN_CAP);
    x->z = malloc(x->zcap);
    if (!x->buf || !x->plain || !x->z || LZ4F_isError(LZ4F_createDecompressionContext(&x->d, LZ4F_VERSION)) ||
        LZ4F_isError(LZ4F_createCompressionContext(&x->c, LZ4F_VERSION)))
        return fail(x, "out of memory");
    return 0;
}

static void teardown(cx *x)
{
    free(x->buf), free(x->plain), free(x->z);
    LZ4F_freeDecompressionContext(x->d);
    LZ4F_freeCompressionContext(x->c);
}

int wv_compact(const char *path, wv_compact_result *res, char *err, size_t errcap)
{
    cx x = {.path = path, .in = -1, .out = -1, .err = err, .errcap = errcap};
    if (err && errcap)
        *err = 0;
    memset(res, 0, sizeof *res);
    char *tmp = NULL;
    struct stat st;
    int rc = -1;
    if (setup(&x))
        goto out;
    x.in = open(path, O_RDONLY | O_CLOEXEC);
    if (x.in < 0 || fstat(x.in, &st) != 0) {
        fail(&x, "%s", strerror(errno));
        goto out;
    }
    if (asprintf(&tmp, "%s.compact-XXXXXX", path) < 0) {
        tmp = NULL;
        fail(&x, "out of memory");
        goto out;
    }
    x.out = mkostemp(tmp, O_CLOEXEC);
    if (x.out < 0) {
        fail(&x, "cannot create %s: %s", tmp, strerror(errno));
        free(tmp), tmp = NULL;
        goto out;
    }
    res->bytes_before = (uint64_t)st.st_size;
    res->kept_offset = (uint64_t)st.st_size;
    if (walk(&x, res) != 0)
        goto out;
    if (fchmod(x.out, st.st_mode & 07777) != 0 || close(x.out) != 0) {
        x.out = -1;
        fail(&x, "cannot write the compressed copy: %s", strerror(errno));
        goto out;
    }
    x.out = -1;
    if (rename(tmp, path) != 0) {
        fail(&x, "cannot replace it with the compressed copy: %s", strerror(errno));
        goto out;
    }
    res->bytes_after = x.out_off;
    rc = 0;
out:
    if (x.out >= 0)
        close(x.out);
    if (rc != 0 && tmp)
        unlink(tmp);
    free(tmp);
    if (x.in >= 0)
        close(x.in);
    teardown(&x);
    return rc;
}
