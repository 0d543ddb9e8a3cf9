/*
 * gc.c - the program's own collector pauses (weft_gc_begin/end) and heap
 * figure (weft_heap).
 *
 * A stop-the-world pause belongs to the whole process, not to a thread, so
 * "is a pause open" is one process-wide word holding the generation of the
 * recording whose pause is open. Misuse - a begin inside a pause, an end
 * without one - is rejected there and recorded as a diagnostic, so the file's
 * GC_BEGIN/GC_END events alternate in time order whichever threads call them.
 */
#include "emit.h"

WEFT__HIDDEN void weft__diag(weft_thread *t, unsigned kind, uint32_t name, uint64_t arg);

/* The generation of the recording with an open pause; 0: none. A pause left
 * open by an earlier recording does not count in the next one. */
static _Atomic uint32_t gc_open;

/* The thread to record on, with the guard set (it may register). NULL: do not
 * record. The caller passes *was to weft__guard_leave(). */
static weft_thread *enter(int *was)
{
    *was = weft__guard_enter();
    return weft__thread();
}

void weft_gc_begin(const char *kind)
{
    if (!weft__recording())
        return;
    int was;
    weft_thread *t = enter(&was);
    if (t) {
        uint32_t name = weft__name(t, kind ? kind : "gc");
        /* Stamped before the pause is marked open, and GC_END after it is
         * marked closed, so a begin and an end racing on two threads still
         * come out in order. */
        uint64_t q = weft__raw_ticks() >> weft__tick_shift;
        uint32_t open = atomic_load(&gc_open);
        if (open == t->gen || !atomic_compare_exchange_strong(&gc_open, &open, t->gen)) {
            weft__diag(t, WEFT_DIAG_GC_NESTED, name, 0);
        } else {
            uint8_t *p = ev_open_at(t, WEFT_EV_GC_BEGIN, WEFT_EVENT_MAX, q);
            if (p)
                ev_close(t, weft_put_uvarint(p, name));
        }
    }
    weft__guard_leave(was);
}

void weft_gc_end(void)
{
    if (!weft__recording())
        return;
    int was;
    weft_thread *t = enter(&was);
    if (t) {
        uint32_t open = t->gen;
        if (!atomic_compare_exchange_strong(&gc_open, &open, 0)) {
            weft__diag(t, WEFT_DIAG_GC_END_WITHOUT_BEGIN, 0, 0);
        } else {
            uint8_t *p = ev_open(t, WEFT_EV_GC_END, WEFT_EVENT_MAX);
            if (p)
                ev_close(t, p);
        }
    }
    weft__guard_leave(was);
}

void weft_heap(size_t bytes_in_use)
{
    if (!weft__recording())
        return;
    int was;
    weft_thread *t = enter(&was);
    if (t) {
        uint8_t *p = ev_open(t, WEFT_EV_HEAP, WEFT_EVENT_MAX);
        if (p) {
            p = weft_put_uvarint(p, WEFT_HEAP_PROGRAM);
            ev_close(t, weft_put_uvarint(p, bytes_in_use));
        }
    }
    weft__guard_leave(was);
}
