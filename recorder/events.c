/*
 * events.c - the public recording calls: tasks, regions, logs, counters and
 * thread names, and the encoders behind them. This is the hot path.
 *
 * Every event is: read the clock, check there is room in the thread's chunk,
 * write the code byte, the time delta and the arguments as varints, then
 * publish the new end with one release store (weft__commit). No lock, no
 * atomic read-modify-write, no shared cache line is written.
 */
#define _GNU_SOURCE
#include "emit.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>


WEFT__HIDDEN uint64_t weft__task_id(weft_thread *t);

void weft__diag(weft_thread *t, unsigned kind, uint32_t name, uint64_t arg)
{
    uint8_t *p = ev_open(t, WEFT_EV_DIAG, WEFT_EVENT_MAX);
    if (!p)
        return;
    p = weft_put_uvarint(p, kind);
    p = weft_put_uvarint(p, name);
    ev_close(t, weft_put_uvarint(p, arg));
}

void weft__thread_exit_event(weft_thread *t)
{
    uint8_t *p = ev_open(t, WEFT_EV_THREAD_EXIT, WEFT_EVENT_MAX);
    if (p)
        ev_close(t, p);
}

/* ---- tasks ---------------------------------------------------------------- */

weft_task weft__task_begin(weft_task parent, const char *type, int copy)
{
    weft_thread *t = weft__thread();
    if (!t)
        return 0;
    uint32_t name = copy ? weft__name_copy(t, type) : weft__name(t, type);
    weft_task id = weft__task_id(t);
    uint8_t *p = ev_open(t, WEFT_EV_TASK_BEGIN, WEFT_EVENT_MAX);
    if (p) {
        p = weft_put_task(p, &t->codes.task, id);
        p = weft_put_task(p, &t->codes.task, parent);
        ev_close(t, weft_put_uvarint(p, name));
    }
    return id;
}

void weft__task_end(weft_task task)
{
    weft_thread *t = weft__thread();
    if (!t)
        return;
    uint8_t *p = ev_open(t, WEFT_EV_TASK_END, WEFT_EVENT_MAX);
    if (p)
        ev_close(t, weft_put_task(p, &t->codes.task, task));
}

/* ---- regions -------------------------------------------------------------- */

#define SERIAL_BITS 40
#define SERIAL_MASK ((1ull << SERIAL_BITS) - 1)

weft_region weft__region_begin(weft_task task, const char *type, int copy)
{
    weft_region r = {0, 0, 0};
    weft_thread *t = weft__thread();
    if (!t)
        return r;
    uint32_t name = copy ? weft__name_copy(t, type) : weft__name(t, type);
    if (UNLIKELY(t->depth >= WEFT_MAX_DEPTH)) {
        weft__diag(t, WEFT_DIAG_REGION_TOO_DEEP, name, 0);
        return r;
    }
    uint8_t *p = ev_open(t, WEFT_EV_REGION_BEGIN, WEFT_EVENT_MAX);
    weft_open_region *o = &t->stack[t->depth++];
    o->serial = ++t->serial & SERIAL_MASK;
    o->name = name;
    o->recorded = p != NULL;
    if (p) {
        p = weft_put_task(p, &t->codes.task, task);
        ev_close(t, weft_put_uvarint(p, name));
    }
    r.id = (uint64_t)t->index << SERIAL_BITS | o->serial;
    r.name = name;
    r.gen = t->gen;
    return r;
}

/* Pops the innermost region and writes its end; an end whose begin was
 * dropped is dropped too, so the stream still nests. The region stays on the
 * stack until its end is opened: if that opens a new chunk after drops, the
 * DROP event's open_regions must still count it, since its end follows. */
static void pop_region(weft_thread *t)
{
    weft_open_region *o = &t->stack[t->depth - 1];
    if (!o->recorded) {
        t->depth--;
        atomic_store_explicit(&t->dropped_total,
                              atomic_load_explicit(&t->dropped_total, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        return;
    }
    uint8_t *p = ev_open(t, WEFT_EV_REGION_END, WEFT_EVENT_MAX);
    t->depth--;
    if (p)
        ev_close(t, p);
}

/* Misuse: the handle is not the innermost open region. End the regions inside
 * it (each a diagnostic) if it is open further down; else it was ended already. */
static void region_end_misuse(weft_thread *t, weft_region r, uint64_t serial)
{
    uint32_t i = t->depth;
    while (i > 0 && t->stack[i - 1].serial != serial)
        i--;
    if (i == 0) {
        weft__diag(t, WEFT_DIAG_REGION_ENDED_TWICE, r.name, 0);
        return;
    }
    while (t->depth > i) {
        weft__diag(t, WEFT_DIAG_REGION_OUT_OF_ORDER, t->stack[t->depth - 1].name, 0);
        pop_region(t);
    }
    pop_region(t);
}

void weft__region_end(weft_region r)
{
    weft_thread *t = weft__thread();
    if (!t || r.gen != t->gen) /* not recording, or from an earlier recording */
        return;
    if (UNLIKELY(r.id >> SERIAL_BITS != t->index)) {
        weft__diag(t, WEFT_DIAG_REGION_OTHER_THREAD, r.name, r.id >> SERIAL_BITS);
        return;
    }
    uint64_t serial = r.id & SERIAL_MASK;
    if (LIKELY(t->depth && t->stack[t->depth - 1].serial == serial))
        pop_region(t);
    else
        region_end_misuse(t, r, serial);
}

/* ---- logs, counters, names ------------------------------------------------ */

/* Cuts a message to WEFT_LOG_MAX bytes at a UTF-8 character boundary. */
static size_t log_keep(const char *msg, size_t len)
{
    if (len <= WEFT_LOG_MAX)
        return len;
    size_t keep = WEFT_LOG_MAX;
    while (keep > 0 && ((uint8_t)msg[keep] & 0xC0) == 0x80)
        keep--;
    return keep;
}

static void log_write(weft_thread *t, weft_task task, uint32_t cat, const char *msg, size_t len)
{
    size_t keep = log_keep(msg, len);
    if (keep < len)
        weft__diag(t, WEFT_DIAG_LOG_TRUNCATED, cat, len);
    uint8_t *p = ev_open(t, WEFT_EV_LOG, WEFT_EVENT_MAX + WEFT_UVARINT_MAX + keep);
    if (!p)
        return;
    p = weft_put_task(p, &t->codes.task, task);
    p = weft_put_uvarint(p, cat);
    p = weft_put_uvarint(p, keep);
    memcpy(p, msg, keep);
    ev_close(t, p + keep);
}

void weft__log(weft_task task, const char *category, const char *message)
{
    weft_thread *t = weft__thread();
    if (!t)
        return;
    uint32_t cat = weft__name(t, category);
    log_write(t, task, cat, message ? message : "", message ? strlen(message) : 0);
}

static void log_vformat(weft_task task, const char *category, const char *fmt, va_list ap)
{
    weft_thread *t = weft__thread();
    if (!t)
        return;
    char buf[WEFT_LOG_MAX + 1];
    int n = vsnprintf(buf, sizeof buf, fmt ? fmt : "", ap);
    /* vsnprintf reports the full length; only WEFT_LOG_MAX bytes are in buf,
     * which log_write cuts to anyway while recording the original length. */
    log_write(t, task, weft__name(t, category), buf, n < 0 ? 0 : (size_t)n);
}

void weft__logf(weft_task task, const char *category, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vformat(task, category, fmt, ap);
    va_end(ap);
}

/* The function form of weft_logf(), for callers that need its address. */
#undef weft_logf
WEFT_API void weft_logf(weft_task task, const char *category, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void weft_logf(weft_task task, const char *category, const char *fmt, ...)
{
    if (!weft_enabled())
        return;
    va_list ap;
    va_start(ap, fmt);
    log_vformat(task, category, fmt, ap);
    va_end(ap);
}

void weft__counter(const char *name, int64_t value)
{
    weft_thread *t = weft__thread();
    if (!t)
        return;
    uint32_t id = weft__name(t, name);
    uint8_t *p = ev_open(t, WEFT_EV_COUNTER, WEFT_EVENT_MAX);
    if (!p)
        return;
    p = weft_put_uvarint(p, id);
    ev_close(t, weft_put_uvarint(p, weft_zigzag(value)));
}

void weft_thread_name(const char *name)
{
    if (!name)
        return;
    weft__thread_set_name(name);
    if (!weft_enabled())
        return;
    weft_thread *t = weft__thread();
    if (!t)
        return;
    size_t len = strnlen(name, 63);
    uint8_t *p = ev_open(t, WEFT_EV_THREAD_NAME, WEFT_EVENT_MAX + len);
    if (!p)
        return;
    p = weft_put_uvarint(p, len);
    memcpy(p, name, len);
    ev_close(t, p + len);
}

int weft_enabled(void) { return __atomic_load_n(&weft__gen, __ATOMIC_RELAXED) != 0; }
