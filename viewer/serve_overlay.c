/*
 * serve_overlay.c - the parts of a window answer drawn over the slice rows:
 * task spans, counter lines, logs and flows (docs/http-api.md, /window).
 *
 * Each is reduced per pixel column like the slices (serve_window.c): tasks
 * to two per column plus a count, counters to the minimum and maximum of
 * each column (from the counter's pyramid), logs to counts per column once
 * a thread has more than two per pixel. Flows are listed up to MAX_FLOWS.
 */
#include <stdlib.h>

#include "serve_window.h"

/* {"thread":T,"s":S,"d":D,"count":N} (thread < 0: without it). */
static void put_block_json(wv_jw *w, int *first, int64_t thread, int64_t s, int64_t d, uint64_t n)
{
    WV_JW_ITEM(w, !*first, "{");
    *first = 0;
    if (thread >= 0) {
        WV_JK(w, "thread");
        wv_jw_i64(w, thread);
        WV_JW_LIT(w, ",");
    }
    WV_JK(w, "s");
    wv_jw_i64(w, s);
    WV_JNK(w, "d");
    wv_jw_i64(w, d);
    WV_JNK(w, "count");
    wv_jw_u64(w, n);
    WV_JW_LIT(w, "}");
}

static void put_task(win *c, const wv_itask *k, int *first)
{
    wv_jw *w = c->w;
    WV_JW_ITEM(w, !*first, "{\"task\":");
    *first = 0;
    wv_jw_u64(w, k->id);
    WV_JNK(w, "type");
    wv_jw_istr(w, c->x, k->type);
    WV_JNK(w, "s");
    wv_jw_i64(w, k->s);
    WV_JNK(w, "e");
    wv_jw_i64(w, k->e);
    WV_JNK(w, "parent");
    wv_jw_u64(w, k->parent);
    WV_JNK(w, "unfinished");
    wv_jw_bool(w, k->unfinished);
    WV_JW_LIT(w, "}");
}

/* Lists the task unless its column already has two; counts it otherwise. */
static void task_in_column(win *c, const wv_itask *k, uint32_t *shown, uint64_t *more, int *first)
{
    int64_t col = col_of(c, k->s);
    if (shown[col] < 2) {
        shown[col]++;
        put_task(c, k, first);
    } else {
        more[col]++;
    }
}

void wv_window_tasks(win *c)
{
    wv_index *x = c->x;
    uint32_t *shown = calloc((size_t)c->px, sizeof *shown);
    uint64_t *more = calloc((size_t)c->px, sizeof *more);
    int first = 1;
    WV_JNK(c->w, "tasks");
    WV_JW_LIT(c->w, "[");
    if (!shown || !more) {
        c->oom = 1;
    } else if (c->set) {
        for (size_t i = 0; i < c->nset; i++) {
            const wv_itask *k = wv_index_task(x, c->set[i]);
            if (k && k->s < c->end && (k->e > c->start || k->s >= c->start))
                task_in_column(c, k, shown, more, &first);
        }
    } else {
        size_t k0 = wv_lower_bound(&x->tasks[0].s, x->ntasks, sizeof *x->tasks, c->start);
        /* tasks begun before the window and still running: groups of 64
         * whose latest end is before the window are skipped whole */
        for (size_t g = 0; g * 64 < k0; g++) {
            if (x->task_maxend[g] <= c->start)
                continue;
            for (size_t i = g * 64; i < k0 && i < g * 64 + 64; i++)
                if (x->tasks[i].e > c->start)
                    task_in_column(c, &x->tasks[i], shown, more, &first);
        }
        size_t i = k0;
        while (i < x->ntasks && x->tasks[i].s < c->end) {
            int64_t col = col_of(c, x->tasks[i].s);
            size_t q = wv_gallop(&x->tasks[0].s, x->ntasks, sizeof *x->tasks, i + 1, col_end(c, col));
            for (; i < q && shown[col] < 2; i++)
                task_in_column(c, &x->tasks[i], shown, more, &first);
            more[col] += q - i;
            i = q;
        }
    }
    WV_JW_LIT(c->w, "],\"task_blocks\":[");
    first = 1;
    /* runs of adjacent columns, up to WV_WINDOW_BLOCK_PX wide, as one block */
    for (int64_t col = 0; more && col < c->px;) {
        if (!more[col]) {
            col++;
            continue;
        }
        int64_t from = col, cs = col ? col_end(c, col - 1) : c->start;
        uint64_t n = 0;
        while (col < c->px && more[col] && col - from < WV_WINDOW_BLOCK_PX)
            n += more[col++];
        put_block_json(c->w, &first, -1, cs, col_end(c, col - 1) - cs, n);
    }
    WV_JW_LIT(c->w, "]");
    free(shown);
    free(more);
}

static void put_point(wv_jw *w, const wv_icounter *k, size_t i, int *first)
{
    WV_JW_ITEM(w, !*first, "[");
    *first = 0;
    wv_jw_i64(w, k->t[i]);
    WV_JW_LIT(w, ",");
    wv_jw_i64(w, k->v[i]);
    WV_JW_LIT(w, "]");
}

void wv_window_counters(win *c)
{
    wv_jw *w = c->w;
    WV_JNK(w, "counters");
    WV_JW_LIT(w, "[");
    for (size_t n = 0; n < c->x->ncounters; n++) {
        const wv_icounter *k = &c->x->counters[n];
        WV_JW_ITEM(w, n, "{\"name\":");
        wv_jw_istr(w, c->x, k->name);
        WV_JNK(w, "points");
        WV_JW_LIT(w, "[");
        int first = 1;
        size_t i = wv_lower_bound(k->t, k->n, sizeof *k->t, c->start);
        if (i > 0) /* the line starts at the left edge */
            put_point(w, k, i - 1, &first);
        while (i < k->n && k->t[i] < c->end) {
            size_t q = wv_gallop(k->t, k->n, sizeof *k->t, i + 1, col_end(c, col_of(c, k->t[i])));
            if (q - i <= 2) {
                for (; i < q; i++)
                    put_point(w, k, i, &first);
                continue;
            }
            size_t lo, hi;
            wv_counter_minmax(k, i, q, &lo, &hi);
            put_point(w, k, lo < hi ? lo : hi, &first);
            if (lo != hi)
                put_point(w, k, lo < hi ? hi : lo, &first);
            i = q;
        }
        WV_JW_LIT(w, "]}");
    }
    WV_JW_LIT(w, "]");
}

/* First position in a thread's log list with time >= t. */
static size_t log_seek(const wv_index *x, const wv_ithread *th, size_t lo, int64_t t)
{
    size_t hi = th->nlogs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (x->logs[th->logs[mid]].t < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void put_log(win *c, uint32_t i, int *first)
{
    const wv_ilog *l = &c->x->logs[i];
    wv_jw *w = c->w;
    WV_JW_ITEM(w, !*first, "{\"i\":");
    *first = 0;
    wv_jw_u64(w, i);
    WV_JNK(w, "t");
    wv_jw_i64(w, l->t);
    WV_JNK(w, "thread");
    wv_jw_u64(w, l->thread);
    WV_JNK(w, "task");
    wv_jw_u64(w, l->task);
    WV_JNK(w, "category");
    wv_jw_istr(w, c->x, l->category);
    WV_JNK(w, "message");
    wv_jw_str(w, c->x->log_text + l->msg, l->msg_len);
    WV_JW_LIT(w, "}");
}

void wv_window_logs(win *c)
{
    wv_index *x = c->x;
    int first = 1;
    WV_JNK(c->w, "logs");
    WV_JW_LIT(c->w, "[");
    for (int pass = 0; pass < 2; pass++) { /* pass 0: listed logs; 1: blocks */
        for (size_t n = 0; n < x->nthreads; n++) {
            const wv_ithread *th = &x->threads[n];
            if (!wv_thread_selected(c->sel, c->nsel, th->thread))
                continue;
            size_t a = log_seek(x, th, 0, c->start), b = log_seek(x, th, a, c->end);
            int merge = !c->set && (int64_t)(b - a) > 2 * c->px;
            if (pass == 0 && !merge) {
                for (size_t i = a; i < b; i++)
                    if (!c->set || in_set(c, x->logs[th->logs[i]].task))
                        put_log(c, th->logs[i], &first);
            }
            for (size_t i = a; pass == 1 && merge && i < b;) {
                /* runs of adjacent columns, up to WV_WINDOW_BLOCK_PX wide */
                int64_t col = col_of(c, x->logs[th->logs[i]].t), from = col;
                int64_t cs = col ? col_end(c, col - 1) : c->start;
                size_t q = i;
                do {
                    q = log_seek(x, th, q + 1, col_end(c, col));
                    col++;
                } while (q < b && col - from < WV_WINDOW_BLOCK_PX && col_of(c, x->logs[th->logs[q]].t) == col);
                put_block_json(c->w, &first, th->thread, cs, col_end(c, col - 1) - cs, q - i);
                i = q;
            }
        }
        if (pass)
            WV_JW_LIT(c->w, "]");
        else
            WV_JW_LIT(c->w, "],\"log_blocks\":[");
        first = 1;
    }
}

static void put_flow(win *c, const wv_iflow *f, int *n)
{
    if (f->from_ns < c->start || f->to_ns >= c->end || *n >= WV_WINDOW_MAX_FLOWS)
        return;
    if (!wv_thread_selected(c->sel, c->nsel, f->from_thread) &&
        !wv_thread_selected(c->sel, c->nsel, f->to_thread))
        return;
    wv_jw *w = c->w;
    WV_JW_ITEM(w, *n, "{\"task\":");
    ++*n;
    wv_jw_u64(w, f->task);
    WV_JNK(w, "from_thread");
    wv_jw_u64(w, f->from_thread);
    WV_JNK(w, "from_ns");
    wv_jw_i64(w, f->from_ns);
    WV_JNK(w, "to_thread");
    wv_jw_u64(w, f->to_thread);
    WV_JNK(w, "to_ns");
    wv_jw_i64(w, f->to_ns);
    WV_JW_LIT(w, "}");
}

void wv_window_flows(win *c)
{
    wv_index *x = c->x;
    int n = 0;
    WV_JNK(c->w, "flows");
    WV_JW_LIT(c->w, "[");
    if (c->set) {
        for (size_t i = 0; i < c->nset; i++) {
            const wv_itask *k = wv_index_task(x, c->set[i]);
            for (uint32_t f = k ? k->first_flow : 0; f; f = x->flows[f - 1].next_of_task)
                put_flow(c, &x->flows[f - 1], &n);
        }
    } else {
        /* flows are made when the hop happens, so they are sorted by to_ns */
        size_t i = wv_lower_bound(&x->flows[0].to_ns, x->nflows, sizeof *x->flows, c->start);
        for (; i < x->nflows && x->flows[i].to_ns < c->end && n < WV_WINDOW_MAX_FLOWS; i++)
            put_flow(c, &x->flows[i], &n);
    }
    WV_JW_LIT(c->w, "]");
}
