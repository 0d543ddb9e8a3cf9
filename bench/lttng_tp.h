/*
 * lttng_tp.h - the LTTng-UST tracepoint provider of the baseline: one event,
 * weftbench:event, carrying one integer field, the closest LTTng equivalent
 * of a weft region begin or end (an event with a small argument). Read twice
 * by the LTTng-UST 2.13 headers, hence the unusual guard.
 */
#undef LTTNG_UST_TRACEPOINT_PROVIDER
#define LTTNG_UST_TRACEPOINT_PROVIDER weftbench

#undef LTTNG_UST_TRACEPOINT_INCLUDE
#define LTTNG_UST_TRACEPOINT_INCLUDE "./lttng_tp.h"

#if !defined(WEFT_BENCH_LTTNG_TP_H) || defined(LTTNG_UST_TRACEPOINT_HEADER_MULTI_READ)
#define WEFT_BENCH_LTTNG_TP_H

#include <lttng/tracepoint.h>

LTTNG_UST_TRACEPOINT_EVENT(weftbench, event,
    LTTNG_UST_TP_ARGS(int, value),
    LTTNG_UST_TP_FIELDS(lttng_ust_field_integer(int, value, value)))

#endif /* WEFT_BENCH_LTTNG_TP_H */

#include <lttng/tracepoint-event.h>
