/*
 * serve_grow.c - how the index's arrays grow (wv_grow, wv_fit in
 * serve_index.h): small ones double in the malloc heap; big ones live in
 * blocks that hold more than they use, backed by huge pages, and grow in
 * place.
 *
 * Why not plain doubling with realloc: the first touch of every 4 KiB page
 * costs a trap, several microseconds in a VM (about 6 us on this project's
 * machines, even after MADV_POPULATE_WRITE: the hypervisor maps the page at
 * the user's first access), and a realloc that moves a block by mremap
 * makes its pages trap again at their new address. An index of 200 MiB paid
 * about a third of its build time for that. A big array instead gets a
 * block aligned to 2 MiB and much larger than it needs (address space only:
 * untouched pages are never allocated), with MADV_HUGEPAGE; each growth
 * populates the next stretch in place, 2 MiB pages at a time, so its pages
 * are made in a few hundred calls and move at most once per eightfold
 * growth. The blocks are ordinary
 * malloc blocks (posix_memalign), so free() and realloc() work on them as
 * on any other, and malloc_usable_size() tells how far one may grow.
 *
 * Memory stays proportional: while it grows, an array holds at most an
 * eighth more than it uses, rounded up to a 2 MiB page (so at most twice
 * what it uses just past BIG), and wv_fit() gives that back when it is
 * complete. Where huge pages or the large reservation are
 * refused, arrays grow as before.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "serve_index.h"

#define HUGE_PAGE ((size_t)2 << 20)
#define BIG ((size_t)1 << 20)        /* an array this big moves to a block of its own */
#define RESERVE ((size_t)64 << 20)   /* address space a block takes at least... */
#define ROOM 8                       /* ...and at least this many times its use */

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

/* Makes [from, to) of block p present, in huge pages where it can. */
static void populate(void *p, size_t from, size_t to)
{
    const uintptr_t page = 4096;
    uintptr_t a = ((uintptr_t)p + from + page - 1) & ~(page - 1), e = ((uintptr_t)p + to) & ~(page - 1);
    if (e > a) /* best effort: an older kernel refuses it, and the pages fault in */
        madvise((void *)a, e - a, MADV_POPULATE_WRITE);
}

/* A block with room to grow to `reserve`, huge-page backed; NULL if
 * refused. */
static void *reserve_block(size_t reserve)
{
    void *q;
    if (posix_memalign(&q, HUGE_PAGE, reserve))
        return NULL;
    madvise(q, reserve, MADV_HUGEPAGE);
    return q;
}

/* Doubling from *cap: the capacity for `need`. */
static size_t doubled(size_t cap, size_t need)
{
    size_t n = cap ? cap : 64;
    while (n < need)
        n *= 2;
    return n;
}

/* Doubling, in the heap (small arrays, and the fallback). */
static int grow_doubling(void *p, size_t *cap, size_t need, size_t size)
{
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
    if (need > SIZE_MAX / size / 4)
        return -ENOMEM;
    if (doubled(*cap, need) * size < BIG)
        return grow_doubling(p, cap, need, size);
    size_t used = *cap * size, ahead = used + used / 8;
    size_t bytes = round_up(need * size > ahead ? need * size : ahead, HUGE_PAGE);
    void *q = *(void **)p;
    size_t room = q ? malloc_usable_size(q) : 0;
    if (bytes > room) {
        /* into a block of its own, or a bigger one (moving is rare: a
         * block takes ROOM times what it holds) */
        size_t reserve = bytes <= RESERVE / ROOM ? RESERVE : ROOM * bytes;
        void *n = reserve_block(reserve);
        if (!n)
            return grow_doubling(p, cap, need, size);
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
