/*
 * lttng_tp.c - instantiates the weftbench tracepoint provider (lttng_tp.h):
 * the probe code and the tracepoint definitions, linked into
 * weft-bench-lttng only.
 */
#define LTTNG_UST_TRACEPOINT_CREATE_PROBES
#define LTTNG_UST_TRACEPOINT_DEFINE
#include "lttng_tp.h"
