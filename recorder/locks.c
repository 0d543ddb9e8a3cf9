/*
 * locks.c - lock waits: the pthread mutex, rwlock, condition variable and
 * POSIX semaphore wrappers, and the holder table that names, for each wait,
 * the thread that released the lock to the waiter.
 *
 * Cost model. A lock call tries the lock first (one atomic, like the lock
 * itself) and records nothing when that succeeds; only a thread that really
 * waits pays for timestamps and an event. An unlock reads one word of the
 * holder table: non-zero only while someone waits on a lock that maps to
 * that slot, and only then does the unlocker write its LOCK_RELEASE.
 *
 * The holder table is direct-mapped by lock address. A waiter counts itself
 * in the slot before blocking; a releaser that sees waiters stores (lock,
 * its thread index, now) in the slot, writes LOCK_RELEASE{lock}, then
 * releases; the waiter, once through, reads the slot back. The lock itself
 * orders the releaser's store before the waiter's read. Two locks sharing a
 * slot, or a release racing the waiter's count, at worst cost the holder
 * (recorded as 0, unknown) or an extra LOCK_RELEASE: a release older than the
 * wait, or of another lock, is never reported as the holder.
 */
#define _GNU_SOURCE
#include "emit.h"
#include "real.h"
#include "waits.h"

#include <errno.h>

/* ---- the holder table --------------------------------------------------- */

#define HOLDER_BITS 12
#define HOLDER_SLOTS (1u << HOLDER_BITS)
#define INDEX_BITS 24 /* thread indexes beyond 16 M are recorded as unknown */
#define TAG_MASK ((UINT64_C(1) << (64 - INDEX_BITS)) - 1)

typedef struct holder_slot {
    _Atomic uint64_t owner;   /* lock tag << INDEX_BITS | releaser index */
    _Atomic uint64_t ticks;   /* raw ticks of that release */
    _Atomic uint32_t waiters; /* threads waiting on locks of this slot */
} __attribute__((aligned(32))) holder_slot;

static holder_slot holders[HOLDER_SLOTS];

/* Locks are at least 4-byte aligned, so the low bits carry no information;
 * 40 tag bits of address >> 3 cover 8 TiB, and two locks with the same slot
 * and tag but different high bits cost at most a wrong holder. */
static inline uint64_t tag_of(const void *lock) { return ((uintptr_t)lock >> 3) & TAG_MASK; }

static inline holder_slot *slot_of(const void *lock)
{
    uint64_t h = ((uintptr_t)lock >> 3) * UINT64_C(0x9E3779B97F4A7C15);
    return &holders[h >> (64 - HOLDER_BITS)];
}

/* After fork() the child has only the forking thread, which is not waiting:
 * every count is of a thread that does not exist there, and would make each
 * release of those slots write an event in a child that records. */
static void forget_waiters(void)
{
    for (uint32_t i = 0; i < HOLDER_SLOTS; i++)
        atomic_store_explicit(&holders[i].waiters, 0, memory_order_relaxed);
}

__attribute__((constructor)) static void locks_init(void) { pthread_atfork(NULL, NULL, forget_waiters); }

/* The releaser: record that this thread releases `lock` to a waiter. */
static __attribute__((noinline)) void release_slow(holder_slot *s, const void *lock)
{
    if (!weft__recording())
        return;
    int err = errno, was = weft__guard_enter();
    weft_thread *t = weft__thread();
    if (t) {
        uint64_t now = weft__raw_ticks();
        uint64_t index = t->index < (1u << INDEX_BITS) ? t->index : 0;
        atomic_store_explicit(&s->ticks, now, memory_order_relaxed);
        atomic_store_explicit(&s->owner, tag_of(lock) << INDEX_BITS | index, memory_order_release);
        uint8_t *p = ev_open_at(t, WEFT_EV_LOCK_RELEASE, WEFT_EVENT_MAX, now >> weft__tick_shift);
        if (p)
            ev_close(t, weft_put_uvarint(p, (uintptr_t)lock));
    }
    weft__guard_leave(was);
    errno = err;
}

/* Called before every release (unlock, signal, post, and the unlock inside a
 * condition wait): one load when nobody waits. */
static inline void release_check(const void *lock)
{
    holder_slot *s = slot_of(lock);
    if (UNLIKELY(atomic_load_explicit(&s->waiters, memory_order_seq_cst) != 0))
        release_slow(s, lock);
}

/* One wait in progress: the waiter's slot and when it began. */
typedef struct wait_ctx {
    holder_slot *slot;
    const void *lock;
    uint64_t t0; /* raw ticks */
} wait_ctx;

/* Counts the waiter in before it blocks. Sequentially consistent with the
 * releaser's load, so a release that comes after this count sees it; and the
 * wait's start is read first, so such a release is always stamped later than
 * it (holder_of() ignores earlier ones). */
static inline wait_ctx wait_begin(const void *lock)
{
    wait_ctx w = {slot_of(lock), lock, weft__raw_ticks()};
    atomic_fetch_add_explicit(&w.slot->waiters, 1, memory_order_seq_cst);
    return w;
}

/* The releaser stored in the slot, if it released this lock after the wait
 * began; 0 (unknown) otherwise. */
static uint32_t holder_of(const wait_ctx *w)
{
    uint64_t owner = atomic_load_explicit(&w->slot->owner, memory_order_acquire);
    uint64_t when = atomic_load_explicit(&w->slot->ticks, memory_order_relaxed);
    if (owner >> INDEX_BITS != tag_of(w->lock) || (int64_t)(when - w->t0) < 0)
        return 0;
    return (uint32_t)(owner & ((1u << INDEX_BITS) - 1));
}

static void record_wait(unsigned op, const void *lock, void *site, uint64_t t0, uint64_t t1,
                        uint32_t holder)
{
    if (!weft__recording()) /* the recording stopped during the wait */
        return;
    int err = errno, was = weft__guard_enter();
    weft_thread *t = weft__thread();
    if (t) {
        uint64_t q1 = t1 >> weft__tick_shift;
        uint8_t *p = ev_open_at(t, WEFT_EV_LOCK_WAIT, WEFT_EVENT_MAX, q1);
        if (p) {
            p = weft_put_uvarint(p, op);
            p = weft_put_uvarint(p, (uintptr_t)lock);
            p = weft_put_addr(p, &t->codes.site, (uintptr_t)site);
            p = weft_put_uvarint(p, q1 - (t0 >> weft__tick_shift));
            ev_close(t, weft_put_uvarint(p, holder));
        }
    }
    weft__guard_leave(was);
    errno = err;
}

/* Ends the wait: reads the holder, counts the waiter out and, if the call
 * acquired or waited (`waited`), records the wait as `op` at `site`. */
static void wait_end(wait_ctx *w, unsigned op, void *site, int waited)
{
    uint64_t t1 = weft__raw_ticks();
    uint32_t holder = holder_of(w);
    atomic_fetch_sub_explicit(&w->slot->waiters, 1, memory_order_relaxed);
    if (waited)
        record_wait(op, w->lock, site, w->t0, t1, holder);
}

/* pthread lock calls fail without waiting (EDEADLK, EINVAL...); those are not
 * waits. EOWNERDEAD acquires a robust mutex whose owner died. */
static inline int acquired(int rc) { return rc == 0 || rc == EOWNERDEAD; }

/* ---- mutexes ------------------------------------------------------------ */

static __attribute__((noinline)) int mutex_wait(pthread_mutex_t *m, unsigned op, void *site)
{
    wait_ctx w = wait_begin(m);
    int rc = WEFT_REAL(pthread_mutex_lock)(m);
    wait_end(&w, op, site, acquired(rc));
    return rc;
}

WEFT__HOT int weft__mutex_lock_op(pthread_mutex_t *m, unsigned op, void *site)
{
    if (!weft__recording())
        return WEFT_REAL(pthread_mutex_lock)(m);
    int rc = WEFT_REAL(pthread_mutex_trylock)(m);
    if (LIKELY(rc != EBUSY))
        return rc; /* acquired, or an error the lock call would give too */
    return mutex_wait(m, op, site);
}

WEFT__HOT int weft__mutex_unlock_at(pthread_mutex_t *m, void *site)
{
    release_check(m);
    return WEFT_REAL(pthread_mutex_unlock)(m);
}

/* A timed-out lock call waited until its deadline: recorded too, like a
 * timed-out condition wait (its holder is whoever last released it, if
 * anyone did during the wait). */
static __attribute__((noinline)) int mutex_timedwait(pthread_mutex_t *m, const struct timespec *abstime,
                                                     void *site)
{
    wait_ctx w = wait_begin(m);
    int rc = WEFT_REAL(pthread_mutex_timedlock)(m, abstime);
    wait_end(&w, WEFT_LOCK_MUTEX_TIMED, site, acquired(rc) || rc == ETIMEDOUT);
    return rc;
}

int weft__mutex_timedlock_at(pthread_mutex_t *m, const struct timespec *abstime, void *site)
{
    if (!weft__recording())
        return WEFT_REAL(pthread_mutex_timedlock)(m, abstime);
    int rc = WEFT_REAL(pthread_mutex_trylock)(m);
    if (LIKELY(rc != EBUSY))
        return rc;
    return mutex_timedwait(m, abstime, site);
}

WEFT__WRAPPER int weft_mutex_timedlock(pthread_mutex_t *m, const struct timespec *abstime)
{
    return weft__mutex_timedlock_at(m, abstime, WEFT__SITE());
}

WEFT__WRAPPER int weft_mutex_lock(pthread_mutex_t *m)
{
    return weft__mutex_lock_op(m, WEFT_LOCK_MUTEX, WEFT__SITE());
}

int weft_mutex_trylock(pthread_mutex_t *m) { return WEFT_REAL(pthread_mutex_trylock)(m); }

WEFT__WRAPPER int weft_mutex_unlock(pthread_mutex_t *m) { return weft__mutex_unlock_at(m, WEFT__SITE()); }

/* ---- rwlocks ------------------------------------------------------------ */

static __attribute__((noinline)) int rwlock_wait(pthread_rwlock_t *l, int write, unsigned op, void *site)
{
    wait_ctx w = wait_begin(l);
    int rc = write ? WEFT_REAL(pthread_rwlock_wrlock)(l) : WEFT_REAL(pthread_rwlock_rdlock)(l);
    wait_end(&w, op, site, acquired(rc));
    return rc;
}

/* Inlined into the two calls below with `write` constant, so each keeps one
 * try and one branch on its fast path. */
static inline __attribute__((always_inline)) int rwlock_lock(pthread_rwlock_t *l, int write, unsigned op,
                                                             void *site)
{
    if (!weft__recording())
        return write ? WEFT_REAL(pthread_rwlock_wrlock)(l) : WEFT_REAL(pthread_rwlock_rdlock)(l);
    int rc = write ? WEFT_REAL(pthread_rwlock_trywrlock)(l) : WEFT_REAL(pthread_rwlock_tryrdlock)(l);
    if (LIKELY(rc != EBUSY))
        return rc;
    return rwlock_wait(l, write, op, site);
}

int weft__rwlock_rdlock_op(pthread_rwlock_t *l, unsigned op, void *site) { return rwlock_lock(l, 0, op, site); }

int weft__rwlock_wrlock_op(pthread_rwlock_t *l, unsigned op, void *site) { return rwlock_lock(l, 1, op, site); }

int weft__rwlock_unlock_at(pthread_rwlock_t *l, void *site)
{
    release_check(l);
    return WEFT_REAL(pthread_rwlock_unlock)(l);
}

WEFT__WRAPPER int weft_rwlock_rdlock(pthread_rwlock_t *l)
{
    return weft__rwlock_rdlock_op(l, WEFT_LOCK_RWLOCK_RD, WEFT__SITE());
}

WEFT__WRAPPER int weft_rwlock_wrlock(pthread_rwlock_t *l)
{
    return weft__rwlock_wrlock_op(l, WEFT_LOCK_RWLOCK_WR, WEFT__SITE());
}

WEFT__WRAPPER int weft_rwlock_unlock(pthread_rwlock_t *l) { return weft__rwlock_unlock_at(l, WEFT__SITE()); }

/* ---- condition variables ------------------------------------------------ */
/* A condition wait always blocks, so every call is recorded. The waiter
 * counts itself on the condition's slot (its "holder" is the thread that
 * signalled it); it also releases the mutex, so a thread waiting for that
 * mutex learns who let it in. */

int weft__cond_wait_op(pthread_cond_t *c, pthread_mutex_t *m, unsigned op, void *site)
{
    if (!weft__recording())
        return WEFT_REAL(pthread_cond_wait)(c, m);
    release_check(m);
    wait_ctx w = wait_begin(c);
    int rc = WEFT_REAL(pthread_cond_wait)(c, m);
    wait_end(&w, op, site, rc == 0);
    return rc;
}

/* A timed-out wait is recorded too: the thread was blocked all along. */
int weft__cond_timedwait_op(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *abstime,
                            unsigned op, void *site)
{
    if (!weft__recording())
        return WEFT_REAL(pthread_cond_timedwait)(c, m, abstime);
    release_check(m);
    wait_ctx w = wait_begin(c);
    int rc = WEFT_REAL(pthread_cond_timedwait)(c, m, abstime);
    wait_end(&w, op, site, rc == 0 || rc == ETIMEDOUT);
    return rc;
}

int weft__cond_signal_at(pthread_cond_t *c, void *site)
{
    release_check(c);
    return WEFT_REAL(pthread_cond_signal)(c);
}

int weft__cond_broadcast_at(pthread_cond_t *c, void *site)
{
    release_check(c);
    return WEFT_REAL(pthread_cond_broadcast)(c);
}

WEFT__WRAPPER int weft_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
    return weft__cond_wait_op(c, m, WEFT_LOCK_COND, WEFT__SITE());
}

WEFT__WRAPPER int weft_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *abstime)
{
    return weft__cond_timedwait_op(c, m, abstime, WEFT_LOCK_COND_TIMED, WEFT__SITE());
}

WEFT__WRAPPER int weft_cond_signal(pthread_cond_t *c) { return weft__cond_signal_at(c, WEFT__SITE()); }

WEFT__WRAPPER int weft_cond_broadcast(pthread_cond_t *c) { return weft__cond_broadcast_at(c, WEFT__SITE()); }

/* ---- semaphores --------------------------------------------------------- */

static __attribute__((noinline)) int sem_block(sem_t *s, int err, void *site)
{
    errno = err; /* sem_trywait's EAGAIN is not the caller's errno */
    wait_ctx w = wait_begin(s);
    int rc = WEFT_REAL(sem_wait)(s);
    wait_end(&w, WEFT_LOCK_SEM, site, 1); /* EINTR too: it did block */
    return rc;
}

/* This thread's errno, by address. The semaphore wrappers keep the caller's
 * errno across sem_trywait's EAGAIN; taking its address from a thread-local
 * once per thread, not from __errno_location() through the PLT every call,
 * is ~1 ns of the 5 an uncontended wait may cost (weft-bench-waits). */
static WEFT__TLS int *errno_at;

static inline int *errno_ptr(void)
{
    int *e = errno_at;
    if (UNLIKELY(!e))
        errno_at = e = &errno;
    return e;
}

int weft__sem_wait_at(sem_t *s, void *site)
{
    if (!weft__recording())
        return WEFT_REAL(sem_wait)(s);
    int err = *errno_ptr();
    if (WEFT_REAL(sem_trywait)(s) == 0)
        return 0;
    if (errno != EAGAIN)
        return -1; /* EINVAL: sem_wait would fail the same way */
    return sem_block(s, err, site);
}

static __attribute__((noinline)) int sem_timedblock(sem_t *s, const struct timespec *abstime, int err,
                                                    void *site)
{
    errno = err;
    wait_ctx w = wait_begin(s);
    int rc = WEFT_REAL(sem_timedwait)(s, abstime);
    /* EINTR and ETIMEDOUT too: it did block. EINVAL (a bad deadline) did not. */
    wait_end(&w, WEFT_LOCK_SEM_TIMED, site, rc == 0 || errno != EINVAL);
    return rc;
}

int weft__sem_timedwait_at(sem_t *s, const struct timespec *abstime, void *site)
{
    if (!weft__recording())
        return WEFT_REAL(sem_timedwait)(s, abstime);
    int err = *errno_ptr();
    if (WEFT_REAL(sem_trywait)(s) == 0)
        return 0;
    if (errno != EAGAIN)
        return -1;
    return sem_timedblock(s, abstime, err, site);
}

WEFT__WRAPPER int weft_sem_timedwait(sem_t *s, const struct timespec *abstime)
{
    return weft__sem_timedwait_at(s, abstime, WEFT__SITE());
}

int weft__sem_post_at(sem_t *s, void *site)
{
    release_check(s);
    return WEFT_REAL(sem_post)(s);
}

WEFT__WRAPPER int weft_sem_wait(sem_t *s) { return weft__sem_wait_at(s, WEFT__SITE()); }

WEFT__WRAPPER int weft_sem_post(sem_t *s) { return weft__sem_post_at(s, WEFT__SITE()); }
