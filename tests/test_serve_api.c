/*
 * test_serve_api.c - the JSON API of `weft serve` (viewer/serve*.c) on
 * known traces: the exact /summary and /window answers, the same counts as
 * `weft stats`, level-of-detail blocks, the other endpoints, uploads, the
 * streamed JSON download and concurrent clients.
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <pthread.h>
#include <sys/mman.h>

#include "stats.h"
#include "test_serve.h"
#include "testutil.h"
#include "tracegen.h"

#define B0 1000000ull

/* Two threads; task 7 begins on main, works in "parse" (logging "hello"),
 * hops to worker ("work"), ends there after a drop of 2 events. Counter
 * "queue" is 3 then 9. Times are ns from the start: ticks - B0. */
static tg *known_trace(void)
{
    tg *g = tg_new(NULL);
    tg_string(g, 1, "request");
    tg_string(g, 2, "parse");
    tg_string(g, 3, "work");
    tg_string(g, 4, "audit");
    tg_string(g, 5, "queue");
    tg_thread(g, 0, 101, "main");
    tg_thread(g, 1, 102, "worker");
    tg_batch_chunk(g, 0);
    tg_ev(g, B0, WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, B0 + 1000, WEFT_EV_TASK_BEGIN, 7, 0, 1);
    tg_ev(g, B0 + 2000, WEFT_EV_REGION_BEGIN, 7, 2, 0);
    tg_ev_b(g, B0 + 2500, WEFT_EV_LOG, 7, 4, "hello", 5);
    tg_ev(g, B0 + 3000, WEFT_EV_REGION_END, 0, 0, 0);
    tg_ev(g, B0 + 3500, WEFT_EV_COUNTER, 5, 3, 0);
    tg_batch_end(g);
    tg_batch_chunk(g, 1);
    tg_ev(g, B0 + 100, WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, B0 + 4000, WEFT_EV_REGION_BEGIN, 7, 3, 0);
    tg_ev(g, B0 + 4500, WEFT_EV_COUNTER, 5, 9, 0);
    tg_ev(g, B0 + 5000, WEFT_EV_REGION_END, 0, 0, 0);
    tg_ev(g, B0 + 5200, WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, B0 + 5200, WEFT_EV_DROP, 2, 0, 0);
    tg_ev(g, B0 + 5500, WEFT_EV_TASK_END, 7, 0, 0);
    tg_batch_end(g);
    tg_end_thread(g, 0, 6, 0);
    tg_end_thread(g, 1, 7, 2);
    tg_end(g, WEFT_END_STOP, 13, 2, 1u << 20);
    return g;
}

static const char *write_trace(tg *g, const char *name)
{
    const char *p = tu_path(name);
    cr_assert_eq(tg_write(g, p), 0);
    return p;
}

/* %s: the file's name (tu_path makes it unique per run) */
static const char *expected_summary =
    "{\"id\":\"t1\",\"name\":\"%s\",\"program\":\"demo\",\"pid\":4242,"
    "\"recorded_at\":\"2023-11-14T22:13:20.000000000Z\",\"clock\":\"monotonic\",\"start_ns\":0,"
    "\"end_ns\":5500,\"end_reason\":\"STOP\",\"events\":13,\"dropped\":2,\"complete\":true,"
    "\"status\":\"ok\",\"message\":\"\",\"sched_source\":null,\"sched_source_text\":\"not recorded\","
    "\"threads\":["
    "{\"thread\":0,\"tid\":101,\"name\":\"main\",\"max_depth\":1,\"events\":6,\"dropped\":0,\"sort\":0},"
    "{\"thread\":1,\"tid\":102,\"name\":\"worker\",\"max_depth\":1,\"events\":7,\"dropped\":2,\"sort\":1}],"
    "\"counters\":[{\"name\":\"queue\",\"min\":3,\"max\":9,\"samples\":2}],"
    "\"task_types\":[{\"type\":\"request\",\"count\":1}],"
    "\"region_types\":[{\"type\":\"parse\",\"count\":1},{\"type\":\"work\",\"count\":1}],"
    "\"log_categories\":[{\"category\":\"audit\",\"count\":1}],\"diagnostics\":[],"
    "\"has\":{\"tasks\":true,\"regions\":true,\"logs\":true,\"counters\":true,\"thread_states\":false,"
    "\"cpus\":false,\"locks\":false,\"io\":false,\"gc\":false,\"allocator\":false,\"pauses\":false,"
    "\"heap\":false,\"uv\":false,\"sched_latency\":false,\"schedstat\":false,\"blocking\":false}}\n";

static const char *expected_window =
    "{\"start\":0,\"end\":6000,\"px\":6,\"ns_per_px\":1000,\"threads\":[\n"
    "{\"thread\":0,\"slices\":[{\"i\":0,\"s\":2000,\"d\":1000,\"depth\":0,\"name\":\"parse\",\"task\":7,"
    "\"flags\":0}],\"blocks\":[]},\n"
    "{\"thread\":1,\"slices\":[{\"i\":1,\"s\":4000,\"d\":1000,\"depth\":0,\"name\":\"work\",\"task\":7,"
    "\"flags\":0}],\"blocks\":[]}],"
    "\"tasks\":[{\"task\":7,\"type\":\"request\",\"s\":1000,\"e\":5500,\"parent\":0,\"unfinished\":false}],"
    "\"task_blocks\":[],\"counters\":[{\"name\":\"queue\",\"points\":[[3500,3],[4500,9]]}],"
    "\"logs\":[{\"i\":0,\"t\":2500,\"thread\":0,\"task\":7,\"category\":\"audit\",\"message\":\"hello\"}],"
    "\"log_blocks\":[],"
    "\"flows\":[{\"task\":7,\"from_thread\":0,\"from_ns\":2500,\"to_thread\":1,\"to_ns\":4000}],"
    "\"slices_total\":2,\"blocks_total\":0}\n";

static wv_server *known_server(int *port)
{
    tg *g = known_trace();
    const char *paths[] = {write_trace(g, "known.weft"), NULL};
    tg_free(g);
    return ts_server(paths, 0, port);
}

Test(serve_api, summary_and_window_of_a_known_trace_are_exact)
{
    int port;
    wv_server *s = known_server(&port);
    char want[2048];
    const char *name = strrchr(tu_path("known.weft"), '/') + 1;
    snprintf(want, sizeof want, expected_summary, name);
    ts_expect(port, "/api/traces/t1/summary", 200, want);
    ts_expect(port, "/api/traces/t1/window?start=0&end=6000&px=6", 200, expected_window);
    /* a window after the last point still starts the counter line at its left edge */
    ts_resp r = ts_get(port, "/api/traces/t1/window?start=5000&end=6000&px=10&threads=1");
    cr_assert_eq(r.status, 200);
    cr_expect(strstr(r.body, "\"points\":[[4500,9]]"), "%s", r.body);
    cr_expect(!strstr(r.body, "\"thread\":0,"), "threads=1 keeps only worker: %s", r.body);
    free(r.body);
    wv_server_free(s);
}

/* `weft stats` counts of the same trace: "  name   count" lines. */
static uint64_t stats_count(const char *text, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "\n  %s ", name);
    const char *p = strstr(text, key);
    return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

static uint64_t sum_counts(cJSON *arr)
{
    uint64_t n = 0;
    cJSON *e;
    cJSON_ArrayForEach(e, arr) n += (uint64_t)cJSON_GetObjectItem(e, "count")->valuedouble;
    return n;
}

Test(serve_api, summary_agrees_with_weft_stats)
{
    int port;
    wv_server *s = known_server(&port);
    char *text;
    size_t len;
    FILE *f = open_memstream(&text, &len);
    wv_reader *r = wv_reader_open(tu_path("known.weft"));
    cr_assert_eq(wv_stats_print(r, f), 0);
    wv_reader_close(r);
    fclose(f);
    ts_resp a = ts_get(port, "/api/traces/t1/summary");
    cJSON *j = cJSON_Parse(a.body);
    cr_assert(j, "%s", a.body);
    cr_expect_eq(sum_counts(cJSON_GetObjectItem(j, "region_types")), stats_count(text, "region_begin"));
    cr_expect_eq(sum_counts(cJSON_GetObjectItem(j, "task_types")), stats_count(text, "task_begin"));
    cr_expect_eq(sum_counts(cJSON_GetObjectItem(j, "log_categories")), stats_count(text, "log"));
    cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "counters"), 0);
    cr_expect_eq((uint64_t)cJSON_GetObjectItem(c, "samples")->valuedouble, stats_count(text, "counter"));
    char line[128];
    snprintf(line, sizeof line, "total events:     %d\n", cJSON_GetObjectItem(j, "events")->valueint);
    cr_expect(strstr(text, line), "%s / %s", line, text);
    snprintf(line, sizeof line, "dropped events:   %d\n", cJSON_GetObjectItem(j, "dropped")->valueint);
    cr_expect(strstr(text, line), "%s / %s", line, text);
    cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(j, "threads"))
    {
        snprintf(line, sizeof line, "  %10d  %-20s %12d %10d\n", cJSON_GetObjectItem(t, "tid")->valueint,
                 cJSON_GetObjectItem(t, "name")->valuestring, cJSON_GetObjectItem(t, "events")->valueint,
                 cJSON_GetObjectItem(t, "dropped")->valueint);
        cr_expect(strstr(text, line), "thread line %s not in:\n%s", line, text);
    }
    cJSON_Delete(j);
    free(a.body);
    free(text);
    wv_server_free(s);
}

/* 10000 slices of 10 ns, 100 ns apart, on one thread. */
static const char *tiny_slices(void)
{
    tg *g = tg_new(NULL);
    tg_string(g, 1, "tick");
    tg_thread(g, 0, 5, "t");
    tg_batch_chunk(g, 0);
    tg_ev(g, B0, WEFT_EV_TIME_BASE, 0, 0, 0);
    for (uint64_t i = 0; i < 10000; i++) {
        tg_ev(g, B0 + 100 * i, WEFT_EV_REGION_BEGIN, 0, 1, 0);
        tg_ev(g, B0 + 100 * i + 10, WEFT_EV_REGION_END, 0, 0, 0);
    }
    tg_batch_end(g);
    tg_end(g, WEFT_END_STOP, 20001, 0, 0);
    const char *p = write_trace(g, "tiny.weft");
    tg_free(g);
    return p;
}

Test(serve_api, tiny_slices_merge_into_blocks_that_count_them)
{
    const char *paths[] = {tiny_slices(), NULL};
    int port;
    wv_server *s = ts_server(paths, 0, &port);
    static const int pxs[] = {1, 7, 100, 1920, 8192};
    for (size_t k = 0; k < sizeof pxs / sizeof pxs[0]; k++) {
        char path[128];
        snprintf(path, sizeof path, "/api/traces/t1/window?start=0&end=1000000&px=%d", pxs[k]);
        ts_resp r = ts_get(port, path);
        cJSON *j = cJSON_Parse(r.body);
        cr_assert(j, "%s", r.body);
        cJSON *th = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "threads"), 0);
        int slices = cJSON_GetArraySize(cJSON_GetObjectItem(th, "slices"));
        uint64_t in_blocks = sum_counts(cJSON_GetObjectItem(th, "blocks"));
        cr_expect_eq(slices + in_blocks, 10000, "px=%d: %d slices + %llu in blocks", pxs[k], slices,
                     (unsigned long long)in_blocks);
        cr_expect_leq(slices + cJSON_GetArraySize(cJSON_GetObjectItem(th, "blocks")), 2 * pxs[k] + 2,
                      "px=%d: bounded by the pixels", pxs[k]);
        cJSON *b;
        cJSON_ArrayForEach(b, cJSON_GetObjectItem(th, "blocks"))
            cr_expect_str_eq(cJSON_GetObjectItem(b, "name")->valuestring, "tick");
        cJSON_Delete(j);
        free(r.body);
    }
    /* zoomed in to 10 slices: each is listed */
    ts_resp r = ts_get(port, "/api/traces/t1/window?start=0&end=1000&px=1920");
    cr_expect(strstr(r.body, "\"slices_total\":10,\"blocks_total\":0"), "%s", r.body);
    free(r.body);
    wv_server_free(s);
}

Test(serve_api, slice_tasks_regions_logs_search_and_aggregate_answer)
{
    int port;
    wv_server *s = known_server(&port);
    ts_expect(port, "/api/traces/t1/slice?i=1", 200,
              "{\"i\":1,\"s\":4000,\"d\":1000,\"depth\":0,\"name\":\"work\",\"task\":7,\"flags\":0,"
              "\"thread\":1,\"tid\":102,\"task_type\":\"request\",\"parent\":null,\"children\":[],"
              "\"self_ns\":1000,\"task_span\":{\"s\":1000,\"e\":5500},\"logs\":[{\"t\":2500,\"thread\":0,"
              "\"tid\":101,\"task\":7,\"category\":\"audit\",\"message\":\"hello\"}]}\n");
    ts_expect(port, "/api/traces/t1/slice?i=2", 404, "{\"error\":\"no slice 2 in this trace\"}\n");
    ts_expect(port, "/api/traces/t1/tasks?type=request", 200,
              "{\"type\":\"request\",\"tasks\":[{\"task\":7,\"s\":1000,\"e\":5500,\"latency_ns\":4500,"
              "\"threads\":[0,1],\"unfinished\":false}],\"total\":1}\n");
    ts_expect(port, "/api/traces/t1/tasks?type=request&latmin=5000", 200,
              "{\"type\":\"request\",\"tasks\":[],\"total\":0}\n");
    ts_expect(port, "/api/traces/t1/regions?type=parse", 200,
              "{\"type\":\"parse\",\"slices\":[{\"i\":0,\"s\":2000,\"d\":1000,\"depth\":0,\"name\":\"parse\","
              "\"task\":7,\"flags\":0,\"thread\":0}],"
              "\"total\":1}\n");
    ts_expect(port, "/api/traces/t1/tasks", 200,
              "{\"types\":[\n{\"type\":\"request\",\"count\":1,\"unfinished\":0,\"p50_ns\":4500,"
              "\"p90_ns\":4500,\"p99_ns\":4500,\"max_ns\":4500,\"histogram\":["
              "{\"lo_ns\":1000,\"hi_ns\":3162,\"count\":0},{\"lo_ns\":3162,\"hi_ns\":10000,\"count\":1}]}]}\n");
    ts_expect(port, "/api/traces/t1/logs?category=audit", 200,
              "{\"logs\":[{\"i\":0,\"t\":2500,\"thread\":0,\"tid\":101,\"task\":7,\"category\":\"audit\","
              "\"message\":\"hello\"}],\"total\":1,\"offset\":0}\n");
    ts_expect(port, "/api/traces/t1/search?q=WOR", 200,
              "{\"q\":\"WOR\",\"slices\":[{\"i\":1,\"s\":4000,\"d\":1000,\"depth\":0,\"name\":\"work\","
              "\"task\":7,\"flags\":0,\"thread\":1}],"
              "\"logs\":[],\"total_slices\":1,\"total_logs\":0}\n");
    ts_expect(port, "/api/traces/t1/aggregate?start=2500&end=4500", 200,
              "{\"start\":2500,\"end\":4500,\"rows\":[{\"name\":\"parse\",\"count\":1,\"total_ns\":500,"
              "\"avg_ns\":500,\"max_ns\":500,\"max_i\":0},{\"name\":\"work\",\"count\":1,\"total_ns\":500,"
              "\"avg_ns\":500,\"max_ns\":500,\"max_i\":1}]}\n");
    /* the task filter keeps the task's threads only when they have its slices */
    ts_resp r = ts_get(port, "/api/traces/t1/window?start=0&end=6000&px=6&task=7");
    cr_expect(strstr(r.body, "\"slices_total\":2"), "%s", r.body);
    free(r.body);
    ts_expect(port, "/api/traces/t1/window?start=0&end=6000&px=6&task=8", 404,
              "{\"error\":\"no task 8 in this trace\"}\n");
    wv_server_free(s);
}

Test(serve_api, upload_adds_a_trace_and_oversized_or_bad_uploads_are_refused)
{
    int port;
    wv_server *s = ts_server(NULL, 4096, &port);
    tg *g = known_trace();
    size_t len;
    const uint8_t *bytes = tg_bytes(g, &len);
    cr_assert_lt(len, 4096);
    ts_resp r = ts_req(port, "POST", "/api/traces", bytes, len, "X-Weft-Name: ../up.weft\r\n");
    cr_expect_eq(r.status, 201, "%s", r.body);
    cr_expect(strstr(r.body, "\"id\":\"t1\",\"name\":\"up.weft\""), "%s", r.body);
    free(r.body);
    ts_expect(port, "/api/traces/t1/window?start=0&end=6000&px=6", 200, expected_window);
    char big[5000];
    memset(big, 'x', sizeof big);
    ts_expect(port, "/api/traces", 200, NULL);
    r = ts_req(port, "POST", "/api/traces", big, sizeof big, NULL);
    cr_expect_eq(r.status, 413, "%s", r.body);
    cr_expect_str_eq(r.body, "{\"error\":\"upload larger than 4096 bytes\"}\n");
    free(r.body);
    r = ts_req(port, "POST", "/api/traces", big, 100, NULL);
    cr_expect_eq(r.status, 400, "%s", r.body);
    cr_expect(strstr(r.body, "{\"error\":\"weft: upload.weft: "), "%s", r.body);
    free(r.body);
    ts_expect(port, "/api/traces/t2/summary", 404, "{\"error\":\"no such trace\"}\n");
    tg_free(g);
    wv_server_free(s);
}

Test(serve_api, trace_json_download_is_the_chrome_json)
{
    int port;
    wv_server *s = known_server(&port);
    ts_resp r = ts_get(port, "/api/traces/t1/trace.json");
    cr_assert_eq(r.status, 200);
    char disp[300];
    snprintf(disp, sizeof disp, "Content-Disposition: attachment; filename=\"%s.json\"",
             strrchr(tu_path("known.weft"), '/') + 1);
    cr_expect(strcasestr(r.head, disp), "%s", r.head);
    cJSON *j = cJSON_Parse(r.body);
    cr_assert(j, "not JSON: %.200s", r.body);
    cr_expect(cJSON_GetArraySize(cJSON_GetObjectItem(j, "traceEvents")) > 5);
    cJSON_Delete(j);
    free(r.body);
    wv_server_free(s);
}

typedef struct client {
    int port, ok;
} client;

static void *client_main(void *p)
{
    client *c = p;
    static const char *paths[] = {"/api/traces", "/api/traces/t1/summary",
                                  "/api/traces/t1/window?start=0&end=6000&px=6", "/",
                                  "/api/traces/t1/slice?i=0"};
    for (int i = 0; i < 50; i++) {
        ts_resp r = ts_get(c->port, paths[i % 5]);
        c->ok += r.status == 200;
        free(r.body);
    }
    return NULL;
}

Test(serve_api, sixteen_concurrent_clients_all_succeed)
{
    int port;
    wv_server *s = known_server(&port);
    pthread_t t[16];
    client c[16];
    for (int i = 0; i < 16; i++) {
        c[i] = (client){port, 0};
        pthread_create(&t[i], NULL, client_main, &c[i]);
    }
    for (int i = 0; i < 16; i++) {
        pthread_join(t[i], NULL);
        cr_expect_eq(c[i].ok, 50, "client %d: %d of 50", i, c[i].ok);
    }
    wv_server_free(s);
}
