/*
 * waits.h - the internal entry points behind every wait wrapper (locks.c,
 * io.c) and the uv lock wrappers (uv.c).
 *
 * Each public wrapper weft_X(args) is a thin, never-inlined function that
 * calls weft__X_at(args, __builtin_return_address(0)); the preload library's
 * interposer X(args) calls the same weft__X_at(args, its own return address).
 * So a wait is recorded once, with the program's call site, whichever way it
 * came in - and a program that uses the wrappers under `weft record` calls
 * the wrapper, which calls WEFT_REAL(X), never the interposer.
 *
 * Contract of every weft__X_at():
 *   - behaves as X (same result, same errno: recording never changes errno);
 *   - records nothing, and only calls X, when not recording or when the
 *     calling thread is inside the recorder (weft__in_recorder);
 *   - may run on a thread that is not registered yet (it registers on its
 *     first event) and on a thread that is exiting (it then records nothing);
 *   - `site` is stored raw (the viewer symbolizes it with the MODULE records);
 *     the release-side calls (unlock, signal, post) ignore it.
 */
#ifndef WEFT_WAITS_H
#define WEFT_WAITS_H

#include "internal.h"

#include <sys/uio.h>

/* ---- locks.c ------------------------------------------------------------ */

/* The lock calls take the LOCK_WAIT op to record (enum weft_lock_op), so the
 * pthread and libuv wrappers share them. */
WEFT__HIDDEN int weft__mutex_lock_op(pthread_mutex_t *m, unsigned op, void *site);
WEFT__HIDDEN int weft__rwlock_rdlock_op(pthread_rwlock_t *l, unsigned op, void *site);
WEFT__HIDDEN int weft__rwlock_wrlock_op(pthread_rwlock_t *l, unsigned op, void *site);
WEFT__HIDDEN int weft__cond_wait_op(pthread_cond_t *c, pthread_mutex_t *m, unsigned op, void *site);
WEFT__HIDDEN int weft__cond_timedwait_op(pthread_cond_t *c, pthread_mutex_t *m,
                                         const struct timespec *abstime, unsigned op, void *site);

WEFT__HIDDEN int weft__mutex_unlock_at(pthread_mutex_t *m, void *site);
WEFT__HIDDEN int weft__rwlock_unlock_at(pthread_rwlock_t *l, void *site);
WEFT__HIDDEN int weft__cond_signal_at(pthread_cond_t *c, void *site);
WEFT__HIDDEN int weft__cond_broadcast_at(pthread_cond_t *c, void *site);
WEFT__HIDDEN int weft__mutex_timedlock_at(pthread_mutex_t *m, const struct timespec *abstime, void *site);
WEFT__HIDDEN int weft__sem_wait_at(sem_t *s, void *site);
WEFT__HIDDEN int weft__sem_timedwait_at(sem_t *s, const struct timespec *abstime, void *site);
WEFT__HIDDEN int weft__sem_post_at(sem_t *s, void *site);

static inline int weft__mutex_lock_at(pthread_mutex_t *m, void *site)
{
    return weft__mutex_lock_op(m, WEFT_LOCK_MUTEX, site);
}

static inline int weft__rwlock_rdlock_at(pthread_rwlock_t *l, void *site)
{
    return weft__rwlock_rdlock_op(l, WEFT_LOCK_RWLOCK_RD, site);
}

static inline int weft__rwlock_wrlock_at(pthread_rwlock_t *l, void *site)
{
    return weft__rwlock_wrlock_op(l, WEFT_LOCK_RWLOCK_WR, site);
}

static inline int weft__cond_wait_at(pthread_cond_t *c, pthread_mutex_t *m, void *site)
{
    return weft__cond_wait_op(c, m, WEFT_LOCK_COND, site);
}

static inline int weft__cond_timedwait_at(pthread_cond_t *c, pthread_mutex_t *m,
                                          const struct timespec *abstime, void *site)
{
    return weft__cond_timedwait_op(c, m, abstime, WEFT_LOCK_COND_TIMED, site);
}

/* ---- io.c --------------------------------------------------------------- */
/* One IO event per call made while recording (see docs/format.md). */

WEFT__HIDDEN ssize_t weft__read_at(int fd, void *buf, size_t n, void *site);
WEFT__HIDDEN ssize_t weft__write_at(int fd, const void *buf, size_t n, void *site);
WEFT__HIDDEN ssize_t weft__pread_at(int fd, void *buf, size_t n, off_t off, void *site);
WEFT__HIDDEN ssize_t weft__pwrite_at(int fd, const void *buf, size_t n, off_t off, void *site);
WEFT__HIDDEN ssize_t weft__readv_at(int fd, const struct iovec *iov, int n, void *site);
WEFT__HIDDEN ssize_t weft__writev_at(int fd, const struct iovec *iov, int n, void *site);
WEFT__HIDDEN ssize_t weft__recv_at(int fd, void *buf, size_t n, int flags, void *site);
WEFT__HIDDEN ssize_t weft__send_at(int fd, const void *buf, size_t n, int flags, void *site);
WEFT__HIDDEN ssize_t weft__recvfrom_at(int fd, void *buf, size_t n, int flags, struct sockaddr *from,
                                       socklen_t *fromlen, void *site);
WEFT__HIDDEN ssize_t weft__sendto_at(int fd, const void *buf, size_t n, int flags,
                                     const struct sockaddr *to, socklen_t tolen, void *site);
WEFT__HIDDEN int weft__accept_at(int fd, struct sockaddr *addr, socklen_t *addrlen, void *site);
WEFT__HIDDEN int weft__accept4_at(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags,
                                  void *site);
WEFT__HIDDEN int weft__connect_at(int fd, const struct sockaddr *addr, socklen_t addrlen, void *site);
WEFT__HIDDEN int weft__poll_at(struct pollfd *fds, nfds_t n, int timeout_ms, void *site);
WEFT__HIDDEN int weft__epoll_wait_at(int epfd, struct epoll_event *events, int max, int timeout_ms,
                                     void *site);
WEFT__HIDDEN int weft__select_at(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *timeout,
                                 void *site);
WEFT__HIDDEN int weft__nanosleep_at(const struct timespec *req, struct timespec *rem, void *site);
WEFT__HIDDEN int weft__clock_nanosleep_at(clockid_t clock, int flags, const struct timespec *req,
                                          struct timespec *rem, void *site);
WEFT__HIDDEN int weft__usleep_at(useconds_t usec, void *site);
WEFT__HIDDEN unsigned int weft__sleep_at(unsigned int seconds, void *site);
WEFT__HIDDEN int weft__fsync_at(int fd, void *site);
WEFT__HIDDEN int weft__fdatasync_at(int fd, void *site);

/* The return address of the calling function: the call site a public wrapper
 * records. The wrapper must be a real function for this to name its caller. */
#define WEFT__SITE() __builtin_return_address(0)
#define WEFT__WRAPPER __attribute__((noinline))

#endif /* WEFT_WAITS_H */
