/*
 * rttrace.c - see rttrace.h.
 */
#include "rttrace.h"

#include "testutil.h"

static void module(void *ctx, uint64_t start, uint64_t end, uint64_t offset, const char *path)
{
    tg_module(ctx, start, end, offset, path);
}

static __attribute__((noinline)) uint64_t return_address(void)
{
    uint64_t a = (uint64_t)__builtin_return_address(0);
    __asm__ volatile("" ::: "memory"); /* not a tail call */
    return a;
}

static __attribute__((noinline)) uint64_t take_the_lock(int *line)
{
    *line = __LINE__ + 1;
    uint64_t a = return_address();
    __asm__ volatile("" ::: "memory");
    return a;
}

static __attribute__((noinline)) uint64_t read_the_file(int *line)
{
    *line = __LINE__ + 1;
    uint64_t a = return_address();
    __asm__ volatile("" ::: "memory");
    return a;
}

uint64_t rt_lock_site(int *line) { return take_the_lock(line); }
uint64_t rt_io_site(int *line) { return read_the_file(line); }

tg *rt_sched_trace(uint64_t lock_site, uint64_t io_site, int modules)
{
    tg_opts o = tg_defaults();
    o.sched_source = WEFT_SCHED_SRC_PERF;
    tg *g = tg_new(&o);
    if (modules)
        tu_self_mappings(module, g);
    tg_string(g, 1, "mark");
    tg_thread(g, 0, 900, "weft-sampler");
    tg_thread(g, 1, 101, "main");
    tg_thread(g, 2, 102, "worker");
    tg_thread(g, 3, 103, "gc");
    tg_batch_chunk(g, 0);
    tg_ev(g, RT_US(0), WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, RT_US(100), WEFT_EV_SCHED, 2, 2, WEFT_SWITCH_OUT);
    tg_ev(g, RT_US(200), WEFT_EV_SCHED, 1, 0, WEFT_SWITCH_PREEMPTED);
    tg_ev(g, RT_US(260), WEFT_EV_SCHED, 1, 1, WEFT_SWITCH_IN);
    tg_ev(g, RT_US(300), WEFT_EV_SCHED, 2, 0, WEFT_SWITCH_IN);
    tg_ev(g, RT_US(400), WEFT_EV_SCHED, 1, 1, WEFT_SWITCH_OUT);
    tg_ev(g, RT_US(500), WEFT_EV_SCHED, 2, 0, WEFT_SWITCH_OUT);
    tg_ev(g, RT_US(580), WEFT_EV_SCHED, 2, 0, WEFT_SWITCH_IN);
    tg_ev(g, RT_US(600), WEFT_EV_SCHED, 1, 1, WEFT_SWITCH_IN);
    tg_ev(g, RT_US(650), WEFT_EV_SCHED, 77, 0, WEFT_SWITCH_IN); /* no thread 77 */
    tg_ev(g, RT_US(660), WEFT_EV_SCHED, 1, 1, 9);               /* no switch 9 */
    tg_ev5(g, RT_US(670), WEFT_EV_SCHEDSTAT, 99, 1, 2, 3, 0);    /* no thread 99 */
    tg_ev(g, RT_US(700), WEFT_EV_SCHED, 2, 0, WEFT_SWITCH_PREEMPTED);
    tg_ev(g, RT_US(750), WEFT_EV_SCHED, 2, 0, WEFT_SWITCH_IN);
    tg_ev(g, RT_US(770), WEFT_EV_SCHED_LOST, 2, 3, 0);
    tg_ev(g, RT_US(790), WEFT_EV_SCHED, 2, 0, WEFT_SWITCH_OUT); /* after its exit */
    tg_ev(g, RT_US(800), WEFT_EV_SCHED, 1, 1, WEFT_SWITCH_OUT);
    tg_ev(g, RT_US(900), WEFT_EV_SCHED, 1, 1, WEFT_SWITCH_IN);
    tg_ev(g, RT_US(950), WEFT_EV_HEAP, WEFT_HEAP_MALLOC, 4096, 0);
    tg_batch_end(g);
    tg_batch_chunk(g, 1);
    tg_ev(g, RT_US(10), WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, RT_US(10), WEFT_EV_THREAD_CREATE, 5, 0, 0);
    tg_ev(g, RT_US(280), WEFT_EV_LOCK_RELEASE, 0x1000, 0, 0);
    tg_ev5(g, RT_US(650), WEFT_EV_IO, WEFT_IO_READ, 3, 10, 250000, io_site);
    tg_ev_b(g, RT_US(950), WEFT_EV_LOG, 0, 0, "x", 1);
    tg_ev(g, RT_US(1000), WEFT_EV_COUNTER, 1, 7, 0);
    tg_batch_end(g);
    tg_batch_chunk(g, 2);
    tg_ev(g, RT_US(50), WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, RT_US(50), WEFT_EV_THREAD_START, 1, 5, 0);
    tg_ev5(g, RT_US(350), WEFT_EV_LOCK_WAIT, WEFT_LOCK_MUTEX, 0x1000, lock_site, 250000, 1);
    tg_ev(g, RT_US(590), WEFT_EV_COUNTER, 1, 1, 0);
    tg_ev5(g, RT_US(760), WEFT_EV_ALLOC_PAUSE, WEFT_ALLOC_MALLOC, 4096, 30000, 0x6000, 0);
    tg_ev5(g, RT_US(765), WEFT_EV_LOCK_WAIT, 99, 0x2000, lock_site, 1000, 55); /* bad op, no thread 55 */
    tg_ev(g, RT_US(780), WEFT_EV_THREAD_EXIT, 0, 0, 0);
    tg_batch_end(g);
    tg_batch_chunk(g, 3);
    tg_ev(g, RT_US(510), WEFT_EV_TIME_BASE, 0, 0, 0);
    tg_ev(g, RT_US(510), WEFT_EV_GC_BEGIN, 1, 0, 0);
    tg_ev(g, RT_US(560), WEFT_EV_GC_END, 0, 0, 0);
    tg_batch_end(g);
    return g;
}

tg *rt_random_trace(uint64_t *rng, unsigned threads, unsigned events)
{
    static const unsigned codes[] = {WEFT_EV_SCHED, WEFT_EV_SCHED, WEFT_EV_SCHED, WEFT_EV_SCHEDSTAT,
                                     WEFT_EV_SCHED_LOST, WEFT_EV_LOCK_WAIT, WEFT_EV_LOCK_RELEASE, WEFT_EV_IO,
                                     WEFT_EV_GC_BEGIN, WEFT_EV_GC_END, WEFT_EV_HEAP, WEFT_EV_ALLOC_PAUSE,
                                     WEFT_EV_UV_LOOP, WEFT_EV_THREAD_CREATE, WEFT_EV_THREAD_START,
                                     WEFT_EV_THREAD_EXIT};
    tg_opts o = tg_defaults();
    o.sched_source = WEFT_SCHED_SRC_PERF;
    tg *g = tg_new(&o);
    for (uint64_t i = 0; i < threads; i++)
        tg_thread(g, i, 100 + i, "t");
    for (uint64_t th = 0; th < threads; th++) {
        tg_batch_chunk(g, th);
        tg_ev(g, RT_US(0), WEFT_EV_TIME_BASE, 0, 0, 0);
        uint64_t t = RT_US(0);
        for (unsigned k = 0; k < events; k++) {
            t += tu_rand(rng) % 20000;
            unsigned code = codes[tu_rand(rng) % (sizeof codes / sizeof codes[0])];
            uint64_t a[5];
            for (int j = 0; j < 5; j++) {
                uint64_t r = tu_rand(rng);
                a[j] = r % 8 == 0 ? tu_rand(rng) : r % 8 == 1 ? r % 100000 : r % 6;
            }
            if (code == WEFT_EV_GC_BEGIN)
                a[0] = 0; /* a string id: none (tracegen has no strings here) */
            tg_ev5(g, t, code, a[0], a[1], a[2], a[3], a[4]);
        }
        tg_batch_end(g);
    }
    return g;
}
