/*
 * serve_rt_window.c - the runtime rows of a /window answer
 * (docs/http-api.md): per thread its state, wait and uv rows, then one row
 * per CPU and the GC / allocator lanes. Each is walked like a row of
 * regions (serve_window.c), so it costs O(px log n) however many spans the
 * trace holds; what differs is how its items and merged blocks read.
 *
 * A merged block of a state row gives the exact time per state of the spans
 * it holds (from the row's state pyramid), so the timeline can show how a
 * busy stretch splits between running, waiting for a CPU and each kind of
 * blocking; blocks of the other rows are named after their commonest thread
 * or kind of wait, like blocks of regions. Nothing is written for rows a
 * trace does not have.
 */
#include <inttypes.h>
#include <stdio.h>

#include "serve_rt.h"
#include "serve_window.h"
#include "vocab.h"

static const char *const kind_names[WV_ITEM_KINDS] = {"", "lock", "io", "gc", "allocator", "uv"};

const char *wv_item_kind_name(unsigned kind) { return kind < WV_ITEM_KINDS ? kind_names[kind] : ""; }

const char *wv_item_label(const wv_index *x, unsigned kind, uint64_t code, char buf[32])
{
    const char *name = NULL;
    switch (kind) {
    case WV_ITEM_LOCK: name = wv_lock_op_name(code); break;
    case WV_ITEM_IO: name = wv_io_op_name(code); break;
    case WV_ITEM_ALLOC: name = wv_alloc_op_name(code); break;
    case WV_ITEM_UV: name = wv_uv_phase_name(code); break;
    case WV_ITEM_GC: name = code ? wv_index_str(x, code, NULL) : "gc"; break;
    default: break;
    }
    return wv_code_label(name, code, buf);
}

/* ,"KEY":"0x..." */
static void put_hex(wv_jw *w, const char *key, uint64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof buf, "0x%" PRIx64, v);
    WV_JW_LIT(w, ",");
    wv_jw_cstr(w, key);
    WV_JW_LIT(w, ":");
    wv_jw_str(w, buf, (size_t)n);
}

static void put_s_d(wv_jw *w, int64_t s, int64_t d)
{
    WV_JK(w, "s");
    wv_jw_i64(w, s);
    WV_JNK(w, "d");
    wv_jw_i64(w, d);
}

/* ---- items ----------------------------------------------------------------------------- */

void wv_put_item(wv_jw *w, const wv_index *x, size_t i, int64_t s, int64_t d)
{
    const wv_rt_item *it = &x->rt->items[i];
    char buf[32];
    WV_JK(w, "i");
    wv_jw_u64(w, i);
    WV_JW_LIT(w, ",");
    put_s_d(w, s, d);
    WV_JNK(w, "kind");
    wv_jw_cstr(w, wv_item_kind_name(it->kind));
    WV_JNK(w, "name");
    wv_jw_cstr(w, wv_item_label(x, it->kind, it->code, buf));
    WV_JNK(w, "thread");
    wv_jw_u64(w, it->thread);
    switch (it->kind) {
    case WV_ITEM_LOCK:
        put_hex(w, "lock", it->obj);
        WV_JNK(w, "holder");
        wv_jw_u64(w, it->holder);
        if (it->aux >= 0) {
            WV_JNK(w, "release_ns");
            wv_jw_i64(w, it->aux);
        }
        break;
    case WV_ITEM_IO:
        WV_JNK(w, "fd");
        wv_jw_i64(w, (int64_t)it->obj);
        WV_JNK(w, "result");
        wv_jw_i64(w, it->aux);
        if (wv_io_op_moves_bytes(it->code) && it->aux >= 0) {
            WV_JNK(w, "bytes");
            wv_jw_i64(w, it->aux);
        }
        break;
    case WV_ITEM_ALLOC:
        WV_JNK(w, "size");
        wv_jw_u64(w, it->obj);
        break;
    case WV_ITEM_UV:
        put_hex(w, "loop", it->obj);
        break;
    default:
        break;
    }
    if (it->flags & WV_RT_OPEN)
        WV_JW_LIT(w, ",\"open\":true");
    if (it->flags & WV_ITEM_CLIPPED) {
        WV_JNK(w, "full_s");
        wv_jw_i64(w, it->s);
        WV_JNK(w, "full_d");
        wv_jw_i64(w, it->e - it->s);
    }
}

/* ---- one row ----------------------------------------------------------------------------- */

typedef void (*put_fn)(win *c, const void *row, size_t pos);
typedef void (*put_block_fn)(win *c, const void *row, const block *b);

/* ,"<items>":[...],"<blocks>":[...] for row r (base 0: c->sl holds positions). */
static void write_row(win *c, const wv_row *r, const void *row, const char *items, const char *blocks, put_fn put,
                      put_block_fn put_block)
{
    wv_jw *w = c->w;
    c->nsl = c->nbl = 0;
    c->run_row = NULL;
    wv_window_walk(c, r);
    WV_JW_LIT(w, ",\"");
    wv_jw_raw(w, items, strlen(items));
    WV_JW_LIT(w, "\":[");
    for (size_t k = 0; k < c->nsl; k++) {
        WV_JW_ITEM(w, k, "{");
        put(c, row, (size_t)c->sl[k]);
        WV_JW_LIT(w, "}");
    }
    WV_JW_LIT(w, "],\"");
    wv_jw_raw(w, blocks, strlen(blocks));
    WV_JW_LIT(w, "\":[");
    for (size_t k = 0; k < c->nbl; k++) {
        const block *b = &c->bl[k];
        WV_JW_ITEM(w, k, "{");
        put_s_d(w, b->s, b->d);
        WV_JNK(w, "count");
        wv_jw_u64(w, b->count);
        put_block(c, row, b);
        WV_JW_LIT(w, "}");
    }
    WV_JW_LIT(w, "]");
}

/* ---- state rows ------------------------------------------------------------------------ */

static void put_state(win *c, const void *row, size_t pos)
{
    const wv_slice *s = &((const wv_state_row *)row)->row.sl[pos];
    wv_jw *w = c->w;
    put_s_d(w, s->s, s->d);
    WV_JNK(w, "state");
    if (s->name == WV_STATE_RUNNING) {
        WV_JW_LIT(w, "\"running\"");
    } else if (s->name == WV_STATE_RUNNABLE) {
        WV_JW_LIT(w, "\"runnable\",\"why\":");
        wv_jw_cstr(w, s->flags & WV_RT_STARTING ? "starting" : "preempted");
    } else {
        WV_JW_LIT(w, "\"blocked\",\"reason\":");
        wv_jw_cstr(w, wv_state_key(s->name));
    }
    if (s->task != WV_NO_CPU) {
        WV_JNK(w, "cpu");
        wv_jw_u64(w, s->task);
    }
    if (s->flags & WV_RT_OPEN)
        WV_JW_LIT(w, ",\"open\":true");
}

static void put_state_block(win *c, const void *row, const block *b)
{
    int64_t ns[WV_STATE_CODES];
    wv_state_sums(row, b->first, b->first + b->count, ns);
    unsigned top = 0;
    for (unsigned k = 1; k < WV_STATE_CODES; k++)
        top = ns[k] > ns[top] ? k : top;
    wv_jw *w = c->w;
    WV_JNK(w, "top");
    wv_jw_cstr(w, wv_state_key(top));
    WV_JNK(w, "ns");
    WV_JW_LIT(w, "{");
    for (unsigned k = 0, n = 0; k < WV_STATE_CODES; k++) {
        if (!ns[k])
            continue;
        WV_JW_ITEM(w, n++, "\"");
        wv_jw_raw(w, wv_state_key(k), strlen(wv_state_key(k)));
        WV_JW_LIT(w, "\":");
        wv_jw_i64(w, ns[k]);
    }
    WV_JW_LIT(w, "}");
}

/* ---- item rows (waits, uv phases, pause lanes) ---------------------------------------------- */

static void put_item_of(win *c, const void *row, size_t pos)
{
    const wv_slice *s = &((const wv_row *)row)->sl[pos];
    wv_put_item(c->w, c->x, (size_t)s->task, s->s, s->d);
}

static void put_item_block(win *c, const void *row, const block *b)
{
    uint32_t name = wv_row_dominant(row, b->first, b->first + b->count);
    char buf[32];
    WV_JNK(c->w, "kind");
    wv_jw_cstr(c->w, wv_item_kind_name(wv_item_name_kind(name)));
    WV_JNK(c->w, "name");
    wv_jw_cstr(c->w, wv_item_label(c->x, wv_item_name_kind(name), wv_item_name_code(name), buf));
}

/* ---- CPU rows -------------------------------------------------------------------------------- */

static void put_cpu_span(win *c, const void *row, size_t pos)
{
    const wv_slice *s = &((const wv_row *)row)->sl[pos];
    put_s_d(c->w, s->s, s->d);
    WV_JNK(c->w, "thread");
    wv_jw_u64(c->w, s->name);
    if (s->flags & WV_RT_OPEN)
        WV_JW_LIT(c->w, ",\"open\":true");
}

static void put_cpu_block(win *c, const void *row, const block *b)
{
    WV_JNK(c->w, "thread");
    wv_jw_u64(c->w, wv_row_dominant(row, b->first, b->first + b->count));
}

/* ---- the answer's parts ---------------------------------------------------------------------------- */

void wv_window_rt_thread(win *c, uint32_t thread)
{
    const wv_index *x = c->x;
    if (!x->rt)
        return;
    const wv_state_row *sr = wv_rt_state_row(x, thread);
    const wv_row *wr = wv_rt_wait_row(x, thread), *ur = wv_rt_uv_row(x, thread);
    if (sr)
        write_row(c, &sr->row, sr, "states", "state_blocks", put_state, put_state_block);
    if (wr)
        write_row(c, wr, wr, "waits", "wait_blocks", put_item_of, put_item_block);
    if (ur)
        write_row(c, ur, ur, "uv", "uv_blocks", put_item_of, put_item_block);
}

void wv_window_rt(win *c)
{
    const wv_rt_index *rt = c->x->rt;
    wv_jw *w = c->w;
    if (!rt)
        return;
    if (rt->ncpus) {
        WV_JNK(w, "cpus");
        WV_JW_LIT(w, "[");
        for (size_t i = 0; i < rt->ncpus; i++) {
            WV_JW_ITEM(w, i, "\n{\"cpu\":");
            wv_jw_u64(w, rt->cpus[i].thread);
            write_row(c, &rt->cpus[i], &rt->cpus[i], "spans", "blocks", put_cpu_span, put_cpu_block);
            WV_JW_LIT(w, "}");
        }
        WV_JW_LIT(w, "]");
    }
    if (rt->nlanes) {
        WV_JNK(w, "lanes");
        WV_JW_LIT(w, "[");
        for (size_t i = 0; i < rt->nlanes; i++) {
            WV_JW_ITEM(w, i, "\n{\"lane\":");
            wv_jw_u64(w, i);
            write_row(c, &rt->lanes[i], &rt->lanes[i], "pauses", "blocks", put_item_of, put_item_block);
            WV_JW_LIT(w, "}");
        }
        WV_JW_LIT(w, "]");
    }
}
