/*
 * test_cli.c - the `weft` command (viewer/main.c) run as a process: its
 * arguments, messages and exit statuses (0 ok or truncated, 1 bad input or
 * output, 2 usage).
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "tracegen.h"
#include "weft.h"

#define B0 1000000ull

static int run(char **out, const char *a1, const char *a2, const char *a3, const char *a4)
{
    char *argv[] = {WEFT_BIN, (char *)a1, (char *)a2, (char *)a3, (char *)a4, NULL};
    return tu_run(argv, NULL, out);
}

/* A valid trace, its length, and the offset of its second frame. */
static const char *good_trace(const char *name, size_t *len, size_t *frame2)
{
    tg *g = tg_new(NULL);
    tg_string(g, 1, "work");
    tg_thread(g, 0, 9, "main");
    tg_batch_chunk(g, 0);
    tg_ev(g, B0, WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, B0 + 10, WEFT_EV_REGION_BEGIN, 0, 1, 0);
    tg_batch_end(g);
    tg_frame(g);
    tg_batch(g, 0);
    tg_ev(g, B0 + 20, WEFT_EV_REGION_END, 0, 0, 0);
    tg_batch_end(g);
    tg_end(g, WEFT_END_STOP, 3, 0, 0);
    const char *p = tu_path(name);
    cr_assert_eq(tg_write(g, p), 0);
    tg_bytes(g, len);
    *frame2 = tg_frame_offset(g, 1);
    tg_free(g);
    return p;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&text, &cap, '\0', f);
    fclose(f);
    if (n < 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* The bytes of a file of known length. */
static uint8_t *read_all(const char *path, size_t len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    uint8_t *b = malloc(len);
    cr_assert_eq(fread(b, 1, len, f), len);
    fclose(f);
    return b;
}

static void assert_json_file(const char *path)
{
    char *text = slurp(path);
    cr_assert_not_null(text, "%s exists", path);
    cJSON *j = cJSON_Parse(text);
    cr_assert_not_null(j, "%s is valid JSON", path);
    cJSON_Delete(j);
    free(text);
}

Test(cli, version_prints_both_versions)
{
    char *out;
    cr_assert_eq(run(&out, "version", NULL, NULL, NULL), 0);
    char want[100];
    snprintf(want, sizeof want, "weft %s (trace format %d)\n", WEFT_VERSION_STRING, WEFT_FORMAT_VERSION);
    cr_assert_str_eq(out, want);
    free(out);
}

Test(cli, help_goes_to_stdout_with_status_0)
{
    const char *forms[] = {"help", "--help", "-h"};
    for (int i = 0; i < 3; i++) {
        char *out;
        cr_assert_eq(run(&out, forms[i], NULL, NULL, NULL), 0);
        cr_assert_eq(strncmp(out, "usage: weft <command>", 21), 0, "%s", out);
        free(out);
    }
}

Test(cli, usage_errors_exit_2_with_a_reason_and_the_usage)
{
    const char *cases[][5] = {
        {NULL, NULL, NULL, NULL, "weft: missing command\n"},
        {"frob", NULL, NULL, NULL, "weft: unknown command frob\n"},
        {"json", NULL, NULL, NULL, "weft: json: missing input file\n"},
        {"json", "a", "b", NULL, "weft: json: unexpected argument b\n"},
        {"json", "a", "-o", NULL, "weft: json: -o needs one output file\n"},
        {"json", "--bogus", "a", NULL, "weft: json: unknown option --bogus\n"},
        {"stats", NULL, NULL, NULL, "weft: stats: missing input file\n"},
        {"stats", "a", "b", NULL, "weft: stats: takes exactly one input file\n"},
        {"version", "x", NULL, NULL, "weft: version: takes no arguments\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out;
        cr_assert_eq(run(&out, cases[i][0], cases[i][1], cases[i][2], cases[i][3]), 2, "case %zu", i);
        size_t n = strlen(cases[i][4]);
        cr_assert_eq(strncmp(out, cases[i][4], n), 0, "case %zu: %s", i, out);
        cr_assert_eq(strncmp(out + n, "usage: weft", 11), 0, "case %zu", i);
        free(out);
    }
}

Test(cli, unreadable_input_exits_1_with_one_line_and_creates_no_output)
{
    char *out;
    const char *json = tu_path("never.json");
    cr_assert_eq(run(&out, "json", "/nonexistent/x.weft", "-o", json), 1);
    cr_assert_str_eq(out, "weft: /nonexistent/x.weft: cannot open: No such file or directory\n");
    cr_assert_neq(access(json, F_OK), 0);
    free(out);
    const char *empty = tu_path("empty.weft");
    cr_assert_eq(tg_write_bytes(empty, "", 0), 0);
    cr_assert_eq(run(&out, "stats", empty, NULL, NULL), 1);
    char want[600];
    snprintf(want, sizeof want, "weft: %s: offset 0: file is empty\n", empty);
    cr_assert_str_eq(out, want);
    free(out);
}

Test(cli, json_writes_a_file_or_stdout)
{
    size_t len, f2;
    const char *in = good_trace("good.weft", &len, &f2);
    const char *json = tu_path("good.json");
    char *out;
    cr_assert_eq(run(&out, "json", in, "-o", json), 0);
    cr_assert_str_eq(out, "", "nothing on stderr");
    free(out);
    assert_json_file(json);
    cr_assert_eq(run(&out, "json", "-o", json, in), 0, "options may come first");
    free(out);
    cr_assert_eq(run(&out, "json", in, NULL, NULL), 0);
    cJSON *j = cJSON_Parse(out);
    cr_assert_not_null(j, "stdout is the JSON");
    cJSON_Delete(j);
    free(out);
}

Test(cli, truncated_input_warns_and_exits_0)
{
    size_t len, f2;
    const char *in = good_trace("full.weft", &len, &f2);
    uint8_t *b = read_all(in, len);
    const char *cut = tu_path("cut.weft"), *json = tu_path("cut.json");
    cr_assert_eq(tg_write_bytes(cut, b, f2), 0);
    char *out, want[700];
    cr_assert_eq(run(&out, "json", cut, "-o", json), 0);
    snprintf(want, sizeof want,
             "weft: %s: warning: file is truncated at offset %zu (no end record); "
             "recovered 2 events from %zu of %zu bytes\n", cut, f2, f2, f2);
    cr_assert_str_eq(out, want);
    assert_json_file(json);
    free(out);
    free(b);
}

Test(cli, damaged_input_exits_1_after_writing_what_it_read)
{
    size_t len, f2;
    const char *in = good_trace("tobreak.weft", &len, &f2);
    uint8_t *b = read_all(in, len);
    b[f2 + 7 + 4 + 1] ^= 0x10;
    const char *bad = tu_path("bad.weft"), *json = tu_path("bad.json");
    cr_assert_eq(tg_write_bytes(bad, b, len), 0);
    char *out, want[700];
    cr_assert_eq(run(&out, "json", bad, "-o", json), 1);
    snprintf(want, sizeof want, "weft: %s: offset %zu: corrupt block (LZ4: ERROR_blockChecksum_invalid)\n",
             bad, f2 + 7);
    cr_assert_str_eq(out, want);
    assert_json_file(json);
    free(out);
    free(b);
}

Test(cli, output_errors_exit_1)
{
    size_t len, f2;
    const char *in = good_trace("out.weft", &len, &f2);
    char *out;
    cr_assert_eq(run(&out, "json", in, "-o", "/nonexistent/dir/x.json"), 1);
    cr_assert_str_eq(out, "weft: /nonexistent/dir/x.json: cannot create: No such file or directory\n");
    free(out);
    cr_assert_eq(run(&out, "json", in, "-o", "/dev/full"), 1);
    cr_assert_str_eq(out, "weft: /dev/full: No space left on device\n");
    free(out);
}
