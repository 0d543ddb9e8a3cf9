/*
 * perf.h - one thread's kernel context switches through perf_event_open
 * (perf.c). Used by the sampler (sched.c) only.
 */
#ifndef WEFT_PERF_H
#define WEFT_PERF_H

#include "internal.h"

#include <stddef.h>
#include <stdint.h>

struct perf_event_mmap_page;

/* An open context-switch event and its mmap ring. fd < 0: not open. */
typedef struct weft_perf_ring {
    int fd;
    struct perf_event_mmap_page *page; /* control page, then the data pages */
    const uint8_t *data;
    uint64_t mask;      /* data bytes - 1 (a power of two) */
    size_t map_bytes;
} weft_perf_ring;

/* One record read from a ring. */
typedef struct weft_perf_rec {
    uint8_t lost;      /* 1: PERF_RECORD_LOST, `count` records were lost */
    uint8_t sw;        /* enum weft_switch (switch records) */
    uint32_t cpu;
    uint64_t mono_ns;  /* CLOCK_MONOTONIC of the switch (or of the loss) */
    uint64_t count;
} weft_perf_rec;

typedef void (*weft_perf_fn)(void *ctx, const weft_perf_rec *rec);

/* Opens the calling thread's context-switch event with a ring of
 * `data_pages` pages (a power of two). Returns 0, or a negative errno with
 * r->fd == -1 and nothing left open. */
WEFT__HIDDEN int weft__perf_open(weft_perf_ring *r, unsigned data_pages);
/* Calls fn for every complete record in the ring, oldest first, and frees
 * their space. Returns the number of records handed to fn; records that
 * could not be parsed are skipped and counted in *bad. */
WEFT__HIDDEN size_t weft__perf_drain(weft_perf_ring *r, weft_perf_fn fn, void *ctx, uint64_t *bad);
/* How full the ring is, 0..1: the bytes not yet drained over its size. */
WEFT__HIDDEN double weft__perf_fill(const weft_perf_ring *r);
/* Unmaps and closes; r->fd becomes -1. Safe on a ring that is not open. */
WEFT__HIDDEN void weft__perf_close(weft_perf_ring *r);

#endif /* WEFT_PERF_H */
