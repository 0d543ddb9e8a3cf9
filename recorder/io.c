/*
 * io.c - blocking I/O and sleeps: every call made while recording becomes one
 * IO event {op, fd, result, dur, site}, written when the call returns.
 *
 * Unlike a lock, a read or a poll cannot be "tried first" for free, and a
 * call that did not block is still worth seeing (a server's read sizes and
 * rates), so every call is timed: two clock reads and one event, ~30 ns
 * against syscalls that cost hundreds. `result` is the byte count (or the
 * call's own result) on success and -errno on failure, so an EAGAIN on a
 * non-blocking socket is told apart from a real error. errno is preserved.
 */
#define _GNU_SOURCE
#include "emit.h"
#include "real.h"
#include "waits.h"

#include <errno.h>

/* Writes the IO event for a call that began at raw ticks t0 and just
 * returned `result` (already turned into -errno on failure). */
static WEFT__HOT __attribute__((noinline)) void io_record(unsigned op, int fd, int64_t result, uint64_t t0,
                                                void *site)
{
    uint64_t q1 = weft__raw_ticks() >> weft__tick_shift;
    if (!WEFT__ON()) /* the recording stopped during the call */
        return;
    int was = weft__guard_enter(); /* nothing here sets errno but the slow paths, which keep it */
    weft_thread *t = weft__thread();
    if (t) {
        uint8_t *p = ev_open_at(t, WEFT_EV_IO, WEFT_EVENT_MAX, q1);
        if (p) {
            p = weft_put_uvarint(p, op);
            p = weft_put_uvarint(p, weft_zigzag(fd));
            p = weft_put_uvarint(p, weft_zigzag(result));
            p = weft_put_uvarint(p, q1 - (t0 >> weft__tick_shift));
            ev_close(t, weft_put_addr(p, &t->codes.site, (uintptr_t)site));
        }
    }
    weft__guard_leave(was);
}

/* The result of a call that returns -1 and sets errno on failure. */
static inline int64_t errno_result(int64_t r) { return r < 0 ? -(int64_t)errno : r; }

/* The body of every wrapper: call straight through when not recording, else
 * time the call and record it. `call` is an expression using WEFT_REAL;
 * `result` turns its value into the recorded result. */
#define TIMED(type, op, fd, call, result)                                                           \
    do {                                                                                            \
        if (!weft__recording())                                                                     \
            return call;                                                                            \
        uint64_t t0_ = weft__raw_ticks();                                                           \
        type r_ = call;                                                                             \
        io_record(op, fd, result(r_), t0_, site);                                                   \
        return r_;                                                                                  \
    } while (0)

#define TIMED_ERRNO(type, op, fd, call) TIMED(type, op, fd, call, errno_result)

/* ---- reads and writes --------------------------------------------------- */

WEFT__HOT ssize_t weft__read_at(int fd, void *buf, size_t n, void *site)
{
    TIMED_ERRNO(ssize_t, WEFT_IO_READ, fd, WEFT_REAL(read)(fd, buf, n));
}

WEFT__HOT ssize_t weft__write_at(int fd, const void *buf, size_t n, void *site)
{
    TIMED_ERRNO(ssize_t, WEFT_IO_WRITE, fd, WEFT_REAL(write)(fd, buf, n));
}

ssize_t weft__pread_at(int fd, void *buf, size_t n, off_t off, void *site)
{
    TIMED_ERRNO(ssize_t, WEFT_IO_PREAD, fd, WEFT_REAL(pread)(fd, buf, n, off));
}

ssize_t weft__pwrite_at(int fd, const void *buf, size_t n, off_t off, void *site)
{
    TIMED_ERRNO(ssize_t, WEFT_IO_PWRITE, fd, WEFT_REAL(pwrite)(fd, buf, n, off));
}

WEFT__HOT ssize_t weft__readv_at(int fd, const struct iovec *iov, int n, void *site)
{
    TIMED_ERRNO(ssize_t, WEFT_IO_READV, fd, WEFT_REAL(readv)(fd, iov, n));
}

WEFT__HOT ssize_t weft__writev_at(int fd, const struct iovec *iov, int n, void *site)
{
    TIMED_ERRNO(ssize_t, WEFT_IO_WRITEV, fd, WEFT_REAL(writev)(fd, iov, n));
}

/* ---- sockets ------------------------------------------------------------ */

WEFT__HOT ssize_t weft__recv_at(int fd, void *buf, size_t n, int flags, void *site)
{
    TIMED_ERRNO(ssize_t, WEFT_IO_RECV, fd, WEFT_REAL(recv)(fd, buf, n, flags));
}

WEFT__HOT ssize_t weft__send_at(int fd, const void *buf, size_t n, int flags, void *site)
{
    TIMED_ERRNO(ssize_t, WEFT_IO_SEND, fd, WEFT_REAL(send)(fd, buf, n, flags));
}

WEFT__HOT ssize_t weft__recvfrom_at(int fd, void *buf, size_t n, int flags, struct sockaddr *from,
                          socklen_t *fromlen, void *site)
{
    TIMED_ERRNO(ssize_t, WEFT_IO_RECVFROM, fd, WEFT_REAL(recvfrom)(fd, buf, n, flags, from, fromlen));
}

WEFT__HOT ssize_t weft__sendto_at(int fd, const void *buf, size_t n, int flags, const struct sockaddr *to,
                        socklen_t tolen, void *site)
{
    TIMED_ERRNO(ssize_t, WEFT_IO_SENDTO, fd, WEFT_REAL(sendto)(fd, buf, n, flags, to, tolen));
}

/* accept's result is the new connection's fd; fd is the listening socket. */
int weft__accept_at(int fd, struct sockaddr *addr, socklen_t *addrlen, void *site)
{
    TIMED_ERRNO(int, WEFT_IO_ACCEPT, fd, WEFT_REAL(accept)(fd, addr, addrlen));
}

WEFT__HOT int weft__accept4_at(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags, void *site)
{
    TIMED_ERRNO(int, WEFT_IO_ACCEPT4, fd, WEFT_REAL(accept4)(fd, addr, addrlen, flags));
}

int weft__connect_at(int fd, const struct sockaddr *addr, socklen_t addrlen, void *site)
{
    TIMED_ERRNO(int, WEFT_IO_CONNECT, fd, WEFT_REAL(connect)(fd, addr, addrlen));
}

/* ---- readiness ---------------------------------------------------------- */

/* poll watches a set: the event names its fd only when there is one. The
 * result is the number of ready fds. */
WEFT__HOT int weft__poll_at(struct pollfd *fds, nfds_t n, int timeout_ms, void *site)
{
    int fd = n == 1 && fds ? fds[0].fd : -1;
    TIMED_ERRNO(int, WEFT_IO_POLL, fd, WEFT_REAL(poll)(fds, n, timeout_ms));
}

WEFT__HOT int weft__epoll_wait_at(int epfd, struct epoll_event *events, int max, int timeout_ms, void *site)
{
    TIMED_ERRNO(int, WEFT_IO_EPOLL_WAIT, epfd, WEFT_REAL(epoll_wait)(epfd, events, max, timeout_ms));
}

/* select's nfds is a bound, not an fd: the event's fd is -1. */
int weft__select_at(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *timeout, void *site)
{
    TIMED_ERRNO(int, WEFT_IO_SELECT, -1, WEFT_REAL(select)(nfds, r, w, e, timeout));
}

/* ---- sleeps (fd -1) ----------------------------------------------------- */

int weft__nanosleep_at(const struct timespec *req, struct timespec *rem, void *site)
{
    TIMED_ERRNO(int, WEFT_IO_NANOSLEEP, -1, WEFT_REAL(nanosleep)(req, rem));
}

/* clock_nanosleep returns an error number instead of setting errno. */
static inline int64_t negated(int64_t rc) { return -rc; }

int weft__clock_nanosleep_at(clockid_t clock, int flags, const struct timespec *req,
                             struct timespec *rem, void *site)
{
    TIMED(int, WEFT_IO_CLOCK_NANOSLEEP, -1, WEFT_REAL(clock_nanosleep)(clock, flags, req, rem), negated);
}

int weft__usleep_at(useconds_t usec, void *site)
{
    TIMED_ERRNO(int, WEFT_IO_USLEEP, -1, WEFT_REAL(usleep)(usec));
}

/* sleep returns the seconds left when a signal cut it short. */
static inline int64_t as_is(int64_t v) { return v; }

unsigned int weft__sleep_at(unsigned int seconds, void *site)
{
    TIMED(unsigned int, WEFT_IO_SLEEP, -1, WEFT_REAL(sleep)(seconds), as_is);
}

/* ---- syncs -------------------------------------------------------------- */

int weft__fsync_at(int fd, void *site) { TIMED_ERRNO(int, WEFT_IO_FSYNC, fd, WEFT_REAL(fsync)(fd)); }

int weft__fdatasync_at(int fd, void *site)
{
    TIMED_ERRNO(int, WEFT_IO_FDATASYNC, fd, WEFT_REAL(fdatasync)(fd));
}

/* ---- the public wrappers (include/weft.h) ------------------------------- */

WEFT__WRAPPER ssize_t weft_read(int fd, void *buf, size_t n) { return weft__read_at(fd, buf, n, WEFT__SITE()); }

WEFT__WRAPPER ssize_t weft_write(int fd, const void *buf, size_t n)
{
    return weft__write_at(fd, buf, n, WEFT__SITE());
}

WEFT__WRAPPER ssize_t weft_pread(int fd, void *buf, size_t n, off_t off)
{
    return weft__pread_at(fd, buf, n, off, WEFT__SITE());
}

WEFT__WRAPPER ssize_t weft_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    return weft__pwrite_at(fd, buf, n, off, WEFT__SITE());
}

WEFT__WRAPPER ssize_t weft_recv(int fd, void *buf, size_t n, int flags)
{
    return weft__recv_at(fd, buf, n, flags, WEFT__SITE());
}

WEFT__WRAPPER ssize_t weft_send(int fd, const void *buf, size_t n, int flags)
{
    return weft__send_at(fd, buf, n, flags, WEFT__SITE());
}

WEFT__WRAPPER ssize_t weft_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *from,
                                    socklen_t *fromlen)
{
    return weft__recvfrom_at(fd, buf, n, flags, from, fromlen, WEFT__SITE());
}

WEFT__WRAPPER ssize_t weft_sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *to,
                                  socklen_t tolen)
{
    return weft__sendto_at(fd, buf, n, flags, to, tolen, WEFT__SITE());
}

WEFT__WRAPPER int weft_accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
    return weft__accept_at(fd, addr, addrlen, WEFT__SITE());
}

WEFT__WRAPPER int weft_connect(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
    return weft__connect_at(fd, addr, addrlen, WEFT__SITE());
}

WEFT__WRAPPER int weft_poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
    return weft__poll_at(fds, n, timeout_ms, WEFT__SITE());
}

WEFT__WRAPPER int weft_epoll_wait(int epfd, struct epoll_event *events, int max, int timeout_ms)
{
    return weft__epoll_wait_at(epfd, events, max, timeout_ms, WEFT__SITE());
}

WEFT__WRAPPER int weft_select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *timeout)
{
    return weft__select_at(nfds, r, w, e, timeout, WEFT__SITE());
}

WEFT__WRAPPER int weft_nanosleep(const struct timespec *req, struct timespec *rem)
{
    return weft__nanosleep_at(req, rem, WEFT__SITE());
}

WEFT__WRAPPER int weft_usleep(unsigned int usec) { return weft__usleep_at(usec, WEFT__SITE()); }

WEFT__WRAPPER int weft_fsync(int fd) { return weft__fsync_at(fd, WEFT__SITE()); }
