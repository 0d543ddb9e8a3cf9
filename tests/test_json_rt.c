/*
 * test_json_rt.c - the runtime events in `weft json` (viewer/chrome_rt.c):
 * the scenario of support/rttrace.h converted and parsed back with cJSON,
 * checked exactly: state tracks, CPU tracks, the lock wait with its holder,
 * symbolized site and flow, I/O, pauses on the GC / allocator track, the
 * heap counter, lost records and their names, and the JSON rules on all of
 * it. Then uv phases, schedstat counters and random damaged input.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsontest.h"
#include "rttrace.h"
#include "testutil.h"

#define STATE_TID(i) (0x41000000 + (i))
#define CPU_TID(n) (0x43000000 + (n))
#define GC_TID 0x44000000
#define CPU_PID 0x45000000

static int lock_line, io_line;

static jout scenario(void)
{
    tg *g = rt_sched_trace(rt_lock_site(&lock_line), rt_io_site(&io_line), 1);
    jout j = convert(g);
    tg_free(g);
    cr_assert_eq(j.rc, 0);
    return j;
}

/* The n-th X slice named `name` on (pid, tid); NULL if none. */
static const cJSON *slice_on(const jout *j, double pid, double tid, const char *name, int n)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, j->events)
    {
        if (strcmp(str_of(e, "ph"), "X") || num_of(e, "tid") != tid || num_of(e, "pid") != pid ||
            strcmp(str_of(e, "name"), name))
            continue;
        if (n-- == 0)
            return e;
    }
    return NULL;
}

static void expect_slice(const cJSON *e, long long start_us, long long dur_us)
{
    cr_assert_not_null(e);
    cr_assert_eq(ns_of(e, "ts"), start_us * 1000, "ts %lld", ns_of(e, "ts"));
    cr_assert_eq(ns_of(e, "dur"), dur_us * 1000, "dur %lld", ns_of(e, "dur"));
}

static const char *track_name(const jout *j, double pid, double tid, double *sort)
{
    const cJSON *e;
    const char *name = NULL;
    cJSON_ArrayForEach(e, j->events)
    {
        if (strcmp(str_of(e, "ph"), "M") || !cJSON_GetObjectItemCaseSensitive(e, "tid") ||
            num_of(e, "tid") != tid || num_of(e, "pid") != pid)
            continue;
        if (!strcmp(str_of(e, "name"), "thread_name"))
            name = cJSON_GetStringValue(arg(e, "name"));
        else if (sort)
            *sort = arg(e, "sort_index")->valuedouble;
    }
    return name;
}

Test(json_rt, output_follows_the_rules_perfetto_relies_on)
{
    jout j = scenario();
    check_all(&j);
    jout_free(&j);
}

Test(json_rt, each_thread_has_a_state_track_beside_it)
{
    jout j = scenario();
    const double P = 4242;
    expect_slice(slice_on(&j, P, STATE_TID(2), "Runnable", 0), 10, 40);
    cr_assert_str_eq(cJSON_GetStringValue(arg(slice_on(&j, P, STATE_TID(2), "Runnable", 0), "why")), "starting");
    const cJSON *run = slice_on(&j, P, STATE_TID(2), "Running", 0);
    expect_slice(run, 50, 50);
    cr_assert_eq(arg(run, "cpu")->valuedouble, 2);
    expect_slice(slice_on(&j, P, STATE_TID(2), "Blocked: lock", 0), 100, 200);
    expect_slice(slice_on(&j, P, STATE_TID(2), "Blocked: gc", 0), 500, 80);
    expect_slice(slice_on(&j, P, STATE_TID(2), "Runnable", 1), 700, 50);
    cr_assert_str_eq(cJSON_GetStringValue(arg(slice_on(&j, P, STATE_TID(2), "Runnable", 1), "why")), "preempted");
    expect_slice(slice_on(&j, P, STATE_TID(1), "Blocked: io", 0), 400, 200);
    expect_slice(slice_on(&j, P, STATE_TID(1), "Blocked", 0), 800, 100);
    const cJSON *last = slice_on(&j, P, STATE_TID(1), "Running", 3);
    expect_slice(last, 900, 100);
    cr_assert(cJSON_IsTrue(arg(last, "did_not_end")));
    cr_assert_str_eq(cJSON_GetStringValue(arg(slice_on(&j, P, STATE_TID(1), "Blocked", 0), "reason")), "blocked");
    double sort = -1;
    cr_assert_str_eq(track_name(&j, P, STATE_TID(1), &sort), "main state");
    cr_assert_eq(sort, 5, "right after main (4 * 1)");
    cr_assert_str_eq(track_name(&j, P, STATE_TID(2), &sort), "worker state");
    cr_assert_eq(sort, 9);
    cr_assert_str_eq(track_name(&j, P, 102, &sort), "worker");
    cr_assert_eq(sort, 8);
    cr_assert_null(track_name(&j, P, STATE_TID(3), NULL), "gc never switched: no state track");
    jout_free(&j);
}

Test(json_rt, cpu_tracks_show_which_thread_ran_there)
{
    jout j = scenario();
    expect_slice(slice_on(&j, CPU_PID, CPU_TID(0), "main", 0), 10, 190);
    expect_slice(slice_on(&j, CPU_PID, CPU_TID(0), "worker", 0), 300, 200);
    expect_slice(slice_on(&j, CPU_PID, CPU_TID(0), "worker", 1), 580, 120);
    expect_slice(slice_on(&j, CPU_PID, CPU_TID(0), "worker", 2), 750, 30);
    expect_slice(slice_on(&j, CPU_PID, CPU_TID(1), "main", 0), 260, 140);
    expect_slice(slice_on(&j, CPU_PID, CPU_TID(2), "worker", 0), 50, 50);
    cr_assert_eq(arg(slice_on(&j, CPU_PID, CPU_TID(2), "worker", 0), "tid")->valuedouble, 102);
    cr_assert_str_eq(track_name(&j, CPU_PID, CPU_TID(1), NULL), "CPU 1");
    const cJSON *p = find(&j, "M", "process_name", 1);
    cr_assert_eq(num_of(p, "pid"), CPU_PID);
    cr_assert_str_eq(cJSON_GetStringValue(arg(p, "name")), "CPUs");
    jout_free(&j);
}

Test(json_rt, lock_wait_has_lock_site_holder_and_a_flow_from_the_release)
{
    jout j = scenario();
    const cJSON *w = slice_on(&j, 4242, 102, "lock wait: pthread_mutex_lock", 0);
    expect_slice(w, 100, 250);
    cr_assert_str_eq(str_of(w, "cat"), "lock");
    cr_assert_str_eq(cJSON_GetStringValue(arg(w, "lock")), "0x1000");
    cr_assert_str_eq(cJSON_GetStringValue(arg(w, "holder")), "main (thread 1)");
    cr_assert_float_eq(arg(w, "wait_ms")->valuedouble, 0.25, 1e-9);
    char site[128];
    snprintf(site, sizeof site, "take_the_lock (rttrace.c:%d)", lock_line);
    cr_assert_str_eq(cJSON_GetStringValue(arg(w, "site")), site);
    const cJSON *rel = slice_on(&j, 4242, 101, "lock release", 0), *wake = slice_on(&j, 4242, 102, "lock wake-up", 0);
    expect_slice(rel, 280, 0);
    expect_slice(wake, 350, 0);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rel, "flow_out")));
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(wake, "flow_in")));
    cr_assert_eq(num_of(rel, "bind_id"), num_of(wake, "bind_id"));
    cr_assert_eq(num_of(rel, "bind_id"), 4294967297.0, "2^32 + flow 1");
    /* the damaged one: op 99, holder 55 that does not exist, no flow */
    const cJSON *bad = slice_on(&j, 4242, 102, "lock wait: op 99", 0);
    expect_slice(bad, 764, 1);
    cr_assert(cJSON_IsNull(arg(bad, "holder")));
    cr_assert_null(slice_on(&j, 4242, 102, "lock wake-up", 1));
    jout_free(&j);
}

Test(json_rt, io_pauses_heap_and_lost_records)
{
    jout j = scenario();
    const cJSON *io = slice_on(&j, 4242, 101, "read", 0);
    expect_slice(io, 400, 250);
    cr_assert_eq(arg(io, "fd")->valuedouble, 3);
    cr_assert_eq(arg(io, "result")->valuedouble, 10);
    cr_assert_eq(arg(io, "bytes")->valuedouble, 10);
    char site[128];
    snprintf(site, sizeof site, "read_the_file (rttrace.c:%d)", io_line);
    cr_assert_str_eq(cJSON_GetStringValue(arg(io, "site")), site);
    const cJSON *gc = slice_on(&j, 4242, GC_TID, "mark", 0), *al = slice_on(&j, 4242, GC_TID, "malloc", 0);
    expect_slice(gc, 510, 50);
    cr_assert_str_eq(cJSON_GetStringValue(arg(gc, "thread")), "gc (thread 3)");
    expect_slice(al, 730, 30);
    cr_assert_eq(arg(al, "size")->valuedouble, 4096);
    cr_assert_str_eq(cJSON_GetStringValue(arg(al, "site")), "0x6000", "outside every mapping");
    cr_assert_str_eq(track_name(&j, 4242, GC_TID, NULL), "GC / allocator");
    const cJSON *heap = find(&j, "C", "heap (malloc)", 0);
    cr_assert_eq(ns_of(heap, "ts"), 950000);
    cr_assert_eq(arg(heap, "bytes")->valuedouble, 4096);
    const cJSON *lost = find(&j, "i", "scheduler records lost", 0);
    cr_assert_eq(num_of(lost, "tid"), STATE_TID(2));
    cr_assert_eq(arg(lost, "count")->valuedouble, 3);
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(j.root, "otherData");
    cr_assert_str_eq(str_of(o, "sched_source"), "perf_event_open context switches");
    cr_assert_eq(num_of(o, "sched_records_lost"), 3);
    cr_assert_eq(num_of(o, "runtime_events_ignored"), 4);
    jout_free(&j);
}

/* ---- uv and schedstat ------------------------------------------------------------- */

Test(json_rt, uv_phases_get_a_track_and_schedstat_counters_accumulate)
{
    tg_opts opt = tg_defaults();
    opt.sched_source = WEFT_SCHED_SRC_SCHEDSTAT;
    tg *g = tg_new(&opt);
    tg_thread(g, 0, 900, "weft-sampler");
    tg_thread(g, 1, 101, "loop");
    tg_batch_chunk(g, 0);
    tg_ev(g, RT_US(0), WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev5(g, RT_US(100), WEFT_EV_SCHEDSTAT, 1, 1500000, 250000, 4, 0);
    tg_ev5(g, RT_US(200), WEFT_EV_SCHEDSTAT, 1, 2500000, 260000, 6, 0);
    tg_batch_end(g);
    tg_batch_chunk(g, 1);
    tg_ev(g, RT_US(5), WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, RT_US(100), WEFT_EV_UV_LOOP, 0xAA, WEFT_UV_RUN, 95000);
    tg_ev(g, RT_US(170), WEFT_EV_UV_LOOP, 0xAA, WEFT_UV_POLL_IO, 20000);
    tg_ev(g, RT_US(170), WEFT_EV_UV_LOOP, 0xAA, WEFT_UV_POLL_WAIT, 50000);
    tg_ev(g, RT_US(180), WEFT_EV_UV_LOOP, 0xAA, 7, 10000);
    tg_batch_end(g);
    jout j = convert(g);
    check_all(&j);
    const cJSON *poll = slice_on(&j, 4242, 0x42000001, "poll wait", 0);
    expect_slice(poll, 100, 50);
    cr_assert_str_eq(cJSON_GetStringValue(arg(poll, "loop")), "0xaa");
    expect_slice(slice_on(&j, 4242, 0x42000001, "io callbacks", 0), 150, 20);
    expect_slice(slice_on(&j, 4242, 0x42000001, "op 7", 0), 170, 10);
    double sort;
    cr_assert_str_eq(track_name(&j, 4242, 0x42000001, &sort), "loop uv loop");
    cr_assert_eq(sort, 6);
    const cJSON *c0 = find(&j, "C", "loop schedstat", 0), *c1 = find(&j, "C", "loop schedstat", 1);
    cr_assert_float_eq(arg(c0, "on_cpu_ms")->valuedouble, 1.5, 1e-9);
    cr_assert_float_eq(arg(c1, "on_cpu_ms")->valuedouble, 2.5, 1e-9);
    cr_assert_float_eq(arg(c1, "runq_wait_ms")->valuedouble, 0.26, 1e-9);
    cr_assert_eq(num_of(c1, "tid"), 101);
    cr_assert_eq(count_ph(&j, "X"), 4, "no state track without context switches");
    cr_assert_str_eq(str_of(cJSON_GetObjectItemCaseSensitive(j.root, "otherData"), "sched_source"),
                     "/proc/self/task/TID/schedstat sampling");
    jout_free(&j);
    tg_free(g);
}

/* ---- damage -------------------------------------------------------------------------- */

/* Random runtime events with any arguments: the output stays valid JSON that
 * follows the rules (run under ASan+UBSan). */
Test(json_rt, random_runtime_events_give_valid_json)
{
    uint64_t rng = 0x2545F4914F6CDD1Dull;
    for (int round = 0; round < 10; round++) {
        tg *g = rt_random_trace(&rng, 4, 200);
        jout j = convert(g);
        cr_assert_eq(j.rc, 0);
        check_all(&j);
        jout_free(&j);
        tg_free(g);
    }
}

/* Cut anywhere, the scenario still converts to a valid document that
 * follows the rules: held spans and open states end at the cut. */
Test(json_rt, truncated_input_gives_valid_json, .timeout = 300)
{
    tg *g = rt_sched_trace(0x4000, 0x5000, 0);
    size_t len;
    const uint8_t *b = tg_bytes(g, &len);
    for (size_t cut = tg_header_len(g); cut < len; cut++) {
        jout j = convert_bytes(b, cut);
        cr_assert_eq(j.rc, 0);
        check_all(&j);
        jout_free(&j);
    }
    tg_free(g);
}
