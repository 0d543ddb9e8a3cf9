/*
 * reader.h - a streaming reader of .weft files.
 *
 * It validates the header, decompresses the LZ4 frames in bounded pieces,
 * parses the records and decodes every batch with the event table of
 * recorder/wire.h, then hands out the events one at a time in time order
 * (batches of different threads interleave in the file; the reader merges
 * them). Memory depends on the number of strings and threads and on the data
 * of the last ~300 ms of the recording (capped at 32 MiB), never on the length
 * of the trace.
 *
 * Usage:
 *     wv_reader *r = wv_reader_open("x.weft");
 *     if (!r) -> out of memory
 *     if (wv_reader_status(r) == WV_FAILED) -> print wv_reader_message(r)
 *     wv_event ev;
 *     while (wv_reader_next(r, &ev)) ...;
 *     if (wv_reader_status(r) != WV_OK) -> print wv_reader_message(r)
 *     wv_reader_close(r);
 *
 * Every problem is described by ONE line, "weft: FILE: offset N: PROBLEM"
 * (the offset is left out only when there is no place in the file to name,
 * as when the file cannot be opened). Everything decoded before a damaged
 * or missing part is still delivered. A reader is used by one thread.
 */
#ifndef WV_READER_H
#define WV_READER_H

#include <stddef.h>
#include <stdint.h>

#include "vocab.h"
#include "wire.h"

/* Limits that keep memory bounded on any input; exceeding one is reported
 * as a problem of the file. */
#define WV_MAX_STRINGS (1u << 18)        /* string ids (the recorder keeps 64 Ki) */
#define WV_MAX_STRING_BYTES (32u << 20)  /* total text of the string table */
#define WV_MAX_THREADS (1u << 16)        /* thread indexes */
#define WV_MAX_NAME 255                  /* bytes of a thread name kept */
#define WV_MAX_MODULES (1u << 13)        /* MODULE records (executable mappings) */
#define WV_MAX_MODULE_PATH 4096          /* bytes of a module path */
#define WV_RECORD_MAX (WEFT_CHUNK_BYTES + 4096) /* record body, END excepted */

enum wv_status {
    WV_OK = 0,        /* no problem (so far) */
    WV_TRUNCATED = 1, /* the file ends early; a warning, the prefix is good */
    WV_FAILED = 2,    /* unreadable or corrupt; events before the damage are good */
};

/* One event. Arguments are decoded generically from weft_event_specs[code]:
 * arg[i] is the value of argument i (U and S as is, I as int64 cast to
 * uint64, T the task id with its delta coding undone, B the length, with the
 * bytes in data/data_len). */
typedef struct wv_event {
    uint8_t code;        /* enum weft_event_code */
    uint8_t synthetic;   /* 1: inferred by the reader (a DIAG of kind BATCH_GAP) */
    uint32_t thread;     /* thread index; see wv_reader_thread() */
    uint64_t ticks;      /* absolute quantized ticks */
    int64_t ns;          /* ns since the start of the recording, monotone per thread */
    uint64_t arg[WEFT_MAX_ARGS];
    const uint8_t *data; /* the B argument; valid until the next wv_reader_next() */
    size_t data_len;
} wv_event;

/* A thread of the recording, indexed by its recorder index. */
typedef struct wv_thread {
    uint64_t tid;          /* OS thread id; 0 if no THREAD record was seen */
    const char *name;      /* current name, NUL-terminated ("" if none) */
    int registered;        /* a THREAD record was seen */
    uint64_t events;       /* events delivered for this thread so far */
    int64_t last_ns;       /* time of its last delivered event */
    int in_end;            /* the END record lists this thread: */
    uint64_t end_events;   /*   events the recorder wrote for it */
    uint64_t end_dropped;  /*   events it dropped */
} wv_thread;

/* An executable mapping of the recorded process (a MODULE record): the file
 * `path` was mapped at [start, end) from file offset `offset`, so an address
 * a in that range is at file offset a - start + offset. */
typedef struct wv_module {
    uint64_t start, end, offset;
    const char *path; /* NUL-terminated; valid until the reader is closed */
} wv_module;

/* Totals from the END record. */
typedef struct wv_end {
    int present;           /* 0: the file has no END record (truncated) */
    uint64_t reason;       /* enum weft_end_reason */
    uint64_t events;       /* events written */
    uint64_t dropped;      /* events dropped */
    uint64_t memory_bytes; /* peak recorder memory */
} wv_end;

/* How far reading got. */
typedef struct wv_progress {
    uint64_t file_size;    /* 0 if unknown (not a regular file) */
    uint64_t good_bytes;   /* bytes up to the end of the last fully decoded block */
    uint64_t events;       /* events delivered (synthetic ones excluded) */
} wv_progress;

typedef struct wv_reader wv_reader;

/*! wv_reader_open() :
 *  Opens `path` and reads its header.
 *  @return a reader, NULL only when out of memory. If the file cannot be
 *          opened or is not a readable weft file, the reader's status is
 *          WV_FAILED, wv_reader_message() says why and wv_reader_next()
 *          delivers nothing. */
wv_reader *wv_reader_open(const char *path);

/*! wv_reader_open_fd() :
 *  As wv_reader_open() on an open descriptor, read from its current
 *  position; `name` is used in messages. The descriptor is not closed. */
wv_reader *wv_reader_open_fd(int fd, const char *name);

/*! wv_reader_next() :
 *  Fills *ev with the next event in time order.
 *  @return 1 if an event was delivered; 0 at the end of the events (the end
 *          of the file, the END record, or the first damage: check
 *          wv_reader_status()). */
int wv_reader_next(wv_reader *r, wv_event *ev);

enum wv_status wv_reader_status(const wv_reader *r);

/*! wv_reader_message() :
 *  @return the one-line description of the problem (no newline), "" when the
 *          status is WV_OK. For a truncated file it counts what was
 *          recovered so far. Valid until the next call on the reader. */
const char *wv_reader_message(wv_reader *r);

/* The header; valid unless the open failed. */
const weft_header *wv_reader_header(const wv_reader *r);

/*! wv_reader_string() :
 *  @return the text of string `id` ("" for id 0, "<string N>" for an id not
 *          defined yet), with its length in *len if len is not NULL. A
 *          defined string stays valid until the reader is closed; the
 *          "<string N>" text only until the next call. */
const char *wv_reader_string(wv_reader *r, uint64_t id, size_t *len);

/* Threads: indexes 0 .. wv_reader_thread_count()-1; entries may be unused
 * (tid 0, not registered, no events). Index 0 (WEFT_SYSTEM_THREAD) is the
 * recorder's sampler, whose events are about other threads. A THREAD record
 * for an index seen before renames that thread. The pointer is valid until
 * the next wv_reader_next(). */
uint32_t wv_reader_thread_count(const wv_reader *r);
const wv_thread *wv_reader_thread(const wv_reader *r, uint32_t index);

/*! wv_reader_module_count(), wv_reader_module() :
 *  The MODULE records read so far, in file order (those at the start of a
 *  recording come before its first events; libraries loaded later come
 *  just before the END record). wv_reader_module() returns NULL for
 *  i >= wv_reader_module_count(); the pointer stays valid until the reader
 *  is closed. */
uint32_t wv_reader_module_count(const wv_reader *r);
const wv_module *wv_reader_module(const wv_reader *r, uint32_t i);

const wv_end *wv_reader_end(const wv_reader *r);
wv_progress wv_reader_progress(const wv_reader *r);

/* Converts absolute quantized ticks to ns since the start of the recording,
 * with the clock samples read so far. */
int64_t wv_reader_ticks_to_ns(wv_reader *r, uint64_t ticks);

void wv_reader_close(wv_reader *r);

#endif /* WV_READER_H */
