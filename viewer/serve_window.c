/*
 * serve_window.c - GET /api/traces/{id}/window: what the timeline needs to
 * draw [start, end) on px pixels (docs/http-api.md).
 *
 * The cost is bounded by the screen, not the trace. Per row, a slice at
 * least one pixel wide is listed; the narrower ones starting in the same
 * pixel column are merged into one block, found with one galloping search
 * for the column's end (serve_lod.c) and named from the row's pyramid, so a
 * row costs O(px log n) whether the window holds ten slices or ten million.
 * Tasks, logs and counter points are reduced per pixel column the same way.
 *
 * With `task`, only that task and its subtasks are kept; their slices are
 * then found by scanning the rows over the tasks' time span, which is short
 * for the tasks people pick, and merged per column as they come.
 */
#include <stdlib.h>

#include "serve_window.h"

static void put_slice(win *c, const wv_row *r, size_t i)
{
    if (wv_grow_temp(&c->sl, &c->sl_cap, c->nsl + 1, sizeof *c->sl))
        c->oom = 1;
    else
        c->sl[c->nsl++] = r->base + i;
}

static void put_block(win *c, block b)
{
    if (wv_grow_temp(&c->bl, &c->bl_cap, c->nbl + 1, sizeof *c->bl))
        c->oom = 1;
    else
        c->bl[c->nbl++] = b;
}

/* Slices [a, b) of a row as one block (a single slice is listed as itself).
 * A block that follows the row's previous block within a pixel grows it,
 * up to WV_WINDOW_BLOCK_PX pixels: a dense stretch becomes a few blocks, not
 * one per pixel, which keeps a full-range answer small. */
static void put_range(win *c, const wv_row *r, size_t a, size_t b)
{
    const wv_slice *f = &r->sl[a], *l = &r->sl[b - 1];
    block *prev = c->nbl && c->run_row == r && c->run_end == a ? &c->bl[c->nbl - 1] : NULL;
    int64_t end = l->s + l->d;
    if (prev && wide(c, f->s - (prev->s + prev->d) + 1) == 0 &&
        (__int128)(end - prev->s) * c->px <= (__int128)WV_WINDOW_BLOCK_PX * c->span) {
        prev->d = end - prev->s;
        prev->count += b - a;
        c->run_end = b;
        return;
    }
    if (b - a == 1)
        return put_slice(c, r, a);
    put_block(c, (block){f->s, end - f->s, b - a, a, r->depth, WV_BLOCK_UNNAMED});
    c->run_row = r, c->run_start = a, c->run_end = b;
}

void wv_window_walk(win *c, const wv_row *r)
{
    size_t p = wv_row_first_after(r, c->start);
    while (p < r->n && r->sl[p].s < c->end) {
        if (wide(c, r->sl[p].d)) {
            put_slice(c, r, p++);
            continue;
        }
        int64_t ce = col_end(c, col_of(c, r->sl[p].s));
        size_t q = wv_row_seek(r, p + 1, ce);
        /* only the last slice starting in the column can be a pixel wide:
         * every other one ends before the next begins, inside the column */
        if (q - 1 > p && wide(c, r->sl[q - 1].d)) {
            put_range(c, r, p, q - 1);
            put_slice(c, r, q - 1);
        } else {
            put_range(c, r, p, q);
        }
        p = q;
    }
}

/* With a task filter: slices of the set's tasks, merged per column as they come. */
static void walk_row_filtered(win *c, const wv_row *r)
{
    int64_t from = c->fs > c->start ? c->fs : c->start, to = c->fe < c->end ? c->fe : c->end;
    block cur = {0};
    size_t cur_i = 0, listed = 0;
    int64_t cur_end = 0, longest = -1;
    for (size_t p = wv_row_first_after(r, from); p < r->n && r->sl[p].s < to && listed < WV_WINDOW_MAX_FILTERED; p++) {
        const wv_slice *s = &r->sl[p];
        if (!in_set(c, wv_slice_task(c->x, s)))
            continue;
        if (cur.count && (wide(c, s->d) || s->s >= cur_end)) {
            if (cur.count == 1)
                put_slice(c, r, cur_i);
            else
                put_block(c, cur);
            cur.count = 0, listed++;
        }
        if (wide(c, s->d)) {
            put_slice(c, r, p);
            listed++;
            continue;
        }
        if (!cur.count) {
            cur = (block){s->s, 0, 0, p, r->depth, s->name};
            cur_i = p, longest = -1;
            cur_end = col_end(c, col_of(c, s->s));
        }
        cur.count++;
        cur.d = s->s + s->d - cur.s;
        if (s->d > longest) /* filtered blocks are named by their longest slice */
            longest = s->d, cur.name = s->name;
    }
    if (cur.count == 1)
        put_slice(c, r, cur_i);
    else if (cur.count)
        put_block(c, cur);
}

static void write_thread(win *c, const wv_ithread *t, int *first)
{
    wv_jw *w = c->w;
    wv_index *x = c->x;
    c->nsl = c->nbl = 0;
    c->run_row = NULL;
    for (uint32_t d = 0; d < t->nrows; d++) {
        if (c->set)
            walk_row_filtered(c, &x->rows[t->rows[d]]);
        else
            wv_window_walk(c, &x->rows[t->rows[d]]);
    }
    if (c->set && !c->nsl && !c->nbl)
        return; /* a thread the task did not touch in the window */
    WV_JW_ITEM(w, !*first, "\n{\"thread\":");
    *first = 0;
    wv_jw_u64(w, t->thread);
    WV_JNK(w, "slices");
    WV_JW_LIT(w, "[");
    for (size_t k = 0; k < c->nsl; k++) {
        size_t pos;
        const wv_row *r = wv_index_slice(x, c->sl[k], &pos);
        WV_JW_ITEM(w, k, "{");
        wv_put_slice(w, x, r, pos);
        WV_JW_LIT(w, "}");
    }
    WV_JW_LIT(w, "],\"blocks\":[");
    for (size_t k = 0; k < c->nbl; k++) {
        const block *b = &c->bl[k];
        WV_JW_ITEM(w, k, "{\"s\":");
        wv_jw_i64(w, b->s);
        WV_JNK(w, "d");
        wv_jw_i64(w, b->d);
        WV_JNK(w, "depth");
        wv_jw_u64(w, b->depth);
        WV_JNK(w, "count");
        wv_jw_u64(w, b->count);
        WV_JNK(w, "name");
        const wv_row *r = &x->rows[t->rows[b->depth]];
        wv_jw_istr(w, x, b->name != WV_BLOCK_UNNAMED ? b->name : wv_row_dominant(r, b->first, b->first + b->count));
        WV_JW_LIT(w, "}");
    }
    WV_JW_LIT(w, "]");
    c->slices_total += c->nsl;
    c->blocks_total += c->nbl;
    wv_window_rt_thread(c, t->thread);
    WV_JW_LIT(w, "}");
}

/* The task and every task whose parent chain leads to it (tasks begin
 * after their parents, so one pass in begin order finds them all). */
static int task_set(win *c, uint64_t id)
{
    const wv_itask *root = wv_index_task(c->x, id);
    size_t cap = 64;
    c->set = malloc(cap * sizeof *c->set);
    if (!c->set)
        return -1;
    c->set[c->nset++] = id;
    c->fs = root->s, c->fe = root->e;
    for (size_t i = (size_t)(root - c->x->tasks) + 1; i < c->x->ntasks; i++) {
        const wv_itask *k = &c->x->tasks[i];
        int found = 0;
        for (size_t j = 0; j < c->nset && !found; j++)
            found = c->set[j] == k->parent && k->parent;
        if (!found)
            continue;
        if (c->nset == cap) {
            uint64_t *n = realloc(c->set, 2 * cap * sizeof *n);
            if (!n)
                return -1;
            c->set = n, cap *= 2;
        }
        c->set[c->nset++] = k->id;
        c->fe = k->e > c->fe ? k->e : c->fe;
    }
    for (size_t i = 1; i < c->nset; i++) /* insertion sort: sets are small */
        for (size_t j = i; j > 0 && c->set[j - 1] > c->set[j]; j--) {
            uint64_t v = c->set[j];
            c->set[j] = c->set[j - 1], c->set[j - 1] = v;
        }
    c->fe++; /* make the end inclusive for zero-length tasks */
    return 0;
}

int wv_api_window(wv_trace *t, const wv_params *p, wv_jw *w, char *err)
{
    win c = {.x = t->x, .w = w};
    int64_t task = 0;
    if (wv_param_i64(p, "start", 1, INT64_MIN / 4, INT64_MAX / 4, 0, &c.start, err) ||
        wv_param_i64(p, "end", 1, INT64_MIN / 4, INT64_MAX / 4, 0, &c.end, err) ||
        wv_param_i64(p, "px", 1, 1, 8192, 0, &c.px, err) ||
        wv_param_i64(p, "task", 0, 1, INT64_MAX, 0, &task, err) ||
        wv_param_threads(p, &c.sel, &c.nsel, err))
        return 400;
    if (c.start >= c.end) {
        free(c.sel);
        snprintf(err, WV_ERR_MAX, "start must be less than end");
        return 400;
    }
    if (task && !wv_index_task(c.x, (uint64_t)task)) {
        free(c.sel);
        snprintf(err, WV_ERR_MAX, "no task %lld in this trace", (long long)task);
        return 404;
    }
    c.span = c.end - c.start;
    if (task && task_set(&c, (uint64_t)task)) {
        free(c.sel);
        free(c.set);
        snprintf(err, WV_ERR_MAX, "out of memory");
        return 500;
    }
    WV_JW_LIT(w, "{\"start\":");
    wv_jw_i64(w, c.start);
    WV_JNK(w, "end");
    wv_jw_i64(w, c.end);
    WV_JNK(w, "px");
    wv_jw_i64(w, c.px);
    WV_JNK(w, "ns_per_px");
    wv_jw_i64(w, c.span / c.px);
    WV_JNK(w, "threads");
    WV_JW_LIT(w, "[");
    int first = 1;
    for (size_t i = 0; i < c.x->nthreads; i++)
        if (wv_thread_selected(c.sel, c.nsel, c.x->threads[i].thread))
            write_thread(&c, &c.x->threads[i], &first);
    WV_JW_LIT(w, "]");
    wv_window_tasks(&c);
    wv_window_counters(&c);
    wv_window_logs(&c);
    wv_window_flows(&c);
    wv_window_rt(&c);
    WV_JNK(w, "slices_total");
    wv_jw_u64(w, c.slices_total);
    WV_JNK(w, "blocks_total");
    wv_jw_u64(w, c.blocks_total);
    WV_JW_LIT(w, "}\n");
    free(c.sel);
    free(c.set);
    free(c.sl);
    free(c.bl);
    if (c.oom) {
        snprintf(err, WV_ERR_MAX, "out of memory");
        return 500;
    }
    return 200;
}
