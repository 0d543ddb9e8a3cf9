/*
 * test_stats.c - `weft stats` (viewer/stats.c, stats_rt.c, blocking.c): the
 * exact summary of known tracegen traces, complete and truncated, and the
 * blocking profiles: the scenario of support/rttrace.h with its sites
 * symbolized, then pauses, MMU and site ranking worked out by hand.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "reader.h"
#include "rttrace.h"
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

/* ---- blocking profiles ------------------------------------------------------------ */

/* The part of the output after the summary's last line. */
static const char *profiles(const char *text)
{
    const char *p = strstr(text, "\nstatus:");
    cr_assert_not_null(p);
    p = strchr(p + 1, '\n');
    return p ? p + 1 : "";
}

static int lock_line, io_line;

Test(stats, runtime_scenario_gives_exact_blocking_profiles)
{
    tg *g = rt_sched_trace(rt_lock_site(&lock_line), rt_io_site(&io_line), 1);
    size_t len;
    int status;
    char *text = stats_of(g, &len, &status);
    cr_assert(strstr(text, "\nscheduling:       perf_event_open context switches\n"), "%s", text);
    /* The sampler's stream is listed, marked as weft's, and not counted. */
    cr_assert(strstr(text, "\nthreads:          3 (and weft's sampler)\n"), "%s", text);
    cr_assert(strstr(text, "\n         900  weft-sampler"), "%s", text);
    cr_assert(strstr(strstr(text, "\n         900  weft-sampler"), "  (weft's own)\n"), "%s", text);
    char want[4096];
    snprintf(want, sizeof want,
             "scheduler records lost: 3 (state tracks there are incomplete)\n"
             "  worker (tid 102)                        3\n"
             "scheduler latency (ms, preempted until running again):\n"
             "         TID  NAME                    COUNT        P50        P90        P99        MAX\n"
             "         101  main                        1      0.060      0.060      0.060      0.060\n"
             "         102  worker                      1      0.050      0.050      0.050      0.050\n"
             "lock waits by call site (ms):\n"
             "     COUNT      TOTAL        MAX  TOP HOLDER               SITE\n"
             "         2      0.251      0.250  main (tid 101)           take_the_lock (rttrace.c:%d)\n"
             "I/O waits by call site (ms):\n"
             "     COUNT      TOTAL        MAX        BYTES  OP               SITE\n"
             "         1      0.250      0.250           10  read             read_the_file (rttrace.c:%d)\n"
             "pauses (ms):\n"
             "  KIND            COUNT        P50        P90        P99        MAX\n"
             "  gc                  1      0.050      0.050      0.050      0.050\n"
             "  allocator           1      0.030      0.030      0.030      0.030\n"
             "  minimum mutator utilization: 1 ms 92.0 %%, 10 ms 92.0 %%, 100 ms 92.0 %%\n",
             lock_line, io_line);
    cr_assert_str_eq(profiles(text), want);
    free(text);
    tg_free(g);
}

#define MS(x) (RT_B0 + (uint64_t)((x) * 1000000.0))

/* Pauses (ms) GC [10, 12], [100, 103] on thread 1; allocator [15, 16],
 * [104, 106] on thread 2 and [500, 500.5] on thread 3; the recording lasts
 * 1000 ms. Durations: gc 2, 3 -> p50 2 (1st of 2), p90 3; allocator 1, 2,
 * 0.5 -> p50 1 (2nd of 3), p90 2. MMU over the union (see test_mmu.c): 1 ms
 * 0, 10 ms 0.5, 100 ms 0.92.
 * Lock sites: 0xA waits 3 ms for thread 1 and 1 ms for thread 2 (4 ms, top
 * holder 1); 0xB waits 6 ms once for thread 2. I/O sites: 0xC reads 2 ms +
 * 1 ms (100 + 50 bytes), 0xD writes 5 ms (7 bytes), 0xE polls 1 ms. */
static tg *profile_trace(void)
{
    tg *g = tg_new(NULL);
    tg_string(g, 1, "mark");
    tg_thread(g, 1, 101, "collector");
    tg_thread(g, 2, 102, "worker");
    tg_thread(g, 3, 103, "other");
    tg_batch_chunk(g, 1);
    tg_ev(g, MS(0), WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, MS(10), WEFT_EV_GC_BEGIN, 1, 0, 0);
    tg_ev(g, MS(12), WEFT_EV_GC_END, 0, 0, 0);
    tg_ev5(g, MS(20), WEFT_EV_LOCK_WAIT, WEFT_LOCK_MUTEX, 0x100, 0xB, 6000000, 2);
    tg_ev(g, MS(100), WEFT_EV_GC_BEGIN, 1, 0, 0);
    tg_ev(g, MS(103), WEFT_EV_GC_END, 0, 0, 0);
    tg_ev(g, MS(1000), WEFT_EV_COUNTER, 1, 1, 0);
    tg_batch_end(g);
    tg_batch_chunk(g, 2);
    tg_ev(g, MS(0), WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev5(g, MS(16), WEFT_EV_ALLOC_PAUSE, WEFT_ALLOC_MALLOC, 1 << 20, 1000000, 0xF, 0);
    tg_ev5(g, MS(30), WEFT_EV_LOCK_WAIT, WEFT_LOCK_MUTEX, 0x100, 0xA, 3000000, 1);
    tg_ev5(g, MS(40), WEFT_EV_IO, WEFT_IO_READ, 5, 100, 2000000, 0xC);
    tg_ev5(g, MS(50), WEFT_EV_IO, WEFT_IO_WRITE, 6, 7, 5000000, 0xD);
    tg_ev5(g, MS(106), WEFT_EV_ALLOC_PAUSE, WEFT_ALLOC_FREE, 0, 2000000, 0xF, 0);
    tg_batch_end(g);
    tg_batch_chunk(g, 3);
    tg_ev(g, MS(0), WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev5(g, MS(60), WEFT_EV_LOCK_WAIT, WEFT_LOCK_MUTEX, 0x100, 0xA, 1000000, 2);
    tg_ev5(g, MS(70), WEFT_EV_IO, WEFT_IO_READ, 5, 50, 1000000, 0xC);
    tg_ev5(g, MS(80), WEFT_EV_IO, WEFT_IO_POLL, 2, 1, 1000000, 0xE);
    tg_ev5(g, MS(500.5), WEFT_EV_ALLOC_PAUSE, WEFT_ALLOC_MALLOC, 64, 500000, 0xF, 0);
    tg_batch_end(g);
    return g;
}

Test(stats, profiles_rank_sites_and_give_hand_computed_pauses_and_mmu)
{
    tg *g = profile_trace();
    size_t len;
    int status;
    char *text = stats_of(g, &len, &status);
    const char *want =
        "lock waits by call site (ms):\n"
        "     COUNT      TOTAL        MAX  TOP HOLDER               SITE\n"
        "         1      6.000      6.000  worker (tid 102)         0xb\n"
        "         2      4.000      3.000  collector (tid 101)      0xa\n"
        "I/O waits by call site (ms):\n"
        "     COUNT      TOTAL        MAX        BYTES  OP               SITE\n"
        "         1      5.000      5.000            7  write            0xd\n"
        "         2      3.000      2.000          150  read             0xc\n"
        "         1      1.000      1.000            0  poll             0xe\n"
        "pauses (ms):\n"
        "  KIND            COUNT        P50        P90        P99        MAX\n"
        "  gc                  2      2.000      3.000      3.000      3.000\n"
        "  allocator           3      1.000      2.000      2.000      2.000\n"
        "  minimum mutator utilization: 1 ms 0.0 %, 10 ms 50.0 %, 100 ms 92.0 %\n";
    cr_assert_str_eq(profiles(text), want);
    free(text);
    tg_free(g);
}

Test(stats, a_trace_without_runtime_events_has_no_profiles)
{
    tg *g = known_trace(1);
    size_t len;
    int status;
    char *text = stats_of(g, &len, &status);
    cr_assert_str_eq(profiles(text), "");
    free(text);
    tg_free(g);
}
