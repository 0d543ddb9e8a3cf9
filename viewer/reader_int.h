/*
 * reader_int.h - what the reader's files share: the reader's state, and the
 * calls from one layer to another (the layers are listed in reader.c). Not
 * part of reader.h's contract.
 */
#ifndef WV_READER_INT_H
#define WV_READER_INT_H

#include "reader.h"
#include "infile.h"
#include "timeconv.h"

#include <lz4frame.h>
#include <stdint.h>

#define IN_CAP (64u * 1024u)           /* read(2) window */
#define STAGE_SLACK (64u * 1024u)      /* room for one decompression step */
#define MERGE_CAP (32u << 20)          /* pending batch bytes before early release */
#define MERGE_LAG_NS 300000000ull      /* three periodic flushes */
#define WM_CAP 4096u                   /* clock samples younger than the lag */
#define HEADER_MAX 4096u               /* a larger header payload is not plausible */
#define END_MAX (64u + 3u * WEFT_UVARINT_MAX * WV_MAX_THREADS)

/* A queued batch body (the events only), or a gap marker. */
typedef struct wv_batch {
    struct wv_batch *next;
    uint32_t len, pos;
    uint8_t gap; /* marker: a batch of this thread is missing */
    uint8_t data[];
} wv_batch;

typedef struct wv_tstate {
    wv_thread pub;
    char *name;          /* WV_MAX_NAME + 1 bytes, allocated on first name */
    uint64_t next_seq;   /* the batch seq expected next */
    uint8_t skipping;    /* no time base: skip batches until offset 0 */
    uint8_t marked;      /* the current skip already produced a gap marker */
    uint8_t delivered;   /* pub.last_ns is meaningful */
    wv_batch *head, *tail;
    uint64_t ticks;      /* time of the last event decoded */
    weft_chunk_codes codes; /* what the next T and A arguments are coded against */
    wv_event peek;       /* the next event, valid while in the merge tree */
    uint8_t in_tree;     /* peek is in the merge tree */
} wv_tstate;

/* A key of the merge: the time of a thread's next event, then the thread
 * index to break ties, with MERGE_IDLE set for a thread with none. */
typedef unsigned __int128 merge_key;
#define MERGE_IDLE (1ull << 32)

enum walk_state { WALK_FRAME, WALK_BLOCK };

struct wv_reader {
    char *name;
    int own_fd; /* close in.fd at the end */
    enum wv_status status;
    int has_off;
    uint64_t prob_off;
    char problem[320];
    char msg[512];
    weft_header hdr;

    /* input */
    wv_infile in;
    uint64_t file_size;

    /* frames */
    enum walk_state walk;
    LZ4F_dctx *dctx;
    uint32_t block_max;
    int block_sum, content_sum;
    uint64_t unit_off; /* offset of the frame part being decoded */
    uint64_t good_bytes;

    /* records */
    uint8_t *stage;
    size_t stage_len, stage_cap, stage_want;
    int input_done;

    /* tables */
    char **str;
    uint32_t *str_len;
    uint32_t str_cap;
    size_t str_bytes;
    char scratch[40];
    wv_tstate **th;
    uint32_t nth, th_cap;
    wv_module *mod;
    uint32_t nmod, mod_cap;
    wv_end end;

    /* time */
    wv_timeconv clock;
    struct { uint64_t q, mono; } *wm; /* ring of samples not yet MERGE_LAG_NS old */
    uint32_t wm_head, wm_n;
    uint64_t limit;                   /* events up to these ticks may go */
    int limit_valid;

    /* merge */
    merge_key *tree;                  /* 2 * tsize nodes; node 1 is the root */
    uint32_t tsize, pending;          /* leaves; threads with a pending event */
    size_t buffered;
    int draining;
    wv_batch *retired;
    uint64_t delivered;
};

/* reader.c: problems and tables */

/* Records the first problem; it ends reading (the merge still drains). */
void wv__rd_problem(wv_reader *r, enum wv_status st, int has_off, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
#define corrupt(r, off, ...) wv__rd_problem((r), WV_FAILED, 1, (off), __VA_ARGS__)
int wv__rd_set_string(wv_reader *r, uint64_t id, const uint8_t *p, size_t len);
wv_tstate *wv__rd_thread_get(wv_reader *r, uint64_t index);
void wv__rd_thread_set_name(wv_tstate *t, const uint8_t *p, size_t len);

/* reader_frames.c: input and frames */

static inline uint64_t in_off(const wv_reader *r) { return wv_infile_off(&r->in); }
static inline size_t in_avail(const wv_reader *r) { return wv_infile_avail(&r->in); }
static inline const uint8_t *in_ptr(const wv_reader *r) { return wv_infile_ptr(&r->in); }
static inline size_t wv__rd_in_need(wv_reader *r, size_t n) { return wv_infile_need(&r->in, n); }
static inline int wv__rd_in_skip(wv_reader *r, uint64_t n) { return wv_infile_skip(&r->in, n); }
/* One step of reading: one frame header, block or skippable frame. */
void wv__rd_pump(wv_reader *r);

/* reader_records.c */

void wv__rd_parse_records(wv_reader *r);
int wv__rd_stage_room(wv_reader *r);

/* reader_merge.c: events and the merge */

int wv__rd_validate_batch(wv_reader *r, uint64_t index, const uint8_t *p, const uint8_t *end,
                          uint64_t offset, uint64_t count);
int wv__rd_enqueue(wv_reader *r, uint32_t ti, const uint8_t *p, size_t len, int gap);
void wv__rd_deliver(wv_reader *r, wv_event *ev);
int wv__rd_releasable(wv_reader *r);

#endif /* WV_READER_INT_H */
