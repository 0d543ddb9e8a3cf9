/*
 * timeconv.c - ticks to nanoseconds (see timeconv.h).
 *
 * The arithmetic runs in __int128 with every operand clamped to 2^62, so a
 * product of a tick delta and an ns delta cannot overflow whatever a damaged
 * file holds; valid traces never come near the clamps.
 */
#include "timeconv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int wv_timeconv_init(wv_timeconv *c, const weft_header *h)
{
    memset(c, 0, sizeof *c);
    if (!(c->s = malloc(WV_MAX_CLOCKS * sizeof *c->s)))
        return -ENOMEM;
    c->s[0] = (wv_clock_sample){h->ticks0, h->mono0_ns};
    c->n = 1;
    c->shift = h->tick_shift;
    c->tsc = h->clock == WEFT_CLOCK_TSC;
    c->ticks_per_sec = h->ticks_per_sec;
    c->mono0 = h->mono0_ns;
    return 0;
}

void wv_timeconv_free(wv_timeconv *c)
{
    free(c->s);
    c->s = NULL;
}

void wv_timeconv_add(wv_timeconv *c, uint64_t raw, uint64_t mono)
{
    const wv_clock_sample *last = &c->s[c->n - 1];
    if (raw <= last->raw || mono < last->mono)
        return;
    if (c->n == WV_MAX_CLOCKS) {
        memmove(c->s, c->s + WV_MAX_CLOCKS / 2, WV_MAX_CLOCKS / 2 * sizeof *c->s);
        c->n = WV_MAX_CLOCKS / 2;
        c->hint = 0;
    }
    c->s[c->n++] = (wv_clock_sample){raw, mono};
}

/* The segment [i, i+1] to interpolate raw in (n >= 2); events come nearly in
 * time order, so the last segment used is tried first. */
static uint32_t segment(wv_timeconv *c, unsigned __int128 raw)
{
    uint32_t h = c->hint;
    if (h + 1 < c->n && c->s[h].raw <= raw && raw < c->s[h + 1].raw)
        return h;
    uint32_t lo = 0, hi = c->n - 1; /* largest i with s[i].raw <= raw */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo + 1) / 2;
        if (c->s[mid].raw <= raw)
            lo = mid;
        else
            hi = mid - 1;
    }
    if (lo > c->n - 2)
        lo = c->n - 2;
    return c->hint = lo;
}

static __int128 clamp62(__int128 v)
{
    const __int128 m = (__int128)1 << 62;
    return v > m ? m : v < -m ? -m : v;
}

/* The product of a tick delta and an ns delta, in *out when it fits in 64
 * bits and no clamp applies: then a 64-bit division gives exactly what the
 * 128-bit one does, several times faster (once per event). */
static int in64(unsigned __int128 d, uint64_t dm, uint64_t *out)
{
    const uint64_t lim = (uint64_t)1 << 62;
    return d < lim && dm < lim && !__builtin_mul_overflow((uint64_t)d, dm, out);
}

int64_t wv_timeconv_ns(wv_timeconv *c, uint64_t ticks)
{
    unsigned __int128 raw = (unsigned __int128)ticks << c->shift;
    __int128 ns;
    if (c->n < 2) {
        __int128 d = clamp62((__int128)raw - (__int128)c->s[0].raw);
        if (c->tsc && c->ticks_per_sec)
            d = d * 1000000000 / (__int128)c->ticks_per_sec;
        ns = (__int128)c->s[0].mono + d;
    } else {
        const wv_clock_sample *a = &c->s[segment(c, raw)], *b = a + 1;
        uint64_t q;
        if (raw >= a->raw && !(raw >> 64) && in64(raw - a->raw, b->mono - a->mono, &q)) {
            ns = (__int128)a->mono + q / (b->raw - a->raw);
        } else {
            __int128 d = clamp62((__int128)raw - (__int128)a->raw);
            __int128 dm = clamp62((__int128)b->mono - (__int128)a->mono);
            ns = (__int128)a->mono + d * dm / (__int128)(b->raw - a->raw);
        }
    }
    return (int64_t)clamp62(ns - (__int128)c->mono0);
}
