/*
 * reader_frames.c - the reader's input and frame layers: what it does when
 * its 64 KiB window over the file (infile.h) ends early, and the walk over
 * the LZ4 frame structure itself (frame header,
 * blocks, end mark), so that every error names the offset of the block it
 * happened in. Each block goes to LZ4F_decompress(); the records it
 * completes go to reader_records.c.
 */
#define _GNU_SOURCE
#include "reader_int.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* ======================================================================== */
/* Input                                                                    */
/* ======================================================================== */

/* The file ended early: a warning; or a read error: a failure. */
static void ended_early(wv_reader *r)
{
    if (r->in.err)
        wv__rd_problem(r, WV_FAILED, 1, in_off(r) + (in_avail(r)), "read error: %s",
                strerror(r->in.err));
    else
        wv__rd_problem(r, WV_TRUNCATED, 1, in_off(r) + (in_avail(r)), "truncated");
}

/* ======================================================================== */
/* Frames                                                                   */
/* ======================================================================== */

/* Decompresses n bytes of the current frame part into the stage and applies
 * the records they complete. @return the LZ4F size hint (0: frame ended), or
 * (size_t)-1 on error. */
static size_t decompress(wv_reader *r, const uint8_t *src, size_t n)
{
    for (;;) {
        size_t hint;
        if (wv__rd_stage_room(r))
            return (size_t)-1;
        size_t room = r->stage_cap - r->stage_len, dst = room, used = n;
        hint = LZ4F_decompress(r->dctx, r->stage + r->stage_len, &dst, src, &used, NULL);
        if (LZ4F_isError(hint))
            return corrupt(r, r->unit_off, "corrupt block (LZ4: %s)", LZ4F_getErrorName(hint)),
                   (size_t)-1;
        src += used;
        n -= used;
        r->stage_len += dst;
        if (dst) {
            r->stage_want = 0;
            wv__rd_parse_records(r);
            if (r->input_done)
                return (size_t)-1;
        }
        if (n == 0 && dst < room)
            return hint;
        if (!used && !dst)
            return corrupt(r, r->unit_off, "corrupt block (LZ4 decoder made no progress)"),
                   (size_t)-1;
    }
}

/* Feeds the next `len` bytes of the file (one frame part) to the decoder in
 * pieces of at most IN_CAP. */
static size_t feed(wv_reader *r, uint64_t len)
{
    size_t hint = 1;
    r->unit_off = in_off(r);
    while (len) {
        size_t k = wv__rd_in_need(r, len < IN_CAP ? (size_t)len : IN_CAP);
        if (!k)
            return ended_early(r), (size_t)-1;
        k = k < len ? k : (size_t)len;
        const uint8_t *src = in_ptr(r);
        r->in.pos += k;
        len -= k;
        if ((hint = decompress(r, src, k)) == (size_t)-1)
            return hint;
    }
    r->good_bytes = in_off(r);
    return hint;
}

static void frame_skippable(wv_reader *r)
{
    if (wv__rd_in_need(r, 8) < 8)
        return ended_early(r);
    uint64_t size = weft_get_le32(in_ptr(r) + 4);
    r->in.pos += 8;
    if (wv__rd_in_skip(r, size))
        return ended_early(r);
    r->good_bytes = in_off(r);
}

static void frame_start(wv_reader *r)
{
    uint64_t off = in_off(r);
    size_t k = wv__rd_in_need(r, 7);
    if (k == 0 && !r->in.err)
        return wv__rd_problem(r, WV_TRUNCATED, 1, off, "truncated"); /* ends between frames */
    if (k < 4)
        return ended_early(r);
    const uint8_t *p = in_ptr(r);
    uint32_t magic = weft_get_le32(p);
    if (WEFT_LZ4_SKIPPABLE(magic))
        return frame_skippable(r);
    if (magic != WEFT_LZ4_FRAME_MAGIC)
        return corrupt(r, off, "corrupt data: not an LZ4 frame (magic 0x%08x)", magic);
    if (k < 7)
        return ended_early(r);
    uint8_t flg = p[4], bd = p[5];
    unsigned bsid = (bd >> 4) & 7;
    if (flg >> 6 != 1 || bsid < 4)
        return corrupt(r, off, "corrupt block (LZ4 frame header)");
    size_t hlen = 7 + (flg & 0x08 ? 8 : 0) + (flg & 0x01 ? 4 : 0);
    if (wv__rd_in_need(r, hlen) < hlen)
        return ended_early(r);
    r->block_max = 1u << (8 + 2 * bsid);
    r->block_sum = !!(flg & 0x10);
    r->content_sum = !!(flg & 0x04);
    LZ4F_resetDecompressionContext(r->dctx);
    if (feed(r, hlen) != (size_t)-1)
        r->walk = WALK_BLOCK;
}

static void frame_block(wv_reader *r)
{
    uint64_t off = in_off(r);
    if (wv__rd_in_need(r, 4) < 4)
        return ended_early(r);
    uint32_t size = weft_get_le32(in_ptr(r));
    if (size == 0) { /* end mark, then the content checksum */
        size_t hint = feed(r, 4 + (r->content_sum ? 4 : 0));
        if (hint == (size_t)-1)
            return;
        if (hint != 0)
            return corrupt(r, off, "corrupt block (LZ4 frame did not end at its end mark)");
        if (r->stage_len)
            return corrupt(r, off, "corrupt record: a record is cut at the end of its frame");
        r->walk = WALK_FRAME;
        return;
    }
    uint32_t data = size & 0x7FFFFFFFu;
    if (data > r->block_max)
        return corrupt(r, off, "corrupt block (LZ4 block of %u bytes, maximum %u)", data,
                       r->block_max);
    feed(r, 4 + (uint64_t)data + (r->block_sum ? 4 : 0));
}

void wv__rd_pump(wv_reader *r)
{
    if (r->walk == WALK_FRAME)
        frame_start(r);
    else
        frame_block(r);
}
