/*
 * preload.c - libweft-preload.so's start, and its interposers for thread
 * creation and naming (locks and I/O: preload_waits.c; the malloc family:
 * alloc.c).
 *
 * Loaded with LD_PRELOAD (by `weft record`), this library comes before libc
 * in the lookup order, so a program's calls to pthread_create land here.
 *
 * Threads: pthread_create writes THREAD_CREATE on the creator and starts the
 * new thread in a trampoline that writes THREAD_START{parent, spawn} as its
 * first event, so the viewer can link the two; a thread created by recorder
 * code (the writer and the sampler, started inside weft_start) is marked as
 * the recorder's for its whole life instead and never recorded.
 * pthread_setname_np passes the new name on to the recorder, whichever
 * thread it names.
 */
#define _GNU_SOURCE
#include "preload.h"
#include "real.h"

#include <errno.h>
#include <stdlib.h>

#ifndef WEFT_PRELOAD
#error "preload.c belongs to the preload build (-DWEFT_PRELOAD)"
#endif

/* Before session.c's WEFT_OUT constructor (default priority): the real
 * functions and the allocator settings must be ready when recording starts.
 * Calls made even earlier (from other libraries' constructors) work too: the
 * WEFT_REAL stubs resolve on first use, and the allocator needs no setup. */
__attribute__((constructor(101))) static void preload_start(void)
{
    weft__real_init();
    weft__alloc_init();
}

/* ---- threads ------------------------------------------------------------------- */

typedef struct start_args {
    void *(*fn)(void *);
    void *arg;
    uint64_t spawn;  /* from weft__thread_spawn() in the creator; 0: not recording */
    uint32_t parent; /* the creator's thread index */
    int recorder;    /* created by recorder code: the writer or the sampler */
} start_args;

static void *thread_start(void *p)
{
    start_args a = *(start_args *)p;
    weft__alloc_raw_free(p);
    if (a.recorder)
        weft__in_recorder = 1;
    else if (a.spawn)
        weft__thread_started(a.parent, a.spawn);
    return a.fn(a.arg);
}

/* The trampoline's arguments come from the real allocator, untracked: they
 * are the library's, not the program's, and are freed on the new thread. */
WEFT_API int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *),
                            void *arg)
{
    start_args *a = weft__alloc_raw(sizeof *a);
    if (!a)
        return EAGAIN;
    a->fn = fn;
    a->arg = arg;
    a->recorder = weft__in_recorder != 0;
    a->spawn = a->recorder ? 0 : weft__thread_spawn();
    a->parent = a->spawn ? weft__thread_index() : 0;
    int rc = WEFT_REAL(pthread_create)(th, attr, thread_start, a);
    if (rc)
        weft__alloc_raw_free(a);
    return rc;
}

/* The rename is passed on under the guard: for another thread it takes
 * weft__lock, and a contended weft__lock recorded as a lock wait would
 * register this thread, which takes weft__lock again. */
WEFT_API int pthread_setname_np(pthread_t th, const char *name)
{
    int rc = WEFT_REAL(pthread_setname_np)(th, name);
    if (rc != 0 || weft__in_recorder)
        return rc;
    int was = weft__guard_enter();
    weft__thread_renamed(th, name);
    weft__guard_leave(was);
    return rc;
}
