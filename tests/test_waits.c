/*
 * test_waits.c - the wait wrappers on one thread: each I/O wrapper records
 * its op, fd and result; sleeps and timed waits last as long as they did;
 * errno survives; what never waits records nothing; collector pauses pair up
 * and misuse is a diagnostic; weft_heap; and weft_uv_instrument() on a real
 * loop. The two-thread cases (holders, pipes) are in test_wait_threads.c.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "testutil.h"
#include "weft.h"

#define MS 1000000LL

static const char *path;

static void start(void)
{
    path = tu_path("waits");
    weft_config cfg = {0};
    cfg.path = path;
    cr_assert_eq(weft_start(&cfg), 0);
}

static void finish(trace *t)
{
    cr_assert_eq(weft_stop(), 0);
    cr_assert_eq(tu_load(path, t), WV_OK, "%s", t->msg);
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- I/O ------------------------------------------------------------------ */

typedef struct io_want {
    unsigned op;
    int fd;
    int64_t result;
} io_want;

static void expect_io(const trace *t, const io_want *want, size_t n)
{
    cr_assert_eq(tu_count(t, WEFT_EV_IO, 0), n);
    for (size_t i = 0; i < n; i++) {
        const tev *e = tu_nth(t, WEFT_EV_IO, i);
        cr_expect_eq(e->arg[0], want[i].op, "call %zu: op %lu, expected %u", i, (unsigned long)e->arg[0],
                     want[i].op);
        cr_expect_eq((int64_t)e->arg[1], want[i].fd, "call %zu: fd", i);
        cr_expect_eq((int64_t)e->arg[2], want[i].result, "call %zu: result %ld, expected %ld", i,
                     (long)e->arg[2], (long)want[i].result);
        cr_expect_neq(e->arg[4], 0, "call %zu: no site", i);
    }
}

static int tmp_file(void)
{
    char name[512];
    snprintf(name, sizeof name, "%s/waits-XXXXXX", WEFT_TEST_TMP);
    int fd = mkstemp(name);
    cr_assert_geq(fd, 0);
    unlink(name);
    return fd;
}

static int listener(struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    socklen_t len = sizeof *addr;
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)addr, sizeof *addr), 0);
    cr_assert_eq(listen(fd, 4), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)addr, &len), 0);
    return fd;
}

Test(waits, every_io_wrapper_records_its_op_fd_and_result)
{
    int p[2], s[2];
    cr_assert_eq(pipe(p), 0);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
    int f = tmp_file(), ep = epoll_create1(0);
    struct sockaddr_in addr;
    int l = listener(&addr), c = socket(AF_INET, SOCK_STREAM, 0);
    char buf[16];
    struct pollfd pfd = {p[0], POLLIN, 0};
    struct epoll_event ev;
    struct timeval tv0 = {0, 0};
    start();
    cr_assert_eq(weft_write(p[1], "hello", 5), 5);
    cr_assert_eq(weft_read(p[0], buf, sizeof buf), 5);
    cr_assert_eq(weft_pwrite(f, "abcd", 4, 10), 4);
    cr_assert_eq(weft_pread(f, buf, 4, 10), 4);
    cr_assert_eq(weft_fsync(f), 0);
    cr_assert_eq(weft_send(s[0], "xy", 2, 0), 2);
    cr_assert_eq(weft_recv(s[1], buf, sizeof buf, 0), 2);
    cr_assert_eq(weft_sendto(s[0], "z", 1, 0, NULL, 0), 1);
    cr_assert_eq(weft_recvfrom(s[1], buf, sizeof buf, 0, NULL, NULL), 1);
    cr_assert_eq(weft_recv(s[1], buf, sizeof buf, MSG_DONTWAIT), -1); /* nothing left */
    cr_assert_eq(weft_connect(c, (struct sockaddr *)&addr, sizeof addr), 0);
    int a = weft_accept(l, NULL, NULL);
    cr_assert_geq(a, 0);
    cr_assert_eq(weft_poll(&pfd, 1, 0), 0);
    cr_assert_eq(weft_epoll_wait(ep, &ev, 1, 0), 0);
    cr_assert_eq(weft_select(0, NULL, NULL, NULL, &tv0), 0);
    trace t;
    finish(&t);
    io_want want[] = {
        {WEFT_IO_WRITE, p[1], 5},      {WEFT_IO_READ, p[0], 5},      {WEFT_IO_PWRITE, f, 4},
        {WEFT_IO_PREAD, f, 4},         {WEFT_IO_FSYNC, f, 0},        {WEFT_IO_SEND, s[0], 2},
        {WEFT_IO_RECV, s[1], 2},       {WEFT_IO_SENDTO, s[0], 1},    {WEFT_IO_RECVFROM, s[1], 1},
        {WEFT_IO_RECV, s[1], -EAGAIN}, {WEFT_IO_CONNECT, c, 0},      {WEFT_IO_ACCEPT, l, a},
        {WEFT_IO_POLL, p[0], 0},       {WEFT_IO_EPOLL_WAIT, ep, 0}, {WEFT_IO_SELECT, -1, 0},
    };
    expect_io(&t, want, sizeof want / sizeof want[0]);
    tu_free(&t);
}

Test(waits, errno_survives_recording_and_a_failure_records_minus_errno)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    start();
    char buf[4];
    /* The first call of a thread registers it (mmap, calloc...): a call
     * that succeeds must still leave errno as the caller set it. */
    errno = 4242;
    cr_expect_eq(weft_write(p[1], "x", 1), 1);
    cr_expect_eq(errno, 4242);
    errno = 0;
    cr_expect_eq(weft_read(-1, buf, sizeof buf), -1);
    cr_expect_eq(errno, EBADF);
    errno = 4343;
    cr_expect_eq(weft_read(p[0], buf, sizeof buf), 1);
    cr_expect_eq(errno, 4343);
    trace t;
    finish(&t);
    io_want want[] = {{WEFT_IO_WRITE, p[1], 1}, {WEFT_IO_READ, -1, -EBADF}, {WEFT_IO_READ, p[0], 1}};
    expect_io(&t, want, 3);
    tu_free(&t);
}

/* A sleep's recorded duration: at least what was asked, at most the call as
 * timed around it. */
Test(waits, sleeps_are_recorded_as_sleeps_as_long_as_they_slept)
{
    start();
    int64_t t0 = mono_ns();
    cr_assert_eq(weft_usleep(2000), 0);
    int64_t t1 = mono_ns();
    struct timespec ts = {0, 3 * MS};
    cr_assert_eq(weft_nanosleep(&ts, NULL), 0);
    int64_t t2 = mono_ns();
    trace t;
    finish(&t);
    io_want want[] = {{WEFT_IO_USLEEP, -1, 0}, {WEFT_IO_NANOSLEEP, -1, 0}};
    expect_io(&t, want, 2);
    const tev *u = tu_nth(&t, WEFT_EV_IO, 0), *n = tu_nth(&t, WEFT_EV_IO, 1);
    cr_expect(u->dur_ns >= 2 * MS && u->dur_ns <= t1 - t0 + 50000, "usleep %.3f ms of %.3f", u->dur_ns / 1e6,
              (t1 - t0) / 1e6);
    cr_expect(n->dur_ns >= 3 * MS && n->dur_ns <= t2 - t1 + 50000, "nanosleep %.3f ms of %.3f", n->dur_ns / 1e6,
              (t2 - t1) / 1e6);
    tu_free(&t);
}

Test(waits, nothing_is_recorded_while_not_recording)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    start();
    weft_stop();
    char c;
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    cr_expect_eq(weft_write(p[1], "x", 1), 1);
    cr_expect_eq(weft_read(p[0], &c, 1), 1);
    cr_expect_eq(weft_mutex_lock(&m), 0);
    cr_expect_eq(weft_mutex_unlock(&m), 0);
    weft_gc_begin("x");
    weft_gc_end();
    weft_heap(1);
    trace t;
    cr_assert_eq(tu_load(path, &t), WV_OK);
    cr_expect_eq(tu_user_events(&t), 0);
    tu_free(&t);
}

/* ---- locks that never wait ---------------------------------------------- */

Test(waits, uncontended_locks_and_trylock_record_nothing)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_rwlock_t l = PTHREAD_RWLOCK_INITIALIZER;
    sem_t s;
    sem_init(&s, 0, 0);
    start();
    weft_log(0, "mark", "registered"); /* this thread exists in the trace */
    for (int i = 0; i < 1000; i++) {
        cr_assert_eq(weft_mutex_lock(&m), 0);
        cr_assert_eq(weft_mutex_trylock(&m), EBUSY);
        cr_assert_eq(weft_uv_mutex_trylock(&m), UV_EBUSY);
        cr_assert_eq(weft_mutex_unlock(&m), 0);
        cr_assert_eq(weft_rwlock_rdlock(&l), 0);
        cr_assert_eq(weft_rwlock_rdlock(&l), 0); /* readers share */
        cr_assert_eq(weft_rwlock_unlock(&l), 0);
        cr_assert_eq(weft_rwlock_unlock(&l), 0);
        cr_assert_eq(weft_rwlock_wrlock(&l), 0);
        cr_assert_eq(weft_rwlock_unlock(&l), 0);
        cr_assert_eq(weft_sem_post(&s), 0);
        cr_assert_eq(weft_sem_wait(&s), 0);
        weft_uv_mutex_lock(&m);
        weft_uv_mutex_unlock(&m);
    }
    trace t;
    finish(&t);
    cr_expect_eq(tu_count(&t, WEFT_EV_LOG, 0), 1);
    cr_expect_eq(tu_count(&t, WEFT_EV_LOCK_WAIT, 0), 0);
    cr_expect_eq(tu_count(&t, WEFT_EV_LOCK_RELEASE, 0), 0);
    tu_free(&t);
}

/* ---- fork ------------------------------------------------------------------ */

static pthread_mutex_t fork_mutex = PTHREAD_MUTEX_INITIALIZER;
static atomic_int fork_waiter_tid;

static void *lock_once(void *arg)
{
    atomic_store(&fork_waiter_tid, gettid());
    weft_mutex_lock(&fork_mutex);
    weft_mutex_unlock(&fork_mutex);
    return arg;
}

/* Until the thread sleeps in the kernel (state S in its /proc stat). */
static void until_blocked(int tid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
    for (;;) {
        FILE *f = fopen(path, "r");
        cr_assert_not_null(f);
        buf[fread(buf, 1, sizeof buf - 1, f)] = 0;
        fclose(f);
        const char *paren = strrchr(buf, ')');
        if (paren && paren[2] == 'S')
            return;
        usleep(100);
    }
}

/* A child forked while a thread of the parent waits on a lock must not see
 * that waiter: its own release of the lock writes no LOCK_RELEASE. */
Test(waits, a_forked_child_forgets_the_parents_waiters)
{
    const char *child_path = tu_path("waits-child");
    start();
    weft_mutex_lock(&fork_mutex);
    pthread_t th;
    pthread_create(&th, NULL, lock_once, NULL);
    while (!atomic_load(&fork_waiter_tid))
        usleep(100);
    until_blocked(atomic_load(&fork_waiter_tid));
    pid_t pid = fork();
    if (pid == 0) {
        weft_config cfg = {0};
        cfg.path = child_path;
        int rc = weft_start(&cfg);
        weft_mutex_unlock(&fork_mutex); /* the forking thread owns the child's copy */
        _exit(rc || weft_stop() ? 1 : 0);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    weft_mutex_unlock(&fork_mutex);
    pthread_join(th, NULL);
    trace t, child;
    finish(&t);
    cr_assert_eq(tu_load(child_path, &child), WV_OK, "%s", child.msg);
    cr_expect_eq(tu_count(&child, WEFT_EV_LOCK_RELEASE, 0), 0);
    /* The parent's wait is intact, with the parent's release. */
    cr_expect_eq(tu_count(&t, WEFT_EV_LOCK_WAIT, 0), 1);
    cr_expect_eq(tu_count(&t, WEFT_EV_LOCK_RELEASE, 0), 1);
    tu_free(&child);
    tu_free(&t);
}

/* ---- timed condition waits ---------------------------------------------- */

/* A wait that times out is all waiting, with no holder. pthread conditions
 * default to CLOCK_REALTIME deadlines, libuv's to CLOCK_MONOTONIC: a deadline
 * on the wrong clock would return at once or never. */
Test(waits, timed_out_condition_waits_last_their_timeout)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    uv_mutex_t um;
    uv_cond_t uc;
    cr_assert_eq(uv_mutex_init(&um), 0);
    cr_assert_eq(uv_cond_init(&uc), 0);
    start();
    weft_mutex_lock(&m);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_nsec += 5 * MS;
    if (dl.tv_nsec >= 1000000000)
        dl.tv_sec++, dl.tv_nsec -= 1000000000;
    int64_t t0 = mono_ns();
    cr_expect_eq(weft_cond_timedwait(&c, &m, &dl), ETIMEDOUT);
    int64_t t1 = mono_ns();
    weft_mutex_unlock(&m);
    weft_uv_mutex_lock(&um);
    int64_t t2 = mono_ns();
    cr_expect_eq(weft_uv_cond_timedwait(&uc, &um, 5 * MS), UV_ETIMEDOUT);
    int64_t t3 = mono_ns();
    weft_uv_mutex_unlock(&um);
    trace t;
    finish(&t);
    cr_assert_eq(tu_count(&t, WEFT_EV_LOCK_WAIT, 0), 2);
    const tev *w = tu_nth(&t, WEFT_EV_LOCK_WAIT, 0), *u = tu_nth(&t, WEFT_EV_LOCK_WAIT, 1);
    cr_expect_eq(w->arg[0], WEFT_LOCK_COND_TIMED);
    cr_expect_eq(w->arg[1], (uintptr_t)&c);
    cr_expect_eq(w->arg[4], 0, "a timed-out wait has no holder");
    /* The deadline was set just before the call: a little less than 5 ms. */
    cr_expect(w->dur_ns >= 4 * MS && w->dur_ns <= t1 - t0 + 50000, "%.3f ms of %.3f", w->dur_ns / 1e6,
              (t1 - t0) / 1e6);
    cr_expect_eq(u->arg[0], WEFT_LOCK_UV_COND_TIMED);
    cr_expect_eq(u->arg[1], (uintptr_t)&uc);
    /* >= 4.5 ms, not 5: early in a recording the tick rate is a first
     * estimate, off by up to ~2 % until clock samples refine it (CI saw 4.94). */
    cr_expect(u->dur_ns >= 45 * MS / 10 && u->dur_ns <= t3 - t2 + 50000, "%.3f ms of %.3f", u->dur_ns / 1e6,
              (t3 - t2) / 1e6);
    tu_free(&t);
    uv_cond_destroy(&uc);
    uv_mutex_destroy(&um);
}

/* A timed lock call that times out waited until its deadline: recorded,
 * with its timed op, as long as it blocked; one that gets the lock at once
 * records nothing. The mutex is held by another thread (a mutex's own owner
 * would get EDEADLK or deadlock, depending on its type). */
static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static atomic_int held_stage; /* 1: the other thread holds it; 2: it may let go */

static void *hold_it(void *arg)
{
    pthread_mutex_lock(&held);
    atomic_store(&held_stage, 1);
    while (atomic_load(&held_stage) != 2)
        sched_yield();
    pthread_mutex_unlock(&held);
    return arg;
}

static struct timespec deadline_in_ms(int ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_nsec += ms * MS;
    if (dl.tv_nsec >= 1000000000)
        dl.tv_sec++, dl.tv_nsec -= 1000000000;
    return dl;
}

Test(waits, timed_out_lock_and_semaphore_waits_last_their_timeout)
{
    sem_t sem;
    cr_assert_eq(sem_init(&sem, 0, 1), 0);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, hold_it, NULL), 0);
    while (atomic_load(&held_stage) != 1)
        sched_yield();
    start();
    struct timespec dl = deadline_in_ms(5);
    int64_t t0 = mono_ns();
    cr_expect_eq(weft_mutex_timedlock(&held, &dl), ETIMEDOUT);
    int64_t t1 = mono_ns();
    dl = deadline_in_ms(5);
    cr_expect_eq(weft_sem_timedwait(&sem, &dl), 0, "a free semaphore: no wait");
    dl = deadline_in_ms(5);
    int64_t t2 = mono_ns();
    cr_expect_eq(weft_sem_timedwait(&sem, &dl), -1);
    cr_expect_eq(errno, ETIMEDOUT);
    int64_t t3 = mono_ns();
    trace t;
    finish(&t);
    atomic_store(&held_stage, 2);
    pthread_join(th, NULL);
    sem_destroy(&sem);
    cr_assert_eq(tu_count(&t, WEFT_EV_LOCK_WAIT, 0), 2);
    const tev *m = tu_nth(&t, WEFT_EV_LOCK_WAIT, 0), *s = tu_nth(&t, WEFT_EV_LOCK_WAIT, 1);
    cr_expect_eq(m->arg[0], WEFT_LOCK_MUTEX_TIMED);
    cr_expect_eq(m->arg[1], (uintptr_t)&held);
    cr_expect(m->dur_ns >= 4 * MS && m->dur_ns <= t1 - t0 + 50000, "%.3f ms of %.3f", m->dur_ns / 1e6,
              (t1 - t0) / 1e6);
    cr_expect_eq(s->arg[0], WEFT_LOCK_SEM_TIMED);
    cr_expect_eq(s->arg[1], (uintptr_t)&sem);
    cr_expect_eq(s->arg[4], 0, "a timed-out wait has no holder");
    cr_expect(s->dur_ns >= 4 * MS && s->dur_ns <= t3 - t2 + 50000, "%.3f ms of %.3f", s->dur_ns / 1e6,
              (t3 - t2) / 1e6);
    tu_free(&t);
}

/* ---- collector pauses and the heap --------------------------------------- */

Test(waits, gc_pauses_pair_up_and_misuse_is_a_diagnostic)
{
    start();
    weft_gc_begin("mark");
    weft_gc_end();
    weft_gc_begin(NULL);
    weft_gc_begin("again"); /* nested: ignored, diagnosed */
    weft_gc_end();
    weft_gc_end(); /* no pause open */
    weft_heap(0);
    weft_heap(123456789);
    trace t;
    finish(&t);
    struct {
        unsigned code;
        const char *name;
        uint64_t arg0;
    } want[] = {
        {WEFT_EV_GC_BEGIN, "mark", 0},
        {WEFT_EV_GC_END, NULL, 0},
        {WEFT_EV_GC_BEGIN, "gc", 0},
        {WEFT_EV_DIAG, "again", WEFT_DIAG_GC_NESTED},
        {WEFT_EV_GC_END, NULL, 0},
        {WEFT_EV_DIAG, "", WEFT_DIAG_GC_END_WITHOUT_BEGIN},
        {WEFT_EV_HEAP, NULL, WEFT_HEAP_PROGRAM},
        {WEFT_EV_HEAP, NULL, WEFT_HEAP_PROGRAM},
    };
    size_t k = 0;
    for (size_t i = 0; i < t.n; i++) {
        const tev *e = &t.ev[i];
        if (e->code == WEFT_EV_TIME_BASE || e->thread == WEFT_SYSTEM_THREAD) /* the sampler's */
            continue;
        cr_assert_lt(k, sizeof want / sizeof want[0], "extra event %u", e->code);
        cr_expect_eq(e->code, want[k].code, "event %zu: code %u, expected %u", k, e->code, want[k].code);
        if (e->code == WEFT_EV_GC_BEGIN)
            cr_expect_str_eq(e->str[0], want[k].name);
        if (e->code == WEFT_EV_DIAG) {
            cr_expect_eq(e->arg[0], want[k].arg0);
            cr_expect_str_eq(e->str[1] ? e->str[1] : "", want[k].name);
        }
        if (e->code == WEFT_EV_HEAP)
            cr_expect_eq(e->arg[0], want[k].arg0);
        k++;
    }
    cr_expect_eq(k, sizeof want / sizeof want[0]);
    cr_expect_eq(tu_nth(&t, WEFT_EV_HEAP, 0)->arg[1], 0);
    cr_expect_eq(tu_nth(&t, WEFT_EV_HEAP, 1)->arg[1], 123456789);
    tu_free(&t);
}

/* A pause left open by one recording is not open in the next. */
Test(waits, a_pause_does_not_outlive_its_recording)
{
    start();
    weft_gc_begin("left open");
    weft_stop();
    start();
    weft_gc_end();
    weft_gc_begin("fresh");
    weft_gc_end();
    trace t;
    finish(&t);
    cr_expect_eq(tu_count(&t, WEFT_EV_DIAG, 0), 1);
    cr_expect_eq(tu_nth(&t, WEFT_EV_DIAG, 0)->arg[0], WEFT_DIAG_GC_END_WITHOUT_BEGIN);
    cr_expect_eq(tu_count(&t, WEFT_EV_GC_BEGIN, 0), 1);
    cr_expect_eq(tu_count(&t, WEFT_EV_GC_END, 0), 1);
    tu_free(&t);
}

/* ---- libuv loop phases ---------------------------------------------------- */

static int64_t timer_fired_ns;

static void on_timer(uv_timer_t *timer)
{
    timer_fired_ns = mono_ns();
    uv_close((uv_handle_t *)timer->data, NULL); /* the idle listener */
}

static void on_connection(uv_stream_t *server, int status) {}

/* Closes weft's handles the way many programs close theirs at shutdown,
 * with a callback that frees them: that frees all weft_uv_instrument()
 * allocated (the leak checker of the ASan build says so). */
static void free_handle(uv_handle_t *h) { free(h); }

static void close_all(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, free_handle);
}

/* A loop with an idle listening socket (so it polls) and a 20 ms timer: the
 * first poll blocks until the timer is due, and that is the POLL_WAIT. The
 * loop ends by itself, so weft's handles do not keep it alive. */
Test(waits, a_uv_loop_records_its_poll_wait)
{
    uv_loop_t loop;
    uv_tcp_t server;
    uv_timer_t timer;
    struct sockaddr_in addr;
    cr_assert_eq(uv_loop_init(&loop), 0);
    uv_ip4_addr("127.0.0.1", 0, &addr);
    cr_assert_eq(uv_tcp_init(&loop, &server), 0);
    cr_assert_eq(uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0), 0);
    cr_assert_eq(uv_listen((uv_stream_t *)&server, 4, on_connection), 0);
    cr_assert_eq(uv_timer_init(&loop, &timer), 0);
    timer.data = &server;
    cr_assert_eq(weft_uv_instrument(&loop), 0);
    start();
    uv_update_time(&loop); /* the timer counts from now, not from uv_loop_init */
    int64_t t0 = mono_ns();
    cr_assert_eq(uv_timer_start(&timer, on_timer, 20, 0), 0);
    cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    trace t;
    finish(&t);
    uv_close((uv_handle_t *)&timer, NULL);
    uv_walk(&loop, close_all, NULL); /* what is left: weft's two handles */
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_expect_eq(uv_loop_close(&loop), 0);

    const tev *wait = NULL;
    for (size_t i = 0; i < t.n; i++) {
        const tev *e = &t.ev[i];
        if (e->code != WEFT_EV_UV_LOOP)
            continue;
        cr_expect_eq(e->arg[0], (uintptr_t)&loop);
        if (e->arg[1] == WEFT_UV_POLL_WAIT) {
            /* written right after the iteration's POLL_IO, at the same time */
            cr_assert_gt(i, 0);
            cr_expect_eq(t.ev[i - 1].code, WEFT_EV_UV_LOOP);
            cr_expect_eq(t.ev[i - 1].arg[1], WEFT_UV_POLL_IO);
            cr_expect_eq(t.ev[i - 1].ns, e->ns);
            if (!wait || e->dur_ns > wait->dur_ns)
                wait = e;
        }
    }
    cr_assert_not_null(wait, "no POLL_WAIT");
    /* libuv computes the poll timeout from its millisecond clock, so the
     * wait may end up to a millisecond early; it ends before the timer runs. */
    cr_expect(wait->dur_ns >= 19 * MS && wait->dur_ns <= timer_fired_ns - t0 + 50000,
              "poll wait %.3f ms; the timer fired after %.3f ms", wait->dur_ns / 1e6, (timer_fired_ns - t0) / 1e6);
    cr_expect_geq(tu_count(&t, WEFT_EV_UV_LOOP, 0), 3, "a RUN phase follows the first check");
    tu_free(&t);
}
