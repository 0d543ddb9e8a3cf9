/*
 * preload.h - what the parts of libweft-preload.so share. Compiled only into
 * the preload library (-DWEFT_PRELOAD), never into libweft.
 *
 *   alloc.c    the malloc family: its real allocator, allocator pauses
 *   heap.c     the heap-in-use counter: per-thread slots, their sum
 *   preload.c  the start, pthread_create, pthread_setname_np, locks, I/O
 *
 * The rest of the recorder is the same code as libweft's; session.c's
 * WEFT_OUT constructor starts the recording (see weft__autostart_gate()).
 */
#ifndef WEFT_PRELOAD_H
#define WEFT_PRELOAD_H

#include "emit.h"

#include <stddef.h>

/* Reads WEFT_ALLOC_SAMPLE and WEFT_ALLOC_PAUSE_US and installs the fork
 * handler of the heap slots. Called once by the preload constructor, before
 * the recording starts; until then the defaults apply. */
WEFT__HIDDEN void weft__alloc_init(void);

/* The real allocator, untracked and untimed: for the preload library's own
 * bookkeeping (a pthread_create trampoline's arguments), which belongs to no
 * program heap and is freed on another thread. */
WEFT__HIDDEN void *weft__alloc_raw(size_t n);
WEFT__HIDDEN void weft__alloc_raw_free(void *p);

/* ---- heap.c ------------------------------------------------------------------ */

/* A thread's share of the heap in use, on a cache line of its own. */
typedef struct __attribute__((aligned(64))) weft_heap_slot {
    _Atomic int64_t bytes; /* owner: load + store; sampler: load */
    bool used;             /* owned by a live thread; under the slots' lock */
} weft_heap_slot;

/* The calling thread's slot; NULL before its first allocation, after it
 * exits, or when all slots are taken. */
extern WEFT__HIDDEN WEFT__TLS weft_heap_slot *weft__heap_slot;

/* Only the owner writes a slot, so a plain load and store do: no
 * read-modify-write on the allocation path. */
static inline void weft__slot_add(weft_heap_slot *s, int64_t delta)
{
    atomic_store_explicit(&s->bytes, atomic_load_explicit(&s->bytes, memory_order_relaxed) + delta,
                          memory_order_relaxed);
}

/* Takes a slot for the calling thread, or adds to the shared total. */
WEFT__HIDDEN void weft__heap_add_slow(int64_t delta);

/* Adds `delta` bytes to the heap in use. */
static inline void weft__heap_add(int64_t delta)
{
    weft_heap_slot *s = weft__heap_slot;
    if (LIKELY(s != NULL))
        weft__slot_add(s, delta);
    else
        weft__heap_add_slow(delta);
}

/* Raw ticks from which an allocation call that read the clock should take a
 * heap sample (weft__heap_tick); UINT64_MAX while none is wanted. */
extern WEFT__HIDDEN _Atomic uint64_t weft__heap_next;

/* On an allocation call that read the clock at raw ticks `now`: if a sample
 * is due, takes it and returns true with *out holding what to write on the
 * calling thread. */
WEFT__HIDDEN bool weft__heap_tick(uint64_t now, weft_heap_due *out);

/* The thread-exit fold and the fork handler; called by weft__alloc_init(). */
WEFT__HIDDEN void weft__heap_init(void);

#endif /* WEFT_PRELOAD_H */
