/*
 * sched.c - the sampler: a recorder thread, "weft-sampler", that wakes
 * periodically and writes on the system stream (thread index
 * WEFT_SYSTEM_THREAD) what the kernel says about the recorded threads'
 * scheduling, and the malloc-tracking heap counter.
 *
 * Period: WEFT_SAMPLE_US (default 1000 us) while any thread is sampled from
 * schedstat, which only a reading can tell. Rings hold what happened, so
 * with perf alone the period adapts between WEFT_SAMPLE_US and 10 ms to how
 * full the fullest ring was (adapt_period): a wake-up costs ~40 us of CPU on
 * these VMs, and 1000 of them a second took ~2 % of an echo server's
 * throughput. The heap counter keeps its 1 ms cadence through the
 * allocation calls themselves (heap.c).
 *
 * Sources (one per recording, in header byte 10):
 *   PERF       each recorded thread opens, when it registers, its own
 *              context-switch event (perf.c); the sampler drains every ring
 *              each period and writes SCHED{thread, cpu, switch}, and
 *              SCHED_LOST{thread, count} when the kernel found a ring full;
 *   SCHEDSTAT  when perf_event_open is refused at weft_start (or
 *              WEFT_SCHED=schedstat): the sampler reads each thread's
 *              /proc/self/task/TID/schedstat and writes SCHEDSTAT{thread,
 *              run_ns, wait_ns, slices} when a value changed (see
 *              counter_sample for the exact rule);
 *   NONE       WEFT_SCHED=off, or neither is available.
 * Under PERF a thread whose own event is refused (EMFILE, the locked-memory
 * limit for rings, weft's share of file descriptors) is sampled from
 * schedstat instead; a SCHED_FALLBACK diagnostic says so, so the fallback
 * is counted and never silent.
 *
 * Time: the kernel stamps switches with CLOCK_MONOTONIC. Each period takes
 * a fresh clock sample (ticks, monotonic) and converts with the tick rate
 * measured since the recording's first sample. The system stream needs
 * non-decreasing times, so items are sorted and written one period late: a
 * period writes the items older than the moment the PREVIOUS period began
 * reading the rings (its "cut"). By then every switch before that moment is
 * in its ring (a ring read later in a period may hold records older than
 * one read earlier, never older than the cut), and so is the last unchanged
 * counter reading that counter_sample() writes only when the next reading
 * differs.
 *
 * Ownership: a thread's tracking object (sched_obj) is created by the thread
 * and then belongs to the sampler, which alone reads its ring and closes it.
 * The thread keeps only a counted reference so that at exit it can flag the
 * object; the sampler drains an exited thread's ring GONE_PERIODS more times
 * (its last switch-out lands after the flag) and lets go. Whichever of the
 * two drops the last reference frees the object, so neither ever touches
 * freed memory, whatever order exit, stop and a new recording come in.
 *
 * Locks: S.ctl serialises start and stop; S.lock guards the object list and
 * is held by the sampler while it reads rings and schedstat. While holding
 * it the sampler takes no other recorder lock except the string table's
 * (diagnostic names); it takes weft__lock only once, to register itself,
 * before its first period. Nothing holds weft__lock while taking S.lock, so
 * the sampler cannot deadlock with weft__lock. Order: session, S.ctl,
 * S.lock, weft__lock, string table.
 *
 * A period allocates nothing once the item array has grown to its working
 * size (malloc tracking would see it, and a fork racing an allocation is
 * best avoided).
 */
#define _GNU_SOURCE
#include "emit.h"
#include "perf.h"

#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PERIOD_US 1000
#define MIN_PERIOD_US 100
#define MAX_PERIOD_US 1000000
/* 8 data pages hold 1024 switch records (32 bytes each) between two
 * drains: 100000 a second at the longest period. Under the locked-memory
 * limit for rings (perf_event_mlock_kb, then RLIMIT_MEMLOCK: ~240 threads
 * at 8 pages with Debian's defaults) a thread gets fewer, down to one. */
#define RING_PAGES 8
#define RING_PAGES_MIN 1
#define PERF_PERIOD_MAX_NS 10000000ull
#define GONE_PERIODS 2
#define STAT_FAILS_MAX 3   /* consecutive schedstat read errors before giving up */
#define ITEMS_FIRST 1024
#define BUDGET_TEXT "weft's share of RLIMIT_NOFILE is used up"

enum track { TRACK_NONE, TRACK_PERF, TRACK_SCHEDSTAT };

/* A sampled counter written only when it changes (counter_sample). */
struct counter_state {
    bool any;         /* a sample was written */
    bool skipped;     /* the last read equalled the last sample and was not written */
    uint64_t read_q;  /* time of the last read */
    uint64_t v[3];    /* values of the last sample written */
};

typedef struct sched_obj {
    struct sched_obj *next; /* S.list, under S.lock */
    _Atomic int refs;       /* the thread's and the sampler's */
    _Atomic int exited;     /* stored (release) by the thread at exit */
    uint32_t index;
    pid_t tid;
    /* Set by the thread before it publishes the object; the sampler's after. */
    weft_perf_ring perf;
    const char *perf_why;   /* why perf was refused; NULL if it was not */
    uint8_t track;          /* enum track */
    uint8_t reported;       /* the fallback diagnostic is queued */
    uint8_t gone;           /* periods drained since the exit flag was seen */
    uint8_t stat_fails;
    int stat_fd;            /* schedstat kept open within the fd budget, or -1 */
    struct counter_state stat;
    uint64_t lost_pending;  /* records lost here (no memory for items) */
} sched_obj;

/* An event waiting to be written: all sampler events have only uvarint
 * arguments, written in table order from a[]. */
typedef struct item {
    uint64_t q;   /* quantized ticks */
    uint64_t seq; /* insertion order: keeps the sort stable */
    uint64_t a[4];
    uint8_t code;
} item;

static struct {
    pthread_mutex_t ctl;  /* start and stop */
    pthread_mutex_t lock; /* list, gen, accepting */
    sched_obj *list;
    uint32_t gen;
    bool accepting;       /* registrations are taken */
    bool running;         /* a sampler thread exists (under ctl) */
    pthread_t th;
    sem_t wake;
    _Atomic bool stop;
    _Atomic int source;   /* enum weft_sched_source of this recording */
    _Atomic int fds;      /* descriptors held for tracking */
    _Atomic int fd_budget;
    uint64_t period_ns;   /* WEFT_SAMPLE_US */
    uint64_t cur_ns;      /* this period's length (adapt_period) */
    weft_clock_sample s0;
    /* -- sampler thread only -- */
    weft_thread *sys;
    double ticks_per_ns;
    item *items;
    size_t nitems, cap;
    uint64_t seq;
    uint64_t cut; /* the previous period's cut, in quantized ticks */
} S = {.ctl = PTHREAD_MUTEX_INITIALIZER, .lock = PTHREAD_MUTEX_INITIALIZER};

static WEFT__TLS sched_obj *my_obj; /* the calling thread's reference */

/* The defaults: no malloc tracking. libweft-preload.so defines the real
 * ones (heap.c). */
__attribute__((weak)) int weft__heap_poll(uint64_t now, uint64_t period, weft_heap_due *out)
{
    (void)now, (void)period;
    out->n = 0;
    return 0;
}

__attribute__((weak)) void weft__heap_reset(void) {}

/* ---- tracking objects ------------------------------------------------------ */

static void obj_release(sched_obj *o)
{
    if (o && atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) == 1)
        free(o);
}

static void fd_give_back(void) { atomic_fetch_sub_explicit(&S.fds, 1, memory_order_relaxed); }

/* Takes one descriptor from weft's share: a program with many threads must
 * not find its own open() failing because weft holds the descriptors. */
static bool fd_take(void)
{
    int budget = atomic_load_explicit(&S.fd_budget, memory_order_relaxed);
    if (atomic_fetch_add_explicit(&S.fds, 1, memory_order_relaxed) < budget)
        return true;
    fd_give_back();
    return false;
}

/* A quarter of the soft RLIMIT_NOFILE. */
static int fd_budget_now(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 1 << 20;
    rlim_t q = rl.rlim_cur / 4;
    return q > (1 << 20) ? 1 << 20 : (int)q;
}

static void obj_close(sched_obj *o)
{
    if (o->perf.fd >= 0) {
        weft__perf_close(&o->perf);
        fd_give_back();
    }
    if (o->stat_fd >= 0) {
        close(o->stat_fd);
        o->stat_fd = -1;
        fd_give_back();
    }
}

static const char *error_text(int err)
{
    const char *s = strerrordesc_np(err);
    return s ? s : "unknown error";
}

/* On the registering thread: its own context-switch event (pid 0 means the
 * calling thread, which is why the thread opens it and not the sampler). */
static void perf_attach(sched_obj *o)
{
    if (!fd_take()) {
        o->perf_why = BUDGET_TEXT;
        return;
    }
    int rc = weft__perf_open(&o->perf, RING_PAGES);
    /* EPERM or ENOMEM: maybe the locked-memory limit; try smaller rings. */
    for (unsigned pages = RING_PAGES / 2; (rc == -EPERM || rc == -ENOMEM) && pages >= RING_PAGES_MIN;
         pages /= 2)
        rc = weft__perf_open(&o->perf, pages);
    if (rc) {
        fd_give_back();
        o->perf_why = error_text(-rc);
        return;
    }
    o->track = TRACK_PERF;
}

void weft__sched_thread_register(uint32_t gen, uint32_t index, pid_t tid)
{
    obj_release(my_obj); /* from an earlier recording: the sampler let it go */
    my_obj = NULL;
    int source = atomic_load_explicit(&S.source, memory_order_relaxed);
    if (source != WEFT_SCHED_SRC_PERF && source != WEFT_SCHED_SRC_SCHEDSTAT)
        return;
    sched_obj *o = calloc(1, sizeof *o);
    if (!o)
        return; /* the thread runs untracked */
    atomic_init(&o->refs, 2);
    o->index = index;
    o->tid = tid;
    o->perf.fd = o->stat_fd = -1;
    o->track = TRACK_SCHEDSTAT;
    if (source == WEFT_SCHED_SRC_PERF)
        perf_attach(o);
    pthread_mutex_lock(&S.lock);
    bool ok = S.accepting && S.gen == gen;
    if (ok) {
        o->next = S.list;
        S.list = o;
    }
    pthread_mutex_unlock(&S.lock);
    if (!ok) { /* the recording ended meanwhile */
        obj_close(o);
        free(o);
        return;
    }
    my_obj = o;
}

void weft__sched_thread_exit(void)
{
    sched_obj *o = my_obj;
    if (!o)
        return;
    my_obj = NULL;
    atomic_store_explicit(&o->exited, 1, memory_order_release);
    obj_release(o);
}

/* ---- items ----------------------------------------------------------------- */

static bool item_add(uint64_t q, uint8_t code, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
    if (S.nitems == S.cap) {
        size_t cap = S.cap ? S.cap * 2 : ITEMS_FIRST;
        item *n = realloc(S.items, cap * sizeof *n);
        if (!n)
            return false;
        S.items = n, S.cap = cap;
    }
    S.items[S.nitems++] = (item){q, S.seq++, {a0, a1, a2, a3}, code};
    return true;
}

static uint64_t now_q(void) { return weft__raw_ticks() >> weft__tick_shift; }

/* CLOCK_MONOTONIC ns to quantized ticks, from the period's clock sample. */
static uint64_t mono_to_q(uint64_t mono, const weft_clock_sample *cs)
{
    if (!weft__use_tsc) /* ticks are monotonic ns */
        return mono >> weft__tick_shift;
    double d = (double)(int64_t)(mono - cs->mono_ns) * S.ticks_per_ns;
    int64_t raw = (int64_t)cs->ticks + (int64_t)d;
    return raw < 0 ? 0 : (uint64_t)raw >> weft__tick_shift;
}

/* The tick rate over the whole recording so far: more exact every period. */
static void update_rate(const weft_clock_sample *cs)
{
    if (cs->mono_ns > S.s0.mono_ns && cs->ticks > S.s0.ticks)
        S.ticks_per_ns = (double)(cs->ticks - S.s0.ticks) / (double)(cs->mono_ns - S.s0.mono_ns);
}

/* Counters are written only when they change: idle threads would otherwise
 * cost an event each per period. But a reader must still know WHEN a change
 * happened, not just that it happened somewhere in a gap: so before a change
 * that follows unchanged reads, the last unchanged read is written too, at
 * its own time. Every change thus lies within one period after the sample
 * before it, and a flat stretch shows as two equal samples. */
static void counter_sample(struct counter_state *c, uint8_t code, uint64_t a0, const uint64_t v[3],
                           size_t nv)
{
    uint64_t q = now_q();
    if (c->any && memcmp(v, c->v, nv * sizeof *v) == 0) {
        c->skipped = true;
        c->read_q = q;
        return;
    }
    bool ok = !c->skipped || item_add(c->read_q, code, a0, c->v[0], c->v[1], c->v[2]);
    if (ok && item_add(q, code, a0, v[0], nv > 1 ? v[1] : 0, nv > 2 ? v[2] : 0)) {
        memcpy(c->v, v, nv * sizeof *v);
        c->any = true;
        c->skipped = false;
    }
}

static void diag_item(unsigned kind, const char *text, uint32_t index)
{
    uint32_t name = S.sys ? weft__name_copy(S.sys, text) : 0;
    item_add(now_q(), WEFT_EV_DIAG, kind, name, index, 0);
}

/* ---- perf source ------------------------------------------------------------ */

typedef struct drain_ctx {
    sched_obj *o;
    const weft_clock_sample *cs;
} drain_ctx;

static void on_record(void *ctx, const weft_perf_rec *r)
{
    drain_ctx *c = ctx;
    uint64_t q = mono_to_q(r->mono_ns, c->cs);
    bool ok = r->lost ? item_add(q, WEFT_EV_SCHED_LOST, c->o->index, r->count, 0, 0)
                      : item_add(q, WEFT_EV_SCHED, c->o->index, r->cpu, r->sw, 0);
    if (!ok)
        c->o->lost_pending += r->lost ? r->count : 1;
}

static void drain_perf(sched_obj *o, const weft_clock_sample *cs)
{
    drain_ctx c = {o, cs};
    uint64_t bad = 0;
    weft__perf_drain(&o->perf, on_record, &c, &bad);
    o->lost_pending += bad; /* unparseable records are reported as lost */
    if (o->lost_pending &&
        item_add(now_q(), WEFT_EV_SCHED_LOST, o->index, o->lost_pending, 0, 0))
        o->lost_pending = 0;
}

/* ---- schedstat source ----------------------------------------------------------- */

static int stat_open(pid_t tid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* Reads "run_ns wait_ns slices". Keeps the file open within the fd budget
 * (a pread costs a third of open+read+close); beyond it, opens it each
 * time. Returns 0 or a negative errno. */
static int stat_read(sched_obj *o, uint64_t v[3])
{
    int fd = o->stat_fd;
    bool keep = fd >= 0;
    if (fd < 0) {
        keep = fd_take();
        if ((fd = stat_open(o->tid)) < 0) {
            if (keep)
                fd_give_back();
            return fd;
        }
        if (keep)
            o->stat_fd = fd;
    }
    char buf[128];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    int err = n < 0 ? -errno : 0;
    if (!keep)
        close(fd);
    if (err)
        return err;
    buf[n] = 0;
    char *p = buf, *end;
    for (int i = 0; i < 3; i++, p = end) {
        v[i] = strtoull(p, &end, 10);
        if (end == p)
            return -EPROTO; /* not the format this was written for */
    }
    return 0;
}

static void sample_stat(sched_obj *o)
{
    uint64_t v[3];
    int rc = stat_read(o, v);
    if (rc) {
        bool gone = atomic_load_explicit(&o->exited, memory_order_acquire) || rc == -ENOENT ||
                    rc == -ESRCH;
        if (gone) /* the thread has exited: not an error */
            o->track = TRACK_NONE;
        else if (++o->stat_fails >= STAT_FAILS_MAX) {
            o->track = TRACK_NONE;
            diag_item(WEFT_DIAG_SCHED_UNAVAILABLE, error_text(-rc), o->index);
        }
        return;
    }
    o->stat_fails = 0;
    counter_sample(&o->stat, WEFT_EV_SCHEDSTAT, o->index, v, 3);
}

/* ---- one period -------------------------------------------------------------- */

/* The heap counter's reading, and the period at which allocation calls
 * take the next ones, in raw ticks (0 until the tick rate is known). */
static void sample_heap(void)
{
    double per_ns = weft__use_tsc ? S.ticks_per_ns : 1.0;
    weft_heap_due d;
    if (!weft__heap_poll(weft__raw_ticks(), (uint64_t)((double)S.period_ns * per_ns), &d))
        return;
    for (unsigned i = 0; i < d.n; i++)
        item_add(d.raw[i] >> weft__tick_shift, WEFT_EV_HEAP, WEFT_HEAP_MALLOC, d.bytes[i], 0, 0);
}

/* Lets go of the objects of exited threads once their rings had time to
 * receive the last switch-out; of all objects on the final period. */
static void reap(bool final)
{
    for (sched_obj **pp = &S.list; *pp;) {
        sched_obj *o = *pp;
        bool exited = atomic_load_explicit(&o->exited, memory_order_acquire);
        if (final || (exited && ++o->gone > GONE_PERIODS)) {
            *pp = o->next;
            obj_close(o);
            obj_release(o);
            continue;
        }
        pp = &o->next;
    }
}

static bool item_before(const item *x, const item *y)
{
    return x->q < y->q || (x->q == y->q && x->seq < y->seq);
}

static void sift_down(item *a, size_t i, size_t n)
{
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            return;
        if (c + 1 < n && item_before(&a[c], &a[c + 1]))
            c++;
        if (!item_before(&a[i], &a[c]))
            return;
        item t = a[i];
        a[i] = a[c], a[c] = t;
        i = c;
    }
}

/* Heap sort by (time, insertion order), in place. Not qsort: glibc's qsort
 * mallocs a buffer for arrays over 1 KiB, and the sampler must not allocate
 * every period (a fork while it holds an allocator lock leaves the child's
 * allocator locked under some sanitizers' runtimes, and malloc tracking
 * would see it anyway). */
static void sort_items(item *a, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_down(a, i, n);
    for (size_t end = n; end > 1; end--) {
        item t = a[0];
        a[0] = a[end - 1], a[end - 1] = t;
        sift_down(a, 0, end - 1);
    }
}

static void write_item(weft_thread *t, const item *it)
{
    uint8_t *p = ev_open_at(t, it->code, WEFT_EVENT_MAX, it->q);
    if (!p)
        return; /* counted as a drop of the system stream */
    for (unsigned i = 0; i < weft_event_specs[it->code].nargs; i++)
        p = weft_put_uvarint(p, it->a[i]);
    ev_close(t, p);
}

/* Writes the items up to `cut` in time order and keeps the rest. */
static void emit(uint64_t cut)
{
    if (!S.nitems) /* S.items may be NULL: no memmove on it */
        return;
    sort_items(S.items, S.nitems);
    size_t k = 0;
    while (k < S.nitems && S.items[k].q <= cut)
        k++;
    if (S.sys)
        for (size_t i = 0; i < k; i++)
            write_item(S.sys, &S.items[i]);
    memmove(S.items, S.items + k, (S.nitems - k) * sizeof *S.items);
    S.nitems -= k;
}

/* The next period's length: WEFT_SAMPLE_US while schedstat is read; with
 * rings only, twice as long while the fullest was under 1/8 full (up to
 * PERF_PERIOD_MAX_NS), a quarter as long once one was over half full. A
 * burst that fills a ring within one period loses records, which are
 * counted (SCHED_LOST), never silently. */
static void adapt_period(bool stat_read, double fill)
{
    uint64_t lo = S.period_ns, hi = lo > PERF_PERIOD_MAX_NS ? lo : PERF_PERIOD_MAX_NS;
    if (stat_read)
        S.cur_ns = lo;
    else if (fill > 0.5)
        S.cur_ns = S.cur_ns / 4 > lo ? S.cur_ns / 4 : lo;
    else if (fill < 0.125)
        S.cur_ns = S.cur_ns * 2 < hi ? S.cur_ns * 2 : hi;
}

static void sample_period(bool final)
{
    sample_heap(); /* outside S.lock: the preload library's lock is its own */
    pthread_mutex_lock(&S.lock);
    bool stat_read = false;
    for (sched_obj *o = S.list; o; o = o->next) {
        if (o->perf_why && !o->reported) {
            diag_item(WEFT_DIAG_SCHED_FALLBACK, o->perf_why, o->index);
            o->reported = 1;
        }
        if (o->track == TRACK_SCHEDSTAT) {
            sample_stat(o);
            stat_read = true;
        }
    }
    uint64_t cut_mono = weft__mono_ns();
    weft_clock_sample cs = weft__clock_sample();
    update_rate(&cs);
    double fill = 0;
    for (sched_obj *o = S.list; o; o = o->next)
        if (o->track == TRACK_PERF) {
            double f = weft__perf_fill(&o->perf);
            fill = f > fill ? f : fill;
            drain_perf(o, &cs);
        }
    reap(final);
    pthread_mutex_unlock(&S.lock);
    emit(final ? UINT64_MAX : S.cut);
    S.cut = mono_to_q(cut_mono, &cs);
    adapt_period(stat_read, fill);
}

/* ---- the sampler thread ---------------------------------------------------------- */

static void deadline_add(struct timespec *ts, uint64_t ns)
{
    ns += (uint64_t)ts->tv_nsec;
    ts->tv_sec += (time_t)(ns / 1000000000u);
    ts->tv_nsec = (long)(ns % 1000000000u);
}

/* Sleeps to the next period boundary (absolute, so the period does not
 * drift by the work done) unless stopped first. After falling behind it
 * restarts from now instead of catching up with a burst. */
static void wait_period(struct timespec *next)
{
    deadline_add(next, S.cur_ns);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec > next->tv_sec || (now.tv_sec == next->tv_sec && now.tv_nsec > next->tv_nsec)) {
        *next = now;
        deadline_add(next, S.cur_ns);
    }
    while (sem_clockwait(&S.wake, CLOCK_MONOTONIC, next) != 0 && errno == EINTR &&
           !atomic_load(&S.stop))
        ;
}

/* Nothing to sample: no scheduling source and no malloc tracking. */
static bool idle_recording(void)
{
    weft_heap_due d;
    bool idle = atomic_load_explicit(&S.source, memory_order_relaxed) == WEFT_SCHED_SRC_NONE &&
                !weft__heap_poll(0, 0, &d);
    weft__heap_reset(); /* that probe was no sample */
    return idle;
}

static void *sampler_main(void *arg)
{
    (void)arg;
    weft__in_recorder = 1;
    weft__thread_set_name("weft-sampler");
    S.sys = weft__thread_register_system(S.gen); /* NULL: out of memory; items are dropped */
    bool idle = idle_recording();
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!atomic_load(&S.stop)) {
        if (idle) {
            while (sem_wait(&S.wake) != 0 && errno == EINTR)
                ;
            continue;
        }
        wait_period(&next);
        if (!atomic_load(&S.stop))
            sample_period(false);
    }
    pthread_mutex_lock(&S.lock);
    S.accepting = false;
    pthread_mutex_unlock(&S.lock);
    sample_period(true);
    weft__heap_reset(); /* allocation calls stop sampling */
    free(S.items);
    S.items = NULL;
    S.nitems = S.cap = 0;
    return NULL;
}

static uint64_t period_from_env(void)
{
    const char *s = getenv("WEFT_SAMPLE_US");
    if (!s || !*s)
        return DEFAULT_PERIOD_US * 1000ull;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || v < MIN_PERIOD_US || v > MAX_PERIOD_US) {
        fprintf(stderr, "weft: WEFT_SAMPLE_US=%s is not a period of %d..%d microseconds; using %d\n", s,
                MIN_PERIOD_US, MAX_PERIOD_US, DEFAULT_PERIOD_US);
        return DEFAULT_PERIOD_US * 1000ull;
    }
    return v * 1000ull;
}

/* ---- choosing the source ----------------------------------------------------------- */

static bool perf_works(void)
{
    weft_perf_ring r;
    if (weft__perf_open(&r, RING_PAGES_MIN) != 0)
        return false;
    weft__perf_close(&r);
    return true;
}

static bool schedstat_works(void)
{
    uint64_t v[3];
    sched_obj probe = {.tid = gettid(), .stat_fd = -1, .perf = {.fd = -1}};
    int rc = stat_read(&probe, v);
    obj_close(&probe);
    return rc == 0;
}

int weft__sched_choose(void)
{
    const char *want = getenv("WEFT_SCHED");
    if (want && strcmp(want, "off") == 0)
        return WEFT_SCHED_SRC_NONE;
    bool stat_only = want && strcmp(want, "schedstat") == 0;
    if (want && *want && !stat_only && strcmp(want, "perf") != 0)
        fprintf(stderr, "weft: WEFT_SCHED=%s is not perf, schedstat or off; using perf\n", want);
    if (!stat_only && perf_works())
        return WEFT_SCHED_SRC_PERF;
    return schedstat_works() ? WEFT_SCHED_SRC_SCHEDSTAT : WEFT_SCHED_SRC_NONE;
}

/* ---- start, stop, fork ---------------------------------------------------------------- */

static pthread_once_t sem_once = PTHREAD_ONCE_INIT;
static void sem_setup(void) { sem_init(&S.wake, 0, 0); }

int weft__sched_start(uint32_t gen, int source, weft_clock_sample start)
{
    pthread_once(&sem_once, sem_setup);
    pthread_mutex_lock(&S.ctl);
    if (S.running) {
        pthread_mutex_unlock(&S.ctl);
        return -EBUSY;
    }
    while (sem_trywait(&S.wake) == 0) /* posts meant for an earlier sampler */
        ;
    S.period_ns = S.cur_ns = period_from_env();
    S.s0 = start;
    S.ticks_per_ns = 0;
    S.sys = NULL;
    S.nitems = 0;
    S.cut = 0;
    atomic_store(&S.stop, false);
    atomic_store(&S.fd_budget, fd_budget_now());
    atomic_store(&S.source, source);
    pthread_mutex_lock(&S.lock);
    S.gen = gen;
    S.accepting = true;
    pthread_mutex_unlock(&S.lock);

    sigset_t all, old; /* the sampler takes none of the program's signals */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&S.th, NULL, sampler_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_mutex_lock(&S.lock);
        S.accepting = false;
        pthread_mutex_unlock(&S.lock);
        pthread_mutex_unlock(&S.ctl);
        return -rc;
    }
    pthread_setname_np(S.th, "weft-sampler");
    S.running = true;
    pthread_mutex_unlock(&S.ctl);
    return 0;
}

void weft__sched_stop(void)
{
    pthread_mutex_lock(&S.ctl);
    if (S.running) {
        atomic_store(&S.stop, true);
        sem_post(&S.wake);
        pthread_join(S.th, NULL);
        S.running = false;
    }
    pthread_mutex_unlock(&S.ctl);
}

void weft__sched_fork_prepare(void)
{
    pthread_mutex_lock(&S.ctl);
    pthread_mutex_lock(&S.lock);
}

void weft__sched_fork_parent(void)
{
    pthread_mutex_unlock(&S.lock);
    pthread_mutex_unlock(&S.ctl);
}

/* The child has no sampler. It closes the descriptors and rings it
 * inherited (they watch the parent's threads) and forgets the sampler's
 * buffers, which the parent's sampler may have been using mid-fork. */
void weft__sched_fork_child(void)
{
    for (sched_obj *o = S.list, *next; o; o = next) {
        next = o->next;
        obj_close(o);
        obj_release(o);
    }
    S.list = NULL;
    S.accepting = false;
    S.running = false;
    S.sys = NULL;
    S.items = NULL;
    S.nitems = S.cap = 0;
    atomic_store(&S.source, WEFT_SCHED_SRC_NONE);
    pthread_mutex_unlock(&S.lock);
    pthread_mutex_unlock(&S.ctl);
}
