/*
 * chrome.c - the Chrome trace-event JSON writer behind `weft json`.
 *
 * It is a sink of the model (model.h): every callback formats one event
 * object straight into the JSON writer. The hot path avoids re-escaping
 * names: each string id is quoted once and cached, and each thread's
 * `"pid":P,"tid":T` text is built once.
 *
 * Thread ids: Perfetto wants 32-bit, non-zero tids, and merges threads that
 * share one. A recorded tid that is 0, above INT32_MAX, or already used by an
 * earlier thread of the file (Linux reuses the tids of exited threads) is
 * replaced by 0x40000000 + its thread index, above any Linux tid
 * (PID_MAX_LIMIT is 2^22), and its name says which OS tid it had.
 */
#include "chrome.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chrome_int.h"

/* ---- cached names and thread identities ---------------------------------- */

static void quoted_uncached(chrome *c, uint64_t id)
{
    size_t n;
    const char *s = wv_reader_string(c->r, id, &n);
    wv_jw_str(&c->w, s, n);
}

/* Appends the quoted text of string `id`. */
void wv_cj_name(chrome *c, uint64_t id)
{
    if (id >= WV_MAX_STRINGS + 1u)
        return quoted_uncached(c, id);
    if (id >= c->names_cap) {
        uint32_t cap = c->names_cap ? c->names_cap : 256;
        while (cap <= id)
            cap *= 2;
        qname *q = realloc(c->names, cap * sizeof *q);
        if (!q)
            return c->oom = 1, quoted_uncached(c, id);
        memset(q + c->names_cap, 0, (cap - c->names_cap) * sizeof *q);
        c->names = q, c->names_cap = cap;
    }
    qname *q = &c->names[id];
    if (!q->s) {
        size_t n;
        const char *s = wv_reader_string(c->r, id, &n);
        if (!(q->s = malloc(wv_json_quoted_max(n))))
            return c->oom = 1, quoted_uncached(c, id);
        q->len = (uint32_t)wv_json_quote(q->s, s, n);
    }
    wv_jw_raw(&c->w, q->s, q->len);
}

static int tid_used(chrome *c, uint32_t tid)
{
    for (uint32_t i = tid * 2654435761u & (c->tid_cap - 1); c->tids[i]; i = (i + 1) & (c->tid_cap - 1))
        if (c->tids[i] == tid)
            return 1;
    return 0;
}

static void tid_insert(uint32_t *tab, uint32_t cap, uint32_t tid)
{
    uint32_t i = tid * 2654435761u & (cap - 1);
    while (tab[i])
        i = (i + 1) & (cap - 1);
    tab[i] = tid;
}

/* Remembers a tid handed out; the set stays at most half full. */
static void tid_add(chrome *c, uint32_t tid)
{
    if (2 * (c->ntids + 1) > c->tid_cap) {
        uint32_t cap = c->tid_cap * 2, *n = calloc(cap, sizeof *n);
        if (!n) {
            c->oom = 1;
            return;
        }
        for (uint32_t i = 0; i < c->tid_cap; i++)
            if (c->tids[i])
                tid_insert(n, cap, c->tids[i]);
        free(c->tids);
        c->tids = n, c->tid_cap = cap;
    }
    tid_insert(c->tids, c->tid_cap, tid);
    c->ntids++;
}

jthread *wv_cj_thread(chrome *c, uint32_t index)
{
    static jthread fallback;
    if (index >= c->nth) {
        uint32_t n = c->nth ? c->nth : 16;
        while (n <= index)
            n *= 2;
        jthread *t = realloc(c->th, n * sizeof *t);
        if (!t) {
            c->oom = 1;
            fallback = (jthread){"\"pid\":0,\"tid\":1", 15, 1, 1};
            return &fallback;
        }
        memset(t + c->nth, 0, (n - c->nth) * sizeof *t);
        c->th = t, c->nth = n;
    }
    jthread *t = &c->th[index];
    if (!t->len) {
        uint64_t os = wv_reader_thread(c->r, index)->tid;
        t->tid = (uint32_t)os;
        if (os == 0 || os > INT32_MAX || tid_used(c, (uint32_t)os)) {
            t->tid = SYNTH_TID + index;
            while (tid_used(c, t->tid))
                t->tid++;
            t->remapped = 1;
        }
        tid_add(c, t->tid);
        char *p = t->ident;
        memcpy(p, "\"pid\":", 6);
        p = wv_fmt_u64(p + 6, c->pid);
        memcpy(p, ",\"tid\":", 7);
        p = wv_fmt_u64(p + 7, t->tid);
        t->len = (uint8_t)(p - t->ident);
    }
    return t;
}

void wv_cj_ident(chrome *c, uint32_t thread)
{
    jthread *t = wv_cj_thread(c, thread);
    wv_jw_raw(&c->w, t->ident, t->len);
}

/* ---- event objects ------------------------------------------------------- */

/* Starts an event object: the separator, then `prefix` (which opens it). */
void wv_cj_open(chrome *c, const char *prefix, size_t n)
{
    if (!c->first)
        WV_JW_LIT(&c->w, ",\n");
    c->first = 0;
    wv_jw_raw(&c->w, prefix, n);
}

void wv_cj_ts(chrome *c, int64_t ns)
{
    WV_JW_LIT(&c->w, ",\"ts\":");
    wv_jw_us(&c->w, ns);
}

/* Task ids as strings: they may pass 2^53, past what JavaScript keeps exact. */
static void put_task_id(chrome *c, uint64_t id)
{
    WV_JW_LIT(&c->w, "\"");
    wv_jw_u64(&c->w, id);
    WV_JW_LIT(&c->w, "\"");
}

static void on_region(void *ctx, const wv_span *s)
{
    chrome *c = ctx;
    CJ_OPEN(c, "{\"ph\":\"X\",\"cat\":\"region\",\"name\":");
    wv_cj_name(c, s->type);
    WV_JW_LIT(&c->w, ",");
    wv_cj_ident(c, s->thread);
    wv_cj_ts(c, s->start_ns);
    WV_JW_LIT(&c->w, ",\"dur\":");
    wv_jw_us(&c->w, s->end_ns - s->start_ns);
    WV_JW_LIT(&c->w, ",\"args\":{\"task\":");
    put_task_id(c, s->task);
    if (s->flags & WV_SPAN_NOT_ENDED)
        WV_JW_LIT(&c->w, ",\"did_not_end\":true");
    if (s->flags & WV_SPAN_END_LOST)
        WV_JW_LIT(&c->w, ",\"end_lost\":true");
    if (s->flags & WV_SPAN_ENDED_WITH_OUTER)
        WV_JW_LIT(&c->w, ",\"ended_with_outer\":true");
    WV_JW_LIT(&c->w, "}}");
}

static void task_common(chrome *c, const wv_task_mark *t)
{
    wv_cj_name(c, t->type);
    WV_JW_LIT(&c->w, ",\"id\":");
    put_task_id(c, t->task);
    WV_JW_LIT(&c->w, ",");
    wv_cj_ident(c, t->thread);
    wv_cj_ts(c, t->ns);
}

static void on_task_begin(void *ctx, const wv_task_mark *t)
{
    chrome *c = ctx;
    CJ_OPEN(c, "{\"ph\":\"b\",\"cat\":\"task\",\"name\":");
    task_common(c, t);
    WV_JW_LIT(&c->w, ",\"args\":{\"parent\":");
    put_task_id(c, t->parent);
    WV_JW_LIT(&c->w, "}}");
}

static void on_task_end(void *ctx, const wv_task_mark *t)
{
    chrome *c = ctx;
    CJ_OPEN(c, "{\"ph\":\"e\",\"cat\":\"task\",\"name\":");
    task_common(c, t);
    if (t->unfinished)
        WV_JW_LIT(&c->w, ",\"args\":{\"unfinished\":true}");
    WV_JW_LIT(&c->w, "}");
}

static void flow_end(chrome *c, const wv_flow *f, uint32_t thread, int64_t ns)
{
    wv_cj_name(c, f->type);
    WV_JW_LIT(&c->w, ",\"id\":");
    wv_jw_u64(&c->w, f->id);
    WV_JW_LIT(&c->w, ",");
    wv_cj_ident(c, thread);
    wv_cj_ts(c, ns);
    WV_JW_LIT(&c->w, "}");
}

static void on_flow(void *ctx, const wv_flow *f)
{
    chrome *c = ctx;
    CJ_OPEN(c, "{\"ph\":\"s\",\"cat\":\"task_flow\",\"name\":");
    flow_end(c, f, f->from_thread, f->from_ns);
    CJ_OPEN(c, "{\"ph\":\"f\",\"bp\":\"e\",\"cat\":\"task_flow\",\"name\":");
    flow_end(c, f, f->to_thread, f->to_ns);
}

static void on_log(chrome *c, const wv_event *ev)
{
    CJ_OPEN(c, "{\"ph\":\"i\",\"s\":\"t\",\"cat\":\"log\",\"name\":");
    if (ev->arg[1])
        wv_cj_name(c, ev->arg[1]);
    else
        WV_JW_LIT(&c->w, "\"log\"");
    WV_JW_LIT(&c->w, ",");
    wv_cj_ident(c, ev->thread);
    wv_cj_ts(c, ev->ns);
    WV_JW_LIT(&c->w, ",\"args\":{\"task\":");
    put_task_id(c, ev->arg[0]);
    WV_JW_LIT(&c->w, ",\"category\":");
    wv_cj_name(c, ev->arg[1]);
    WV_JW_LIT(&c->w, ",\"message\":");
    wv_jw_str(&c->w, ev->data, ev->data_len);
    WV_JW_LIT(&c->w, "}}");
}

static void on_counter(chrome *c, const wv_event *ev)
{
    CJ_OPEN(c, "{\"ph\":\"C\",\"name\":");
    wv_cj_name(c, ev->arg[0]);
    WV_JW_LIT(&c->w, ",");
    wv_cj_ident(c, ev->thread);
    wv_cj_ts(c, ev->ns);
    WV_JW_LIT(&c->w, ",\"args\":{\"value\":");
    wv_jw_i64(&c->w, (int64_t)ev->arg[1]);
    WV_JW_LIT(&c->w, "}}");
}

/* Drops show where data is missing in the timeline. */
static void on_drop(chrome *c, const wv_event *ev)
{
    CJ_OPEN(c, "{\"ph\":\"i\",\"s\":\"t\",\"cat\":\"weft\",\"name\":\"events dropped\",");
    wv_cj_ident(c, ev->thread);
    wv_cj_ts(c, ev->ns);
    WV_JW_LIT(&c->w, ",\"args\":{\"count\":");
    wv_jw_u64(&c->w, ev->arg[0]);
    WV_JW_LIT(&c->w, "}}");
}

static void on_event(void *ctx, const wv_event *ev)
{
    chrome *c = ctx;
    if (ev->code == WEFT_EV_LOG)
        on_log(c, ev);
    else if (ev->code == WEFT_EV_COUNTER)
        on_counter(c, ev);
    else if (ev->code == WEFT_EV_DROP)
        on_drop(c, ev);
    wv_cj_rt_event(c, ev);
}

/* ---- metadata and otherData ---------------------------------------------- */

void wv_cj_key_str(chrome *c, const char *key, const char *s)
{
    wv_jw_str(&c->w, key, strlen(key));
    WV_JW_LIT(&c->w, ":");
    wv_jw_str(&c->w, s, strlen(s));
}

void wv_cj_key_u64(chrome *c, const char *key, uint64_t v)
{
    wv_jw_str(&c->w, key, strlen(key));
    WV_JW_LIT(&c->w, ":");
    wv_jw_u64(&c->w, v);
}

void wv_cj_thread_label(chrome *c, uint32_t index, char *out, size_t n)
{
    const wv_thread *t = wv_reader_thread(c->r, index);
    if (!t->name[0])
        snprintf(out, n, "thread %llu", (unsigned long long)t->tid);
    else if (wv_cj_thread(c, index)->remapped)
        snprintf(out, n, "%s (tid %llu)", t->name, (unsigned long long)t->tid);
    else
        snprintf(out, n, "%s", t->name);
}

void wv_cj_track_names(chrome *c, const char *ident, size_t len, const char *name, uint64_t sort)
{
    CJ_OPEN(c, "{\"ph\":\"M\",\"name\":\"thread_name\",");
    wv_jw_raw(&c->w, ident, len);
    WV_JW_LIT(&c->w, ",\"args\":{\"name\":");
    wv_jw_str(&c->w, name, strlen(name));
    WV_JW_LIT(&c->w, "}}");
    CJ_OPEN(c, "{\"ph\":\"M\",\"name\":\"thread_sort_index\",");
    wv_jw_raw(&c->w, ident, len);
    WV_JW_LIT(&c->w, ",\"args\":{\"sort_index\":");
    wv_jw_u64(&c->w, sort);
    WV_JW_LIT(&c->w, "}}");
}

static void thread_metadata(chrome *c, uint32_t i)
{
    char name[WV_MAX_NAME + 64];
    wv_cj_thread_label(c, i, name, sizeof name);
    jthread *j = wv_cj_thread(c, i);
    wv_cj_track_names(c, j->ident, j->len, name, wv_cj_sort_index(i));
}

static void metadata(chrome *c)
{
    const weft_header *h = wv_reader_header(c->r);
    char name[sizeof h->program + 32];
    snprintf(name, sizeof name, "%s (pid %u)", h->program[0] ? h->program : "weft", h->pid);
    CJ_OPEN(c, "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":");
    wv_jw_u64(&c->w, c->pid);
    WV_JW_LIT(&c->w, ",\"args\":{\"name\":");
    wv_jw_str(&c->w, name, strlen(name));
    WV_JW_LIT(&c->w, "}}");
    CJ_OPEN(c, "{\"ph\":\"M\",\"name\":\"process_sort_index\",\"pid\":");
    wv_jw_u64(&c->w, c->pid);
    WV_JW_LIT(&c->w, ",\"args\":{\"sort_index\":0}}");
    for (uint32_t i = 0; i < wv_reader_thread_count(c->r); i++) {
        const wv_thread *t = wv_reader_thread(c->r, i);
        if (t->registered || t->events)
            thread_metadata(c, i);
    }
    wv_cj_rt_metadata(c);
}

static void dropped_by_thread(chrome *c)
{
    int in_end = wv_reader_end(c->r)->present, first = 1;
    WV_JW_LIT(&c->w, ",\"dropped_by_thread\":{");
    for (uint32_t i = 0; i < wv_reader_thread_count(c->r); i++) {
        const wv_thread *t = wv_reader_thread(c->r, i);
        uint64_t d = in_end ? t->end_dropped : wv_model_dropped(c->m, i);
        if (!d)
            continue;
        if (!first)
            WV_JW_LIT(&c->w, ",");
        first = 0;
        WV_JW_LIT(&c->w, "\"");
        wv_jw_u64(&c->w, wv_cj_thread(c, i)->tid);
        WV_JW_LIT(&c->w, "\":");
        wv_jw_u64(&c->w, d);
    }
    WV_JW_LIT(&c->w, "}");
}

static void diagnostic(chrome *c, const wv_diag *d)
{
    const char *kind = wv_diag_name(d->kind), *text = wv_diag_text(d->kind);
    char unknown[40];
    if (!kind) {
        snprintf(unknown, sizeof unknown, "UNKNOWN_%llu", (unsigned long long)d->kind);
        kind = unknown;
        text = "diagnostic kind unknown to this weft";
    }
    WV_JW_LIT(&c->w, "{");
    wv_cj_key_str(c, "kind", kind);
    WV_JW_LIT(&c->w, ",\"name\":");
    if (d->name)
        wv_cj_name(c, d->name);
    else
        WV_JW_LIT(&c->w, "null");
    WV_JW_LIT(&c->w, ",");
    wv_cj_key_str(c, "text", text);
    WV_JW_LIT(&c->w, ",\"tid\":");
    wv_jw_u64(&c->w, wv_cj_thread(c, d->thread)->tid);
    wv_cj_ts(c, d->first_ns);
    WV_JW_LIT(&c->w, ",\"count\":");
    wv_jw_u64(&c->w, d->count);
    WV_JW_LIT(&c->w, "}");
}

static void other_data(chrome *c)
{
    const weft_header *h = wv_reader_header(c->r);
    const wv_end *e = wv_reader_end(c->r);
    char when[40];
    wv_format_utc(h->real0_ns, when);
    WV_JW_LIT(&c->w, "\n],\n\"displayTimeUnit\":\"ns\",\n\"otherData\":{");
    wv_cj_key_str(c, "weft_version", h->weft_version);
    WV_JW_LIT(&c->w, ",");
    wv_cj_key_u64(c, "format_version", h->version);
    WV_JW_LIT(&c->w, ",");
    wv_cj_key_str(c, "clock", wv_clock_name(h->clock));
    WV_JW_LIT(&c->w, ",");
    wv_cj_key_str(c, "program", h->program);
    WV_JW_LIT(&c->w, ",");
    wv_cj_key_u64(c, "pid", h->pid);
    WV_JW_LIT(&c->w, ",");
    wv_cj_key_str(c, "recorded_at", when);
    WV_JW_LIT(&c->w, ",\"complete\":");
    if (e->present && wv_reader_status(c->r) == WV_OK) {
        WV_JW_LIT(&c->w, "true,");
        wv_cj_key_str(c, "end_reason", wv_end_reason_name(e->reason));
    } else {
        WV_JW_LIT(&c->w, "false,\"end_reason\":null");
    }
    WV_JW_LIT(&c->w, ",");
    wv_cj_key_u64(c, "events", e->present ? e->events : wv_reader_progress(c->r).events);
    WV_JW_LIT(&c->w, ",");
    wv_cj_key_u64(c, "events_decoded", wv_reader_progress(c->r).events);
    WV_JW_LIT(&c->w, ",");
    wv_cj_key_u64(c, "dropped_events", e->present ? e->dropped : wv_model_dropped_total(c->m));
    dropped_by_thread(c);
    wv_cj_rt_other_data(c);
    WV_JW_LIT(&c->w, ",\"diagnostics\":[");
    for (size_t i = 0; i < wv_model_diag_count(c->m); i++) {
        if (i)
            WV_JW_LIT(&c->w, ",");
        diagnostic(c, wv_model_diag(c->m, i));
    }
    WV_JW_LIT(&c->w, "]");
    if (wv_model_diag_unlisted(c->m)) {
        WV_JW_LIT(&c->w, ",");
        wv_cj_key_u64(c, "diagnostics_unlisted", wv_model_diag_unlisted(c->m));
    }
    WV_JW_LIT(&c->w, "}}\n");
}

/* ---- driver -------------------------------------------------------------- */

static void chrome_free(chrome *c)
{
    for (uint32_t i = 0; i < c->names_cap; i++)
        free(c->names[i].s);
    free(c->names);
    free(c->th);
    free(c->tids);
    wv_model_free(c->m);
    wv_cj_rt_free(c);
}

int wv_chrome_write(wv_reader *r, FILE *out)
{
    static const wv_model_sink sink = {on_region, on_task_begin, on_task_end, on_flow, on_event};
    chrome c = {.r = r, .pid = wv_reader_header(r)->pid, .first = 1, .tid_cap = 64};
    c.tids = calloc(c.tid_cap, sizeof *c.tids);
    c.m = wv_model_new(&sink, &c);
    if (!c.tids || !c.m || wv_cj_rt_init(&c) || wv_jw_init(&c.w, out)) {
        chrome_free(&c);
        return -ENOMEM;
    }
    WV_JW_LIT(&c.w, "{\"traceEvents\":[\n");
    wv_event ev;
    int rc = 0;
    while (!rc && !c.w.err && wv_reader_next(r, &ev))
        rc = wv_model_add(c.m, &ev);
    wv_model_finish(c.m);
    wv_cj_rt_finish(&c, wv_model_end_ns(c.m));
    metadata(&c);
    other_data(&c);
    int err = wv_jw_close(&c.w);
    if (c.oom)
        rc = -ENOMEM;
    chrome_free(&c);
    return err ? err : rc;
}
