/*
 * rt.h - the runtime model: from the runtime events (wire.h 0x0C..0x18) it
 * derives why each thread was not running, and hands the results out through
 * sink callbacks, like model.h does for regions and tasks:
 *
 *   - per-thread state spans: Running (with its CPU), Runnable (preempted,
 *     or created and not yet started), Blocked with a reason;
 *   - per-CPU spans: which thread ran there;
 *   - lock waits, with the holder and the holder's release that woke the
 *     waiter (a flow);
 *   - I/O waits, GC and allocator pauses, libuv loop phases;
 *   - scheduler latency samples (preempted -> switched in again);
 *   - schedstat samples, heap samples, lost scheduler records.
 *
 * Where the reasons come from. A SCHED event (on the system stream) says a
 * thread switched out or in; a wait event (LOCK_WAIT, IO, ALLOC_PAUSE, a uv
 * "poll wait" phase) is written on the waiting thread when the wait ENDS,
 * after it switched in again. So a Blocked span is held until the thread's
 * own stream shows what it was doing: a wait that overlaps it gives the
 * reason (lock, condition, io, sleep, gc); any other event of the thread
 * after the span means no wrapped call was in progress, and the span is
 * "gc" if it overlaps a GC pause (they are process-wide), else "blocked"
 * (OTHER). On a thread running an instrumented uv loop the end of each
 * iteration decides instead: its POLL_WAIT, which explains the block at
 * the start of the poll phase, is written after the I/O callbacks.
 * Spans of a thread are delivered in time order, so the spans after a held
 * one wait with it (at most WV_RT_MAX_PENDING per thread; past that the
 * oldest is decided as if no wait covered it).
 *
 * Memory is bounded: per thread a few words and its held spans; per CPU a
 * few words; fixed tables for releases (WV_RT_RELEASE_SLOTS), thread
 * creations (WV_RT_SPAWN_SLOTS) and recent GC pauses. A flow is lost only
 * when another lock's release took its table slot in between.
 *
 * Damaged input never crashes it: SCHED, SCHEDSTAT and holder arguments
 * naming a thread the file does not define are ignored and counted, as are
 * unknown switch codes; CPUs >= WV_MAX_CPUS have no CPU span; op codes out
 * of the tables are passed on as they are (vocab.h names them "op N").
 */
#ifndef WV_RT_H
#define WV_RT_H

#include <stdint.h>

#include "reader.h"

#define WV_MAX_CPUS 4096u
#define WV_NO_CPU UINT32_MAX
#define WV_RT_MAX_PENDING 4096u
#define WV_RT_RELEASE_SLOTS 8192u
#define WV_RT_SPAWN_SLOTS 4096u
#define WV_RT_GC_MEMORY 64u

enum wv_thread_state { WV_RUNNING = 1, WV_RUNNABLE = 2, WV_BLOCKED = 3 };

/* wv_state_span.flags, wv_cpu_span.flags, wv_pause.flags */
#define WV_RT_PREEMPTED 1u /* Runnable: switched out while still runnable */
#define WV_RT_STARTING 2u  /* Runnable: from pthread_create to the thread's first event */
#define WV_RT_OPEN 4u      /* still going when the trace (or the thread) ended */

typedef struct wv_state_span {
    uint32_t thread;
    uint8_t state;   /* enum wv_thread_state */
    uint8_t reason;  /* WV_BLOCKED: enum weft_block_reason; else 0 */
    uint16_t flags;
    uint32_t cpu;    /* WV_RUNNING: its CPU (WV_NO_CPU: unknown); else the CPU it left */
    int64_t start_ns, end_ns;
} wv_state_span;

typedef struct wv_cpu_span {
    uint32_t cpu, thread;
    unsigned flags;
    int64_t start_ns, end_ns;
} wv_cpu_span;

typedef struct wv_lock_wait {
    uint32_t thread;
    uint32_t holder;     /* thread index of the releaser; 0: unknown */
    uint64_t op, lock, site;
    int64_t start_ns, end_ns;
    uint64_t flow;       /* from 1, unique; 0: no release of this lock by the holder was seen */
    int64_t release_ns;  /* flow != 0: the holder's latest LOCK_RELEASE of the lock */
} wv_lock_wait;

typedef struct wv_io_wait {
    uint32_t thread;
    uint64_t op, site;
    int64_t fd, result;
    int64_t start_ns, end_ns;
} wv_io_wait;

enum wv_pause_kind { WV_PAUSE_GC = 1, WV_PAUSE_ALLOC = 2 };

typedef struct wv_pause {
    uint8_t kind;     /* enum wv_pause_kind */
    uint8_t flags;    /* WV_RT_OPEN: a GC that never ended */
    uint32_t thread;  /* GC: the thread that began it (a pause is process-wide) */
    uint64_t name;    /* GC: string id of its kind (0: none); ALLOC: the op */
    uint64_t size, site; /* ALLOC only */
    int64_t start_ns, end_ns;
} wv_pause;

typedef struct wv_uv_phase {
    uint32_t thread;
    uint64_t loop, phase;
    int64_t start_ns, end_ns;
} wv_uv_phase;

typedef struct wv_schedstat {
    uint32_t thread;
    uint64_t run_ns, wait_ns, slices; /* cumulative, as the kernel counts them */
    int64_t ns;
} wv_schedstat;

typedef struct wv_heap_sample {
    uint32_t thread; /* the stream it came on (the system stream for MALLOC) */
    uint64_t source, bytes;
    int64_t ns;
} wv_heap_sample;

/* Any callback may be NULL. Each thread's state spans arrive in time order
 * and never overlap, so do each CPU's spans; the other kinds arrive in order
 * of their end, but for a uv POLL_WAIT, which follows the POLL_IO after it. */
typedef struct wv_rt_sink {
    void (*state)(void *ctx, const wv_state_span *s);
    void (*cpu)(void *ctx, const wv_cpu_span *s);
    /* Runnable (preempted) from ready_ns until switched in at run_ns. */
    void (*latency)(void *ctx, uint32_t thread, int64_t ready_ns, int64_t run_ns);
    void (*lock_wait)(void *ctx, const wv_lock_wait *w);
    void (*io)(void *ctx, const wv_io_wait *w);
    void (*pause)(void *ctx, const wv_pause *p);
    void (*uv)(void *ctx, const wv_uv_phase *p);
    void (*schedstat)(void *ctx, const wv_schedstat *s);
    void (*heap)(void *ctx, const wv_heap_sample *h);
    /* `count` scheduler records of `thread` (0: unknown) were lost. */
    void (*lost)(void *ctx, uint32_t thread, uint64_t count, int64_t ns);
} wv_rt_sink;

typedef struct wv_rt_totals {
    uint64_t sched_events;   /* SCHED events applied */
    uint64_t lost;           /* scheduler records lost (SCHED_LOST counts) */
    uint64_t ignored;        /* events naming an unknown thread, or a bad switch code */
    uint64_t forced;         /* held spans decided early (WV_RT_MAX_PENDING) */
} wv_rt_totals;

typedef struct wv_rt wv_rt;

/* r is the reader the events come from: it converts wait starts to ns and
 * tells which thread indexes exist. @return NULL when out of memory. */
wv_rt *wv_rt_new(wv_reader *r, const wv_rt_sink *sink, void *ctx);
/* Adds one event (every event of the reader, in order).
 * @return 0 or -ENOMEM (the event is then only partly applied). */
int wv_rt_add(wv_rt *rt, const wv_event *ev);
/* Ends what is still open at end_ns (the last event's time) and delivers
 * the held spans. */
void wv_rt_finish(wv_rt *rt, int64_t end_ns);
const wv_rt_totals *wv_rt_get_totals(const wv_rt *rt);
void wv_rt_free(wv_rt *rt);

#endif /* WV_RT_H */
