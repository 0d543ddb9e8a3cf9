/*
 * test_serve_cli.c - `weft serve` as a process (viewer/serve.c): the URL it
 * prints, directories of traces, the refusal to listen beyond loopback
 * without --auth or --insecure, and digest authentication.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "test_serve.h"
#include "testutil.h"
#include "tracegen.h"

#define B0 1000000ull

static void small_trace(const char *path)
{
    tg *g = tg_new(NULL);
    tg_string(g, 1, "work");
    tg_thread(g, 0, 9, "main");
    tg_batch_chunk(g, 0);
    tg_ev(g, B0, WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, B0 + 10, WEFT_EV_REGION_BEGIN, 0, 1, 0);
    tg_ev(g, B0 + 20, WEFT_EV_REGION_END, 0, 0, 0);
    tg_batch_end(g);
    tg_end(g, WEFT_END_STOP, 3, 0, 0);
    cr_assert_eq(tg_write(g, path), 0);
    tg_free(g);
}

/* Starts `weft serve ARGS`; returns its pid and the port from its first line. */
static pid_t serve(char *const *args, int *port, char *line, size_t n)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    if (!pid) {
        dup2(p[1], 1);
        close(p[0]);
        char *argv[16] = {WEFT_BIN, "serve"};
        for (int i = 0; args[i] && i < 13; i++)
            argv[i + 2] = args[i];
        execv(WEFT_BIN, argv);
        _exit(127);
    }
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    cr_assert(fgets(line, (int)n, f), "no output from weft serve");
    fclose(f);
    char *colon = strrchr(line, ':');
    *port = colon ? atoi(colon + 1) : 0;
    return pid;
}

static int stop(pid_t pid)
{
    int st;
    kill(pid, SIGTERM);
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

Test(serve_cli, prints_its_url_and_serves_every_trace_of_a_directory)
{
    char dir[512], a[600], b[600], line[256];
    snprintf(dir, sizeof dir, "%s", tu_path("servedir"));
    mkdir(dir, 0700);
    snprintf(a, sizeof a, "%s/a.weft", dir);
    snprintf(b, sizeof b, "%s/b.weft", dir);
    small_trace(a);
    small_trace(b);
    char *args[] = {dir, "--addr", "127.0.0.1:0", NULL};
    int port;
    pid_t pid = serve(args, &port, line, sizeof line);
    char expect[128];
    snprintf(expect, sizeof expect, "weft: serving 2 traces at http://127.0.0.1:%d/\n", port);
    cr_expect_str_eq(line, expect);
    ts_resp r = ts_get(port, "/api/traces");
    cr_expect(strstr(r.body, "\"id\":\"t1\",\"name\":\"a.weft\"") && strstr(r.body, "\"id\":\"t2\",\"name\":\"b.weft\""),
              "%s", r.body);
    free(r.body);
    r = ts_get(port, "/");
    cr_expect_eq(r.status, 200);
    cr_expect(strcasestr(r.head, "Content-Type: text/html"), "%s", r.head);
    free(r.body);
    cr_expect_eq(stop(pid), 0);
}

Test(serve_cli, non_loopback_needs_auth_or_insecure)
{
    char *out;
    char *argv[] = {WEFT_BIN, "serve", "--addr", "0.0.0.0:0", NULL};
    cr_expect_eq(tu_run(argv, NULL, &out), 2);
    cr_expect_str_eq(out, "weft: serve: warning: 0.0.0.0:0 is reachable from other machines; anyone who "
                          "can connect can read every trace served\n"
                          "weft: serve: refusing to listen on 0.0.0.0:0 without --auth USER:PASS "
                          "(or --insecure to allow it anyway)\n");
    free(out);
    char *bad[] = {WEFT_BIN, "serve", "--max-upload", "-5", NULL};
    cr_expect_eq(tu_run(bad, NULL, &out), 2);
    free(out);
}

Test(serve_cli, auth_requires_digest_credentials)
{
    char path[512], line[256];
    snprintf(path, sizeof path, "%s", tu_path("auth.weft"));
    small_trace(path);
    char *args[] = {path, "--addr", "127.0.0.1:0", "--auth", "ann:secret", NULL};
    int port;
    pid_t pid = serve(args, &port, line, sizeof line);
    ts_resp r = ts_get(port, "/api/traces");
    cr_expect_eq(r.status, 401);
    cr_expect(strcasestr(r.head, "WWW-Authenticate: Digest"), "%s", r.head);
    free(r.body);
    cr_expect_eq(stop(pid), 0);
}
