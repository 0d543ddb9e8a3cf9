/*
 * timeconv.h - converts event ticks to nanoseconds since the start of the
 * recording (docs/format.md §5): piecewise-linear interpolation between clock
 * samples, the header's (ticks0, mono0) being the first and every CLOCK
 * record adding one; past the last sample the last slope is extended.
 *
 * Samples that would make the function decrease (ticks not increasing, or ns
 * going back) are ignored, so the conversion is monotone for any input. At
 * most WV_MAX_CLOCKS samples are kept; when full the older half is dropped
 * (ticks before the oldest kept sample extrapolate its first slope).
 */
#ifndef WV_TIMECONV_H
#define WV_TIMECONV_H

#include <stdint.h>

#include "wire.h"

#define WV_MAX_CLOCKS 8192u /* about 13 minutes of samples at 10 per second */

typedef struct wv_clock_sample {
    uint64_t raw, mono; /* raw ticks, CLOCK_MONOTONIC ns */
} wv_clock_sample;

typedef struct wv_timeconv {
    wv_clock_sample *s;
    uint32_t n, hint;
    uint8_t shift;           /* quantized ticks = raw >> shift */
    uint8_t tsc;             /* 1: ticks are TSC cycles, 0: already ns */
    uint64_t ticks_per_sec;  /* slope while there is a single sample */
    uint64_t mono0;
} wv_timeconv;

/* Starts from the header's sample. @return 0 or -ENOMEM. */
int wv_timeconv_init(wv_timeconv *c, const weft_header *h);
/* Adds a CLOCK sample (raw ticks, monotonic ns). */
void wv_timeconv_add(wv_timeconv *c, uint64_t raw, uint64_t mono);
/* ns since mono0 of absolute quantized ticks; clamped to +-2^62. */
int64_t wv_timeconv_ns(wv_timeconv *c, uint64_t ticks);
void wv_timeconv_free(wv_timeconv *c);

#endif /* WV_TIMECONV_H */
