/*
 * preload_waits.c - libweft-preload.so's interposers for the lock calls and
 * the blocking I/O calls of a program that never calls weft.
 *
 * Each interposer is the public wrapper's twin: it calls the same
 * weft__X_at(args, site) (waits.h), with its own return address as the site,
 * and that records the wait (or not: when nothing records, or when the
 * calling thread is inside the recorder) and calls the real function through
 * WEFT_REAL (real.h). So a program using weft_mutex_lock under weft record
 * counts each wait once: the wrapper calls the real pthread_mutex_lock,
 * never this one.
 *
 * _FORTIFY_SOURCE turns read, pread, recv, recvfrom and poll with a known
 * buffer size into __read_chk etc.; those are interposed too, check the size
 * as glibc does, and record like the plain calls. pread64/pwrite64 (what
 * -D_FILE_OFFSET_BITS=64 programs call) are pread/pwrite on x86-64.
 */
#define _GNU_SOURCE
#include "preload.h"
#include "waits.h"

#ifndef WEFT_PRELOAD
#error "preload_waits.c belongs to the preload build (-DWEFT_PRELOAD)"
#endif

#define SITE __builtin_return_address(0)

/* ---- locks ---------------------------------------------------------------------- */

WEFT__HOT WEFT_API int pthread_mutex_lock(pthread_mutex_t *m) { return weft__mutex_lock_at(m, SITE); }
WEFT__HOT WEFT_API int pthread_mutex_unlock(pthread_mutex_t *m) { return weft__mutex_unlock_at(m, SITE); }
WEFT_API int pthread_rwlock_rdlock(pthread_rwlock_t *l) { return weft__rwlock_rdlock_at(l, SITE); }
WEFT_API int pthread_rwlock_wrlock(pthread_rwlock_t *l) { return weft__rwlock_wrlock_at(l, SITE); }
WEFT_API int pthread_rwlock_unlock(pthread_rwlock_t *l) { return weft__rwlock_unlock_at(l, SITE); }

WEFT_API int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
    return weft__cond_wait_at(c, m, SITE);
}

WEFT_API int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *t)
{
    return weft__cond_timedwait_at(c, m, t, SITE);
}

WEFT_API int pthread_cond_signal(pthread_cond_t *c) { return weft__cond_signal_at(c, SITE); }
WEFT_API int pthread_cond_broadcast(pthread_cond_t *c) { return weft__cond_broadcast_at(c, SITE); }
WEFT_API int sem_wait(sem_t *s) { return weft__sem_wait_at(s, SITE); }
WEFT_API int sem_timedwait(sem_t *s, const struct timespec *t) { return weft__sem_timedwait_at(s, t, SITE); }
WEFT_API int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *t)
{
    return weft__mutex_timedlock_at(m, t, SITE);
}
WEFT_API int sem_post(sem_t *s) { return weft__sem_post_at(s, SITE); }

/* ---- reads and writes -------------------------------------------------------------- */

WEFT__HOT WEFT_API ssize_t read(int fd, void *b, size_t n) { return weft__read_at(fd, b, n, SITE); }
WEFT__HOT WEFT_API ssize_t write(int fd, const void *b, size_t n) { return weft__write_at(fd, b, n, SITE); }

WEFT_API ssize_t pread(int fd, void *b, size_t n, off_t off)
{
    return weft__pread_at(fd, b, n, off, SITE);
}

WEFT_API ssize_t pwrite(int fd, const void *b, size_t n, off_t off)
{
    return weft__pwrite_at(fd, b, n, off, SITE);
}

WEFT_API ssize_t pread64(int fd, void *b, size_t n, off64_t off)
{
    return weft__pread_at(fd, b, n, off, SITE);
}

WEFT_API ssize_t pwrite64(int fd, const void *b, size_t n, off64_t off)
{
    return weft__pwrite_at(fd, b, n, off, SITE);
}

WEFT__HOT WEFT_API ssize_t readv(int fd, const struct iovec *v, int n) { return weft__readv_at(fd, v, n, SITE); }
WEFT__HOT WEFT_API ssize_t writev(int fd, const struct iovec *v, int n) { return weft__writev_at(fd, v, n, SITE); }
WEFT_API int fsync(int fd) { return weft__fsync_at(fd, SITE); }
WEFT_API int fdatasync(int fd) { return weft__fdatasync_at(fd, SITE); }

/* ---- sockets ---------------------------------------------------------------------- */

WEFT__HOT WEFT_API ssize_t recv(int fd, void *b, size_t n, int flags) { return weft__recv_at(fd, b, n, flags, SITE); }

WEFT__HOT WEFT_API ssize_t send(int fd, const void *b, size_t n, int flags)
{
    return weft__send_at(fd, b, n, flags, SITE);
}

WEFT__HOT WEFT_API ssize_t recvfrom(int fd, void *b, size_t n, int flags, struct sockaddr *from, socklen_t *fromlen)
{
    return weft__recvfrom_at(fd, b, n, flags, from, fromlen, SITE);
}

WEFT__HOT WEFT_API ssize_t sendto(int fd, const void *b, size_t n, int flags, const struct sockaddr *to,
                        socklen_t tolen)
{
    return weft__sendto_at(fd, b, n, flags, to, tolen, SITE);
}

WEFT_API int accept(int fd, struct sockaddr *a, socklen_t *al) { return weft__accept_at(fd, a, al, SITE); }

WEFT__HOT WEFT_API int accept4(int fd, struct sockaddr *a, socklen_t *al, int flags)
{
    return weft__accept4_at(fd, a, al, flags, SITE);
}

WEFT_API int connect(int fd, const struct sockaddr *a, socklen_t al)
{
    return weft__connect_at(fd, a, al, SITE);
}

/* ---- waiting for readiness, sleeping ------------------------------------------------- */

WEFT__HOT WEFT_API int poll(struct pollfd *p, nfds_t n, int ms) { return weft__poll_at(p, n, ms, SITE); }

WEFT__HOT WEFT_API int epoll_wait(int fd, struct epoll_event *e, int n, int ms)
{
    return weft__epoll_wait_at(fd, e, n, ms, SITE);
}

WEFT_API int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t)
{
    return weft__select_at(n, r, w, e, t, SITE);
}

WEFT_API int nanosleep(const struct timespec *q, struct timespec *r) { return weft__nanosleep_at(q, r, SITE); }

WEFT_API int clock_nanosleep(clockid_t c, int flags, const struct timespec *q, struct timespec *r)
{
    return weft__clock_nanosleep_at(c, flags, q, r, SITE);
}

WEFT_API int usleep(useconds_t us) { return weft__usleep_at(us, SITE); }
WEFT_API unsigned int sleep(unsigned int s) { return weft__sleep_at(s, SITE); }

/* ---- _FORTIFY_SOURCE variants ----------------------------------------------------------- */
/* Each checks the destination's size as glibc's does; __chk_fail() reports
 * the overflow and aborts. */

extern void __chk_fail(void) __attribute__((noreturn));

WEFT_API ssize_t __read_chk(int fd, void *b, size_t n, size_t room)
{
    if (n > room)
        __chk_fail();
    return weft__read_at(fd, b, n, SITE);
}

WEFT_API ssize_t __pread_chk(int fd, void *b, size_t n, off_t off, size_t room)
{
    if (n > room)
        __chk_fail();
    return weft__pread_at(fd, b, n, off, SITE);
}

WEFT_API ssize_t __pread64_chk(int fd, void *b, size_t n, off64_t off, size_t room)
{
    if (n > room)
        __chk_fail();
    return weft__pread_at(fd, b, n, off, SITE);
}

WEFT_API ssize_t __recv_chk(int fd, void *b, size_t n, size_t room, int flags)
{
    if (n > room)
        __chk_fail();
    return weft__recv_at(fd, b, n, flags, SITE);
}

WEFT_API ssize_t __recvfrom_chk(int fd, void *b, size_t n, size_t room, int flags,
                                struct sockaddr *from, socklen_t *fromlen)
{
    if (n > room)
        __chk_fail();
    return weft__recvfrom_at(fd, b, n, flags, from, fromlen, SITE);
}

WEFT_API int __poll_chk(struct pollfd *p, nfds_t n, int ms, size_t room)
{
    if (room / sizeof *p < n)
        __chk_fail();
    return weft__poll_at(p, n, ms, SITE);
}
