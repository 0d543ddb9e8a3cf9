/*
 * reader.c - the streaming .weft reader (see reader.h for the contract).
 *
 * Layers, as in docs/format.md, each a section below:
 *   input   - a 64 KiB window over the file descriptor;
 *   frames  - walks the LZ4 frame structure itself (frame header, blocks,
 *             end mark) so that every error can name the offset of the block
 *             it happened in, and feeds each block to LZ4F_decompress();
 *   records - splits the decompressed stream into records and applies them
 *             (strings, threads, clock samples, modules, END) or queues them
 *             (BATCH);
 *   merge   - batches of different threads interleave in the file and are not
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
#include "reader.h"

#include "timeconv.h"

#include <errno.h>
#include <fcntl.h>
#include <lz4frame.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IN_CAP (64u * 1024u)           /* read(2) window */
#define STAGE_SLACK (64u * 1024u)      /* room for one decompression step */
#define MERGE_CAP (32u << 20)          /* pending batch bytes before early release */
#define MERGE_LAG_NS 300000000ull      /* three periodic flushes */
#define WM_CAP 4096u                   /* clock samples younger than the lag */
#define HEADER_MAX 4096u               /* a larger header payload is not plausible */
#define END_MAX (64u + 3u * WEFT_UVARINT_MAX * WV_MAX_THREADS)
#define LZ4_MAGIC 0x184D2204u

/* A queued batch body (the events only), or a gap marker. */
typedef struct wv_batch {
    struct wv_batch *next;
    uint32_t len, pos;
    uint8_t gap; /* marker: a batch of this thread is missing */
    uint8_t data[];
} wv_batch;

typedef struct wv_tstate {
    wv_thread pub;
    char *name;          /* WV_MAX_NAME + 1 bytes, allocated on first name */
    uint64_t next_seq;   /* the batch seq expected next */
    uint8_t skipping;    /* no time base: skip batches until offset 0 */
    uint8_t marked;      /* the current skip already produced a gap marker */
    uint8_t delivered;   /* pub.last_ns is meaningful */
    wv_batch *head, *tail;
    uint64_t ticks;      /* time of the last event decoded */
    weft_chunk_codes codes; /* what the next T and A arguments are coded against */
    wv_event peek;       /* the next event, valid while in the merge tree */
    uint8_t in_tree;     /* peek is in the merge tree */
} wv_tstate;

/* A key of the merge: the time of a thread's next event, then the thread
 * index to break ties, with MERGE_IDLE set for a thread with none. */
typedef unsigned __int128 merge_key;
#define MERGE_IDLE (1ull << 32)

enum walk_state { WALK_FRAME, WALK_BLOCK };

struct wv_reader {
    char *name;
    int fd, own_fd;
    enum wv_status status;
    int has_off;
    uint64_t prob_off;
    char problem[320];
    char msg[512];
    weft_header hdr;

    /* input */
    uint8_t *in;
    size_t in_pos, in_len;
    uint64_t in_base; /* file offset of in[0] */
    int in_eof, in_errno;
    uint64_t file_size;

    /* frames */
    enum walk_state walk;
    LZ4F_dctx *dctx;
    uint32_t block_max;
    int block_sum, content_sum;
    uint64_t unit_off; /* offset of the frame part being decoded */
    uint64_t good_bytes;

    /* records */
    uint8_t *stage;
    size_t stage_len, stage_cap, stage_want;
    int input_done;

    /* tables */
    char **str;
    uint32_t *str_len;
    uint32_t str_cap;
    size_t str_bytes;
    char scratch[40];
    wv_tstate **th;
    uint32_t nth, th_cap;
    wv_module *mod;
    uint32_t nmod, mod_cap;
    wv_end end;

    /* time */
    wv_timeconv clock;
    struct { uint64_t q, mono; } *wm; /* ring of samples not yet MERGE_LAG_NS old */
    uint32_t wm_head, wm_n;
    uint64_t limit;                   /* events up to these ticks may go */
    int limit_valid;

    /* merge */
    merge_key *tree;                  /* 2 * tsize nodes; node 1 is the root */
    uint32_t tsize, pending;          /* leaves; threads with a pending event */
    size_t buffered;
    int draining;
    wv_batch *retired;
    uint64_t delivered;
};

static const wv_thread empty_thread = {0, "", 0, 0, 0, 0, 0, 0};

/* ======================================================================== */
/* Problems                                                                 */
/* ======================================================================== */

/* Records the first problem; it ends reading (the merge still drains). */
static void problem(wv_reader *r, enum wv_status st, int has_off, uint64_t off,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void problem(wv_reader *r, enum wv_status st, int has_off, uint64_t off,
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

#define corrupt(r, off, ...) problem((r), WV_FAILED, 1, (off), __VA_ARGS__)

static uint64_t in_off(const wv_reader *r) { return r->in_base + r->in_pos; }

/* The file ended early: a warning; or a read error: a failure. */
static void ended_early(wv_reader *r)
{
    if (r->in_errno)
        problem(r, WV_FAILED, 1, in_off(r) + (r->in_len - r->in_pos), "read error: %s",
                strerror(r->in_errno));
    else
        problem(r, WV_TRUNCATED, 1, in_off(r) + (r->in_len - r->in_pos), "truncated");
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
/* Input                                                                    */
/* ======================================================================== */

static size_t in_avail(const wv_reader *r) { return r->in_len - r->in_pos; }

/* Makes at least n (<= IN_CAP) bytes available unless the file ends first.
 * @return the bytes available. */
static size_t in_need(wv_reader *r, size_t n)
{
    while (in_avail(r) < n && !r->in_eof) {
        if (r->in_pos) {
            memmove(r->in, r->in + r->in_pos, in_avail(r));
            r->in_base += r->in_pos;
            r->in_len -= r->in_pos;
            r->in_pos = 0;
        }
        ssize_t k = read(r->fd, r->in + r->in_len, IN_CAP - r->in_len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            r->in_errno = k < 0 ? errno : 0;
            r->in_eof = 1;
            break;
        }
        r->in_len += (size_t)k;
    }
    return in_avail(r);
}

static const uint8_t *in_ptr(const wv_reader *r) { return r->in + r->in_pos; }

/* Skips n bytes. @return 0, or -1 if the file ends first. */
static int in_skip(wv_reader *r, uint64_t n)
{
    while (n) {
        size_t k = in_need(r, n < IN_CAP ? (size_t)n : IN_CAP);
        if (!k)
            return -1;
        k = k < n ? k : (size_t)n;
        r->in_pos += k;
        n -= k;
    }
    return 0;
}

/* ======================================================================== */
/* Tables: strings, threads, clock                                          */
/* ======================================================================== */

static int set_string(wv_reader *r, uint64_t id, const uint8_t *p, size_t len)
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
static wv_tstate *thread_get(wv_reader *r, uint64_t index)
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

static void thread_set_name(wv_tstate *t, const uint8_t *p, size_t len)
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
/* Events                                                                   */
/* ======================================================================== */

/* A LEB128 value: one byte inline (most values are: small deltas, string
 * ids, flags), longer ones through wire.h's reader. */
static inline int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    if (*p < end && **p < 0x80) {
        *v = *(*p)++;
        return 0;
    }
    return weft_get_uvarint(p, end, v);
}

/* Decodes one event at *pp generically from the spec table: the code byte,
 * the time delta of timed events, then each argument by its kind. `codes`
 * holds the chunk's previous task id and call site, which kinds T and A are
 * coded against (TIME_BASE, at every chunk start, resets them). `sites_plain`:
 * a version 1 file, whose call sites are plain U.
 * @return 0 and advances *pp, or -1 if the bytes do not form an event. */
static int decode_event(const uint8_t **pp, const uint8_t *end, wv_event *ev, uint64_t *dt,
                        weft_chunk_codes *codes, int sites_plain)
{
    const uint8_t *p = *pp;
    unsigned code = *p++;
    if (code >= WEFT_EV_LIMIT || !weft_event_specs[code].name)
        return -1;
    const weft_event_spec *s = &weft_event_specs[code];
    *dt = 0;
    if (!(s->flags & WEFT_EVF_UNTIMED) && get_varint(&p, end, dt))
        return -1;
    ev->data = NULL;
    ev->data_len = 0;
    memset(ev->arg, 0, sizeof ev->arg);
    for (unsigned i = 0; i < s->nargs && i < WEFT_MAX_ARGS; i++) {
        uint64_t v;
        unsigned kind = s->kind[i];
        if (kind == WEFT_ARG_N)
            continue;
        if (get_varint(&p, end, &v))
            return -1;
        if (kind == WEFT_ARG_I)
            v = (uint64_t)weft_unzigzag(v);
        else if (kind == WEFT_ARG_T)
            v = weft_task_of(&codes->task, v);
        else if (kind == WEFT_ARG_A && !sites_plain)
            v = weft_addr_of(&codes->site, v);
        else if (kind == WEFT_ARG_B) {
            if (v > (uint64_t)(end - p))
                return -1;
            ev->data = p;
            ev->data_len = (size_t)v;
            p += v;
        }
        ev->arg[i] = v;
    }
    if (code == WEFT_EV_TIME_BASE)
        *codes = (weft_chunk_codes){0, 0};
    ev->code = (uint8_t)code;
    ev->synthetic = 0;
    *pp = p;
    return 0;
}

/* Checks a batch's events before queueing it, so damage is reported where it
 * is in the file rather than when the merge reaches it. */
static int validate_batch(wv_reader *r, uint64_t index, const uint8_t *p, const uint8_t *end,
                          uint64_t offset, uint64_t count)
{
    uint64_t n = 0, dt;
    weft_chunk_codes codes = {0, 0}; /* their values only matter when delivered */
    wv_event ev;
    while (p < end) {
        const uint8_t *at = p;
        if (decode_event(&p, end, &ev, &dt, &codes, r->hdr.version < 2))
            return corrupt(r, r->unit_off, "corrupt batch of thread %llu: bad event (code 0x%02x)",
                           (unsigned long long)index, *at), -1;
        if (n == 0 && offset == 0 && ev.code != WEFT_EV_TIME_BASE)
            return corrupt(r, r->unit_off,
                           "corrupt batch of thread %llu: chunk does not start with time_base",
                           (unsigned long long)index), -1;
        n++;
    }
    if (n != count)
        return corrupt(r, r->unit_off, "corrupt batch of thread %llu: %llu events, header says %llu",
                       (unsigned long long)index, (unsigned long long)n,
                       (unsigned long long)count), -1;
    return 0;
}

/* ======================================================================== */
/* Merge                                                                    */
/* ======================================================================== */

/* The merge is a tournament tree over thread indexes: leaf i holds the key
 * of thread i's next event, each inner node the smaller of its children's,
 * the root the next event to hand out. Threads interleave finely, so a
 * binary heap's sift compares are coin flips the CPU mispredicts several
 * times an event; replaying one leaf's path is a fixed number of compares
 * without a branch on their outcome. */
static merge_key merge_min(merge_key a, merge_key b) { return a < b ? a : b; }

/* Sets thread ti's key and replays its path to the root. */
static void merge_set(wv_reader *r, uint32_t ti, merge_key k)
{
    size_t pos = r->tsize + ti;
    merge_key *t = r->tree;
    t[pos] = k;
    for (; pos > 1; pos >>= 1) /* the winner so far stays in registers */
        t[pos >> 1] = k = merge_min(k, t[pos ^ 1]);
}

static merge_key merge_idle(uint32_t ti) { return (merge_key)UINT64_MAX << 64 | MERGE_IDLE | ti; }

/* Makes room for leaf ti (a power of two of leaves, rebuilt whole: threads
 * are few and appear rarely). @return 0 or -1 when out of memory. */
static int merge_room(wv_reader *r, uint32_t ti)
{
    if (ti < r->tsize)
        return 0;
    uint32_t n = r->tsize ? r->tsize : 16;
    while (n <= ti)
        n *= 2;
    merge_key *t = malloc(2 * (size_t)n * sizeof *t);
    if (!t)
        return -1;
    for (uint32_t i = 0; i < n; i++)
        t[n + i] = i < r->tsize ? r->tree[r->tsize + i] : merge_idle(i);
    for (size_t pos = n - 1; pos >= 1; pos--)
        t[pos] = merge_min(t[2 * pos], t[2 * pos + 1]);
    free(r->tree);
    r->tree = t, r->tsize = n;
    return 0;
}

/* The thread whose event is next; only when r->pending. */
static uint32_t merge_top(const wv_reader *r) { return (uint32_t)r->tree[1]; }

static uint64_t merge_top_ticks(const wv_reader *r) { return (uint64_t)(r->tree[1] >> 64); }

static merge_key merge_key_of(const wv_tstate *t, uint32_t ti) { return (merge_key)t->peek.ticks << 64 | ti; }

/* Moves a consumed batch to the retired list: the event just delivered may
 * point into it, so it is freed at the next wv_reader_next(). */
static void retire_head(wv_reader *r, wv_tstate *t)
{
    wv_batch *b = t->head;
    t->head = b->next;
    if (!t->head)
        t->tail = NULL;
    r->buffered -= b->len;
    b->next = r->retired;
    r->retired = b;
}

/* Decodes thread t's next event into t->peek. @return 0 if it has none. */
static int thread_advance(wv_reader *r, wv_tstate *t)
{
    while (t->head && !t->head->gap && t->head->pos >= t->head->len)
        retire_head(r, t);
    wv_batch *b = t->head;
    if (!b)
        return 0;
    wv_event *ev = &t->peek;
    if (b->gap) {
        memset(ev, 0, sizeof *ev);
        ev->code = WEFT_EV_DIAG;
        ev->synthetic = 1;
        ev->arg[0] = WEFT_DIAG_BATCH_GAP;
        retire_head(r, t);
    } else {
        const uint8_t *p = b->data + b->pos;
        uint64_t dt;
        decode_event(&p, b->data + b->len, ev, &dt, &t->codes, r->hdr.version < 2); /* validated when queued */
        b->pos = (uint32_t)(p - b->data);
        t->ticks = ev->code == WEFT_EV_TIME_BASE ? ev->arg[0] : t->ticks + dt;
    }
    ev->ticks = t->ticks; /* ev->thread is set by the caller, which knows the index */
    return 1;
}

static void thread_push(wv_reader *r, uint32_t ti)
{
    wv_tstate *t = r->th[ti];
    if (t->in_tree || !thread_advance(r, t))
        return;
    if (merge_room(r, ti))
        return (void)corrupt(r, r->unit_off, "out of memory");
    t->peek.thread = ti;
    t->in_tree = 1;
    r->pending++;
    merge_set(r, ti, merge_key_of(t, ti));
}

static int enqueue(wv_reader *r, uint32_t ti, const uint8_t *p, size_t len, int gap)
{
    wv_batch *b = malloc(sizeof *b + len);
    if (!b)
        return corrupt(r, r->unit_off, "out of memory"), -1;
    b->next = NULL;
    b->len = (uint32_t)len;
    b->pos = 0;
    b->gap = (uint8_t)gap;
    if (len)
        memcpy(b->data, p, len);
    wv_tstate *t = r->th[ti];
    if (t->tail)
        t->tail->next = b;
    else
        t->head = b;
    t->tail = b;
    r->buffered += len;
    thread_push(r, ti);
    return 0;
}

/* Hands out the earliest pending event. */
static void deliver(wv_reader *r, wv_event *ev)
{
    uint32_t ti = merge_top(r);
    wv_tstate *t = r->th[ti];
    *ev = t->peek;
    int64_t ns = wv_reader_ticks_to_ns(r, ev->ticks);
    if (t->delivered && ns < t->pub.last_ns)
        ns = t->pub.last_ns; /* per-thread monotone even across odd samples */
    ev->ns = ns;
    t->pub.last_ns = ns;
    t->delivered = 1;
    if (!ev->synthetic) {
        t->pub.events++;
        r->delivered++;
    }
    if (ev->code == WEFT_EV_THREAD_NAME)
        thread_set_name(t, ev->data, ev->data_len);
    if (thread_advance(r, t)) {
        t->peek.thread = ti;
        merge_set(r, ti, merge_key_of(t, ti));
    } else {
        t->in_tree = 0;
        r->pending--;
        merge_set(r, ti, merge_idle(ti));
    }
}

static int releasable(wv_reader *r)
{
    if (!r->pending)
        return 0;
    if (r->buffered > MERGE_CAP)
        r->draining = 1;
    else if (r->buffered <= MERGE_CAP / 2)
        r->draining = 0;
    return r->input_done || r->draining ||
           (r->limit_valid && merge_top_ticks(r) <= r->limit);
}

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
        if (set_string(r, id, p, (size_t)len))
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
    wv_tstate *t = thread_get(r, index);
    if (!t)
        return;
    t->pub.tid = tid;
    t->pub.registered = 1;
    thread_set_name(t, p, (size_t)len);
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
    wv_tstate *t = thread_get(r, index);
    if (!t)
        return;
    int gap = seq != t->next_seq;
    t->next_seq = seq + 1;
    if (gap)
        t->skipping = 1, t->marked = 0;
    if (t->skipping) {
        if (!t->marked && (gap || offset != 0)) {
            if (enqueue(r, (uint32_t)index, NULL, 0, 1))
                return;
            t->marked = 1;
        }
        if (offset != 0)
            return;
        t->skipping = 0;
    }
    if (validate_batch(r, index, p, end, offset, count))
        return;
    if (p < end)
        enqueue(r, (uint32_t)index, p, (size_t)(end - p), 0);
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
        wv_tstate *t = thread_get(r, index);
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
static void parse_records(wv_reader *r)
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
static int stage_room(wv_reader *r)
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
        if (stage_room(r))
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
            parse_records(r);
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
        size_t k = in_need(r, len < IN_CAP ? (size_t)len : IN_CAP);
        if (!k)
            return ended_early(r), (size_t)-1;
        k = k < len ? k : (size_t)len;
        const uint8_t *src = in_ptr(r);
        r->in_pos += k;
        len -= k;
        if ((hint = decompress(r, src, k)) == (size_t)-1)
            return hint;
    }
    r->good_bytes = in_off(r);
    return hint;
}

static void frame_skippable(wv_reader *r)
{
    if (in_need(r, 8) < 8)
        return ended_early(r);
    uint64_t size = weft_get_le32(in_ptr(r) + 4);
    r->in_pos += 8;
    if (in_skip(r, size))
        return ended_early(r);
    r->good_bytes = in_off(r);
}

static void frame_start(wv_reader *r)
{
    uint64_t off = in_off(r);
    size_t k = in_need(r, 7);
    if (k == 0 && !r->in_errno)
        return problem(r, WV_TRUNCATED, 1, off, "truncated"); /* ends between frames */
    if (k < 4)
        return ended_early(r);
    const uint8_t *p = in_ptr(r);
    uint32_t magic = weft_get_le32(p);
    if ((magic & 0xFFFFFFF0u) == 0x184D2A50u)
        return frame_skippable(r);
    if (magic != LZ4_MAGIC)
        return corrupt(r, off, "corrupt data: not an LZ4 frame (magic 0x%08x)", magic);
    if (k < 7)
        return ended_early(r);
    uint8_t flg = p[4], bd = p[5];
    unsigned bsid = (bd >> 4) & 7;
    if (flg >> 6 != 1 || bsid < 4)
        return corrupt(r, off, "corrupt block (LZ4 frame header)");
    size_t hlen = 7 + (flg & 0x08 ? 8 : 0) + (flg & 0x01 ? 4 : 0);
    if (in_need(r, hlen) < hlen)
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
    if (in_need(r, 4) < 4)
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

/* One step of reading: one frame header, block or skippable frame. */
static void pump(wv_reader *r)
{
    if (r->walk == WALK_FRAME)
        frame_start(r);
    else
        frame_block(r);
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
    size_t k = in_need(r, 16);
    if (r->in_errno)
        return problem(r, WV_FAILED, 0, 0, "cannot read: %s", strerror(r->in_errno));
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
    if (in_need(r, 8 + size) < 8 + size)
        return corrupt(r, in_off(r) + in_avail(r), "file ends inside the header");
    parse_header_payload(r, in_ptr(r) + 8, size);
    r->in_pos += 8 + size;
    r->good_bytes = in_off(r);
}

static wv_reader *reader_new(const char *name)
{
    wv_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->name = strdup(name);
    r->in = malloc(IN_CAP);
    r->stage_cap = 2 * (size_t)WV_RECORD_MAX + STAGE_SLACK;
    r->stage = malloc(r->stage_cap);
    r->wm = malloc(WM_CAP * sizeof *r->wm);
    r->fd = -1;
    if (!r->name || !r->in || !r->stage || !r->wm ||
        LZ4F_isError(LZ4F_createDecompressionContext(&r->dctx, LZ4F_VERSION))) {
        wv_reader_close(r);
        return NULL;
    }
    return r;
}

static void reader_start(wv_reader *r)
{
    struct stat st;
    if (fstat(r->fd, &st) == 0 && S_ISREG(st.st_mode))
        r->file_size = (uint64_t)st.st_size;
    read_header(r);
}

wv_reader *wv_reader_open_fd(int fd, const char *name)
{
    wv_reader *r = reader_new(name);
    if (!r)
        return NULL;
    r->fd = fd;
    reader_start(r);
    return r;
}

wv_reader *wv_reader_open(const char *path)
{
    wv_reader *r = reader_new(path);
    if (!r)
        return NULL;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        problem(r, WV_FAILED, 0, 0, "cannot open: %s", strerror(errno));
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
        if (releasable(r)) {
            deliver(r, ev);
            return 1;
        }
        if (r->input_done)
            return 0;
        pump(r);
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
    uint64_t seen = r->in_base + r->in_len;
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
    if (r->own_fd && r->fd >= 0)
        close(r->fd);
    if (r->dctx)
        LZ4F_freeDecompressionContext(r->dctx);
    free(r->str);
    free(r->str_len);
    free(r->th);
    free(r->tree);
    free(r->wm);
    wv_timeconv_free(&r->clock);
    free(r->stage);
    free(r->in);
    free(r->name);
    free(r);
}

