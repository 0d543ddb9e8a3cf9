/*
 * wire.h - the .weft wire format: one description used by both the recorder
 * (which encodes) and the viewer (which decodes), so the two cannot drift.
 *
 * docs/format.md specifies the same bytes in prose. The tables below are
 * append-only, like Go's internal/trace specs: a format version reads every
 * event code up to the last one it defines, and a code is never reused.
 *
 * Layers, outermost first:
 *   file    = header (an LZ4 *skippable* frame) + standard LZ4 frames
 *   stream  = the concatenated decompressed frames = a sequence of records
 *   record  = kind byte, uvarint body length, body         (WEFT_RECORDS)
 *   batch   = a record holding a run of one thread's events
 *   event   = code byte, [uvarint time delta], arguments   (WEFT_EVENTS)
 */
#ifndef WEFT_WIRE_H
#define WEFT_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define WEFT_FORMAT_VERSION 1

/* The header travels in an LZ4 skippable frame so `lz4 -d` skips it and
 * decompresses the events. */
#define WEFT_SKIPPABLE_MAGIC 0x184D2A57u
#define WEFT_HEADER_MAGIC "WEFT"
#define WEFT_HEADER_FIXED 64 /* bytes before the variable-length strings */

/* Chunk: the unit a thread fills and hands to the writer. A batch never
 * crosses a chunk, so batch bodies are at most this large. */
#define WEFT_CHUNK_BYTES (64u * 1024u)

/* ---- clock sources ---------------------------------------------------- */
#define WEFT_CLOCKS(X)                                                          \
    X(1, TSC, "tsc")                                                            \
    X(2, MONOTONIC, "monotonic")

enum weft_clock_source {
#define X(code, NAME, str) WEFT_CLOCK_##NAME = code,
    WEFT_CLOCKS(X)
#undef X
};

/* ---- records ------------------------------------------------------------ */
/* X(code, NAME, "name") */
#define WEFT_RECORDS(X)                                                         \
    X(1, STRINGS, "strings") /* {uv id, uv len, bytes}...                  */   \
    X(2, THREAD, "thread")   /* uv index, uv tid, uv len, name bytes       */   \
    X(3, BATCH, "batch")     /* uv index, uv seq, uv offset, uv n, events  */   \
    X(4, CLOCK, "clock")     /* uv ticks, uv mono_ns, uv real_ns           */   \
    X(5, END, "end")         /* see weft_end layout in docs/format.md      */

enum weft_record_kind {
#define X(code, NAME, str) WEFT_REC_##NAME = code,
    WEFT_RECORDS(X)
#undef X
};

/* ---- events ------------------------------------------------------------- */
/* Argument kinds. U: unsigned LEB128. I: zigzag LEB128. S: string id (U).
 * B: uvarint length + bytes; only ever the last argument. N: no argument.
 * T: a task id, delta-coded (weft_put_task/weft_get_task): nested regions of
 *    one task, and consecutive tasks, then cost one byte instead of two or
 *    three. */
enum weft_arg_kind { WEFT_ARG_N = 0, WEFT_ARG_U, WEFT_ARG_I, WEFT_ARG_S, WEFT_ARG_B, WEFT_ARG_T };

/* Event flags. */
#define WEFT_EVF_UNTIMED 1u /* no time delta follows the code byte */

/* X(code, NAME, "name", flags, nargs, kind0, "arg0", kind1, "arg1", kind2, "arg2")
 * Every timed event is followed by a uvarint delta, in quantized ticks, from
 * the previous event of the same chunk; TIME_BASE opens every chunk with the
 * absolute value. */
#define WEFT_EVENTS(X)                                                                  \
    X(0x01, TIME_BASE, "time_base", WEFT_EVF_UNTIMED, 1, U, "ticks", N, "", N, "")      \
    X(0x02, TASK_BEGIN, "task_begin", 0, 3, T, "task", T, "parent", S, "type")          \
    X(0x03, TASK_END, "task_end", 0, 1, T, "task", N, "", N, "")                        \
    X(0x04, REGION_BEGIN, "region_begin", 0, 2, T, "task", S, "type", N, "")            \
    X(0x05, REGION_END, "region_end", 0, 0, N, "", N, "", N, "")                        \
    X(0x06, LOG, "log", 0, 3, T, "task", S, "category", B, "message")                   \
    X(0x07, COUNTER, "counter", 0, 2, S, "name", I, "value", N, "")                     \
    X(0x08, THREAD_NAME, "thread_name", 0, 1, B, "name", N, "", N, "")                  \
    X(0x09, DROP, "drop", 0, 2, U, "count", U, "open_regions", N, "")                   \
    X(0x0A, DIAG, "diag", 0, 3, U, "kind", S, "name", U, "arg")                         \
    X(0x0B, THREAD_EXIT, "thread_exit", 0, 0, N, "", N, "", N, "")

enum weft_event_code {
#define X(code, NAME, ...) WEFT_EV_##NAME = code,
    WEFT_EVENTS(X)
#undef X
    WEFT_EV_LIMIT /* one past the highest code this version defines */
};

#define WEFT_MAX_ARGS 3

typedef struct weft_event_spec {
    const char *name; /* NULL: code not defined */
    uint8_t flags;
    uint8_t nargs;
    uint8_t kind[WEFT_MAX_ARGS];
    const char *arg_name[WEFT_MAX_ARGS];
} weft_event_spec;

/* The table indexed by event code; entries for undefined codes are zero. */
static const weft_event_spec weft_event_specs[WEFT_EV_LIMIT] = {
#define X(code, NAME, str, fl, n, k0, a0, k1, a1, k2, a2)                            \
    [code] = {str, fl, n, {WEFT_ARG_##k0, WEFT_ARG_##k1, WEFT_ARG_##k2}, {a0, a1, a2}},
    WEFT_EVENTS(X)
#undef X
};

/* ---- diagnostics -------------------------------------------------------- */
/* Misuse the recorder saw (codes < 64, carried by DIAG events) or the reader
 * inferred (codes >= 64). X(code, NAME, "text"); the DIAG event's `name` is
 * the region/task type or category concerned, `arg` is given per kind. */
#define WEFT_DIAGS(X)                                                                  \
    X(1, REGION_OUT_OF_ORDER, "region ended while a region inside it was open; the inner one was ended with it") \
    X(2, REGION_OTHER_THREAD, "region ended on a thread other than the one that began it (arg: beginning thread index)") \
    X(3, REGION_ENDED_TWICE, "region ended twice, or after it was ended with an outer region") \
    X(4, REGION_TOO_DEEP, "more than 255 regions open on one thread; the region was not recorded") \
    X(5, STRING_TABLE_FULL, "string table full; the name is shown as <string table full>") \
    X(6, LOG_TRUNCATED, "log message longer than WEFT_LOG_MAX was cut (arg: original length)") \
    X(64, TASK_ENDED_TWICE, "task ended more than once; later ends are ignored")        \
    X(65, TASK_END_UNKNOWN, "task ended that did not begin in this recording")          \
    X(66, REGION_NOT_ENDED, "region still open when its thread's events end")           \
    X(67, TASK_NOT_ENDED, "task still open when the recording ended")                   \
    X(68, BATCH_GAP, "a batch of this thread is missing; events up to its next chunk are skipped")

enum weft_diag_kind {
#define X(code, NAME, text) WEFT_DIAG_##NAME = code,
    WEFT_DIAGS(X)
#undef X
};

/* ---- end reasons -------------------------------------------------------- */
#define WEFT_END_REASONS(X)                                                     \
    X(1, STOP, "weft_stop() called")                                            \
    X(2, WINDOW, "recording window ended")                                      \
    X(3, EXIT, "process exited")                                                \
    X(4, WRITE_ERROR, "writing the file failed")

enum weft_end_reason {
#define X(code, NAME, text) WEFT_END_##NAME = code,
    WEFT_END_REASONS(X)
#undef X
};

/* ---- little-endian and LEB128 helpers ----------------------------------- */

static inline void weft_put_le16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void weft_put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void weft_put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t weft_get_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t weft_get_le32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = v << 8 | p[i];
    return v;
}
static inline uint64_t weft_get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* The most bytes one uvarint takes. */
#define WEFT_UVARINT_MAX 10

/* Writes v as LEB128 at p (room for WEFT_UVARINT_MAX bytes); returns the end. */
static inline uint8_t *weft_put_uvarint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static inline uint64_t weft_zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t weft_unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

/* Task ids (kind T): 0 stays 0; any other id is stored as
 * zigzag(task - last) + 1, where `last` is the previous non-zero task id
 * written in the same chunk (0 at the chunk's TIME_BASE), and becomes `last`. */
static inline uint8_t *weft_put_task(uint8_t *p, uint64_t *last, uint64_t task)
{
    if (!task) {
        *p = 0;
        return p + 1;
    }
    uint64_t v = weft_zigzag((int64_t)(task - *last)) + 1;
    *last = task;
    return weft_put_uvarint(p, v);
}

static inline uint64_t weft_task_of(uint64_t *last, uint64_t v)
{
    if (!v)
        return 0;
    *last += (uint64_t)weft_unzigzag(v - 1);
    return *last;
}

/* Reads a LEB128 value from [*p, end). Returns 0 and advances *p on success;
 * -1 if the input ends inside the value or the value overflows 64 bits. */
static inline int weft_get_uvarint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    const uint8_t *q = *p;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (q >= end)
            return -1;
        uint8_t b = *q++;
        if (shift == 63 && b > 1)
            return -1;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *p = q;
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* ---- file header -------------------------------------------------------- */
/* The payload of the leading skippable frame; byte layout in docs/format.md. */
typedef struct weft_header {
    uint16_t version;       /* WEFT_FORMAT_VERSION of the writer */
    uint8_t clock;          /* enum weft_clock_source */
    uint8_t tick_shift;     /* event ticks are raw ticks >> tick_shift */
    uint32_t pid;
    uint64_t ticks0;        /* raw clock ticks at the start ... */
    uint64_t mono0_ns;      /* ... and CLOCK_MONOTONIC at the same moment */
    uint64_t real0_ns;      /* CLOCK_REALTIME (Unix epoch) at the start */
    uint64_t ticks_per_sec; /* first estimate; CLOCK records refine it */
    uint32_t chunk_bytes;   /* recorder chunk size */
    uint32_t chunks_per_thread;
    char program[256];      /* NUL-terminated, cut to 255 bytes */
    char weft_version[32];  /* library version string, NUL-terminated */
} weft_header;

/* Most bytes weft_header_encode() writes, skippable-frame prefix included. */
#define WEFT_HEADER_MAX (8 + WEFT_HEADER_FIXED + 255 + 31)

/* Encodes h as a complete skippable frame into out (WEFT_HEADER_MAX bytes);
 * returns the number of bytes written. */
static inline size_t weft_header_encode(const weft_header *h, uint8_t *out)
{
    size_t plen = strnlen(h->program, 255), vlen = strnlen(h->weft_version, 31);
    uint8_t *p = out + 8;
    memset(p, 0, WEFT_HEADER_FIXED);
    memcpy(p, WEFT_HEADER_MAGIC, 4);
    weft_put_le16(p + 4, h->version);
    weft_put_le16(p + 6, WEFT_HEADER_FIXED);
    p[8] = h->clock;
    p[9] = h->tick_shift;
    weft_put_le32(p + 12, h->pid);
    weft_put_le64(p + 16, h->ticks0);
    weft_put_le64(p + 24, h->mono0_ns);
    weft_put_le64(p + 32, h->real0_ns);
    weft_put_le64(p + 40, h->ticks_per_sec);
    weft_put_le32(p + 48, h->chunk_bytes);
    weft_put_le32(p + 52, h->chunks_per_thread);
    weft_put_le16(p + 60, (uint16_t)plen);
    weft_put_le16(p + 62, (uint16_t)vlen);
    memcpy(p + WEFT_HEADER_FIXED, h->program, plen);
    memcpy(p + WEFT_HEADER_FIXED + plen, h->weft_version, vlen);
    size_t payload = WEFT_HEADER_FIXED + plen + vlen;
    weft_put_le32(out, WEFT_SKIPPABLE_MAGIC);
    weft_put_le32(out + 4, (uint32_t)payload);
    return 8 + payload;
}

#endif /* WEFT_WIRE_H */
