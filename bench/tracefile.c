/*
 * tracefile.c - the little of a .weft file the benchmark needs: its size, the
 * header's clock source and buffer limit, the events in its BATCH records and
 * the END record (events written, dropped, the recorder's peak memory).
 *
 * The figures must say honestly whether events were dropped, and the viewer
 * is built in parallel and may be missing, so the benchmark decodes these few
 * records itself instead of parsing `weft stats` text. It walks the record
 * layer only (docs/format.md §1-3) using the constants and varint reader of
 * recorder/wire.h; events themselves are not decoded.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "wire.h"

#include <errno.h>
#include <lz4frame.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct reader {
    uint8_t *buf; /* decompressed bytes not yet parsed into records */
    size_t len, cap;
    bench_trace *out;
} reader;

static void take_end(bench_trace *t, const uint8_t *p, const uint8_t *end)
{
    uint64_t v[5];
    for (int i = 0; i < 5; i++)
        if (weft_get_uvarint(&p, end, &v[i]) != 0)
            return;
    t->has_end = 1;
    t->end_reason = v[0];
    t->events = v[1];
    t->dropped = v[2];
    t->memory_bytes = v[3];
    t->threads = v[4];
}

static void take_batch(bench_trace *t, const uint8_t *p, const uint8_t *end)
{
    uint64_t index, seq, offset, count;
    if (weft_get_uvarint(&p, end, &index) == 0 && weft_get_uvarint(&p, end, &seq) == 0 &&
        weft_get_uvarint(&p, end, &offset) == 0 && weft_get_uvarint(&p, end, &count) == 0)
        t->batch_events += count;
}

/* Consumes every complete record at the front of r->buf. */
static void parse_records(reader *r)
{
    size_t off = 0;
    for (;;) {
        const uint8_t *p = r->buf + off + 1, *end = r->buf + r->len;
        uint64_t body;
        if (off >= r->len || weft_get_uvarint(&p, end, &body) != 0 || (uint64_t)(end - p) < body)
            break;
        unsigned kind = r->buf[off];
        if (kind == WEFT_REC_END)
            take_end(r->out, p, p + body);
        else if (kind == WEFT_REC_BATCH)
            take_batch(r->out, p, p + body);
        off = (size_t)(p - r->buf) + body;
    }
    memmove(r->buf, r->buf + off, r->len - off);
    r->len -= off;
}

static int reader_room(reader *r, size_t need)
{
    if (r->cap - r->len >= need)
        return 0;
    size_t cap = r->cap ? r->cap : 1u << 20;
    while (cap - r->len < need)
        cap *= 2;
    uint8_t *b = realloc(r->buf, cap);
    if (!b)
        return -1;
    r->buf = b, r->cap = cap;
    return 0;
}

/* Reads the header fields the figures use and skips the rest of its
 * skippable frame, leaving f at the first LZ4 frame. Returns 0 or -1. */
static int read_header(FILE *f, bench_trace *out, char *err, size_t cap)
{
    uint8_t h[8 + WEFT_HEADER_FIXED];
    if (fread(h, 1, sizeof h, f) != sizeof h || weft_get_le32(h) != WEFT_SKIPPABLE_MAGIC ||
        memcmp(h + 8, WEFT_HEADER_MAGIC, 4) != 0) {
        snprintf(err, cap, "not a .weft file (no WEFT header)");
        return -1;
    }
    if (fseek(f, 8 + (long)weft_get_le32(h + 4), SEEK_SET) != 0) {
        snprintf(err, cap, "header longer than the file");
        return -1;
    }
    const uint8_t *p = h + 8; /* the payload; offsets from docs/format.md §2 */
    out->clock = p[8];
    out->chunk_bytes = weft_get_le32(p + 48);
    out->chunks_per_thread = weft_get_le32(p + 52);
    return 0;
}

static int decode(FILE *f, reader *r, char *err, size_t cap)
{
    LZ4F_dctx *dctx;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION))) {
        snprintf(err, cap, "LZ4F_createDecompressionContext failed");
        return -1;
    }
    static uint8_t in[1u << 16];
    int rc = 0;
    size_t n;
    while (rc == 0 && (n = fread(in, 1, sizeof in, f)) > 0) {
        size_t used = 0;
        while (used < n) {
            if (reader_room(r, 1u << 17) != 0) {
                snprintf(err, cap, "out of memory");
                rc = -1;
                break;
            }
            size_t src = n - used, dst = r->cap - r->len;
            size_t ret = LZ4F_decompress(dctx, r->buf + r->len, &dst, in + used, &src, NULL);
            if (LZ4F_isError(ret)) {
                snprintf(err, cap, "LZ4 frame error: %s", LZ4F_getErrorName(ret));
                rc = -1;
                break;
            }
            used += src;
            r->len += dst;
            parse_records(r);
        }
    }
    LZ4F_freeDecompressionContext(dctx);
    return rc;
}

int bench_trace_read(const char *path, bench_trace *out, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    struct stat st;
    FILE *f = fopen(path, "rb");
    if (!f || fstat(fileno(f), &st) != 0) {
        snprintf(err, cap, "%s: %s", path, strerror(errno));
        if (f)
            fclose(f);
        return -1;
    }
    out->file_bytes = (uint64_t)st.st_size;
    reader r = {NULL, 0, 0, out};
    int rc = read_header(f, out, err, cap);
    if (rc == 0)
        rc = decode(f, &r, err, cap);
    fclose(f);
    free(r.buf);
    if (rc == 0 && !out->has_end) {
        snprintf(err, cap, "%s has no END record (truncated)", path);
        rc = -1;
    }
    return rc < 0 ? -1 : 0;
}
