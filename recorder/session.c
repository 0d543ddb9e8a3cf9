/*
 * session.c - the life of one recording: weft_start() and weft_stop(), the
 * WEFT_OUT autostart before main(), finishing the file at exit, and fork.
 *
 * A recording is identified by its generation number (weft__gen). Threads
 * compare their state's generation with it on every event, so starting a new
 * recording needs no per-thread work: each thread re-registers lazily.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* In .data, not .bss: beside the other globals every wrapper reads (the
 * clock's, WEFT_REAL's pointers), on one page rather than 64 KiB away past
 * the large zeroed tables (see WEFT__HOT for why pages count). */
__attribute__((section(".data"))) uint32_t weft__gen;
__attribute__((section(".data"))) uint32_t weft__gen_self; /* see internal.h */
uint64_t weft__tick_rate;
uint32_t weft__nchunks;

/* Serialises start/stop/exit/fork; never taken on the event path. */
static pthread_mutex_t session_lock = PTHREAD_MUTEX_INITIALIZER;
static bool active;         /* a writer exists for the current recording */
static uint32_t last_gen;
static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

WEFT__HIDDEN void weft__thread_new_recording(void);
WEFT__HIDDEN void weft__thread_after_fork_child(void);

#define DEFAULT_BUFFER (8u << 20)
#define DEFAULT_SECONDS 5.0

const char *weft_strerror(int err)
{
    if (err == 0)
        return "success";
    if (err > 0)
        return "unknown error";
    const char *s = strerrordesc_np(-err); /* static text, unlike strerror */
    return s ? s : "unknown error";
}

/* ---- exit and fork ----------------------------------------------------------- */

/* Ends the current recording: events stop, the sampler makes its last
 * drain, then the writer its last cycle. Under session_lock. */
static int finish_recording(int reason)
{
    weft__gen_publish(0);
    weft__sched_stop();
    int rc = weft__writer_finish(reason);
    active = false;
    return rc;
}

static void at_exit(void)
{
    pthread_mutex_lock(&session_lock);
    int was = weft__guard_enter();
    if (active)
        finish_recording(WEFT_END_EXIT);
    weft__guard_leave(was);
    pthread_mutex_unlock(&session_lock);
}

/* Lock order: session_lock, the sampler's locks, weft__lock, the string
 * table. Guarded from prepare to parent/child (the guard is per thread, and
 * the child's one thread is the forking one): under the preload library
 * these locks go through the interposers, and a contended weft__lock
 * recorded as a wait would register the thread, which takes weft__lock
 * again. */
static void fork_prepare(void)
{
    weft__in_recorder++;
    pthread_mutex_lock(&session_lock);
    weft__sched_fork_prepare();
    pthread_mutex_lock(&weft__lock);
    weft__strtab_lock();
}

static void fork_parent(void)
{
    weft__strtab_unlock();
    pthread_mutex_unlock(&weft__lock);
    weft__sched_fork_parent();
    pthread_mutex_unlock(&session_lock);
    weft__in_recorder--;
}

/* The child has only the forking thread and no writer: it does not record
 * (the parent's file is the parent's) until it calls weft_start() itself. */
static void fork_child(void)
{
    weft__gen_publish(0);
    weft__writer_forget();
    weft__thread_after_fork_child();
    weft__writer_gen = 0;
    active = false;
    weft__strtab_unlock();
    pthread_mutex_unlock(&weft__lock);
    weft__sched_fork_child();
    pthread_mutex_unlock(&session_lock);
    weft__in_recorder--;
}

static void install_hooks(void)
{
    atexit(at_exit);
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* ---- start and stop ------------------------------------------------------------ */

static int check_cfg(const weft_config *cfg)
{
    if (!cfg)
        return 0;
    if (!isfinite(cfg->seconds) || cfg->seconds < 0)
        return -EINVAL;
    for (size_t i = 0; i < sizeof cfg->reserved / sizeof cfg->reserved[0]; i++)
        if (cfg->reserved[i])
            return -EINVAL;
    return 0;
}

static void resolve_path(const weft_config *cfg, char *out, size_t cap)
{
    const char *p = cfg && cfg->path ? cfg->path : getenv("WEFT_OUT");
    if (p && *p)
        snprintf(out, cap, "%s", p);
    else
        snprintf(out, cap, "weft-%d.weft", (int)getpid());
}

static uint32_t chunks_for(size_t bytes)
{
    if (!bytes)
        bytes = DEFAULT_BUFFER;
    size_t n = (bytes + WEFT_CHUNK_BYTES - 1) / WEFT_CHUNK_BYTES;
    if (n < 2)
        n = 2;
    if (n > 65536)
        n = 65536;
    return (uint32_t)n;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -EIO;
        p += w, n -= (size_t)w;
    }
    return 0;
}

static int write_header(int fd, weft_clock_sample s, uint32_t nchunks, int sched_source)
{
    weft_header h;
    memset(&h, 0, sizeof h);
    h.version = WEFT_FORMAT_VERSION;
    h.clock = weft__use_tsc ? WEFT_CLOCK_TSC : WEFT_CLOCK_MONOTONIC;
    h.tick_shift = (uint8_t)weft__tick_shift;
    h.sched_source = (uint8_t)sched_source;
    h.pid = (uint32_t)getpid();
    h.ticks0 = s.ticks;
    h.mono0_ns = s.mono_ns;
    h.real0_ns = s.real_ns;
    h.ticks_per_sec = weft__ticks_per_sec_estimate();
    __atomic_store_n(&weft__tick_rate, h.ticks_per_sec, __ATOMIC_RELAXED);
    h.chunk_bytes = WEFT_CHUNK_BYTES;
    h.chunks_per_thread = nchunks;
    snprintf(h.program, sizeof h.program, "%s", program_invocation_short_name);
    snprintf(h.weft_version, sizeof h.weft_version, "%s", WEFT_VERSION_STRING);
    uint8_t buf[WEFT_HEADER_MAX];
    return write_all(fd, buf, weft_header_encode(&h, buf));
}

/* Set by autostart() around its weft_start() when WEFT_COMPRESS=defer: that
 * recording, and only that one, stores its blocks uncompressed. */
static bool autostart_store;

/* Opens the file and starts the writer and the sampler; the caller
 * publishes the generation. Under session_lock. */
static int start_recording(const weft_config *cfg, uint32_t gen)
{
    weft__clock_init();
    weft_session_cfg sc;
    sc.store = autostart_store;
    resolve_path(cfg, sc.path, sizeof sc.path);
    sc.seconds = cfg ? cfg->seconds : 0;
    sc.nchunks = chunks_for(cfg ? cfg->buffer_bytes : 0);
    sc.fd = open(sc.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (sc.fd < 0)
        return -errno;
    int source = weft__sched_choose();
    weft_clock_sample start = weft__clock_sample();
    int rc = write_header(sc.fd, start, sc.nchunks, source);
    if (!rc) {
        pthread_mutex_lock(&weft__lock);
        weft__thread_new_recording();
        weft__nchunks = sc.nchunks;
        weft__writer_gen = gen;
        pthread_mutex_unlock(&weft__lock);
        rc = weft__sched_start(gen, source, start);
    }
    if (!rc && (rc = weft__writer_start(&sc, gen, start)) != 0)
        weft__sched_stop();
    if (rc) {
        close(sc.fd);
        unlink(sc.path);
        pthread_mutex_lock(&weft__lock);
        weft__writer_gen = 0;
        pthread_mutex_unlock(&weft__lock);
    }
    return rc;
}

int weft_start(const weft_config *cfg)
{
    int rc = check_cfg(cfg);
    if (rc)
        return rc;
    pthread_once(&hooks_once, install_hooks);
    pthread_mutex_lock(&session_lock);
    int was = weft__guard_enter(); /* the threads it creates are the recorder's */
    if (active && weft__writer_done()) /* window ended: reap that recording */
        finish_recording(WEFT_END_WINDOW);
    if (active) {
        rc = -EBUSY;
    } else {
        uint32_t gen = ++last_gen ? last_gen : ++last_gen; /* 0 means "off" */
        rc = start_recording(cfg, gen);
        if (!rc) {
            active = true;
            if (!weft__tp_self) /* before the constructor ran: preload.c's start */
                weft__tls_init();
            weft__gen_publish(gen);
        }
    }
    weft__guard_leave(was);
    pthread_mutex_unlock(&session_lock);
    return rc;
}

int weft_stop(void)
{
    pthread_mutex_lock(&session_lock);
    if (!active) {
        pthread_mutex_unlock(&session_lock);
        return -ESRCH;
    }
    int was = weft__guard_enter();
    int rc = finish_recording(WEFT_END_STOP);
    weft__guard_leave(was);
    pthread_mutex_unlock(&session_lock);
    return rc;
}

/* ---- WEFT_OUT: recording without a weft_start() call ------------------------------- */

/* Runs before main() in every program linked with libweft: with WEFT_OUT set,
 * records for WEFT_SECONDS (default 5) seconds or until exit - unless another
 * copy of the recorder or another process records (copies.c). */
__attribute__((constructor)) static void autostart(void)
{
    const char *out = getenv("WEFT_OUT");
    if (!out || !*out || !weft__autostart_gate())
        return;
    weft_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.path = out;
    cfg.seconds = DEFAULT_SECONDS;
    const char *secs = getenv("WEFT_SECONDS");
    if (secs && *secs) {
        char *end;
        double v = strtod(secs, &end);
        if (*end || !isfinite(v) || v < 0)
            fprintf(stderr, "weft: WEFT_SECONDS=%s is not a number of seconds; using %g\n", secs,
                    DEFAULT_SECONDS);
        else
            cfg.seconds = v;
    }
    /* `weft record` compresses the file after the program exits (set_env in
     * viewer/record.c): the recording stores its blocks uncompressed. */
    const char *compress = getenv("WEFT_COMPRESS");
    if (compress && *compress && strcmp(compress, "defer") != 0 && strcmp(compress, "now") != 0)
        fprintf(stderr, "weft: WEFT_COMPRESS=%s is not defer or now; compressing now\n", compress);
    autostart_store = compress && strcmp(compress, "defer") == 0;
    int rc = weft_start(&cfg);
    autostart_store = false;
    if (rc)
        fprintf(stderr, "weft: cannot record to %s: %s\n", out, weft_strerror(rc));
}
