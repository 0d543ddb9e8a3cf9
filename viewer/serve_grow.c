/*
 * serve_grow.c - how the index's arrays grow (wv_grow, wv_fit in
 * serve_index.h): small ones double in the malloc heap; big ones live in
 * blocks that hold more than they use and grow in place, each stretch made
 * present before it is written.
 *
 * Why not plain doubling with realloc: the first touch of a 4 KiB page
 * costs a trap, about 6 us on this project's VMs (half that when the kernel
 * made the page present first, with MADV_POPULATE_WRITE), and a realloc
 * that moves a block by mremap makes its pages trap again at their new
 * address. An index of 200 MiB paid about a third of its build time for
 * that. A big array instead gets a block much larger than it needs
 * (address space only: untouched pages are never allocated); each growth
 * populates the next eighth in place, so its pages are made by a few
 * hundred calls and move at most once per eightfold growth. The blocks are
 * ordinary malloc blocks, so free() and realloc() work on them as on any
 * other, and malloc_usable_size() tells how far one may grow.
 *
 * Not huge pages (MADV_HUGEPAGE), though they were faster when the memory
 * was warm: these VMs hand freed 2 MiB blocks back to the host, which
 * makes a new server's huge pages its slowest memory (a 10 M-event index
 * in a new process took 1.25-1.5 s with them, 1.0-1.1 s without), and the
 * host's reclaim scans made one full-range window in ten two or three
 * times slower.
 *
 * Memory stays proportional: while it grows, an array holds at most an
 * eighth more than it uses, and wv_fit() gives that back when it is
 * complete. Where the large block is refused, arrays grow as before.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "serve_index.h"

#define PAGE ((size_t)4096)
#define BIG ((size_t)256 << 10)      /* an array this big moves to a block of its own */
#define RESERVE ((size_t)64 << 20)   /* address space a block takes at least... */
#define ROOM 8                       /* ...and at least this many times its use */

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

/* Makes the whole pages of [from, to) of block p present. */
static void populate(void *p, size_t from, size_t to)
{
    uintptr_t a = ((uintptr_t)p + from + PAGE - 1) & ~(PAGE - 1), e = ((uintptr_t)p + to) & ~(PAGE - 1);
    if (e > a) /* best effort: an older kernel refuses it, and the pages fault in */
        madvise((void *)a, e - a, MADV_POPULATE_WRITE);
}

/* Doubling from *cap: the capacity for `need`. */
static size_t doubled(size_t cap, size_t need)
{
    size_t n = cap ? cap : 64;
    while (n < need)
        n *= 2;
    return n;
}

/* Doubling, in the heap (small arrays, arrays of one request, and the
 * fallback). */
int wv_grow_temp(void *p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t n = doubled(*cap, need);
    void *q = realloc(*(void **)p, n * size);
    if (!q)
        return -ENOMEM;
    *(void **)p = q;
    *cap = n;
    return 0;
}

int wv_grow(void *p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    if (need > SIZE_MAX / size / ROOM)
        return -ENOMEM;
    if (doubled(*cap, need) * size < BIG)
        return wv_grow_temp(p, cap, need, size);
    size_t used = *cap * size, eighth = used + used / 8;
    size_t bytes = round_up(need * size > eighth ? need * size : eighth, PAGE);
    void *q = *(void **)p;
    size_t room = q ? malloc_usable_size(q) : 0;
    if (bytes > room) {
        /* into a block of its own, or a bigger one (moving is rare: a
         * block takes ROOM times what it holds) */
        void *n = malloc(bytes <= RESERVE / ROOM ? RESERVE : ROOM * bytes);
        if (!n)
            return wv_grow_temp(p, cap, need, size);
        populate(n, 0, bytes);
        if (used)
            memcpy(n, q, used);
        free(q);
        *(void **)p = n;
    } else {
        populate(q, used, bytes);
    }
    *cap = bytes / size;
    return 0;
}

/* Shrinking a big block in place is mremap on its tail: nothing moves. */
void wv_fit(void *p, size_t *cap, size_t n, size_t size)
{
    if (!n || n >= *cap)
        return;
    void *q = realloc(*(void **)p, n * size);
    if (q)
        *(void **)p = q, *cap = n;
}
