/*
 * reader.c - the streaming .weft reader (see reader.h for the contract):
 * opening, the header, the string and thread tables, and the public loop.
 *
 * Layers, as in docs/format.md, each in a file of its own:
 *   input   - a 64 KiB window over the file descriptor (reader_frames.c);
 *   frames  - (reader_frames.c) walks the LZ4 frame structure itself (frame header, blocks,
 *             end mark) so that every error can name the offset of the block
 *             it happened in, and feeds each block to LZ4F_decompress();
 *   records - (reader_records.c) splits the decompressed stream into records and applies them
 *             (strings, threads, clock samples, modules, END) or queues them
 *             (BATCH);
 *   merge   - (reader_merge.c, with the event decoder) batches of different threads interleave in the file and are not
 *             sorted by time, so the reader keeps each thread's pending batch
 *             bodies and hands out events through a tournament tree keyed by
 *             time.
 *
 * When the merge may release an event: every flush cycle of the recorder
 * writes a CLOCK sample taken after all the events of its batches, but an
 * event of a later cycle can still be older than that sample. A thread's
 * partly filled chunk is only written by the periodic (100 ms) flush, while
 * cycles triggered by other threads' full chunks come and go; and a thread
 * may be preempted between taking a time stamp and committing the event.
 * So an event is released only once it is older than a clock sample that is
 * itself MERGE_LAG_NS older than the newest sample, and at least two CLOCK
 * records back. That holds about MERGE_LAG_NS of compressed-size data; a
 * hard cap (MERGE_CAP) releases early if a file holds more in that window,
 * trading exact order for bounded memory. At the end of the input (or at
 * the first damage) everything pending is released.
 */
#define _GNU_SOURCE
#include "reader_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const wv_thread empty_thread = {0, "", 0, 0, 0, 0, 0, 0};

/* ======================================================================== */
/* Problems                                                                 */
/* ======================================================================== */

void wv__rd_problem(wv_reader *r, enum wv_status st, int has_off, uint64_t off,
                    const char *fmt, ...)
{
    r->input_done = 1;
    if (r->status != WV_OK)
        return;
    r->status = st;
    r->has_off = has_off;
    r->prob_off = off;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->problem, sizeof r->problem, fmt, ap);
    va_end(ap);
}

const char *wv_reader_message(wv_reader *r)
{
    wv_progress pg = wv_reader_progress(r);
    if (r->status == WV_OK)
        r->msg[0] = 0;
    else if (r->status == WV_TRUNCATED)
        snprintf(r->msg, sizeof r->msg,
                 "weft: %s: warning: file is truncated at offset %llu (no end record); "
                 "recovered %llu events from %llu of %llu bytes",
                 r->name, (unsigned long long)pg.file_size, (unsigned long long)pg.events,
                 (unsigned long long)pg.good_bytes, (unsigned long long)pg.file_size);
    else if (r->has_off)
        snprintf(r->msg, sizeof r->msg, "weft: %s: offset %llu: %s", r->name,
                 (unsigned long long)r->prob_off, r->problem);
    else
        snprintf(r->msg, sizeof r->msg, "weft: %s: %s", r->name, r->problem);
    return r->msg;
}

/* ======================================================================== */
/* Tables: strings, threads, clock                                          */
/* ======================================================================== */

int wv__rd_set_string(wv_reader *r, uint64_t id, const uint8_t *p, size_t len)
{
    if (id == 0 || id > WV_MAX_STRINGS)
        return corrupt(r, r->unit_off, "corrupt record: string id %llu out of range 1..%u",
                       (unsigned long long)id, WV_MAX_STRINGS), -1;
    if (r->str_bytes + len > WV_MAX_STRING_BYTES)
        return corrupt(r, r->unit_off, "string table exceeds the limit of %u bytes",
                       WV_MAX_STRING_BYTES), -1;
    if (id >= r->str_cap) {
        uint32_t cap = r->str_cap ? r->str_cap : 256;
        while (cap <= id)
            cap *= 2;
        char **s = realloc(r->str, cap * sizeof *s);
        if (s)
            r->str = s;
        uint32_t *l = realloc(r->str_len, cap * sizeof *l);
        if (l)
            r->str_len = l;
        if (!s || !l)
            return corrupt(r, r->unit_off, "out of memory"), -1;
        memset(r->str + r->str_cap, 0, (cap - r->str_cap) * sizeof *s);
        r->str_cap = cap;
    }
    char *t = malloc(len + 1);
    if (!t)
        return corrupt(r, r->unit_off, "out of memory"), -1;
    memcpy(t, p, len);
    t[len] = 0;
    if (r->str[id])
        r->str_bytes -= r->str_len[id];
    free(r->str[id]);
    r->str[id] = t;
    r->str_len[id] = (uint32_t)len;
    r->str_bytes += len;
    return 0;
}

const char *wv_reader_string(wv_reader *r, uint64_t id, size_t *len)
{
    const char *s;
    size_t n;
    if (id == 0) {
        s = "", n = 0;
    } else if (id < r->str_cap && r->str[id]) {
        s = r->str[id], n = r->str_len[id];
    } else {
        n = (size_t)snprintf(r->scratch, sizeof r->scratch, "<string %llu>",
                             (unsigned long long)id);
        s = r->scratch;
    }
    if (len)
        *len = n;
    return s;
}

/* The state of thread `index`, created on first use. NULL (and a problem)
 * beyond the limit. */
wv_tstate *wv__rd_thread_get(wv_reader *r, uint64_t index)
{
    if (index >= WV_MAX_THREADS)
        return corrupt(r, r->unit_off, "thread index %llu exceeds the limit of %u threads",
                       (unsigned long long)index, WV_MAX_THREADS), NULL;
    if (index >= r->th_cap) {
        uint32_t cap = r->th_cap ? r->th_cap : 16;
        while (cap <= index)
            cap *= 2;
        wv_tstate **n = realloc(r->th, cap * sizeof *n);
        if (!n)
            return corrupt(r, r->unit_off, "out of memory"), NULL;
        memset(n + r->th_cap, 0, (cap - r->th_cap) * sizeof *n);
        r->th = n, r->th_cap = cap;
    }
    if (!r->th[index]) {
        wv_tstate *t = calloc(1, sizeof *t);
        if (!t)
            return corrupt(r, r->unit_off, "out of memory"), NULL;
        t->pub.name = "";
        t->skipping = 1; /* a thread's time starts at a chunk start */
        r->th[index] = t;
    }
    if (index >= r->nth)
        r->nth = (uint32_t)index + 1;
    return r->th[index];
}

void wv__rd_thread_set_name(wv_tstate *t, const uint8_t *p, size_t len)
{
    if (!t->name && !(t->name = malloc(WV_MAX_NAME + 1)))
        return;
    len = len < WV_MAX_NAME ? len : WV_MAX_NAME;
    memcpy(t->name, p, len);
    t->name[len] = 0;
    t->pub.name = t->name;
}

uint32_t wv_reader_thread_count(const wv_reader *r) { return r->nth; }

const wv_thread *wv_reader_thread(const wv_reader *r, uint32_t index)
{
    return index < r->nth && r->th[index] ? &r->th[index]->pub : &empty_thread;
}

int64_t wv_reader_ticks_to_ns(wv_reader *r, uint64_t ticks)
{
    return r->clock.s ? wv_timeconv_ns(&r->clock, ticks) : 0;
}

/* ======================================================================== */
/* Opening and the header                                                   */
/* ======================================================================== */

static void parse_header_payload(wv_reader *r, const uint8_t *h, uint32_t size)
{
    weft_header *hd = &r->hdr;
    uint16_t fixed = weft_get_le16(h + 6);
    uint16_t plen = weft_get_le16(h + 60), vlen = weft_get_le16(h + 62);
    if (size < WEFT_HEADER_FIXED || fixed < WEFT_HEADER_FIXED || (uint32_t)fixed + plen + vlen > size)
        return corrupt(r, 4, "bad header: sizes do not add up");
    if (h[9] > 63)
        return corrupt(r, 8 + 9, "bad header: tick shift %u", h[9]);
    hd->clock = h[8];
    hd->tick_shift = h[9];
    hd->sched_source = h[10];
    hd->pid = weft_get_le32(h + 12);
    hd->ticks0 = weft_get_le64(h + 16);
    hd->mono0_ns = weft_get_le64(h + 24);
    hd->real0_ns = weft_get_le64(h + 32);
    hd->ticks_per_sec = weft_get_le64(h + 40);
    hd->chunk_bytes = weft_get_le32(h + 48);
    hd->chunks_per_thread = weft_get_le32(h + 52);
    plen = plen < sizeof hd->program - 1 ? plen : sizeof hd->program - 1;
    memcpy(hd->program, h + fixed, plen);
    hd->program[plen] = 0;
    size_t vl = vlen < sizeof hd->weft_version - 1 ? vlen : sizeof hd->weft_version - 1;
    memcpy(hd->weft_version, h + fixed + weft_get_le16(h + 60), vl);
    hd->weft_version[vl] = 0;
    if (wv_timeconv_init(&r->clock, hd))
        corrupt(r, 0, "out of memory");
}

static void read_header(wv_reader *r)
{
    static const uint8_t magic[4] = {0x57, 0x2A, 0x4D, 0x18};
    size_t k = wv__rd_in_need(r, 16);
    if (r->in.err)
        return wv__rd_problem(r, WV_FAILED, 0, 0, "cannot read: %s", strerror(r->in.err));
    if (k == 0)
        return corrupt(r, 0, "file is empty");
    const uint8_t *p = in_ptr(r);
    if (memcmp(p, magic, k < 4 ? k : 4) || (k >= 12 && memcmp(p + 8, WEFT_HEADER_MAGIC, 4)))
        return corrupt(r, 0, "not a weft file");
    if (k < 16)
        return corrupt(r, k, "file ends inside the header");
    uint16_t version = weft_get_le16(p + 12);
    if (version > WEFT_FORMAT_VERSION)
        return corrupt(r, 12, "format version %u is newer than this weft reads (version %u); upgrade weft",
                       version, WEFT_FORMAT_VERSION);
    if (version == 0)
        return corrupt(r, 12, "bad header: format version 0");
    r->hdr.version = version;
    uint32_t size = weft_get_le32(p + 4);
    if (size > HEADER_MAX)
        return corrupt(r, 4, "bad header: %u bytes", size);
    if (wv__rd_in_need(r, 8 + size) < 8 + size)
        return corrupt(r, in_off(r) + in_avail(r), "file ends inside the header");
    parse_header_payload(r, in_ptr(r) + 8, size);
    r->in.pos += 8 + size;
    r->good_bytes = in_off(r);
}

static wv_reader *reader_new(const char *name)
{
    wv_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->name = strdup(name);
    wv_infile_init(&r->in, -1, IN_CAP);
    r->stage_cap = 2 * (size_t)WV_RECORD_MAX + STAGE_SLACK;
    r->stage = malloc(r->stage_cap);
    r->wm = malloc(WM_CAP * sizeof *r->wm);
    if (!r->name || !r->in.buf || !r->stage || !r->wm ||
        LZ4F_isError(LZ4F_createDecompressionContext(&r->dctx, LZ4F_VERSION))) {
        wv_reader_close(r);
        return NULL;
    }
    return r;
}

static void reader_start(wv_reader *r)
{
    struct stat st;
    if (fstat(r->in.fd, &st) == 0 && S_ISREG(st.st_mode))
        r->file_size = (uint64_t)st.st_size;
    read_header(r);
}

wv_reader *wv_reader_open_fd(int fd, const char *name)
{
    wv_reader *r = reader_new(name);
    if (!r)
        return NULL;
    r->in.fd = fd;
    reader_start(r);
    return r;
}

wv_reader *wv_reader_open(const char *path)
{
    wv_reader *r = reader_new(path);
    if (!r)
        return NULL;
    r->in.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->in.fd < 0) {
        wv__rd_problem(r, WV_FAILED, 0, 0, "cannot open: %s", strerror(errno));
        return r;
    }
    r->own_fd = 1;
    reader_start(r);
    return r;
}

/* ======================================================================== */
/* The public loop and accessors                                            */
/* ======================================================================== */

static void free_retired(wv_reader *r)
{
    while (r->retired) {
        wv_batch *b = r->retired;
        r->retired = b->next;
        free(b);
    }
}

int wv_reader_next(wv_reader *r, wv_event *ev)
{
    free_retired(r);
    for (;;) {
        if (wv__rd_releasable(r)) {
            wv__rd_deliver(r, ev);
            return 1;
        }
        if (r->input_done)
            return 0;
        wv__rd_pump(r);
    }
}

enum wv_status wv_reader_status(const wv_reader *r) { return r->status; }
const weft_header *wv_reader_header(const wv_reader *r) { return &r->hdr; }
const wv_end *wv_reader_end(const wv_reader *r) { return &r->end; }
uint32_t wv_reader_module_count(const wv_reader *r) { return r->nmod; }

const wv_module *wv_reader_module(const wv_reader *r, uint32_t i)
{
    return i < r->nmod ? &r->mod[i] : NULL;
}

wv_progress wv_reader_progress(const wv_reader *r)
{
    uint64_t seen = r->in.base + r->in.len;
    wv_progress p = {r->file_size > seen ? r->file_size : seen, r->good_bytes, r->delivered};
    return p;
}

void wv_reader_close(wv_reader *r)
{
    if (!r)
        return;
    free_retired(r);
    for (uint32_t i = 0; i < r->th_cap && r->th; i++) {
        wv_tstate *t = r->th[i];
        if (!t)
            continue;
        while (t->head) {
            wv_batch *b = t->head;
            t->head = b->next;
            free(b);
        }
        free(t->name);
        free(t);
    }
    for (uint32_t i = 0; i < r->str_cap; i++)
        free(r->str[i]);
    for (uint32_t i = 0; i < r->nmod; i++)
        free((char *)r->mod[i].path);
    free(r->mod);
    if (r->own_fd && r->in.fd >= 0)
        close(r->in.fd);
    if (r->dctx)
        LZ4F_freeDecompressionContext(r->dctx);
    free(r->str);
    free(r->str_len);
    free(r->th);
    free(r->tree);
    free(r->wm);
    wv_timeconv_free(&r->clock);
    free(r->stage);
    wv_infile_free(&r->in);
    free(r->name);
    free(r);
}
