/*
 * clock.c - where event timestamps come from.
 *
 * Events are stamped with the invariant TSC when the CPU has one: rdtsc costs
 * ~8-12 ns here against ~20-30 ns for a vDSO clock_gettime, and it has no
 * occasional 200 ns tails (field notes §1). The TSC rate is never assumed:
 * the writer takes (ticks, CLOCK_MONOTONIC, CLOCK_REALTIME) samples every
 * flush cycle and the reader interpolates between them (docs/format.md §5).
 * Without an invariant TSC, or with WEFT_CLOCK=monotonic, ticks are
 * CLOCK_MONOTONIC nanoseconds.
 *
 * Event times are stored as ticks >> weft__tick_shift: with the TSC at 2-4 GHz
 * a shift of 4 keeps a 4-8 ns resolution (Go keeps 64 ns) while making the
 * per-event time deltas about half a byte shorter.
 */
#include "internal.h"

#include <cpuid.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int weft__use_tsc = 0;
unsigned weft__tick_shift = 0;

static bool cpu_has_invariant_tsc(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(0x80000000u, &a, &b, &c, &d) || a < 0x80000007u)
        return false;
    __cpuid(0x80000007u, a, b, c, d);
    return (d >> 8) & 1; /* EDX bit 8: TscInvariant */
}

static void clock_detect(void)
{
    const char *want = getenv("WEFT_CLOCK");
    bool force_mono = want && strcmp(want, "monotonic") == 0;
    weft__use_tsc = !force_mono && cpu_has_invariant_tsc();
    weft__tick_shift = weft__use_tsc ? 4 : 0;
}

/* Once per process: a thread still finishing an event of the previous
 * recording reads these while the next weft_start() runs, so they must never
 * be written again (ThreadSanitizer caught exactly that). */
void weft__clock_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, clock_detect);
}

static uint64_t ns_of(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t weft__mono_ns(void) { return ns_of(CLOCK_MONOTONIC); }

/* Brackets the monotonic read between two tick reads and keeps the tightest of
 * a few tries, so a preemption in the middle does not skew the sample. */
weft_clock_sample weft__clock_sample(void)
{
    weft_clock_sample best = {0, 0, 0};
    uint64_t best_gap = UINT64_MAX;
    for (int i = 0; i < 5; i++) {
        uint64_t t0 = weft__raw_ticks();
        uint64_t mono = weft__mono_ns();
        uint64_t t1 = weft__raw_ticks();
        if (t1 - t0 < best_gap) {
            best_gap = t1 - t0;
            best.ticks = t0 + (t1 - t0) / 2;
            best.mono_ns = mono;
        }
    }
    best.real_ns = ns_of(CLOCK_REALTIME);
    return best;
}

uint64_t weft__ticks_per_sec_estimate(void)
{
    if (!weft__use_tsc)
        return 1000000000u;
    weft_clock_sample a = weft__clock_sample();
    struct timespec pause = {0, 1000000};
    nanosleep(&pause, NULL);
    weft_clock_sample b = weft__clock_sample();
    if (b.mono_ns <= a.mono_ns)
        return 0;
    return (uint64_t)((double)(b.ticks - a.ticks) * 1e9 / (double)(b.mono_ns - a.mono_ns));
}
