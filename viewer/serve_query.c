/*
 * serve_query.c - the answers about individual things: one slice (/slice),
 * log listings (/logs) and text search (/search) (docs/http-api.md).
 *
 * These are not bounded by the screen like /window: /logs and /search scan
 * the logs or slices once (a few milliseconds per million), which is what a
 * user waits for after typing a query; their answers are bounded by limit.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdlib.h>

#include "serve_json.h"

#define SLICE_LIST_MAX 1000

/* Case-insensitive (ASCII) substring search in n bytes. */
static int ci_contains(const char *hay, size_t n, const char *needle, size_t m)
{
    if (m > n)
        return 0;
    for (size_t i = 0; i + m <= n; i++) {
        size_t k = 0;
        while (k < m && tolower((unsigned char)hay[i + k]) == tolower((unsigned char)needle[k]))
            k++;
        if (k == m)
            return 1;
    }
    return 0;
}

static void put_log(wv_jw *w, const wv_index *x, uint32_t i, int with_i, int *first)
{
    const wv_ilog *l = &x->logs[i];
    const wv_ithread *t = wv_index_thread(x, l->thread);
    WV_JW_ITEM(w, !*first, "{");
    *first = 0;
    if (with_i) {
        WV_JK(w, "i");
        wv_jw_u64(w, i);
        WV_JW_LIT(w, ",");
    }
    WV_JK(w, "t");
    wv_jw_i64(w, l->t);
    WV_JNK(w, "thread");
    wv_jw_u64(w, l->thread);
    WV_JNK(w, "tid");
    wv_jw_u64(w, t ? t->tid : 0);
    WV_JNK(w, "task");
    wv_jw_u64(w, l->task);
    WV_JNK(w, "category");
    wv_jw_istr(w, x, l->category);
    WV_JNK(w, "message");
    wv_jw_str(w, x->log_text + l->msg, l->msg_len);
    WV_JW_LIT(w, "}");
}

/* ---- /slice --------------------------------------------------------------- */

void wv_put_slice(wv_jw *w, const wv_index *x, const wv_row *r, size_t pos)
{
    const wv_slice *s = &r->sl[pos];
    WV_JK(w, "i");
    wv_jw_u64(w, r->base + pos);
    WV_JNK(w, "s");
    wv_jw_i64(w, s->s);
    WV_JNK(w, "d");
    wv_jw_i64(w, s->d);
    WV_JNK(w, "depth");
    wv_jw_u64(w, r->depth);
    WV_JNK(w, "name");
    wv_jw_istr(w, x, s->name);
    WV_JNK(w, "task");
    wv_jw_u64(w, wv_slice_task(x, s));
    WV_JNK(w, "flags");
    wv_jw_u64(w, s->flags);
}

static void put_ref(wv_jw *w, const wv_index *x, const wv_row *r, size_t pos, int with_time)
{
    const wv_slice *s = &r->sl[pos];
    WV_JW_LIT(w, "{\"i\":");
    wv_jw_u64(w, r->base + pos);
    WV_JNK(w, "name");
    wv_jw_istr(w, x, s->name);
    if (with_time) {
        WV_JNK(w, "s");
        wv_jw_i64(w, s->s);
        WV_JNK(w, "d");
        wv_jw_i64(w, s->d);
    }
    WV_JW_LIT(w, "}");
}

static const wv_row *row_at(const wv_index *x, uint32_t thread, uint32_t depth)
{
    const wv_ithread *t = wv_index_thread(x, thread);
    return t && depth < t->nrows ? &x->rows[t->rows[depth]] : NULL;
}

static void put_family(wv_jw *w, const wv_index *x, const wv_row *r, const wv_slice *s, int64_t *self)
{
    const wv_row *up = r->depth ? row_at(x, r->thread, r->depth - 1) : NULL;
    WV_JNK(w, "parent");
    size_t p = up ? wv_lower_bound(&up->sl[0].s, up->n, sizeof *up->sl, s->s + 1) : 0;
    if (p && up->sl[p - 1].s + up->sl[p - 1].d >= s->s + s->d)
        put_ref(w, x, up, p - 1, 0);
    else
        WV_JW_LIT(w, "null");
    const wv_row *down = row_at(x, r->thread, r->depth + 1);
    WV_JNK(w, "children");
    WV_JW_LIT(w, "[");
    *self = s->d;
    size_t listed = 0;
    for (size_t c = down ? wv_lower_bound(&down->sl[0].s, down->n, sizeof *down->sl, s->s) : 0;
         down && c < down->n && down->sl[c].s < s->s + s->d; c++) {
        *self -= down->sl[c].d;
        if (listed++ < SLICE_LIST_MAX) {
            if (listed > 1)
                WV_JW_LIT(w, ",");
            put_ref(w, x, down, c, 1);
        }
    }
    WV_JW_LIT(w, "]");
}

int wv_api_slice(wv_trace *t, const wv_params *p, wv_jw *w, char *err)
{
    wv_index *x = t->x;
    int64_t i;
    size_t pos;
    if (wv_param_i64(p, "i", 1, 0, INT64_MAX, 0, &i, err))
        return 400;
    const wv_row *r = wv_index_slice(x, (uint64_t)i, &pos);
    if (!r) {
        snprintf(err, WV_ERR_MAX, "no slice %lld in this trace", (long long)i);
        return 404;
    }
    const wv_slice *s = &r->sl[pos];
    uint64_t task = wv_slice_task(x, s);
    const wv_itask *k = wv_index_task(x, task);
    WV_JW_LIT(w, "{");
    wv_put_slice(w, x, r, pos);
    WV_JNK(w, "thread");
    wv_jw_u64(w, r->thread);
    WV_JNK(w, "tid");
    wv_jw_u64(w, wv_index_thread(x, r->thread)->tid);
    WV_JNK(w, "task_type");
    if (k)
        wv_jw_istr(w, x, k->type);
    else
        WV_JW_LIT(w, "null");
    int64_t self;
    put_family(w, x, r, s, &self);
    WV_JNK(w, "self_ns");
    wv_jw_i64(w, self);
    WV_JNK(w, "task_span");
    if (k) {
        WV_JW_LIT(w, "{\"s\":");
        wv_jw_i64(w, k->s);
        WV_JNK(w, "e");
        wv_jw_i64(w, k->e);
        WV_JW_LIT(w, "}");
    } else {
        WV_JW_LIT(w, "null");
    }
    WV_JNK(w, "logs");
    WV_JW_LIT(w, "[");
    int first = 1;
    if (task) {
        size_t n;
        const uint32_t *l = wv_index_task_logs(x, task, &n);
        for (size_t j = 0; l && j < n && j < SLICE_LIST_MAX; j++)
            put_log(w, x, l[j], 0, &first);
    } else {
        const wv_ithread *th = wv_index_thread(x, r->thread);
        size_t listed = 0;
        for (size_t j = 0; j < th->nlogs && listed < SLICE_LIST_MAX; j++) {
            const wv_ilog *l = &x->logs[th->logs[j]];
            if (l->t >= s->s && l->t <= s->s + s->d && ++listed)
                put_log(w, x, th->logs[j], 0, &first);
        }
    }
    WV_JW_LIT(w, "]}\n");
    return 200;
}

/* ---- /logs ---------------------------------------------------------------- */

int wv_api_logs(wv_trace *t, const wv_params *p, wv_jw *w, char *err)
{
    wv_index *x = t->x;
    int64_t task, offset, limit;
    if (wv_param_i64(p, "task", 0, 0, INT64_MAX, -1, &task, err) ||
        wv_param_i64(p, "offset", 0, 0, INT64_MAX, 0, &offset, err) ||
        wv_param_i64(p, "limit", 0, 1, 5000, 200, &limit, err))
        return 400;
    const char *cat = wv_param(p, "category"), *text = wv_param(p, "text");
    size_t tlen = text ? strlen(text) : 0, n = x->nlogs;
    const uint32_t *list = NULL;
    if (task > 0) /* only that task's logs need looking at */
        list = wv_index_task_logs(x, (uint64_t)task, &n);
    uint64_t total = 0;
    int first = 1;
    WV_JW_LIT(w, "{\"logs\":[");
    for (size_t j = 0; j < n; j++) {
        uint32_t i = list ? list[j] : (uint32_t)j;
        const wv_ilog *l = &x->logs[i];
        if ((task >= 0 && l->task != (uint64_t)task) ||
            (cat && strcmp(wv_index_str(x, l->category, NULL), cat)) ||
            (text && !ci_contains(x->log_text + l->msg, l->msg_len, text, tlen)))
            continue;
        if (total >= (uint64_t)offset && total < (uint64_t)offset + (uint64_t)limit)
            put_log(w, x, i, 1, &first);
        total++;
    }
    WV_JW_LIT(w, "],\"total\":");
    wv_jw_u64(w, total);
    WV_JNK(w, "offset");
    wv_jw_i64(w, offset);
    WV_JW_LIT(w, "}\n");
    return 200;
}

/* ---- /search -------------------------------------------------------------- */

int wv_api_search(wv_trace *t, const wv_params *p, wv_jw *w, char *err)
{
    wv_index *x = t->x;
    const char *q = wv_param(p, "q");
    int64_t limit;
    if (wv_param_i64(p, "limit", 0, 1, 10000, 1000, &limit, err))
        return 400;
    size_t qlen = q ? strlen(q) : 0;
    if (!qlen || qlen > 200) {
        snprintf(err, WV_ERR_MAX, "parameter q must be 1 to 200 bytes");
        return 400;
    }
    /* names are string ids: match each name once, then test ids */
    uint8_t *hit = calloc(x->nstr + 1, 1);
    if (!hit) {
        snprintf(err, WV_ERR_MAX, "out of memory");
        return 500;
    }
    for (uint32_t k = 1; k < x->nstr; k++) {
        size_t len;
        const char *s = wv_index_str(x, k, &len);
        hit[k] = (uint8_t)ci_contains(s, len, q, qlen);
    }
    WV_JW_LIT(w, "{\"q\":");
    wv_jw_str(w, q, qlen);
    WV_JNK(w, "slices");
    WV_JW_LIT(w, "[");
    uint64_t total = 0;
    for (size_t r = 0; r < x->nrows; r++) {
        const wv_row *row = &x->rows[r];
        for (size_t i = 0; i < row->n; i++) {
            const wv_slice *s = &row->sl[i];
            if (s->name >= x->nstr || !hit[s->name] || total++ >= (uint64_t)limit)
                continue;
            WV_JW_ITEM(w, total > 1, "{");
            wv_put_slice(w, x, row, i);
            WV_JNK(w, "thread");
            wv_jw_u64(w, row->thread);
            WV_JW_LIT(w, "}");
        }
    }
    free(hit);
    WV_JW_LIT(w, "],\"logs\":[");
    uint64_t logs = 0;
    int first = 1;
    for (uint32_t i = 0; i < x->nlogs; i++) {
        const wv_ilog *l = &x->logs[i];
        if (!ci_contains(x->log_text + l->msg, l->msg_len, q, qlen) || logs++ >= (uint64_t)limit)
            continue;
        put_log(w, x, i, 1, &first);
    }
    WV_JW_LIT(w, "],\"total_slices\":");
    wv_jw_u64(w, total);
    WV_JNK(w, "total_logs");
    wv_jw_u64(w, logs);
    WV_JW_LIT(w, "}\n");
    return 200;
}
