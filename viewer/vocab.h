/*
 * vocab.h - names and texts of the codes in recorder/wire.h's tables (clock
 * sources, END reasons, diagnostics), for messages and output, plus the
 * ISO-8601 form of the header's start time.
 */
#ifndef WV_VOCAB_H
#define WV_VOCAB_H

#include <stdint.h>

/* Name of a clock source ("tsc", "monotonic"; "unknown" otherwise). */
const char *wv_clock_name(uint64_t clock);
/* What a header's sched_source means ("perf_event_open context switches";
 * "not recorded" for 0, files from before runtime events). */
const char *wv_sched_source_text(uint64_t source);
/* Name ("STOP") and text ("weft_stop() called") of an END reason;
 * "unknown" for codes this version does not define. */
const char *wv_end_reason_name(uint64_t reason);
const char *wv_end_reason_text(uint64_t reason);
/* Name ("REGION_NOT_ENDED") and text of a diagnostic kind; NULL if unknown. */
const char *wv_diag_name(uint64_t kind);
const char *wv_diag_text(uint64_t kind);
/* Names of the runtime-event codes (wire.h's op tables): "pthread_mutex_lock",
 * "read", "malloc", "poll wait", "malloc" (heap source); NULL for a code this
 * version does not define (a damaged or newer file): show it with
 * wv_code_label(). */
const char *wv_lock_op_name(uint64_t op);
const char *wv_io_op_name(uint64_t op);
const char *wv_alloc_op_name(uint64_t op);
const char *wv_uv_phase_name(uint64_t phase);
const char *wv_heap_source_name(uint64_t source);
/* The name of an enum weft_block_reason ("lock", "io", ...); "blocked" for
 * OTHER and for unknown codes. */
const char *wv_block_reason_name(uint64_t reason);
/* The enum weft_block_reason of a lock or I/O op: the table's fourth column
 * (LOCK for unknown lock ops, IO for unknown I/O ops). */
unsigned wv_lock_op_reason(uint64_t op);
unsigned wv_io_op_reason(uint64_t op);
/* 1 if an I/O op's result is a byte count (read, write, send, ...). */
int wv_io_op_moves_bytes(uint64_t op);
/* `name` if not NULL, else "op N" written into buf. */
const char *wv_code_label(const char *name, uint64_t code, char buf[32]);
/* ISO-8601 UTC time of a CLOCK_REALTIME value: "2024-05-01T12:00:00.123456789Z". */
void wv_format_utc(uint64_t real_ns, char out[40]);

#endif /* WV_VOCAB_H */
