/*
 * emit.h - the inline encoder every recording call uses: open an event in the
 * calling thread's chunk, write its arguments, publish it.
 *
 * Every event is: read the clock (or take a given time), check there is room
 * in the thread's chunk, write the code byte, the time delta and the
 * arguments as varints, then publish the new end with one release store.
 * No lock, no atomic read-modify-write, no shared cache line is written.
 * Included by events.c and by the runtime-event subsystems (sched, locks,
 * io, alloc, uv); not part of the public API.
 */
#ifndef WEFT_EMIT_H
#define WEFT_EMIT_H

#include "internal.h"

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

static inline void weft__drop_one(weft_thread *t)
{
    t->drops_pending++;
    atomic_store_explicit(&t->dropped_total,
                          atomic_load_explicit(&t->dropped_total, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* Opens an event needing at most `room` bytes, stamped with quantized ticks
 * q: returns where its arguments go, or NULL if the buffer is full and the
 * event is dropped (and counted). A q earlier than the previous event of the
 * chunk is clamped to it, since deltas are unsigned; writers of explicit
 * times (the sampler) emit in time order so that only races clamp. */
static inline uint8_t *ev_open_at(weft_thread *t, unsigned code, size_t room, uint64_t q)
{
    /* Compared as a length so a thread without a chunk (NULL pos and end)
     * takes the slow path without pointer arithmetic on NULL. */
    if (UNLIKELY((size_t)(t->end - t->pos) < room) && weft__chunk_next(t, q) != 0) {
        weft__drop_one(t);
        return NULL;
    }
    uint64_t d = q - t->last;
    if (UNLIKELY((int64_t)d < 0)) /* never write a negative delta */
        d = 0, q = t->last;
    t->last = q;
    uint8_t *p = t->pos;
    *p++ = (uint8_t)code;
    return weft_put_uvarint(p, d);
}

/* Opens an event stamped now. */
static inline uint8_t *ev_open(weft_thread *t, unsigned code, size_t room)
{
    return ev_open_at(t, code, room, weft__raw_ticks() >> weft__tick_shift);
}

/* Publishes the event that ends at p. The release store orders the event's
 * bytes before the new live commit word the writer reads with acquire. */
static inline void ev_close(weft_thread *t, uint8_t *p)
{
    t->pos = p;
    t->count++;
    weft__live_store(t, (uint32_t)(p - t->base));
}

#endif /* WEFT_EMIT_H */
