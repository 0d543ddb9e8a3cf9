/*
 * linkedprog.c - a program that uses weft itself, for the `weft record`
 * tests: built twice, against libweft.so (linkedprog) and against the
 * static libweft.a (staticprog).
 *
 * It makes ROUNDS lock waits through weft_mutex_lock, each inside a region:
 * a holder thread takes the mutex, waits until the waiter sleeps in the
 * kernel on it, holds it 2 ms more and lets go. Under `weft record` each
 * wait must be recorded exactly once (the wrapper's, not again by the
 * preload library's pthread_mutex_lock) and the regions must be there.
 * Prints lock= and block= (the waiting function) for the test.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "blocked.h"
#include "weft.h"

#define ROUNDS 5

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int round_held;   /* the round whose mutex the holder holds */
static atomic_int round_asked;  /* the round the waiter is about to lock for */
static atomic_int waiter_tid;

static void *holder(void *arg)
{
    for (int r = 1; r <= ROUNDS; r++) {
        weft_mutex_lock(&mu);
        atomic_store(&round_held, r);
        while (atomic_load(&round_asked) < r)
            sched_yield();
        if (until_blocked(atomic_load(&waiter_tid)) != 0) {
            fprintf(stderr, "linkedprog: the waiter never blocked\n");
            exit(9);
        }
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
        weft_mutex_unlock(&mu);
        while (atomic_load(&round_asked) == r && atomic_load(&round_held) == r)
            sched_yield(); /* let the waiter through before the next round */
    }
    return arg;
}

__attribute__((noinline)) static void block(void)
{
    weft_mutex_lock(&mu);
    weft_mutex_unlock(&mu);
}

static void *waiter(void *arg)
{
    atomic_store(&waiter_tid, gettid());
    for (int r = 1; r <= ROUNDS; r++) {
        while (atomic_load(&round_held) < r)
            sched_yield();
        weft_region reg = weft_region_begin(0, "round");
        atomic_store(&round_asked, r);
        block();
        atomic_store(&round_held, -r); /* through: the holder may go on */
        weft_region_end(reg);
    }
    return arg;
}

/* `linkedprog N`: N more regions and counter values after the rounds, for
 * traces of some size (test_compact.c). */
static void more_events(long n)
{
    for (long i = 0; i < n; i++) {
        weft_region reg = weft_region_begin(0, i % 3 ? "parse" : "reply");
        weft_counter("queue", (int64_t)(i * 7919 % 1000));
        weft_region_end(reg);
    }
}

int main(int argc, char **argv)
{
    pthread_t h, w;
    pthread_create(&h, NULL, holder, NULL);
    pthread_create(&w, NULL, waiter, NULL);
    pthread_join(h, NULL);
    pthread_join(w, NULL);
    more_events(argc > 1 ? strtol(argv[1], NULL, 10) : 0);
    printf("lock=%p\nblock=%p\nrounds=%d\nrecording=%d\n", (void *)&mu, (void *)block, ROUNDS,
           weft_enabled());
    return 0;
}
