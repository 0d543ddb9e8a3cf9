/*
 * stats.c - the `weft stats` summary. It runs the same model as `weft json`
 * (model.h) so both report the same diagnostics, and counts events by type
 * straight from the event table's names. The runtime events go through
 * blocking.h, whose profiles stats_rt.c prints.
 */
#include "stats.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "blocking.h"
#include "model.h"

typedef struct stats {
    uint64_t by_code[WEFT_EV_LIMIT];
    wv_blocking *blocking;
    int oom;
} stats;

static void count_event(void *ctx, const wv_event *ev)
{
    stats *s = ctx;
    if (!ev->synthetic)
        s->by_code[ev->code]++;
    if (wv_blocking_add(s->blocking, ev))
        s->oom = 1;
}

/* The system stream (index 0 of a trace with a scheduling source; before
 * the runtime events, index 0 was a program thread) is weft's own sampler,
 * not a thread of the program: it is listed, since its events and drops are
 * in the file, but marked and not counted among the program's threads. */
static void print_threads(wv_reader *r, const wv_model *m, FILE *out)
{
    int in_end = wv_reader_end(r)->present;
    uint32_t n = 0, sys = 0;
    uint32_t sys_index = wv_reader_header(r)->sched_source ? WEFT_SYSTEM_THREAD : UINT32_MAX;
    for (uint32_t i = 0; i < wv_reader_thread_count(r); i++) {
        const wv_thread *t = wv_reader_thread(r, i);
        if (t->registered || t->events)
            *(i == sys_index ? &sys : &n) += 1;
    }
    fprintf(out, "threads:          %" PRIu32 "%s\n", n, sys ? " (and weft's sampler)" : "");
    fprintf(out, "  %10s  %-20s %12s %10s\n", "TID", "NAME", "EVENTS", "DROPPED");
    for (uint32_t i = 0; i < wv_reader_thread_count(r); i++) {
        const wv_thread *t = wv_reader_thread(r, i);
        if (!t->registered && !t->events)
            continue;
        fprintf(out, "  %10" PRIu64 "  %-20s %12" PRIu64 " %10" PRIu64 "%s\n", t->tid,
                t->name[0] ? t->name : "-", t->events,
                in_end ? t->end_dropped : wv_model_dropped(m, i),
                i == sys_index ? "  (weft's own)" : "");
    }
}

static void print_events(const stats *s, uint64_t total, FILE *out)
{
    fprintf(out, "events by type:\n");
    for (unsigned c = 0; c < WEFT_EV_LIMIT; c++)
        if (s->by_code[c])
            fprintf(out, "  %-20s %12" PRIu64 "\n", weft_event_specs[c].name, s->by_code[c]);
    fprintf(out, "total events:     %" PRIu64 "\n", total);
}

static void print_diags(wv_reader *r, const wv_model *m, FILE *out)
{
    size_t n = wv_model_diag_count(m);
    uint64_t total = wv_model_diag_unlisted(m);
    for (size_t i = 0; i < n; i++)
        total += wv_model_diag(m, i)->count;
    fprintf(out, "diagnostics:      %" PRIu64 "\n", total);
    for (size_t i = 0; i < n; i++) {
        const wv_diag *d = wv_model_diag(m, i);
        const char *kind = wv_diag_name(d->kind), *text = wv_diag_text(d->kind);
        fprintf(out, "  %8" PRIu64 "  %s", d->count, kind ? kind : "UNKNOWN");
        if (d->name)
            fprintf(out, " \"%s\"", wv_reader_string(r, d->name, NULL));
        fprintf(out, " (tid %" PRIu64 "): %s\n", wv_reader_thread(r, d->thread)->tid,
                text ? text : "diagnostic kind unknown to this weft");
    }
    if (wv_model_diag_unlisted(m))
        fprintf(out, "  %8" PRIu64 "  more, not listed\n", wv_model_diag_unlisted(m));
}

static void print_summary(wv_reader *r, const wv_model *m, const stats *s, FILE *out)
{
    const weft_header *h = wv_reader_header(r);
    const wv_end *e = wv_reader_end(r);
    wv_progress pg = wv_reader_progress(r);
    char when[40];
    wv_format_utc(h->real0_ns, when);
    int64_t dur = wv_model_end_ns(m) > 0 ? wv_model_end_ns(m) : 0;
    fprintf(out, "program:          %s\n", h->program);
    fprintf(out, "pid:              %" PRIu32 "\n", h->pid);
    fprintf(out, "recorded at:      %s\n", when);
    fprintf(out, "clock:            %s\n", wv_clock_name(h->clock));
    fprintf(out, "scheduling:       %s\n", wv_sched_source_text(h->sched_source));
    fprintf(out, "duration:         %" PRId64 ".%09" PRId64 " s\n", dur / 1000000000, dur % 1000000000);
    print_threads(r, m, out);
    print_events(s, pg.events, out);
    fprintf(out, "file size:        %" PRIu64 " bytes (%.2f bytes/event)\n", pg.file_size,
            pg.events ? (double)pg.file_size / (double)pg.events : 0.0);
    fprintf(out, "dropped events:   %" PRIu64 "\n", e->present ? e->dropped : wv_model_dropped_total(m));
    print_diags(r, m, out);
    if (e->present)
        fprintf(out, "recorder memory:  %" PRIu64 " bytes (%.1f MiB)\n", e->memory_bytes,
                (double)e->memory_bytes / (1024.0 * 1024.0));
    else
        fprintf(out, "recorder memory:  unknown (no end record)\n");
    if (wv_reader_status(r) == WV_FAILED)
        fprintf(out, "status:           DAMAGED (read up to the damage)\n");
    else if (!e->present)
        fprintf(out, "status:           TRUNCATED (no end record)\n");
    else
        fprintf(out, "status:           complete (%s)\n", wv_end_reason_text(e->reason));
}

int wv_stats_print(wv_reader *r, FILE *out)
{
    static const wv_model_sink sink = {.event = count_event};
    stats s;
    memset(&s, 0, sizeof s);
    s.blocking = wv_blocking_new(r);
    wv_model *m = s.blocking ? wv_model_new(&sink, &s) : NULL;
    if (!m) {
        wv_blocking_free(s.blocking);
        return -ENOMEM;
    }
    int rc = wv_model_run(m, r);
    wv_blocking_finish(s.blocking, wv_model_end_ns(m));
    print_summary(r, m, &s, out);
    if (wv_stats_rt_print(s.blocking, r, out) || s.oom)
        rc = -ENOMEM;
    wv_model_free(m);
    wv_blocking_free(s.blocking);
    if (fflush(out) || ferror(out))
        return errno ? errno : EIO;
    return rc;
}
