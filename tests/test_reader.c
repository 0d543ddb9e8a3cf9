/*
 * test_reader.c - the .weft reader (viewer/reader.c) on traces built with
 * tracegen: exact round trips, time conversion, merge order, gaps, every
 * kind of bad input with its exact one-line message, truncation at every
 * byte, and random damage (which must never crash; run under ASan too).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "reader.h"
#include "testutil.h"
#include "tracegen.h"

/* ---- helpers --------------------------------------------------------------- */

static const char *write_trace(tg *g, const char *name)
{
    const char *p = tu_path(name);
    cr_assert_eq(tg_write(g, p), 0);
    return p;
}

static char *expect_msg(const char *fmt, const char *path, unsigned long long off)
{
    static char buf[1024];
    char f[512];
    snprintf(f, sizeof f, "weft: %%s: %s", fmt);
    snprintf(buf, sizeof buf, f, path, off);
    return buf;
}

/* Summary of reading bytes through a memfd: what a consumer relies on. */
typedef struct outcome {
    size_t events;     /* non-synthetic */
    size_t gaps;       /* synthetic BATCH_GAP events */
    int status;
    char msg[1024];
} outcome;

static outcome read_bytes(const void *bytes, size_t len)
{
    outcome o;
    memset(&o, 0, sizeof o);
    int fd = memfd_create("weft-test", MFD_CLOEXEC);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, bytes, len), (ssize_t)len);
    lseek(fd, 0, SEEK_SET);
    wv_reader *r = wv_reader_open_fd(fd, "mem");
    cr_assert_not_null(r);
    int64_t last[64];
    int seen[64] = {0};
    wv_event ev;
    while (wv_reader_next(r, &ev)) {
        if (ev.synthetic)
            o.gaps++;
        else
            o.events++;
        if (ev.thread < 64) { /* time never runs backwards on a thread */
            if (seen[ev.thread])
                cr_assert_geq(ev.ns, last[ev.thread]);
            last[ev.thread] = ev.ns, seen[ev.thread] = 1;
        }
    }
    o.status = wv_reader_status(r);
    snprintf(o.msg, sizeof o.msg, "%s", wv_reader_message(r));
    cr_assert_null(strchr(o.msg, '\n'), "a message is one line: %s", o.msg);
    cr_assert_eq(o.status == WV_OK, o.msg[0] == 0, "a message exactly when there is a problem");
    wv_reader_close(r);
    close(fd);
    return o;
}

/* A small trace of several frames: 2 threads, strings, clock samples. */
static tg *multi_frame_trace(size_t *nevents)
{
    tg *g = tg_new(NULL);
    size_t n = 0;
    tg_clock(g, 1000000 + 5000, 1000000 + 5000, 0);
    tg_string(g, 1, "request");
    tg_string(g, 2, "parse");
    tg_thread(g, 0, 101, "main");
    tg_batch_chunk(g, 0);
    tg_ev(g, 1001000, WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, 1001100, WEFT_EV_TASK_BEGIN, 1, 0, 1);
    tg_ev(g, 1001200, WEFT_EV_REGION_BEGIN, 1, 2, 0);
    tg_batch_end(g);
    n += 3;
    tg_frame(g);
    tg_clock(g, 1000000 + 9000, 1000000 + 9000, 0);
    tg_thread(g, 1, 102, "worker");
    tg_batch_chunk(g, 1);
    tg_ev(g, 1006000, WEFT_EV_TIME_BASE, 0, 0, 0);
    for (int i = 0; i < 20; i++)
        tg_ev_b(g, 1006000 + 10 * i, WEFT_EV_LOG, 1, 2, "hello", 5);
    tg_batch_end(g);
    tg_batch(g, 0);
    tg_ev(g, 1007000, WEFT_EV_REGION_END, 0, 0, 0);
    tg_batch_end(g);
    n += 22;
    tg_frame(g);
    tg_clock(g, 1000000 + 12000, 1000000 + 12000, 0);
    tg_batch(g, 0);
    tg_ev(g, 1011000, WEFT_EV_TASK_END, 1, 0, 0);
    tg_ev(g, 1011500, WEFT_EV_COUNTER, 1, (uint64_t)-3, 0);
    tg_batch_end(g);
    n += 2;
    tg_end_thread(g, 0, 7, 0);
    tg_end_thread(g, 1, 21, 0);
    tg_end(g, WEFT_END_STOP, 28, 0, 4096);
    tg_frame(g);
    *nevents = n;
    return g;
}

/* ---- round trips -------------------------------------------------------------- */

typedef struct want {
    unsigned code;
    uint32_t thread;
    int64_t ns;
    uint64_t a0, a1, a2;
    const char *data;
} want;

Test(reader, round_trip_of_every_event_type_gives_exact_values_and_times)
{
    /* TSC clock, tick shift 4 (quantized tick = 16 raw), 2 raw ticks per ns
     * at first, then 1 per ns: times check the piecewise interpolation and
     * the extension of the last slope. */
    tg_opts o = tg_defaults();
    o.clock = WEFT_CLOCK_TSC;
    o.tick_shift = 4;
    o.ticks0 = 16000;
    o.mono0_ns = 5000000000ull;
    o.ticks_per_sec = 2000000000ull;
    tg *g = tg_new(&o);
    tg_clock(g, 16000 + 2000000, 5000000000ull + 1000000, 0);
    tg_clock(g, 16000 + 4000000, 5000000000ull + 3000000, 0);
    tg_string(g, 1, "request");
    tg_string(g, 2, "parse");
    tg_string(g, 3, "http");
    tg_string(g, 4, "queue");
    tg_thread(g, 0, 101, "main");
    tg_thread(g, 1, 102, "worker");
    tg_batch_chunk(g, 0);
    tg_ev(g, 1000, WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, 63500, WEFT_EV_TASK_BEGIN, 7, 3, 1);
    tg_ev(g, 63500, WEFT_EV_REGION_BEGIN, 7, 2, 0);
    tg_ev_b(g, 125000, WEFT_EV_LOG, 7, 3, "GET /x", 6);
    tg_ev(g, 125000, WEFT_EV_COUNTER, 4, (uint64_t)-42, 0);
    tg_ev_b(g, 188500, WEFT_EV_THREAD_NAME, 0, 0, "main-renamed", 12);
    tg_ev(g, 188500, WEFT_EV_REGION_END, 0, 0, 0);
    tg_ev(g, 188500, WEFT_EV_DROP, 5, 0, 0);
    tg_ev(g, 188500, WEFT_EV_DIAG, WEFT_DIAG_REGION_ENDED_TWICE, 2, 9);
    tg_ev(g, 313500, WEFT_EV_TASK_END, 7, 0, 0);
    tg_ev(g, 313500, WEFT_EV_THREAD_EXIT, 0, 0, 0);
    tg_batch_end(g);
    tg_batch_chunk(g, 1);
    tg_ev(g, 1000, WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, 63500, WEFT_EV_COUNTER, 4, (uint64_t)INT64_MIN, 0);
    tg_ev(g, 125000, WEFT_EV_COUNTER, 4, (uint64_t)INT64_MAX, 0);
    tg_batch_end(g);
    tg_end_thread(g, 0, 11, 5);
    tg_end_thread(g, 1, 3, 0);
    tg_end(g, WEFT_END_STOP, 14, 5, 123456);
    const char *path = write_trace(g, "roundtrip.weft");
    tg_free(g);

    const want w[] = {
        {WEFT_EV_TIME_BASE, 0, 0, 1000, 0, 0, NULL},
        {WEFT_EV_TIME_BASE, 1, 0, 1000, 0, 0, NULL},
        {WEFT_EV_TASK_BEGIN, 0, 500000, 7, 3, 1, NULL},
        {WEFT_EV_REGION_BEGIN, 0, 500000, 7, 2, 0, NULL},
        {WEFT_EV_COUNTER, 1, 500000, 4, (uint64_t)INT64_MIN, 0, NULL},
        {WEFT_EV_LOG, 0, 992000, 7, 3, 6, "GET /x"},
        {WEFT_EV_COUNTER, 0, 992000, 4, (uint64_t)-42, 0, NULL},
        {WEFT_EV_COUNTER, 1, 992000, 4, (uint64_t)INT64_MAX, 0, NULL},
        {WEFT_EV_THREAD_NAME, 0, 2000000, 12, 0, 0, "main-renamed"},
        {WEFT_EV_REGION_END, 0, 2000000, 0, 0, 0, NULL},
        {WEFT_EV_DROP, 0, 2000000, 5, 0, 0, NULL},
        {WEFT_EV_DIAG, 0, 2000000, WEFT_DIAG_REGION_ENDED_TWICE, 2, 9, NULL},
        {WEFT_EV_TASK_END, 0, 4000000, 7, 0, 0, NULL},
        {WEFT_EV_THREAD_EXIT, 0, 4000000, 0, 0, 0, NULL},
    };
    wv_reader *r = wv_reader_open(path);
    cr_assert_eq(wv_reader_status(r), WV_OK, "%s", wv_reader_message(r));
    wv_event ev;
    size_t i = 0;
    while (wv_reader_next(r, &ev)) {
        cr_assert_lt(i, sizeof w / sizeof w[0]);
        const want *x = &w[i++];
        cr_assert_eq(ev.code, x->code, "event %zu: code %u, want %u", i, ev.code, x->code);
        cr_assert_eq(ev.thread, x->thread, "event %zu", i);
        cr_assert_eq(ev.ns, x->ns, "event %zu: %lld ns, want %lld", i, (long long)ev.ns,
                     (long long)x->ns);
        cr_assert_eq(ev.arg[0], x->a0, "event %zu", i);
        cr_assert_eq(ev.arg[1], x->a1, "event %zu", i);
        cr_assert_eq(ev.arg[2], x->a2, "event %zu", i);
        cr_assert_eq(ev.synthetic, 0);
        if (x->data) {
            cr_assert_eq(ev.data_len, strlen(x->data));
            cr_assert_arr_eq(ev.data, x->data, ev.data_len);
        }
    }
    cr_assert_eq(i, sizeof w / sizeof w[0]);
    cr_assert_eq(wv_reader_status(r), WV_OK);
    cr_assert_str_eq(wv_reader_message(r), "");
    cr_assert_str_eq(wv_reader_string(r, 1, NULL), "request");
    cr_assert_str_eq(wv_reader_string(r, 99, NULL), "<string 99>");
    cr_assert_str_eq(wv_reader_string(r, 0, NULL), "");
    cr_assert_eq(wv_reader_thread_count(r), 2);
    cr_assert_eq(wv_reader_thread(r, 0)->tid, 101);
    cr_assert_str_eq(wv_reader_thread(r, 0)->name, "main-renamed");
    cr_assert_str_eq(wv_reader_thread(r, 1)->name, "worker");
    cr_assert_eq(wv_reader_thread(r, 0)->events, 11);
    cr_assert_eq(wv_reader_thread(r, 0)->end_dropped, 5);
    const wv_end *e = wv_reader_end(r);
    cr_assert(e->present);
    cr_assert_eq(e->reason, WEFT_END_STOP);
    cr_assert_eq(e->events, 14);
    cr_assert_eq(e->dropped, 5);
    cr_assert_eq(e->memory_bytes, 123456);
    const weft_header *h = wv_reader_header(r);
    cr_assert_str_eq(h->program, "demo");
    cr_assert_str_eq(h->weft_version, "0.1.0");
    cr_assert_eq(h->pid, 4242);
    wv_reader_close(r);
}

Test(reader, monotonic_clock_ticks_are_nanoseconds)
{
    tg *g = tg_new(NULL); /* monotonic, ticks0 = mono0 = 1000000 */
    tg_thread(g, 0, 5, "t");
    tg_batch_chunk(g, 0);
    tg_ev(g, 1000000, WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, 1000123, WEFT_EV_REGION_END, 0, 0, 0);
    tg_ev(g, 3500000, WEFT_EV_REGION_END, 0, 0, 0);
    tg_batch_end(g);
    trace t;
    cr_assert_eq(tu_load(write_trace(g, "mono.weft"), &t), WV_TRUNCATED);
    tg_free(g);
    cr_assert_eq(t.n, 3);
    cr_assert_eq(t.ev[0].ns, 0);
    cr_assert_eq(t.ev[1].ns, 123);
    cr_assert_eq(t.ev[2].ns, 2500000);
    tu_free(&t);
}

Test(reader, merges_interleaved_batches_of_threads_in_time_order)
{
    tg *g = tg_new(NULL);
    tg_thread(g, 0, 10, "a");
    tg_thread(g, 1, 11, "b");
    tg_batch_chunk(g, 1); /* written first, but later in time */
    tg_ev(g, 1002000, WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, 1002500, WEFT_EV_REGION_END, 0, 0, 0);
    tg_batch_end(g);
    tg_batch_chunk(g, 0);
    tg_ev(g, 1001000, WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, 1002200, WEFT_EV_REGION_END, 0, 0, 0);
    tg_ev(g, 1003000, WEFT_EV_REGION_END, 0, 0, 0);
    tg_batch_end(g);
    tg_end(g, WEFT_END_STOP, 5, 0, 0);
    trace t;
    cr_assert_eq(tu_load(write_trace(g, "merge.weft"), &t), WV_OK, "%s", t.msg);
    tg_free(g);
    const int64_t ns[] = {1000, 2000, 2200, 2500, 3000};
    const uint32_t th[] = {0, 1, 0, 1, 0};
    cr_assert_eq(t.n, 5);
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(t.ev[i].ns, ns[i], "event %zu at %lld", i, (long long)t.ev[i].ns);
        cr_assert_eq(t.ev[i].thread, th[i]);
    }
    tu_free(&t);
}

#define MS 1000000ull /* ticks = ns with the default monotonic clock */

/* One event on `thread` at B + ms, in its own batch. */
static void one_event(tg *g, uint32_t thread, uint64_t at, int first)
{
    if (first) {
        tg_batch_chunk(g, thread);
        tg_ev(g, at, WEFT_EV_TIME_BASE, 0, 0, 0);
    } else {
        tg_batch(g, thread);
        tg_ev(g, at, WEFT_EV_REGION_END, 0, 0, 0);
    }
    tg_batch_end(g);
}

Test(reader, holds_events_long_enough_that_a_late_commit_still_sorts)
{
    /* Cycles every 100 ms. Thread 1 stamped an event at 280 ms but its
     * partly filled chunk reached the file only in the cycle of 600 ms,
     * after thread 0's event of 290 ms was written (cycle 300 ms). */
    const uint64_t b = 1000000;
    tg *g = tg_new(NULL);
    tg_thread(g, 0, 10, "a");
    tg_thread(g, 1, 11, "b");
    for (uint64_t c = 1; c <= 8; c++) {
        tg_clock(g, b + c * 100 * MS, b + c * 100 * MS, 0);
        if (c == 1) {
            one_event(g, 0, b + 50 * MS, 1);
            one_event(g, 1, b + 60 * MS, 1);
        } else if (c == 3) {
            one_event(g, 0, b + 290 * MS, 0);
        } else if (c == 6) {
            tg_batch(g, 1);
            tg_ev(g, b + 280 * MS, WEFT_EV_REGION_END, 0, 0, 0);
            tg_ev(g, b + 580 * MS, WEFT_EV_REGION_END, 0, 0, 0);
            tg_batch_end(g);
        } else if (c >= 7) {
            one_event(g, 0, b + (c * 100 - 50) * MS, 0);
        }
        tg_frame(g);
    }
    tg_end(g, WEFT_END_STOP, 7, 0, 0);
    trace t;
    cr_assert_eq(tu_load(write_trace(g, "late.weft"), &t), WV_OK, "%s", t.msg);
    tg_free(g);
    const int64_t ms[] = {50, 60, 280, 290, 580, 650, 750};
    cr_assert_eq(t.n, 7);
    for (size_t i = 0; i < 7; i++)
        cr_assert_eq(t.ev[i].ns, ms[i] * (int64_t)MS, "event %zu at %lld", i, (long long)t.ev[i].ns);
    tu_free(&t);
}

Test(reader, releases_events_while_reading_not_only_at_the_end)
{
    const uint64_t b = 1000000;
    tg *g = tg_new(NULL);
    tg_thread(g, 0, 10, "a");
    for (uint64_t c = 1; c <= 30; c++) {
        tg_clock(g, b + c * 100 * MS, b + c * 100 * MS, 0);
        one_event(g, 0, b + (c * 100 - 50) * MS, c == 1);
        tg_frame(g);
    }
    tg_end(g, WEFT_END_STOP, 30, 0, 0);
    wv_reader *r = wv_reader_open(write_trace(g, "stream.weft"));
    wv_event ev;
    cr_assert_eq(wv_reader_next(r, &ev), 1);
    cr_assert_eq(ev.ns, 50 * (int64_t)MS);
    uint64_t read = wv_reader_progress(r).good_bytes;
    cr_assert_leq(read, tg_frame_offset(g, 5), "first event out after %llu bytes", (unsigned long long)read);
    size_t n = 1;
    while (wv_reader_next(r, &ev))
        n++;
    cr_assert_eq(n, 30);
    wv_reader_close(r);
    tg_free(g);
}

Test(reader, seq_gap_reports_batch_gap_and_resumes_at_next_chunk)
{
    tg *g = tg_new(NULL);
    tg_thread(g, 0, 10, "a");
    tg_batch_at(g, 0, 0, 0);
    tg_ev(g, 1000100, WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, 1000110, WEFT_EV_REGION_END, 0, 0, 0);
    tg_batch_end(g);
    tg_batch_at(g, 0, 2, 40); /* seq 1 is missing: no time base for this one */
    tg_ev(g, 1000120, WEFT_EV_REGION_END, 0, 0, 0);
    tg_batch_end(g);
    tg_batch_at(g, 0, 3, 0);
    tg_ev(g, 1000200, WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, 1000210, WEFT_EV_REGION_END, 0, 0, 0);
    tg_batch_end(g);
    tg_end(g, WEFT_END_STOP, 5, 0, 0);
    wv_reader *r = wv_reader_open(write_trace(g, "gap.weft"));
    tg_free(g);
    wv_event ev;
    const unsigned codes[] = {WEFT_EV_TIME_BASE, WEFT_EV_REGION_END, WEFT_EV_DIAG,
                              WEFT_EV_TIME_BASE, WEFT_EV_REGION_END};
    const int64_t ns[] = {100, 110, 110, 200, 210};
    size_t i = 0;
    while (wv_reader_next(r, &ev)) {
        cr_assert_lt(i, 5);
        cr_assert_eq(ev.code, codes[i]);
        cr_assert_eq(ev.ns, ns[i]);
        cr_assert_eq(ev.synthetic, codes[i] == WEFT_EV_DIAG);
        if (ev.synthetic)
            cr_assert_eq(ev.arg[0], WEFT_DIAG_BATCH_GAP);
        i++;
    }
    cr_assert_eq(i, 5);
    cr_assert_eq(wv_reader_status(r), WV_OK);
    cr_assert_eq(wv_reader_progress(r).events, 4, "the marker is not a file event");
    wv_reader_close(r);
}

Test(reader, skips_unknown_record_kinds_and_trailing_bytes_in_bodies)
{
    tg *g = tg_new(NULL);
    tg_record(g, 200, "future record", 13);
    const uint8_t thread[] = {0, 77, 1, 'x', 0xAA, 0xBB}; /* index 0, tid 77, "x", extra */
    tg_record(g, WEFT_REC_THREAD, thread, sizeof thread);
    tg_batch_chunk(g, 0);
    tg_ev(g, 1000000, WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_batch_end(g);
    tg_end(g, WEFT_END_EXIT, 1, 0, 0);
    wv_reader *r = wv_reader_open(write_trace(g, "skip.weft"));
    tg_free(g);
    wv_event ev;
    cr_assert_eq(wv_reader_next(r, &ev), 1);
    cr_assert_eq(wv_reader_next(r, &ev), 0);
    cr_assert_eq(wv_reader_status(r), WV_OK, "%s", wv_reader_message(r));
    cr_assert_eq(wv_reader_thread(r, 0)->tid, 77);
    cr_assert_str_eq(wv_reader_thread(r, 0)->name, "x");
    wv_reader_close(r);
}

/* A MODULE record body: start, end, offset, path. */
static size_t module_body(uint8_t *b, uint64_t start, uint64_t end, uint64_t off, const char *path)
{
    uint8_t *p = b;
    p = weft_put_uvarint(p, start);
    p = weft_put_uvarint(p, end);
    p = weft_put_uvarint(p, off);
    p = weft_put_uvarint(p, strlen(path));
    memcpy(p, path, strlen(path));
    return (size_t)(p - b) + strlen(path);
}

Test(reader, module_records_are_kept_in_file_order_with_exact_values)
{
    tg *g = tg_new(NULL);
    uint8_t b[256];
    tg_record(g, WEFT_REC_MODULE, b, module_body(b, 0x555500001000, 0x555500005000, 0x1000, "/bin/demo"));
    tg_thread(g, 1, 10, "main");
    tg_batch_chunk(g, 1);
    tg_ev(g, 1000000, WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, 1000100, WEFT_EV_GC_END, 0, 0, 0);
    tg_batch_end(g);
    tg_record(g, WEFT_REC_MODULE, b, module_body(b, 0x7f0000000000, 0x7f0000200000, 0, "/lib/x y.so"));
    tg_end(g, WEFT_END_STOP, 2, 0, 0);
    wv_reader *r = wv_reader_open(write_trace(g, "modules.weft"));
    tg_free(g);
    wv_event ev;
    while (wv_reader_next(r, &ev))
        ;
    cr_assert_eq(wv_reader_status(r), WV_OK, "%s", wv_reader_message(r));
    cr_assert_eq(wv_reader_module_count(r), 2);
    const wv_module *m = wv_reader_module(r, 0);
    cr_expect_eq(m->start, 0x555500001000);
    cr_expect_eq(m->end, 0x555500005000);
    cr_expect_eq(m->offset, 0x1000);
    cr_expect_str_eq(m->path, "/bin/demo");
    m = wv_reader_module(r, 1);
    cr_expect_eq(m->start, 0x7f0000000000);
    cr_expect_str_eq(m->path, "/lib/x y.so", "paths keep their spaces");
    cr_expect_null(wv_reader_module(r, 2));
    wv_reader_close(r);
}

Test(reader, system_stream_and_a_second_thread_record_are_read)
{
    tg_opts o = tg_defaults();
    o.sched_source = WEFT_SCHED_SRC_PERF;
    tg *g = tg_new(&o);
    tg_thread(g, WEFT_SYSTEM_THREAD, 11, "weft-sampler");
    tg_thread(g, 1, 12, "worker");
    tg_batch_chunk(g, WEFT_SYSTEM_THREAD);
    tg_ev(g, 1000000, WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, 1000500, WEFT_EV_SCHED, 1, 3, WEFT_SWITCH_PREEMPTED);
    tg_batch_end(g);
    tg_thread(g, 1, 12, "renamed"); /* announced again: a rename from another thread */
    tg_end(g, WEFT_END_STOP, 2, 0, 0);
    wv_reader *r = wv_reader_open(write_trace(g, "system.weft"));
    tg_free(g);
    cr_assert_eq(wv_reader_header(r)->sched_source, WEFT_SCHED_SRC_PERF);
    wv_event ev;
    cr_assert_eq(wv_reader_next(r, &ev), 1);
    cr_assert_eq(wv_reader_next(r, &ev), 1);
    cr_expect_eq(ev.thread, WEFT_SYSTEM_THREAD);
    cr_expect_eq(ev.code, WEFT_EV_SCHED);
    cr_expect_eq(ev.arg[0], 1);
    cr_expect_eq(ev.arg[1], 3);
    cr_expect_eq(ev.arg[2], WEFT_SWITCH_PREEMPTED);
    cr_expect_eq(ev.ns, 500);
    cr_assert_eq(wv_reader_next(r, &ev), 0);
    cr_assert_eq(wv_reader_status(r), WV_OK, "%s", wv_reader_message(r));
    cr_expect_str_eq(wv_reader_thread(r, WEFT_SYSTEM_THREAD)->name, "weft-sampler");
    cr_expect_str_eq(wv_reader_thread(r, 1)->name, "renamed");
    wv_reader_close(r);
}

Test(reader, more_module_records_than_the_limit_is_a_problem_of_the_file)
{
    tg *g = tg_new(NULL);
    uint8_t b[64];
    for (unsigned i = 0; i <= WV_MAX_MODULES; i++)
        tg_record(g, WEFT_REC_MODULE, b, module_body(b, 0x1000, 0x2000, 0, "/m"));
    tg_end(g, WEFT_END_STOP, 0, 0, 0);
    const char *p = write_trace(g, "manymod.weft");
    tg_free(g);
    wv_reader *r = wv_reader_open(p);
    wv_event ev;
    cr_assert_eq(wv_reader_next(r, &ev), 0);
    cr_assert_eq(wv_reader_status(r), WV_FAILED);
    cr_expect(strstr(wv_reader_message(r), ": more than 8192 module records"), "%s", wv_reader_message(r));
    cr_expect_eq(wv_reader_module_count(r), WV_MAX_MODULES);
    wv_reader_close(r);
}

/* ---- bad input: one exact line each ----------------------------------------- */

Test(reader, missing_file_fails_with_the_os_reason)
{
    wv_reader *r = wv_reader_open("/nonexistent/dir/x.weft");
    cr_assert_eq(wv_reader_status(r), WV_FAILED);
    cr_assert_str_eq(wv_reader_message(r),
                     "weft: /nonexistent/dir/x.weft: cannot open: No such file or directory");
    wv_event ev;
    cr_assert_eq(wv_reader_next(r, &ev), 0);
    wv_reader_close(r);
}

/* Call sites (kind A): a version 2 file codes each against the chunk's
 * previous site, a version 1 file stores them whole; both read back exactly,
 * across chunks (where the coding restarts) and across event types. */
static void sites_trace(unsigned version, const uint64_t *sites, size_t n)
{
    tg_opts o = tg_defaults();
    o.version = version;
    tg *g = tg_new(&o);
    tg_thread(g, 0, 101, "main");
    for (size_t i = 0; i < n; i++) {
        if (i % 3 == 0) { /* a new chunk every three events */
            if (i)
                tg_batch_end(g);
            tg_batch_chunk(g, 0);
            tg_ev(g, 1000 + 10 * i, WEFT_EV_TIME_BASE, 0, 0, 0);
        }
        if (i % 2)
            tg_ev5(g, 1001 + 10 * i, WEFT_EV_LOCK_WAIT, 1, 0x5000, sites[i], 4, 0);
        else
            tg_ev5(g, 1001 + 10 * i, WEFT_EV_IO, 2, 7, 64, 3, sites[i]);
    }
    tg_batch_end(g);
    tg_end_thread(g, 0, n + (n + 2) / 3, 0);
    tg_end(g, WEFT_END_STOP, n + (n + 2) / 3, 0, 4096);
    tg_frame(g);
    const char *p = write_trace(g, version == 1 ? "sites-v1.weft" : "sites-v2.weft");
    wv_reader *r = wv_reader_open(p);
    cr_assert_eq(wv_reader_status(r), WV_OK, "%s", wv_reader_message(r));
    wv_event ev;
    size_t got = 0;
    while (wv_reader_next(r, &ev)) {
        if (ev.code == WEFT_EV_TIME_BASE)
            continue;
        cr_assert_lt(got, n);
        unsigned arg = ev.code == WEFT_EV_IO ? 4 : 2;
        cr_expect_eq(ev.arg[arg], sites[got], "version %u, event %zu: site 0x%llx, want 0x%llx", version,
                     got, (unsigned long long)ev.arg[arg], (unsigned long long)sites[got]);
        got++;
    }
    cr_expect_eq(got, n);
    cr_expect_eq(wv_reader_status(r), WV_OK, "%s", wv_reader_message(r));
    wv_reader_close(r);
    tg_free(g);
}

Test(reader, call_sites_read_back_from_version_1_and_2_files)
{
    const uint64_t sites[] = {0x7f12345678a0, 0x7f1234567000, 0x7f12345678a0, 0x55aabbcc0010,
                              0x7f12345678a0, 0x7f12345678a0, 1,              0x7fffffffffff,
                              0x7f1234567000, 0x7f1234567000};
    size_t n = sizeof sites / sizeof *sites;
    sites_trace(1, sites, n);
    sites_trace(2, sites, n);
}

static void expect_open_failure(const void *bytes, size_t len, const char *name,
                                const char *fmt, unsigned long long off)
{
    const char *p = tu_path(name);
    cr_assert_eq(tg_write_bytes(p, bytes, len), 0);
    wv_reader *r = wv_reader_open(p);
    cr_assert_eq(wv_reader_status(r), WV_FAILED);
    cr_assert_str_eq(wv_reader_message(r), expect_msg(fmt, p, off));
    wv_event ev;
    cr_assert_eq(wv_reader_next(r, &ev), 0);
    wv_reader_close(r);
}

Test(reader, empty_file_fails)
{
    expect_open_failure("", 0, "empty.weft", "offset %llu: file is empty", 0);
}

Test(reader, non_weft_file_fails)
{
    const char text[] = "this is a text file, not a trace\n";
    expect_open_failure(text, sizeof text - 1, "text.weft", "offset %llu: not a weft file", 0);
    /* an LZ4 file without the weft header is not a weft file either */
    const uint8_t lz4[] = {0x04, 0x22, 0x4D, 0x18, 0x64, 0x40, 0xA7, 0, 0, 0, 0};
    expect_open_failure(lz4, sizeof lz4, "lz4.weft", "offset %llu: not a weft file", 0);
}

Test(reader, newer_format_version_fails_naming_both_versions)
{
    tg_opts o = tg_defaults();
    o.version = WEFT_FORMAT_VERSION + 1;
    tg *g = tg_new(&o);
    size_t len;
    const uint8_t *b = tg_bytes(g, &len);
    char fmt[200];
    snprintf(fmt, sizeof fmt,
             "offset %%llu: format version %d is newer than this weft reads (version %d); upgrade weft",
             WEFT_FORMAT_VERSION + 1, WEFT_FORMAT_VERSION);
    expect_open_failure(b, len, "newer.weft", fmt, 12);
    tg_free(g);
}

Test(reader, file_cut_inside_the_header_fails)
{
    tg *g = tg_new(NULL);
    size_t len;
    const uint8_t *b = tg_bytes(g, &len);
    expect_open_failure(b, 10, "hdr10.weft", "offset %llu: file ends inside the header", 10);
    expect_open_failure(b, 40, "hdr40.weft", "offset %llu: file ends inside the header", 40);
    tg_free(g);
}

Test(reader, damaged_block_fails_at_its_offset_after_delivering_what_precedes)
{
    size_t n, len;
    tg *g = multi_frame_trace(&n);
    const uint8_t *b = tg_bytes(g, &len);
    uint8_t *bad = malloc(len);
    memcpy(bad, b, len);
    size_t block = tg_frame_offset(g, 1) + 7; /* frame header: magic, FLG, BD, HC */
    bad[block + 4 + 2] ^= 0x40;                /* inside the compressed data */
    const char *p = tu_path("damaged.weft");
    cr_assert_eq(tg_write_bytes(p, bad, len), 0);
    trace t;
    cr_assert_eq(tu_load(p, &t), WV_FAILED);
    cr_assert_str_eq(t.msg, expect_msg("offset %llu: corrupt block (LZ4: ERROR_blockChecksum_invalid)",
                                       p, block));
    cr_assert_eq(t.n, 3, "the first frame's events are delivered");
    tu_free(&t);
    free(bad);
    tg_free(g);
}

Test(reader, batch_count_mismatch_is_corruption_reported_at_its_block)
{
    tg *g = tg_new(NULL);
    tg_thread(g, 0, 10, "a");
    tg_batch_chunk(g, 0);
    tg_ev(g, 1000000, WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_batch_end(g);
    tg_frame(g);
    tg_batch(g, 0);
    tg_ev(g, 1000005, WEFT_EV_REGION_END, 0, 0, 0);
    tg_ev(g, 1000006, WEFT_EV_REGION_END, 0, 0, 0);
    tg_batch_end_count(g, 5);
    const char *p = write_trace(g, "count.weft");
    size_t block = tg_frame_offset(g, 1) + 7;
    tg_free(g);
    trace t;
    cr_assert_eq(tu_load(p, &t), WV_FAILED);
    cr_assert_str_eq(t.msg, expect_msg("offset %llu: corrupt batch of thread 0: 2 events, header says 5",
                                       p, block));
    cr_assert_eq(t.n, 1);
    tu_free(&t);
}

Test(reader, malformed_events_and_records_are_corruption)
{
    struct {
        const char *name, *fmt;
    } cases[] = {
        {"badcode.weft", "offset %llu: corrupt batch of thread 0: bad event (code 0x7f)"},
        {"nobase.weft", "offset %llu: corrupt batch of thread 0: chunk does not start with time_base"},
        {"bigthread.weft", "offset %llu: thread index 70000 exceeds the limit of 65536 threads"},
        {"strid.weft", "offset %llu: corrupt record: string id 0 out of range 1..262144"},
        {"biglen.weft", "offset %llu: corrupt record: record of kind 1 is 100000 bytes, over the limit of 69632"},
        {"badmod.weft", "offset %llu: corrupt record: bad module record"},
        {"longmod.weft", "offset %llu: module path of 5000 bytes exceeds the limit of 4096"},
    };
    for (int c = 0; c < 7; c++) {
        tg *g = tg_new(NULL);
        if (c == 0 || c == 1) {
            tg_thread(g, 0, 10, "a");
            tg_batch_chunk(g, 0);
            if (c == 0) {
                tg_ev(g, 1000000, WEFT_EV_TIME_BASE, 0, 0, 0);
                tg_ev_raw(g, "\x7f", 1);
            } else {
                tg_ev(g, 1000000, WEFT_EV_REGION_END, 0, 0, 0);
            }
            tg_batch_end(g);
        } else if (c == 2) {
            tg_thread(g, 70000, 10, "a");
        } else if (c == 3) {
            tg_string(g, 0, "zero");
        } else if (c == 5) {
            uint8_t b[64]; /* end below start */
            tg_record(g, WEFT_REC_MODULE, b, module_body(b, 0x2000, 0x1000, 0, "/x"));
        } else if (c == 6) {
            char *path = malloc(5001);
            memset(path, 'p', 5000);
            path[5000] = 0;
            uint8_t *b = malloc(5100);
            tg_record(g, WEFT_REC_MODULE, b, module_body(b, 0x1000, 0x2000, 0, path));
            free(b);
            free(path);
        } else {
            char *big = calloc(1, 100000);
            tg_record(g, WEFT_REC_STRINGS, big, 100000);
            free(big);
        }
        const char *p = write_trace(g, cases[c].name);
        size_t block = tg_frame_offset(g, 0) + 7;
        tg_free(g);
        trace t;
        cr_assert_eq(tu_load(p, &t), WV_FAILED, "case %d: %s", c, t.msg);
        cr_assert_str_eq(t.msg, expect_msg(cases[c].fmt, p, block), "case %d", c);
        tu_free(&t);
    }
}

/* ---- truncation ----------------------------------------------------------------- */

Test(reader, truncation_at_every_offset_recovers_a_growing_prefix, .timeout = 120)
{
    size_t total, len;
    tg *g = multi_frame_trace(&total);
    const uint8_t *b = tg_bytes(g, &len);
    size_t hdr = tg_header_len(g), prev = 0;
    for (size_t cut = 0; cut <= len; cut++) {
        outcome o = read_bytes(b, cut);
        char want[512];
        if (cut == 0) {
            cr_assert_str_eq(o.msg, "weft: mem: offset 0: file is empty");
        } else if (cut < hdr) {
            snprintf(want, sizeof want, "weft: mem: offset %zu: file ends inside the header", cut);
            cr_assert_str_eq(o.msg, want);
        } else if (o.status == WV_TRUNCATED) {
            int k = snprintf(want, sizeof want,
                             "weft: mem: warning: file is truncated at offset %zu (no end record); "
                             "recovered %zu events from ", cut, o.events);
            cr_assert_eq(strncmp(o.msg, want, (size_t)k), 0, "cut %zu: %s", cut, o.msg);
            snprintf(want, sizeof want, " of %zu bytes", cut);
            cr_assert(strstr(o.msg, want), "cut %zu: %s", cut, o.msg);
        } else {
            /* only the END's checksum was cut: the file is complete */
            cr_assert_eq(o.status, WV_OK, "cut %zu: %s", cut, o.msg);
            cr_assert_gt(cut, tg_frame_offset(g, 2), "cut %zu", cut);
        }
        if (cut >= hdr)
            cr_assert_neq(o.status, WV_FAILED, "cut %zu: %s", cut, o.msg);
        cr_assert_geq(o.events, prev, "cut %zu: %zu events after %zu", cut, o.events, prev);
        prev = o.events;
        if (cut == tg_frame_offset(g, 1))
            cr_assert_eq(o.events, 3, "a whole frame is recovered whole");
    }
    cr_assert_eq(prev, total);
    tg_free(g);
}

/* ---- damage never crashes -------------------------------------------------------- */

static uint64_t rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

Test(reader, every_single_bit_flip_is_survived, .timeout = 300)
{
    size_t total, len;
    tg *g = multi_frame_trace(&total);
    const uint8_t *b = tg_bytes(g, &len);
    uint8_t *m = malloc(len);
    for (size_t bit = 0; bit < len * 8; bit++) {
        memcpy(m, b, len);
        m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        outcome o = read_bytes(m, len);
        cr_assert_leq(o.events, total + 64, "bit %zu", bit);
    }
    free(m);
    tg_free(g);
}

Test(reader, random_garbage_is_survived, .timeout = 300)
{
    uint64_t s = 0x9e3779b97f4a7c15ull;
    size_t total, len;
    tg *g = multi_frame_trace(&total);
    const uint8_t *b = tg_bytes(g, &len);
    uint8_t buf[4096];
    for (int round = 0; round < 3000; round++) {
        size_t n = rng(&s) % sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)rng(&s);
        if (round % 3 == 1 && n > len) /* a valid prefix, then garbage */
            memcpy(buf, b, tg_frame_offset(g, 1));
        if (round % 3 == 2 && n > len) { /* a valid file with random bytes changed */
            memcpy(buf, b, len);
            n = len;
            for (int k = 0; k < 4; k++)
                buf[rng(&s) % len] = (uint8_t)rng(&s);
        }
        read_bytes(buf, n);
    }
    tg_free(g);
}

/* ---- tick conversion ---------------------------------------------------------------- */

#include "timeconv.h"

Test(timeconv, conversion_is_monotone_for_any_samples)
{
    uint64_t s = 12345;
    for (int round = 0; round < 200; round++) {
        weft_header h;
        memset(&h, 0, sizeof h);
        h.clock = round % 2 ? WEFT_CLOCK_TSC : WEFT_CLOCK_MONOTONIC;
        h.tick_shift = (uint8_t)(rng(&s) % 8);
        h.ticks0 = rng(&s) % 1000000;
        h.mono0_ns = rng(&s) % 1000000;
        h.ticks_per_sec = rng(&s) % 4000000000ull;
        wv_timeconv c;
        cr_assert_eq(wv_timeconv_init(&c, &h), 0);
        for (int i = 0; i < 50; i++) /* some go backwards and are ignored */
            wv_timeconv_add(&c, h.ticks0 + rng(&s) % 100000000, h.mono0_ns + rng(&s) % 100000000);
        int64_t prev = INT64_MIN;
        for (uint64_t q = 0; q < (200000000ull >> h.tick_shift); q += 1 + rng(&s) % 100000) {
            int64_t ns = wv_timeconv_ns(&c, q);
            cr_assert_geq(ns, prev, "round %d: ticks %llu", round, (unsigned long long)q);
            prev = ns;
        }
        wv_timeconv_free(&c);
    }
}

Test(timeconv, keeps_a_bounded_number_of_samples_and_stays_exact_for_recent_ticks)
{
    weft_header h;
    memset(&h, 0, sizeof h);
    h.clock = WEFT_CLOCK_TSC;
    h.ticks0 = 1000;
    h.mono0_ns = 500;
    wv_timeconv c;
    cr_assert_eq(wv_timeconv_init(&c, &h), 0);
    for (uint64_t i = 1; i <= 3 * WV_MAX_CLOCKS; i++) /* 3 ticks per ns */
        wv_timeconv_add(&c, 1000 + 3000 * i, 500 + 1000 * i);
    cr_assert_leq(c.n, WV_MAX_CLOCKS);
    uint64_t last = 1000 + 3000ull * 3 * WV_MAX_CLOCKS;
    cr_assert_eq(wv_timeconv_ns(&c, last - 300), 1000ll * 3 * WV_MAX_CLOCKS - 100);
    cr_assert_eq(wv_timeconv_ns(&c, last + 3000), 1000ll * 3 * WV_MAX_CLOCKS + 1000, "last slope extended");
    wv_timeconv_free(&c);
}
