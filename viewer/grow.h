/*
 * grow.h - growing an array indexed by a small number (thread index, CPU)
 * that arrives in any order.
 */
#ifndef WV_GROW_H
#define WV_GROW_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Makes index i exist in the array *p of *n elements of `size` bytes,
 * doubling from 16; new elements are zeroed. @return 0, or -1 when out of
 * memory (the array is then unchanged). */
static inline int wv_grow(void **p, uint32_t *n, uint32_t i, size_t size)
{
    if (i < *n)
        return 0;
    uint32_t cap = *n ? *n : 16;
    while (cap <= i)
        cap *= 2;
    char *q = realloc(*p, (size_t)cap * size);
    if (!q)
        return -1;
    memset(q + (size_t)*n * size, 0, (size_t)(cap - *n) * size);
    *p = q, *n = cap;
    return 0;
}

#endif /* WV_GROW_H */
