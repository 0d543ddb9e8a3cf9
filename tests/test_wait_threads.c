/*
 * test_wait_threads.c - lock and I/O waits between two real threads, checked
 * against what the scenario did: a "holder" thread keeps a "waiter" thread
 * blocked for a known time (it first makes sure the waiter sleeps in the
 * kernel), then lets it through. The recorded wait must last that long, sit
 * on the waiter's thread, name the lock and the call site, and name the
 * holder as the thread that released the waiter - whose LOCK_RELEASE of the
 * same lock comes just before the wait ends.
 *
 * The holder times its hold from the moment it saw the waiter asleep in the
 * kernel to its release, and the waiter times its whole blocking call, so
 * the recorded wait must lie between the two whatever the machine's load
 * (a loaded 2-CPU machine oversleeps by milliseconds, and a woken waiter may
 * wait as long again for a CPU); the holder holds at least the nominal time.
 *
 * The scenarios run in support/recordee.c, so in the ThreadSanitizer build
 * they run instrumented while this uninstrumented runner checks the trace.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "weft.h"

#define MS 1000000LL

typedef struct scenario {
    trace t;
    uint64_t lock, block; /* the lock's and the blocking function's addresses */
    int fd;               /* the pipe's read end */
    int64_t held_ns;      /* the least the waiter waited */
    int64_t blocked_ns;   /* the most: its blocking call, timed around */
    uint32_t holder, waiter; /* thread indexes, from their "role" logs */
} scenario;

static uint64_t field(const char *out, const char *key)
{
    const char *p = strstr(out, key);
    cr_assert_not_null(p, "no %s in the recordee's output:\n%s", key, out);
    return strtoull(p + strlen(key), NULL, 0);
}

static uint32_t role_thread(const trace *t, const char *role)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->ev[i].code == WEFT_EV_LOG && strcmp(t->ev[i].data, role) == 0)
            return t->ev[i].thread;
    cr_assert_fail("no %s thread in the trace", role);
    return 0;
}

static void run(const char *mode, scenario *s)
{
    const char *path = tu_path(mode);
    char *argv[] = {RECORDEE_BIN, (char *)mode, (char *)path, NULL};
    char *out;
    int st = tu_run(argv, NULL, &out);
    cr_assert_eq(st, 0, "recordee %s exited %d:\n%s", mode, st, out);
    cr_assert_null(strstr(out, "ThreadSanitizer"), "%s", out);
    s->lock = field(out, "lock=");
    s->block = field(out, "block=");
    s->fd = (int)field(out, "fd=");
    s->held_ns = (int64_t)field(out, "held_ns=");
    s->blocked_ns = (int64_t)field(out, "blocked_ns=");
    free(out);
    cr_assert_eq(tu_load(path, &s->t), WV_OK, "%s", s->t.msg);
    s->holder = role_thread(&s->t, "holder");
    s->waiter = role_thread(&s->t, "waiter");
    cr_assert_neq(s->holder, s->waiter);
}

/* The one wait of `op` on `lock` (the last one for a condition, where a
 * spurious wake-up may split the wait). */
static const tev *the_wait(const scenario *s, unsigned op)
{
    const tev *w = NULL;
    for (size_t i = 0; i < s->t.n; i++) {
        const tev *e = &s->t.ev[i];
        if (e->code != WEFT_EV_LOCK_WAIT)
            continue;
        cr_expect_eq(e->arg[1], s->lock, "a wait on another lock: %#" PRIx64, e->arg[1]);
        if (e->arg[0] == op)
            w = e;
    }
    cr_assert_not_null(w, "no lock wait of op %u", op);
    return w;
}

/* Slack for converting ticks to ns through the clock samples. */
#define CLOCK_SLACK_NS 50000

/* A recorded duration against the scenario's own timing: at least the hold,
 * at most the blocking call, and within 1 ms of that call (the recorder's
 * part of it is a few clock reads). */
static void expect_duration(const scenario *s, int64_t dur_ns, int ms)
{
    cr_expect_geq(s->held_ns, ms * MS, "the holder held %.3f ms", s->held_ns / 1e6);
    cr_expect(dur_ns >= s->held_ns - CLOCK_SLACK_NS && dur_ns <= s->blocked_ns + CLOCK_SLACK_NS,
              "recorded %.3f ms; the holder held %.3f ms, the call took %.3f ms", dur_ns / 1e6,
              s->held_ns / 1e6, s->blocked_ns / 1e6);
    cr_expect_leq(s->blocked_ns - dur_ns, MS, "recorded %.3f ms of a %.3f ms call", dur_ns / 1e6,
                  s->blocked_ns / 1e6);
}

/* The wait: on the waiter, as long as the holder kept it waiting, called
 * from the blocking function, released by the holder, whose LOCK_RELEASE of
 * the lock falls inside the wait. */
static void expect_wait(const scenario *s, unsigned op, int ms)
{
    const tev *w = the_wait(s, op);
    cr_expect_eq(w->thread, s->waiter);
    expect_duration(s, w->dur_ns, ms);
    cr_expect(w->arg[2] > s->block && w->arg[2] < s->block + 256, "site %#" PRIx64 " is not in the caller at %#" PRIx64,
              w->arg[2], s->block);
    cr_expect_eq(w->arg[4], s->holder, "holder %" PRIu64 ", expected thread %u", w->arg[4], s->holder);
    const tev *rel = NULL;
    for (size_t i = 0; i < s->t.n; i++)
        if (s->t.ev[i].code == WEFT_EV_LOCK_RELEASE && s->t.ev[i].arg[0] == s->lock)
            rel = &s->t.ev[i];
    cr_assert_not_null(rel, "no LOCK_RELEASE of the lock");
    cr_expect_eq(rel->thread, s->holder);
    cr_expect(rel->ns <= w->ns && rel->ns >= w->ns - w->dur_ns, "release at %" PRId64 " ns, wait %" PRId64 "..%" PRId64,
              rel->ns, w->ns - w->dur_ns, w->ns);
}

/* Runs a lock scenario and checks its wait. Only a condition wait may be
 * split by a spurious wake-up; every other scenario waits exactly once (the
 * holder's own lock and every release were uncontended). */
static void lock_scenario(const char *mode, unsigned op)
{
    scenario s;
    run(mode, &s);
    expect_wait(&s, op, 5);
    if (op != WEFT_LOCK_COND)
        cr_expect_eq(tu_count(&s.t, WEFT_EV_LOCK_WAIT, 0), 1);
    tu_free(&s.t);
}

Test(wait_threads, a_mutex_wait_lasts_as_long_as_the_holder_kept_it_and_names_the_holder)
{
    lock_scenario("mutexwait", WEFT_LOCK_MUTEX);
}

Test(wait_threads, a_timed_mutex_lock_that_gets_the_lock_names_the_holder)
{
    lock_scenario("mutextimedwait", WEFT_LOCK_MUTEX_TIMED);
}

Test(wait_threads, a_timed_semaphore_wait_names_the_poster) { lock_scenario("semtimedwait", WEFT_LOCK_SEM_TIMED); }

Test(wait_threads, a_condition_wait_names_the_signaller) { lock_scenario("condwait", WEFT_LOCK_COND); }

Test(wait_threads, a_semaphore_wait_names_the_poster) { lock_scenario("semwait", WEFT_LOCK_SEM); }

Test(wait_threads, a_writer_waiting_for_a_reader_names_the_reader)
{
    lock_scenario("rwwait", WEFT_LOCK_RWLOCK_WR);
}

Test(wait_threads, a_read_on_an_empty_pipe_lasts_until_the_write)
{
    scenario s;
    run("pipewait", &s);
    cr_assert_eq(tu_count(&s.t, WEFT_EV_IO, 0), 1);
    const tev *io = tu_nth(&s.t, WEFT_EV_IO, 0);
    cr_expect_eq(io->thread, s.waiter);
    cr_expect_eq(io->arg[0], WEFT_IO_READ);
    cr_expect_eq((int64_t)io->arg[1], s.fd);
    cr_expect_eq((int64_t)io->arg[2], 3, "bytes read");
    expect_duration(&s, io->dur_ns, 10);
    cr_expect(io->arg[4] > s.block && io->arg[4] < s.block + 256);
    tu_free(&s.t);
}
