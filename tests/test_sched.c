/*
 * test_sched.c - thread scheduling and the thread lifecycle as the recorder
 * sees them: context switches from perf_event_open (or the schedstat
 * fallback), preemption, thread create/start/rename, the per-thread fallback
 * when weft runs out of descriptors, and WEFT_SCHED.
 *
 * Each scenario runs in support/recordee.c, instrumented in the
 * ThreadSanitizer build, while this runner checks the trace. Where the
 * machine refuses perf_event_open the recorder falls back to schedstat; the
 * tests then say so on stdout and check the fallback's data instead, so no
 * test passes without checking something.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "weft.h"

/* Runs `recordee MODE PATH` with env entries and requires a clean exit. */
static void run_env(const char *mode, const char *path, char *const env[])
{
    char *argv[] = {RECORDEE_BIN, (char *)mode, (char *)path, NULL};
    char *out;
    int st = tu_run(argv, env, &out);
    cr_assert_eq(st, 0, "recordee %s exited %d:\n%s", mode, st, out);
    cr_assert_null(strstr(out, "ThreadSanitizer"), "%s", out);
    free(out);
}

static void load(const char *path, trace *t)
{
    cr_assert_eq(tu_load(path, t), WV_OK, "%s", t->msg);
}

/* The thread index that logged `message`, and when. */
static uint32_t logged(const trace *t, const char *message, int64_t *ns)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->ev[i].code == WEFT_EV_LOG && strcmp(t->ev[i].data, message) == 0) {
            if (ns)
                *ns = t->ev[i].ns;
            return t->ev[i].thread;
        }
    cr_assert_fail("no log \"%s\" in the trace", message);
    return 0;
}

static bool about(const tev *e, unsigned code, uint32_t thread)
{
    return e->code == code && e->thread == WEFT_SYSTEM_THREAD && e->arg[0] == thread;
}

/* Sampler events come in time order on the system stream. */
static void expect_system_stream_ordered(const trace *t)
{
    int64_t last = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (t->ev[i].thread != WEFT_SYSTEM_THREAD)
            continue;
        cr_assert_geq(t->ev[i].ns, last, "system stream event %zu goes back in time", i);
        last = t->ev[i].ns;
    }
}

/* ---- a 10 ms sleep ---------------------------------------------------------------------- */

/* The sleeper sleeps 10 ms three times between logs "begin" and "end". The
 * property holds for every sleep; a loaded machine can keep the recorder's
 * sampler (or the sleeper's wake-up) waiting through one of them, so where
 * noted the best of the three is checked. */
#define ROUNDS 3

/* The i-th time `message` was logged. */
static int64_t log_time(const trace *t, const char *message, int i)
{
    for (size_t k = 0; k < t->n; k++)
        if (t->ev[k].code == WEFT_EV_LOG && strcmp(t->ev[k].data, message) == 0 && i-- == 0)
            return t->ev[k].ns;
    cr_assert_fail("no log \"%s\" number %d", message, i);
    return 0;
}

/* perf: in each round the sleeper switched out voluntarily and stayed out
 * at least 9.5 ms; the best round is back in within 15 ms (the issue's
 * tolerance for a 10 ms sleep: 9.5-15 ms). */
static int64_t longest_switch_out(const trace *t, uint32_t th, int64_t begin, int64_t end)
{
    int64_t out_ns = -1, best = -1;
    for (size_t i = 0; i < t->n; i++) {
        const tev *e = &t->ev[i];
        if (!about(e, WEFT_EV_SCHED, th))
            continue;
        if (e->arg[2] == WEFT_SWITCH_OUT && e->ns >= begin && e->ns <= end)
            out_ns = e->ns;
        else if (e->arg[2] == WEFT_SWITCH_IN && out_ns >= 0) {
            best = e->ns - out_ns > best ? e->ns - out_ns : best;
            out_ns = -1;
        }
    }
    return best;
}

static void check_sleep_switches(const trace *t, uint32_t th)
{
    int64_t best = INT64_MAX;
    for (int r = 0; r < ROUNDS; r++) {
        int64_t out = longest_switch_out(t, th, log_time(t, "begin", r), log_time(t, "end", r));
        cr_expect_geq(out, 9500000, "round %d: longest voluntary switch-out %.3f ms", r, out / 1e6);
        best = out >= 9500000 && out < best ? out : best;
    }
    cr_expect_leq(best, 15000000, "best round switched out for %.3f ms", best / 1e6);
}

/* schedstat: the longest stretch inside [begin, end] over which the
 * sleeper's on-CPU and run-queue times stayed flat. The recorder writes the
 * last unchanged reading before a change, so a flat stretch shows as two
 * equal samples; its ends are off by a sampling period each. */
static int64_t flat_stretch(const trace *t, uint32_t th, int64_t begin, int64_t end)
{
    const tev *from = NULL;
    int64_t flat = 0;
    for (size_t i = 0; i < t->n; i++) {
        const tev *e = &t->ev[i];
        if (!about(e, WEFT_EV_SCHEDSTAT, th) || e->ns < begin || e->ns > end)
            continue;
        if (from && e->arg[1] == from->arg[1] && e->arg[2] == from->arg[2])
            flat = e->ns - from->ns > flat ? e->ns - from->ns : flat;
        else
            from = e;
    }
    return flat;
}

/* schedstat: across all rounds (last sample before the first "begin" to the
 * first after the last "end") the sleeper ran little while more than 30 ms
 * passed and its wake-ups began timeslices; in the best round its counters
 * stayed flat for 7 ms or more. */
static void check_sleep_schedstat(const trace *t, uint32_t th)
{
    int64_t begin = log_time(t, "begin", 0), end = log_time(t, "end", ROUNDS - 1), best = 0;
    for (int r = 0; r < ROUNDS; r++) {
        int64_t f = flat_stretch(t, th, log_time(t, "begin", r), log_time(t, "end", r));
        best = f > best ? f : best;
    }
    cr_expect_geq(best, 7000000, "on-CPU and run-queue time stayed flat for %.3f ms at best",
                  best / 1e6);
    const tev *before = NULL, *after = NULL;
    for (size_t i = 0; i < t->n; i++) {
        const tev *e = &t->ev[i];
        if (!about(e, WEFT_EV_SCHEDSTAT, th))
            continue;
        if (e->ns <= begin)
            before = e;
        else if (e->ns >= end && !after)
            after = e;
    }
    cr_assert_not_null(before, "no schedstat sample of the sleeper before the sleeps");
    cr_assert_not_null(after, "no schedstat sample of the sleeper after the sleeps");
    int64_t wall = after->ns - before->ns;
    int64_t run = (int64_t)(after->arg[1] - before->arg[1]);
    cr_expect_geq(wall, ROUNDS * 10000000, "wall %.3f ms", wall / 1e6);
    cr_expect_lt(run, wall / 2, "on CPU %.3f ms of %.3f ms of sleeping", run / 1e6, wall / 1e6);
    cr_expect_geq(after->arg[2], before->arg[2], "run-queue time never decreases");
    cr_expect_geq(after->arg[3], before->arg[3] + ROUNDS, "each wake-up starts a timeslice");
}

/* `forced`: WEFT_SCHED=schedstat asked for the fallback. */
static void check_sleep(const char *path, bool forced)
{
    trace t;
    load(path, &t);
    uint32_t th = logged(&t, "begin", NULL);
    cr_assert_eq(logged(&t, "end", NULL), th);
    expect_system_stream_ordered(&t);
    if (t.hdr.sched_source == WEFT_SCHED_SRC_PERF) {
        check_sleep_switches(&t, th);
    } else {
        cr_assert_eq(t.hdr.sched_source, WEFT_SCHED_SRC_SCHEDSTAT, "no scheduling source at all");
        if (!forced)
            printf("test_sched: perf_event_open is refused here; checking the schedstat fallback\n");
        check_sleep_schedstat(&t, th);
    }
    tu_free(&t);
}

Test(sched, a_10ms_sleep_is_a_voluntary_switch_out_for_about_10ms)
{
    const char *path = tu_path("sleep");
    run_env("sleep", path, NULL);
    check_sleep(path, false);
}

Test(sched, weft_sched_schedstat_records_the_source_and_samples)
{
    const char *path = tu_path("sleep-stat");
    char *env[] = {tu_env("WEFT_SCHED", "schedstat"), NULL};
    run_env("sleep", path, env);
    trace t;
    load(path, &t);
    cr_assert_eq(t.hdr.sched_source, WEFT_SCHED_SRC_SCHEDSTAT);
    cr_expect_eq(tu_count(&t, WEFT_EV_SCHED, 0), 0, "no perf records when schedstat is asked for");
    tu_free(&t);
    check_sleep(path, true);
}

Test(sched, weft_sched_off_records_no_scheduling)
{
    const char *path = tu_path("sleep-off");
    char *env[] = {tu_env("WEFT_SCHED", "off"), NULL};
    run_env("sleep", path, env);
    trace t;
    load(path, &t);
    cr_expect_eq(t.hdr.sched_source, WEFT_SCHED_SRC_NONE);
    cr_expect_eq(tu_count(&t, WEFT_EV_SCHED, 0) + tu_count(&t, WEFT_EV_SCHEDSTAT, 0), 0);
    cr_expect_eq(tu_count(&t, WEFT_EV_LOG, 0), 2 * ROUNDS);
    tu_free(&t);
}

/* ---- preemption ---------------------------------------------------------------------------- */

/* Each spinner was preempted (perf) or waited for a CPU (schedstat). */
static void check_spin(const char *path, bool forced)
{
    trace t;
    load(path, &t);
    expect_system_stream_ordered(&t);
    uint32_t spinners[16];
    size_t n = 0;
    for (size_t i = 0; i < t.n && n < 16; i++)
        if (t.ev[i].code == WEFT_EV_THREAD_NAME && strncmp(t.ev[i].data, "spin-", 5) == 0)
            spinners[n++] = t.ev[i].thread;
    cr_assert_geq(n, 3, "spinners found: %zu", n);
    bool perf = t.hdr.sched_source == WEFT_SCHED_SRC_PERF;
    if (!perf && !forced)
        printf("test_sched: perf_event_open is refused here; checking run-queue waits instead\n");
    for (size_t k = 0; k < n; k++) {
        uint64_t preempted = 0, wait_first = 0, wait_last = 0;
        bool seen = false;
        for (size_t i = 0; i < t.n; i++) {
            const tev *e = &t.ev[i];
            if (about(e, WEFT_EV_SCHED, spinners[k]))
                preempted += e->arg[2] == WEFT_SWITCH_PREEMPTED;
            if (about(e, WEFT_EV_SCHEDSTAT, spinners[k])) {
                wait_first = seen ? wait_first : e->arg[2];
                wait_last = e->arg[2];
                seen = true;
            }
        }
        if (perf)
            cr_expect_gt(preempted, 0, "spinner %u was never preempted", spinners[k]);
        else
            cr_expect_gt(wait_last, wait_first, "spinner %u never waited for a CPU", spinners[k]);
    }
    tu_free(&t);
}

Test(sched, spinning_threads_on_too_few_cpus_are_preempted)
{
    const char *path = tu_path("spin");
    run_env("spin", path, NULL);
    check_spin(path, false);
}

Test(sched, spinning_threads_wait_for_a_cpu_in_their_schedstat)
{
    const char *path = tu_path("spin-stat");
    char *env[] = {tu_env("WEFT_SCHED", "schedstat"), NULL};
    run_env("spin", path, env);
    check_spin(path, true);
}

/* ---- the thread lifecycle ---------------------------------------------------------------------- */

/* The first event of a thread's stream (TIME_BASE aside). */
static const tev *first_event(const trace *t, uint32_t th)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->ev[i].thread == th && t->ev[i].code != WEFT_EV_TIME_BASE)
            return &t->ev[i];
    return NULL;
}

Test(sched, a_started_thread_names_its_parent_and_the_create_it_came_from)
{
    const char *path = tu_path("spawn");
    run_env("spawn", path, NULL);
    trace t;
    load(path, &t);
    uint32_t spawner = 0;
    for (size_t i = 0; i < t.n; i++)
        if (t.ev[i].code == WEFT_EV_THREAD_NAME && strcmp(t.ev[i].data, "spawner") == 0)
            spawner = t.ev[i].thread;
    cr_assert_neq(spawner, 0);
    cr_expect_eq(tu_count(&t, WEFT_EV_THREAD_CREATE, 0), 4);
    cr_assert_eq(tu_count(&t, WEFT_EV_THREAD_START, 0), 4);
    uint64_t spawns_seen = 0;
    for (size_t i = 0; i < t.n; i++) {
        const tev *s = &t.ev[i];
        if (s->code != WEFT_EV_THREAD_START)
            continue;
        cr_expect_eq(first_event(&t, s->thread), s, "THREAD_START is thread %u's first event",
                     s->thread);
        const tev *c = NULL; /* the create with the same serial */
        for (size_t k = 0; k < t.n; k++)
            if (t.ev[k].code == WEFT_EV_THREAD_CREATE && t.ev[k].arg[0] == s->arg[1])
                c = &t.ev[k];
        cr_assert_not_null(c, "no THREAD_CREATE for spawn %lu", (unsigned long)s->arg[1]);
        cr_expect_eq(c->thread, s->arg[0], "the create is on the parent's stream");
        cr_expect_leq(c->ns, s->ns);
        cr_expect_eq(tu_count(&t, WEFT_EV_THREAD_EXIT, s->thread), 1);
        spawns_seen |= 1ull << (s->arg[1] & 63);
    }
    /* Three children of the spawner, one grandchild of a child. */
    size_t of_spawner = 0;
    for (size_t i = 0; i < t.n; i++)
        of_spawner += t.ev[i].code == WEFT_EV_THREAD_START && t.ev[i].arg[0] == spawner;
    cr_expect_eq(of_spawner, 3);
    cr_expect_eq(__builtin_popcountll(spawns_seen), 4, "spawn serials are distinct");
    tu_free(&t);
}

Test(sched, a_thread_renamed_by_another_thread_is_announced_under_its_new_name)
{
    const char *path = tu_path("rename");
    run_env("spawn", path, NULL);
    wv_reader *r = wv_reader_open(path);
    wv_event ev;
    uint32_t renamed = 0;
    while (wv_reader_next(r, &ev))
        if (ev.code == WEFT_EV_LOG && ev.data_len == 7 && memcmp(ev.data, "renamed", 7) == 0)
            renamed = ev.thread;
    cr_assert_eq(wv_reader_status(r), WV_OK, "%s", wv_reader_message(r));
    cr_assert_neq(renamed, 0);
    cr_expect_str_eq(wv_reader_thread(r, renamed)->name, "renamed-1");
    wv_reader_close(r);
}

/* ---- running out of descriptors ------------------------------------------------------------------ */

Test(sched, threads_beyond_the_descriptor_share_fall_back_to_schedstat_and_say_so)
{
    const char *path = tu_path("fdlimit");
    run_env("fdlimit", path, NULL);
    trace t;
    load(path, &t);
    if (t.hdr.sched_source != WEFT_SCHED_SRC_PERF) {
        printf("test_sched: perf_event_open is refused here; checking every thread is sampled\n");
        cr_expect_gt(tu_count(&t, WEFT_EV_SCHEDSTAT, 0), 0);
        tu_free(&t);
        return;
    }
    /* RLIMIT_NOFILE 16 leaves weft 4 descriptors: fd-main and 3 workers. */
    cr_assert_eq(tu_count(&t, WEFT_EV_DIAG, 0), 3);
    for (size_t i = 0; i < t.n; i++) {
        const tev *d = &t.ev[i];
        if (d->code != WEFT_EV_DIAG)
            continue;
        cr_expect_eq(d->thread, WEFT_SYSTEM_THREAD);
        cr_expect_eq(d->arg[0], WEFT_DIAG_SCHED_FALLBACK);
        cr_expect_str_eq(d->str[1], "weft's share of RLIMIT_NOFILE is used up");
        size_t stats = 0, switches = 0;
        for (size_t k = 0; k < t.n; k++) {
            stats += about(&t.ev[k], WEFT_EV_SCHEDSTAT, (uint32_t)d->arg[2]);
            switches += about(&t.ev[k], WEFT_EV_SCHED, (uint32_t)d->arg[2]);
        }
        cr_expect_gt(stats, 0, "thread %lu fell back but has no schedstat samples",
                     (unsigned long)d->arg[2]);
        cr_expect_eq(switches, 0);
    }
    tu_free(&t);
}
