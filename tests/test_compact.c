/*
 * test_compact.c - traces whose blocks the recorder stored uncompressed
 * (WEFT_COMPRESS=defer, what `weft record` asks for) and wv_compact(), which
 * compresses them afterwards: the events read back are exactly the same,
 * the file is smaller, and a truncated or damaged trace loses nothing the
 * reader could recover before.
 *
 * The traces come from linkedprog (support/linkedprog.c), which records
 * itself through libweft.so when WEFT_OUT is set.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compact.h"
#include "testutil.h"
#include "wire.h"

/* What the file's LZ4 frames look like, walked from their headers. */
typedef struct layout {
    int frames, independent; /* frames, and those with independent blocks */
    int stored, compressed;  /* blocks of each kind */
} layout;

static layout layout_of(const char *path)
{
    layout l = {0, 0, 0, 0};
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    static uint8_t b[64 << 20];
    size_t n = fread(b, 1, sizeof b, f), i = 0;
    fclose(f);
    while (i + 8 <= n) {
        uint32_t magic = weft_get_le32(b + i);
        if (WEFT_LZ4_SKIPPABLE(magic)) {
            i += 8 + weft_get_le32(b + i + 4);
            continue;
        }
        cr_assert_eq(magic, WEFT_LZ4_FRAME_MAGIC, "an LZ4 frame at offset %zu", i);
        uint8_t flg = b[i + 4];
        l.frames++;
        l.independent += !!(flg & 0x20);
        i += 7 + (flg & 0x08 ? 8 : 0) + (flg & 0x01 ? 4 : 0);
        for (;;) {
            cr_assert_leq(i + 4, n, "the frame is complete");
            uint32_t size = weft_get_le32(b + i);
            i += 4;
            if (size == 0)
                break;
            if (size & 0x80000000u)
                l.stored++;
            else
                l.compressed++;
            i += (size & 0x7FFFFFFFu) + (flg & 0x10 ? 4 : 0);
        }
        i += flg & 0x04 ? 4 : 0;
    }
    return l;
}

/* Runs linkedprog recording itself into `path` with stored blocks: its
 * lock rounds and 300 000 more regions and counter values, some 3 MB. */
static void record_stored(const char *path)
{
    char *argv[] = {LINKEDPROG_BIN, "300000", NULL};
    char *env[] = {tu_env("WEFT_OUT", path), tu_env("WEFT_COMPRESS", "defer"), NULL};
    char *out;
    cr_assert_eq(tu_run(argv, env, &out), 0, "%s", out);
    free(out);
    layout l = layout_of(path);
    cr_assert_gt(l.frames, 0);
    cr_assert_eq(l.independent, l.frames, "stored frames have independent blocks");
    cr_assert_eq(l.compressed, 0, "the recorder compressed nothing");
    cr_assert_gt(l.stored, 0);
}

static uint64_t size_of(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "%s", path);
    return (uint64_t)st.st_size;
}

static void expect_same_events(const trace *a, const trace *b)
{
    cr_assert_eq(b->n, a->n, "as many events after compaction as before");
    for (size_t i = 0; i < a->n; i++) {
        const tev *x = &a->ev[i], *y = &b->ev[i];
        cr_assert(x->code == y->code && x->thread == y->thread && x->tid == y->tid && x->ns == y->ns &&
                      !memcmp(x->arg, y->arg, sizeof x->arg),
                  "event %zu differs", i);
        for (int k = 0; k < WEFT_MAX_ARGS; k++)
            cr_assert_str_eq(x->str[k] ? x->str[k] : "", y->str[k] ? y->str[k] : "");
        cr_assert_str_eq(x->data ? x->data : "", y->data ? y->data : "");
    }
}

/* Compacts `path` and requires the events, the status and the reader's
 * problem to stay as they were. */
static wv_compact_result compact_same(const char *path, int want_status)
{
    trace a, b;
    cr_assert_eq(tu_load(path, &a), want_status, "%s", a.msg);
    wv_compact_result res;
    char err[256];
    cr_assert_eq(wv_compact(path, &res, err, sizeof err), 0, "%s", err);
    cr_expect_eq(res.bytes_after, size_of(path));
    cr_assert_eq(tu_load(path, &b), want_status, "%s", b.msg);
    expect_same_events(&a, &b);
    tu_free(&a), tu_free(&b);
    return res;
}

Test(compact, a_stored_trace_reads_the_same_compressed_and_is_smaller)
{
    const char *path = tu_path("stored");
    record_stored(path);
    chmod(path, 0640);
    uint64_t before = size_of(path);
    int frames = layout_of(path).frames;
    wv_compact_result res = compact_same(path, WV_OK);
    cr_expect_eq(res.bytes_before, before);
    cr_expect_eq(res.kept_offset, before, "nothing was copied as it was");
    cr_expect_eq(res.frames, (uint64_t)frames);
    cr_expect_lt(res.bytes_after, before * 2 / 3, "%llu -> %llu bytes", (unsigned long long)before,
                 (unsigned long long)res.bytes_after);
    layout l = layout_of(path);
    cr_expect_eq(l.frames, frames, "frame for frame");
    cr_expect_eq(l.independent, 0, "linked blocks");
    cr_expect_gt(l.compressed, 0);
    struct stat st;
    stat(path, &st);
    cr_expect_eq(st.st_mode & 07777, 0640, "the file keeps its permissions");
}

Test(compact, a_truncated_trace_keeps_everything_the_reader_recovered)
{
    const char *path = tu_path("stored-cut");
    record_stored(path);
    uint64_t before = size_of(path);
    cr_assert_eq(truncate(path, (off_t)(before * 3 / 4)), 0);
    wv_compact_result res = compact_same(path, WV_TRUNCATED);
    cr_expect_lt(res.kept_offset, before * 3 / 4, "the cut frame is copied as it is");
}

Test(compact, a_damaged_block_is_copied_as_it_is)
{
    const char *path = tu_path("stored-damaged");
    record_stored(path);
    uint64_t before = size_of(path);
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0);
    uint8_t byte;
    off_t at = (off_t)(before * 3 / 4);
    cr_assert_eq(pread(fd, &byte, 1, at), 1);
    byte ^= 0x5A;
    cr_assert_eq(pwrite(fd, &byte, 1, at), 1);
    close(fd);
    wv_compact_result res = compact_same(path, WV_FAILED);
    cr_expect_lt(res.kept_offset, (uint64_t)at);
}

Test(compact, a_missing_file_is_an_error_that_names_it)
{
    wv_compact_result res;
    char err[256];
    cr_expect_eq(wv_compact("/nonexistent/t.weft", &res, err, sizeof err), -1);
    cr_expect_str_eq(err, "/nonexistent/t.weft: No such file or directory");
}

/* What users get: `weft record` leaves the trace compressed. */
Test(compact, weft_record_leaves_a_compressed_trace)
{
    const char *path = tu_path("recorded");
    char *argv[] = {WEFT_BIN, "record", "-o", (char *)path, "--", LINKEDPROG_BIN, NULL};
    char *out;
    cr_assert_eq(tu_run(argv, NULL, &out), 0, "%s", out);
    free(out);
    layout l = layout_of(path);
    cr_expect_gt(l.frames, 0);
    cr_expect_eq(l.independent, 0, "recompressed: linked blocks");
    cr_expect_eq(l.stored, 0, "no block left stored");
    trace t;
    cr_expect_eq(tu_load(path, &t), WV_OK, "%s", t.msg);
    cr_expect_gt(t.n, 0);
    tu_free(&t);
}
