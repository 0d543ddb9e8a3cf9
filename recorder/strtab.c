/*
 * strtab.c - the process-wide string table: task and region types, log
 * categories and counter names, each interned once by content and given a
 * small id that events carry instead of the text.
 *
 * Threads reach it only on a miss in their own caches (thread.c keeps an
 * address -> id map and a content-hash -> id map), so the mutex here is off
 * the hot path. Texts live in fixed blocks that never move, so the writer can
 * read ids 1..count without the lock: count is published with release after
 * the text is in place.
 *
 * The table is capped (WEFT_STRTAB_MAX_NAMES names, WEFT_STRTAB_MAX_BYTES) so
 * a program that invents a new name per request cannot grow memory without
 * bound; past the cap names map to "<string table full>" and the caller
 * records a diagnostic.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define BLOCK_SHIFT 10
#define BLOCK_SIZE (1u << BLOCK_SHIFT)
#define NBLOCKS (WEFT_STRTAB_MAX_NAMES / BLOCK_SIZE)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const char **blocks[NBLOCKS];
static _Atomic uint32_t count; /* ids 1..count are valid */
static size_t bytes;
static uint32_t full_id;

/* Content hash -> id, open addressing; capacity 2 * max names. */
static uint32_t *index_ids;
static uint64_t *index_hash;
#define INDEX_SIZE (2u * WEFT_STRTAB_MAX_NAMES)

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a: short names, no need for more */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h | 1; /* 0 marks an empty index slot */
}

static const char *text_of(uint32_t id)
{
    return blocks[(id - 1) >> BLOCK_SHIFT][(id - 1) & (BLOCK_SIZE - 1)];
}

/* Appends a copy of s as a new id; caller holds the lock and checked caps. */
static uint32_t append(const char *s, size_t len)
{
    uint32_t id = atomic_load_explicit(&count, memory_order_relaxed) + 1;
    uint32_t b = (id - 1) >> BLOCK_SHIFT;
    if (!blocks[b] && !(blocks[b] = calloc(BLOCK_SIZE, sizeof(char *))))
        return 0;
    char *copy = malloc(len + 1);
    if (!copy)
        return 0;
    memcpy(copy, s, len);
    copy[len] = 0;
    blocks[b][(id - 1) & (BLOCK_SIZE - 1)] = copy;
    bytes += len + 1;
    atomic_store_explicit(&count, id, memory_order_release);
    return id;
}

static uint32_t table_full(bool *full)
{
    *full = true;
    if (!full_id)
        full_id = append(WEFT_STR_FULL_TEXT, strlen(WEFT_STR_FULL_TEXT));
    return full_id;
}

static uint32_t intern_locked(const char *s, size_t len, bool *full);

/* Guarded: under the preload library the lock and the allocations below go
 * through the interposers, which must not record the recorder's own work. */
uint32_t weft__strtab_intern(const char *s, size_t len, bool *full)
{
    int was = weft__guard_enter();
    uint32_t id = intern_locked(s, len, full);
    weft__guard_leave(was);
    return id;
}

static uint32_t intern_locked(const char *s, size_t len, bool *full)
{
    *full = false;
    if (!s)
        return 0;
    uint64_t h = hash_bytes(s, len);
    uint32_t id = 0;
    pthread_mutex_lock(&lock);
    if (!index_ids) {
        index_ids = calloc(INDEX_SIZE, sizeof *index_ids);
        index_hash = calloc(INDEX_SIZE, sizeof *index_hash);
        if (!index_ids || !index_hash) {
            free(index_ids), free(index_hash);
            index_ids = NULL, index_hash = NULL;
            goto out;
        }
    }
    uint32_t i = (uint32_t)h & (INDEX_SIZE - 1);
    for (; index_hash[i]; i = (i + 1) & (INDEX_SIZE - 1)) {
        if (index_hash[i] != h)
            continue;
        const char *t = text_of(index_ids[i]);
        if (strncmp(t, s, len) == 0 && t[len] == 0) {
            id = index_ids[i];
            goto out;
        }
    }
    /* One id stays reserved for the "full" marker. */
    if (atomic_load_explicit(&count, memory_order_relaxed) + 2 > WEFT_STRTAB_MAX_NAMES ||
        bytes + len + 1 > WEFT_STRTAB_MAX_BYTES) {
        id = table_full(full);
        goto out;
    }
    id = append(s, len);
    if (id) {
        index_hash[i] = h;
        index_ids[i] = id;
    }
out:
    pthread_mutex_unlock(&lock);
    return id;
}

const char *weft__strtab_text(uint32_t id)
{
    if (id == 0 || id > atomic_load_explicit(&count, memory_order_acquire))
        return "";
    return text_of(id);
}

uint32_t weft__strtab_count(void) { return atomic_load_explicit(&count, memory_order_acquire); }

size_t weft__strtab_bytes(void)
{
    pthread_mutex_lock(&lock);
    size_t b = bytes + (index_ids ? INDEX_SIZE * (sizeof *index_ids + sizeof *index_hash) : 0);
    pthread_mutex_unlock(&lock);
    return b;
}

void weft__strtab_lock(void) { pthread_mutex_lock(&lock); }
void weft__strtab_unlock(void) { pthread_mutex_unlock(&lock); }

const char *weft_intern(const char *s)
{
    if (!s)
        return NULL;
    bool full;
    uint32_t id = weft__strtab_intern(s, strlen(s), &full);
    if (!id || full)
        return s;
    return weft__strtab_text(id);
}
