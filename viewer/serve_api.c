/*
 * serve_api.c - query parameters and the descriptive answers of the API:
 * the trace list entry and /summary (docs/http-api.md).
 *
 * Parameters are validated strictly, as the contract says: a number is a
 * decimal integer in range (no sign games, no "12abc", no overflow), and a
 * parameter given twice is an error rather than a guess.
 */
#include <errno.h>
#include <stdlib.h>

#include "serve_json.h"
#include "serve_rt.h"
#include "vocab.h"

/* ---- parameters ----------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes %XX and '+' in place. @return 0, or -1 on a bad escape or a NUL. */
static int url_decode(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (*s == '+') {
            *o++ = ' ';
        } else if (*s == '%') {
            int h = hexval(s[1]), l = h < 0 ? -1 : hexval(s[2]);
            if (l < 0 || (h == 0 && l == 0))
                return -1;
            *o++ = (char)(h << 4 | l);
            s += 2;
        } else {
            *o++ = *s;
        }
    }
    *o = 0;
    return 0;
}

int wv_params_parse(wv_params *p, const char *qs, char *buf, size_t buflen, char *err)
{
    p->n = 0;
    if (!qs || !*qs)
        return 0;
    snprintf(buf, buflen, "%s", qs);
    for (char *save = NULL, *tok = strtok_r(buf, "&", &save); tok; tok = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(tok, '=');
        char *val = eq ? eq + 1 : tok + strlen(tok);
        if (eq)
            *eq = 0;
        if (url_decode(tok) || url_decode(val)) {
            snprintf(err, WV_ERR_MAX, "malformed escape in the query string");
            return -1;
        }
        if (wv_param(p, tok)) {
            snprintf(err, WV_ERR_MAX, "parameter %.40s given more than once", tok);
            return -1;
        }
        if (p->n == WV_MAX_PARAMS) {
            snprintf(err, WV_ERR_MAX, "too many parameters");
            return -1;
        }
        p->key[p->n] = tok;
        p->val[p->n++] = val;
    }
    return 0;
}

const char *wv_param(const wv_params *p, const char *key)
{
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->key[i], key))
            return p->val[i];
    return NULL;
}

/* Strict decimal: optional '-', 1-19 digits, nothing else. */
static int parse_i64(const char *s, int64_t *out)
{
    const char *d = s + (*s == '-');
    size_t n = strspn(d, "0123456789");
    if (!n || d[n] || n > 19)
        return -1;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno)
        return -1;
    *out = v;
    return 0;
}

int wv_param_i64(const wv_params *p, const char *key, int required, int64_t lo, int64_t hi,
                 int64_t def, int64_t *out, char *err)
{
    const char *v = wv_param(p, key);
    if (!v) {
        *out = def;
        if (!required)
            return 0;
        snprintf(err, WV_ERR_MAX, "missing parameter %s", key);
        return -1;
    }
    if (parse_i64(v, out)) {
        snprintf(err, WV_ERR_MAX, "parameter %s must be a decimal integer", key);
        return -1;
    }
    if (*out < lo || *out > hi) {
        snprintf(err, WV_ERR_MAX, "parameter %s must be between %lld and %lld", key, (long long)lo,
                 (long long)hi);
        return -1;
    }
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int wv_param_threads(const wv_params *p, uint32_t **out, size_t *n, char *err)
{
    const char *v = wv_param(p, "threads");
    *out = NULL;
    *n = 0;
    if (!v)
        return 0;
    size_t cap = 1;
    for (const char *s = v; *s; s++)
        cap += *s == ',';
    uint32_t *sel = malloc(cap * sizeof *sel);
    if (!sel) {
        snprintf(err, WV_ERR_MAX, "out of memory");
        return -1;
    }
    for (const char *s = v;;) {
        size_t len = strspn(s, "0123456789");
        int64_t t = 0;
        char num[16];
        if (len && len < sizeof num) {
            memcpy(num, s, len);
            num[len] = 0;
            parse_i64(num, &t);
        }
        if (!len || len >= 11 || t > UINT32_MAX || (s[len] && s[len] != ',')) {
            free(sel);
            snprintf(err, WV_ERR_MAX, "parameter threads must be a comma-separated list of thread indexes");
            return -1;
        }
        sel[(*n)++] = (uint32_t)t;
        if (!s[len])
            break;
        s += len + 1;
    }
    qsort(sel, *n, sizeof *sel, cmp_u32);
    *out = sel;
    return 0;
}

int wv_thread_selected(const uint32_t *sel, size_t n, uint32_t thread)
{
    return !sel || bsearch(&thread, sel, n, sizeof *sel, cmp_u32) != NULL;
}

/* ---- trace list and summary ----------------------------------------------- */

const char *wv_trace_status(const wv_index *x)
{
    if (x->status == WV_FAILED)
        return "damaged";
    return x->status == WV_TRUNCATED || !x->end.present ? "truncated" : "ok";
}

static void put_facts(const wv_trace *t, wv_jw *w)
{
    const wv_index *x = t->x;
    char when[40];
    wv_format_utc(x->hdr.real0_ns, when);
    WV_JW_LIT(w, "\"id\":");
    wv_jw_cstr(w, t->id);
    WV_JNK(w, "name");
    wv_jw_cstr(w, t->name);
    WV_JNK(w, "program");
    wv_jw_cstr(w, x->hdr.program);
    WV_JNK(w, "pid");
    wv_jw_u64(w, x->hdr.pid);
    WV_JNK(w, "recorded_at");
    wv_jw_cstr(w, when);
}

static void put_status(const wv_trace *t, wv_jw *w)
{
    const wv_index *x = t->x;
    WV_JNK(w, "events");
    wv_jw_u64(w, x->events);
    WV_JNK(w, "dropped");
    wv_jw_u64(w, x->dropped);
    WV_JNK(w, "complete");
    wv_jw_bool(w, x->end.present && x->status == WV_OK);
    WV_JNK(w, "status");
    wv_jw_cstr(w, wv_trace_status(x));
    WV_JNK(w, "message");
    wv_jw_cstr(w, x->message);
}

void wv_api_trace_entry(const wv_trace *t, wv_jw *w)
{
    WV_JW_LIT(w, "{");
    put_facts(t, w);
    WV_JNK(w, "duration_ns");
    wv_jw_i64(w, t->x->end_ns);
    WV_JNK(w, "size_bytes");
    wv_jw_u64(w, t->x->file_size);
    WV_JNK(w, "index_bytes");
    wv_jw_u64(w, wv_index_bytes(t->x));
    put_status(t, w);
    WV_JW_LIT(w, "}");
}

static void put_threads(const wv_index *x, wv_jw *w)
{
    WV_JNK(w, "threads");
    WV_JW_LIT(w, "[");
    for (size_t i = 0; i < x->nthreads; i++) {
        const wv_ithread *t = &x->threads[i];
        WV_JW_ITEM(w, i, "{\"thread\":");
        wv_jw_u64(w, t->thread);
        WV_JNK(w, "tid");
        wv_jw_u64(w, t->tid);
        WV_JNK(w, "name");
        wv_jw_cstr(w, t->name);
        WV_JNK(w, "max_depth");
        wv_jw_u64(w, t->nrows);
        WV_JNK(w, "events");
        wv_jw_u64(w, t->events);
        WV_JNK(w, "dropped");
        wv_jw_u64(w, t->dropped);
        WV_JNK(w, "sort");
        wv_jw_u64(w, i);
        wv_rt_put_thread_flags(x, t->thread, w);
        WV_JW_LIT(w, "}");
    }
    WV_JW_LIT(w, "]");
}

/* [{"<key>": name, "count": n}, ...] for string ids counted in `count`, in
 * order of first appearance (`order` lists the ids). */
static void put_counts(const wv_index *x, wv_jw *w, const char *key, const uint64_t *count,
                       const uint32_t *order, size_t n)
{
    WV_JW_LIT(w, "[");
    for (size_t i = 0; i < n; i++) {
        WV_JW_ITEM(w, i, "{\"");
        wv_jw_raw(w, key, strlen(key));
        WV_JW_LIT(w, "\":");
        wv_jw_istr(w, x, order[i]);
        WV_JNK(w, "count");
        wv_jw_u64(w, count[order[i]]);
        WV_JW_LIT(w, "}");
    }
    WV_JW_LIT(w, "]");
}

/* Counts one more of string id `id`, remembering the order of first sight. */
static void tally(const wv_index *x, uint64_t *count, uint32_t *order, size_t *n, uint32_t id)
{
    if (id < x->nstr && !count[id]++)
        order[(*n)++] = id;
}

static int put_types(const wv_index *x, wv_jw *w)
{
    uint64_t *count = calloc(x->nstr + 1, sizeof *count);
    uint32_t *order = malloc((x->nstr + 1) * sizeof *order);
    size_t n = 0;
    if (!count || !order) {
        free(count);
        free(order);
        return -1;
    }
    for (size_t i = 0; i < x->ntasks; i++)
        tally(x, count, order, &n, x->tasks[i].type);
    WV_JNK(w, "task_types");
    put_counts(x, w, "type", count, order, n);
    memset(count, 0, x->nstr * sizeof *count);
    n = 0;
    for (size_t r = 0; r < x->nrows; r++)
        for (size_t i = 0; i < x->rows[r].n; i++)
            tally(x, count, order, &n, x->rows[r].sl[i].name);
    WV_JNK(w, "region_types");
    put_counts(x, w, "type", count, order, n);
    memset(count, 0, x->nstr * sizeof *count);
    n = 0;
    for (size_t i = 0; i < x->nlogs; i++)
        tally(x, count, order, &n, x->logs[i].category);
    WV_JNK(w, "log_categories");
    put_counts(x, w, "category", count, order, n);
    free(count);
    free(order);
    return 0;
}

static void put_diags(const wv_index *x, wv_jw *w)
{
    WV_JNK(w, "diagnostics");
    WV_JW_LIT(w, "[");
    for (size_t i = 0; i < x->ndiags; i++) {
        const wv_idiag *d = &x->diags[i];
        const char *kind = wv_diag_name(d->kind), *text = wv_diag_text(d->kind);
        WV_JW_ITEM(w, i, "{\"kind\":");
        wv_jw_cstr(w, kind ? kind : "UNKNOWN");
        WV_JNK(w, "text");
        wv_jw_cstr(w, text ? text : "diagnostic kind unknown to this weft");
        WV_JNK(w, "name");
        wv_jw_istr(w, x, d->name);
        WV_JNK(w, "thread");
        wv_jw_u64(w, d->thread);
        WV_JNK(w, "first_ns");
        wv_jw_i64(w, d->first_ns);
        WV_JNK(w, "count");
        wv_jw_u64(w, d->count);
        WV_JW_LIT(w, "}");
    }
    WV_JW_LIT(w, "]");
}

int wv_api_summary(wv_trace *t, const wv_params *p, wv_jw *w, char *err)
{
    const wv_index *x = t->x;
    WV_JW_LIT(w, "{");
    put_facts(t, w);
    WV_JNK(w, "clock");
    wv_jw_cstr(w, wv_clock_name(x->hdr.clock));
    WV_JNK(w, "start_ns");
    WV_JW_LIT(w, "0");
    WV_JNK(w, "end_ns");
    wv_jw_i64(w, x->end_ns);
    WV_JNK(w, "end_reason");
    if (x->end.present)
        wv_jw_cstr(w, wv_end_reason_name(x->end.reason));
    else
        WV_JW_LIT(w, "null");
    put_status(t, w);
    wv_rt_put_summary(x, w);
    put_threads(x, w);
    WV_JNK(w, "counters");
    WV_JW_LIT(w, "[");
    for (size_t i = 0; i < x->ncounters; i++) {
        const wv_icounter *c = &x->counters[i];
        WV_JW_ITEM(w, i, "{\"name\":");
        wv_jw_istr(w, x, c->name);
        WV_JNK(w, "min");
        wv_jw_i64(w, c->min);
        WV_JNK(w, "max");
        wv_jw_i64(w, c->max);
        WV_JNK(w, "samples");
        wv_jw_u64(w, c->n);
        WV_JW_LIT(w, "}");
    }
    WV_JW_LIT(w, "]");
    if (put_types(x, w)) {
        snprintf(err, WV_ERR_MAX, "out of memory");
        return 500;
    }
    put_diags(x, w);
    WV_JNK(w, "has");
    WV_JW_LIT(w, "{\"tasks\":");
    wv_jw_bool(w, x->ntasks > 0);
    WV_JNK(w, "regions");
    wv_jw_bool(w, x->nslices > 0);
    WV_JNK(w, "logs");
    wv_jw_bool(w, x->nlogs > 0);
    WV_JNK(w, "counters");
    wv_jw_bool(w, x->ncounters > 0);
    wv_rt_put_has(x, w);
    WV_JW_LIT(w, "}}\n");
    return 200;
}
