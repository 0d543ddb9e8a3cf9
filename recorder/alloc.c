/*
 * alloc.c - the malloc family under the preload library: the heap-in-use
 * counter and allocator pauses, for programs that were not built with weft.
 *
 * Each interposer calls the real allocator and keeps two records:
 *
 * Heap in use. Every block counts its usable size, added when it is handed
 * out and subtracted when it is freed, into the calling thread's slot
 * (heap.c); the sum is written as HEAP{MALLOC} every WEFT_SAMPLE_US by a
 * timed call (below) when one is due, and every period by the sampler.
 *
 * Allocator pauses. Reading the clock costs ~11 ns per rdtsc on these VMs,
 * so timing every call adds ~39 ns to a malloc(32)/free pair whose plain
 * cost is ~8 ns (weft-bench-alloc, WEFT_ALLOC_SAMPLE=1), against a budget
 * of 15; the rule below costs ~5 ns. A call can only be slow when it leaves
 * glibc's per-thread cache (tcache: blocks up to 1032 bytes, 7 per size), so:
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
 * malloc hides ASan's or TSan's, and a sanitizer handed glibc blocks
 * crashes on their first free (seen with TSan); the
 * sanitizers export their interceptors as __interceptor_malloc etc., which
 * are called instead. This file is compiled without sanitizer
 * instrumentation in those builds, as the sanitizer runtimes themselves are:
 * it runs before their initialisation.
 *
 * Re-entrancy. The bookkeeping calls nothing; only an allocator pause or a
 * heap sample calls into the recorder, under the recorder guard, so the
 * allocations the recorder makes meanwhile (registering the thread, say) are
 * counted but neither timed nor recorded. Recorder code runs with the guard set, so its
 * own allocations are never timed either.
 */
#define _GNU_SOURCE
#include "emit.h"
#include "preload.h"

#include <errno.h>
#include <link.h>
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

#ifdef WEFT_ALLOC_SANITIZER
/* A sanitizer cannot tell a block's size until it has initialised (TSan
 * crashes in malloc_usable_size called from its own start-up): blocks are
 * counted from the preload constructor on, which runs after the sanitizer's
 * (it is a dependency). A block allocated earlier and freed later is then
 * subtracted without having been added; heap.c's heap_take() clamps at 0. */
static bool counting;
#define COUNTING() LIKELY(counting)
#else
#define COUNTING() 1
#endif

#ifdef WEFT_ALLOC_ASAN
/* LeakSanitizer treats blocks the dynamic linker allocates (thread DTVs) as
 * reachable by looking at the allocation's caller - which is now this
 * library, not ld.so. The same rule, applied here: a block whose caller is
 * in the linker is not a leak. */
extern void __lsan_ignore_object(const void *p);
static uintptr_t linker_lo, linker_hi;

static int find_linker(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size, (void)ctx;
    if (!strstr(info->dlpi_name, "/ld-linux"))
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (!linker_lo || lo < linker_lo)
            linker_lo = lo;
        if (hi > linker_hi)
            linker_hi = hi;
    }
    return 1;
}
#endif

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

/* ---- allocator pauses ------------------------------------------------------------- */

static WEFT__TLS uint32_t countdown = 1; /* small calls until the next timed one */

/* True for the small call to time, 1 in sample_every, while recording. */
static inline bool sample_due(void)
{
    if (LIKELY(!__atomic_load_n(&weft__gen_self, __ATOMIC_RELAXED)))
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
        if (!calib0.mono_ns)
            return UINT64_MAX; /* no start sample to measure the rate from: skip */
        weft_clock_sample now = weft__clock_sample();
        uint64_t dns = now.mono_ns - calib0.mono_ns;
        if (dns == 0)
            return UINT64_MAX;
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

/* True if this call may be timed and recorded: a recording is on and the
 * thread is not inside the recorder. Under a sanitizer, also only on a thread
 * already registered: the sanitizer's own start-up of a thread allocates
 * (TSan: pthread_getattr_np in ThreadStart), and the recorder's instrumented
 * code must not run on a thread the sanitizer has not set up yet. */
static inline bool may_time(void)
{
#ifdef WEFT_ALLOC_SANITIZER
    weft_thread *t = weft__self;
    return weft__recording() && t && t->gen == __atomic_load_n(&weft__gen_self, __ATOMIC_RELAXED);
#else
    return weft__recording();
#endif
}

/* Writes the heap samples due at raw ticks t1 on the calling thread (heap.c
 * says why here). */
static __attribute__((noinline)) void heap_check(uint64_t t1)
{
    weft_heap_due d;
    if (!weft__heap_tick(t1, &d))
        return;
    int err = errno, was = weft__guard_enter();
    weft_thread *t = weft__thread();
    for (unsigned i = 0; t && i < d.n; i++) {
        uint8_t *p = ev_open_at(t, WEFT_EV_HEAP, WEFT_EVENT_MAX, d.raw[i] >> weft__tick_shift);
        if (p) {
            p = weft_put_uvarint(p, WEFT_HEAP_MALLOC);
            ev_close(t, weft_put_uvarint(p, d.bytes[i]));
        }
    }
    weft__guard_leave(was);
    errno = err;
}

/* Writes ALLOC_PAUSE for a call timed from raw ticks t0 to t1, if it was
 * slow enough, and the heap counter's sample if one is due. Registers the
 * thread if needed: under the guard, whatever the recorder allocates
 * meanwhile comes back here untimed. */
static void pause_check(unsigned op, size_t size, uint64_t t0, uint64_t t1, void *site)
{
    if (UNLIKELY(t1 >= atomic_load_explicit(&weft__heap_next, memory_order_relaxed)))
        heap_check(t1);
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
            ev_close(t, weft_put_addr(p, &t->codes.site, (uintptr_t)site));
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
#ifdef WEFT_ALLOC_ASAN
    dl_iterate_phdr(find_linker, NULL);
#endif
#ifdef WEFT_ALLOC_SANITIZER
    counting = true;
#endif
    weft__clock_init();
    calib0 = weft__clock_sample();
    weft__heap_init();
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
        if (!may_time()) {                                                                         \
            r_ = call;                                                                             \
            break;                                                                                 \
        }                                                                                          \
        uint64_t t0_ = weft__raw_ticks();                                                          \
        r_ = call;                                                                                 \
        pause_check(op, size, t0_, weft__raw_ticks(), site);                                      \
    } while (0)

/* Counts a block just handed out to the caller at `site`. */
static inline void count_new(void *p, void *site)
{
    if (!p || !COUNTING())
        return;
    weft__heap_add((int64_t)usable(p));
#ifdef WEFT_ALLOC_ASAN
    if ((uintptr_t)site - linker_lo < linker_hi - linker_lo)
        __lsan_ignore_object(p);
#else
    (void)site;
#endif
}

/* Subtracts a block about to be freed; returns its usable size (0 when the
 * block is not counted). */
static inline size_t count_free(void *p)
{
    if (!COUNTING())
        return 0;
    size_t size = usable(p);
    weft__heap_add(-(int64_t)size);
    return size;
}

static __attribute__((noinline)) void *malloc_timed(size_t n, void *site)
{
    void *r_;
    TIMED(WEFT_ALLOC_MALLOC, n, REAL(malloc)(n));
    count_new(r_, site);
    return r_;
}

WEFT__HOT WEFT_API void *malloc(size_t n)
{
    if (UNLIKELY(n > TCACHE_MAX || sample_due()))
        return malloc_timed(n, __builtin_return_address(0));
    void *p = REAL(malloc)(n);
    count_new(p, __builtin_return_address(0));
    return p;
}

static __attribute__((noinline)) void free_timed(void *p, size_t size, void *site)
{
    int r_;
    TIMED(WEFT_ALLOC_FREE, size, (REAL(free)(p), 0));
    (void)r_;
}

WEFT__HOT WEFT_API void free(void *p)
{
    if (!p)
        return;
    size_t size = count_free(p);
    if (UNLIKELY(size > TCACHE_MAX || sample_due()))
        free_timed(p, size, __builtin_return_address(0));
    else
        REAL(free)(p);
}

static __attribute__((noinline)) void *calloc_timed(size_t n, size_t size, size_t bytes, void *site)
{
    void *r_;
    TIMED(WEFT_ALLOC_CALLOC, bytes, REAL(calloc)(n, size));
    count_new(r_, site);
    return r_;
}

WEFT__HOT WEFT_API void *calloc(size_t n, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes))
        bytes = SIZE_MAX; /* the real calloc fails it with ENOMEM */
    if (UNLIKELY(bytes > TCACHE_MAX || sample_due()))
        return calloc_timed(n, size, bytes, __builtin_return_address(0));
    void *p = REAL(calloc)(n, size);
    count_new(p, __builtin_return_address(0));
    return p;
}

/* realloc may move and copy: always timed. realloc(p, 0) frees p (glibc and
 * the sanitizers return NULL then); a failed realloc leaves p as it was. */
static void *realloc_at(void *p, size_t n, void *site)
{
    size_t old = p && COUNTING() ? usable(p) : 0;
    void *r_;
    TIMED(WEFT_ALLOC_REALLOC, n, REAL(realloc)(p, n));
    if (r_ && COUNTING()) {
        weft__heap_add(-(int64_t)old);
        count_new(r_, site);
    } else if (!r_ && p && n == 0) {
        weft__heap_add(-(int64_t)old);
    }
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
    count_new(r_, site);
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
        count_new(*out, site);
    return r_;
}
