/*
 * model.h - turns the event stream into what a trace view shows: regions as
 * complete spans, tasks as begin/end pairs, the hops of a task between
 * threads as flows, and diagnostics aggregated by kind, name and thread.
 *
 * `weft json` and `weft stats` (and later `weft serve`) share it, so they
 * agree on every inference: a region never ended, a task ended twice, events
 * lost in a drop. It keeps only open regions, live tasks and a fixed-size
 * memory of recently ended tasks, so its memory does not grow with the trace.
 *
 * Feed it every event of a reader in order, then call wv_model_finish(),
 * which closes what is still open. Results arrive through the sink callbacks
 * (any of which may be NULL) while events are added and during finish.
 */
#ifndef WV_MODEL_H
#define WV_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "reader.h"

#define WV_MAX_DEPTH 1024          /* open regions kept per thread */
#define WV_MAX_LIVE_TASKS (1u << 17) /* 2^18 slots of 56 bytes: 14 MiB */
#define WV_ENDED_MEMORY (1u << 16) /* recently ended tasks remembered */
#define WV_MAX_DIAG_ENTRIES 4096   /* distinct (kind, name, thread) kept */
#define WV_ANY_THREAD UINT32_MAX

/* wv_span.flags */
#define WV_SPAN_NOT_ENDED 1u        /* still open when its thread's events ended */
#define WV_SPAN_END_LOST 2u         /* its end was lost in a drop */
#define WV_SPAN_ENDED_WITH_OUTER 4u /* ended early because an outer region ended */

typedef struct wv_span {
    uint32_t thread;
    uint32_t depth;    /* 0: outermost */
    uint64_t task;     /* 0: background */
    uint64_t type;     /* string id of the region type */
    int64_t start_ns, end_ns;
    unsigned flags;
    uint64_t user;     /* the task's word (wv_task_mark.user) when the region
                          began; 0 when the task was not live then */
} wv_span;

typedef struct wv_task_mark {
    uint64_t task, parent, type; /* type: string id */
    uint32_t thread;
    int64_t ns;
    int unfinished; /* an end made up at the end of the trace */
    uint64_t *user; /* a word the model keeps with the live task for the sink
                       (0 at its begin): what the sink stores there at
                       task_begin, it finds at the task's end and flows */
} wv_task_mark;

typedef struct wv_flow {
    uint64_t id;                 /* unique, from 1 */
    uint64_t task, type;
    uint32_t from_thread, to_thread;
    int64_t from_ns, to_ns;
    uint64_t *user;              /* the task's word (wv_task_mark.user) */
} wv_flow;

typedef struct wv_diag {
    uint64_t kind;    /* enum weft_diag_kind (or unknown) */
    uint64_t name;    /* string id, 0: none */
    uint32_t thread;  /* thread index */
    int64_t first_ns; /* first occurrence */
    uint64_t count;
} wv_diag;

typedef struct wv_model_sink {
    void (*region)(void *ctx, const wv_span *s);        /* when the region ends */
    void (*task_begin)(void *ctx, const wv_task_mark *t);
    void (*task_end)(void *ctx, const wv_task_mark *t);
    void (*flow)(void *ctx, const wv_flow *f);
    void (*event)(void *ctx, const wv_event *ev);       /* every event, after the above */
} wv_model_sink;

typedef struct wv_model wv_model;

/* @return a model, NULL when out of memory. */
wv_model *wv_model_new(const wv_model_sink *sink, void *ctx);
/* Adds one event. It reads only the event's code, thread, ns and its first
 * WV_MODEL_ARGS arguments (weft serve hands it no more), and passes the
 * whole event to the event sink.
 * @return 0, or -ENOMEM (the event is then only partly applied). */
#define WV_MODEL_ARGS 3
int wv_model_add(wv_model *m, const wv_event *ev);
/* Ends open regions (at their thread's last event) and live tasks (at the end
 * of the trace), with their diagnostics. */
void wv_model_finish(wv_model *m);
/* Reads every event of r into m and finishes it. @return 0 or -ENOMEM. */
int wv_model_run(wv_model *m, wv_reader *r);

/* Diagnostics in order of first occurrence. */
size_t wv_model_diag_count(const wv_model *m);
const wv_diag *wv_model_diag(const wv_model *m, size_t i);
/* Occurrences not listed because WV_MAX_DIAG_ENTRIES was reached. */
uint64_t wv_model_diag_unlisted(const wv_model *m);
/* Events lost in drops seen in the stream, for one thread or all. */
uint64_t wv_model_dropped(const wv_model *m, uint32_t thread);
uint64_t wv_model_dropped_total(const wv_model *m);
/* Time of the last event. */
int64_t wv_model_end_ns(const wv_model *m);

void wv_model_free(wv_model *m);

#endif /* WV_MODEL_H */
