/*
 * rttrace_cli.c - weft_rttrace OUT: writes the runtime scenario of
 * rttrace.h (thread states, CPUs, a lock wait with its holder, an I/O wait,
 * pauses) with this program's mappings, so its two call sites are named.
 * Not a test: the browser tests (tests/e2e) open its output.
 */
#include <stdio.h>

#include "rttrace.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: weft_rttrace OUT\n");
        return 2;
    }
    int lock_line, io_line;
    tg *g = rt_sched_trace(rt_lock_site(&lock_line), rt_io_site(&io_line), 1);
    int rc = tg_write(g, argv[1]);
    tg_free(g);
    return rc ? 1 : 0;
}
