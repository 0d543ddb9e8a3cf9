/*
 * serve_logs.c - the index's logs and counter points (serve_index.h),
 * filed from the model's event sink as the events come, with each
 * thread's list of its logs, so finishing the index only hands the lists
 * over. They are kept apart from the index until then and moved in by
 * wv_logs_finish().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "serve_index.h"

static void see_str(wv_logs_build *l, uint64_t id)
{
    if (id > l->max_str && id < WV_MAX_STRINGS)
        l->max_str = id;
}

static int add_thread_log(wv_logs_build *l, uint32_t thread, uint32_t i)
{
    if (thread >= WV_MAX_THREADS)
        return 0; /* the reader never delivers one: no thread to list it under */
    if (thread >= l->nthreads) {
        size_t cap = l->nthreads;
        if (wv_grow(&l->threads, &cap, (size_t)thread + 1, sizeof *l->threads))
            return -ENOMEM;
        memset(l->threads + l->nthreads, 0, (cap - l->nthreads) * sizeof *l->threads);
        l->nthreads = (uint32_t)cap;
    }
    wv_log_list *t = &l->threads[thread];
    if (wv_grow(&t->v, &t->cap, t->n + 1, sizeof *t->v))
        return -ENOMEM;
    t->v[t->n++] = i;
    return 0;
}

static int add_log(wv_logs_build *l, const wv_event *ev)
{
    if (l->log_text_len + ev->data_len >= WV_LOG_TEXT_MAX ||
        wv_grow(&l->logs, &l->logs_cap, l->nlogs + 1, sizeof *l->logs) ||
        wv_grow(&l->log_text, &l->log_text_cap, l->log_text_len + ev->data_len + 1, 1) ||
        add_thread_log(l, ev->thread, (uint32_t)l->nlogs))
        return -ENOMEM;
    memcpy(l->log_text + l->log_text_len, ev->data, ev->data_len);
    l->logs[l->nlogs++] = (wv_ilog){.t = ev->ns, .task = ev->arg[0], .msg = l->log_text_len,
                                    .msg_len = ev->data_len, .category = (uint32_t)ev->arg[1],
                                    .thread = (uint16_t)ev->thread};
    l->log_text_len += ev->data_len;
    see_str(l, ev->arg[1]);
    return 0;
}

/* The counter of string id `name`, made on its first point; NULL when out
 * of memory. */
static wv_icounter *counter_of(wv_logs_build *l, uint64_t name)
{
    if (name >= l->counter_of_n) {
        size_t cap = l->counter_of_n;
        if (wv_grow(&l->counter_of, &cap, name + 1, sizeof *l->counter_of))
            return NULL;
        memset(l->counter_of + l->counter_of_n, 0, (cap - l->counter_of_n) * sizeof *l->counter_of);
        l->counter_of_n = (uint32_t)cap;
    }
    if (!l->counter_of[name]) {
        wv_icounter *c = realloc(l->counters, (l->ncounters + 1) * sizeof *c);
        if (!c)
            return NULL;
        l->counters = c;
        memset(&c[l->ncounters], 0, sizeof *c);
        c[l->ncounters].name = (uint32_t)name;
        l->counter_of[name] = (uint32_t)++l->ncounters;
        see_str(l, name);
    }
    return &l->counters[l->counter_of[name] - 1];
}

static int add_counter(wv_logs_build *l, const wv_event *ev)
{
    if (ev->arg[0] >= WV_MAX_STRINGS)
        return 0;
    wv_icounter *c = counter_of(l, ev->arg[0]);
    if (!c)
        return -ENOMEM;
    size_t cap = c->cap;
    if (wv_grow(&c->t, &cap, c->n + 1, sizeof *c->t) || wv_grow(&c->v, &c->cap, c->n + 1, sizeof *c->v))
        return -ENOMEM;
    c->t[c->n] = ev->ns;
    c->v[c->n++] = (int64_t)ev->arg[1];
    return 0;
}

int wv_logs_file(wv_logs_build *l, const wv_event *ev)
{
    if (ev->code == WEFT_EV_LOG)
        return add_log(l, ev);
    if (ev->code == WEFT_EV_COUNTER)
        return add_counter(l, ev);
    return 0;
}

int wv_logs_finish(wv_logs_build *l, wv_index *x)
{
    x->logs = l->logs, x->nlogs = l->nlogs, x->logs_cap = l->logs_cap;
    x->log_text = l->log_text, x->log_text_len = l->log_text_len, x->log_text_cap = l->log_text_cap;
    x->counters = l->counters, x->ncounters = l->ncounters;
    l->logs = NULL, l->log_text = NULL, l->counters = NULL;
    /* empty arrays still exist, so searches may take &a[0] */
    if (wv_grow(&x->logs, &x->logs_cap, 1, sizeof *x->logs) || wv_grow(&x->log_text, &x->log_text_cap, 1, 1))
        return -ENOMEM;
    wv_fit(&x->logs, &x->logs_cap, x->nlogs, sizeof *x->logs);
    wv_fit(&x->log_text, &x->log_text_cap, x->log_text_len, 1);
    for (uint32_t i = 0; i < l->nthreads && i < x->thread_limit; i++) {
        uint32_t p = x->thread_pos[i];
        if (p == UINT32_MAX || !l->threads[i].n)
            continue;
        wv_ithread *t = &x->threads[p];
        wv_fit(&l->threads[i].v, &l->threads[i].cap, l->threads[i].n, sizeof *l->threads[i].v);
        t->logs = l->threads[i].v, t->nlogs = l->threads[i].n, t->logs_cap = l->threads[i].cap;
        l->threads[i].v = NULL;
    }
    for (size_t i = 0; i < x->ncounters; i++) {
        wv_icounter *c = &x->counters[i];
        size_t cap = c->cap;
        wv_fit(&c->t, &cap, c->n, sizeof *c->t);
        wv_fit(&c->v, &c->cap, c->n, sizeof *c->v);
        if (wv_lod_build_counter(c))
            return -ENOMEM;
    }
    return 0;
}

void wv_logs_free(wv_logs_build *l)
{
    for (size_t i = 0; i < l->ncounters && l->counters; i++)
        free(l->counters[i].t), free(l->counters[i].v);
    free(l->counters);
    free(l->logs);
    free(l->log_text);
    for (uint32_t i = 0; i < l->nthreads; i++)
        free(l->threads[i].v);
    free(l->threads);
    free(l->counter_of);
    memset(l, 0, sizeof *l);
}
