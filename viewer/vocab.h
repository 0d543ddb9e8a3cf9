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
/* ISO-8601 UTC time of a CLOCK_REALTIME value: "2024-05-01T12:00:00.123456789Z". */
void wv_format_utc(uint64_t real_ns, char out[40]);

#endif /* WV_VOCAB_H */
