/*
 * test_session.c - recording sessions seen from outside the process:
 * WEFT_OUT starts recording before main(), WEFT_SECONDS bounds it, exit
 * finishes the file, and a killed program leaves a readable prefix.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "weft.h"

Test(session, weft_out_records_an_unchanged_program_until_the_window_ends)
{
    const char *path = tu_path("env");
    char *argv[] = {RECORDEE_BIN, "env", NULL};
    char *env[] = {tu_env("WEFT_OUT", path), tu_env("WEFT_SECONDS", "0.2"), NULL};
    char *out;
    int st = tu_run(argv, env, &out);
    cr_expect_eq(st, 7, "the program's own exit status passes through; output: %s", out);
    cr_expect(strstr(out, "enabled-at-end=0"), "recording stopped after 0.2 s: %s", out);
    const char *e = strstr(out, "enabled-ticks=");
    cr_assert_not_null(e, "%s", out);
    size_t ticks = strtoul(e + strlen("enabled-ticks="), NULL, 10);
    free(out);
    trace t;
    cr_assert_eq(tu_load(path, &t), WV_OK, "%s", t.msg);
    cr_expect_eq(t.end.reason, WEFT_END_WINDOW);
    /* Every tick logged while recording was on is in the file, and no later
     * one (however slowly a loaded machine ran the 1 ms ticks): the first
     * ticks, up to the one the window may have ended during. */
    size_t logs = tu_count(&t, WEFT_EV_LOG, 0);
    cr_expect(ticks > 0 && ticks < 400, "%zu ticks while recording", ticks);
    cr_expect(logs + 1 >= ticks && logs <= ticks, "logs recorded: %zu of %zu ticks while on", logs, ticks);
    char want[16];
    snprintf(want, sizeof want, "%zu", logs - 1);
    cr_expect_str_eq(tu_nth(&t, WEFT_EV_LOG, 0)->data, "0");
    cr_expect_str_eq(tu_nth(&t, WEFT_EV_LOG, logs - 1)->data, want);
    tu_free(&t);
}

Test(session, a_bad_weft_seconds_is_reported_and_the_default_used)
{
    const char *path = tu_path("badsecs");
    char *argv[] = {RECORDEE_BIN, "env", NULL};
    char *env[] = {tu_env("WEFT_OUT", path), tu_env("WEFT_SECONDS", "soon"), NULL};
    char *out;
    cr_expect_eq(tu_run(argv, env, &out), 7);
    cr_expect(strstr(out, "weft: WEFT_SECONDS=soon is not a number of seconds; using 5\n"), "%s", out);
    free(out);
    trace t;
    cr_assert_eq(tu_load(path, &t), WV_OK, "%s", t.msg);
    cr_expect_eq(t.end.reason, WEFT_END_EXIT, "the 5 s window outlived the program");
    cr_expect_eq(tu_count(&t, WEFT_EV_LOG, 0), 400);
    tu_free(&t);
}

Test(session, an_unwritable_weft_out_is_reported_and_the_program_runs)
{
    char *argv[] = {RECORDEE_BIN, "env", NULL};
    char *env[] = {tu_env("WEFT_OUT", "/nonexistent-dir/x.weft"), NULL};
    char *out;
    cr_expect_eq(tu_run(argv, env, &out), 7);
    cr_expect(strstr(out, "weft: cannot record to /nonexistent-dir/x.weft: No such file or directory\n"),
              "%s", out);
    free(out);
}

Test(session, returning_from_main_finishes_the_file)
{
    const char *path = tu_path("exit");
    char *argv[] = {RECORDEE_BIN, "exit", (char *)path, NULL};
    cr_expect_eq(tu_run(argv, NULL, NULL), 0);
    trace t;
    cr_assert_eq(tu_load(path, &t), WV_OK, "%s", t.msg);
    cr_expect_eq(t.end.reason, WEFT_END_EXIT);
    cr_expect_eq(tu_count(&t, WEFT_EV_LOG, 0), 20);
    tu_free(&t);
}

Test(session, a_killed_program_leaves_everything_flushed_before_it_died)
{
    const char *path = tu_path("kill");
    char *argv[] = {RECORDEE_BIN, "kill", (char *)path, NULL};
    cr_expect_eq(tu_run(argv, NULL, NULL), 128 + 9);
    trace t;
    cr_expect_eq(tu_load(path, &t), WV_TRUNCATED, "no END record: %s", t.msg);
    cr_expect_eq(t.end.present, 0);
    /* 300 ticks were logged; the writer flushes every 100 ms, so at most
     * the last ~100 ms (plus scheduling slack) are lost. */
    size_t logs = tu_count(&t, WEFT_EV_LOG, 0);
    cr_expect(logs >= 150 && logs <= 300, "recovered %zu of 300 logs", logs);
    tu_free(&t);
}
