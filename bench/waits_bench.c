/*
 * waits_bench.c - weft-bench-waits: what the wait wrappers cost on their
 * common paths, each beside the plain call measured in the same run.
 *
 *   mutex    weft_mutex_lock + weft_mutex_unlock, uncontended, while
 *            recording, against pthread_mutex_lock + unlock  (target +5 ns)
 *   rdlock   weft_rwlock_rdlock + weft_rwlock_unlock          (target +5 ns)
 *   wrlock   weft_rwlock_wrlock + weft_rwlock_unlock          (target +5 ns)
 *   sem      weft_sem_post + weft_sem_wait (never blocks)     (target +5 ns)
 *   read     weft_read of 1 byte from /dev/zero against read(): every call is
 *            recorded (two clock reads and one IO event), no target
 *   tcp      a 64-byte round trip over 127.0.0.1 in one thread (write, read,
 *            write, read: four IO events) with weft_read/weft_write against
 *            the plain calls. The kernel's TCP path between two calls is what
 *            a server's is, so this is the per-call cost a server pays; the
 *            /dev/zero read leaves the caches and TLB far warmer. No target.
 *
 * Each run times the plain loop, the wrapped loop while recording and the
 * wrapped loop while not recording back to back, so all three share the
 * same moments of a noisy VM; the figure is the median over the runs of the
 * per-run difference. The trace of every run is read back: a dropped event
 * would flatter the read figure, so drops are printed.
 *
 * Usage: weft-bench-waits [--quick] [--runs N] [--iters N] [--dir DIR]
 */
#define _GNU_SOURCE
#include "bench.h"
#include "weft.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_RUNS 64
#define LOCK_TARGET_NS 5.0

static struct {
    int runs;
    uint64_t iters; /* lock pairs per loop; reads are a tenth */
    const char *dir;
} O = {7, 2000000, "/tmp"};

/* ---- the loops: identical but for the calls ------------------------------ */

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t rwlock = PTHREAD_RWLOCK_INITIALIZER;
static sem_t sem;
static int zero_fd;

#define LOOP(name, body)                                                                            \
    static __attribute__((noinline)) void name(uint64_t n)                                          \
    {                                                                                               \
        for (uint64_t i = 0; i < n; i++) {                                                          \
            body;                                                                                   \
        }                                                                                           \
    }

LOOP(plain_mutex, pthread_mutex_lock(&mutex); pthread_mutex_unlock(&mutex))
LOOP(weft_mutex, weft_mutex_lock(&mutex); weft_mutex_unlock(&mutex))
LOOP(plain_rdlock, pthread_rwlock_rdlock(&rwlock); pthread_rwlock_unlock(&rwlock))
LOOP(weft_rdlock, weft_rwlock_rdlock(&rwlock); weft_rwlock_unlock(&rwlock))
LOOP(plain_wrlock, pthread_rwlock_wrlock(&rwlock); pthread_rwlock_unlock(&rwlock))
LOOP(weft_wrlock, weft_rwlock_wrlock(&rwlock); weft_rwlock_unlock(&rwlock))
LOOP(plain_sem, sem_post(&sem); sem_wait(&sem))
LOOP(weft_sem, weft_sem_post(&sem); weft_sem_wait(&sem))

static char byte;
LOOP(plain_read, bench_sink((uint64_t)read(zero_fd, &byte, 1)))
LOOP(weft_read_loop, bench_sink((uint64_t)weft_read(zero_fd, &byte, 1)))

/* Both ends of one TCP connection over loopback; -1 when it could not be
 * made (the figure is then left out). */
static int tcp_c = -1, tcp_s = -1;
static char msg[64];

static uint64_t tcp_trip_plain(void)
{
    uint64_t n = (uint64_t)write(tcp_c, msg, sizeof msg);
    n += (uint64_t)read(tcp_s, msg, sizeof msg);
    n += (uint64_t)write(tcp_s, msg, sizeof msg);
    return n + (uint64_t)read(tcp_c, msg, sizeof msg);
}

static uint64_t tcp_trip_weft(void)
{
    uint64_t n = (uint64_t)weft_write(tcp_c, msg, sizeof msg);
    n += (uint64_t)weft_read(tcp_s, msg, sizeof msg);
    n += (uint64_t)weft_write(tcp_s, msg, sizeof msg);
    return n + (uint64_t)weft_read(tcp_c, msg, sizeof msg);
}

LOOP(plain_tcp, bench_sink(tcp_trip_plain()))
LOOP(weft_tcp, bench_sink(tcp_trip_weft()))

/* Connects tcp_c to tcp_s over 127.0.0.1, Nagle off as a server sets it.
 * @return 0, or -1 (with the reason printed) and both left -1. */
static int tcp_setup(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int one = 1, l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), s = -1;
    if (l >= 0 && c >= 0 && bind(l, (struct sockaddr *)&a, sizeof a) == 0 && listen(l, 1) == 0 &&
        getsockname(l, (struct sockaddr *)&a, &alen) == 0 &&
        connect(c, (struct sockaddr *)&a, sizeof a) == 0)
        s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    if (l >= 0)
        close(l);
    if (s < 0) {
        perror("weft-bench-waits: loopback TCP connection (the tcp figure is left out)");
        if (c >= 0)
            close(c);
        return -1;
    }
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    tcp_c = c, tcp_s = s;
    return 0;
}

typedef struct figure {
    const char *name;
    void (*plain)(uint64_t);
    void (*wrapped)(uint64_t);
    uint64_t divisor; /* iterations are O.iters / divisor */
    double target;    /* ns over the plain call; 0: none */
    double d_plain[MAX_RUNS], d_rec[MAX_RUNS], d_off[MAX_RUNS];
    uint64_t dropped;
} figure;

static figure figures[] = {
    {"mutex lock+unlock", plain_mutex, weft_mutex, 1, LOCK_TARGET_NS, {0}, {0}, {0}, 0},
    {"rwlock rdlock+unlock", plain_rdlock, weft_rdlock, 1, LOCK_TARGET_NS, {0}, {0}, {0}, 0},
    {"rwlock wrlock+unlock", plain_wrlock, weft_wrlock, 1, LOCK_TARGET_NS, {0}, {0}, {0}, 0},
    {"sem post+wait", plain_sem, weft_sem, 1, LOCK_TARGET_NS, {0}, {0}, {0}, 0},
    {"read 1 byte of /dev/zero", plain_read, weft_read_loop, 10, 0, {0}, {0}, {0}, 0},
    /* last: main() leaves it out when there is no loopback connection */
    {"TCP round trip: 4 calls", plain_tcp, weft_tcp, 100, 0, {0}, {0}, {0}, 0},
};
static size_t nfig = sizeof figures / sizeof figures[0];

static double ns_per_iter(void (*loop)(uint64_t), uint64_t n)
{
    uint64_t t0 = bench_now_ns();
    loop(n);
    return (double)(bench_now_ns() - t0) / (double)n;
}

/* One run of a figure: plain, wrapped while recording, wrapped while not. */
static int run_once(figure *f, int i)
{
    char path[4200], err[512];
    uint64_t n = O.iters / f->divisor ? O.iters / f->divisor : 1;
    snprintf(path, sizeof path, "%s/waits-bench-%d.weft", O.dir, (int)getpid());
    f->plain(n / 10 + 1); /* warm: caches, branch predictors, lazy binding */
    f->d_plain[i] = ns_per_iter(f->plain, n);
    if (bench_record_start(path, 0, err, sizeof err) != 0) {
        fprintf(stderr, "weft-bench-waits: %s\n", err);
        return -1;
    }
    f->wrapped(n / 10 + 1); /* and this thread registers outside the timing */
    f->d_rec[i] = ns_per_iter(f->wrapped, n);
    bench_trace tr;
    int rc = bench_record_finish(path, &tr, err, sizeof err);
    unlink(path);
    if (rc != 0) {
        fprintf(stderr, "weft-bench-waits: %s\n", err);
        return -1;
    }
    f->dropped += tr.dropped;
    f->d_off[i] = ns_per_iter(f->wrapped, n);
    return 0;
}

static void print_runs(const char *label, const double *v)
{
    printf("    %-26s", label);
    for (int i = 0; i < O.runs; i++)
        printf(" %6.2f", v[i]);
    printf(" ns\n");
}

static double median_of(const double *v)
{
    double c[MAX_RUNS];
    memcpy(c, v, sizeof c);
    return bench_median(c, O.runs);
}

/* Medians, the per-run differences, and the results row. */
static void report(figure *f)
{
    double diff[MAX_RUNS];
    for (int i = 0; i < O.runs; i++)
        diff[i] = f->d_rec[i] - f->d_plain[i];
    double plain = median_of(f->d_plain), rec = median_of(f->d_rec), off = median_of(f->d_off);
    double extra = median_of(diff);
    printf("  %s\n", f->name);
    print_runs("plain call", f->d_plain);
    print_runs("wrapper, recording", f->d_rec);
    print_runs("wrapper, not recording", f->d_off);
    if (f->dropped)
        printf("    %lu events dropped: the read figure is flattered\n", (unsigned long)f->dropped);
    char target[64];
    if (f->target > 0)
        snprintf(target, sizeof target, "<= %+.0f ns over plain", f->target);
    else
        snprintf(target, sizeof target, "(reported)");
    const char *verdict = f->target <= 0 ? "n/a" : extra <= f->target ? "PASS" : "MISS";
    bench_row *r = bench_row_add(f->name, target, verdict);
    bench_row_weft(r, "%.2f ns (%+.2f)", rec, extra);
    bench_row_base(r, "plain %.2f ns", plain);
    bench_row_base(r, "wrapper not recording %.2f ns", off);
}

static void *nothing(void *arg) { return arg; }

/* glibc (2.35+) locks a mutex with plain stores while the process has never
 * had a second thread; a recording always has one (the writer), and a
 * program that locks has others. One short-lived thread makes the plain
 * baseline pay what it pays in real programs from the first run on. */
static void leave_single_threaded_mode(void)
{
    pthread_t th;
    if (pthread_create(&th, NULL, nothing, NULL) == 0)
        pthread_join(th, NULL);
}

static int parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0)
            O.runs = 1, O.iters = 20000;
        else if (strcmp(a, "--runs") == 0 && v)
            O.runs = atoi(v), i++;
        else if (strcmp(a, "--iters") == 0 && v)
            O.iters = strtoull(v, NULL, 10), i++;
        else if (strcmp(a, "--dir") == 0 && v)
            O.dir = v, i++;
        else {
            fprintf(stderr, "usage: weft-bench-waits [--quick] [--runs N] [--iters N] [--dir DIR]\n");
            return -1;
        }
    }
    if (O.runs < 1 || O.runs > MAX_RUNS || O.iters < 1) {
        fprintf(stderr, "weft-bench-waits: --runs must be 1..%d and --iters >= 1\n", MAX_RUNS);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (parse_args(argc, argv) != 0)
        return 2;
    zero_fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
    if (zero_fd < 0 || sem_init(&sem, 0, 0) != 0) {
        perror("weft-bench-waits: /dev/zero or sem_init");
        return 1;
    }
    printf("weft-bench-waits: %d run(s) per figure, %lu lock pairs per loop (medians; ns per pair or call)\n",
           O.runs, (unsigned long)O.iters);
    if (tcp_setup() != 0)
        nfig--;
    leave_single_threaded_mode();
    bench_others others;
    bench_others_start(&others);
    /* Run i of every figure before run i+1 of any: a noisy moment of the VM
     * then touches one run of each, not all runs of one. */
    for (int i = 0; i < O.runs; i++)
        for (size_t k = 0; k < nfig; k++)
            if (run_once(&figures[k], i) != 0)
                return 1;
    for (size_t k = 0; k < nfig; k++)
        report(&figures[k]);
    double busy = bench_others_cpus(&others);
    if (busy >= 0)
        printf("other processes kept %.2f CPUs busy meanwhile\n", busy);
    bench_report_print();
    return 0;
}
