/*
 * serve_taskmap.c - task id -> task index maps for the serve index
 * (serve_index.h): open addressing with linear probing, kept at most half
 * full, the id stored in the slot so a probe costs one cache miss.
 *
 * Two are used. While loading, a map of the *live* tasks only (removed when
 * they end, with backward-shift deletion) stays small enough to live in the
 * cache, which is what keeps indexing fast: a map of every task of a big
 * trace costs a cache and TLB miss per insert. The map of every task, which
 * queries need (/window?task=, /slice), is built once, on first use or by
 * wv_index_warm() in the background after the trace is published.
 */
#include <errno.h>
#include <stdlib.h>

#include "serve_index.h"

static uint64_t mix(uint64_t v)
{
    v ^= v >> 33;
    v *= 0xff51afd7ed558ccdull;
    return v ^ (v >> 33);
}

static void place(wv_task_slot *tab, size_t cap, wv_task_slot e)
{
    size_t j = mix(e.id) & (cap - 1);
    while (tab[j].idx && tab[j].id != e.id)
        j = (j + 1) & (cap - 1);
    tab[j] = e; /* a reused id now means its latest task */
}

int wv_taskmap_put(wv_taskmap *m, uint64_t id, uint32_t idx)
{
    if (2 * (m->n + 1) > m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 256;
        wv_task_slot *t = calloc(cap, sizeof *t);
        if (!t)
            return -ENOMEM;
        for (size_t i = 0; i < m->cap; i++)
            if (m->slot[i].idx)
                place(t, cap, m->slot[i]);
        free(m->slot);
        m->slot = t, m->cap = cap;
    }
    size_t before = m->n;
    size_t j = mix(id) & (m->cap - 1);
    while (m->slot[j].idx && m->slot[j].id != id)
        j = (j + 1) & (m->cap - 1);
    if (!m->slot[j].idx)
        m->n = before + 1;
    m->slot[j] = (wv_task_slot){id, idx + 1};
    return 0;
}

static size_t find(const wv_taskmap *m, uint64_t id)
{
    if (!m->cap)
        return SIZE_MAX;
    size_t mask = m->cap - 1;
    for (size_t j = mix(id) & mask; m->slot[j].idx; j = (j + 1) & mask)
        if (m->slot[j].id == id)
            return j;
    return SIZE_MAX;
}

uint32_t wv_taskmap_get(const wv_taskmap *m, uint64_t id)
{
    size_t j = find(m, id);
    return j == SIZE_MAX ? 0 : m->slot[j].idx;
}

void wv_taskmap_del(wv_taskmap *m, uint64_t id)
{
    size_t hole = find(m, id), mask = m->cap - 1;
    if (hole == SIZE_MAX)
        return;
    /* backward shift: later entries of the probe run move up so lookups
     * never stop at a hole */
    for (size_t i = (hole + 1) & mask; m->slot[i].idx; i = (i + 1) & mask) {
        size_t home = mix(m->slot[i].id) & mask;
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            m->slot[hole] = m->slot[i];
            hole = i;
        }
    }
    m->slot[hole].idx = 0;
    m->n--;
}

void wv_taskmap_free(wv_taskmap *m)
{
    free(m->slot);
    m->slot = NULL;
    m->cap = m->n = 0;
}

/* The map of every task, built outside the index's lock and published
 * under it (whichever thread is done first: see serve_latency.c). */
static void build_all(wv_index *x)
{
    if (atomic_load_explicit(&x->by_id_ready, memory_order_acquire))
        return;
    wv_taskmap m = {0};
    int rc = 0;
    for (size_t i = 0; !rc && i < x->ntasks; i++)
        rc = wv_taskmap_put(&m, x->tasks[i].id, (uint32_t)i);
    if (rc)
        wv_taskmap_free(&m); /* out of memory: no lookups succeed */
    pthread_mutex_lock(&x->lazy_lock);
    if (!atomic_load_explicit(&x->by_id_ready, memory_order_relaxed)) {
        x->by_id = m;
        atomic_store_explicit(&x->by_id_ready, 1, memory_order_release);
    } else {
        wv_taskmap_free(&m);
    }
    pthread_mutex_unlock(&x->lazy_lock);
}

const wv_itask *wv_index_task(const wv_index *x, uint64_t id)
{
    if (!id)
        return NULL;
    build_all((wv_index *)x);
    uint32_t k = wv_taskmap_get(&x->by_id, id);
    return k ? &x->tasks[k - 1] : NULL;
}

void wv_index_warm(wv_index *x)
{
    build_all(x);
    size_t n;
    wv_index_task_logs(x, 0, &n);
    wv_index_task_latency(x);
    wv_index_region_latency(x);
}
