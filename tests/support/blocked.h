/*
 * blocked.h - for the child programs of the tests: wait until another
 * thread of this process sleeps in the kernel, so that a delay that follows
 * is all waiting time for it, however loaded the machine is.
 */
#ifndef WEFT_TEST_BLOCKED_H
#define WEFT_TEST_BLOCKED_H

#include <sched.h>
#include <stdio.h>
#include <string.h>

/* Returns 0 once thread `tid` is in state S (its /proc stat), -1 if it
 * never gets there. */
static inline int until_blocked(int tid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
    for (int tries = 0; tries < 100000; tries++) {
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
            fclose(f);
        buf[n] = 0;
        const char *paren = strrchr(buf, ')');
        if (paren && paren[1] == ' ' && paren[2] == 'S')
            return 0;
        sched_yield();
    }
    return -1;
}

#endif
