/*
 * rttrace.h - a runtime-event trace with known timings, shared by the model,
 * JSON and stats tests (tests/test_rt.c, test_json_rt.c, test_stats.c).
 *
 * Times in us from the start (ns = us * 1000, monotonic clock, shift 0).
 * Threads: 0 the system stream "weft-sampler" (tid 900), 1 "main" (101),
 * 2 "worker" (102, created by main at 10: spawn 5), 3 "gc" (103).
 *
 *   main     ran [10,200] cpu0 | preempted [200,260] | ran [260,400] cpu1,
 *            releasing lock 0x1000 at 280 | blocked [400,600] in a read of
 *            fd 3 (IO [400,650], 10 bytes) | ran [600,800] | blocked
 *            [800,900], then a log: no wait | runs [900,1000] to the end
 *   worker   created at 10, starts at 50 | ran [50,100] cpu2 | blocked
 *            [100,300] in a mutex wait on 0x1000 ([100,350], holder main)
 *            | ran [300,500] cpu0 | blocked [500,580], no wait but main's
 *            ... gc thread's GC [510,560] | ran [580,700] | preempted
 *            [700,750] | ran [750,780], exits; an allocator pause malloc
 *            4096 [730,760]; a wait with op 99 and holder 55 at [764,765]
 *   gc       GC "mark" [510,560]
 *   system   besides the switches: a SCHED of thread 77, a switch code 9,
 *            a SCHEDSTAT of thread 99 (all ignored), 3 records of worker
 *            lost at 770, a SCHED of worker after its exit, heap (malloc)
 *            4096 bytes at 950
 */
#ifndef WEFT_RTTRACE_H
#define WEFT_RTTRACE_H

#include <stdint.h>

#include "tracegen.h"

#define RT_B0 1000000ull
#define RT_US(x) (RT_B0 + (uint64_t)(x) * 1000ull) /* ticks of x us after the start */

/* The scenario above; the sites of the mutex wait and the read are given.
 * With `modules`, the MODULE records of this process come first, so sites
 * taken in it can be symbolized. */
tg *rt_sched_trace(uint64_t lock_site, uint64_t io_site, int modules);

/* Return addresses of calls inside two known functions of this file (built
 * with -g, like the viewer symbolizes a program's): the call sites of
 * "take_the_lock" and "read_the_file", whose line numbers go to *line. */
uint64_t rt_lock_site(int *line);
uint64_t rt_io_site(int *line);

/* `threads` threads (0 the system stream), each with `events` runtime
 * events of random codes and arguments (mostly small, sometimes any 64-bit
 * value), for checking that damage never breaks the viewer. */
tg *rt_random_trace(uint64_t *rng, unsigned threads, unsigned events);

#endif
