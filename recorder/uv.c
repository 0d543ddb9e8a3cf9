/*
 * uv.c - libuv integration: the uv_mutex/rwlock/cond wrappers, and
 * weft_uv_instrument(), which splits each loop iteration into its phases.
 *
 * Loop phases. A prepare handle runs just before the loop polls and a check
 * handle just after, so [prepare, check] is the poll phase and [check,
 * next prepare] the rest (timers, pending and idle callbacks, closes). Inside
 * the poll phase, libuv's idle-time metric (UV_METRICS_IDLE_TIME, measured
 * around epoll_wait itself) says how long the loop was blocked in the kernel:
 * Go's "network wait". The phase begins with that wait; the I/O callbacks
 * take the rest.
 *
 * libuv gives no hook when epoll_wait returns, and the I/O callbacks may
 * write events of their own on this thread, so the POLL_WAIT event cannot be
 * written at the moment the wait ended (event times never go back within a
 * thread). Both poll-phase events are written at the check instead: POLL_IO
 * first ([time - dur, time], as every dur event), then POLL_WAIT, which ends
 * where the POLL_IO just before it began (docs/format.md, "UV_LOOP").
 */
#define _GNU_SOURCE
#include "emit.h"
#include "real.h"
#include "waits.h"

#include <errno.h>
#include <stdlib.h>
#include <uv.h>

/* weft.h takes the pthread types so that it does not need uv.h; that is only
 * sound while libuv's types are those types. */
_Static_assert(__builtin_types_compatible_p(uv_mutex_t, pthread_mutex_t), "uv_mutex_t is pthread_mutex_t");
_Static_assert(__builtin_types_compatible_p(uv_rwlock_t, pthread_rwlock_t), "uv_rwlock_t is pthread_rwlock_t");
_Static_assert(__builtin_types_compatible_p(uv_cond_t, pthread_cond_t), "uv_cond_t is pthread_cond_t");

/* ---- locks: libuv's semantics (abort on error) over the pthread wrappers - */

static void check(int rc)
{
    if (rc)
        abort(); /* what libuv does: its lock calls cannot fail */
}

WEFT__WRAPPER void weft_uv_mutex_lock(pthread_mutex_t *m)
{
    check(weft__mutex_lock_op(m, WEFT_LOCK_UV_MUTEX, WEFT__SITE()));
}

int weft_uv_mutex_trylock(pthread_mutex_t *m)
{
    int rc = WEFT_REAL(pthread_mutex_trylock)(m);
    if (rc == EBUSY || rc == EAGAIN)
        return UV_EBUSY;
    check(rc);
    return 0;
}

WEFT__WRAPPER void weft_uv_mutex_unlock(pthread_mutex_t *m) { check(weft__mutex_unlock_at(m, WEFT__SITE())); }

WEFT__WRAPPER void weft_uv_rwlock_rdlock(pthread_rwlock_t *l)
{
    check(weft__rwlock_rdlock_op(l, WEFT_LOCK_UV_RWLOCK_RD, WEFT__SITE()));
}

WEFT__WRAPPER void weft_uv_rwlock_rdunlock(pthread_rwlock_t *l) { check(weft__rwlock_unlock_at(l, WEFT__SITE())); }

WEFT__WRAPPER void weft_uv_rwlock_wrlock(pthread_rwlock_t *l)
{
    check(weft__rwlock_wrlock_op(l, WEFT_LOCK_UV_RWLOCK_WR, WEFT__SITE()));
}

WEFT__WRAPPER void weft_uv_rwlock_wrunlock(pthread_rwlock_t *l) { check(weft__rwlock_unlock_at(l, WEFT__SITE())); }

WEFT__WRAPPER void weft_uv_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
    check(weft__cond_wait_op(c, m, WEFT_LOCK_UV_COND, WEFT__SITE()));
}

/* uv_cond_init() makes conditions wait on CLOCK_MONOTONIC, and
 * uv_cond_timedwait() takes a relative timeout: the same deadline here. */
WEFT__WRAPPER int weft_uv_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, uint64_t timeout_ns)
{
    uint64_t deadline = uv_hrtime() + timeout_ns;
    struct timespec ts = {(time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u)};
    int rc = weft__cond_timedwait_op(c, m, &ts, WEFT_LOCK_UV_COND_TIMED, WEFT__SITE());
    if (rc == ETIMEDOUT)
        return UV_ETIMEDOUT;
    check(rc);
    return 0;
}

WEFT__WRAPPER void weft_uv_cond_signal(pthread_cond_t *c) { check(weft__cond_signal_at(c, WEFT__SITE())); }

WEFT__WRAPPER void weft_uv_cond_broadcast(pthread_cond_t *c) { check(weft__cond_broadcast_at(c, WEFT__SITE())); }

/* ---- loop phases -------------------------------------------------------- */

/* One instrumented loop. Its state lives in the same allocation as the
 * prepare handle (first, so the handle's address is the block's), the check
 * handle in one of its own: a program that closes every handle with a
 * callback that free()s it - a common shutdown idiom - thus frees exactly
 * what it was given and all weft allocated. */
typedef struct uv_probe {
    uv_loop_t *loop;
    uint64_t prepare_ticks; /* raw ticks at the last prepare */
    uint64_t check_ticks;   /* raw ticks at the last check; 0: none yet */
    uint64_t check_idle;    /* uv_metrics_idle_time() at the last check */
    /* The tick rate, to turn libuv's idle nanoseconds into ticks: measured
     * from instrumentation on, with uv_hrtime() read again only every
     * RATE_TICKS (reading it at every phase cost two clock reads an
     * iteration, ~1 % of the echo sample's throughput with the rest). */
    uint64_t rate_ticks0, rate_hr0, rate_ticks;
    double ticks_per_ns;
} uv_probe;

#define RATE_TICKS (1ull << 24) /* ~5 ms at 3 GHz */
#define RATE_MIN_NS 10000000ull /* the shortest span the probe measures a rate over */

typedef struct uv_probe_prepare {
    uv_prepare_t handle;
    uv_probe probe;
} uv_probe_prepare;

WEFT__HOT static void emit_phase(weft_thread *t, uv_loop_t *loop, unsigned phase, uint64_t q, uint64_t dur)
{
    uint8_t *p = ev_open_at(t, WEFT_EV_UV_LOOP, WEFT_EVENT_MAX, q);
    if (!p)
        return;
    p = weft_put_uvarint(p, (uintptr_t)loop);
    p = weft_put_uvarint(p, phase);
    ev_close(t, weft_put_uvarint(p, dur));
}

/* Before the poll: the loop's other work since the last check ends here.
 * Guarded throughout: libuv's metrics lock and a first registration are the
 * recorder's work, never the program's. */
WEFT__HOT static void on_prepare(uv_prepare_t *h)
{
    uv_probe *pr = h->data;
    int was = weft__guard_enter();
    uint64_t now = weft__raw_ticks();
    weft_thread *t = pr->check_ticks && WEFT__ON() && !was ? weft__thread() : NULL;
    if (t)
        emit_phase(t, pr->loop, WEFT_UV_RUN, now >> weft__tick_shift,
                   (now >> weft__tick_shift) - (pr->check_ticks >> weft__tick_shift));
    pr->prepare_ticks = now;
    weft__guard_leave(was);
}

/* Keeps the probe's tick rate current (see uv_probe). Without the TSC,
 * ticks are nanoseconds. */
static void rate_update(uv_probe *pr, uint64_t now)
{
    if (!weft__use_tsc) {
        pr->ticks_per_ns = 1.0;
        return;
    }
    if (pr->ticks_per_ns && now - pr->rate_ticks < RATE_TICKS)
        return;
    uint64_t hr = uv_hrtime();
    if (hr - pr->rate_hr0 >= RATE_MIN_NS && now > pr->rate_ticks0)
        pr->ticks_per_ns = (double)(now - pr->rate_ticks0) / (double)(hr - pr->rate_hr0);
    else /* too early to measure well: weft_start's estimate */
        pr->ticks_per_ns = (double)__atomic_load_n(&weft__tick_rate, __ATOMIC_RELAXED) / 1e9;
    pr->rate_ticks = now;
}

/* The blocked part of a poll phase of `phase` quantized ticks: libuv's idle
 * nanoseconds in quantized ticks, never more than the phase. 0 until the
 * tick rate is known (the loop's first few milliseconds). */
static uint64_t blocked_ticks(const uv_probe *pr, uint64_t phase, uint64_t idle_ns)
{
    uint64_t q = (uint64_t)((double)idle_ns * pr->ticks_per_ns) >> weft__tick_shift;
    return q < phase ? q : phase;
}

/* After the poll: write the phase's I/O part, then its blocked part. */
WEFT__HOT static void on_check(uv_check_t *h)
{
    uv_probe *pr = h->data;
    int was = weft__guard_enter();
    uint64_t now = weft__raw_ticks();
    /* Nothing polls between a check and the next prepare, so the idle time
     * at this check's prepare is the last check's. */
    uint64_t idle = uv_metrics_idle_time(pr->loop);
    uint64_t idle_ns = idle - pr->check_idle;
    pr->check_idle = idle;
    rate_update(pr, now);
    weft_thread *t = pr->prepare_ticks && WEFT__ON() && !was ? weft__thread() : NULL;
    if (t) {
        uint64_t q = now >> weft__tick_shift;
        uint64_t phase = q - (pr->prepare_ticks >> weft__tick_shift);
        uint64_t wait = blocked_ticks(pr, phase, idle_ns);
        emit_phase(t, pr->loop, WEFT_UV_POLL_IO, q, phase - wait);
        emit_phase(t, pr->loop, WEFT_UV_POLL_WAIT, q, wait);
    }
    pr->check_ticks = now;
    weft__guard_leave(was);
}

int weft_uv_instrument(struct uv_loop_s *loop)
{
    uv_probe_prepare *prep = calloc(1, sizeof *prep);
    uv_check_t *chk = malloc(sizeof *chk);
    int rc = prep && chk ? 0 : UV_ENOMEM;
    if (!rc)
        rc = uv_loop_configure(loop, UV_METRICS_IDLE_TIME);
    if (!rc)
        rc = uv_prepare_init(loop, &prep->handle);
    if (rc) {
        free(prep), free(chk);
        return rc;
    }
    uv_check_init(loop, chk); /* cannot fail: it only links the handle */
    prep->probe.loop = loop;
    prep->probe.check_idle = uv_metrics_idle_time(loop);
    prep->probe.rate_ticks0 = weft__raw_ticks();
    prep->probe.rate_hr0 = uv_hrtime();
    prep->handle.data = chk->data = &prep->probe;
    uv_prepare_start(&prep->handle, on_prepare);
    uv_check_start(chk, on_check);
    uv_unref((uv_handle_t *)&prep->handle); /* never keep the program's loop alive */
    uv_unref((uv_handle_t *)chk);
    return 0;
}
