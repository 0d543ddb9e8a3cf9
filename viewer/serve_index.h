/*
 * serve_index.h - the in-memory index `weft serve` builds once per trace and
 * answers every API request from (docs/http-api.md).
 *
 * It is filled through the model's sink callbacks (model.h) while the reader
 * streams the file once, so `weft serve` makes exactly the inferences
 * `weft json` and `weft stats` make. Everything a query needs is kept as
 * flat arrays in time order:
 *
 *   rows      one per (thread, depth): that depth's slices. Regions of one
 *             depth of one thread cannot overlap and end in the order they
 *             begin, so each row comes out of the model already sorted.
 *   lod       per row, a 16-ary pyramid over the slice array giving the
 *             name covering most time in each group of 16^k slices, so a
 *             merged block of any size is named in O(log n).
 *   tasks     in begin order; logs in time order with per-thread index
 *             lists; counters as (t, v) arrays with a min/max pyramid; flows
 *             in the order the hops happen.
 *
 * Runtime events (thread states, CPUs, waits, pauses) have an index of
 * their own, built in the same pass (serve_rt.h).
 *
 * Memory is proportional to the events (about 18-30 bytes per event, see
 * wv_index_bytes()), never to the size of the trace's JSON. After
 * wv_index_load() returns, an index is read-only, except for the lazily
 * built per-type latency tables (guarded by the index's mutex), so any
 * number of request threads may share it.
 */
#ifndef WV_SERVE_INDEX_H
#define WV_SERVE_INDEX_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "reader.h"

_Static_assert(WV_MAX_THREADS <= 1u << 16, "thread indexes are kept in 16 bits");
_Static_assert(WV_RECORD_MAX < 1u << 24, "a log message's length is kept in 24 bits");

#define WV_LOD_FANOUT 16
#define WV_LOD_LEVELS 6 /* 16^6 = 16 M slices per top node */

/* A region as a slice of its row: 24 bytes, the index's commonest entry.
 * The task is a reference, its id is wv_slice_task(); runtime rows use the
 * field for what their slices point at (serve_rt.h). */
typedef struct wv_slice {
    int64_t s, d;         /* start, duration (ns) */
    uint32_t task;        /* 0: background; WV_TASK_EXTRA | k: task_extra[k]; else tasks[task - 1] */
    uint32_t name : 24;   /* string id of the region type (WV_NAME_NONE past 2^24) */
    uint32_t flags : 8;   /* WV_SPAN_* */
} wv_slice;

#define WV_TASK_EXTRA 0x80000000u /* a task id not in the table of tasks */
#define WV_NAME_NONE 0xffffffu    /* a name id too large to keep; reads as "" */

/* A pyramid node: the name covering most time among its slices (as far as
 * the dominant names of its children tell) and that time. */
typedef struct wv_lod_node {
    int64_t ns;
    uint32_t name;
} wv_lod_node;

typedef struct wv_row {
    uint32_t thread, depth;
    uint64_t base;    /* global index of slice 0 ("i" in the API) */
    wv_slice *sl;
    size_t n, cap;
    wv_lod_node *lod[WV_LOD_LEVELS]; /* lod[k]: groups of 16^(k+1) slices */
    size_t nlod[WV_LOD_LEVELS];
} wv_row;

typedef struct wv_itask {
    uint64_t id, parent;
    int64_t s, e;
    uint32_t type;            /* string id */
    uint32_t first_flow;      /* index+1 into flows of its first hop, 0: none */
    uint16_t begin_thread, end_thread; /* < WV_MAX_THREADS */
    uint8_t ended, unfinished;
} wv_itask;

typedef struct wv_task_slot {
    uint64_t id;
    uint32_t idx;             /* task index + 1; 0: empty */
} wv_task_slot;

typedef struct wv_taskmap {
    wv_task_slot *slot;
    size_t cap, n;
} wv_taskmap;

typedef struct wv_ilog {
    int64_t t;
    uint64_t task;
    uint64_t msg : 40;        /* offset into log_text (below WV_LOG_TEXT_MAX) */
    uint64_t msg_len : 24;    /* a message fits in a record (WV_RECORD_MAX) */
    uint32_t category;
    uint16_t thread;          /* < WV_MAX_THREADS */
} wv_ilog;

#define WV_LOG_TEXT_MAX ((uint64_t)1 << 40)

typedef struct wv_iflow {
    uint64_t task;
    int64_t from_ns, to_ns;
    uint32_t from_thread, to_thread;
    uint32_t next_of_task;    /* index+1 of the task's next hop, 0: none */
} wv_iflow;

typedef struct wv_icounter {
    uint32_t name;
    size_t n, cap;
    int64_t *t, *v;
    uint32_t *mm[WV_LOD_LEVELS]; /* per group of 16^(k+1): index of min, of max */
    size_t nmm[WV_LOD_LEVELS];
    int64_t min, max;
} wv_icounter;

typedef struct wv_ithread {
    uint32_t thread;          /* recorder thread index */
    uint64_t tid, events, dropped;
    char *name;
    uint32_t nrows;           /* depths 0 .. nrows-1 */
    uint32_t *rows;           /* row index per depth */
    uint32_t *logs;           /* indexes into logs, in time order */
    size_t nlogs, logs_cap;
} wv_ithread;

typedef struct wv_idiag {
    uint64_t kind, count;
    uint32_t name, thread;
    int64_t first_ns;
} wv_idiag;

/* Per-type latency table (tasks or regions), built on first use. */
typedef struct wv_ltype {
    uint32_t type;
    uint64_t unfinished;
    uint32_t *idx;            /* task or global slice indexes, slowest first */
    size_t n;
} wv_ltype;

typedef struct wv_latency {
    wv_ltype *types;
    size_t ntypes;
} wv_latency;

struct wv_rt_index;

typedef struct wv_index {
    /* recording facts */
    weft_header hdr;
    wv_end end;
    int status;               /* enum wv_status */
    char message[512];
    uint64_t events, file_size, dropped;
    int64_t end_ns;

    /* strings: text of id k is str_blob + str_off[k], length str_off[k+1]-str_off[k]-1 */
    uint32_t nstr;
    uint64_t *str_off;
    char *str_blob;

    wv_ithread *threads;      /* threads with events or a THREAD record, by index */
    size_t nthreads;
    uint32_t *thread_pos;     /* thread index -> position in threads, UINT32_MAX: none */
    uint32_t thread_limit;

    wv_row *rows;             /* ordered by (thread, depth) */
    size_t nrows;
    uint64_t nslices;

    wv_itask *tasks;
    size_t ntasks, tasks_cap;
    uint64_t *task_extra;     /* ids of tasks slices name that the table lacks */
    size_t ntask_extra, task_extra_cap;
    wv_taskmap by_id;         /* every task: built on first use (serve_taskmap.c) */
    atomic_int by_id_ready;
    int64_t *task_maxend;     /* per group of 64 tasks: the latest end */

    wv_ilog *logs;
    size_t nlogs, logs_cap;
    char *log_text;
    size_t log_text_len, log_text_cap;

    wv_icounter *counters;
    size_t ncounters;

    wv_iflow *flows;
    size_t nflows, flows_cap;

    wv_idiag *diags;
    size_t ndiags;
    uint64_t diag_unlisted;

    struct wv_rt_index *rt;   /* runtime events (serve_rt.h); NULL: the trace has none */

    pthread_mutex_t lazy_lock;
    wv_latency task_lat, region_lat;
    int task_lat_built, region_lat_built;
    uint32_t *logs_by_task;   /* log indexes sorted by (task, time) */
} wv_index;

/*! wv_index_load() :
 *  Reads every event of r (opened successfully) and builds the index.
 *  @return the index (its status and message tell how reading went), or
 *          NULL when out of memory. */
wv_index *wv_index_load(wv_reader *r);
void wv_index_free(wv_index *x);

/* Grows the array *p (of *cap elements of `size` bytes) to hold `need`:
 * doubling while small, in place in huge pages when big (serve_grow.c).
 * @return 0 or -ENOMEM (*p unchanged). */
int wv_grow(void *p, size_t *cap, size_t need, size_t size);
/* As wv_grow(), doubling only: for arrays that live for one request, which
 * a huge-page block would make zero and unmap 2 MiB pages each time. */
int wv_grow_temp(void *p, size_t *cap, size_t need, size_t size);
/* Gives back the slack of an array of n elements once it is complete. */
void wv_fit(void *p, size_t *cap, size_t n, size_t size);

/* Bytes the index holds (the arrays it allocated). */
uint64_t wv_index_bytes(const wv_index *x);

/* Text of string id k ("" if unknown). */
static inline const char *wv_index_str(const wv_index *x, uint64_t k, size_t *len)
{
    if (k >= x->nstr) {
        if (len)
            *len = 0;
        return "";
    }
    if (len)
        *len = (size_t)(x->str_off[k + 1] - x->str_off[k] - 1);
    return x->str_blob + x->str_off[k];
}

/* The task id of a region's slice (0: background). */
static inline uint64_t wv_slice_task(const wv_index *x, const wv_slice *s)
{
    if (!s->task)
        return 0;
    return s->task & WV_TASK_EXTRA ? x->task_extra[s->task & ~WV_TASK_EXTRA] : x->tasks[s->task - 1].id;
}

/* Thread record of a recorder thread index, NULL if none. */
const wv_ithread *wv_index_thread(const wv_index *x, uint64_t thread);
/* The task with that id, NULL if none. */
const wv_itask *wv_index_task(const wv_index *x, uint64_t id);
/* The row and position of global slice index i; NULL if out of range. */
const wv_row *wv_index_slice(const wv_index *x, uint64_t i, size_t *pos);
/* First slice of row r whose end is after t (the first that overlaps [t, ...)). */
size_t wv_row_first_after(const wv_row *r, int64_t t);
/* First position in [lo, n) of row r whose start is >= t (galloping from lo). */
size_t wv_row_seek(const wv_row *r, size_t lo, int64_t t);
/* First position in [lo, n) with value >= v, galloping from lo (for walks
 * that advance column by column). */
size_t wv_gallop(const void *base, size_t n, size_t stride, size_t lo, int64_t v);
/* Name covering most time among slices [a, b) of row r, from the pyramid. */
uint32_t wv_row_dominant(const wv_row *r, size_t a, size_t b);
/* Indexes of the minimum and the maximum value among points [a, b). */
void wv_counter_minmax(const wv_icounter *c, size_t a, size_t b, size_t *imin, size_t *imax);
/* First position with t >= v in a sorted int64 array (n entries, stride bytes apart). */
size_t wv_lower_bound(const void *base, size_t n, size_t stride, int64_t v);

/* Builds the lazy parts now (task map, logs by task, latency tables), so
 * the first queries that need them do not wait; for a background thread. */
void wv_index_warm(wv_index *x);

/* Task id -> index + 1 maps (serve_taskmap.c). */
int wv_taskmap_put(wv_taskmap *m, uint64_t id, uint32_t idx);
uint32_t wv_taskmap_get(const wv_taskmap *m, uint64_t id);
void wv_taskmap_del(wv_taskmap *m, uint64_t id);
void wv_taskmap_free(wv_taskmap *m);

/* What a feed tap hands from the reading thread to the model's thread. */
typedef struct wv_feed_out {
    uint8_t *data;
    size_t len, cap;
} wv_feed_out;

/* Room for n more bytes at the next multiple of 8 of the output (malloc'd,
 * so 8-aligned), to be filled by the caller. @return it, or NULL when out
 * of memory. */
void *wv_feed_reserve(wv_feed_out *o, size_t n);

/* A second consumer of the events, split across the two threads (see
 * serve_feed.c). Both return 0 or -ENOMEM. */
typedef struct wv_feed_tap {
    /* On the reading thread, each event right after it is read. */
    int (*read)(void *ctx, const wv_event *ev, wv_feed_out *out);
    /* On the model's thread, the output of each batch of events, in order. */
    int (*take)(void *ctx, const uint8_t *data, size_t len);
    void *ctx;
} wv_feed_tap;

/* As wv_model_run(), with the reader on a second thread (serve_feed.c) and
 * an optional tap (NULL: none). The model and its event sink get of each
 * event only its bytes and what wv_model_add() reads (later arguments and
 * the ticks stay behind): what needs more reads it in the tap. */
struct wv_model;
int wv_feed_model(struct wv_model *m, wv_reader *r, const wv_feed_tap *tap);

/* Logs and counter points, filed from the model's event sink (serve_logs.c). */
typedef struct wv_log_list {
    uint32_t *v;
    size_t n, cap;
} wv_log_list;

typedef struct wv_logs_build {
    wv_ilog *logs;
    size_t nlogs, logs_cap;
    char *log_text;
    size_t log_text_len, log_text_cap;
    wv_icounter *counters;
    size_t ncounters;
    wv_log_list *threads;     /* per thread index: its logs, in time order */
    uint32_t nthreads;
    uint32_t *counter_of;     /* string id -> counter index + 1 */
    uint32_t counter_of_n;
    uint64_t max_str;         /* highest string id used */
} wv_logs_build;

/* Files a LOG or COUNTER event (others are ignored). @return 0 or -ENOMEM. */
int wv_logs_file(wv_logs_build *l, const wv_event *ev);
/* Once x's threads exist: moves the logs and counters into x, hands each
 * thread its list of logs, gives back slack and builds the counters'
 * pyramids. @return 0 or -ENOMEM. */
int wv_logs_finish(wv_logs_build *l, wv_index *x);
void wv_logs_free(wv_logs_build *l);

/* Pyramid construction (serve_lod.c), called by wv_index_load(). @return 0 or -ENOMEM. */
int wv_lod_build_row(wv_row *r);
int wv_lod_build_counter(wv_icounter *c);

/* Latency tables, built on first call (thread-safe). NULL when out of memory. */
const wv_latency *wv_index_task_latency(wv_index *x);
const wv_latency *wv_index_region_latency(wv_index *x);
/* Frees a latency table's lists (serve_latency.c); the table itself is the caller's. */
void wv_latency_free(wv_latency *l);
/* Latency of task i (tasks = 1) or duration of global slice i (tasks = 0). */
int64_t wv_index_duration(const wv_index *x, int tasks, uint32_t i);
/* Log indexes of a task, in time order (built on first call); *n their count. */
const uint32_t *wv_index_task_logs(wv_index *x, uint64_t task, size_t *n);

#endif /* WV_SERVE_INDEX_H */
