/*
 * tracegen.c - see tracegen.h. Tests abort on misuse of the builder (or out
 * of memory): a builder bug must not pass for a reader result.
 */
#include "tracegen.h"

#include <lz4frame.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct buf {
    uint8_t *p;
    size_t len, cap;
} buf;

typedef struct tg_thread_state {
    uint64_t seq, chunk_off, ticks;
    weft_chunk_codes codes; /* for kinds T and A, as the recorder codes them */
} tg_thread_state;

struct tg {
    buf out;       /* the file */
    buf frame;     /* records of the open frame */
    buf batch;     /* the open batch's events */
    buf end_per;   /* END per-thread entries */
    uint64_t end_n;
    size_t header_len;
    size_t *frames;
    size_t nframes;
    tg_thread_state th[64];
    int in_batch;
    int sites_plain; /* a version 1 file: kind A is written as U */
    uint64_t b_index, b_seq, b_offset, b_count;
};

static void die(const char *what)
{
    fprintf(stderr, "tracegen: %s\n", what);
    abort();
}

static void put(buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        if (!(b->p = realloc(b->p, cap)))
            die("out of memory");
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void put_uv(buf *b, uint64_t v)
{
    uint8_t t[WEFT_UVARINT_MAX];
    put(b, t, (size_t)(weft_put_uvarint(t, v) - t));
}

tg_opts tg_defaults(void)
{
    tg_opts o = {"demo", "0.1.0", 4242, WEFT_FORMAT_VERSION, WEFT_CLOCK_MONOTONIC, 0, 0,
                 1000000, 1000000, 1700000000ull * 1000000000ull, 1000000000ull};
    return o;
}

tg *tg_new(const tg_opts *o)
{
    tg_opts d = o ? *o : tg_defaults();
    tg *g = calloc(1, sizeof *g);
    if (!g)
        die("out of memory");
    weft_header h;
    memset(&h, 0, sizeof h);
    h.version = d.version;
    g->sites_plain = d.version < 2;
    h.clock = d.clock;
    h.tick_shift = d.tick_shift;
    h.sched_source = d.sched_source;
    h.pid = d.pid;
    h.ticks0 = d.ticks0;
    h.mono0_ns = d.mono0_ns;
    h.real0_ns = d.real0_ns;
    h.ticks_per_sec = d.ticks_per_sec;
    h.chunk_bytes = WEFT_CHUNK_BYTES;
    h.chunks_per_thread = 16;
    snprintf(h.program, sizeof h.program, "%s", d.program);
    snprintf(h.weft_version, sizeof h.weft_version, "%s", d.weft_version);
    uint8_t hb[WEFT_HEADER_MAX];
    g->header_len = weft_header_encode(&h, hb);
    put(&g->out, hb, g->header_len);
    return g;
}

void tg_free(tg *g)
{
    if (!g)
        return;
    free(g->out.p);
    free(g->frame.p);
    free(g->batch.p);
    free(g->end_per.p);
    free(g->frames);
    free(g);
}

void tg_record(tg *g, unsigned kind, const void *body, size_t n)
{
    uint8_t k = (uint8_t)kind;
    put(&g->frame, &k, 1);
    put_uv(&g->frame, n);
    put(&g->frame, body, n);
}

void tg_string(tg *g, uint64_t id, const char *text)
{
    buf b = {0};
    put_uv(&b, id);
    put_uv(&b, strlen(text));
    put(&b, text, strlen(text));
    tg_record(g, WEFT_REC_STRINGS, b.p, b.len);
    free(b.p);
}

void tg_thread(tg *g, uint64_t index, uint64_t tid, const char *name)
{
    buf b = {0};
    put_uv(&b, index);
    put_uv(&b, tid);
    put_uv(&b, strlen(name));
    put(&b, name, strlen(name));
    tg_record(g, WEFT_REC_THREAD, b.p, b.len);
    free(b.p);
}

void tg_clock(tg *g, uint64_t raw_ticks, uint64_t mono_ns, uint64_t real_ns)
{
    buf b = {0};
    put_uv(&b, raw_ticks);
    put_uv(&b, mono_ns);
    put_uv(&b, real_ns);
    tg_record(g, WEFT_REC_CLOCK, b.p, b.len);
    free(b.p);
}

void tg_module(tg *g, uint64_t start, uint64_t end, uint64_t offset, const char *path)
{
    buf b = {0};
    put_uv(&b, start);
    put_uv(&b, end);
    put_uv(&b, offset);
    put_uv(&b, strlen(path));
    put(&b, path, strlen(path));
    tg_record(g, WEFT_REC_MODULE, b.p, b.len);
    free(b.p);
}

void tg_end_thread(tg *g, uint64_t index, uint64_t events, uint64_t dropped)
{
    put_uv(&g->end_per, index);
    put_uv(&g->end_per, events);
    put_uv(&g->end_per, dropped);
    g->end_n++;
}

void tg_end(tg *g, uint64_t reason, uint64_t events, uint64_t dropped, uint64_t memory)
{
    buf b = {0};
    put_uv(&b, reason);
    put_uv(&b, events);
    put_uv(&b, dropped);
    put_uv(&b, memory);
    put_uv(&b, g->end_n);
    put(&b, g->end_per.p, g->end_per.len);
    tg_record(g, WEFT_REC_END, b.p, b.len);
    free(b.p);
}

/* ---- batches ------------------------------------------------------------- */

static tg_thread_state *state(tg *g, uint64_t index)
{
    if (index >= 64)
        die("thread index >= 64 in tracegen");
    return &g->th[index];
}

void tg_batch_at(tg *g, uint64_t index, uint64_t seq, uint64_t offset)
{
    if (g->in_batch)
        die("batch already open");
    g->in_batch = 1;
    g->b_index = index, g->b_seq = seq, g->b_offset = offset, g->b_count = 0;
    g->batch.len = 0;
    tg_thread_state *t = state(g, index);
    t->seq = seq + 1;
    t->chunk_off = offset;
}

void tg_batch(tg *g, uint64_t index)
{
    tg_thread_state *t = state(g, index);
    tg_batch_at(g, index, t->seq, t->chunk_off);
}

void tg_batch_chunk(tg *g, uint64_t index)
{
    tg_batch_at(g, index, state(g, index)->seq, 0);
}

void tg_batch_end_count(tg *g, uint64_t count)
{
    if (!g->in_batch)
        die("no batch open");
    buf b = {0};
    put_uv(&b, g->b_index);
    put_uv(&b, g->b_seq);
    put_uv(&b, g->b_offset);
    put_uv(&b, count);
    put(&b, g->batch.p, g->batch.len);
    tg_record(g, WEFT_REC_BATCH, b.p, b.len);
    free(b.p);
    state(g, g->b_index)->chunk_off = g->b_offset + g->batch.len;
    g->in_batch = 0;
}

void tg_batch_end(tg *g) { tg_batch_end_count(g, g->b_count); }

/* Encodes one event from the spec table, like the recorder's encoders. */
static void encode(tg *g, uint64_t ticks, unsigned code, const uint64_t *a, const void *bytes,
                   size_t n)
{
    if (!g->in_batch)
        die("event outside a batch");
    if (code >= WEFT_EV_LIMIT || !weft_event_specs[code].name)
        die("unknown event code");
    const weft_event_spec *s = &weft_event_specs[code];
    tg_thread_state *t = state(g, g->b_index);
    uint8_t c = (uint8_t)code;
    put(&g->batch, &c, 1);
    if (!(s->flags & WEFT_EVF_UNTIMED))
        put_uv(&g->batch, ticks - t->ticks);
    t->ticks = ticks;
    for (unsigned i = 0; i < s->nargs; i++) {
        uint64_t v = code == WEFT_EV_TIME_BASE ? ticks : a[i];
        if (s->kind[i] == WEFT_ARG_I)
            put_uv(&g->batch, weft_zigzag((int64_t)v));
        else if (s->kind[i] == WEFT_ARG_T) {
            uint8_t tmp[WEFT_UVARINT_MAX];
            put(&g->batch, tmp, (size_t)(weft_put_task(tmp, &t->codes.task, v) - tmp));
        } else if (s->kind[i] == WEFT_ARG_A && !g->sites_plain) {
            uint8_t tmp[WEFT_UVARINT_MAX];
            put(&g->batch, tmp, (size_t)(weft_put_addr(tmp, &t->codes.site, v) - tmp));
        }
        else if (s->kind[i] == WEFT_ARG_B) {
            put_uv(&g->batch, n);
            put(&g->batch, bytes, n);
        } else
            put_uv(&g->batch, v);
    }
    if (code == WEFT_EV_TIME_BASE)
        t->codes = (weft_chunk_codes){0, 0};
    g->b_count++;
}

void tg_ev(tg *g, uint64_t ticks, unsigned code, uint64_t a0, uint64_t a1, uint64_t a2)
{
    uint64_t a[WEFT_MAX_ARGS] = {a0, a1, a2, 0, 0};
    encode(g, ticks, code, a, NULL, 0);
}

void tg_ev5(tg *g, uint64_t ticks, unsigned code, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
            uint64_t a4)
{
    uint64_t a[WEFT_MAX_ARGS] = {a0, a1, a2, a3, a4};
    encode(g, ticks, code, a, NULL, 0);
}

void tg_ev_b(tg *g, uint64_t ticks, unsigned code, uint64_t a0, uint64_t a1, const void *bytes,
             size_t n)
{
    uint64_t a[WEFT_MAX_ARGS] = {a0, a1, 0, 0, 0};
    encode(g, ticks, code, a, bytes, n);
}

void tg_ev_raw(tg *g, const void *bytes, size_t n)
{
    put(&g->batch, bytes, n);
    g->b_count++;
}

/* ---- frames and output ---------------------------------------------------- */

void tg_frame(tg *g)
{
    if (!g->frame.len)
        return;
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockLinked;
    prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    prefs.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
    size_t cap = LZ4F_compressFrameBound(g->frame.len, &prefs);
    uint8_t *dst = malloc(cap);
    if (!dst)
        die("out of memory");
    size_t n = LZ4F_compressFrame(dst, cap, g->frame.p, g->frame.len, &prefs);
    if (LZ4F_isError(n))
        die(LZ4F_getErrorName(n));
    if (!(g->frames = realloc(g->frames, (g->nframes + 1) * sizeof *g->frames)))
        die("out of memory");
    g->frames[g->nframes++] = g->out.len;
    put(&g->out, dst, n);
    free(dst);
    g->frame.len = 0;
}

const uint8_t *tg_bytes(tg *g, size_t *len)
{
    tg_frame(g);
    *len = g->out.len;
    return g->out.p;
}

size_t tg_header_len(tg *g) { return g->header_len; }
size_t tg_frame_count(tg *g) { return g->nframes; }
size_t tg_frame_offset(tg *g, size_t i) { return i < g->nframes ? g->frames[i] : 0; }

int tg_write_bytes(const char *path, const void *bytes, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = len ? fwrite(bytes, 1, len, f) : 0;
    return (fclose(f) || w != len) ? -1 : 0;
}

int tg_write(tg *g, const char *path)
{
    size_t len;
    const uint8_t *p = tg_bytes(g, &len);
    return tg_write_bytes(path, p, len);
}
