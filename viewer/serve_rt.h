/*
 * serve_rt.h - the runtime part of the serve index: what the runtime model
 * (rt.h) derives from a trace's runtime events, kept for window queries,
 * the wait details and the Blocking page (docs/http-api.md).
 *
 *   state rows   per thread, its state spans (Running, Runnable, Blocked
 *                with a reason) as a row of slices (name: state code, task:
 *                CPU, flags: WV_RT_*), with a pyramid of the time spent in
 *                each state per group of spans, so a merged block tells
 *                exactly how its time splits between the states;
 *   CPU rows     per CPU, which thread ran there (name: thread index), with
 *                the rows' usual dominant-name pyramid;
 *   items        every lock wait, I/O wait, GC or allocator pause and uv
 *                loop phase, in the order the model delivered them, with
 *                what the details panel shows. Rows of slices point into
 *                them (task: item index): per thread its waits (lock and
 *                I/O: one call at a time, so they never overlap) and its uv
 *                phases, and the GC / allocator lanes (pauses of different
 *                threads overlap, so each lane holds pauses that do not);
 *   blocking     the profiles of blocking.h, fed by the same model while
 *                loading (a few hash probes per wait); sorted, symbolized
 *                and written out as the /blocking answer on first use.
 *
 * One pass: the model runs on the thread that reads the file (serve_feed.c's
 * tap), beside the region model on the other, so `weft serve` reads a trace
 * once and infers exactly what `weft json` and `weft stats` infer. The rows
 * are numbered and their pyramids built when loading ends.
 *
 * Memory is proportional to what the model delivers: 24 bytes per state or
 * CPU span (plus about 5 for the state pyramid), 88 per item. The heap
 * samples become counters of the index ("heap (malloc)"), drawn as charts.
 */
#ifndef WV_SERVE_RT_H
#define WV_SERVE_RT_H

#include <pthread.h>

#include "blocking.h"
#include "rt.h"
#include "serve_index.h"
#include "symbols.h"

/* State codes (the slices' names in state rows): Running, Runnable, then
 * Blocked with reason r (1..6, enum weft_block_reason) as 1 + r. */
#define WV_STATE_RUNNING 0u
#define WV_STATE_RUNNABLE 1u
#define WV_STATE_CODES 8u

/* The key of a state code in API answers: "running", "runnable", or the
 * reason of a Blocked span ("lock", "io", "sleep", "condition", "gc",
 * "blocked"). */
const char *wv_state_key(unsigned code);

typedef struct wv_state_row {
    wv_row row;
    int64_t *sums[WV_LOD_LEVELS]; /* level k: WV_STATE_CODES ns per group of 16^(k+1) spans */
    size_t nsums[WV_LOD_LEVELS];
} wv_state_row;

enum wv_item_kind { WV_ITEM_LOCK = 1, WV_ITEM_IO, WV_ITEM_GC, WV_ITEM_ALLOC, WV_ITEM_UV, WV_ITEM_KINDS };

#define WV_ITEM_CLIPPED 0x80u /* a pause drawn from when its lane was free (flags) */

typedef struct wv_rt_item {
    int64_t s, e;
    uint64_t obj;    /* lock: its address; I/O: fd; allocator: size; uv: the loop */
    int64_t aux;     /* lock: the holder's release that woke it (ns), -1: none seen; I/O: result */
    uint64_t site;   /* lock, I/O, allocator: the caller's return address */
    uint32_t thread;
    uint32_t holder; /* lock: thread index of the releaser, 0: unknown */
    uint32_t code;   /* lock, I/O, allocator: the op; uv: the phase; GC: string id of its kind */
    uint8_t kind;    /* enum wv_item_kind */
    uint8_t flags;   /* WV_RT_OPEN, WV_ITEM_CLIPPED */
} wv_rt_item;

/* The name of an item row's slice: the item's kind and code, so the
 * dominant-name pyramid names a merged block after its commonest kind of
 * wait (codes past 2^21 count as one: a slice's name has 24 bits). */
#define WV_ITEM_CODE_MAX 0x1fffffu
static inline uint32_t wv_item_name(unsigned kind, uint64_t code)
{
    return (uint32_t)kind << 21 | (uint32_t)(code < WV_ITEM_CODE_MAX ? code : WV_ITEM_CODE_MAX);
}
static inline unsigned wv_item_name_kind(uint32_t name) { return name >> 21; }
static inline uint32_t wv_item_name_code(uint32_t name) { return name & WV_ITEM_CODE_MAX; }

typedef struct wv_rt_index {
    wv_state_row *states;  /* row.thread: the thread */
    size_t nstates;
    wv_row *cpus;          /* row.thread: the CPU number */
    size_t ncpus;
    wv_row *waits, *uvs;   /* row.thread: the thread */
    size_t nwaits, nuvs;
    wv_row *lanes;         /* row.depth: the lane */
    size_t nlanes;
    wv_rt_item *items;
    size_t nitems;
    uint64_t kinds[WV_ITEM_KINDS]; /* items per kind */
    uint64_t latency_samples, schedstat_samples;
    uint32_t nheaps;       /* heap counters added to the index */
    uint32_t *row_of;      /* thread index t: [3t] state, [3t+1] wait, [3t+2] uv row + 1; 0: none */
    uint32_t thread_limit;
    wv_rt_totals totals;
    wv_blocking *blocking; /* fed while loading; finished by the first /blocking */
    wv_module *modules;    /* for the symbolizer; paths owned */
    uint32_t nmodules;

    pthread_mutex_t lock;  /* the symbolizer (one thread at a time) */
    wv_symbols *sym;       /* made on first use */
    pthread_mutex_t blocking_lock;
    char *blocking_json;   /* the /blocking answer, once built */
    size_t blocking_len;
} wv_rt_index;

/* Pyramid of a state row (serve_lod.c). @return 0 or -ENOMEM. */
int wv_lod_build_states(wv_state_row *r);
/* Time spent in each state code by spans [a, b) of the row, exactly. */
void wv_state_sums(const wv_state_row *r, size_t a, size_t b, int64_t out[WV_STATE_CODES]);

/* ---- loading (serve_rt.c) ---------------------------------------------------- */

typedef struct wv_rt_build wv_rt_build;

/* Loading, in this order (serve_rt_load.c, serve_rt.c):
 *   wv_rt_build_new()     with the reader
 *   wv_rt_build_tap()     the feed tap to give wv_feed_model()
 *   wv_rt_build_finish()  once the feed is done: ends what is still open at
 *                         end_ns; returns the highest string id the items use
 *                         (GC kinds), for the strings the index copies
 *   wv_rt_rows_start()    with the index's thread limit: builds the rows on
 *                         a thread of its own while the caller builds the
 *                         rows of regions
 *   wv_rt_index_take()    waits for the rows, moves them into x->rt (NULL
 *                         when the trace has no runtime data) and the heap
 *                         samples into x's counters (x's strings must be
 *                         copied); frees b in any case
 * wv_rt_build_free() frees b at any point. Each returns 0 or -ENOMEM. */
wv_rt_build *wv_rt_build_new(wv_reader *r);
const wv_feed_tap *wv_rt_build_tap(wv_rt_build *b);
uint64_t wv_rt_build_finish(wv_rt_build *b, int64_t end_ns);
int wv_rt_rows_start(wv_rt_build *b, uint32_t thread_limit);
int wv_rt_index_take(wv_index *x, wv_rt_build *b, wv_reader *r);
void wv_rt_build_free(wv_rt_build *b);

void wv_rt_index_free(wv_rt_index *rt);
uint64_t wv_rt_index_bytes(const wv_rt_index *rt);

/* Rows of a thread; NULL if it has none. */
const wv_state_row *wv_rt_state_row(const wv_index *x, uint32_t thread);
const wv_row *wv_rt_wait_row(const wv_index *x, uint32_t thread);
const wv_row *wv_rt_uv_row(const wv_index *x, uint32_t thread);

/* The text of a call site (symbolized on first use, under rt->lock),
 * copied into buf. */
const char *wv_rt_site_text(wv_rt_index *rt, uint64_t addr, char *buf, size_t n);
/* Runs fn(arg) on a thread with a 16 MiB stack and waits for it (at once
 * if this is that thread): libdw's DWARF walks recurse past the 100 KiB
 * stacks civetweb gives the request threads. @return 0 or -errno (fn did
 * not run). */
int wv_rt_big_stack(void *(*fn)(void *), void *arg);

/* ---- answers (serve_rt_api.c, serve_rt_window.c, serve_blocking.c) -------------- */

struct wv_jw;
/* "lock", "io", "gc", "allocator", "uv". */
const char *wv_item_kind_name(unsigned kind);
/* What an item is called: its op ("pthread_mutex_lock", "read", "malloc"),
 * uv phase ("poll wait") or GC kind ("gc" without one); "op N" for codes
 * this version does not know. buf may hold the text. */
const char *wv_item_label(const wv_index *x, unsigned kind, uint64_t code, char buf[32]);
/* The fields of item i, drawn at [s, s + d) ("i","s","d","kind","name",
 * "thread" and the kind's own; no braces). */
void wv_put_item(struct wv_jw *w, const wv_index *x, size_t i, int64_t s, int64_t d);
/* The runtime part of /summary: ,"sched_source":..,"cpus":[..],...  */
void wv_rt_put_summary(const wv_index *x, struct wv_jw *w);
/* The runtime flags of a /summary thread entry: ,"states":true,... */
void wv_rt_put_thread_flags(const wv_index *x, uint32_t thread, struct wv_jw *w);
/* The "has" flags of the runtime views: ,"thread_states":..,"cpus":..,... */
void wv_rt_put_has(const wv_index *x, struct wv_jw *w);
/* "sched_source":"perf"|"schedstat"|"none"|null,"sched_source_text":"..." */
void wv_rt_put_sched_source(const wv_index *x, struct wv_jw *w);
/* {"thread":N,"tid":T,"name":"..."}, or null for thread 0 (unknown). */
void wv_rt_put_thread_ref(struct wv_jw *w, const wv_index *x, uint32_t thread);
/* ,"site":"function (file.c:42)","site_addr":"0x..." */
void wv_rt_put_site(struct wv_jw *w, wv_rt_index *rt, uint64_t addr);

#endif /* WV_SERVE_RT_H */
