/*
 * real.h - how the wrappers reach the functions they wrap.
 *
 * WEFT_REAL(fn) names the real `fn`. In libweft it is `fn` itself: the
 * wrappers are separate functions (weft_mutex_lock...), so a plain call cannot
 * land back in them. In the preload library (compiled with -DWEFT_PRELOAD)
 * the library itself defines `fn` (its interposer), so a plain call would
 * recurse: there WEFT_REAL(fn) is a pointer to the next definition, found
 * with dlsym(RTLD_NEXT, "fn") by weft__real_init() (recorder/real.c).
 *
 * WEFT_REAL_FUNCS lists every function a wrapper calls through WEFT_REAL:
 * X(return type, name, (parameters), (arguments)). The malloc family is not
 * here: the preload library reaches it through glibc's __libc_malloc etc.,
 * because dlsym itself may allocate.
 */
#ifndef WEFT_REAL_H
#define WEFT_REAL_H

#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define WEFT_REAL_LOCK_FUNCS(X)                                                                     \
    X(int, pthread_mutex_lock, (pthread_mutex_t * m), (m))                                          \
    X(int, pthread_mutex_trylock, (pthread_mutex_t * m), (m))                                       \
    X(int, pthread_mutex_unlock, (pthread_mutex_t * m), (m))                                        \
    X(int, pthread_rwlock_rdlock, (pthread_rwlock_t * l), (l))                                      \
    X(int, pthread_rwlock_tryrdlock, (pthread_rwlock_t * l), (l))                                   \
    X(int, pthread_rwlock_wrlock, (pthread_rwlock_t * l), (l))                                      \
    X(int, pthread_rwlock_trywrlock, (pthread_rwlock_t * l), (l))                                   \
    X(int, pthread_rwlock_unlock, (pthread_rwlock_t * l), (l))                                      \
    X(int, pthread_cond_wait, (pthread_cond_t * c, pthread_mutex_t * m), (c, m))                    \
    X(int, pthread_cond_timedwait, (pthread_cond_t * c, pthread_mutex_t * m, const struct timespec *t), \
      (c, m, t))                                                                                    \
    X(int, pthread_cond_signal, (pthread_cond_t * c), (c))                                          \
    X(int, pthread_cond_broadcast, (pthread_cond_t * c), (c))                                       \
    X(int, pthread_mutex_timedlock, (pthread_mutex_t * m, const struct timespec *t), (m, t))        \
    X(int, sem_wait, (sem_t * s), (s))                                                              \
    X(int, sem_timedwait, (sem_t * s, const struct timespec *t), (s, t))                            \
    X(int, sem_trywait, (sem_t * s), (s))                                                           \
    X(int, sem_post, (sem_t * s), (s))

#define WEFT_REAL_IO_FUNCS(X)                                                                       \
    X(ssize_t, read, (int fd, void *b, size_t n), (fd, b, n))                                       \
    X(ssize_t, write, (int fd, const void *b, size_t n), (fd, b, n))                                \
    X(ssize_t, pread, (int fd, void *b, size_t n, off_t o), (fd, b, n, o))                          \
    X(ssize_t, pwrite, (int fd, const void *b, size_t n, off_t o), (fd, b, n, o))                   \
    X(ssize_t, readv, (int fd, const struct iovec *v, int n), (fd, v, n))                           \
    X(ssize_t, writev, (int fd, const struct iovec *v, int n), (fd, v, n))                          \
    X(ssize_t, recv, (int fd, void *b, size_t n, int f), (fd, b, n, f))                             \
    X(ssize_t, send, (int fd, const void *b, size_t n, int f), (fd, b, n, f))                       \
    X(ssize_t, recvfrom, (int fd, void *b, size_t n, int f, struct sockaddr *a, socklen_t *al),     \
      (fd, b, n, f, a, al))                                                                         \
    X(ssize_t, sendto, (int fd, const void *b, size_t n, int f, const struct sockaddr *a, socklen_t al), \
      (fd, b, n, f, a, al))                                                                         \
    X(int, accept, (int fd, struct sockaddr *a, socklen_t *al), (fd, a, al))                        \
    X(int, accept4, (int fd, struct sockaddr *a, socklen_t *al, int f), (fd, a, al, f))             \
    X(int, connect, (int fd, const struct sockaddr *a, socklen_t al), (fd, a, al))                  \
    X(int, poll, (struct pollfd * p, nfds_t n, int ms), (p, n, ms))                                 \
    X(int, epoll_wait, (int fd, struct epoll_event *e, int n, int ms), (fd, e, n, ms))              \
    X(int, select, (int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t), (n, r, w, e, t))    \
    X(int, nanosleep, (const struct timespec *q, struct timespec *r), (q, r))                       \
    X(int, clock_nanosleep, (clockid_t c, int f, const struct timespec *q, struct timespec *r),     \
      (c, f, q, r))                                                                                 \
    X(int, usleep, (useconds_t us), (us))                                                           \
    X(unsigned int, sleep, (unsigned int s), (s))                                                   \
    X(int, fsync, (int fd), (fd))                                                                   \
    X(int, fdatasync, (int fd), (fd))

/* Called by the preload library's own interposers only (preload.c). */
#define WEFT_REAL_THREAD_FUNCS(X)                                                                   \
    X(int, pthread_create, (pthread_t * t, const pthread_attr_t *a, void *(*f)(void *), void *p),   \
      (t, a, f, p))                                                                                 \
    X(int, pthread_setname_np, (pthread_t t, const char *n), (t, n))

#define WEFT_REAL_FUNCS(X) WEFT_REAL_LOCK_FUNCS(X) WEFT_REAL_IO_FUNCS(X) WEFT_REAL_THREAD_FUNCS(X)

#ifdef WEFT_PRELOAD

/* One pointer per function. Each starts at a stub that resolves them all and
 * then calls through, so a call made before the preload library's constructor
 * (from another library's constructor, say) still works, and the resolved
 * path costs a load and an indirect call, no "resolved yet?" branch. */
#define X(ret, name, params, args) extern __attribute__((visibility("hidden"))) ret(*weft__real_##name) params;
WEFT_REAL_FUNCS(X)
#undef X

/* A relaxed atomic load (a plain load on x86): the pointers are written once
 * per function, possibly by two threads resolving at once, with equal values. */
#define WEFT_REAL(fn) (__atomic_load_n(&weft__real_##fn, __ATOMIC_RELAXED))

/* Resolves every pointer with dlsym(RTLD_NEXT). Idempotent and thread-safe:
 * call it from the preload library's constructor; the stubs call it too. */
__attribute__((visibility("hidden"))) void weft__real_init(void);

#else

#define WEFT_REAL(fn) fn

#endif /* WEFT_PRELOAD */

#endif /* WEFT_REAL_H */
