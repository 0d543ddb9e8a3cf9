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
 * The walk is the reader's (reader_frames.c) in miniature, over the same
 * read window (infile.h), but it needs no records: LZ4F_decompress() says where a frame ends, and a frame's bytes go
 * into one new frame, so no record ever crosses a frame boundary that it
 * did not cross before. Anything that is not a complete, valid frame - a
 * truncated tail, a damaged block - stops the walk, and the rest of the file
 * is copied as it is, for the reader to recover what it can.
 */
#define _GNU_SOURCE
#include "compact.h"
#include "infile.h"
#include "wire.h"

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
#define COMPACT_LEVEL LZ4HC_CLEVEL_MIN /* 3: ~100 MB/s, ~20 % smaller than the fast mode */

typedef struct cx {
    const char *path;
    wv_infile in;
    int out;
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
        size_t k = wv_infile_need(&x->in, x->in.cap);
        if (!k)
            return x->in.err ? fail(x, "read error at offset %llu: %s",
                                    (unsigned long long)wv_infile_off(&x->in), strerror(x->in.err))
                             : 0;
        if (put(x, wv_infile_ptr(&x->in), k))
            return -1;
        x->in.pos += k;
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
        size_t avail = wv_infile_need(&x->in, 1);
        if (!avail)
            break; /* truncated */
        size_t used = avail, got = PLAIN_CAP;
        size_t hint = LZ4F_decompress(x->d, x->plain, &got, wv_infile_ptr(&x->in), &used, NULL);
        if (lz4_failed(hint) || (!used && !got))
            break; /* damaged */
        x->in.pos += used;
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
    wv_infile *in = &x->in;
    for (;;) {
        uint64_t start = wv_infile_off(in);
        size_t k = wv_infile_need(in, 8);
        if (in->err)
            return fail(x, "read error at offset %llu: %s", (unsigned long long)start, strerror(in->err));
        if (k == 0)
            return 0;
        uint32_t magic = k >= 4 ? weft_get_le32(wv_infile_ptr(in)) : 0;
        if (k >= 8 && WEFT_LZ4_SKIPPABLE(magic)) { /* copied as it is */
            uint64_t size = 8 + (uint64_t)weft_get_le32(wv_infile_ptr(in) + 4);
            while (size) {
                size_t n = wv_infile_need(in, size < in->cap ? (size_t)size : in->cap);
                if (!n)
                    break;
                n = n < size ? n : (size_t)size;
                if (put(x, wv_infile_ptr(in), n))
                    return -1;
                in->pos += n, size -= n;
            }
            if (size) { /* the file ends inside it: what was there is copied */
                res->kept_offset = start;
                return in->err ? fail(x, "read error: %s", strerror(in->err)) : 0;
            }
            continue;
        }
        int rc = magic == WEFT_LZ4_FRAME_MAGIC ? frame(x) : 0;
        if (rc < 0)
            return -1;
        if (rc == 0) { /* from here on, byte for byte */
            if (wv_infile_seek(in, start) != 0)
                return fail(x, "cannot seek: %s", strerror(errno));
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
    x->plain = malloc(PLAIN_CAP);
    x->z = malloc(x->zcap);
    if (!x->plain || !x->z || LZ4F_isError(LZ4F_createDecompressionContext(&x->d, LZ4F_VERSION)) ||
        LZ4F_isError(LZ4F_createCompressionContext(&x->c, LZ4F_VERSION)))
        return fail(x, "out of memory");
    return 0;
}

static void teardown(cx *x)
{
    wv_infile_free(&x->in);
    free(x->plain), free(x->z);
    LZ4F_freeDecompressionContext(x->d);
    LZ4F_freeCompressionContext(x->c);
}

int wv_compact(const char *path, wv_compact_result *res, char *err, size_t errcap)
{
    cx x = {.path = path, .out = -1, .err = err, .errcap = errcap};
    if (err && errcap)
        *err = 0;
    memset(res, 0, sizeof *res);
    char *tmp = NULL;
    struct stat st;
    int rc = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC), open_err = errno;
    if (wv_infile_init(&x.in, fd, IN_CAP) != 0 || setup(&x)) {
        fail(&x, "out of memory");
        goto out;
    }
    if (fd < 0 || fstat(fd, &st) != 0) {
        fail(&x, "%s", strerror(fd < 0 ? open_err : errno));
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
    if (x.in.fd >= 0)
        close(x.in.fd);
    teardown(&x);
    return rc;
}
