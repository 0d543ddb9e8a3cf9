/*
 * test_serve_safety.c - what `weft serve` refuses (viewer/serve_http.c):
 * paths that try to leave the API (dot segments, escapes, NUL), malformed
 * parameters, wrong methods, and clients that hang up mid-download.
 */
#define _GNU_SOURCE
#include <signal.h>

#include "test_serve.h"
#include "testutil.h"
#include "tracegen.h"

#define B0 1000000ull

static wv_server *server(int *port, int events)
{
    tg *g = tg_new(NULL);
    tg_string(g, 1, "step");
    tg_thread(g, 0, 7, "main");
    tg_batch_chunk(g, 0);
    tg_ev(g, B0, WEFT_EV_TIME_BASE, 0, 0, 0);
    for (int i = 0; i < events; i++) {
        tg_ev(g, B0 + 100 * (uint64_t)i, WEFT_EV_REGION_BEGIN, 0, 1, 0);
        tg_ev(g, B0 + 100 * (uint64_t)i + 50, WEFT_EV_REGION_END, 0, 0, 0);
        if (i % 1000 == 999) { /* batches stay well under a chunk */
            tg_batch_end(g);
            tg_batch_chunk(g, 0);
            tg_ev(g, B0 + 100 * (uint64_t)i + 60, WEFT_EV_TIME_BASE, 0, 0, 0);
        }
    }
    tg_batch_end(g);
    tg_end(g, WEFT_END_STOP, 0, 0, 0);
    const char *paths[] = {tu_path("safety.weft"), NULL};
    cr_assert_eq(tg_write(g, paths[0]), 0);
    tg_free(g);
    signal(SIGPIPE, SIG_IGN);
    return ts_server(paths, 0, port);
}

static const char *not_found = "{\"error\":\"no such path\"}\n";

Test(serve_safety, traversal_attempts_are_404_before_routing)
{
    int port;
    wv_server *s = server(&port, 10);
    static const char *paths[] = {
        "/../etc/passwd",       "/%2e%2e/",           "/%2E%2E/etc/passwd",       "/api/traces/../../x",
        "//etc/passwd",         "/api/traces/t1/%2e%2e/summary", "/api%2ftraces",   "/..%5cetc",
        "/api/traces/t1\\..\\x", "/api/traces/t1/summary%00", "/./index.html",      "/api/traces/t1/.",
        "/api/traces//t1/summary"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        ts_expect(port, paths[i], 404, not_found);
    /* a raw NUL byte in the request line */
    static const char nul[] = "GET /api/traces\0/../x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    ts_resp r = ts_raw(port, nul, sizeof nul - 1);
    cr_expect(r.status == 404 || r.status == 400, "NUL: status %d", r.status);
    free(r.body);
    /* a path that exists on disk but is not an asset */
    ts_expect(port, "/etc/passwd", 404, not_found);
    ts_expect(port, "/api/traces/t1/../t1/summary", 404, not_found);
    ts_expect(port, "/api/traces/T1/summary", 404, "{\"error\":\"no such trace\"}\n");
    ts_expect(port, "/api/traces/t1/nothing", 404, not_found);
    wv_server_free(s);
}

Test(serve_safety, malformed_parameters_are_400_with_a_json_error)
{
    int port;
    wv_server *s = server(&port, 10);
    static const char *cases[][2] = {
        {"start=5&end=1&px=10", "start must be less than end"},
        {"start=5&end=5&px=10", "start must be less than end"},
        {"start=0&end=10&px=0", "parameter px must be between 1 and 8192"},
        {"start=0&end=10&px=100000", "parameter px must be between 1 and 8192"},
        {"start=abc&end=10&px=1", "parameter start must be a decimal integer"},
        {"start=1e3&end=10&px=1", "parameter start must be a decimal integer"},
        {"start=0x10&end=10&px=1", "parameter start must be a decimal integer"},
        {"start=&end=10&px=1", "parameter start must be a decimal integer"},
        {"start=99999999999999999999&end=10&px=1", "parameter start must be a decimal integer"},
        {"end=10&px=1", "missing parameter start"},
        {"start=0&start=1&end=10&px=1", "parameter start given more than once"},
        {"start=0&end=10&px=1&threads=1,x", "parameter threads must be a comma-separated list of thread indexes"},
        {"start=0&end=10&px=1&task=-1", "parameter task must be between 1 and 9223372036854775807"},
        {"start=0&end=10&px=1&q=%zz", "malformed escape in the query string"},
        {"start=0&end=10&px=1&q=a%00b", "malformed escape in the query string"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[256], body[256];
        snprintf(path, sizeof path, "/api/traces/t1/window?%s", cases[i][0]);
        snprintf(body, sizeof body, "{\"error\":\"%s\"}\n", cases[i][1]);
        ts_expect(port, path, 400, body);
    }
    ts_expect(port, "/api/traces/t1/search?q=", 400, "{\"error\":\"parameter q must be 1 to 200 bytes\"}\n");
    ts_expect(port, "/api/traces/t1/logs?limit=5001", 400,
              "{\"error\":\"parameter limit must be between 1 and 5000\"}\n");
    ts_expect(port, "/api/traces/t1/slice?i=-1", 400,
              "{\"error\":\"parameter i must be between 0 and 9223372036854775807\"}\n");
    ts_expect(port, "/api/traces/t9/window?start=0&end=1&px=1", 404, "{\"error\":\"no such trace\"}\n");
    ts_resp r = ts_req(port, "DELETE", "/api/traces/t1/summary", NULL, 0, NULL);
    cr_expect_eq(r.status, 405);
    cr_expect_str_eq(r.body, "{\"error\":\"method not allowed\"}\n");
    free(r.body);
    wv_server_free(s);
}

Test(serve_safety, a_client_leaving_mid_download_leaves_the_server_serving)
{
    int port;
    wv_server *s = server(&port, 200000);
    for (int k = 0; k < 3; k++) {
        int fd = ts_connect(port);
        static const char req[] = "GET /api/traces/t1/trace.json HTTP/1.1\r\nHost: a\r\n\r\n";
        ts_send(fd, req, sizeof req - 1);
        char buf[4096];
        cr_assert_gt(read(fd, buf, sizeof buf), 0);
        close(fd); /* after a few KiB of many MiB */
    }
    ts_expect(port, "/api/traces/t1/summary", 200, NULL);
    ts_resp r = ts_get(port, "/api/traces/t1/trace.json");
    cr_expect_eq(r.status, 200);
    cr_expect_gt(r.len, 1000000);
    cr_expect(strstr(r.body + r.len - 200, "}}"), "complete JSON");
    free(r.body);
    wv_server_free(s);
}

Test(serve_safety, oversized_request_headers_are_refused)
{
    int port;
    wv_server *s = server(&port, 10);
    size_t n = 40000;
    char *req = malloc(n + 64);
    int k = snprintf(req, 64, "GET /api/traces?");
    memset(req + k, 'a', n);
    strcpy(req + k + n, " HTTP/1.1\r\nHost: a\r\n\r\n");
    ts_resp r = ts_raw(port, req, strlen(req));
    cr_expect(r.status == 413 || r.status == 400 || r.status == 0, "status %d", r.status);
    free(r.body);
    free(req);
    ts_expect(port, "/api/traces/t1/summary", 200, NULL);
    wv_server_free(s);
}
