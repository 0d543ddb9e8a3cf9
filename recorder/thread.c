/*
 * thread.c - per-thread recorder state: registration on a thread's first
 * event, its chunks and the two SPSC rings that pass chunks to and from the
 * writer, its name caches, its lifecycle events (create, start, rename) and
 * its end at thread exit.
 *
 * Everything here runs off the hot path: once per thread per recording, once
 * per 64 KiB chunk, or on the first use of a name by a thread.
 */
#define _GNU_SOURCE
#include "emit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

pthread_mutex_t weft__lock = PTHREAD_MUTEX_INITIALIZER;
weft_thread *weft__threads;
uint32_t weft__writer_gen;
WEFT__TLS weft_thread *weft__self;
WEFT__TLS int weft__in_recorder;
__attribute__((section(".data"))) intptr_t weft__tp_self;
__attribute__((section(".data"))) intptr_t weft__tp_guard;

/* See weft__guard_ptr(). Idempotent; the offsets never change. */
__attribute__((constructor(101))) void weft__tls_init(void)
{
    char *tp = __builtin_thread_pointer();
    weft__tp_self = (char *)&weft__self - tp;
    weft__tp_guard = (char *)&weft__in_recorder - tp;
}

static uint32_t next_index;            /* under weft__lock; reset per recording */
static _Atomic uint64_t next_task = 1; /* task ids, handed out in blocks */
static _Atomic uint64_t next_spawn = 1; /* THREAD_CREATE serials, process-wide */
#define TASK_BLOCK 1024

static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static WEFT__TLS bool self_dead;          /* TLS destructor ran: never register again */
static WEFT__TLS char early_name[64];     /* weft_thread_name() before registering */
static WEFT__TLS bool self_system;        /* this thread is the sampler ... */
static WEFT__TLS uint32_t system_gen;     /* ... of this recording */

/* ---- SPSC ring ------------------------------------------------------------ */

/* The producer alone writes head and the consumer alone writes tail; each
 * reads the other's index with acquire so the slot contents it guards are
 * visible. No read-modify-write is needed. */
bool weft__ring_push(weft_ring *r, weft_chunk *c)
{
    uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (head - tail > r->mask)
        return false;
    r->slot[head & r->mask] = c;
    atomic_store_explicit(&r->head, head + 1, memory_order_release);
    return true;
}

weft_chunk *weft__ring_pop(weft_ring *r)
{
    uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    if (head == tail)
        return NULL;
    weft_chunk *c = r->slot[tail & r->mask];
    atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
    return c;
}

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

/* ---- name caches ---------------------------------------------------------- */

static uint32_t intern_with_diag(weft_thread *t, const char *s, size_t len);

static int names_grow(weft_thread *t)
{
    uint32_t cap = (t->names_mask + 1) * 2;
    weft_name_slot *n = calloc(cap, sizeof *n);
    if (!n)
        return -1;
    for (uint32_t i = 0; i <= t->names_mask; i++) {
        weft_name_slot *e = &t->names[i];
        if (!e->ptr)
            continue;
        uintptr_t h = ((uintptr_t)e->ptr * 0x9E3779B97F4A7C15ull) >> 40;
        while (n[h & (cap - 1)].ptr)
            h++;
        n[h & (cap - 1)] = *e;
    }
    free(t->names);
    t->names = n;
    t->names_mask = cap - 1;
    return 0;
}

/* Miss in the first probe: probe on, else intern the text by content (the one
 * time weft reads it) and remember its address. */
uint32_t weft__name_slow(weft_thread *t, const char *s)
{
    if (!s)
        return 0;
    uintptr_t h = ((uintptr_t)s * 0x9E3779B97F4A7C15ull) >> 40;
    for (;; h++) {
        weft_name_slot *e = &t->names[h & t->names_mask];
        if (e->ptr == s)
            return e->id;
        if (!e->ptr)
            break;
    }
    uint32_t id = intern_with_diag(t, s, strlen(s));
    if ((t->names_used + 1) * 2 > t->names_mask + 1 && names_grow(t) != 0)
        return id; /* no memory for the cache: correct, just slower next time */
    h = ((uintptr_t)s * 0x9E3779B97F4A7C15ull) >> 40;
    while (t->names[h & t->names_mask].ptr)
        h++;
    t->names[h & t->names_mask] = (weft_name_slot){s, id};
    t->names_used++;
    return id;
}

uint32_t weft__name_copy(weft_thread *t, const char *s)
{
    if (!s)
        return 0;
    size_t len = strlen(s);
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    weft_copy_slot *e = &t->copies[h & t->copies_mask];
    if (e->hash == h && strcmp(e->text, s) == 0)
        return e->id;
    uint32_t id = intern_with_diag(t, s, len);
    if (id) /* direct-mapped: a collision just replaces the older entry */
        *e = (weft_copy_slot){h, id, weft__strtab_text(id)};
    return id;
}

/* ---- diagnostics written from the slow paths ------------------------------ */

/* Writes a DIAG event; defined in events.c next to the other encoders. */
WEFT__HIDDEN void weft__diag(weft_thread *t, unsigned kind, uint32_t name, uint64_t arg);

static uint32_t intern_with_diag(weft_thread *t, const char *s, size_t len)
{
    bool full;
    uint32_t id = weft__strtab_intern(s, len, &full);
    if (full)
        weft__diag(t, WEFT_DIAG_STRING_TABLE_FULL, id, 0);
    return id;
}

/* ---- registration --------------------------------------------------------- */

static void thread_exit(void *arg);

static void make_exit_key(void) { pthread_key_create(&exit_key, thread_exit); }

static void read_own_name(weft_thread *t)
{
    if (early_name[0]) {
        memcpy(t->name, early_name, sizeof t->name);
        return;
    }
    char buf[17] = {0};
    prctl(PR_GET_NAME, buf, 0, 0, 0); /* the pthread name; cheap for self */
    memcpy(t->name, buf, sizeof buf);
}

/* Reserves address space for the thread's largest buffer but pre-faults only
 * WEFT_FIRST_CHUNKS chunks: most threads never need more, and one that
 * outpaces the writer grows a chunk at a time (chunk_grow) instead of
 * dropping, like Go's tracer taking more buffers. Memory stays bounded by
 * buffer_bytes per thread whatever the run length. */
static int alloc_chunks(weft_thread *t, uint32_t max)
{
    size_t bytes = (size_t)max * WEFT_CHUNK_BYTES;
    void *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                     -1, 0);
    if (mem == MAP_FAILED)
        return -1;
    uint32_t ring = pow2_at_least(max);
    t->mem = mem;
    t->max_chunks = max;
    t->chunks = calloc(max, sizeof *t->chunks);
    t->full.slot = calloc(ring, sizeof(weft_chunk *));
    t->free.slot = calloc(ring, sizeof(weft_chunk *));
    if (!t->chunks || !t->full.slot || !t->free.slot)
        return -1; /* the caller frees what was allocated */
    t->full.mask = t->free.mask = ring - 1;
    return 0;
}

/* Makes one more chunk usable, touching its pages now so the hot path never
 * page-faults in it. Owner thread only. Returns NULL at the maximum. */
static weft_chunk *chunk_grow(weft_thread *t)
{
    uint32_t n = atomic_load_explicit(&t->grown, memory_order_relaxed);
    if (n == t->max_chunks)
        return NULL;
    weft_chunk *c = &t->chunks[n];
    c->data = t->mem + (size_t)n * WEFT_CHUNK_BYTES;
    memset(c->data, 0, WEFT_CHUNK_BYTES);
    atomic_store_explicit(&t->grown, n + 1, memory_order_relaxed);
    return c;
}

static void grow_first_chunks(weft_thread *t)
{
    for (uint32_t i = 0; i < WEFT_FIRST_CHUNKS; i++) {
        weft_chunk *c = chunk_grow(t);
        if (!c)
            break;
        weft__ring_push(&t->free, c);
    }
}

/* LeakSanitizer scans the heap, not anonymous mappings: what only a state
 * points to (its tables, its rings) would look leaked. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define STATE_ROOT(t) __lsan_register_root_region((t), sizeof *(t))
#define STATE_UNROOT(t) __lsan_unregister_root_region((t), sizeof *(t))
#else
#define STATE_ROOT(t) ((void)(t))
#define STATE_UNROOT(t) ((void)(t))
#endif

/* The pages a thread state takes (see thread_new). */
#define STATE_BYTES ((sizeof(weft_thread) + 4095) & ~(size_t)4095)

void weft__thread_free(weft_thread *t)
{
    if (t->mem)
        munmap(t->mem, (size_t)t->max_chunks * WEFT_CHUNK_BYTES);
    free(t->chunks);
    free(t->full.slot);
    free(t->free.slot);
    free(t->names);
    free(t->copies);
    STATE_UNROOT(t);
    munmap(t, sizeof *t);
}

/* The state gets pages of its own rather than a heap block: an I/O event
 * under the preload touches it right after the syscall, and in interleaved
 * runs (a 64-byte write to /dev/null; three runs of 11-15 rounds) an event
 * cost 11-19 ns less with the state mapped alone than with it among the
 * program's allocations. MAP_POPULATE: the hot path never page-faults. */
static weft_thread *thread_new(uint32_t nchunks)
{
    weft_thread *t = mmap(NULL, sizeof *t, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (t == MAP_FAILED)
        return NULL;
    STATE_ROOT(t);
    memset(t, 0, sizeof *t);
    t->names_mask = 255;
    t->copies_mask = 63;
    t->names = calloc(t->names_mask + 1, sizeof *t->names);
    t->copies = calloc(t->copies_mask + 1, sizeof *t->copies);
    if (!t->names || !t->copies || alloc_chunks(t, nchunks) != 0) {
        weft__thread_free(t);
        return NULL;
    }
    grow_first_chunks(t);
    t->tid = (pid_t)syscall(SYS_gettid);
    t->pthread = pthread_self();
    return t;
}

/* Resets a state kept from an earlier recording: every chunk becomes free and
 * the region stack empties (regions from that recording end with it). */
static void thread_reset(weft_thread *t)
{
    atomic_store(&t->full.head, 0), atomic_store(&t->full.tail, 0);
    atomic_store(&t->free.head, 0), atomic_store(&t->free.tail, 0);
    uint32_t grown = atomic_load_explicit(&t->grown, memory_order_relaxed);
    for (uint32_t i = 0; i < grown; i++)
        weft__ring_push(&t->free, &t->chunks[i]);
    t->cur = NULL;
    t->pos = t->end = t->base = NULL;
    t->depth = 0;
    t->drops_pending = 0;
    atomic_store(&t->dropped_total, 0);
    atomic_store(&t->cur_pub, NULL);
    t->seq = t->written = 0;
    t->announced = false;
    t->renamed = false;
}

static weft_thread *thread_register(void);

/* Out-of-line because it runs once per thread per recording. Registration
 * allocates and takes weft__lock: under the preload library those calls land
 * in the interposers, which must pass them straight through (a contended
 * weft__lock would otherwise record a lock wait, which would register this
 * thread again), hence the guard. */
weft_thread *weft__thread_slow(void)
{
    if (self_dead)
        return NULL;
    int err = errno, was = weft__guard_enter(); /* callers on the fast path keep no errno */
    weft_thread *t = thread_register();
    weft__guard_leave(was);
    errno = err;
    return t;
}

/* Takes a chunk right away so the first event finds room. */
static weft_thread *thread_register(void)
{
    pthread_once(&exit_once, make_exit_key);
    weft_thread *t = weft__self;
    pthread_mutex_lock(&weft__lock);
    /* The sampler starts before the generation is published and makes its
     * last drain after it is withdrawn: it registers for the recording the
     * writer serves, not for weft__gen. */
    uint32_t gen = self_system ? (system_gen == weft__writer_gen ? system_gen : 0)
                               : __atomic_load_n(&weft__gen_self, __ATOMIC_RELAXED);
    if (!gen) {
        pthread_mutex_unlock(&weft__lock);
        return NULL;
    }
    if (t && t->max_chunks != weft__nchunks) { /* buffer size changed: start over */
        weft_thread **pp = &weft__threads;
        while (*pp != t)
            pp = &(*pp)->next;
        *pp = t->next;
        weft__thread_free(t);
        t = weft__self = NULL;
    }
    if (!t) {
        t = thread_new(weft__nchunks);
        if (!t) {
            pthread_mutex_unlock(&weft__lock);
            return NULL;
        }
        t->next = weft__threads;
        weft__threads = t;
        weft__self = t;
        pthread_setspecific(exit_key, t);
    } else {
        thread_reset(t);
    }
    read_own_name(t);
    t->index = self_system ? WEFT_SYSTEM_THREAD : ++next_index;
    t->gen = gen;
    pthread_mutex_unlock(&weft__lock);
    /* Outside weft__lock: opening the context-switch event takes a few
     * system calls, and the sampler never needs weft__lock. The sampler
     * itself is not tracked: its wake-ups are the recorder's, not the
     * program's. */
    if (!self_system)
        weft__sched_thread_register(gen, t->index, t->tid);
    return t;
}

weft_thread *weft__thread_register_system(uint32_t gen)
{
    self_system = true;
    system_gen = gen;
    return weft__thread_slow();
}

void weft__thread_set_name(const char *name)
{
    size_t n = strnlen(name, sizeof early_name - 1);
    memcpy(early_name, name, n);
    early_name[n] = 0;
}

size_t weft__thread_bytes_locked(void)
{
    size_t b = 0;
    for (weft_thread *t = weft__threads; t; t = t->next)
        b += STATE_BYTES + (size_t)atomic_load_explicit(&t->grown, memory_order_relaxed) * WEFT_CHUNK_BYTES +
             (t->names_mask + 1) * sizeof(weft_name_slot) +
             (t->copies_mask + 1) * sizeof(weft_copy_slot) + t->max_chunks * sizeof(weft_chunk);
    return b;
}

/* Resets per-recording counters; called by weft_start under weft__lock. */
WEFT__HIDDEN void weft__thread_new_recording(void) { next_index = 0; }

/* Hands out task ids without a shared write per task: a thread takes a block
 * of TASK_BLOCK ids with one atomic add and uses them up locally. */
WEFT__HIDDEN uint64_t weft__task_id(weft_thread *t)
{
    if (t->task_next == t->task_limit) {
        t->task_next = atomic_fetch_add_explicit(&next_task, TASK_BLOCK, memory_order_relaxed);
        t->task_limit = t->task_next + TASK_BLOCK;
    }
    return t->task_next++;
}

/* ---- chunk handover ------------------------------------------------------- */

/* Copies the live count into the current chunk's own commit word, for the
 * writer to read once the chunk is in the full ring. */
static void chunk_final(weft_thread *t)
{
    uint64_t w = atomic_load_explicit(&t->live, memory_order_relaxed);
    atomic_store_explicit(&t->cur->commit, WEFT_LIVE_COMMIT(w), memory_order_release);
}

static int chunk_open(weft_thread *t, uint64_t now_q)
{
    weft_chunk *c = weft__ring_pop(&t->free);
    if (!c && !(c = chunk_grow(t)))
        return -1;
    c->flushed_bytes = c->flushed_events = 0; /* writer is done with it */
    t->cur = c;
    t->base = t->pos = c->data;
    t->end = c->data + WEFT_CHUNK_BYTES;
    t->count = 0;
    /* Every chunk opens with the absolute time, so a batch gap is repaired at
     * the next chunk. */
    uint8_t *p = t->pos;
    *p++ = WEFT_EV_TIME_BASE;
    p = weft_put_uvarint(p, now_q);
    t->last = now_q;
    t->codes = (weft_chunk_codes){0, 0};
    t->pos = p;
    t->count = 1;
    t->cur_tag = weft__chunk_tag(t, c);
    weft__live_store(t, (uint32_t)(p - t->base));
    atomic_store_explicit(&t->cur_pub, c, memory_order_release);
    return 0;
}

/* Counts open regions whose begin is in the file: the reader keeps that many
 * and ends the rest, whose ends were dropped (docs/format.md §4, Drops). */
static uint64_t open_recorded(const weft_thread *t)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < t->depth; i++)
        n += t->stack[i].recorded;
    return n;
}

static int chunk_next(weft_thread *t, uint64_t now_q);

int weft__chunk_next(weft_thread *t, uint64_t now_q)
{
    int err = errno; /* callers on the fast path keep no errno */
    int rc = chunk_next(t, now_q);
    errno = err;
    return rc;
}

static int chunk_next(weft_thread *t, uint64_t now_q)
{
    if (t->cur) {
        /* The chunk's commit word takes the final count before the push;
         * the writer reads it when it pops the chunk. The ring has room for
         * every chunk, so the push cannot fail. */
        chunk_final(t);
        weft__ring_push(&t->full, t->cur);
        t->cur = NULL;
        t->pos = t->end = t->base = NULL;
        atomic_store_explicit(&t->cur_pub, NULL, memory_order_release);
        weft__writer_kick();
    }
    if (chunk_open(t, now_q) != 0)
        return -1;
    if (t->drops_pending) {
        uint8_t *p = t->pos;
        *p++ = WEFT_EV_DROP;
        *p++ = 0; /* dt: same instant as TIME_BASE */
        p = weft_put_uvarint(p, t->drops_pending);
        p = weft_put_uvarint(p, open_recorded(t));
        t->pos = p;
        t->count++;
        t->drops_pending = 0;
        weft__live_store(t, (uint32_t)(p - t->base));
    }
    return 0;
}

/* ---- thread exit ---------------------------------------------------------- */

/* Runs at pthread exit. If the writer still serves this thread's recording,
 * the last chunk goes to it and the writer frees the state after draining;
 * otherwise the state is freed here. */
static void thread_end(weft_thread *t);

static void thread_exit(void *arg)
{
    int was = weft__guard_enter();
    thread_end(arg);
    weft__guard_leave(was);
}

static void thread_end(weft_thread *t)
{
    WEFT__HIDDEN void weft__thread_exit_event(weft_thread *t);
    if (t->gen == __atomic_load_n(&weft__gen_self, __ATOMIC_RELAXED))
        weft__thread_exit_event(t);
    weft__sched_thread_exit();
    self_dead = true;
    weft__self = NULL;
    pthread_mutex_lock(&weft__lock);
    if (t->gen && t->gen == weft__writer_gen) {
        if (t->cur) {
            chunk_final(t);
            weft__ring_push(&t->full, t->cur);
            t->cur = NULL;
            atomic_store_explicit(&t->cur_pub, NULL, memory_order_release);
        }
        atomic_store_explicit(&t->exited, 1, memory_order_release);
        pthread_mutex_unlock(&weft__lock);
        weft__writer_kick();
        return;
    }
    weft_thread **pp = &weft__threads;
    while (*pp && *pp != t)
        pp = &(*pp)->next;
    if (*pp)
        *pp = t->next;
    weft__thread_free(t);
    pthread_mutex_unlock(&weft__lock);
}

/* After fork() only the calling thread exists in the child: forget the
 * others' states without touching their memory (it may be mid-update). */
WEFT__HIDDEN void weft__thread_after_fork_child(void)
{
    weft__threads = NULL;
    if (weft__self) {
        weft__self->next = NULL;
        weft__self->gen = 0;
        weft__threads = weft__self;
    }
}

/* ---- lifecycle: create, start, rename ------------------------------------- */

uint32_t weft__thread_index(void)
{
    weft_thread *t = weft__self;
    return t && t->gen == __atomic_load_n(&weft__gen_self, __ATOMIC_RELAXED) ? t->index : 0;
}

uint64_t weft__thread_spawn(void)
{
    if (!weft_enabled())
        return 0;
    weft_thread *t = weft__thread();
    if (!t)
        return 0;
    /* Serials are unique in the process, not per recording, so a child
     * started in a later recording can never match a stale create. */
    uint64_t spawn = atomic_fetch_add_explicit(&next_spawn, 1, memory_order_relaxed);
    uint8_t *p = ev_open(t, WEFT_EV_THREAD_CREATE, WEFT_EVENT_MAX);
    if (p)
        ev_close(t, weft_put_uvarint(p, spawn));
    return spawn;
}

void weft__thread_started(uint32_t parent_index, uint64_t spawn)
{
    if (!weft_enabled())
        return;
    weft_thread *t = weft__thread(); /* registers: nothing is written yet */
    if (!t)
        return;
    uint8_t *p = ev_open(t, WEFT_EV_THREAD_START, WEFT_EVENT_MAX);
    if (!p)
        return;
    p = weft_put_uvarint(p, parent_index);
    ev_close(t, weft_put_uvarint(p, spawn));
}

/* Another thread's stream belongs to that thread alone, so a rename from
 * outside cannot be an event there; it is left for the writer, which
 * announces the thread again (a second THREAD record) under the new name. */
void weft__thread_renamed(pthread_t th, const char *name)
{
    if (!name)
        return;
    if (pthread_equal(th, pthread_self())) {
        weft_thread_name(name);
        return;
    }
    pthread_mutex_lock(&weft__lock);
    for (weft_thread *t = weft__threads; t; t = t->next) {
        if (!pthread_equal(t->pthread, th) || atomic_load_explicit(&t->exited, memory_order_relaxed))
            continue;
        size_t n = strnlen(name, sizeof t->new_name - 1);
        memcpy(t->new_name, name, n);
        t->new_name[n] = 0;
        t->renamed = true;
        break;
    }
    pthread_mutex_unlock(&weft__lock);
}

bool weft__thread_take_rename_locked(weft_thread *t)
{
    if (!t->renamed)
        return false;
    memcpy(t->name, t->new_name, sizeof t->name);
    t->renamed = false;
    return true;
}
