/*
 * reader_merge.c - the reader's events and merge: decodes events with the
 * wire table, checks each batch when it is queued, and hands events out in
 * time order across threads (reader.c says when an event may go).
 */
#define _GNU_SOURCE
#include "reader_int.h"

#include <stdlib.h>
#include <string.h>

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
int wv__rd_validate_batch(wv_reader *r, uint64_t index, const uint8_t *p, const uint8_t *end,
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

int wv__rd_enqueue(wv_reader *r, uint32_t ti, const uint8_t *p, size_t len, int gap)
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
void wv__rd_deliver(wv_reader *r, wv_event *ev)
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
        wv__rd_thread_set_name(t, ev->data, ev->data_len);
    if (thread_advance(r, t)) {
        t->peek.thread = ti;
        merge_set(r, ti, merge_key_of(t, ti));
    } else {
        t->in_tree = 0;
        r->pending--;
        merge_set(r, ti, merge_idle(ti));
    }
}

int wv__rd_releasable(wv_reader *r)
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
