/*
 * test_json.c - `weft json` (viewer/chrome.c, model.c, jsonw.c): the output
 * for a tracegen trace parsed back with cJSON and checked against the rules
 * Perfetto relies on, plus the exact mapping of regions, tasks, flows, logs,
 * counters, drops, thread names and otherData.
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "chrome.h"
#include "jsontest.h"
#include "jsonw.h"
#include "reader.h"
#include "testutil.h"
#include "tracegen.h"

#define B0 1000000ull /* ticks0 = mono0 of tg_defaults(): ns 0 */

/* ---- the trace --------------------------------------------------------------- */

/* Threads: 0 main (tid 101), 1 worker (102), 2 "zero" (tid 0), 3 unnamed,
 * reusing tid 101 after main is done. Task 7 begins on main, crosses to worker, ends there,
 * then ends again; task 8 never ends; task 9 ends without a begin. */
static tg *rich_trace(int with_end)
{
    tg *g = tg_new(NULL);
    tg_string(g, 1, "request");
    tg_string(g, 2, "parse");
    tg_string(g, 3, "http");
    tg_string(g, 4, "queue");
    tg_string(g, 5, "handle");
    tg_string(g, 6, "inner");
    tg_thread(g, 0, 101, "main");
    tg_thread(g, 1, 102, "worker");
    tg_thread(g, 2, 0, "zero");
    tg_thread(g, 3, 101, "");
    tg_batch_chunk(g, 0);
    tg_ev(g, B0, WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, B0 + 100, WEFT_EV_TASK_BEGIN, 7, 0, 1);
    tg_ev(g, B0 + 200, WEFT_EV_REGION_BEGIN, 7, 5, 0);
    tg_ev_b(g, B0 + 300, WEFT_EV_LOG, 7, 3, "GET /index", 10);
    tg_ev(g, B0 + 350, WEFT_EV_COUNTER, 4, 3, 0);
    tg_ev(g, B0 + 400, WEFT_EV_REGION_BEGIN, 0, 6, 0);
    tg_ev(g, B0 + 450, WEFT_EV_DIAG, WEFT_DIAG_REGION_OUT_OF_ORDER, 6, 0);
    tg_ev(g, B0 + 450, WEFT_EV_REGION_END, 0, 0, 0);
    tg_ev(g, B0 + 500, WEFT_EV_REGION_END, 0, 0, 0);
    tg_ev(g, B0 + 600, WEFT_EV_TASK_BEGIN, 8, 7, 1);
    tg_ev(g, B0 + 700, WEFT_EV_TASK_END, 9, 0, 0);
    tg_batch_end(g);
    tg_frame(g);
    tg_batch_chunk(g, 1);
    tg_ev(g, B0, WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, B0 + 1000, WEFT_EV_REGION_BEGIN, 7, 2, 0);
    tg_ev_b(g, B0 + 1100, WEFT_EV_LOG, 7, 0, "bad \xff\xfe utf8 \x01!", 15);
    tg_ev(g, B0 + 1200, WEFT_EV_REGION_END, 0, 0, 0);
    tg_ev(g, B0 + 1300, WEFT_EV_REGION_BEGIN, 0, 5, 0);
    tg_ev(g, B0 + 1400, WEFT_EV_TASK_END, 7, 0, 0);
    tg_ev(g, B0 + 1500, WEFT_EV_TASK_END, 7, 0, 0);
    tg_ev(g, B0 + 1600, WEFT_EV_REGION_BEGIN, 0, 2, 0);
    tg_ev(g, B0 + 1700, WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, B0 + 1700, WEFT_EV_DROP, 4, 1, 0);
    tg_ev(g, B0 + 1800, WEFT_EV_COUNTER, 4, (uint64_t)-5, 0);
    tg_batch_end(g);
    tg_batch_chunk(g, 2);
    tg_ev(g, B0, WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, B0 + 650, WEFT_EV_REGION_BEGIN, 8, 2, 0);
    tg_ev(g, B0 + 700, WEFT_EV_REGION_END, 0, 0, 0);
    tg_batch_end(g);
    tg_batch_chunk(g, 3);
    tg_ev(g, B0, WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev_b(g, B0 + 2000, WEFT_EV_LOG, 0, 3, "dup", 3);
    tg_batch_end(g);
    if (with_end) {
        tg_end_thread(g, 0, 11, 0);
        tg_end_thread(g, 1, 11, 4);
        tg_end_thread(g, 2, 3, 0);
        tg_end_thread(g, 3, 2, 0);
        tg_end(g, WEFT_END_STOP, 27, 4, 1 << 20);
    }
    return g;
}

/* ---- tests ----------------------------------------------------------------------------- */

Test(json, output_follows_the_rules_perfetto_relies_on)
{
    tg *g = rich_trace(1);
    jout j = convert(g);
    cr_assert_eq(j.rc, 0);
    cr_assert_eq(j.status, WV_OK);
    cr_assert_str_eq(j.root->child->string, "traceEvents", "traceEvents comes first, to stream");
    check_all(&j);
    jout_free(&j);
    tg_free(g);
}

Test(json, regions_become_complete_slices_with_misuse_flags)
{
    tg *g = rich_trace(1);
    jout j = convert(g);
    const cJSON *handle = find(&j, "X", "handle", 0), *inner = find(&j, "X", "inner", 0);
    cr_assert_not_null(handle);
    cr_assert_eq(num_of(handle, "tid"), 101);
    cr_assert_eq(ns_of(handle, "ts"), 200);
    cr_assert_eq(ns_of(handle, "dur"), 300);
    cr_assert_str_eq(cJSON_GetStringValue(arg(handle, "task")), "7");
    cr_assert_str_eq(str_of(handle, "cat"), "region");
    cr_assert(cJSON_IsTrue(arg(inner, "ended_with_outer")));
    cr_assert_eq(ns_of(inner, "dur"), 50);
    /* worker: "parse" at 1600 lost its end in the drop at 1700 (1 region left
     * open), "handle" from 1300 never ended: it lasts to the thread's last event */
    const cJSON *lost = find(&j, "X", "parse", 2), *open = find(&j, "X", "handle", 1);
    cr_assert_eq(num_of(lost, "tid"), 102);
    cr_assert_eq(ns_of(lost, "ts"), 1600);
    cr_assert_eq(ns_of(lost, "dur"), 100);
    cr_assert(cJSON_IsTrue(arg(lost, "end_lost")));
    cr_assert_eq(ns_of(open, "ts"), 1300);
    cr_assert_eq(ns_of(open, "dur"), 500);
    cr_assert(cJSON_IsTrue(arg(open, "did_not_end")));
    cr_assert_null(arg(handle, "did_not_end"));
    cr_assert_eq(count_ph(&j, "X"), 6);
    jout_free(&j);
    tg_free(g);
}

Test(json, tasks_become_async_pairs_and_unfinished_ones_end_at_the_end)
{
    tg *g = rich_trace(1);
    jout j = convert(g);
    const cJSON *b7 = find(&j, "b", "request", 0), *e7 = find(&j, "e", "request", 0);
    cr_assert_str_eq(str_of(b7, "id"), "7");
    cr_assert_str_eq(str_of(b7, "cat"), "task");
    cr_assert_eq(ns_of(b7, "ts"), 100);
    cr_assert_str_eq(cJSON_GetStringValue(arg(b7, "parent")), "0");
    cr_assert_str_eq(str_of(e7, "id"), "7");
    cr_assert_eq(ns_of(e7, "ts"), 1400, "the first end counts");
    cr_assert_eq(num_of(e7, "tid"), 102);
    const cJSON *b8 = find(&j, "b", "request", 1), *e8 = find(&j, "e", "request", 1);
    cr_assert_str_eq(cJSON_GetStringValue(arg(b8, "parent")), "7");
    cr_assert_str_eq(str_of(e8, "id"), "8");
    cr_assert(cJSON_IsTrue(arg(e8, "unfinished")));
    cr_assert_eq(ns_of(e8, "ts"), 2000, "end of the trace");
    cr_assert_eq(count_ph(&j, "b"), 2);
    jout_free(&j);
    tg_free(g);
}

Test(json, task_crossing_threads_gets_a_flow_between_its_slices)
{
    tg *g = rich_trace(1);
    jout j = convert(g);
    cr_assert_eq(count_ph(&j, "s"), 1, "task 7 hops once; task 8 only ever ran in one slice");
    const cJSON *s = find(&j, "s", NULL, 0), *f = find(&j, "f", NULL, 0);
    cr_assert_str_eq(str_of(s, "cat"), "task_flow");
    cr_assert_str_eq(str_of(f, "cat"), "task_flow");
    cr_assert_str_eq(str_of(f, "bp"), "e");
    cr_assert_eq(num_of(s, "id"), num_of(f, "id"));
    cr_assert_eq(num_of(s, "tid"), 101);
    cr_assert_eq(ns_of(s, "ts"), 300, "from the task's last point on main (its log)");
    cr_assert_eq(num_of(f, "tid"), 102);
    cr_assert_eq(ns_of(f, "ts"), 1000);
    jout_free(&j);
    tg_free(g);
}

Test(json, logs_counters_and_drops_map_to_instants_and_counters)
{
    tg *g = rich_trace(1);
    jout j = convert(g);
    const cJSON *log = find(&j, "i", "http", 0);
    cr_assert_str_eq(str_of(log, "s"), "t");
    cr_assert_eq(ns_of(log, "ts"), 300);
    cr_assert_str_eq(cJSON_GetStringValue(arg(log, "task")), "7");
    cr_assert_str_eq(cJSON_GetStringValue(arg(log, "category")), "http");
    cr_assert_str_eq(cJSON_GetStringValue(arg(log, "message")), "GET /index");
    const cJSON *bad = find(&j, "i", "log", 0);
    cr_assert_str_eq(cJSON_GetStringValue(arg(bad, "category")), "");
    cr_assert_str_eq(cJSON_GetStringValue(arg(bad, "message")),
                     "bad \xEF\xBF\xBD\xEF\xBF\xBD utf8 \x01!", "invalid UTF-8 becomes U+FFFD");
    const cJSON *c0 = find(&j, "C", "queue", 0), *c1 = find(&j, "C", "queue", 1);
    cr_assert_eq(ns_of(c0, "ts"), 350);
    cr_assert_eq(arg(c0, "value")->valuedouble, 3);
    cr_assert_eq(arg(c1, "value")->valuedouble, -5);
    const cJSON *drop = find(&j, "i", "events dropped", 0);
    cr_assert_eq(arg(drop, "count")->valuedouble, 4);
    cr_assert_eq(num_of(drop, "tid"), 102);
    jout_free(&j);
    tg_free(g);
}

Test(json, threads_get_names_and_bad_or_reused_tids_are_remapped)
{
    tg *g = rich_trace(1);
    jout j = convert(g);
    const char *want[][2] = {{"101", "main"}, {"102", "worker"},
                             {"1073741826", "zero (tid 0)"}, {"1073741827", "thread 101"}};
    for (int i = 0; i < 4; i++) {
        const cJSON *m = find(&j, "M", "thread_name", i);
        cr_assert_not_null(m);
        cr_assert_eq(num_of(m, "tid"), atof(want[i][0]));
        cr_assert_str_eq(cJSON_GetStringValue(arg(m, "name")), want[i][1]);
        const cJSON *s = find(&j, "M", "thread_sort_index", i);
        cr_assert_eq(arg(s, "sort_index")->valuedouble, 4 * i,
                     "registration order, with room for each thread's runtime tracks after it");
    }
    const cJSON *p = find(&j, "M", "process_name", 0);
    cr_assert_str_eq(cJSON_GetStringValue(arg(p, "name")), "demo (pid 4242)");
    cr_assert_eq(num_of(p, "pid"), 4242);
    cr_assert_not_null(find(&j, "M", "process_sort_index", 0));
    jout_free(&j);
    tg_free(g);
}

Test(json, other_data_describes_the_recording_and_its_diagnostics)
{
    tg *g = rich_trace(1);
    jout j = convert(g);
    cr_assert_str_eq(str_of(j.root, "displayTimeUnit"), "ns");
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(j.root, "otherData");
    cr_assert_str_eq(str_of(o, "weft_version"), "0.1.0");
    cr_assert_eq(num_of(o, "format_version"), WEFT_FORMAT_VERSION);
    cr_assert_str_eq(str_of(o, "clock"), "monotonic");
    cr_assert_str_eq(str_of(o, "program"), "demo");
    cr_assert_eq(num_of(o, "pid"), 4242);
    cr_assert_str_eq(str_of(o, "recorded_at"), "2023-11-14T22:13:20.000000000Z");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "complete")));
    cr_assert_str_eq(str_of(o, "end_reason"), "STOP");
    cr_assert_eq(num_of(o, "events"), 27);
    cr_assert_eq(num_of(o, "events_decoded"), 27);
    cr_assert_eq(num_of(o, "dropped_events"), 4);
    const cJSON *by = cJSON_GetObjectItemCaseSensitive(o, "dropped_by_thread");
    cr_assert_eq(cJSON_GetArraySize(by), 1);
    cr_assert_eq(num_of(by, "102"), 4);
    const struct {
        const char *kind, *name;
        double tid;
        long long ts;
    } want[] = {
        {"REGION_OUT_OF_ORDER", "inner", 101, 450},
        {"TASK_END_UNKNOWN", NULL, 101, 700},
        {"TASK_ENDED_TWICE", "request", 102, 1500},
        {"REGION_NOT_ENDED", "handle", 102, 1800},
        {"TASK_NOT_ENDED", "request", 101, 600},
    };
    const cJSON *diags = cJSON_GetObjectItemCaseSensitive(o, "diagnostics");
    cr_assert_eq(cJSON_GetArraySize(diags), 5);
    for (int i = 0; i < 5; i++) {
        const cJSON *d = cJSON_GetArrayItem(diags, i);
        cr_assert_str_eq(str_of(d, "kind"), want[i].kind);
        if (want[i].name)
            cr_assert_str_eq(str_of(d, "name"), want[i].name);
        else
            cr_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(d, "name")));
        cr_assert_eq(num_of(d, "tid"), want[i].tid, "diag %d", i);
        cr_assert_eq(ns_of(d, "ts"), want[i].ts, "diag %d", i);
        cr_assert_eq(num_of(d, "count"), 1);
        cr_assert_not_null(str_of(d, "text"));
    }
    jout_free(&j);
    tg_free(g);
}

Test(json, repeated_diagnostics_are_aggregated_with_a_count)
{
    tg *g = tg_new(NULL);
    tg_string(g, 1, "r");
    tg_thread(g, 0, 5, "t");
    tg_batch_chunk(g, 0);
    tg_ev(g, B0, WEFT_EV_TIME_BASE, 0, 0, 0);
    for (int i = 0; i < 10; i++)
        tg_ev(g, B0 + 10 + (uint64_t)i, WEFT_EV_DIAG, WEFT_DIAG_REGION_ENDED_TWICE, 1, 0);
    tg_ev(g, B0 + 30, WEFT_EV_DIAG, 1000, 0, 0);
    tg_batch_end(g);
    tg_end(g, WEFT_END_WINDOW, 12, 0, 0);
    jout j = convert(g);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j.root, "otherData"),
                                                      "diagnostics");
    cr_assert_eq(cJSON_GetArraySize(d), 2);
    cr_assert_eq(num_of(cJSON_GetArrayItem(d, 0), "count"), 10);
    cr_assert_eq(ns_of(cJSON_GetArrayItem(d, 0), "ts"), 10, "first occurrence");
    cr_assert_str_eq(str_of(cJSON_GetArrayItem(d, 1), "kind"), "UNKNOWN_1000");
    jout_free(&j);
    tg_free(g);
}

Test(json, truncated_input_still_gives_a_complete_valid_document, .timeout = 300)
{
    tg *g = rich_trace(1);
    size_t len;
    const uint8_t *b = tg_bytes(g, &len);
    size_t hdr = tg_header_len(g);
    for (size_t cut = hdr; cut < len; cut++) {
        jout j = convert_bytes(b, cut);
        cr_assert_eq(j.rc, 0);
        cr_assert_neq(j.status, WV_FAILED);
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(j.root, "otherData");
        if (j.status == WV_TRUNCATED) {
            cr_assert(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, "complete")), "cut %zu", cut);
            cr_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "end_reason")));
        }
        check_all(&j);
        jout_free(&j);
    }
    tg_free(g);
}

Test(json, damaged_input_gives_valid_json_of_what_precedes_the_damage)
{
    tg *g = rich_trace(1);
    size_t len;
    const uint8_t *b = tg_bytes(g, &len);
    uint8_t *bad = malloc(len);
    memcpy(bad, b, len);
    bad[tg_frame_offset(g, 1) + 7 + 4 + 3] ^= 1;
    jout j = convert_bytes(bad, len);
    cr_assert_eq(j.status, WV_FAILED);
    cr_assert_not_null(find(&j, "X", "handle", 0), "main's first frame is there");
    cr_assert_null(find(&j, "X", "parse", 0), "the worker's frame is not");
    check_all(&j);
    jout_free(&j);
    free(bad);
    tg_free(g);
}

/* ---- the JSON writer ------------------------------------------------------------------ */

static const char *fmt_us(int64_t ns)
{
    static char buf[64];
    *wv_fmt_us(buf, ns) = 0;
    return buf;
}

Test(jsonw, microseconds_have_three_decimals_without_rounding)
{
    cr_assert_str_eq(fmt_us(0), "0.000");
    cr_assert_str_eq(fmt_us(7), "0.007");
    cr_assert_str_eq(fmt_us(1234567), "1234.567");
    cr_assert_str_eq(fmt_us(-1), "-0.001");
    cr_assert_str_eq(fmt_us(-1234567), "-1234.567");
    cr_assert_str_eq(fmt_us(INT64_MAX), "9223372036854775.807");
    cr_assert_str_eq(fmt_us(INT64_MIN), "-9223372036854775.808");
    char buf[32];
    *wv_fmt_u64(buf, UINT64_MAX) = 0;
    cr_assert_str_eq(buf, "18446744073709551615");
    *wv_fmt_i64(buf, -90) = 0;
    cr_assert_str_eq(buf, "-90");
}

Test(jsonw, strings_are_escaped_into_valid_json)
{
    const char in[] = "q\"b\\s\n\t\r\x01\x1f\x7f \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 "
                      "\xC0\xAF \xED\xA0\x80 \xF4\x90\x80\x80 \xE2\x82";
    char out[512];
    size_t n = wv_json_quote(out, in, sizeof in - 1);
    out[n] = 0;
    cr_assert_str_eq(out, "\"q\\\"b\\\\s\\n\\t\\r\\u0001\\u001f\x7f \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 "
                          "\xEF\xBF\xBD\xEF\xBF\xBD "
                          "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD "
                          "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD "
                          "\xEF\xBF\xBD\xEF\xBF\xBD\"");
    cJSON *v = cJSON_Parse(out);
    cr_assert(cJSON_IsString(v));
    cJSON_Delete(v);
}

Test(jsonw, long_strings_stream_in_pieces_without_splitting_characters)
{
    size_t n = 3 * 4096 + 17;
    char *s = malloc(n), *text;
    for (size_t i = 0; i < n; i += 2) /* 2-byte characters, then a stray byte */
        memcpy(s + i, i + 1 < n ? "\xC3\xA9" : "\xC3", i + 1 < n ? 2 : 1);
    size_t len;
    FILE *f = open_memstream(&text, &len);
    wv_jw w;
    cr_assert_eq(wv_jw_init(&w, f), 0);
    wv_jw_str(&w, s, n);
    cr_assert_eq(wv_jw_close(&w), 0);
    fclose(f);
    cJSON *v = cJSON_Parse(text);
    cr_assert(cJSON_IsString(v));
    size_t out = strlen(v->valuestring);
    cr_assert_eq(out, n - 1 + 3, "every pair kept, the stray byte replaced");
    for (size_t i = 0; i + 1 < n - 1; i += 2)
        cr_assert_eq(memcmp(v->valuestring + i, "\xC3\xA9", 2), 0, "at %zu", i);
    cJSON_Delete(v);
    free(text);
    free(s);
}
