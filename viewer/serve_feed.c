/*
 * serve_feed.c - feeds a reader's events to a model with the reading on a
 * second thread, for wv_index_load(): decompressing and decoding is about a
 * third of indexing a trace, so on two cores reading the next batch while
 * the index takes in the last one cuts the wait for `weft serve` to open a
 * big trace by about that much.
 *
 * The reader thread fills batches of FEED_EVENTS events; a ring of
 * FEED_RING batches passes them to the caller's thread, which runs the
 * model. A batch carries what the model and its event sink read of each
 * event (model.h: its code, thread, time and first arguments) and the
 * bytes of those that have some (a log's text), which are valid only until
 * the reader's next call. The reader is used by one thread at a time, as
 * reader.h asks: the feeding thread until it is joined, the caller after.
 *
 * A tap (the runtime model of serve_rt.c) has two halves. `read` runs on
 * the reading thread, on each event as soon as it is read: the runtime
 * model asks the reader to convert a wait's start to ns and which threads
 * exist, which only the thread using the reader may do, and asking right
 * after the event gives the answers `weft stats` gets. What it derives it
 * writes to the batch's output; `take` gets that output on the model's
 * thread, batch by batch in order, and files it into the index. Filing
 * means writes to large fresh arrays, slow cache misses that would make
 * the reading thread the slower of the two.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "serve_index.h"

#define FEED_EVENTS 8192
#define FEED_RING 4

/* What the model reads of an event (model.h), half the size of a wv_event:
 * a batch moves from one core's cache to the other's, a cost per byte.
 * Its bytes follow those of the batch's earlier events in `data`. */
_Static_assert(WV_MAX_THREADS <= 1u << 16, "feed_ev.thread is 16 bits");

typedef struct feed_ev {
    int64_t ns;
    uint64_t arg[WV_MODEL_ARGS];
    uint32_t data_len;
    uint16_t thread; /* < WV_MAX_THREADS */
    uint8_t code;
} feed_ev;

typedef struct batch {
    feed_ev ev[FEED_EVENTS];
    size_t n;
    wv_feed_out data; /* the events' bytes, one after the other */
    wv_feed_out out;  /* the tap's output for these events */
} batch;

typedef struct feed {
    wv_reader *r;
    const wv_feed_tap *tap;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    batch *b;
    unsigned filled, taken; /* batches handed over and taken back, counts */
    int done, stop, oom;
} feed;

void *wv_feed_reserve(wv_feed_out *o, size_t n)
{
    size_t at = (o->len + 7) & ~(size_t)7;
    if (at + n > o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 1 << 16;
        while (cap < at + n)
            cap *= 2;
        uint8_t *d = realloc(o->data, cap);
        if (!d)
            return NULL;
        o->data = d, o->cap = cap;
    }
    o->len = at + n;
    return o->data + at;
}

/* Appends n bytes to o. @return 0 or -ENOMEM. */
static int append(wv_feed_out *o, const uint8_t *p, size_t n)
{
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 1 << 16;
        while (cap < o->len + n)
            cap *= 2;
        uint8_t *d = realloc(o->data, cap);
        if (!d)
            return -ENOMEM;
        o->data = d, o->cap = cap;
    }
    memcpy(o->data + o->len, p, n);
    o->len += n;
    return 0;
}

static int fill(feed *f, batch *b)
{
    /* read once: the feed's lock and counters share its cache lines, which
     * the other thread writes at each hand-over */
    wv_reader *r = f->r;
    const wv_feed_tap *tap = f->tap;
    wv_event e;
    b->n = b->data.len = b->out.len = 0;
    while (b->n < FEED_EVENTS && wv_reader_next(r, &e)) {
        if (tap && tap->read(tap->ctx, &e, &b->out))
            return -ENOMEM;
        if (e.data_len && append(&b->data, e.data, e.data_len))
            return -ENOMEM;
        feed_ev *c = &b->ev[b->n++];
        c->ns = e.ns;
        memcpy(c->arg, e.arg, sizeof c->arg);
        c->data_len = (uint32_t)e.data_len; /* < WV_RECORD_MAX */
        c->thread = (uint16_t)e.thread;
        c->code = e.code;
    }
    return 0;
}

static void *reader_main(void *p)
{
    feed *f = p;
    for (;;) {
        pthread_mutex_lock(&f->mu);
        while (f->filled - f->taken == FEED_RING && !f->stop)
            pthread_cond_wait(&f->cv, &f->mu);
        int stop = f->stop;
        pthread_mutex_unlock(&f->mu);
        batch *b = &f->b[f->filled % FEED_RING];
        int rc = stop ? 0 : fill(f, b);
        pthread_mutex_lock(&f->mu);
        f->oom |= rc != 0;
        if (!stop && !rc && b->n)
            f->filled++;
        if (stop || rc || b->n < FEED_EVENTS)
            f->done = 1;
        pthread_cond_broadcast(&f->cv);
        pthread_mutex_unlock(&f->mu);
        if (f->done)
            return NULL;
    }
}

/* Without a second thread: the same work, one event at a time. */
static int feed_here(wv_model *m, wv_reader *r, const wv_feed_tap *tap)
{
    wv_event ev;
    wv_feed_out out = {0};
    int rc = 0;
    while (!rc && wv_reader_next(r, &ev)) {
        out.len = 0;
        if (tap && !(rc = tap->read(tap->ctx, &ev, &out)))
            rc = tap->take(tap->ctx, out.data, out.len);
        if (!rc)
            rc = wv_model_add(m, &ev);
    }
    wv_model_finish(m);
    free(out.data);
    return rc;
}

int wv_feed_model(wv_model *m, wv_reader *r, const wv_feed_tap *tap)
{
    feed f = {.r = r, .tap = tap};
    f.b = calloc(FEED_RING, sizeof *f.b);
    pthread_t t;
    if (!f.b) /* without the ring, feed on this thread */
        return feed_here(m, r, tap);
    pthread_mutex_init(&f.mu, NULL);
    pthread_cond_init(&f.cv, NULL);
    if (pthread_create(&t, NULL, reader_main, &f)) {
        free(f.b);
        return feed_here(m, r, tap);
    }
    int rc = 0;
    wv_event ev = {0}; /* the rest of each event, which the model does not read */
    for (;;) {
        pthread_mutex_lock(&f.mu);
        while (f.filled == f.taken && !f.done)
            pthread_cond_wait(&f.cv, &f.mu);
        int have = f.filled != f.taken;
        pthread_mutex_unlock(&f.mu);
        if (!have)
            break;
        batch *b = &f.b[f.taken % FEED_RING];
        if (tap && b->out.len)
            rc = tap->take(tap->ctx, b->out.data, b->out.len);
        const uint8_t *data = b->data.data;
        for (size_t i = 0; i < b->n && !rc; i++) {
            const feed_ev *c = &b->ev[i];
            ev.ns = c->ns;
            memcpy(ev.arg, c->arg, sizeof c->arg);
            ev.thread = c->thread;
            ev.code = c->code;
            ev.data = c->data_len ? data : NULL;
            ev.data_len = c->data_len;
            data += c->data_len;
            rc = wv_model_add(m, &ev);
        }
        pthread_mutex_lock(&f.mu);
        f.taken++;
        f.stop |= rc != 0;
        pthread_cond_broadcast(&f.cv);
        pthread_mutex_unlock(&f.mu);
        if (rc)
            break;
    }
    pthread_join(t, NULL);
    wv_model_finish(m);
    for (int i = 0; i < FEED_RING; i++)
        free(f.b[i].data.data), free(f.b[i].out.data);
    free(f.b);
    pthread_mutex_destroy(&f.mu);
    pthread_cond_destroy(&f.cv);
    return rc ? rc : f.oom ? -ENOMEM : 0;
}
