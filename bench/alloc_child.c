/*
 * alloc_child.c - weft-bench-alloc-child: the malloc/free loop that
 * weft-bench-alloc times, in a process of its own so that the parent can
 * run it plain or under libweft-preload.so. It links no weft.
 *
 * Usage: weft-bench-alloc-child 32|mix PAIRS
 *   32    malloc(32) then free, PAIRS times
 *   mix   a pool of 256 live blocks; each pair frees one and allocates a
 *         size drawn from 60 % 16-128 B, 30 % 129-1024 B, 10 % 1025-8192 B
 *         (sizes drawn before the timing)
 * Prints "ns=N", the mean ns per malloc+free pair.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POOL 256
#define SIZES 4096

static void *pool[POOL];
static size_t sizes[SIZES];

/* Keeps the compiler from pairing malloc with free away. */
static inline void sink(void *p) { __asm__ __volatile__("" : : "r"(p) : "memory"); }

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static __attribute__((noinline)) void loop_32(uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        void *p = malloc(32);
        sink(p);
        free(p);
    }
}

static __attribute__((noinline)) void loop_mix(uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        free(pool[i % POOL]);
        pool[i % POOL] = malloc(sizes[i % SIZES]);
        sink(pool[i % POOL]);
    }
}

static void *nothing(void *arg) { return arg; }

/* glibc's malloc skips its arena lock's atomics while a process has never
 * had a second thread; a recording always has some (the writer, the
 * sampler), and so do the programs worth recording. One short-lived thread
 * puts every configuration on the same multi-threaded path. */
static void leave_single_threaded_mode(void)
{
    pthread_t th;
    if (pthread_create(&th, NULL, nothing, NULL) == 0)
        pthread_join(th, NULL);
}

static void draw_sizes(void)
{
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < SIZES; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        unsigned r = (unsigned)(x % 100), v = (unsigned)(x >> 32);
        sizes[i] = r < 60 ? 16 + v % 113 : r < 90 ? 129 + v % 896 : 1025 + v % 7168;
    }
    for (int i = 0; i < POOL; i++)
        pool[i] = malloc(sizes[i]);
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "32") && strcmp(argv[1], "mix"))) {
        fprintf(stderr, "usage: weft-bench-alloc-child 32|mix PAIRS\n");
        return 2;
    }
    uint64_t n = strtoull(argv[2], NULL, 10);
    void (*loop)(uint64_t) = strcmp(argv[1], "32") ? loop_mix : loop_32;
    leave_single_threaded_mode();
    if (loop == loop_mix)
        draw_sizes();
    loop(n / 10 + 1); /* warm: the tcache, the arena, lazy binding */
    uint64_t t0 = now_ns();
    loop(n);
    printf("ns=%.3f\n", (double)(now_ns() - t0) / (double)n);
    return 0;
}
