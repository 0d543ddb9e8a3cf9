/*
 * tracegen.h - a builder of .weft files from explicit records and events, for
 * tests that need exact inputs (and damaged ones) without running the
 * recorder. It encodes with recorder/wire.h: the header with
 * weft_header_encode(), events generically from weft_event_specs, and wraps
 * the record stream in LZ4 frames (linked 64 KiB blocks, block and content
 * checksums) as the recorder does.
 *
 * Runtime events are written like any other: tg_ev() takes the first three
 * arguments, tg_ev5() all five (LOCK_WAIT, IO, SCHEDSTAT, ALLOC_PAUSE). The
 * system stream is thread index 0 with opts.sched_source set.
 *
 * Records go into the current frame; tg_frame() closes it, so a test decides
 * where frames break. Times are absolute quantized ticks; the builder turns
 * them into deltas per thread.
 */
#ifndef WEFT_TRACEGEN_H
#define WEFT_TRACEGEN_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

typedef struct tg tg;

/* Header values; tg_new(NULL) uses tg_defaults(). */
typedef struct tg_opts {
    const char *program;
    const char *weft_version;
    uint32_t pid;
    uint16_t version;   /* format version written */
    uint8_t clock;
    uint8_t tick_shift;
    uint8_t sched_source; /* header byte 10 */
    uint64_t ticks0, mono0_ns, real0_ns, ticks_per_sec;
} tg_opts;

/* program "demo", version "0.1.0", pid 4242, format WEFT_FORMAT_VERSION,
 * clock monotonic, shift 0, ticks0 = mono0 = 1000000,
 * real0 = 1700000000 s (2023-11-14T22:13:20Z), 1e9 ticks/s. */
tg_opts tg_defaults(void);

tg *tg_new(const tg_opts *o);
void tg_free(tg *g);

/* Records. */
void tg_string(tg *g, uint64_t id, const char *text);
void tg_thread(tg *g, uint64_t index, uint64_t tid, const char *name);
void tg_clock(tg *g, uint64_t raw_ticks, uint64_t mono_ns, uint64_t real_ns);
void tg_end_thread(tg *g, uint64_t index, uint64_t events, uint64_t dropped);
/* END with the tg_end_thread() entries given so far. */
void tg_end(tg *g, uint64_t reason, uint64_t events, uint64_t dropped, uint64_t memory);
void tg_record(tg *g, unsigned kind, const void *body, size_t n);
/* MODULE: an executable mapping [start, end) of `path` at file offset `offset`. */
void tg_module(tg *g, uint64_t start, uint64_t end, uint64_t offset, const char *path);

/* Batches. tg_batch() continues the thread's chunk with the next seq;
 * tg_batch_chunk() starts a new chunk (offset 0: give TIME_BASE first);
 * tg_batch_at() sets everything. */
void tg_batch(tg *g, uint64_t index);
void tg_batch_chunk(tg *g, uint64_t index);
void tg_batch_at(tg *g, uint64_t index, uint64_t seq, uint64_t offset);
/* Ends the batch; its count is the number of events, or `count`. */
void tg_batch_end(tg *g);
void tg_batch_end_count(tg *g, uint64_t count);

/* One event at absolute quantized `ticks` in the open batch. Arguments in
 * table order: a0..a2 for U/S/I/T arguments (I as int64 cast; T task ids
 * plain, the builder delta-codes them like the recorder), bytes for the
 * B argument. TIME_BASE takes its ticks from `ticks`. */
void tg_ev(tg *g, uint64_t ticks, unsigned code, uint64_t a0, uint64_t a1, uint64_t a2);
void tg_ev5(tg *g, uint64_t ticks, unsigned code, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
            uint64_t a4);
void tg_ev_b(tg *g, uint64_t ticks, unsigned code, uint64_t a0, uint64_t a1, const void *bytes,
             size_t n);
/* The raw bytes of an event (for malformed input). */
void tg_ev_raw(tg *g, const void *bytes, size_t n);

/* Closes the current LZ4 frame (no-op if it holds no records). */
void tg_frame(tg *g);
/* The file so far (the open frame is closed first). */
const uint8_t *tg_bytes(tg *g, size_t *len);
/* Start offsets in the file of the header and each frame. */
size_t tg_header_len(tg *g);
size_t tg_frame_count(tg *g);
size_t tg_frame_offset(tg *g, size_t i);
/* Writes the file; returns 0 or -1. */
int tg_write(tg *g, const char *path);
/* Writes `len` bytes to path; returns 0 or -1. */
int tg_write_bytes(const char *path, const void *bytes, size_t len);

#endif
