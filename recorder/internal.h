/*
 * internal.h - declarations shared by the recorder's subsystems (libweft).
 *
 *   clock.c    timestamps: invariant TSC or CLOCK_MONOTONIC, and clock samples
 *   strtab.c   the global string table and each thread's name caches
 *   thread.c   per-thread state: registration, chunks, the SPSC chunk rings
 *   emit.h     the inline hot path that encodes events into a thread's chunk
 *   events.c   the public recording calls (tasks, regions, logs, counters)
 *   writer.c   the background writer: LZ4 frames, flush cycles, END record
 *   modules.c  the executable mappings of the process (MODULE records)
 *   perf.c     one thread's kernel context switches through perf_event_open
 *   sched.c    the sampler thread: context switches, schedstat, heap counter
 *   session.c  weft_start/weft_stop, WEFT_OUT autostart, exit and fork
 *   locks.c    lock-wait wrappers and the holder table      (waits.h)
 *   io.c       blocking I/O and sleep wrappers                (waits.h)
 *   gc.c       weft_gc_begin/end, weft_heap
 *   uv.c       libuv lock wrappers, weft_uv_instrument loop phases
 *   real.h     WEFT_REAL(fn): the wrapped functions (real.c: preload only)
 *
 * Ownership of a thread's state, the one subtle part:
 *   - the owning thread alone writes pos/end/count/last and the region stack;
 *   - it publishes progress with one release store of chunk->commit per event
 *     (a plain store on x86: no lock and no read-modify-write);
 *   - the writer reads commit with acquire and compresses the committed bytes
 *     while the thread keeps appending after them;
 *   - whole chunks change hands through two single-producer single-consumer
 *     rings (full: thread -> writer, free: writer -> thread);
 *   - the global thread list and registration are guarded by weft__lock.
 */
#ifndef WEFT_INTERNAL_H
#define WEFT_INTERNAL_H

#include "weft.h"
#include "wire.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define WEFT__HIDDEN __attribute__((visibility("hidden")))
/* The code a recording program runs all the time (the interposers and
 * wrappers of I/O, locks and malloc, and what they call) goes into
 * .text.hot, together. On kernels with page-table isolation and no PCID
 * (these VMs) every syscall flushes the TLB, so each page touched between
 * two syscalls costs a page walk: spread over the library, an I/O wrapper
 * touched three code pages. */
#define WEFT__HOT __attribute__((hot))
#define WEFT__TLS __attribute__((tls_model("initial-exec"))) __thread

/* ---- re-entrancy guard ----------------------------------------------------- */

/* Non-zero while recorder code runs on this thread. Under the preload library
 * the recorder's own calls to pthread_mutex_lock, write, malloc... land in the
 * interposers; those (and the wrappers behind them) pass straight through
 * while this is set, so recorder work is never recorded and never recurses.
 * The recorder's own threads (writer, sampler) set it for their whole life. */
extern WEFT__HIDDEN WEFT__TLS int weft__in_recorder;

/* ---- the hot paths' globals, on one page ---------------------------------- */

/* What every recording call reads first: whether a recording is on, and where
 * this thread's state and guard are. A wrapper reads them right after its
 * syscall returns, and on these VMs (see WEFT__HOT) every page it then touches
 * costs a page walk, so they sit on the page of .data that also holds the
 * clock's globals:
 *  - weft__gen_self, the library's own copy of weft__gen. weft__gen is
 *    exported for the header's inline check, so the library reaches it
 *    through the GOT, and in a program that links libweft it even lives in
 *    the program's .bss (a copy relocation): two more pages. session.c and
 *    writer.c change both together.
 *  - the thread pointer offsets of weft__self and weft__in_recorder. A shared
 *    object's initial-exec thread-local is reached through an offset in the
 *    GOT; the offset is the same in every thread, so weft__tls_init() copies
 *    it here once (a constructor, and weft_start). Zero means not yet: an
 *    offset from the thread pointer is never zero on x86-64, where TLS lies
 *    below it. */
extern WEFT__HIDDEN uint32_t weft__gen_self;
extern WEFT__HIDDEN intptr_t weft__tp_self, weft__tp_guard;
WEFT__HIDDEN void weft__tls_init(void);
#undef WEFT__ON
#define WEFT__ON() WEFT__UNLIKELY(__atomic_load_n(&weft__gen_self, __ATOMIC_RELAXED))

/* The address of a thread-local of this library from its offset, or
 * `fallback` (the ordinary access) before weft__tls_init() ran. */
static inline void *weft__tls_at(intptr_t off, void *fallback)
{
    return __builtin_expect(off != 0, 1) ? (char *)__builtin_thread_pointer() + off : fallback;
}

static inline int *weft__guard_ptr(void) { return weft__tls_at(weft__tp_guard, &weft__in_recorder); }

/* Sets the guard and returns its previous value, for weft__guard_leave(). */
static inline int weft__guard_enter(void)
{
    int *g = weft__guard_ptr();
    int was = *g;
    *g = 1;
    return was;
}

static inline void weft__guard_leave(int was) { *weft__guard_ptr() = was; }

/* Publishes a recording's generation (0: none) to both copies. The
 * library's own copy decides; the header's inline check is only the fast
 * skip, so a call it lets through in between is still checked here. */
static inline void weft__gen_publish(uint32_t gen)
{
    __atomic_store_n(&weft__gen_self, gen, __ATOMIC_SEQ_CST);
    __atomic_store_n(&weft__gen, gen, __ATOMIC_SEQ_CST);
}

/* True when a wrapper should record: a recording is on and this thread is not
 * already inside the recorder. */
static inline int weft__recording(void) { return WEFT__ON() && !*weft__guard_ptr(); }

/* ---- clock.c -------------------------------------------------------------- */

typedef struct weft_clock_sample {
    uint64_t ticks;   /* raw ticks (not shifted) */
    uint64_t mono_ns; /* CLOCK_MONOTONIC */
    uint64_t real_ns; /* CLOCK_REALTIME */
} weft_clock_sample;

extern WEFT__HIDDEN int weft__use_tsc;       /* 1: rdtsc; 0: clock_gettime */
extern WEFT__HIDDEN unsigned weft__tick_shift;

/* Picks the clock source, once per process: the invariant TSC if CPUID
 * reports one and WEFT_CLOCK is not "monotonic". Later calls do nothing. */
WEFT__HIDDEN void weft__clock_init(void);
WEFT__HIDDEN uint64_t weft__mono_ns(void);
/* A (ticks, monotonic, realtime) sample taken as close together as possible. */
WEFT__HIDDEN weft_clock_sample weft__clock_sample(void);
/* Rough ticks per second, measured over about a millisecond. */
WEFT__HIDDEN uint64_t weft__ticks_per_sec_estimate(void);
/* Raw ticks per second as weft_start estimated them; 0 before any start. */
extern WEFT__HIDDEN uint64_t weft__tick_rate;

static inline uint64_t weft__raw_ticks(void)
{
    if (__builtin_expect(weft__use_tsc, 1)) {
        uint32_t lo, hi;
        __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
        return (uint64_t)hi << 32 | lo;
    }
    return weft__mono_ns();
}

/* ---- strtab.c ------------------------------------------------------------- */

#define WEFT_STRTAB_MAX_NAMES (64u * 1024u)
#define WEFT_STRTAB_MAX_BYTES (16u * 1024u * 1024u)
#define WEFT_STR_FULL_TEXT "<string table full>"

/* Interns `s` by content. Returns its id (>= 1), or 0 for NULL, or the id of
 * "<string table full>" when the table is full (and sets *full). Locks. */
WEFT__HIDDEN uint32_t weft__strtab_intern(const char *s, size_t len, bool *full);
/* Text of an interned id; stable until exit. */
WEFT__HIDDEN const char *weft__strtab_text(uint32_t id);
/* Number of ids handed out so far (ids are 1..count). */
WEFT__HIDDEN uint32_t weft__strtab_count(void);
/* Bytes held by the table. */
WEFT__HIDDEN size_t weft__strtab_bytes(void);
WEFT__HIDDEN void weft__strtab_lock(void);
WEFT__HIDDEN void weft__strtab_unlock(void);

/* ---- thread.c ------------------------------------------------------------- */

#define WEFT_MAX_DEPTH WEFT_REGION_MAX_DEPTH
#define WEFT_EVENT_MAX 64 /* bytes of the largest fixed-size event (5 args) */
#define WEFT_FIRST_CHUNKS 4 /* chunks pre-faulted at a thread's first event */

typedef struct weft_chunk {
    /* (events << 32) | bytes committed, final once the chunk is in the full
     * ring; stored by the owner with release. While the chunk is the current
     * one, the running count is the thread's `live` word instead. */
    _Atomic uint64_t commit;
    /* Writer-owned: how much of this chunk is already in the file. */
    uint32_t flushed_bytes;
    uint32_t flushed_events;
    uint8_t *data;
} weft_chunk;

typedef struct weft_ring {
    _Atomic uint32_t head; /* next slot to push: written by the producer */
    _Atomic uint32_t tail; /* next slot to pop: written by the consumer */
    uint32_t mask;
    weft_chunk **slot;
} weft_ring;

typedef struct weft_open_region {
    uint64_t serial;
    uint32_t name;
    uint32_t recorded; /* 0: its begin was dropped, so its end is too */
} weft_open_region;

typedef struct weft_name_slot {
    const char *ptr;
    uint32_t id;
} weft_name_slot;

typedef struct weft_copy_slot {
    uint64_t hash;
    uint32_t id;
    const char *text; /* weft's own copy, compared on a hash hit */
} weft_copy_slot;

/* Cache-line aligned, with the writer's fields on lines of their own, so no
 * event ever writes a line the writer or another thread writes. */
typedef struct __attribute__((aligned(64))) weft_thread {
    /* -- hot: touched by every event, owner thread only -- */
    uint8_t *pos;
    uint8_t *end;
    uint8_t *base;
    weft_chunk *cur;
    uint64_t last;   /* quantized ticks of the previous event in this chunk */
    weft_chunk_codes codes; /* what kinds T and A are coded against in this chunk */
    uint32_t count;  /* events in the current chunk */
    uint32_t gen;    /* recording this state belongs to */
    uint32_t depth;  /* open regions */
    uint32_t index;  /* thread index within the recording (>= 1) */
    /* The current chunk's commit word, WEFT_LIVE(tag, events, bytes), where
     * tag is cur_tag (the chunk's place in `chunks` plus one): stored with
     * release after every event, read by the writer with acquire. Kept here
     * rather than in the chunk's own `commit` because this line is written by
     * every event anyway, and the `chunks` array is one more page to walk
     * after each syscall on these VMs (see WEFT__HOT): ~26 ns an I/O event.
     * Only the owner writes it; the writer reads it ~10 times a second. */
    _Atomic uint64_t live;
    uint64_t cur_tag;
    weft_name_slot *names; /* address -> string id, open addressing */
    uint32_t names_mask;
    uint32_t names_used;
    uint64_t serial; /* last region serial handed out */
    uint64_t task_next, task_limit;

    /* -- owner thread, less often -- */
    uint64_t drops_pending; /* dropped since the last DROP event */
    weft_copy_slot *copies; /* content hash -> string id */
    uint32_t copies_mask;
    weft_open_region stack[WEFT_MAX_DEPTH];

    /* -- shared with the writer -- */
    _Alignas(64) _Atomic uint64_t dropped_total; /* owner stores, writer loads */
    _Atomic(weft_chunk *) cur_pub;   /* the chunk being filled */
    weft_ring full;                  /* thread -> writer */
    weft_ring free;                  /* writer -> thread */
    _Atomic int exited;

    /* -- set at registration, read-only after -- */
    pid_t tid;
    pthread_t pthread;       /* for weft__thread_renamed() */
    char name[64];           /* changed only under weft__lock (see renamed) */
    weft_chunk *chunks;      /* max_chunks entries; the first `grown` in use */
    uint32_t max_chunks;
    _Atomic uint32_t grown;  /* owner stores, writer loads (memory report) */
    uint8_t *mem;            /* max_chunks * WEFT_CHUNK_BYTES reserved */

    /* -- writer-owned -- */
    _Alignas(64) uint64_t seq; /* next batch seq */
    uint64_t written;   /* events written to the file */
    bool announced;     /* THREAD record written */

    /* -- under weft__lock: another thread renamed this one -- */
    bool renamed;
    char new_name[64];

    struct weft_thread *next; /* global list, under weft__lock */
} weft_thread;

/* The live commit word: 24 bits of chunk tag, 20 of events, 20 of bytes (a
 * chunk holds 64 KiB, and an event takes at least two bytes). */
#define WEFT_LIVE(tag, events, bytes) ((uint64_t)(tag) << 40 | (uint64_t)(events) << 20 | (uint64_t)(bytes))
#define WEFT_LIVE_TAG(w) ((w) >> 40)
#define WEFT_LIVE_COMMIT(w) (((w) >> 20 & 0xFFFFFu) << 32 | ((w) & 0xFFFFFu))

/* The tag of chunk c of t in the live word. */
static inline uint64_t weft__chunk_tag(const weft_thread *t, const weft_chunk *c)
{
    return (uint64_t)(c - t->chunks) + 1;
}

/* Publishes the current chunk's count after every event; the chunk's own
 * commit word takes the final one when it is handed over (chunk_final). */
static inline void weft__live_store(weft_thread *t, uint32_t bytes)
{
    atomic_store_explicit(&t->live, WEFT_LIVE(t->cur_tag, t->count, bytes), memory_order_release);
}

extern WEFT__HIDDEN pthread_mutex_t weft__lock;       /* thread list + session */
extern WEFT__HIDDEN weft_thread *weft__threads;        /* all registered states */
extern WEFT__HIDDEN uint32_t weft__writer_gen;         /* gen the writer still serves */
extern WEFT__HIDDEN WEFT__TLS weft_thread *weft__self;

/* Returns the calling thread's state for the current recording, registering it
 * (allocating and pre-faulting its chunks) on first use; NULL if not recording
 * or out of memory. The slow path behind weft__thread(). */
WEFT__HIDDEN weft_thread *weft__thread_slow(void);

static inline weft_thread *weft__thread(void)
{
    weft_thread *t = *(weft_thread **)weft__tls_at(weft__tp_self, &weft__self);
    if (__builtin_expect(t != NULL && t->gen == __atomic_load_n(&weft__gen_self, __ATOMIC_RELAXED), 1))
        return t;
    return weft__thread_slow();
}

/* Hands the full current chunk to the writer and takes a free one. Returns 0,
 * or -1 if none is free (the caller drops its event). */
WEFT__HIDDEN int weft__chunk_next(weft_thread *t, uint64_t now_q);
/* Frees a thread state (its chunks and tables). Caller holds weft__lock and has
 * unlinked it. */
WEFT__HIDDEN void weft__thread_free(weft_thread *t);
/* Total bytes of all live thread buffers and tables, under weft__lock. */
WEFT__HIDDEN size_t weft__thread_bytes_locked(void);
/* Remembered per-thread name from weft_thread_name() before registration. */
WEFT__HIDDEN void weft__thread_set_name(const char *name);
/* Registers the calling thread as the system stream (index
 * WEFT_SYSTEM_THREAD) of recording `gen`: the sampler's own events, about
 * other threads. The thread is not itself tracked by the sampler. NULL if
 * the writer does not serve `gen` or out of memory. */
WEFT__HIDDEN weft_thread *weft__thread_register_system(uint32_t gen);
/* Under weft__lock (the writer's collect phase): applies a pending rename
 * from weft__thread_renamed() to t->name and returns true, so the writer
 * announces the thread again with its new name. */
WEFT__HIDDEN bool weft__thread_take_rename_locked(weft_thread *t);

/* Thread lifecycle, for the preload library's pthread_create and
 * pthread_setname_np interposers (and any wrapper that creates threads):
 *
 *   parent:  uint64_t spawn = weft__thread_spawn();
 *            uint32_t parent = weft__thread_index();
 *   child:   weft__thread_started(parent, spawn);   before the start routine
 *
 * weft__thread_spawn() writes THREAD_CREATE{spawn} on the calling thread
 * (registering it if needed) and returns a process-unique spawn serial, or 0
 * when not recording. weft__thread_started() registers the calling thread
 * and writes THREAD_START{parent, spawn} as its first event (parent and spawn
 * may be 0: unknown). weft__thread_index() is the calling thread's index in
 * the current recording, 0 if it is not registered. weft__thread_renamed()
 * records that `th` is now called `name`: for the calling thread it is
 * weft_thread_name(); for another registered thread the writer announces
 * the thread again under its new name; an unregistered thread picks the name
 * up when it registers. */
WEFT__HIDDEN uint64_t weft__thread_spawn(void);
WEFT__HIDDEN void weft__thread_started(uint32_t parent_index, uint64_t spawn);
WEFT__HIDDEN uint32_t weft__thread_index(void);
WEFT__HIDDEN void weft__thread_renamed(pthread_t th, const char *name);

WEFT__HIDDEN bool weft__ring_push(weft_ring *r, weft_chunk *c);
WEFT__HIDDEN weft_chunk *weft__ring_pop(weft_ring *r);

/* String ids for names, keyed by address (fast) or by content (copy). */
WEFT__HIDDEN uint32_t weft__name_slow(weft_thread *t, const char *s);
WEFT__HIDDEN uint32_t weft__name_copy(weft_thread *t, const char *s);

static inline uint32_t weft__name(weft_thread *t, const char *s)
{
    uintptr_t h = ((uintptr_t)s * 0x9E3779B97F4A7C15ull) >> 40;
    weft_name_slot *e = &t->names[h & t->names_mask];
    if (__builtin_expect(e->ptr == s, 1))
        return e->id;
    return weft__name_slow(t, s);
}

/* ---- writer.c ------------------------------------------------------------- */

typedef struct weft_session_cfg {
    char path[4096];
    double seconds;
    uint32_t nchunks;
    int fd;
    /* Store blocks uncompressed: `weft record` asks for it (WEFT_COMPRESS=
     * defer) and compresses the file once the program exits, so that the
     * LZ4 work, two thirds of the writer's CPU, is not spent while the
     * program runs (writer.c, viewer/compact.c). */
    bool store;
} weft_session_cfg;

/* Starts the writer thread for recording `gen` (header already written to
 * cfg->fd). Returns 0 or a negative errno. */
WEFT__HIDDEN int weft__writer_start(const weft_session_cfg *cfg, uint32_t gen,
                                    weft_clock_sample start);
/* Asks the writer to finish with `reason` (if it has not already) and joins
 * it. Returns 0 or the first write error as a negative errno. */
WEFT__HIDDEN int weft__writer_finish(int reason);
/* Wakes the writer because a chunk is full. Async-signal-unsafe but lock-free. */
WEFT__HIDDEN void weft__writer_kick(void);
/* True once the writer finished the file by itself (window ended). */
WEFT__HIDDEN bool weft__writer_done(void);
/* Forgets a writer thread that does not exist in a forked child. */
WEFT__HIDDEN void weft__writer_forget(void);

/* ---- modules.c ------------------------------------------------------------ */

/* The executable mappings already reported in this recording. */
typedef struct weft_modules {
    struct weft_module_seen *seen;
    size_t n, cap;
} weft_modules;

/* Called once per executable mapping not reported before. */
typedef void (*weft_module_fn)(void *ctx, uint64_t start, uint64_t end, uint64_t offset,
                               const char *path, size_t path_len);

/* Reads /proc/self/maps and calls fn for every executable mapping with a
 * path that is not in *m yet, adding it. Returns 0 or a negative errno (the
 * mappings read before a failure are reported). */
WEFT__HIDDEN int weft__modules_scan(weft_modules *m, weft_module_fn fn, void *ctx);
WEFT__HIDDEN void weft__modules_free(weft_modules *m);

/* ---- sched.c -------------------------------------------------------------- */

/* Picks this recording's scheduling source (enum weft_sched_source) from
 * WEFT_SCHED and a probe of perf_event_open on the calling thread. */
WEFT__HIDDEN int weft__sched_choose(void);
/* Starts the sampler thread for recording `gen` with `source`; `start` is
 * the recording's first clock sample. Returns 0 or a negative errno. Call
 * before weft__gen is published; threads registering from then on are
 * tracked. */
WEFT__HIDDEN int weft__sched_start(uint32_t gen, int source, weft_clock_sample start);
/* Stops the sampler after a final drain, so everything it saw is in its
 * stream before the writer's last cycle. Idempotent; any thread but the
 * sampler may call it (weft_stop, exit, the writer when the window ends). */
WEFT__HIDDEN void weft__sched_stop(void);
/* The calling thread just registered as `index` of recording `gen`: open its
 * context-switch ring (or queue it for schedstat sampling). */
WEFT__HIDDEN void weft__sched_thread_register(uint32_t gen, uint32_t index, pid_t tid);
/* The calling thread is exiting: the sampler drains its ring and lets go. */
WEFT__HIDDEN void weft__sched_thread_exit(void);
WEFT__HIDDEN void weft__sched_fork_prepare(void);
WEFT__HIDDEN void weft__sched_fork_parent(void);
WEFT__HIDDEN void weft__sched_fork_child(void);

/* HEAP{MALLOC} samples to write: up to two (heap.c says why two). */
typedef struct weft_heap_due {
    unsigned n;
    uint64_t raw[2];   /* raw ticks */
    uint64_t bytes[2];
} weft_heap_due;

/* The sampler's reading of the bytes in use through the malloc family, at
 * raw time `now`, once per period: fills *out with the samples to write
 * (none if the value did not change) and lets allocation calls take the
 * next ones on their own threads every `period` raw ticks (0: not yet, the
 * tick rate is unknown). This weak default returns 0 (no malloc tracking);
 * the preload library's (heap.c) returns 1. Called on the sampler thread
 * with no recorder lock held, every period and once when the sampler
 * starts: with WEFT_SCHED=off and a 0 from that first call, the sampler
 * does not wake at all, so a tracker must answer 1 from its first call on. */
WEFT__HIDDEN int weft__heap_poll(uint64_t now, uint64_t period, weft_heap_due *out);
/* Forgets the last recording's samples and stops the allocation calls'
 * ones until the next weft__heap_poll(); by the sampler at start and stop. */
WEFT__HIDDEN void weft__heap_reset(void);

/* ---- session.c ------------------------------------------------------------ */

extern WEFT__HIDDEN uint32_t weft__nchunks; /* most chunks per thread, this recording */

/* ---- copies.c ------------------------------------------------------------- */

/* True if this copy of the recorder should start recording from WEFT_OUT in
 * this process: it is the copy the program's weft calls reach, and the
 * process is the one WEFT_RECORD_PID names (if set). Exits the process with
 * status 126 and a message when two copies would both record (libweft linked
 * statically under the preload library). */
WEFT__HIDDEN bool weft__autostart_gate(void);

#endif /* WEFT_INTERNAL_H */
