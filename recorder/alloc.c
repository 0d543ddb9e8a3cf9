/*
 * alloc.c - the malloc family under the preload library: the heap-in-use
 * counter and allocator pauses, for programs that were not built with weft.
 *
 * Each interposer calls the real allocator and keeps two records:
 *
 * Heap in use. Every block is counted by its usable size (the real
 * allocator's malloc_usable_size), added when it is handed out and
 * subtracted when it is freed, so the sum is exact whichever thread frees.
 * A thread adds to its own cache-line slot with a plain load and store (no
 * lock, no read-modify-write, no line another thread writes); threads beyond
 * HEAP_SLOTS share one atomic. A thread that exits folds its slot into the
 * shared total and gives the slot back. The sampler sums all of them every
 * period through weft__heap_sample() (HEAP{MALLOC} on the system stream).
 *
 * Allocator pauses. Reading the clock costs ~11 ns per rdtsc on these VMs,
 * so timing every call would add ~44 ns to a malloc/free pair whose plain
 * cost is ~20 ns (measured by weft-bench, WEFT_ALLOC_SAMPLE=1), against a
 * budget of 15. A call can only be slow when it leaves glibc's per-thread
 * cache (tcache: blocks up to 1032 bytes, 7 per size), so:
 *   - calls that can bypass the tcache are always timed: sizes above
 *     TCACHE_MAX, realloc (it may move and copy), calloc above TCACHE_MAX (it
 *     clears), the memalign family, and free of a block above TCACHE_MAX
 *     (it may consolidate or munmap);
 *   - the other, small calls are timed 1 in WEFT_ALLOC_SAMPLE (default 16;
 *     1 times every call, 0 none): a small call that misses the tcache
 *     (empty or full bin) takes the arena lock, and a contended arena shows
 *     up across many calls, so sampling still finds it.
 * A timed call that took at least WEFT_ALLOC_PAUSE_US microseconds (default
 * 20; 0 records every timed call) becomes ALLOC_PAUSE{op, size, dur, site}
 * on the calling thread. Nothing is timed while nothing records.
 *
 * The real allocator. In a normal build it is glibc's, reached through
 * __libc_malloc and friends: exported, bound at load time, and never dlsym,
 * which itself allocates. In a sanitizer build (WEFT_ALLOC_SANITIZER) it is
 * the sanitizer's: this library comes first in the lookup order, so its
 * malloc hides ASan's or TSan's, and handing their programs glibc memory
 * would blind them (TSan would report races on every recycled block); the
 * sanitizers export their interceptors as __interceptor_malloc etc., which
 * are called instead. This file is compiled without sanitizer
 * instrumentation in those builds, as the sanitizer runtimes themselves are:
 * it runs before their initialisation.
 *
 * Re-entrancy. The bookkeeping calls nothing; only an allocator pause calls
 * into the recorder, under the recorder guard, so the allocations the
 * recorder makes meanwhile (registering the thread, say) are counted but
 * neither timed nor recorded. Recorder code runs with the guard set, so its
 * own allocations are never timed either.
 */
#define _GNU_SOURCE
#include "emit.h"
#include "preload.h"

#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef WEFT_PRELOAD
#error "alloc.c belongs to the preload build (-DWEFT_PRELOAD)"
#endif

/* glibc's tcache holds blocks of up to 1032 usable bytes (64 bins of 16). */
#define TCACHE_MAX 1032

/* ---- the real allocator ----------------------------------------------------- */

#ifdef WEFT_ALLOC_SANITIZER
#define REAL(fn) __interceptor_##fn
extern int __interceptor_posix_memalign(void **p, size_t align, size_t n);
extern void *__interceptor_aligned_alloc(size_t align, size_t n);
extern size_t __interceptor_malloc_usable_size(void *p);
#else
#define REAL(fn) __libc_##fn
#endif
extern void *REAL(malloc)(size_t n);
extern void *REAL(calloc)(size_t n, size_t size);
extern void *REAL(realloc)(void *p, size_t n);
extern void REAL(free)(void *p);
extern void *REAL(memalign)(size_t align, size_t n);
extern void *REAL(valloc)(size_t n);
extern void *REAL(pvalloc)(size_t n);

#ifndef WEFT_ALLOC_SANITIZER
/* What malloc_usable_size() computes for a block in use, read from glibc's
 * chunk header without a call: the chunk size (the header word less its
 * three flag bits) minus the 8-byte header, or minus 16 for an mmapped chunk
 * (flag 2). x86-64 glibc has no memory tagging. Calling malloc_usable_size
 * twice per malloc/free pair cost ~4 ns of the 15 ns budget; usable_check()
 * compares the two at start and falls back to the call if they differ. */
static bool header_differs;

static inline size_t header_usable(void *p)
{
    size_t head = ((const size_t *)p)[-1];
    return (head & ~(size_t)7) - (head & 2 ? 16 : 8);
}
#endif

static inline size_t usable(void *p)
{
#ifdef WEFT_ALLOC_SANITIZER
    return __interceptor_malloc_usable_size(p);
#else
    return LIKELY(!header_differs) ? header_usable(p) : malloc_usable_size(p);
#endif
}

/* Small, tcache-sized, large and mmapped blocks. */
static void usable_check(void)
{
#ifndef WEFT_ALLOC_SANITIZER
    static const size_t sizes[] = {1, 24, 1000, 5000, 300000, 8u << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = REAL(malloc)(sizes[i]);
        if (p && header_usable(p) != malloc_usable_size(p))
            header_differs = true;
        REAL(free)(p);
    }
#endif
}

/* posix_memalign's contract on top of memalign: glibc exports no
 * __libc_posix_memalign. */
static int real_posix_memalign(void **out, size_t align, size_t n)
{
#ifdef WEFT_ALLOC_SANITIZER
    return __interceptor_posix_memalign(out, align, n);
#else
    if (align == 0 || align % sizeof(void *) != 0 || (align & (align - 1)) != 0)
        return EINVAL;
    int err = errno; /* posix_memalign reports through its result, not errno */
    void *p = REAL(memalign)(align, n);
    errno = err;
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
#endif
}

static void *real_aligned_alloc(size_t align, size_t n)
{
#ifdef WEFT_ALLOC_SANITIZER
    return __interceptor_aligned_alloc(align, n);
#else
    return REAL(memalign)(align, n); /* glibc 2.36's aligned_alloc is memalign */
#endif
}

void *weft__alloc_raw(size_t n) { return REAL(malloc)(n); }
void weft__alloc_raw_free(void *p) { REAL(free)(p); }

/* ---- configuration ------------------------------------------------------------ */

#define DEFAULT_SAMPLE 16
#define DEFAULT_PAUSE_US 20.0

static uint32_t sample_every = DEFAULT_SAMPLE; /* WEFT_ALLOC_SAMPLE; 0: never */
static double pause_us = DEFAULT_PAUSE_US;     /* WEFT_ALLOC_PAUSE_US */

static void read_sample_every(void)
{
    const char *s = getenv("WEFT_ALLOC_SAMPLE");
    if (!s || !*s)
        return;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || s[0] == '-' || v > UINT32_MAX)
        fprintf(stderr, "weft: WEFT_ALLOC_SAMPLE=%s is not a whole number; using %d\n", s,
                DEFAULT_SAMPLE);
    else
        sample_every = (uint32_t)v;
}

static void read_pause_us(void)
{
    const char *s = getenv("WEFT_ALLOC_PAUSE_US");
    if (!s || !*s)
        return;
    char *end;
    double v = strtod(s, &end);
    if (*end || !isfinite(v) || v < 0)
        fprintf(stderr, "weft: WEFT_ALLOC_PAUSE_US=%s is not a number of microseconds; using %g\n",
                s, DEFAULT_PAUSE_US);
    else
        pause_us = v;
}

/* ---- heap in use: per-thread slots ------------------------------------------------ */

#define HEAP_SLOTS 256

typedef struct __attribute__((aligned(64))) heap_slot {
    _Atomic int64_t bytes; /* owner: load + store; sampler: load */
    bool used;             /* under slot_lock */
} heap_slot;

static heap_slot slots[HEAP_SLOTS];
static uint32_t slots_top;             /* slots ever used, under slot_lock */
static _Atomic int64_t shared_bytes;   /* threads without a slot, exited threads */
static atomic_flag slot_lock = ATOMIC_FLAG_INIT;

enum { SLOT_NONE, SLOT_OWN, SLOT_SHARED };
static WEFT__TLS heap_slot *my_slot;
static WEFT__TLS uint8_t slot_state;

static pthread_key_t slot_key;
static pthread_once_t slot_key_once = PTHREAD_ONCE_INIT;

/* A spin lock, not a mutex: it is taken inside malloc, where an interposed
 * pthread_mutex_lock would recurse into the recorder, and it guards only a
 * slot claim, a fold or a sum - never a call. */
static void slots_lock(void)
{
    while (atomic_flag_test_and_set_explicit(&slot_lock, memory_order_acquire))
        __builtin_ia32_pause();
}

static void slots_unlock(void) { atomic_flag_clear_explicit(&slot_lock, memory_order_release); }

/* At thread exit (a pthread key destructor): move the slot's bytes to the
 * shared total and free the slot. Blocks this thread allocated are still in
 * use, and the thread that frees them subtracts them from its own counter,
 * so the sum stays exact. The move happens under the lock the sampler sums
 * under, so no sample sees the bytes twice or not at all. */
static void slot_fold(void *arg)
{
    heap_slot *s = arg;
    my_slot = NULL;
    slot_state = SLOT_SHARED; /* frees by later destructors go to the shared total */
    slots_lock();
    atomic_fetch_add_explicit(&shared_bytes, atomic_load_explicit(&s->bytes, memory_order_relaxed),
                              memory_order_relaxed);
    atomic_store_explicit(&s->bytes, 0, memory_order_relaxed);
    s->used = false;
    slots_unlock();
}

static void make_slot_key(void) { pthread_key_create(&slot_key, slot_fold); }

static heap_slot *slot_claim(void)
{
    heap_slot *s = NULL;
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

/* A thread's first allocation: take a slot, and arrange for it to be folded
 * back at exit. The state is SHARED meanwhile, so an allocation made by
 * pthread_setspecific itself (keys beyond the first 32) does not recurse. */
static __attribute__((noinline)) void heap_add_slow(int64_t delta)
{
    if (slot_state == SLOT_NONE) {
        slot_state = SLOT_SHARED;
        heap_slot *s = slot_claim();
        if (s) {
            pthread_once(&slot_key_once, make_slot_key);
            my_slot = s;
            slot_state = SLOT_OWN;
            pthread_setspecific(slot_key, s);
        }
    }
    heap_slot *s = my_slot;
    if (s)
        atomic_store_explicit(&s->bytes, atomic_load_explicit(&s->bytes, memory_order_relaxed) + delta,
                              memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&shared_bytes, delta, memory_order_relaxed);
}

static inline void heap_add(int64_t delta)
{
    heap_slot *s = my_slot;
    if (LIKELY(s != NULL)) {
        atomic_store_explicit(&s->bytes, atomic_load_explicit(&s->bytes, memory_order_relaxed) + delta,
                              memory_order_relaxed);
        return;
    }
    heap_add_slow(delta);
}

/* Overrides the sampler's weak default (no malloc tracking). */
int weft__heap_sample(uint64_t *bytes)
{
    slots_lock();
    int64_t sum = atomic_load_explicit(&shared_bytes, memory_order_relaxed);
    for (uint32_t i = 0; i < slots_top; i++)
        sum += atomic_load_explicit(&slots[i].bytes, memory_order_relaxed);
    slots_unlock();
    /* Blocks allocated before this library's first call cannot be freed
     * through it, but a sanitizer's own allocations (its strdup, say) can. */
    *bytes = sum > 0 ? (uint64_t)sum : 0;
    return 1;
}

/* In a forked child only the forking thread runs: a lock held by another
 * thread of the parent would never be released. */
static void slots_after_fork_child(void) { atomic_flag_clear(&slot_lock); }

/* ---- allocator pauses ------------------------------------------------------------- */

static WEFT__TLS uint32_t countdown = 1; /* small calls until the next timed one */

/* True for the small call to time, 1 in sample_every, while recording. */
static inline bool sample_due(void)
{
    if (LIKELY(!__atomic_load_n(&weft__gen, __ATOMIC_RELAXED)))
        return false;
    if (LIKELY(--countdown != 0))
        return false;
    countdown = sample_every; /* 0 wraps: effectively never again */
    return sample_every != 0;
}

/* The pause threshold in raw ticks. The TSC rate is measured between the
 * sample alloc_init took and the first threshold check, which comes after
 * weft_start (itself at least 1 ms later: it measures the rate too); no call
 * here ever sleeps to calibrate. */
static weft_clock_sample calib0;
static _Atomic uint64_t limit_plus1; /* 0: not computed yet */

static __attribute__((noinline)) uint64_t pause_limit_slow(void)
{
    double ticks_per_us = 1000.0; /* CLOCK_MONOTONIC ns */
    bool final = true;
    if (weft__use_tsc) {
        weft_clock_sample now = weft__clock_sample();
        uint64_t dns = now.mono_ns - calib0.mono_ns;
        if (!calib0.mono_ns || dns == 0)
            return UINT64_MAX; /* no interval to measure the rate on: skip */
        ticks_per_us = (double)(now.ticks - calib0.ticks) * 1000.0 / (double)dns;
        final = dns >= 1000000; /* under 1 ms the clock reads' jitter shows */
    }
    uint64_t limit = (uint64_t)(pause_us * ticks_per_us);
    if (final)
        atomic_store_explicit(&limit_plus1, limit + 1, memory_order_relaxed);
    return limit;
}

static inline uint64_t pause_limit(void)
{
    uint64_t l = atomic_load_explicit(&limit_plus1, memory_order_relaxed);
    return LIKELY(l != 0) ? l - 1 : pause_limit_slow();
}

/* Writes ALLOC_PAUSE for a call timed from raw ticks t0 to t1, if it was
 * slow enough. Registers the thread if needed: under the guard, whatever the
 * recorder allocates meanwhile comes back here untimed. */
static void pause_check(unsigned op, size_t size, uint64_t t0, uint64_t t1, void *site)
{
    if (t1 - t0 < pause_limit())
        return;
    int err = errno, was = weft__guard_enter();
    weft_thread *t = weft__thread();
    if (t) {
        uint64_t q1 = t1 >> weft__tick_shift;
        uint8_t *p = ev_open_at(t, WEFT_EV_ALLOC_PAUSE, WEFT_EVENT_MAX, q1);
        if (p) {
            p = weft_put_uvarint(p, op);
            p = weft_put_uvarint(p, size);
            p = weft_put_uvarint(p, q1 - (t0 >> weft__tick_shift));
            ev_close(t, weft_put_uvarint(p, (uintptr_t)site));
        }
    }
    weft__guard_leave(was);
    errno = err;
}

void weft__alloc_init(void)
{
    read_sample_every();
    read_pause_us();
    countdown = sample_every ? sample_every : 1;
    usable_check();
    weft__clock_init();
    calib0 = weft__clock_sample();
    pthread_atfork(NULL, NULL, slots_after_fork_child);
}

/* ---- the interposers --------------------------------------------------------------- */
/*
 * Each has an untimed fast path and a timed path (noinline, so the fast path
 * stays small). TIMED(op, size, call) evaluates `call` between two clock
 * reads and leaves its value in r_; it only times while recording, outside
 * the recorder. `site` is the interposer's caller.
 */
#define TIMED(op, size, call)                                                                      \
    do {                                                                                           \
        if (!weft__recording()) {                                                                  \
            r_ = call;                                                                             \
            break;                                                                                 \
        }                                                                                          \
        uint64_t t0_ = weft__raw_ticks();                                                          \
        r_ = call;                                                                                 \
        pause_check(op, size, t0_, weft__raw_ticks(), site);                                      \
    } while (0)

static inline void count_new(void *p)
{
    if (p)
        heap_add((int64_t)usable(p));
}

static __attribute__((noinline)) void *malloc_timed(size_t n, void *site)
{
    void *r_;
    TIMED(WEFT_ALLOC_MALLOC, n, REAL(malloc)(n));
    count_new(r_);
    return r_;
}

WEFT_API void *malloc(size_t n)
{
    if (UNLIKELY(n > TCACHE_MAX || sample_due()))
        return malloc_timed(n, __builtin_return_address(0));
    void *p = REAL(malloc)(n);
    count_new(p);
    return p;
}

static __attribute__((noinline)) void free_timed(void *p, size_t size, void *site)
{
    int r_;
    TIMED(WEFT_ALLOC_FREE, size, (REAL(free)(p), 0));
    (void)r_;
}

WEFT_API void free(void *p)
{
    if (!p)
        return;
    size_t size = usable(p);
    heap_add(-(int64_t)size);
    if (UNLIKELY(size > TCACHE_MAX || sample_due()))
        free_timed(p, size, __builtin_return_address(0));
    else
        REAL(free)(p);
}

static __attribute__((noinline)) void *calloc_timed(size_t n, size_t size, size_t bytes, void *site)
{
    void *r_;
    TIMED(WEFT_ALLOC_CALLOC, bytes, REAL(calloc)(n, size));
    count_new(r_);
    return r_;
}

WEFT_API void *calloc(size_t n, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes))
        bytes = SIZE_MAX; /* the real calloc fails it with ENOMEM */
    if (UNLIKELY(bytes > TCACHE_MAX || sample_due()))
        return calloc_timed(n, size, bytes, __builtin_return_address(0));
    void *p = REAL(calloc)(n, size);
    count_new(p);
    return p;
}

/* realloc may move and copy: always timed. realloc(p, 0) frees p (glibc and
 * the sanitizers return NULL then); a failed realloc leaves p as it was. */
static void *realloc_at(void *p, size_t n, void *site)
{
    size_t old = p ? usable(p) : 0;
    void *r_;
    TIMED(WEFT_ALLOC_REALLOC, n, REAL(realloc)(p, n));
    if (r_)
        heap_add((int64_t)usable(r_) - (int64_t)old);
    else if (p && n == 0)
        heap_add(-(int64_t)old);
    return r_;
}

WEFT_API void *realloc(void *p, size_t n) { return realloc_at(p, n, __builtin_return_address(0)); }

/* glibc's reallocarray calls realloc through its PLT (so it lands above),
 * but a sanitizer's does not: defined here so both count the same. */
WEFT_API void *reallocarray(void *p, size_t n, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc_at(p, bytes, __builtin_return_address(0));
}

/* The memalign family: rare, and free to take the slow paths; always timed. */
enum aligned_kind { MEMALIGN, ALIGNED_ALLOC, VALLOC, PVALLOC };

static void *aligned_real(enum aligned_kind kind, size_t align, size_t n)
{
    switch (kind) {
    case MEMALIGN: return REAL(memalign)(align, n);
    case ALIGNED_ALLOC: return real_aligned_alloc(align, n);
    case VALLOC: return REAL(valloc)(n);
    default: return REAL(pvalloc)(n);
    }
}

static void *aligned_at(enum aligned_kind kind, size_t align, size_t n, void *site)
{
    unsigned op = kind == ALIGNED_ALLOC ? WEFT_ALLOC_ALIGNED_ALLOC : WEFT_ALLOC_MEMALIGN;
    void *r_;
    TIMED(op, n, aligned_real(kind, align, n));
    count_new(r_);
    return r_;
}

WEFT_API void *memalign(size_t align, size_t n)
{
    return aligned_at(MEMALIGN, align, n, __builtin_return_address(0));
}

WEFT_API void *aligned_alloc(size_t align, size_t n)
{
    return aligned_at(ALIGNED_ALLOC, align, n, __builtin_return_address(0));
}

/* valloc and pvalloc have no op of their own: recorded as memalign. */
WEFT_API void *valloc(size_t n) { return aligned_at(VALLOC, 0, n, __builtin_return_address(0)); }

WEFT_API void *pvalloc(size_t n) { return aligned_at(PVALLOC, 0, n, __builtin_return_address(0)); }

WEFT_API int posix_memalign(void **out, size_t align, size_t n)
{
    void *site = __builtin_return_address(0);
    int r_;
    TIMED(WEFT_ALLOC_POSIX_MEMALIGN, n, real_posix_memalign(out, align, n));
    if (r_ == 0)
        count_new(*out);
    return r_;
}
