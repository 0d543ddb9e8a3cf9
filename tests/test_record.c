/*
 * test_record.c - `weft record` and libweft-preload.so, seen from outside:
 * programs that never call weft (support/plainprog.c) and one that does
 * (support/linkedprog.c) run under `weft record`, and their traces are
 * checked against what the programs report they did - thread ids, the lock
 * and the functions that blocked, their own timings, the bytes they
 * allocated.
 *
 * The programs are instrumented in the ThreadSanitizer build, with the
 * preload library (whose malloc then calls TSan's): a reported race makes
 * them exit 66, and a deadlock runs into the timeout around them.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "weft.h"

#define MS 1000000LL
#define MIB (1024 * 1024)
/* Slack for converting ticks to ns through the clock samples. */
#define CLOCK_SLACK_NS 50000
/* A call site lies this close after the start of its function (sanitizer
 * builds make functions several hundred bytes long). */
#define SITE_SPAN 1024
/* A deadlocked program is killed after this long (status 124). */
#define TIMEOUT "120"

static char *envvar(const char *k, const char *v)
{
    static char buf[8][600];
    static int n;
    char *b = buf[n++ % 8];
    snprintf(b, sizeof buf[0], "%s=%s", k, v);
    return b;
}

/* Runs `weft record -o PATH -- PROG ARGS...` under timeout(1); returns the
 * status, with the output of weft and the program in *out. */
static int record(const char *path, char *const prog[], char *const env[], char **out)
{
    char *argv[16] = {"/usr/bin/timeout", TIMEOUT, WEFT_BIN, "record", "-o", (char *)path, "--"};
    int n = 7;
    for (int i = 0; prog[i] && n < 15; i++)
        argv[n++] = prog[i];
    argv[n] = NULL;
    return tu_run(argv, env, out);
}

/* Runs plainprog MODE under weft record and requires a clean run. */
static char *record_plain(const char *mode, const char *path, char *const env[])
{
    char *prog[] = {PLAINPROG_BIN, (char *)mode, NULL};
    char *out;
    int st = record(path, prog, env, &out);
    cr_assert_neq(st, 124, "plainprog %s did not finish in " TIMEOUT " s (deadlock?):\n%s", mode, out);
    cr_assert_eq(st, 0, "plainprog %s exited %d:\n%s", mode, st, out);
    cr_assert_null(strstr(out, "Sanitizer"), "%s", out); /* Thread, Address, Leak, UB */
    return out;
}

static uint64_t field(const char *out, const char *key)
{
    const char *p = strstr(out, key);
    cr_assert_not_null(p, "no %s in the output:\n%s", key, out);
    return strtoull(p + strlen(key), NULL, 0);
}

static const tev *first_on(const trace *t, unsigned code, uint64_t tid)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->ev[i].code == code && t->ev[i].tid == tid)
            return &t->ev[i];
    return NULL;
}

static size_t count_on(const trace *t, unsigned code, uint64_t tid)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += t->ev[i].code == code && t->ev[i].tid == tid;
    return n;
}

static uint32_t index_of(const trace *t, uint64_t tid)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->ev[i].tid == tid)
            return t->ev[i].thread;
    cr_assert_fail("thread %" PRIu64 " is not in the trace", tid);
    return 0;
}

/* The name the trace gives thread `tid` at its end. */
static void thread_name(const char *path, uint64_t tid, char *name, size_t cap)
{
    wv_reader *r = wv_reader_open(path);
    cr_assert_not_null(r);
    wv_event ev;
    while (wv_reader_next(r, &ev))
        ;
    name[0] = 0;
    for (uint32_t i = 0; i < wv_reader_thread_count(r); i++)
        if (wv_reader_thread(r, i)->tid == tid)
            snprintf(name, cap, "%s", wv_reader_thread(r, i)->name);
    wv_reader_close(r);
}

/* ---- exit status and errors ----------------------------------------------------- */

Test(record, the_programs_exit_status_passes_through)
{
    char *prog[] = {PLAINPROG_BIN, "exit", "3", NULL};
    char *out;
    cr_expect_eq(record(tu_path("exit3"), prog, NULL, &out), 3, "%s", out);
    cr_expect(strstr(out, "weft: trace in "), "where the trace went: %s", out);
    free(out);
}

Test(record, a_program_killed_by_a_signal_gives_128_plus_the_signal)
{
    char *prog[] = {PLAINPROG_BIN, "kill", NULL};
    char *out;
    cr_expect_eq(record(tu_path("killed"), prog, NULL, &out), 128 + 15, "%s", out);
    free(out);
}

Test(record, an_unknown_program_is_reported_like_a_shell_does)
{
    char *prog[] = {"weft-no-such-program", NULL};
    char *out;
    cr_expect_eq(record(tu_path("unknown"), prog, NULL, &out), 127);
    cr_expect_str_eq(out, "weft: weft-no-such-program: command not found\n");
    free(out);
}

Test(record, a_missing_preload_library_and_bad_seconds_are_reported)
{
    char *prog[] = {PLAINPROG_BIN, "exit", "0", NULL};
    char *env[] = {envvar("WEFT_PRELOAD_LIB", "/nonexistent/libweft-preload.so"), NULL};
    char *out;
    cr_expect_eq(record(tu_path("nolib"), prog, env, &out), 125);
    cr_expect_str_eq(out, "weft: record: cannot find libweft-preload.so (looked at: "
                          "/nonexistent/libweft-preload.so); set WEFT_PRELOAD_LIB to its path\n");
    free(out);
    char *argv[] = {WEFT_BIN, "record", "--seconds", "soon", "--", PLAINPROG_BIN, NULL};
    cr_expect_eq(tu_run(argv, NULL, &out), 2);
    cr_expect(strstr(out, "weft: record: --seconds needs a number of seconds >= 0, not 'soon'\n"), "%s",
              out);
    free(out);
}

/* ---- a program built without weft -------------------------------------------------- */

typedef struct work_run {
    trace t;
    char *out;
    const char *path;
    uint64_t main_tid, holder_tid, waiter_tid, reader_tid;
} work_run;

static void run_work(work_run *w)
{
    w->path = tu_path("work");
    w->out = record_plain("work", w->path, NULL);
    cr_assert_eq(tu_load(w->path, &w->t), WV_OK, "%s", w->t.msg);
    w->main_tid = field(w->out, "main_tid=");
    w->holder_tid = field(w->out, "holder_tid=");
    w->waiter_tid = field(w->out, "waiter_tid=");
    w->reader_tid = field(w->out, "reader_tid=");
}

static void free_work(work_run *w)
{
    tu_free(&w->t);
    free(w->out);
}

Test(record, an_unmodified_program_shows_its_threads_with_names_and_parents)
{
    work_run w;
    run_work(&w);
    uint32_t main_index = index_of(&w.t, w.main_tid);
    uint64_t kids[] = {w.holder_tid, w.waiter_tid, w.reader_tid};
    const char *names[] = {"holder", "waiter", "reader"};
    for (int i = 0; i < 3; i++) {
        const tev *start = first_on(&w.t, WEFT_EV_THREAD_START, kids[i]);
        cr_assert_not_null(start, "no THREAD_START on %s", names[i]);
        cr_expect_eq(start->arg[0], main_index, "%s's parent", names[i]);
        bool created = false;
        for (size_t k = 0; k < w.t.n; k++)
            created |= w.t.ev[k].code == WEFT_EV_THREAD_CREATE && w.t.ev[k].tid == w.main_tid &&
                       w.t.ev[k].arg[0] == start->arg[1] && w.t.ev[k].ns <= start->ns;
        cr_expect(created, "no THREAD_CREATE{spawn %" PRIu64 "} on main before %s started", start->arg[1],
                  names[i]);
        cr_expect_eq(count_on(&w.t, WEFT_EV_THREAD_EXIT, kids[i]), 1, "%s exited once", names[i]);
        char name[64];
        thread_name(w.path, kids[i], name, sizeof name);
        cr_expect_str_eq(name, names[i]);
    }
    free_work(&w);
}

Test(record, an_unmodified_programs_lock_wait_names_the_holder)
{
    work_run w;
    run_work(&w);
    uint64_t lock = field(w.out, "lock="), block = field(w.out, "lock_block=");
    int64_t held = (int64_t)field(w.out, "held_ns="), blocked = (int64_t)field(w.out, "blocked_ns=");
    cr_assert_eq(count_on(&w.t, WEFT_EV_LOCK_WAIT, w.waiter_tid), 1);
    const tev *wait = first_on(&w.t, WEFT_EV_LOCK_WAIT, w.waiter_tid);
    cr_expect_eq(wait->arg[0], WEFT_LOCK_MUTEX);
    cr_expect_eq(wait->arg[1], lock);
    cr_expect(wait->arg[2] > block && wait->arg[2] < block + SITE_SPAN, "site %#" PRIx64 ", function %#" PRIx64,
              wait->arg[2], block);
    cr_expect_eq(wait->arg[4], index_of(&w.t, w.holder_tid), "holder");
    cr_expect_geq(held, 5 * MS);
    cr_expect(wait->dur_ns >= held - CLOCK_SLACK_NS && wait->dur_ns <= blocked + CLOCK_SLACK_NS,
              "recorded %.3f ms; held %.3f ms, the call took %.3f ms", wait->dur_ns / 1e6, held / 1e6,
              blocked / 1e6);
    free_work(&w);
}

Test(record, an_unmodified_programs_blocking_read_lasts_until_the_write)
{
    work_run w;
    run_work(&w);
    int64_t fd = (int64_t)field(w.out, "pipe_fd="), block = (int64_t)field(w.out, "read_block=");
    int64_t held = (int64_t)field(w.out, "pipe_held_ns="), took = (int64_t)field(w.out, "read_ns=");
    cr_assert_eq(count_on(&w.t, WEFT_EV_IO, w.reader_tid), 1);
    const tev *io = first_on(&w.t, WEFT_EV_IO, w.reader_tid);
    cr_expect_eq(io->arg[0], WEFT_IO_READ);
    cr_expect_eq((int64_t)io->arg[1], fd);
    cr_expect_eq((int64_t)io->arg[2], 3, "bytes read");
    cr_expect_geq(held, 10 * MS);
    cr_expect(io->dur_ns >= held - CLOCK_SLACK_NS && io->dur_ns <= took + CLOCK_SLACK_NS,
              "recorded %.3f ms; the write came %.3f ms later, the read took %.3f ms", io->dur_ns / 1e6,
              held / 1e6, took / 1e6);
    cr_expect((int64_t)io->arg[4] > block && (int64_t)io->arg[4] < block + SITE_SPAN);
    free_work(&w);
}

/* The times of the program's writes to its marker fd, in order. */
static size_t markers(const trace *t, int64_t fd, int64_t *ns, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n && n < cap; i++)
        if (t->ev[i].code == WEFT_EV_IO && t->ev[i].arg[0] == WEFT_IO_WRITE && (int64_t)t->ev[i].arg[1] == fd)
            ns[n++] = t->ev[i].ns;
    return n;
}

/* The malloc heap counter's value in effect at time `ns`: its last sample at
 * or before then (samples are written when the value changed, by the sampler
 * or by an allocation call). UINT64_MAX if there is none yet. */
static uint64_t heap_at(const trace *t, int64_t ns)
{
    uint64_t v = UINT64_MAX;
    for (size_t i = 0; i < t->n && t->ev[i].ns <= ns; i++)
        if (t->ev[i].code == WEFT_EV_HEAP && t->ev[i].arg[0] == WEFT_HEAP_MALLOC)
            v = t->ev[i].arg[1];
    return v;
}

/* The heap counter against the bytes the program held between its second
 * and third marker (30 ms apart), with `base` its value at the first: from
 * the second marker to the third every sample is at least base plus those
 * bytes, less a little for the recorder's and libc's own use, and so is the
 * value in effect at the third; at the end of the recording (30 ms after
 * the fourth marker, when all was freed) the value is back within that
 * little of base. */
static void expect_heap(const trace *t, const char *out, size_t slack)
{
    int64_t fd = (int64_t)field(out, "marker_fd=");
    uint64_t bytes = field(out, "heap_bytes=");
    int64_t m[4];
    cr_assert_eq(markers(t, fd, m, 4), 4, "the four markers");
    uint64_t base = heap_at(t, m[0]);
    cr_assert_neq(base, UINT64_MAX, "no heap sample before the allocations");
    for (size_t i = 0; i < t->n; i++) {
        const tev *e = &t->ev[i];
        if (e->code != WEFT_EV_HEAP || e->arg[0] != WEFT_HEAP_MALLOC)
            continue;
        if (e->ns >= m[1] && e->ns <= m[2])
            cr_expect_geq(e->arg[1] + slack, base + bytes, "heap %" PRIu64 " while %" PRIu64 " were held over %" PRIu64,
                          e->arg[1], bytes, base);
    }
    uint64_t held = heap_at(t, m[2]), end = heap_at(t, t->ev[t->n - 1].ns);
    cr_expect_geq(held + slack, base + bytes, "heap %" PRIu64 " before freeing %" PRIu64 " held over %" PRIu64, held,
                  bytes, base);
    cr_expect_leq(end, base + slack, "heap %" PRIu64 " at the end, %" PRIu64 " before", end, base);
}

Test(record, an_unmodified_programs_heap_counter_follows_its_allocations)
{
    work_run w;
    run_work(&w);
    expect_heap(&w.t, w.out, MIB);
    free_work(&w);
}

/* While the heap changes, the counter is sampled every millisecond, though
 * the sampler itself wakes only every 1-10 ms: the allocation calls take the
 * samples in between. 50 ms of growth give at least 25 samples (a thread
 * that got half of a CPU meanwhile), rising from the first to the last. */
Test(record, a_changing_heap_is_sampled_every_millisecond)
{
    const char *path = tu_path("ramp");
    char *out = record_plain("ramp", path, NULL);
    trace t;
    cr_assert_eq(tu_load(path, &t), WV_OK, "%s", t.msg);
    int64_t m[2];
    cr_assert_eq(markers(&t, (int64_t)field(out, "marker_fd="), m, 2), 2, "the two markers");
    size_t n = 0;
    uint64_t first = 0, last = 0;
    for (size_t i = 0; i < t.n; i++) {
        const tev *e = &t.ev[i];
        if (e->code != WEFT_EV_HEAP || e->arg[0] != WEFT_HEAP_MALLOC || e->ns < m[0] || e->ns > m[1])
            continue;
        if (!n++)
            first = e->arg[1];
        last = e->arg[1];
    }
    uint64_t ms = field(out, "ramp_ms=");
    cr_expect_geq(n, ms / 2, "%zu heap samples over %" PRIu64 " ms of growth", n, ms);
    cr_expect_gt(last, first + field(out, "blocks=") * 50, "the heap went from %" PRIu64 " to %" PRIu64, first, last);
    tu_free(&t);
    free(out);
}

/* ---- the malloc family -------------------------------------------------------------- */

Test(record, with_every_call_timed_each_malloc_and_free_is_one_pause)
{
    const char *path = tu_path("reentrant");
    /* Every call timed and every timed call recorded: the recorder's own
     * allocations meanwhile (registering the thread, interning names) come
     * back into malloc and must be passed through, not recorded. */
    char *env[] = {envvar("WEFT_ALLOC_SAMPLE", "1"), envvar("WEFT_ALLOC_PAUSE_US", "0"), NULL};
    char *out = record_plain("reentrant", path, env);
    trace t;
    cr_assert_eq(tu_load(path, &t), WV_OK, "%s", t.msg);
    cr_assert_eq(t.end.dropped, 0);
    uint64_t tid = field(out, "alloc_tid="), usable = field(out, "alloc_usable=");
    uint64_t fn = field(out, "alloc_fn="), pairs = field(out, "pairs=");
    size_t mallocs = 0, frees = 0;
    for (size_t i = 0; i < t.n; i++) {
        const tev *e = &t.ev[i];
        if (e->code != WEFT_EV_ALLOC_PAUSE || e->tid != tid)
            continue;
        bool in_loop = e->arg[3] > fn && e->arg[3] < fn + SITE_SPAN;
        if (e->arg[0] == WEFT_ALLOC_MALLOC && e->arg[1] == 777) {
            mallocs++;
            cr_expect(in_loop, "malloc site %#" PRIx64 ", loop at %#" PRIx64, e->arg[3], fn);
        } else if (e->arg[0] == WEFT_ALLOC_FREE && e->arg[1] == usable) {
            frees++;
            cr_expect(in_loop, "free site %#" PRIx64 ", loop at %#" PRIx64, e->arg[3], fn);
        }
    }
    cr_expect_eq(mallocs, pairs);
    cr_expect_eq(frees, pairs);
    tu_free(&t);
    free(out);
}

Test(record, malloc_across_threads_is_race_free_and_never_deadlocks)
{
    const char *path = tu_path("mallocs");
    char *env[] = {envvar("WEFT_ALLOC_SAMPLE", "1"), envvar("WEFT_ALLOC_PAUSE_US", "0"), NULL};
    char *out = record_plain("mallocs", path, env);
    trace t;
    cr_assert_eq(tu_load(path, &t), WV_OK, "%s", t.msg);
    /* 4 workers and 50 brief threads, each recorded from its start. */
    cr_expect_geq(tu_count(&t, WEFT_EV_THREAD_START, 0), 54);
    cr_expect_geq(tu_count(&t, WEFT_EV_ALLOC_PAUSE, 0), 4 * 20000);
    cr_expect_gt(tu_count(&t, WEFT_EV_HEAP, 0), 0);
    tu_free(&t);
    free(out);
}

Test(record, threads_that_exit_leave_their_bytes_counted)
{
    const char *path = tu_path("exits");
    char *out = record_plain("exits", path, NULL);
    trace t;
    cr_assert_eq(tu_load(path, &t), WV_OK, "%s", t.msg);
    uint64_t leavers = field(out, "leavers=");
    cr_expect_eq(tu_count(&t, WEFT_EV_THREAD_EXIT, 0), leavers);
    expect_heap(&t, out, MIB);
    tu_free(&t);
    free(out);
}

/* ---- fork ---------------------------------------------------------------------------- */

Test(record, a_forked_child_works_and_is_not_recorded)
{
    const char *path = tu_path("fork");
    char *out = record_plain("fork", path, NULL);
    trace t;
    cr_assert_eq(tu_load(path, &t), WV_OK, "%s", t.msg);
    const char *p = strstr(out, "child_tids=");
    cr_assert_not_null(p, "%s", out);
    long tids[3] = {0, 0, 0};
    int n = sscanf(p, "child_tids=%ld,%ld,%ld", &tids[0], &tids[1], &tids[2]);
    cr_assert(n == 3 || n == 1, "%s", p); /* 1: a TSan build, no threads in the child */
    for (size_t i = 0; i < t.n; i++)
        for (int k = 0; k < n; k++)
            cr_expect_neq(t.ev[i].tid, (uint64_t)tids[k], "an event of the child (tid %ld)", tids[k]);
    /* The parent's two contended locks, before and after the fork. */
    cr_expect_eq(tu_count(&t, WEFT_EV_LOCK_WAIT, 0), 2);
    cr_expect_neq(t.hdr.pid, (uint32_t)tids[0], "the trace is the parent's");
    tu_free(&t);
    free(out);
}

/* ---- a program that links libweft --------------------------------------------------- */

Test(record, a_program_linking_libweft_counts_each_wait_once)
{
    const char *path = tu_path("linked");
    char *prog[] = {LINKEDPROG_BIN, NULL};
    char *out;
    int st = record(path, prog, NULL, &out);
    cr_assert_eq(st, 0, "%s", out);
    cr_assert_null(strstr(out, "Sanitizer"), "%s", out);
    cr_expect(strstr(out, "recording=1"), "the program's weft calls reach the recording copy: %s", out);
    trace t;
    cr_assert_eq(tu_load(path, &t), WV_OK, "%s", t.msg);
    uint64_t rounds = field(out, "rounds="), lock = field(out, "lock="), block = field(out, "block=");
    cr_expect_eq(tu_count(&t, WEFT_EV_LOCK_WAIT, 0), rounds, "one wait per round, not two");
    for (size_t i = 0; i < t.n; i++) {
        const tev *e = &t.ev[i];
        if (e->code != WEFT_EV_LOCK_WAIT)
            continue;
        cr_expect_eq(e->arg[1], lock);
        cr_expect(e->arg[2] > block && e->arg[2] < block + SITE_SPAN, "site %#" PRIx64 ", block at %#" PRIx64,
                  e->arg[2], block);
    }
    cr_expect_eq(tu_count(&t, WEFT_EV_REGION_BEGIN, 0), rounds);
    cr_expect_eq(tu_count(&t, WEFT_EV_REGION_END, 0), rounds);
    tu_free(&t);
    free(out);
}

Test(record, a_program_linking_libweft_statically_is_refused)
{
    char *prog[] = {STATICPROG_BIN, NULL};
    char *out;
    cr_expect_eq(record(tu_path("static"), prog, NULL, &out), 126, "%s", out);
    cr_expect(strstr(out, "weft: this program links libweft statically, and "), "%s", out);
    cr_expect(strstr(out, "libweft-preload.so holds another copy of the recorder: both would record.\n"),
              "%s", out);
    free(out);
}

Test(record, without_the_preload_library_a_linked_program_records_itself)
{
    const char *path = tu_path("linked-alone");
    char *argv[] = {LINKEDPROG_BIN, NULL};
    char *env[] = {envvar("WEFT_OUT", path), NULL};
    char *out;
    cr_assert_eq(tu_run(argv, env, &out), 0, "%s", out);
    trace t;
    cr_assert_eq(tu_load(path, &t), WV_OK, "%s", t.msg);
    cr_expect_eq(tu_count(&t, WEFT_EV_LOCK_WAIT, 0), field(out, "rounds="));
    tu_free(&t);
    free(out);
}
