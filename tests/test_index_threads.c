/*
 * test_index_threads.c - `weft serve`'s index built and queried the way the
 * server does it, by several threads at once: the indexing thread with its
 * feed and runtime-rows threads, requests waiting for the index, the
 * warm-up woken by the first window, lazy tables asked for while it works,
 * and shutdown (see support/indexee.c).
 *
 * The scenario runs in the child program indexee, instrumented in the
 * ThreadSanitizer build (a reported race makes it exit 66), on traces
 * written by weft_gentrace with and without runtime events.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static void run_on(const char *name, const char *events, const char *rt)
{
    const char *path = tu_path(name);
    char threads[] = "4", seconds[] = "1";
    char *gen[] = {WEFT_GENTRACE, (char *)path, (char *)events, threads, seconds, (char *)rt, NULL};
    char *out;
    cr_assert_eq(tu_run(gen, NULL, &out), 0, "%s", out);
    free(out);
    char *argv[] = {INDEXEE_BIN, (char *)path, NULL};
    /* the runner's options (halt_on_error) and civetweb's known race */
    char opts[1024];
    const char *o = getenv("TSAN_OPTIONS");
    snprintf(opts, sizeof opts, "TSAN_OPTIONS=%s%ssuppressions=%s", o ? o : "", o && *o ? ":" : "", INDEXEE_SUPP);
    char *env[] = {opts, NULL};
    int st = tu_run(argv, env, &out);
    cr_assert_eq(st, 0, "indexee %s exited %d:\n%s", name, st, out);
    cr_assert_null(strstr(out, "ThreadSanitizer"), "%s", out);
    free(out);
}

Test(index_threads, regions_tasks_logs_and_counters)
{
    run_on("plain.weft", "200000", NULL);
}

Test(index_threads, with_runtime_events)
{
    run_on("rt.weft", "200000", "rt");
}
