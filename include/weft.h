/*
 * weft.h - the whole public API of libweft, an execution-trace recorder for C.
 *
 * A program wraps its work in tasks and regions, adds log events and counters,
 * and records a short window into a compact LZ4-compressed `.weft` file that
 * the `weft` command turns into Chrome trace-event JSON, summaries and a web UI.
 *
 * Conventions (as in libuv): every public name starts with `weft_` or `WEFT_`;
 * names starting with `weft__` are internal and may change between versions.
 * Calls that can fail return 0 or a negative errno value; weft_strerror() turns
 * one into text.
 *
 * Cost: every recording call is an inline load of one global and a branch when
 * nothing is recording (well under 1 ns), and a single out-of-line call that
 * writes a few bytes into a per-thread buffer when recording. No recording call
 * takes a lock, allocates, or performs an atomic read-modify-write on its
 * common path.
 *
 * Names (task types, region types, log categories, counter names): the fast
 * calls recognise a name by its address, the way Tracy and Perfetto treat
 * static names. The contract is:
 *   - the string must be NUL-terminated and must not change while recording
 *     (string literals and other constant strings are the intended use);
 *   - weft copies the text the first time it sees an address, so it never
 *     reads the caller's memory after the call returns;
 *   - a name built at run time (in a reused buffer, say) must go through a
 *     `_copy` variant or weft_intern(), which key by content instead.
 * Log messages are always copied.
 *
 * Misuse never crashes and never corrupts other events: a region ended out of
 * order, on another thread or twice is recorded as a diagnostic that
 * `weft stats` and `weft json` report.
 *
 * Versions: WEFT_VERSION_* give the library version; the file format has its own
 * version, documented in docs/format.md.
 */
#ifndef WEFT_H
#define WEFT_H

#include <stddef.h>
#include <stdint.h>

#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_VERSION_MAJOR 0
#define WEFT_VERSION_MINOR 1
#define WEFT_VERSION_PATCH 0
#define WEFT_VERSION_STRING "0.1.0"

#if defined(_WIN32)
#error "weft records Linux programs only"
#endif
#define WEFT_API __attribute__((visibility("default")))

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

/*! weft_strerror() :
 *  @return a static, human-readable description of a value returned by a weft
 *          call (0 or a negative errno). Never NULL; unknown values give
 *          "unknown error". Thread-safe. */
WEFT_API const char *weft_strerror(int err);

/* ------------------------------------------------------------------------ */
/* Starting and stopping                                                    */
/* ------------------------------------------------------------------------ */

/* A zeroed weft_config means "all defaults". Fields may be added at the end in
 * later versions; always zero-initialise the struct. */
typedef struct weft_config {
    /* Output file. NULL: $WEFT_OUT if set, else "weft-<pid>.weft" in the current
     * directory. The file is created or truncated. */
    const char *path;
    /* Recording window in seconds: the recorder stops by itself this long after
     * weft_start() and finishes the file. 0: record until weft_stop() or exit. */
    double seconds;
    /* The most buffer memory one recording thread may use, in bytes. 0: the
     * default, 8 MiB. Rounded up to whole 64 KiB chunks, at least 2. A thread
     * starts with 256 KiB, allocated and pre-faulted at its first event, and
     * takes another chunk only when it fills its buffer faster than the
     * background writer drains it. Past this limit further events are dropped
     * and counted (the count is in the trace): memory never grows beyond it. */
    size_t buffer_bytes;
    /* Must be zero. */
    uintptr_t reserved[4];
} weft_config;

/*! weft_start() :
 *  Starts recording into a new file. `cfg` may be NULL (all defaults).
 *  Creates the file, writes its header and starts the background writer
 *  thread, which compresses full buffers with LZ4 and flushes everything
 *  recorded at least every 100 ms, so a crash loses little.
 *  The file is finished (end marker written, closed) by weft_stop(), when the
 *  window in cfg->seconds ends, or at process exit, whichever comes first.
 *  @return 0 on success;
 *          -EBUSY if a recording is already running;
 *          -EINVAL if cfg->seconds is negative or not finite, or a reserved
 *            field is non-zero;
 *          a negative errno from open(2) or pthread_create(3) otherwise.
 *  On error nothing is recording and no file is left open (a file that could
 *  be created but not started is removed).
 *  Thread-safe; not async-signal-safe. */
WEFT_API int weft_start(const weft_config *cfg);

/*! weft_stop() :
 *  Stops recording: events after this call are ignored, everything recorded
 *  before it is flushed, the end marker (totals of events written and dropped)
 *  is written and the file is closed. Waits for the background writer.
 *  Also finishes a recording whose window already ended.
 *  @return 0 on success;
 *          -ESRCH if no recording was started since the last weft_stop();
 *          a negative errno if writing the file failed at any point (the file
 *            then holds everything written before the failure).
 *  Thread-safe; must not be called from a signal handler. */
WEFT_API int weft_stop(void);

/*! weft_enabled() :
 *  @return non-zero while a recording is running. Advisory: recording may stop
 *          right after this returns. One relaxed load; async-signal-safe. */
WEFT_API int weft_enabled(void);

/*! weft_thread_name() :
 *  Names the calling thread in the trace (the pthread name is used until
 *  then). The text is copied; at most 63 bytes are kept. NULL is ignored.
 *  May be called before weft_start(): the name is remembered for this thread.
 *  Thread-safe (acts on the calling thread only). */
WEFT_API void weft_thread_name(const char *name);

/*! weft_intern() :
 *  Returns a pointer to weft's own copy of `s`, which stays valid and unchanged
 *  until the process exits, so it may be passed as a name to any call that keys
 *  names by address. Equal strings give the same pointer. Use it for names
 *  built at run time that recur, e.g. one per request kind.
 *  @return the interned copy; `s` itself if it is NULL or if weft's string
 *          table is full (64 Ki names or 16 MiB; recorded as a diagnostic),
 *          in which case the name shows as "<string table full>".
 *  Thread-safe (takes a lock: not for the hot path). */
WEFT_API const char *weft_intern(const char *s);

/* ------------------------------------------------------------------------ */
/* Tasks: logical operations that may span threads (Go's trace.NewTask)     */
/* ------------------------------------------------------------------------ */

/* A task id. 0 is the background task, which every thread is always in. */
typedef uint64_t weft_task;

/* Internal: the recording generation. Non-zero exactly while recording; the
 * inline wrappers below test it with a relaxed atomic load (a plain load on
 * x86), so a disabled call costs one load and one branch. Read-only for users. */
extern WEFT_API uint32_t weft__gen;
#define WEFT__ON() WEFT__UNLIKELY(__atomic_load_n(&weft__gen, __ATOMIC_RELAXED))

#define WEFT__LIKELY(x) __builtin_expect(!!(x), 1)
#define WEFT__UNLIKELY(x) __builtin_expect(!!(x), 0)

WEFT_API weft_task weft__task_begin(weft_task parent, const char *type, int copy);
WEFT_API void weft__task_end(weft_task task);

/*! weft_task_begin() :
 *  Begins a task of the given type (a name, see the contract at the top) with
 *  an optional parent (0: none). The task may be ended on any thread.
 *  @return a new task id, unique within the recording; 0 when not recording
 *          (0 is the background task, so later calls with it stay valid).
 *  Thread-safe; no lock on the common path. */
static inline weft_task weft_task_begin(weft_task parent, const char *type)
{
    if (WEFT__ON())
        return weft__task_begin(parent, type, 0);
    return 0;
}

/*! weft_task_begin_copy() :
 *  As weft_task_begin(), but `type` is keyed by content, so it may live in a
 *  buffer that changes after the call. Costs a hash of the string. */
static inline weft_task weft_task_begin_copy(weft_task parent, const char *type)
{
    if (WEFT__ON())
        return weft__task_begin(parent, type, 1);
    return 0;
}

/*! weft_task_end() :
 *  Ends a task. Its latency runs from its begin to its first end; later ends
 *  are recorded and reported as diagnostics by the viewer, and otherwise
 *  ignored. Ending task 0 or a task from an earlier recording does nothing.
 *  Thread-safe; may be called on any thread. */
static inline void weft_task_end(weft_task task)
{
    if (WEFT__ON() && task)
        weft__task_end(task);
}

/* ------------------------------------------------------------------------ */
/* Regions: intervals on one thread inside a task (Go's trace.StartRegion)  */
/* ------------------------------------------------------------------------ */

/* A region handle: a small value returned by weft_region_begin() and passed to
 * weft_region_end(). Treat it as opaque. A zeroed handle is valid and ending
 * it does nothing. */
typedef struct weft_region {
    uint64_t id;   /* thread slot and per-thread serial; 0: not recorded */
    uint32_t name; /* string id of the region type, for diagnostics */
    uint32_t gen;  /* recording generation the region belongs to */
} weft_region;

/* The most regions one thread may have open at once. */
#define WEFT_REGION_MAX_DEPTH 255

WEFT_API weft_region weft__region_begin(weft_task task, const char *type, int copy);
WEFT_API void weft__region_end(weft_region region);

/*! weft_region_begin() :
 *  Begins a region of the given type (a name) on the calling thread, inside
 *  `task` (0: the background task). Regions nest strictly per thread and must
 *  end on the thread that began them; misuse is recorded as a diagnostic.
 *  At most WEFT_REGION_MAX_DEPTH regions may be open per thread; deeper ones are not recorded
 *  (a diagnostic says so) and their handles end as no-ops.
 *  @return the handle to pass to weft_region_end(); a zeroed handle when not
 *          recording.
 *  Thread-safe; no lock on the common path. */
static inline weft_region weft_region_begin(weft_task task, const char *type)
{
    if (WEFT__ON())
        return weft__region_begin(task, type, 0);
    weft_region r = {0, 0, 0};
    return r;
}

/*! weft_region_begin_copy() :
 *  As weft_region_begin(), but `type` is keyed by content (see the top). */
static inline weft_region weft_region_begin_copy(weft_task task, const char *type)
{
    if (WEFT__ON())
        return weft__region_begin(task, type, 1);
    weft_region r = {0, 0, 0};
    return r;
}

/*! weft_region_end() :
 *  Ends a region. Ending the innermost open region is the normal case. Ending
 *  an outer region first also ends the regions inside it (each recorded as a
 *  diagnostic); ending a region on another thread, or twice, records a
 *  diagnostic and changes nothing else. A zeroed handle, or one from an
 *  earlier recording, does nothing. */
static inline void weft_region_end(weft_region region)
{
    if (WEFT__ON() && region.id)
        weft__region_end(region);
}

/* Internal: the state of one WEFT_REGION block. */
typedef struct weft__scope {
    weft_region region;
    int once;
} weft__scope;

static inline void weft__scope_end(weft__scope *s)
{
    weft_region_end(s->region);
}

#define WEFT__CAT2(a, b) a##b
#define WEFT__CAT(a, b) WEFT__CAT2(a, b)

/*! WEFT_REGION(task, type) { ... } :
 *  Scoped form: the region begins before the block runs once and ends however
 *  the block is left - falling off its end, break, continue, return or goto.
 *  Uses the GCC/Clang `cleanup` attribute. Do not jump into the block. */
#define WEFT_REGION(task, type)                                                 \
    for (weft__scope WEFT__CAT(weft__scope_, __LINE__)                          \
             __attribute__((cleanup(weft__scope_end))) = {                      \
                 weft_region_begin((task), (type)), 1};                         \
         WEFT__CAT(weft__scope_, __LINE__).once;                                \
         WEFT__CAT(weft__scope_, __LINE__).once = 0)

/* ------------------------------------------------------------------------ */
/* Log events and counters                                                  */
/* ------------------------------------------------------------------------ */

WEFT_API void weft__log(weft_task task, const char *category, const char *message);
WEFT_API void weft__logf(weft_task task, const char *category, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
WEFT_API void weft__counter(const char *name, int64_t value);

/* Longest log message kept, in bytes; longer ones are cut and the cut is
 * recorded as a diagnostic. */
#define WEFT_LOG_MAX 1024

/*! weft_log() :
 *  Records a log event (Go's trace.Log) at this moment on the calling thread,
 *  attached to `task` (0: background). `category` is a name (see the top) and
 *  may be NULL (shown as ""); `message` is copied (up to WEFT_LOG_MAX bytes)
 *  and may be NULL (shown as ""). Thread-safe. */
static inline void weft_log(weft_task task, const char *category, const char *message)
{
    if (WEFT__ON())
        weft__log(task, category, message);
}

/*! weft_logf() :
 *  As weft_log() with a printf-style message. The arguments are formatted
 *  only while recording; when not recording they are not even evaluated. */
#define weft_logf(task, category, ...)                                          \
    do {                                                                        \
        if (WEFT__ON())                                          \
            weft__logf((task), (category), __VA_ARGS__);                        \
    } while (0)

/*! weft_counter() :
 *  Records the current value of a named counter (queue depth, bytes in
 *  flight...). Each name becomes its own track. `name` is a name (see the
 *  top). Thread-safe. */
static inline void weft_counter(const char *name, int64_t value)
{
    if (WEFT__ON())
        weft__counter(name, value);
}


/* ------------------------------------------------------------------------ */
/* Runtime events: why a thread was not running                             */
/* ------------------------------------------------------------------------ */
/*
 * The calls below are drop-in replacements for the blocking calls a program
 * makes. Each behaves exactly like the call it wraps (same arguments, same
 * return value, same errno) and, while recording, records the time the
 * calling thread spent waiting, with the call site (the wrapper's return
 * address, symbolized by the viewer). Lock wrappers try the lock first and
 * record only when the thread actually waits, so an uncontended lock costs a
 * few nanoseconds more than the plain call. When not recording they only
 * call through. All are thread-safe as the calls they wrap, and may be called
 * on any thread, registered with weft or not.
 *
 * The call site is the return address of the wrapper: the instruction after
 * the call. A wrapper called in tail position (`return weft_read(...)` as the
 * last statement, compiled to a jump) reports its caller's caller instead.
 *
 * A program that cannot be changed gets the same events from the preload
 * library: `weft record -- PROGRAM` interposes these calls, pthread_create and
 * the malloc family. A program that uses the wrappers AND runs under
 * `weft record` counts each wait once.
 *
 * Thread creation, names and exits, and the kernel's context switches of
 * every recorded thread, are recorded by the recorder itself: see
 * docs/format.md, "Runtime events".
 */

/* -- locks (pthread and POSIX semaphores) -- */

/*! weft_mutex_lock(), weft_mutex_trylock(), weft_mutex_unlock() :
 *  As pthread_mutex_lock/trylock/unlock. A wait records a lock-wait event with
 *  the mutex address, the duration, the call site and the thread whose
 *  weft_mutex_unlock() released the mutex to this waiter (the "holder"; 0,
 *  unknown, when the releaser did not use a wrapper or raced the waiter).
 *  That unlock records a lock-release event; an unlock with nobody waiting
 *  records nothing. trylock never waits and records nothing. */
WEFT_API int weft_mutex_lock(pthread_mutex_t *m);
WEFT_API int weft_mutex_trylock(pthread_mutex_t *m);
WEFT_API int weft_mutex_unlock(pthread_mutex_t *m);

/*! weft_mutex_timedlock() :
 *  As pthread_mutex_timedlock (an absolute CLOCK_REALTIME deadline). Tries
 *  first; a call that waits is recorded as above, one that times out too
 *  (it waited until its deadline), with op "pthread_mutex_timedlock". */
WEFT_API int weft_mutex_timedlock(pthread_mutex_t *m, const struct timespec *abstime);

/*! weft_rwlock_rdlock(), weft_rwlock_wrlock(), weft_rwlock_unlock() :
 *  As pthread_rwlock_rdlock/wrlock/unlock, recording waits as above. */
WEFT_API int weft_rwlock_rdlock(pthread_rwlock_t *l);
WEFT_API int weft_rwlock_wrlock(pthread_rwlock_t *l);
WEFT_API int weft_rwlock_unlock(pthread_rwlock_t *l);

/*! weft_cond_wait(), weft_cond_timedwait() :
 *  As pthread_cond_wait/timedwait. Every call waits, so every call is
 *  recorded (reason "condition"), including one that times out, with the
 *  thread that signalled it through weft_cond_signal() or
 *  weft_cond_broadcast() as the holder, when known. The mutex the call
 *  releases counts as released by this thread for its own waiters. */
WEFT_API int weft_cond_wait(pthread_cond_t *c, pthread_mutex_t *m);
WEFT_API int weft_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
                                 const struct timespec *abstime);
/*! weft_cond_signal(), weft_cond_broadcast() :
 *  As pthread_cond_signal/broadcast; mark the caller as the waker. */
WEFT_API int weft_cond_signal(pthread_cond_t *c);
WEFT_API int weft_cond_broadcast(pthread_cond_t *c);

/*! weft_sem_wait(), weft_sem_post() :
 *  As sem_wait/sem_post. sem_wait tries first and records only a real wait,
 *  with the thread whose weft_sem_post() woke it as the holder. */
WEFT_API int weft_sem_wait(sem_t *s);
WEFT_API int weft_sem_post(sem_t *s);

/*! weft_sem_timedwait() :
 *  As sem_timedwait (an absolute CLOCK_REALTIME deadline): -1 and errno on
 *  failure. Tries first; a call that blocks is recorded, including one that
 *  times out (ETIMEDOUT) or is interrupted (EINTR); one refused at once
 *  (EINVAL) is not. */
WEFT_API int weft_sem_timedwait(sem_t *s, const struct timespec *abstime);

/* -- locks (libuv) --
 * On Unix libuv's uv_mutex_t, uv_rwlock_t and uv_cond_t are pthread types, so
 * these take the pthread types and accept a uv_mutex_t * etc. unchanged;
 * weft.h does not need uv.h. Semantics as the libuv calls, recording as above. */
WEFT_API void weft_uv_mutex_lock(pthread_mutex_t *m);
WEFT_API int weft_uv_mutex_trylock(pthread_mutex_t *m);
WEFT_API void weft_uv_mutex_unlock(pthread_mutex_t *m);
WEFT_API void weft_uv_rwlock_rdlock(pthread_rwlock_t *l);
WEFT_API void weft_uv_rwlock_rdunlock(pthread_rwlock_t *l);
WEFT_API void weft_uv_rwlock_wrlock(pthread_rwlock_t *l);
WEFT_API void weft_uv_rwlock_wrunlock(pthread_rwlock_t *l);
WEFT_API void weft_uv_cond_wait(pthread_cond_t *c, pthread_mutex_t *m);
/* @return 0, or UV_ETIMEDOUT as uv_cond_timedwait(). */
WEFT_API int weft_uv_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, uint64_t timeout_ns);
WEFT_API void weft_uv_cond_signal(pthread_cond_t *c);
WEFT_API void weft_uv_cond_broadcast(pthread_cond_t *c);

struct uv_loop_s;
/*! weft_uv_instrument() :
 *  Records each iteration of `loop` (a uv_loop_t *): the time it blocked in
 *  the kernel waiting for I/O (Go's "network wait"), the I/O callbacks that
 *  followed, and the timers/idle/prepare part. Call it once per loop, on the
 *  loop's thread, before uv_run(); it may be called before weft_start() (the
 *  loop is recorded whenever a recording is on). It adds a prepare and a check
 *  handle (unreferenced, so they do not keep the loop alive) and enables
 *  UV_METRICS_IDLE_TIME. The two handles show up in uv_walk(): close them
 *  with the program's own before uv_loop_close(); a close callback that
 *  free()s each handle releases all weft allocated for the loop.
 *  Linking libweft links libuv.
 *  @return 0, or a negative libuv error code (the loop is then unchanged). */
WEFT_API int weft_uv_instrument(struct uv_loop_s *loop);

/* -- blocking I/O --
 * As the libc calls; each call made while recording (blocking or not) records
 * an I/O event with the fd, the result (the call's return value, or -errno
 * when it fails), the duration and the call site; errno is preserved. poll
 * records its only fd when given one, else -1; select and the sleeps record
 * fd -1. Each recorded call costs two clock reads and one event (~50 ns). */
WEFT_API ssize_t weft_read(int fd, void *buf, size_t n);
WEFT_API ssize_t weft_write(int fd, const void *buf, size_t n);
WEFT_API ssize_t weft_pread(int fd, void *buf, size_t n, off_t off);
WEFT_API ssize_t weft_pwrite(int fd, const void *buf, size_t n, off_t off);
WEFT_API ssize_t weft_recv(int fd, void *buf, size_t n, int flags);
WEFT_API ssize_t weft_send(int fd, const void *buf, size_t n, int flags);
WEFT_API ssize_t weft_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *from,
                               socklen_t *fromlen);
WEFT_API ssize_t weft_sendto(int fd, const void *buf, size_t n, int flags,
                             const struct sockaddr *to, socklen_t tolen);
WEFT_API int weft_accept(int fd, struct sockaddr *addr, socklen_t *addrlen);
WEFT_API int weft_connect(int fd, const struct sockaddr *addr, socklen_t addrlen);
WEFT_API int weft_poll(struct pollfd *fds, nfds_t n, int timeout_ms);
WEFT_API int weft_epoll_wait(int epfd, struct epoll_event *events, int max, int timeout_ms);
WEFT_API int weft_select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *timeout);
WEFT_API int weft_nanosleep(const struct timespec *req, struct timespec *rem);
WEFT_API int weft_usleep(unsigned int usec);
WEFT_API int weft_fsync(int fd);

/* -- collector and allocator pauses -- */

/*! weft_gc_begin(), weft_gc_end() :
 *  Mark a stop-the-world pause of the program's own collector, arena reset or
 *  compaction: begin when the world stops, end when it resumes. `kind` is a
 *  name (see the top), shown as the pause's name; NULL is shown as "gc".
 *  A pause belongs to the whole process: at most one is open at a time, and
 *  its end may come from another thread than its begin. A begin while one is
 *  open, or an end without one (or whose begin was in an earlier recording),
 *  is ignored and recorded as a diagnostic. Thread-safe. */
WEFT_API void weft_gc_begin(const char *kind);
WEFT_API void weft_gc_end(void);

/*! weft_heap() :
 *  Records the program's own heap-in-use figure, in bytes, as the "heap"
 *  counter. Thread-safe. */
WEFT_API void weft_heap(size_t bytes_in_use);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_H */
