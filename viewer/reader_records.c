/*
 * reader_records.c - the reader's record layer: splits the decompressed
 * stream into records and applies them (strings, threads, clock samples,
 * modules, END) or queues them for the merge (BATCH).
 */
#define _GNU_SOURCE
#include "reader_int.h"

#include <stdlib.h>
#include <string.h>

/* ======================================================================== */
/* Records                                                                  */
/* ======================================================================== */

static int get_uv(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    return weft_get_uvarint(p, end, v);
}

static void rec_strings(wv_reader *r, const uint8_t *p, const uint8_t *end)
{
    while (p < end) {
        uint64_t id, len;
        if (get_uv(&p, end, &id) || get_uv(&p, end, &len) || len > (uint64_t)(end - p))
            return corrupt(r, r->unit_off, "corrupt record: bad strings record");
        if (wv__rd_set_string(r, id, p, (size_t)len))
            return;
        p += len;
    }
}

static void rec_thread(wv_reader *r, const uint8_t *p, const uint8_t *end)
{
    uint64_t index, tid, len;
    if (get_uv(&p, end, &index) || get_uv(&p, end, &tid) || get_uv(&p, end, &len) ||
        len > (uint64_t)(end - p))
        return corrupt(r, r->unit_off, "corrupt record: bad thread record");
    wv_tstate *t = wv__rd_thread_get(r, index);
    if (!t)
        return;
    t->pub.tid = tid;
    t->pub.registered = 1;
    wv__rd_thread_set_name(t, p, (size_t)len);
}

/* Gap handling: a missing seq loses the time base, so the thread's batches
 * are skipped until one starts a chunk (offset 0, TIME_BASE first); a
 * marker in the queue becomes a BATCH_GAP diagnostic at that point. */
static void rec_batch(wv_reader *r, const uint8_t *p, const uint8_t *end)
{
    uint64_t index, seq, offset, count;
    if (get_uv(&p, end, &index) || get_uv(&p, end, &seq) || get_uv(&p, end, &offset) ||
        get_uv(&p, end, &count))
        return corrupt(r, r->unit_off, "corrupt record: bad batch header");
    wv_tstate *t = wv__rd_thread_get(r, index);
    if (!t)
        return;
    int gap = seq != t->next_seq;
    t->next_seq = seq + 1;
    if (gap)
        t->skipping = 1, t->marked = 0;
    if (t->skipping) {
        if (!t->marked && (gap || offset != 0)) {
            if (wv__rd_enqueue(r, (uint32_t)index, NULL, 0, 1))
                return;
            t->marked = 1;
        }
        if (offset != 0)
            return;
        t->skipping = 0;
    }
    if (wv__rd_validate_batch(r, index, p, end, offset, count))
        return;
    if (p < end)
        wv__rd_enqueue(r, (uint32_t)index, p, (size_t)(end - p), 0);
}

/* A sample becomes the release limit once MERGE_LAG_NS older than the newest
 * and two records back. */
static void watermark(wv_reader *r, uint64_t q, uint64_t mono)
{
    if (r->wm_n) {
        uint32_t last = (r->wm_head + r->wm_n - 1) % WM_CAP;
        if (q <= r->wm[last].q || mono < r->wm[last].mono)
            return; /* not increasing: useless as a bound */
    }
    if (r->wm_n == WM_CAP) { /* samples come too fast: the oldest goes now */
        r->limit = r->wm[r->wm_head].q, r->limit_valid = 1;
        r->wm_head = (r->wm_head + 1) % WM_CAP, r->wm_n--;
    }
    r->wm[(r->wm_head + r->wm_n++) % WM_CAP].q = q;
    r->wm[(r->wm_head + r->wm_n - 1) % WM_CAP].mono = mono;
    while (r->wm_n > 2 && r->wm[r->wm_head].mono + MERGE_LAG_NS <= mono) {
        r->limit = r->wm[r->wm_head].q, r->limit_valid = 1;
        r->wm_head = (r->wm_head + 1) % WM_CAP, r->wm_n--;
    }
}

static void rec_clock(wv_reader *r, const uint8_t *p, const uint8_t *end)
{
    uint64_t raw, mono, real;
    if (get_uv(&p, end, &raw) || get_uv(&p, end, &mono) || get_uv(&p, end, &real))
        return corrupt(r, r->unit_off, "corrupt record: bad clock record");
    wv_timeconv_add(&r->clock, raw, mono);
    watermark(r, raw >> r->hdr.tick_shift, mono);
}

static void rec_module(wv_reader *r, const uint8_t *p, const uint8_t *end)
{
    uint64_t start, stop, offset, len;
    if (get_uv(&p, end, &start) || get_uv(&p, end, &stop) || get_uv(&p, end, &offset) ||
        get_uv(&p, end, &len) || len > (uint64_t)(end - p) || stop < start)
        return corrupt(r, r->unit_off, "corrupt record: bad module record");
    if (len > WV_MAX_MODULE_PATH)
        return corrupt(r, r->unit_off, "module path of %llu bytes exceeds the limit of %u",
                       (unsigned long long)len, WV_MAX_MODULE_PATH);
    if (r->nmod == WV_MAX_MODULES)
        return corrupt(r, r->unit_off, "more than %u module records", WV_MAX_MODULES);
    if (r->nmod == r->mod_cap) {
        uint32_t cap = r->mod_cap ? r->mod_cap * 2 : 64;
        wv_module *n = realloc(r->mod, cap * sizeof *n);
        if (!n)
            return corrupt(r, r->unit_off, "out of memory");
        r->mod = n, r->mod_cap = cap;
    }
    char *path = malloc((size_t)len + 1);
    if (!path)
        return corrupt(r, r->unit_off, "out of memory");
    memcpy(path, p, (size_t)len);
    path[len] = 0;
    r->mod[r->nmod++] = (wv_module){start, stop, offset, path};
}

static void rec_end(wv_reader *r, const uint8_t *p, const uint8_t *end)
{
    uint64_t reason, events, dropped, mem, n;
    if (get_uv(&p, end, &reason) || get_uv(&p, end, &events) || get_uv(&p, end, &dropped) ||
        get_uv(&p, end, &mem) || get_uv(&p, end, &n))
        return corrupt(r, r->unit_off, "corrupt record: bad end record");
    for (uint64_t i = 0; i < n; i++) {
        uint64_t index, ev, dr;
        if (get_uv(&p, end, &index) || get_uv(&p, end, &ev) || get_uv(&p, end, &dr))
            return corrupt(r, r->unit_off, "corrupt record: bad end record");
        wv_tstate *t = wv__rd_thread_get(r, index);
        if (!t)
            return;
        t->pub.in_end = 1;
        t->pub.end_events = ev;
        t->pub.end_dropped = dr;
    }
    r->end = (wv_end){1, reason, events, dropped, mem};
    r->input_done = 1; /* the last record; anything after it is ignored */
}

static void handle_record(wv_reader *r, unsigned kind, const uint8_t *p, size_t len)
{
    const uint8_t *end = p + len;
    switch (kind) {
    case WEFT_REC_STRINGS: rec_strings(r, p, end); break;
    case WEFT_REC_THREAD: rec_thread(r, p, end); break;
    case WEFT_REC_BATCH: rec_batch(r, p, end); break;
    case WEFT_REC_CLOCK: rec_clock(r, p, end); break;
    case WEFT_REC_MODULE: rec_module(r, p, end); break;
    case WEFT_REC_END: rec_end(r, p, end); break;
    default: break; /* a kind from a later version: skipped */
    }
}

/* Applies every complete record in the stage and keeps the partial one. */
void wv__rd_parse_records(wv_reader *r)
{
    size_t pos = 0;
    while (!r->input_done && r->stage_len - pos >= 2) {
        const uint8_t *s = r->stage + pos, *p = s + 1, *end = r->stage + r->stage_len;
        uint64_t len;
        if (weft_get_uvarint(&p, end, &len)) {
            if ((size_t)(end - s) > WEFT_UVARINT_MAX)
                corrupt(r, r->unit_off, "corrupt record: bad record length");
            break;
        }
        size_t limit = s[0] == WEFT_REC_END ? END_MAX : WV_RECORD_MAX;
        if (len > limit) {
            corrupt(r, r->unit_off, "corrupt record: record of kind %u is %llu bytes, over the limit of %zu",
                    s[0], (unsigned long long)len, limit);
            break;
        }
        size_t whole = (size_t)(p - s) + (size_t)len;
        if ((size_t)(end - s) < whole) {
            r->stage_want = whole;
            break;
        }
        handle_record(r, s[0], p, (size_t)len);
        pos += whole;
    }
    memmove(r->stage, r->stage + pos, r->stage_len - pos);
    r->stage_len -= pos;
}

/* Keeps STAGE_SLACK bytes free after the pending record, growing the stage for
 * a large END record. */
int wv__rd_stage_room(wv_reader *r)
{
    size_t need = (r->stage_want > r->stage_len ? r->stage_want : r->stage_len) + STAGE_SLACK;
    if (need <= r->stage_cap)
        return 0;
    uint8_t *n = realloc(r->stage, need);
    if (!n)
        return corrupt(r, r->unit_off, "out of memory"), -1;
    r->stage = n;
    r->stage_cap = need;
    return 0;
}
