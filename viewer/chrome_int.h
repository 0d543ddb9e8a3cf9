/*
 * chrome_int.h - what the two halves of `weft json` share: chrome.c (regions,
 * tasks, flows, logs, counters, metadata, otherData) and chrome_rt.c (the
 * runtime events: state and CPU tracks, lock waits, I/O, pauses, uv phases,
 * heap and schedstat counters). Both write event objects into one stream.
 */
#ifndef WV_CHROME_INT_H
#define WV_CHROME_INT_H

#include <stdint.h>

#include "jsonw.h"
#include "model.h"

/* Recorded threads whose tid cannot be used (0, above INT32_MAX, or taken by
 * an earlier thread) get SYNTH_TID + index, above any Linux tid
 * (PID_MAX_LIMIT is 2^22). */
#define SYNTH_TID 0x40000000u

typedef struct qname {
    char *s; /* quoted JSON string */
    uint32_t len;
} qname;

typedef struct jthread {
    char ident[48]; /* "pid":P,"tid":T */
    uint8_t len;    /* 0: not computed yet */
    uint8_t remapped;
    uint32_t tid;
} jthread;

typedef struct cj_rt cj_rt; /* chrome_rt.c's state */

typedef struct chrome {
    wv_jw w;
    wv_reader *r;
    wv_model *m;
    cj_rt *rt;
    uint32_t pid;
    qname *names;
    uint32_t names_cap;
    jthread *th;
    uint32_t nth;
    uint32_t *tids; /* open-addressing set of tids handed out, 0 empty */
    uint32_t tid_cap, ntids;
    int first;
    int oom;
} chrome;

/* chrome.c: writing pieces of event objects */
/* Starts an event object: the separator, then `prefix` (which opens it). */
void wv_cj_open(chrome *c, const char *prefix, size_t n);
#define CJ_OPEN(c, lit) wv_cj_open((c), (lit), sizeof(lit) - 1)
void wv_cj_name(chrome *c, uint64_t id);    /* the quoted text of string `id` */
void wv_cj_ident(chrome *c, uint32_t thread); /* "pid":P,"tid":T of a recorded thread */
jthread *wv_cj_thread(chrome *c, uint32_t index);
void wv_cj_ts(chrome *c, int64_t ns);       /* ,"ts":... */
void wv_cj_key_str(chrome *c, const char *key, const char *s);
void wv_cj_key_u64(chrome *c, const char *key, uint64_t v);
/* The name a thread is shown with: its name, "thread TID" without one, and
 * "(tid N)" added when its tid was replaced. */
void wv_cj_thread_label(chrome *c, uint32_t index, char *out, size_t n);
/* thread_name and thread_sort_index of the track `ident` ("pid":P,"tid":T). */
void wv_cj_track_names(chrome *c, const char *ident, size_t len, const char *name, uint64_t sort);
/* thread_sort_index of recorded thread `index`; its runtime tracks follow it. */
static inline uint64_t wv_cj_sort_index(uint32_t index) { return 4ull * index; }

/* chrome_rt.c */
int wv_cj_rt_init(chrome *c);                     /* 0 or -ENOMEM */
void wv_cj_rt_event(chrome *c, const wv_event *ev);
void wv_cj_rt_finish(chrome *c, int64_t end_ns);
void wv_cj_rt_metadata(chrome *c);                /* names of the tracks it used */
void wv_cj_rt_other_data(chrome *c);              /* ,"sched_source":... */
void wv_cj_rt_free(chrome *c);

#endif /* WV_CHROME_INT_H */
