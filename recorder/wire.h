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

/* Version 2 delta-codes call sites (kind A, below); version 1 stored them as
 * plain U. The reader takes both (docs/format.md, "Versioning"). */
#define WEFT_FORMAT_VERSION 2

/* The header travels in an LZ4 skippable frame so `lz4 -d` skips it and
 * decompresses the events. */
#define WEFT_SKIPPABLE_MAGIC 0x184D2A57u
/* What a reader of the file meets between frames: an LZ4 frame, or any of
 * the sixteen skippable-frame magics (ours above, or another tool's). */
#define WEFT_LZ4_FRAME_MAGIC 0x184D2204u
#define WEFT_LZ4_SKIPPABLE(magic) (((magic) & 0xFFFFFFF0u) == 0x184D2A50u)
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
    X(5, END, "end")         /* see weft_end layout in docs/format.md      */   \
    X(6, MODULE, "module")   /* uv start, uv end, uv file offset, uv len, path */

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
 *    three.
 * A: a code address (a call site), delta-coded like T (weft_put_addr /
 *    weft_addr_of): a thread calls from a few sites in one library, so the
 *    difference from the chunk's previous site takes 1-3 bytes where the
 *    address takes 6-7. Version 1 files stored these as U. */
enum weft_arg_kind { WEFT_ARG_N = 0, WEFT_ARG_U, WEFT_ARG_I, WEFT_ARG_S, WEFT_ARG_B, WEFT_ARG_T, WEFT_ARG_A };

/* Event flags. */
#define WEFT_EVF_UNTIMED 1u /* no time delta follows the code byte */

/* X(code, NAME, "name", flags, nargs, kind0, "arg0", ... kind4, "arg4")
 * Every timed event is followed by a uvarint delta, in quantized ticks, from
 * the previous event of the same chunk; TIME_BASE opens every chunk with the
 * absolute value.
 *
 * Events 0x0C.. are the runtime events (docs/format.md, "Runtime events"):
 *   - "dur" arguments are quantized ticks; such an event is written when the
 *     wait or call ENDS, so it began at (time - dur);
 *   - "site" is the caller's return address, symbolized by the viewer with
 *     the MODULE records;
 *   - "op" is a code from WEFT_LOCK_OPS / WEFT_IO_OPS / WEFT_ALLOC_OPS /
 *     WEFT_UV_PHASES, "switch" from WEFT_SWITCHES, "source" from
 *     WEFT_HEAP_SOURCES;
 *   - "thread", "parent" and "holder" are thread indexes (0: unknown);
 *   - SCHED, SCHEDSTAT, SCHED_LOST and the malloc-tracking HEAP are written on
 *     the system stream (thread index 0, see WEFT_SYSTEM_THREAD) and are
 *     about the thread named by their "thread" argument.
 */
#define WEFT_EVENTS(X)                                                                                                   \
    X(0x01, TIME_BASE, "time_base", WEFT_EVF_UNTIMED, 1, U, "ticks", N, "", N, "", N, "", N, "")                      \
    X(0x02, TASK_BEGIN, "task_begin", 0, 3, T, "task", T, "parent", S, "type", N, "", N, "")                          \
    X(0x03, TASK_END, "task_end", 0, 1, T, "task", N, "", N, "", N, "", N, "")                                        \
    X(0x04, REGION_BEGIN, "region_begin", 0, 2, T, "task", S, "type", N, "", N, "", N, "")                            \
    X(0x05, REGION_END, "region_end", 0, 0, N, "", N, "", N, "", N, "", N, "")                                        \
    X(0x06, LOG, "log", 0, 3, T, "task", S, "category", B, "message", N, "", N, "")                                   \
    X(0x07, COUNTER, "counter", 0, 2, S, "name", I, "value", N, "", N, "", N, "")                                     \
    X(0x08, THREAD_NAME, "thread_name", 0, 1, B, "name", N, "", N, "", N, "", N, "")                                  \
    X(0x09, DROP, "drop", 0, 2, U, "count", U, "open_regions", N, "", N, "", N, "")                                   \
    X(0x0A, DIAG, "diag", 0, 3, U, "kind", S, "name", U, "arg", N, "", N, "")                                         \
    X(0x0B, THREAD_EXIT, "thread_exit", 0, 0, N, "", N, "", N, "", N, "", N, "")                                      \
    X(0x0C, THREAD_CREATE, "thread_create", 0, 1, U, "spawn", N, "", N, "", N, "", N, "")                             \
    X(0x0D, THREAD_START, "thread_start", 0, 2, U, "parent", U, "spawn", N, "", N, "", N, "")                         \
    X(0x0E, SCHED, "sched", 0, 3, U, "thread", U, "cpu", U, "switch", N, "", N, "")                                   \
    X(0x0F, SCHEDSTAT, "schedstat", 0, 4, U, "thread", U, "run_ns", U, "wait_ns", U, "slices", N, "")                 \
    X(0x10, SCHED_LOST, "sched_lost", 0, 2, U, "thread", U, "count", N, "", N, "", N, "")                             \
    X(0x11, LOCK_WAIT, "lock_wait", 0, 5, U, "op", U, "lock", A, "site", U, "dur", U, "holder")                       \
    X(0x12, LOCK_RELEASE, "lock_release", 0, 1, U, "lock", N, "", N, "", N, "", N, "")                                \
    X(0x13, IO, "io", 0, 5, U, "op", I, "fd", I, "result", U, "dur", A, "site")                                       \
    X(0x14, GC_BEGIN, "gc_begin", 0, 1, S, "kind", N, "", N, "", N, "", N, "")                                        \
    X(0x15, GC_END, "gc_end", 0, 0, N, "", N, "", N, "", N, "", N, "")                                                \
    X(0x16, HEAP, "heap", 0, 2, U, "source", U, "bytes", N, "", N, "", N, "")                                         \
    X(0x17, ALLOC_PAUSE, "alloc_pause", 0, 4, U, "op", U, "size", U, "dur", A, "site", N, "")                         \
    X(0x18, UV_LOOP, "uv_loop", 0, 3, U, "loop", U, "phase", U, "dur", N, "", N, "")

enum weft_event_code {
#define X(code, NAME, ...) WEFT_EV_##NAME = code,
    WEFT_EVENTS(X)
#undef X
    WEFT_EV_LIMIT /* one past the highest code this version defines */
};

#define WEFT_MAX_ARGS 5

typedef struct weft_event_spec {
    const char *name; /* NULL: code not defined */
    uint8_t flags;
    uint8_t nargs;
    uint8_t kind[WEFT_MAX_ARGS];
    const char *arg_name[WEFT_MAX_ARGS];
} weft_event_spec;

/* The table indexed by event code; entries for undefined codes are zero. */
static const weft_event_spec weft_event_specs[WEFT_EV_LIMIT] = {
#define X(code, NAME, str, fl, n, k0, a0, k1, a1, k2, a2, k3, a3, k4, a4)             \
    [code] = {str, fl, n, {WEFT_ARG_##k0, WEFT_ARG_##k1, WEFT_ARG_##k2, WEFT_ARG_##k3, WEFT_ARG_##k4}, \
              {a0, a1, a2, a3, a4}},
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
    X(16, SCHED_FALLBACK, "perf_event_open refused for a thread, whose scheduling is sampled from schedstat instead (name: the error; arg: thread index)") \
    X(17, SCHED_UNAVAILABLE, "no scheduling data for a thread: its schedstat file could not be read (name: the error; arg: thread index)") \
    X(7, GC_NESTED, "weft_gc_begin() while a pause was open; this begin was ignored") \
    X(8, GC_END_WITHOUT_BEGIN, "weft_gc_end() without an open pause; it was ignored") \
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

/* ---- runtime-event vocabularies ---------------------------------------- */
/* The thread index of the system stream: events the recorder's sampler
 * thread writes about other threads (context switches, schedstat samples,
 * the malloc-tracking heap counter). Recorded threads have indexes >= 1. */
#define WEFT_SYSTEM_THREAD 0u

/* Why a thread is not running, as the viewer's state track names it.
 * X(code, NAME, "name") */
#define WEFT_BLOCK_REASONS(X)                                                   \
    X(1, LOCK, "lock")                                                          \
    X(2, IO, "io")                                                              \
    X(3, SLEEP, "sleep")                                                        \
    X(4, COND, "condition")                                                     \
    X(5, GC, "gc")                                                              \
    X(6, OTHER, "blocked") /* switched out voluntarily in an unwrapped call */

enum weft_block_reason {
#define X(code, NAME, str) WEFT_BLOCK_##NAME = code,
    WEFT_BLOCK_REASONS(X)
#undef X
};

/* SCHED "switch". X(code, NAME, "name") */
#define WEFT_SWITCHES(X)                                                        \
    X(0, IN, "in")             /* the thread starts running on "cpu" */          \
    X(1, OUT, "out")           /* it stops voluntarily: it blocked or slept */   \
    X(2, PREEMPTED, "preempted") /* it stops while still runnable */

enum weft_switch {
#define X(code, NAME, str) WEFT_SWITCH_##NAME = code,
    WEFT_SWITCHES(X)
#undef X
};

/* Where scheduling data came from; header byte 10 (0 in files from before
 * runtime events: not recorded). X(code, NAME, "name") */
#define WEFT_SCHED_SOURCES(X)                                                   \
    X(1, NONE, "none")          /* switched off (WEFT_SCHED=off) */             \
    X(2, PERF, "perf_event_open context switches")                             \
    X(3, SCHEDSTAT, "/proc/self/task/TID/schedstat sampling")

enum weft_sched_source {
#define X(code, NAME, str) WEFT_SCHED_SRC_##NAME = code,
    WEFT_SCHED_SOURCES(X)
#undef X
};

/* LOCK_WAIT "op": X(code, NAME, "name", reason) */
#define WEFT_LOCK_OPS(X)                                                        \
    X(1, MUTEX, "pthread_mutex_lock", LOCK)                                     \
    X(2, RWLOCK_RD, "pthread_rwlock_rdlock", LOCK)                              \
    X(3, RWLOCK_WR, "pthread_rwlock_wrlock", LOCK)                              \
    X(4, COND, "pthread_cond_wait", COND)                                       \
    X(5, COND_TIMED, "pthread_cond_timedwait", COND)                            \
    X(6, SEM, "sem_wait", LOCK)                                                 \
    X(7, UV_MUTEX, "uv_mutex_lock", LOCK)                                       \
    X(8, UV_RWLOCK_RD, "uv_rwlock_rdlock", LOCK)                                \
    X(9, UV_RWLOCK_WR, "uv_rwlock_wrlock", LOCK)                                \
    X(10, UV_COND, "uv_cond_wait", COND)                                        \
    X(11, UV_COND_TIMED, "uv_cond_timedwait", COND)                             \
    X(12, MUTEX_TIMED, "pthread_mutex_timedlock", LOCK)                         \
    X(13, SEM_TIMED, "sem_timedwait", LOCK)

enum weft_lock_op {
#define X(code, NAME, str, reason) WEFT_LOCK_##NAME = code,
    WEFT_LOCK_OPS(X)
#undef X
};

/* IO "op": X(code, NAME, "name", reason) */
#define WEFT_IO_OPS(X)                                                          \
    X(1, READ, "read", IO)                                                      \
    X(2, WRITE, "write", IO)                                                    \
    X(3, PREAD, "pread", IO)                                                    \
    X(4, PWRITE, "pwrite", IO)                                                  \
    X(5, RECV, "recv", IO)                                                      \
    X(6, SEND, "send", IO)                                                      \
    X(7, RECVFROM, "recvfrom", IO)                                              \
    X(8, SENDTO, "sendto", IO)                                                  \
    X(9, ACCEPT, "accept", IO)                                                  \
    X(10, CONNECT, "connect", IO)                                               \
    X(11, POLL, "poll", IO)                                                     \
    X(12, EPOLL_WAIT, "epoll_wait", IO)                                         \
    X(13, SELECT, "select", IO)                                                 \
    X(14, NANOSLEEP, "nanosleep", SLEEP)                                        \
    X(15, USLEEP, "usleep", SLEEP)                                              \
    X(16, FSYNC, "fsync", IO)                                                   \
    X(17, ACCEPT4, "accept4", IO)                                               \
    X(18, READV, "readv", IO)                                                   \
    X(19, WRITEV, "writev", IO)                                                 \
    X(20, CLOCK_NANOSLEEP, "clock_nanosleep", SLEEP)                            \
    X(21, SLEEP, "sleep", SLEEP)                                                \
    X(22, FDATASYNC, "fdatasync", IO)

enum weft_io_op {
#define X(code, NAME, str, reason) WEFT_IO_##NAME = code,
    WEFT_IO_OPS(X)
#undef X
};

/* ALLOC_PAUSE "op": X(code, NAME, "name") */
#define WEFT_ALLOC_OPS(X)                                                       \
    X(1, MALLOC, "malloc")                                                      \
    X(2, CALLOC, "calloc")                                                      \
    X(3, REALLOC, "realloc")                                                    \
    X(4, FREE, "free")                                                          \
    X(5, POSIX_MEMALIGN, "posix_memalign")                                      \
    X(6, ALIGNED_ALLOC, "aligned_alloc")                                        \
    X(7, MEMALIGN, "memalign")

enum weft_alloc_op {
#define X(code, NAME, str) WEFT_ALLOC_##NAME = code,
    WEFT_ALLOC_OPS(X)
#undef X
};

/* HEAP "source": X(code, NAME, "name") */
#define WEFT_HEAP_SOURCES(X)                                                    \
    X(1, PROGRAM, "weft_heap")   /* the program's own figure, weft_heap() */    \
    X(2, MALLOC, "malloc")       /* bytes in use via the malloc family, tracked by the preload library */

enum weft_heap_source {
#define X(code, NAME, str) WEFT_HEAP_##NAME = code,
    WEFT_HEAP_SOURCES(X)
#undef X
};

/* UV_LOOP "phase": one event per phase per loop iteration, written when the
 * phase ends. X(code, NAME, "name") */
#define WEFT_UV_PHASES(X)                                                       \
    X(1, RUN, "timers/idle/prepare")  /* from the last check to this prepare */ \
    X(2, POLL_WAIT, "poll wait")      /* blocked in the kernel waiting for I/O */ \
    X(3, POLL_IO, "io callbacks")     /* the rest of the poll phase */

enum weft_uv_phase {
#define X(code, NAME, str) WEFT_UV_##NAME = code,
    WEFT_UV_PHASES(X)
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

/* Call sites (kind A): stored as zigzag(addr - last), where `last` is the
 * previous site written in the same chunk (0 at the chunk's TIME_BASE), and
 * becomes `last`. */
static inline uint8_t *weft_put_addr(uint8_t *p, uint64_t *last, uint64_t addr)
{
    uint64_t v = weft_zigzag((int64_t)(addr - *last));
    *last = addr;
    return weft_put_uvarint(p, v);
}

static inline uint64_t weft_addr_of(uint64_t *last, uint64_t v)
{
    *last += (uint64_t)weft_unzigzag(v);
    return *last;
}

/* What kinds T and A are coded against within a chunk; TIME_BASE resets
 * both. */
typedef struct weft_chunk_codes {
    uint64_t task; /* previous non-zero task id */
    uint64_t site; /* previous call site */
} weft_chunk_codes;

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
    uint8_t sched_source;   /* enum weft_sched_source; 0: not recorded */
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
    p[10] = h->sched_source;
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
