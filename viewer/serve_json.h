/*
 * serve_json.h - what the API handlers of `weft serve` share: the parsed
 * query parameters with their strict validation (docs/http-api.md: decimal
 * integers in range, a repeated parameter is an error), the handler
 * signature, and shorthands over the streaming JSON writer (jsonw.h).
 *
 * Handlers never see civetweb: they read a wv_params and write JSON to a
 * wv_jw, so the HTTP layer (serve_http.c) owns every socket concern and the
 * tests can reason about answers alone.
 */
#ifndef WV_SERVE_JSON_H
#define WV_SERVE_JSON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "jsonw.h"
#include "serve_index.h"

#define WV_MAX_PARAMS 16
#define WV_ERR_MAX 200

typedef struct wv_params {
    int n;
    char *key[WV_MAX_PARAMS];
    char *val[WV_MAX_PARAMS]; /* URL-decoded, NUL-terminated */
} wv_params;

/* Parses a query string (may be NULL) into p, decoding in a copy kept in
 * `buf` (at least strlen(qs)+1 bytes). @return 0, or -1 with err set (a
 * repeated parameter, too many, a NUL in a value). */
int wv_params_parse(wv_params *p, const char *qs, char *buf, size_t buflen, char *err);
/* The value of key, NULL if absent. */
const char *wv_param(const wv_params *p, const char *key);
/* Parses key as a decimal integer in [lo, hi]; when absent, *out = def and
 * 0 is returned if `required` is 0. @return 0 or -1 with err set. */
int wv_param_i64(const wv_params *p, const char *key, int required, int64_t lo, int64_t hi,
                 int64_t def, int64_t *out, char *err);

/* A trace as the server holds it. */
typedef struct wv_trace {
    char id[16];
    char name[256];
    int fd;           /* the file, kept open for the JSON download */
    wv_index *x;      /* valid once `ready` is 1 */
    pthread_t warm;   /* builds the index's lazy parts after publication */
    int warming;
    int window_served, stopping; /* under ready_lock: wake the warm-up */
    /* `weft serve FILE` listens before its traces are indexed, so the browser
     * loads the page while the index builds; requests for a trace wait here
     * until it is ready (1) or failed (-1). */
    _Atomic int ready;
    pthread_mutex_t ready_lock;
    pthread_cond_t ready_cv;
    struct wv_reader *pending; /* the opened file, until it is indexed */
} wv_trace;

/* Waits until the trace is indexed. @return 1, or -1 if indexing failed. */
int wv_trace_wait(wv_trace *t);
/* A /window answer of the trace was sent: the UI has what it draws first. */
void wv_trace_window_served(wv_trace *t);

/* A handler writes a 200 answer to w and returns 200, or returns an error
 * status with a one-line message in err (what it wrote is then discarded). */
typedef int (*wv_handler)(wv_trace *t, const wv_params *p, wv_jw *w, char *err);

/* The handlers (serve_window.c, serve_api.c, serve_stats.c). */
int wv_api_summary(wv_trace *t, const wv_params *p, wv_jw *w, char *err);
int wv_api_window(wv_trace *t, const wv_params *p, wv_jw *w, char *err);
int wv_api_slice(wv_trace *t, const wv_params *p, wv_jw *w, char *err);
int wv_api_logs(wv_trace *t, const wv_params *p, wv_jw *w, char *err);
int wv_api_search(wv_trace *t, const wv_params *p, wv_jw *w, char *err);
int wv_api_aggregate(wv_trace *t, const wv_params *p, wv_jw *w, char *err);
int wv_api_tasks(wv_trace *t, const wv_params *p, wv_jw *w, char *err);
int wv_api_regions(wv_trace *t, const wv_params *p, wv_jw *w, char *err);
int wv_api_wait(wv_trace *t, const wv_params *p, wv_jw *w, char *err);     /* serve_rt_api.c */
int wv_api_blocking(wv_trace *t, const wv_params *p, wv_jw *w, char *err); /* serve_blocking.c */
/* The fields of a slice: "i","s","d","depth","name","task","flags" (no braces). */
void wv_put_slice(wv_jw *w, const wv_index *x, const wv_row *r, size_t pos);
/* One entry of /api/traces (also the answer to an upload). */
void wv_api_trace_entry(const wv_trace *t, wv_jw *w);

/* Parses `threads=1,2,5` into a sorted list (malloc'd in *out, NULL when the
 * parameter is absent). @return 0 or -1 with err set. */
int wv_param_threads(const wv_params *p, uint32_t **out, size_t *n, char *err);
int wv_thread_selected(const uint32_t *sel, size_t n, uint32_t thread);

/* A list item: "," unless it is the first, then the literal. (A literal
 * chosen with ?: cannot go to WV_JW_LIT, whose sizeof would see a pointer.) */
#define WV_JW_ITEM(w, not_first, lit)                                                       \
    do {                                                                                   \
        if (not_first)                                                                     \
            WV_JW_LIT(w, ",");                                                             \
        WV_JW_LIT(w, lit);                                                                 \
    } while (0)

/* "key": */
#define WV_JK(w, k) WV_JW_LIT(w, "\"" k "\":")
/* ,"key": */
#define WV_JNK(w, k) WV_JW_LIT(w, ",\"" k "\":")

static inline void wv_jw_cstr(wv_jw *w, const char *s) { wv_jw_str(w, s, strlen(s)); }

/* A string of the index by id. */
static inline void wv_jw_istr(wv_jw *w, const wv_index *x, uint64_t id)
{
    size_t len;
    const char *s = wv_index_str(x, id, &len);
    wv_jw_str(w, s, len);
}

static inline void wv_jw_bool(wv_jw *w, int v)
{
    if (v)
        WV_JW_LIT(w, "true");
    else
        WV_JW_LIT(w, "false");
}

/* The status word of a trace: "ok", "truncated" or "damaged". */
const char *wv_trace_status(const wv_index *x);

#endif /* WV_SERVE_JSON_H */
