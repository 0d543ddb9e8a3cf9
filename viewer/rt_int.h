/*
 * rt_int.h - what the two halves of the runtime model share: rt.c (thread
 * states and CPUs from SCHED, held spans) and rt_waits.c (lock waits, I/O,
 * pauses, uv phases, which also decide the reasons of held spans).
 */
#ifndef WV_RT_INT_H
#define WV_RT_INT_H

#include "rt.h"

typedef struct rthread {
    uint8_t state;       /* enum wv_thread_state; 0: not tracked (no SCHED yet) */
    uint8_t flags;       /* WV_RT_PREEMPTED for the open Runnable span */
    uint8_t open_reason; /* reason learned for the open Blocked span (late SCHED) */
    uint8_t exited;
    uint32_t cpu;
    int64_t since;       /* start of the open state */
    int64_t first_ns;    /* first own event; -1: none */
    int64_t last_own;    /* latest own event, TIME_BASE and DROP excepted */
    int64_t create_ns;   /* THREAD_CREATE of this thread (by spawn); -1: unknown */
    int64_t start_ns;    /* THREAD_START; -1: none */
    int64_t emitted;     /* end of the latest span queued: spans never overlap */
    int uv_loop;         /* it runs an instrumented uv loop: see wv_rt_add() */
    int64_t uv_end;      /* end of the latest uv phase */
    int64_t uv_before_io; /* uv_end before the latest POLL_IO */
    int uv_io_valid;     /* the latest uv event was a POLL_IO: */
    uint64_t uv_io_ticks, uv_io_dur, uv_io_loop; /*   its time, dur and loop */
    wv_state_span *q;    /* held spans, a ring */
    uint32_t qhead, qlen, qcap;
} rthread;

typedef struct rcpu {
    uint32_t thread;
    uint8_t busy;
    int64_t since, last_end; /* last_end: of its latest span (0 before one) */
} rcpu;

typedef struct release_slot {
    uint64_t lock;
    uint32_t thread; /* 0: empty */
    int64_t ns;
} release_slot;

typedef struct spawn_slot {
    uint64_t spawn; /* 0: empty */
    int64_t ns;
} spawn_slot;

struct wv_rt {
    wv_reader *r;
    wv_rt_sink sink;
    void *ctx;
    int system;          /* index 0 is the system stream (header sched_source != 0) */
    rthread **th;
    uint32_t nth;
    rcpu *cpus;
    uint32_t ncpus;
    release_slot *releases;
    spawn_slot *spawns;
    struct {
        int64_t start, end;
    } gc[WV_RT_GC_MEMORY]; /* recent GC pauses, a ring */
    uint32_t ngc;        /* GC pauses ended so far */
    int gc_open;         /* a GC pause (process-wide) is in progress: */
    uint32_t gc_thread;  /*   the thread that began it */
    uint64_t gc_kind;
    int64_t gc_begin;
    uint64_t next_flow;
    int64_t end_ns;
    wv_rt_totals totals;
    int oom;
};

/* rt.c */
rthread *wv__rt_thread(wv_rt *rt, uint32_t index);
int wv__rt_known(const wv_rt *rt, uint64_t index);
/* A wait [start, end] of `reason` on thread t decides its held Blocked spans
 * that overlap it. */
void wv__rt_wait(wv_rt *rt, rthread *t, int64_t start, int64_t end, unsigned reason);

/* rt_waits.c: one handler per event; t is the event's own thread. */
void wv__rt_lock_wait(wv_rt *rt, const wv_event *ev, rthread *t);
void wv__rt_lock_release(wv_rt *rt, const wv_event *ev);
void wv__rt_io(wv_rt *rt, const wv_event *ev, rthread *t);
void wv__rt_alloc_pause(wv_rt *rt, const wv_event *ev, rthread *t);
void wv__rt_uv(wv_rt *rt, const wv_event *ev, rthread *t);
void wv__rt_gc_begin(wv_rt *rt, const wv_event *ev);
void wv__rt_gc_end(wv_rt *rt, const wv_event *ev);
/* A GC still open at the end of the trace. */
void wv__rt_gc_finish(wv_rt *rt, int64_t end_ns);
/* 1 if [start, end] overlaps a GC pause (a recent one or the open one). */
int wv__rt_gc_overlaps(const wv_rt *rt, int64_t start, int64_t end);

#endif /* WV_RT_INT_H */
