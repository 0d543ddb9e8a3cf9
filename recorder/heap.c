/*
 * heap.c - the heap-in-use counter of the preload library's malloc layer
 * (alloc.c): per-thread slots the allocation calls add to, and the samples
 * of their sum written as HEAP{MALLOC} (weft__heap_poll(), weft__heap_tick()).
 *
 * Every block counts its usable size, added when handed out and subtracted
 * when freed, whichever thread frees it; only the sum means anything. So
 * that no allocation writes a cache line another thread writes, each thread
 * adds to its own 64-byte slot with a plain load and store (preload.h,
 * weft__heap_add); threads beyond HEAP_SLOTS share one atomic. A thread that
 * exits folds its slot into the shared total and frees the slot for the
 * next thread.
 *
 * Compiled without sanitizer instrumentation, like alloc.c: it runs inside
 * malloc, possibly before the sanitizer has started.
 */
#define _GNU_SOURCE
#include "preload.h"

#include <pthread.h>

#define HEAP_SLOTS 256

static weft_heap_slot slots[HEAP_SLOTS];
static uint32_t slots_top;           /* slots ever used, under slot_lock */
static _Atomic int64_t shared_bytes; /* threads without a slot, exited threads */
static atomic_flag slot_lock = ATOMIC_FLAG_INIT;

WEFT__TLS weft_heap_slot *weft__heap_slot;
enum { SLOT_NONE, SLOT_OWN, SLOT_SHARED };
static WEFT__TLS uint8_t slot_state;

static pthread_key_t slot_key;
static bool key_ready; /* set by weft__heap_init(), before any thread but main */

/* A spin lock, not a mutex: it is taken inside malloc, where an interposed
 * pthread_mutex_lock would recurse into the recorder (and under a sanitizer
 * into its interceptor, on a thread it may not have set up), and it guards
 * only a slot claim, a fold or a sum, never a call. */
static void slots_lock(void)
{
    while (atomic_flag_test_and_set_explicit(&slot_lock, memory_order_acquire))
        __builtin_ia32_pause();
}

static void slots_unlock(void) { atomic_flag_clear_explicit(&slot_lock, memory_order_release); }

/* At thread exit (the slot key's destructor): move the slot's bytes to the
 * shared total and free the slot. The blocks stay counted until someone
 * frees them, and the move happens under the lock the sampler sums under,
 * so no sample sees the bytes twice or not at all. */
static void slot_fold(void *arg)
{
    weft_heap_slot *s = arg;
    weft__heap_slot = NULL;
    slot_state = SLOT_SHARED; /* frees by later destructors go to the shared total */
    slots_lock();
    atomic_fetch_add_explicit(&shared_bytes, atomic_load_explicit(&s->bytes, memory_order_relaxed),
                              memory_order_relaxed);
    atomic_store_explicit(&s->bytes, 0, memory_order_relaxed);
    s->used = false;
    slots_unlock();
}

static weft_heap_slot *slot_claim(void)
{
    weft_heap_slot *s = NULL;
    slots_lock();
    for (uint32_t i = 0; i < HEAP_SLOTS && !s; i++) {
        if (slots[i].used)
            continue;
        s = &slots[i];
        s->used = true;
        if (i >= slots_top)
            slots_top = i + 1;
    }
    slots_unlock();
    return s;
}

/* A thread's first counted allocation: take a slot and have it folded back
 * at exit. The state is SHARED meanwhile, so an allocation made by
 * pthread_setspecific itself (keys beyond the first 32) does not recurse.
 * The main thread may claim before weft__heap_init(); it never folds. */
void weft__heap_add_slow(int64_t delta)
{
    if (slot_state == SLOT_NONE) {
        slot_state = SLOT_SHARED;
        weft_heap_slot *s = slot_claim();
        if (s) {
            weft__heap_slot = s;
            slot_state = SLOT_OWN;
            if (key_ready)
                pthread_setspecific(slot_key, s);
        }
    }
    weft_heap_slot *s = weft__heap_slot;
    if (s)
        weft__slot_add(s, delta);
    else
        atomic_fetch_add_explicit(&shared_bytes, delta, memory_order_relaxed);
}

static int64_t sum_locked(void)
{
    int64_t sum = atomic_load_explicit(&shared_bytes, memory_order_relaxed);
    for (uint32_t i = 0; i < slots_top; i++)
        sum += atomic_load_explicit(&slots[i].bytes, memory_order_relaxed);
    return sum;
}

/* ---- HEAP{MALLOC} samples ---------------------------------------------------------- */
/*
 * The counter is sampled every WEFT_SAMPLE_US (1 ms) while it changes, but
 * the sampler does not wake that often under perf (sched.c adapts its period
 * up to 10 ms: each wake-up cost an echo server ~2 % of its throughput on
 * these VMs). So the allocation calls that read the clock anyway (the timed
 * ones, alloc.c) take a sample when one is due (weft__heap_next) and write it
 * on their own thread, at the cost of a load and a compare; the sampler
 * takes one every period whatever happens, which covers a heap that stopped
 * changing and a program whose calls are never timed. Both go through
 * heap_take() under the slots' lock with one shared state, so the counter is
 * written only when it changes, as sched.c's counter_sample() writes the
 * other counters: before a change that follows unchanged readings, the last
 * unchanged reading is written too, at its own time.
 */
_Atomic uint64_t weft__heap_next = UINT64_MAX;
static struct {
    uint64_t period;   /* raw ticks between thread-side samples; 0: none */
    uint64_t last;     /* time of the last reading, raw ticks */
    uint64_t bytes;    /* value of the last sample written */
    bool any, skipped; /* as in sched.c's counter_state */
} hs;

/* Reads the sum at raw time `now` and says what to write. A reading never
 * goes back in time: a thread and the sampler read the clock before they
 * queue for the lock. */
static void heap_take(uint64_t now, weft_heap_due *out)
{
    out->n = 0;
    if (now < hs.last)
        now = hs.last;
    int64_t sum = sum_locked();
    /* Negative only when blocks allocated before counting began are freed
     * (under a sanitizer, see alloc.c). */
    uint64_t bytes = sum > 0 ? (uint64_t)sum : 0;
    atomic_store_explicit(&weft__heap_next, hs.period ? now + hs.period : UINT64_MAX,
                          memory_order_relaxed);
    uint64_t prev = hs.last;
    hs.last = now;
    if (hs.any && bytes == hs.bytes) {
        hs.skipped = true;
        return;
    }
    if (hs.skipped)
        out->raw[out->n] = prev, out->bytes[out->n++] = hs.bytes;
    out->raw[out->n] = now, out->bytes[out->n++] = bytes;
    hs.bytes = bytes;
    hs.any = true;
    hs.skipped = false;
}

/* Overrides the sampler's weak default (no malloc tracking). */
int weft__heap_poll(uint64_t now, uint64_t period, weft_heap_due *out)
{
    slots_lock();
    hs.period = period;
    heap_take(now, out);
    slots_unlock();
    return 1;
}

void weft__heap_reset(void)
{
    slots_lock();
    hs.period = hs.last = hs.bytes = 0;
    hs.any = hs.skipped = false;
    atomic_store_explicit(&weft__heap_next, UINT64_MAX, memory_order_relaxed);
    slots_unlock();
}

bool weft__heap_tick(uint64_t now, weft_heap_due *out)
{
    out->n = 0;
    slots_lock();
    if (now >= atomic_load_explicit(&weft__heap_next, memory_order_relaxed))
        heap_take(now, out);
    slots_unlock();
    return out->n != 0;
}

/* In a forked child only the forking thread runs: a lock another thread of
 * the parent held would never be released. */
static void after_fork_child(void) { atomic_flag_clear(&slot_lock); }

void weft__heap_init(void)
{
    key_ready = pthread_key_create(&slot_key, slot_fold) == 0;
    pthread_atfork(NULL, NULL, after_fork_child);
}
