/*
 * test_stats.c - `weft stats` (viewer/stats.c): the exact summary of known
 * tracegen traces, complete and truncated.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "reader.h"
#include "stats.h"
#include "tracegen.h"

#define B0 1000000ull

/* Two threads; a region never ended, a drop of 3 events, a recorder
 * diagnostic twice; 2.5 ms long. */
static tg *known_trace(int with_end)
{
    tg *g = tg_new(NULL);
    tg_string(g, 1, "request");
    tg_string(g, 2, "parse");
    tg_thread(g, 0, 101, "main");
    tg_thread(g, 1, 102, "worker");
    tg_batch_chunk(g, 0);
    tg_ev(g, B0, WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, B0 + 1000, WEFT_EV_TASK_BEGIN, 1, 0, 1);
    tg_ev(g, B0 + 2000, WEFT_EV_REGION_BEGIN, 1, 2, 0);
    tg_ev(g, B0 + 3000, WEFT_EV_REGION_END, 0, 0, 0);
    tg_ev(g, B0 + 4000, WEFT_EV_TASK_END, 1, 0, 0);
    tg_ev(g, B0 + 5000, WEFT_EV_DIAG, WEFT_DIAG_REGION_ENDED_TWICE, 2, 0);
    tg_ev(g, B0 + 6000, WEFT_EV_DIAG, WEFT_DIAG_REGION_ENDED_TWICE, 2, 0);
    tg_batch_end(g);
    tg_frame(g);
    tg_batch_chunk(g, 1);
    tg_ev(g, B0 + 100, WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, B0 + 200, WEFT_EV_REGION_BEGIN, 0, 2, 0);
    tg_ev(g, B0 + 300, WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, B0 + 300, WEFT_EV_DROP, 3, 1, 0);
    tg_ev_b(g, B0 + 2500000, WEFT_EV_LOG, 0, 0, "x", 1);
    tg_batch_end(g);
    if (with_end) {
        tg_end_thread(g, 0, 7, 0);
        tg_end_thread(g, 1, 5, 3);
        tg_end(g, WEFT_END_WINDOW, 12, 3, 3u << 20);
    }
    return g;
}

static char *stats_of(tg *g, size_t *file_len, int *status)
{
    const uint8_t *b = tg_bytes(g, file_len);
    int fd = memfd_create("weft-stats", MFD_CLOEXEC);
    cr_assert_eq(write(fd, b, *file_len), (ssize_t)*file_len);
    lseek(fd, 0, SEEK_SET);
    wv_reader *r = wv_reader_open_fd(fd, "in");
    char *text;
    size_t len;
    FILE *f = open_memstream(&text, &len);
    cr_assert_eq(wv_stats_print(r, f), 0);
    fclose(f);
    *status = wv_reader_status(r);
    wv_reader_close(r);
    close(fd);
    return text;
}

static const char *expected_head =
    "program:          demo\n"
    "pid:              4242\n"
    "recorded at:      2023-11-14T22:13:20.000000000Z\n"
    "clock:            monotonic\n"
    "scheduling:       not recorded\n"
    "duration:         0.002500000 s\n"
    "threads:          2\n"
    "         TID  NAME                       EVENTS    DROPPED\n"
    "         101  main                            7          0\n"
    "         102  worker                          5          3\n"
    "events by type:\n"
    "  time_base                       3\n"
    "  task_begin                      1\n"
    "  task_end                        1\n"
    "  region_begin                    2\n"
    "  region_end                      1\n"
    "  log                             1\n"
    "  drop                            1\n"
    "  diag                            2\n"
    "total events:     12\n";

static const char *expected_diags =
    "dropped events:   3\n"
    "diagnostics:      3\n"
    "         2  REGION_ENDED_TWICE \"parse\" (tid 101): region ended twice, or after it was ended with an outer region\n"
    "         1  REGION_NOT_ENDED \"parse\" (tid 102): region still open when its thread's events end\n";

/* Checks the whole summary: the known head, then file size, drops and
 * diagnostics, then `tail` (which differs with and without END). */
static void check_summary(int with_end, int want_status, const char *tail)
{
    tg *g = known_trace(with_end);
    size_t len;
    int status;
    char *text = stats_of(g, &len, &status);
    cr_assert_eq(status, want_status);
    char want[4096];
    snprintf(want, sizeof want, "%sfile size:        %zu bytes (%.2f bytes/event)\n%s%s", expected_head,
             len, (double)len / 12.0, expected_diags, tail);
    cr_assert_str_eq(text, want);
    free(text);
    tg_free(g);
}

Test(stats, summary_of_a_complete_trace_is_exact)
{
    check_summary(1, WV_OK,
                  "recorder memory:  3145728 bytes (3.0 MiB)\n"
                  "status:           complete (recording window ended)\n");
}

Test(stats, summary_of_a_truncated_trace_says_so)
{
    check_summary(0, WV_TRUNCATED,
                  "recorder memory:  unknown (no end record)\n"
                  "status:           TRUNCATED (no end record)\n");
}
