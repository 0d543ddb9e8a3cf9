/*
 * serve_rt_api.c - the runtime answers of the API (docs/http-api.md): the
 * runtime part of /summary and the details of one wait (/wait), and what
 * they share with /blocking (serve_blocking.c).
 */
#include <inttypes.h>
#include <stdio.h>

#include "serve_json.h"
#include "serve_rt.h"
#include "vocab.h"

#define SITE_TEXT 512

/* ---- /summary ------------------------------------------------------------------------------ */

static const char *wv_sched_key(uint64_t source)
{
    switch (source) {
    case 0: return NULL;
    case WEFT_SCHED_SRC_NONE: return "none";
    case WEFT_SCHED_SRC_PERF: return "perf";
    case WEFT_SCHED_SRC_SCHEDSTAT: return "schedstat";
    default: return "unknown";
    }
}

void wv_rt_put_sched_source(const wv_index *x, wv_jw *w)
{
    const char *key = wv_sched_key(x->hdr.sched_source);
    WV_JK(w, "sched_source");
    if (key)
        wv_jw_cstr(w, key);
    else
        WV_JW_LIT(w, "null");
    WV_JNK(w, "sched_source_text");
    wv_jw_cstr(w, wv_sched_source_text(x->hdr.sched_source));
}

void wv_rt_put_summary(const wv_index *x, wv_jw *w)
{
    const wv_rt_index *rt = x->rt;
    WV_JW_LIT(w, ",");
    wv_rt_put_sched_source(x, w);
    if (!rt)
        return;
    WV_JNK(w, "cpus");
    WV_JW_LIT(w, "[");
    for (size_t i = 0; i < rt->ncpus; i++) {
        WV_JW_ITEM(w, i, "");
        wv_jw_u64(w, rt->cpus[i].thread);
    }
    WV_JW_LIT(w, "]");
    WV_JNK(w, "gc_lanes");
    wv_jw_u64(w, rt->nlanes);
    WV_JNK(w, "runtime");
    WV_JW_LIT(w, "{\"sched_events\":");
    wv_jw_u64(w, rt->totals.sched_events);
    WV_JNK(w, "lost");
    wv_jw_u64(w, rt->totals.lost);
    WV_JNK(w, "ignored");
    wv_jw_u64(w, rt->totals.ignored);
    WV_JW_LIT(w, "}");
}

void wv_rt_put_thread_flags(const wv_index *x, uint32_t thread, wv_jw *w)
{
    if (x->hdr.sched_source && thread == WEFT_SYSTEM_THREAD)
        WV_JW_LIT(w, ",\"system\":true");
    if (!x->rt)
        return;
    WV_JNK(w, "states");
    wv_jw_bool(w, wv_rt_state_row(x, thread) != NULL);
    WV_JNK(w, "waits");
    wv_jw_bool(w, wv_rt_wait_row(x, thread) != NULL);
    WV_JNK(w, "uv");
    wv_jw_bool(w, wv_rt_uv_row(x, thread) != NULL);
}

void wv_rt_put_has(const wv_index *x, wv_jw *w)
{
    const wv_rt_index *rt = x->rt;
    const uint64_t none[WV_ITEM_KINDS] = {0}, *k = rt ? rt->kinds : none;
    int latency = rt && rt->latency_samples, schedstat = rt && rt->schedstat_samples;
    WV_JNK(w, "thread_states");
    wv_jw_bool(w, rt && rt->nstates);
    WV_JNK(w, "cpus");
    wv_jw_bool(w, rt && rt->ncpus);
    WV_JNK(w, "locks");
    wv_jw_bool(w, k[WV_ITEM_LOCK] > 0);
    WV_JNK(w, "io");
    wv_jw_bool(w, k[WV_ITEM_IO] > 0);
    WV_JNK(w, "gc");
    wv_jw_bool(w, k[WV_ITEM_GC] > 0);
    WV_JNK(w, "allocator");
    wv_jw_bool(w, k[WV_ITEM_ALLOC] > 0);
    WV_JNK(w, "pauses");
    wv_jw_bool(w, k[WV_ITEM_GC] || k[WV_ITEM_ALLOC]);
    WV_JNK(w, "heap");
    wv_jw_bool(w, rt && rt->nheaps);
    WV_JNK(w, "uv");
    wv_jw_bool(w, k[WV_ITEM_UV] > 0);
    WV_JNK(w, "sched_latency");
    wv_jw_bool(w, latency);
    WV_JNK(w, "schedstat");
    wv_jw_bool(w, schedstat);
    WV_JNK(w, "blocking");
    wv_jw_bool(w, k[WV_ITEM_LOCK] || k[WV_ITEM_IO] || k[WV_ITEM_GC] || k[WV_ITEM_ALLOC] || latency || schedstat);
}

/* ---- shared pieces ------------------------------------------------------------------------- */

/* {"thread":N,"tid":T,"name":"..."}, or null for thread 0 (unknown). */
void wv_rt_put_thread_ref(wv_jw *w, const wv_index *x, uint32_t thread)
{
    const wv_ithread *t = thread ? wv_index_thread(x, thread) : NULL;
    if (!t) {
        WV_JW_LIT(w, "null");
        return;
    }
    WV_JW_LIT(w, "{\"thread\":");
    wv_jw_u64(w, thread);
    WV_JNK(w, "tid");
    wv_jw_u64(w, t->tid);
    WV_JNK(w, "name");
    wv_jw_cstr(w, t->name);
    WV_JW_LIT(w, "}");
}

void wv_rt_put_site(wv_jw *w, wv_rt_index *rt, uint64_t addr)
{
    char text[SITE_TEXT], hex[24];
    WV_JNK(w, "site");
    wv_jw_cstr(w, wv_rt_site_text(rt, addr, text, sizeof text));
    snprintf(hex, sizeof hex, "0x%" PRIx64, addr);
    WV_JNK(w, "site_addr");
    wv_jw_cstr(w, hex);
}

/* ---- /wait --------------------------------------------------------------------------------- */

/* The deepest region of `thread` open at t (its end included: a release
 * is often the last thing a region does). */
static void put_slice_at(wv_jw *w, const wv_index *x, uint32_t thread, int64_t t)
{
    const wv_ithread *th = wv_index_thread(x, thread);
    for (uint32_t d = th ? th->nrows : 0; d-- > 0;) {
        const wv_row *r = &x->rows[th->rows[d]];
        size_t p = r->n ? wv_lower_bound(&r->sl[0].s, r->n, sizeof *r->sl, t + 1) : 0;
        if (p && r->sl[p - 1].s + r->sl[p - 1].d >= t) {
            WV_JW_LIT(w, "{");
            wv_put_slice(w, x, r, p - 1);
            WV_JW_LIT(w, "}");
            return;
        }
    }
    WV_JW_LIT(w, "null");
}

int wv_api_wait(wv_trace *t, const wv_params *p, wv_jw *w, char *err)
{
    wv_index *x = t->x;
    int64_t i;
    if (wv_param_i64(p, "i", 1, 0, INT64_MAX, 0, &i, err))
        return 400;
    if (!x->rt || (uint64_t)i >= x->rt->nitems) {
        snprintf(err, WV_ERR_MAX, "no wait %lld in this trace", (long long)i);
        return 404;
    }
    const wv_rt_item *it = &x->rt->items[i];
    WV_JW_LIT(w, "{");
    wv_put_item(w, x, (size_t)i, it->s, it->e - it->s);
    WV_JNK(w, "thread_ref");
    wv_rt_put_thread_ref(w, x, it->thread);
    if (it->kind == WV_ITEM_LOCK || it->kind == WV_ITEM_IO || it->kind == WV_ITEM_ALLOC)
        wv_rt_put_site(w, x->rt, it->site);
    if (it->kind == WV_ITEM_LOCK) {
        WV_JNK(w, "holder_ref");
        wv_rt_put_thread_ref(w, x, it->holder);
        WV_JNK(w, "holder_slice");
        if (it->holder && it->aux >= 0)
            put_slice_at(w, x, it->holder, it->aux);
        else
            WV_JW_LIT(w, "null");
    }
    WV_JW_LIT(w, "}\n");
    return 200;
}
