/*
 * writer.c - the background writer thread: drains every recording thread's
 * chunks, compresses them into LZ4 frames and appends them to the file.
 *
 * One flush cycle (cycle()) runs whenever a thread hands over a full chunk
 * and at least every 100 ms. A cycle:
 *   A. under weft__lock, collects the chunks to write: each thread's full
 *      chunks, and on a flush cycle what it committed so far in the chunk it
 *      is filling (read with acquire, the thread keeps appending after it);
 *   B. takes a clock sample - after every event it is about to write;
 *   C. writes CLOCK, new STRINGS, THREAD announcements, then a BATCH per
 *      chunk range; the periodic cycle also flushes them to the file as
 *      complete LZ4 blocks.
 *      Strings are read after the commits, so every id a batch uses is
 *      already in the table;
 *   D. returns written chunks to their threads' free rings.
 * The MODULE records of the executable mappings (modules.c) go first, read
 * by weft_start's thread before the writer exists; a cycle that finds the
 * loader has loaded more since reports the new mappings before its batches
 * (write_new_modules), and the last cycle rescans once more before END.
 * A frame stays open across cycles (blocks linked to the previous 64 KiB), so
 * the compressor keeps its dictionary: one frame per 100 ms cycle cost ~4 %
 * more bytes. Each cycle still ends on a complete block, so a truncated file
 * keeps every cycle before the cut. A new frame starts every FRAME_MAX input
 * bytes, bounding what one damaged block can take with it, and whenever the
 * compression level must change (docs/format.md §1).
 * Under `weft record` (WEFT_COMPRESS=defer) the frames store their blocks
 * uncompressed and `weft record` compresses the file after the program has
 * exited (viewer/compact.c): the program never pays for LZ4.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <link.h>
#define LZ4F_STATIC_LINKING_ONLY /* LZ4F_uncompressedUpdate (liblz4 >= 1.9.4) */
#include <lz4frame.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FLUSH_NS 100000000ull /* partial flush at least this often */

/* Compression level. LZ4HC level 3 makes traces ~15-20 % smaller than the fast
 * mode but compresses at only ~60 MB/s on these machines against ~700 MB/s.
 * The writer uses it while the input rate stays under HC_MAX_RATE, where it
 * costs at most ~2.5 % of one core, and falls back to the fast mode above,
 * so that it never becomes the reason events are dropped nor a busy
 * program's main cost: at 3 MiB/s, the echo server sample (~2.5-5 MB/s of
 * events) lost ~4 % of a core to HC, more than all its events cost to
 * record. The realistic mix of weft-bench (~1.2 MB/s) stays under it. */
#define HC_LEVEL 3
#define HC_MAX_RATE (3u << 19) /* bytes per second: 1.5 MiB */
#define RATE_WINDOW_NS 250000000ull
#define FRAME_MAX (8u << 20) /* input bytes per frame */
#define OUT_CAP (1u << 20)

typedef struct work {
    weft_thread *t;
    weft_chunk *c;
    uint64_t commit;  /* commit word read in phase A */
    bool recycle;     /* a full chunk: give it back after writing */
} work;

typedef struct thread_total {
    uint64_t index, events, dropped;
} thread_total;

static struct {
    bool running; /* a writer thread exists and is not joined */
    _Atomic bool done; /* the writer thread has finished the file */
    pthread_t th;
    sem_t wake;
    _Atomic int finish_reason;
    int fd;
    uint32_t gen;
    double seconds;
    uint64_t start_ns, last_flush_ns;
    int err;
    LZ4F_cctx *cctx;
    LZ4F_preferences_t prefs;
    bool store; /* blocks stored uncompressed (weft_session_cfg.store) */
    bool frame_open;
    uint64_t frame_bytes; /* input fed into the open frame */
    uint8_t *out;
    size_t out_len, out_cap;
    uint32_t strings_written;
    work *work;
    size_t nwork, work_cap;
    thread_total *gone; /* totals of threads that exited */
    size_t ngone, gone_cap;
    uint64_t events, dropped;
    size_t mem_peak;
    uint64_t win_start_ns, win_bytes, last_rate; /* input rate, for the level */
    weft_modules modules; /* mappings already in MODULE records */
    unsigned long long loads; /* the loader's dlopen count at the last scan */
} W;

static pthread_once_t sem_once = PTHREAD_ONCE_INIT;
static void sem_setup(void) { sem_init(&W.wake, 0, 0); }

void weft__writer_kick(void) { sem_post(&W.wake); }

/* ---- output ----------------------------------------------------------------- */

static void fail(int err)
{
    if (!W.err)
        W.err = err;
}

static void out_flush(void)
{
    size_t off = 0;
    while (off < W.out_len && !W.err) {
        ssize_t n = write(W.fd, W.out + off, W.out_len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            fail(n < 0 ? -errno : -EIO);
        else
            off += (size_t)n;
    }
    W.out_len = 0;
}

static void out_reserve(size_t n)
{
    if (W.out_cap - W.out_len < n)
        out_flush();
}

/* Picks the level for the next frame from the input rate of the last window. */
static int pick_level(void)
{
    if (W.store)
        return 0;
    uint64_t now = weft__mono_ns();
    if (now - W.win_start_ns >= RATE_WINDOW_NS) {
        W.last_rate = W.win_bytes * 1000000000ull / (now - W.win_start_ns);
        W.win_start_ns = now;
        W.win_bytes = 0;
    }
    bool light = W.last_rate < HC_MAX_RATE && W.win_bytes < HC_MAX_RATE / 4;
    return light ? HC_LEVEL : 0;
}

static void frame_begin(void)
{
    if (W.frame_open)
        return;
    W.prefs.compressionLevel = pick_level();
    out_reserve(LZ4F_HEADER_SIZE_MAX);
    size_t r = LZ4F_compressBegin(W.cctx, W.out + W.out_len, W.out_cap - W.out_len, &W.prefs);
    if (LZ4F_isError(r))
        return fail(-EIO);
    W.out_len += r;
    W.frame_open = true;
    W.frame_bytes = 0;
}

/* Feeds bytes into the open frame; LZ4F cuts them into 64 KiB linked blocks. */
static void put(const void *p, size_t n)
{
    frame_begin();
    W.win_bytes += n;
    W.frame_bytes += n;
    out_reserve(LZ4F_compressBound(n, &W.prefs));
    size_t r = W.store ? LZ4F_uncompressedUpdate(W.cctx, W.out + W.out_len, W.out_cap - W.out_len, p, n, NULL)
                       : LZ4F_compressUpdate(W.cctx, W.out + W.out_len, W.out_cap - W.out_len, p, n, NULL);
    if (LZ4F_isError(r))
        return fail(-EIO);
    W.out_len += r;
}

static void frame_end(void)
{
    if (!W.frame_open)
        return;
    out_reserve(LZ4F_compressBound(0, &W.prefs));
    size_t r = LZ4F_compressEnd(W.cctx, W.out + W.out_len, W.out_cap - W.out_len, NULL);
    W.frame_open = false;
    if (LZ4F_isError(r))
        return fail(-EIO);
    W.out_len += r;
    out_flush();
}

/* Ends a cycle. The frame ends when it is full or the level must change with
 * the load, checked every cycle so a burst leaves LZ4HC at once. Otherwise
 * only the periodic cycle pushes complete blocks to the file: a cycle for a
 * full chunk comes thousands of times a second under load, and a flush and a
 * write() each time cost the writer half a core. */
static void cycle_end(bool periodic)
{
    if (!W.frame_open)
        return;
    if (W.frame_bytes >= FRAME_MAX || pick_level() != W.prefs.compressionLevel)
        return frame_end();
    if (!periodic)
        return;
    out_reserve(LZ4F_compressBound(0, &W.prefs));
    size_t r = LZ4F_flush(W.cctx, W.out + W.out_len, W.out_cap - W.out_len, NULL);
    if (LZ4F_isError(r))
        return fail(-EIO);
    W.out_len += r;
    out_flush();
}

/* A record whose body is `head` followed by `tail`. */
static void record(unsigned kind, const uint8_t *head, size_t hlen, const void *tail, size_t tlen)
{
    uint8_t h[1 + WEFT_UVARINT_MAX];
    h[0] = (uint8_t)kind;
    uint8_t *e = weft_put_uvarint(h + 1, hlen + tlen);
    put(h, (size_t)(e - h));
    if (hlen)
        put(head, hlen);
    if (tlen)
        put(tail, tlen);
}

/* ---- records ------------------------------------------------------------------ */

static void write_clock(weft_clock_sample s)
{
    uint8_t b[3 * WEFT_UVARINT_MAX], *p = b;
    p = weft_put_uvarint(p, s.ticks);
    p = weft_put_uvarint(p, s.mono_ns);
    p = weft_put_uvarint(p, s.real_ns);
    record(WEFT_REC_CLOCK, b, (size_t)(p - b), NULL, 0);
}

static void write_module(void *ctx, uint64_t start, uint64_t end, uint64_t offset, const char *path,
                         size_t len)
{
    (void)ctx;
    uint8_t b[4 * WEFT_UVARINT_MAX], *p = b;
    p = weft_put_uvarint(p, start);
    p = weft_put_uvarint(p, end);
    p = weft_put_uvarint(p, offset);
    p = weft_put_uvarint(p, len);
    record(WEFT_REC_MODULE, b, (size_t)(p - b), path, len);
}

static int read_loads(struct dl_phdr_info *info, size_t size, void *arg)
{
    if (size >= offsetof(struct dl_phdr_info, dlpi_adds) + sizeof info->dlpi_adds)
        *(unsigned long long *)arg = info->dlpi_adds;
    return 1; /* every entry carries the same count */
}

/* How many objects the dynamic loader has loaded so far (dlopen adds one). */
static unsigned long long loads_now(void)
{
    unsigned long long n = 0;
    dl_iterate_phdr(read_loads, &n);
    return n;
}

/* Mappings not reported yet. Without /proc (a chroot, say) the file simply
 * has no MODULE records and call sites stay raw addresses. */
static void write_modules(void)
{
    W.loads = loads_now(); /* first: a load during the scan is seen next time */
    weft__modules_scan(&W.modules, write_module, NULL);
}

/* A cycle reports the libraries loaded since the last scan before its
 * batches, so a streaming reader (weft json) knows a library's mapping
 * before any event of it. The loader's count is read after the commits:
 * an event committed by then was recorded after the dlopen that made its
 * code, so the count already includes that dlopen. Reading /proc/self/maps
 * costs ~100 us, hence only when the count moved. */
static bool write_new_modules(void)
{
    if (loads_now() == W.loads)
        return false;
    write_modules();
    return true;
}

/* New strings since the last cycle, in records of at most ~64 KiB. */
static void write_strings(void)
{
    uint32_t n = weft__strtab_count();
    static uint8_t body[WEFT_CHUNK_BYTES + 2 * WEFT_UVARINT_MAX];
    size_t len = 0;
    for (uint32_t id = W.strings_written + 1; id <= n; id++) {
        const char *s = weft__strtab_text(id);
        size_t sl = strlen(s); /* names are short; a huge one is cut to fit */
        if (sl > WEFT_CHUNK_BYTES / 2)
            sl = WEFT_CHUNK_BYTES / 2;
        if (len + sl + 2 * WEFT_UVARINT_MAX > WEFT_CHUNK_BYTES) {
            record(WEFT_REC_STRINGS, body, len, NULL, 0);
            len = 0;
        }
        uint8_t *p = weft_put_uvarint(body + len, id);
        p = weft_put_uvarint(p, sl);
        memcpy(p, s, sl);
        len = (size_t)(p - body) + sl;
    }
    if (len)
        record(WEFT_REC_STRINGS, body, len, NULL, 0);
    W.strings_written = n;
}

static void write_thread(weft_thread *t)
{
    uint8_t b[3 * WEFT_UVARINT_MAX], *p = b;
    size_t nl = strnlen(t->name, sizeof t->name);
    p = weft_put_uvarint(p, t->index);
    p = weft_put_uvarint(p, (uint64_t)t->tid);
    p = weft_put_uvarint(p, nl);
    record(WEFT_REC_THREAD, b, (size_t)(p - b), t->name, nl);
    t->announced = true;
}

/* Writes what is committed in the chunk and not yet in the file. */
static void write_batch(work *w)
{
    weft_chunk *c = w->c;
    uint32_t bytes = (uint32_t)w->commit, events = (uint32_t)(w->commit >> 32);
    if (bytes <= c->flushed_bytes)
        return;
    uint8_t b[4 * WEFT_UVARINT_MAX], *p = b;
    p = weft_put_uvarint(p, w->t->index);
    p = weft_put_uvarint(p, w->t->seq++);
    p = weft_put_uvarint(p, c->flushed_bytes);
    p = weft_put_uvarint(p, events - c->flushed_events);
    record(WEFT_REC_BATCH, b, (size_t)(p - b), c->data + c->flushed_bytes, bytes - c->flushed_bytes);
    w->t->written += events - c->flushed_events;
    W.events += events - c->flushed_events;
    c->flushed_bytes = bytes;
    c->flushed_events = events;
}

/* ---- the cycle ------------------------------------------------------------------ */

/* The commit word of a chunk: its own once handed over, or the thread's live
 * one while it is the current chunk. A live word for another chunk means the
 * owner has moved on, after storing this chunk's final count (the acquire
 * load of `live` orders that store before the read of `commit`). */
static uint64_t commit_of(weft_thread *t, weft_chunk *c, bool current)
{
    if (current) {
        uint64_t w = atomic_load_explicit(&t->live, memory_order_acquire);
        if (WEFT_LIVE_TAG(w) == weft__chunk_tag(t, c))
            return WEFT_LIVE_COMMIT(w);
    }
    return atomic_load_explicit(&c->commit, memory_order_acquire);
}

static void add_work(weft_thread *t, weft_chunk *c, bool recycle)
{
    if (W.nwork == W.work_cap) {
        size_t cap = W.work_cap ? W.work_cap * 2 : 64;
        work *n = realloc(W.work, cap * sizeof *n);
        if (!n)
            return fail(-ENOMEM);
        W.work = n, W.work_cap = cap;
    }
    W.work[W.nwork++] = (work){t, c, commit_of(t, c, !recycle), recycle};
}

static void note_gone(weft_thread *t)
{
    if (W.ngone == W.gone_cap) {
        size_t cap = W.gone_cap ? W.gone_cap * 2 : 16;
        thread_total *n = realloc(W.gone, cap * sizeof *n);
        if (!n)
            return;
        W.gone = n, W.gone_cap = cap;
    }
    uint64_t d = atomic_load_explicit(&t->dropped_total, memory_order_relaxed);
    W.gone[W.ngone++] = (thread_total){t->index, t->written, d};
    W.dropped += d;
}

/* Phase A, under weft__lock. The current chunk is read before the full ring is
 * drained: a chunk the thread filled after that read is in the ring by the
 * time the ring is drained, so chunks are written in the order filled. */
static void collect(bool partial)
{
    W.nwork = 0;
    for (weft_thread *t = weft__threads; t; t = t->next) {
        if (t->gen != W.gen)
            continue;
        if (weft__thread_take_rename_locked(t))
            t->announced = false; /* a THREAD record again, with the new name */
        weft_chunk *cur = atomic_load_explicit(&t->cur_pub, memory_order_acquire);
        weft_chunk *c;
        while ((c = weft__ring_pop(&t->full)))
            add_work(t, c, true);
        if (partial && cur)
            add_work(t, cur, false);
    }
    size_t mem = weft__thread_bytes_locked() + weft__strtab_bytes() + W.out_cap +
                 W.work_cap * sizeof(work);
    if (mem > W.mem_peak)
        W.mem_peak = mem;
}

/* Phase D: give chunks back and free threads that exited and are drained. */
static void release(void)
{
    for (size_t i = 0; i < W.nwork; i++)
        if (W.work[i].recycle)
            weft__ring_push(&W.work[i].t->free, W.work[i].c);
    pthread_mutex_lock(&weft__lock);
    for (weft_thread **pp = &weft__threads; *pp;) {
        weft_thread *t = *pp;
        if (t->gen == W.gen && atomic_load_explicit(&t->exited, memory_order_acquire) &&
            atomic_load_explicit(&t->full.head, memory_order_acquire) ==
                atomic_load_explicit(&t->full.tail, memory_order_relaxed)) {
            *pp = t->next;
            note_gone(t);
            weft__thread_free(t);
            continue;
        }
        pp = &t->next;
    }
    pthread_mutex_unlock(&weft__lock);
}

static void cycle(bool partial)
{
    pthread_mutex_lock(&weft__lock);
    collect(partial);
    pthread_mutex_unlock(&weft__lock);
    bool modules = write_new_modules();
    weft_clock_sample s = weft__clock_sample();
    bool strings = weft__strtab_count() > W.strings_written;
    if (W.nwork || strings || partial || modules) {
        write_clock(s);
        write_strings();
        for (size_t i = 0; i < W.nwork; i++) {
            if (!W.work[i].t->announced)
                write_thread(W.work[i].t);
            write_batch(&W.work[i]);
        }
        cycle_end(partial);
    }
    release();
}

/* The END record: totals over live threads and those that exited. */
static void write_end(int reason)
{
    size_t n = W.ngone;
    for (weft_thread *t = weft__threads; t; t = t->next)
        n += t->gen == W.gen;
    size_t cap = (6 + 3 * n) * WEFT_UVARINT_MAX;
    uint8_t *b = malloc(cap), *p = b;
    if (!b)
        return fail(-ENOMEM);
    uint8_t *per = malloc(3 * n * WEFT_UVARINT_MAX + 1), *q = per;
    if (!per) {
        free(b);
        return fail(-ENOMEM);
    }
    uint64_t dropped = W.dropped;
    for (size_t i = 0; i < W.ngone; i++) {
        q = weft_put_uvarint(q, W.gone[i].index);
        q = weft_put_uvarint(q, W.gone[i].events);
        q = weft_put_uvarint(q, W.gone[i].dropped);
    }
    for (weft_thread *t = weft__threads; t; t = t->next) {
        if (t->gen != W.gen)
            continue;
        uint64_t d = atomic_load_explicit(&t->dropped_total, memory_order_relaxed);
        dropped += d;
        q = weft_put_uvarint(q, t->index);
        q = weft_put_uvarint(q, t->written);
        q = weft_put_uvarint(q, d);
    }
    p = weft_put_uvarint(p, (uint64_t)reason);
    p = weft_put_uvarint(p, W.events);
    p = weft_put_uvarint(p, dropped);
    p = weft_put_uvarint(p, W.mem_peak);
    p = weft_put_uvarint(p, n);
    record(WEFT_REC_END, b, (size_t)(p - b), per, (size_t)(q - per));
    free(b);
    free(per);
}

/* The last cycle: everything committed goes out, then END; then the threads
 * of this recording are released from the writer's care. */
static void finish(int reason)
{
    cycle(true);
    write_modules(); /* libraries loaded while recording */
    pthread_mutex_lock(&weft__lock);
    if (!W.err) /* after a write error the file stays without END: truncated */
        write_end(reason);
    for (weft_thread **pp = &weft__threads; *pp;) {
        weft_thread *t = *pp;
        if (t->gen == W.gen && atomic_load_explicit(&t->exited, memory_order_acquire)) {
            *pp = t->next;
            weft__thread_free(t);
            continue;
        }
        pp = &t->next;
    }
    weft__writer_gen = 0;
    pthread_mutex_unlock(&weft__lock);
    frame_end();
    if (close(W.fd) != 0)
        fail(-errno);
    W.fd = -1;
}

static struct timespec deadline_in(uint64_t ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ns += (uint64_t)ts.tv_nsec;
    ts.tv_sec += (time_t)(ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    return ts;
}

static void *writer_main(void *arg)
{
    (void)arg;
    weft__in_recorder = 1; /* its writes, waits and locks are never recorded */
    for (;;) {
        uint64_t now = weft__mono_ns();
        uint64_t wait = W.last_flush_ns + FLUSH_NS > now ? W.last_flush_ns + FLUSH_NS - now : 0;
        uint64_t window_end = W.seconds > 0 ? W.start_ns + (uint64_t)(W.seconds * 1e9) : UINT64_MAX;
        if (window_end - now < wait)
            wait = window_end > now ? window_end - now : 0;
        struct timespec dl = deadline_in(wait);
        sem_clockwait(&W.wake, CLOCK_MONOTONIC, &dl);
        now = weft__mono_ns();
        int reason = atomic_load(&W.finish_reason);
        if (!reason && (now >= window_end || W.err)) {
            reason = W.err ? WEFT_END_WRITE_ERROR : WEFT_END_WINDOW;
            uint32_t g = W.gen; /* stop events, unless weft_stop beat us to it */
            if (__atomic_compare_exchange_n(&weft__gen_self, &g, 0, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
                weft__gen_publish(0);
            /* The sampler's last drain must land before the final cycle. */
            weft__sched_stop();
        }
        if (reason) {
            finish(reason);
            atomic_store(&W.done, true);
            return NULL;
        }
        bool partial = now - W.last_flush_ns >= FLUSH_NS;
        if (partial)
            W.last_flush_ns = now;
        cycle(partial);
    }
}

int weft__writer_start(const weft_session_cfg *cfg, uint32_t gen, weft_clock_sample start)
{
    pthread_once(&sem_once, sem_setup);
    while (sem_trywait(&W.wake) == 0) /* forget kicks from an earlier recording */
        ;
    free(W.work), free(W.gone), free(W.out);
    LZ4F_cctx *cctx = W.cctx;
    W.work = NULL, W.gone = NULL, W.nwork = W.work_cap = W.ngone = W.gone_cap = 0;
    W.events = W.dropped = 0;
    W.mem_peak = 0;
    weft__modules_free(&W.modules);
    W.strings_written = 0;
    W.err = 0;
    W.frame_open = false;
    atomic_store(&W.finish_reason, 0);
    atomic_store(&W.done, false);
    W.fd = cfg->fd;
    W.gen = gen;
    W.seconds = cfg->seconds;
    W.start_ns = W.last_flush_ns = W.win_start_ns = start.mono_ns;
    W.win_bytes = W.last_rate = 0;
    W.out_len = 0;
    W.out_cap = OUT_CAP + LZ4F_compressBound(WEFT_CHUNK_BYTES, NULL) + LZ4F_HEADER_SIZE_MAX;
    W.out = malloc(W.out_cap);
    if (!cctx && LZ4F_isError(LZ4F_createCompressionContext(&cctx, LZ4F_VERSION)))
        cctx = NULL;
    W.cctx = cctx;
    if (!W.out || !W.cctx)
        return -ENOMEM;
    memset(&W.prefs, 0, sizeof W.prefs);
    W.prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    /* Stored blocks must be independent (LZ4F_uncompressedUpdate's rule);
     * they refer to nothing anyway. */
    W.store = cfg->store;
    W.prefs.frameInfo.blockMode = W.store ? LZ4F_blockIndependent : LZ4F_blockLinked;
    /* The content checksum costs ~30 % of the writer's CPU (XXH32 over every
     * byte, by perf), but without it lz4 1.9.4's command-line tool stops at
     * the second of these frames ("undecodable data"), and `lz4 -d` must
     * read every weft file (tests/test_threads.c checks it). */
    W.prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    W.prefs.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
    W.prefs.compressionLevel = 0;
    /* Here, not on the writer thread: reading /proc/self/maps allocates, and
     * an allocation in flight on another thread when the program forks
     * right after weft_start() can leave the child's allocator locked
     * (glibc's malloc guards against that; sanitizer runtimes may not). */
    write_modules();

    /* The writer takes none of the program's signals. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&W.th, NULL, writer_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return -rc;
    pthread_setname_np(W.th, "weft-writer");
    W.running = true;
    return 0;
}

int weft__writer_finish(int reason)
{
    if (!W.running)
        return -ESRCH;
    int none = 0;
    atomic_compare_exchange_strong(&W.finish_reason, &none, reason);
    sem_post(&W.wake);
    pthread_join(W.th, NULL);
    W.running = false;
    return W.err;
}

bool weft__writer_done(void) { return W.running && atomic_load(&W.done); }

void weft__writer_forget(void)
{
    if (W.running && W.fd >= 0)
        close(W.fd);
    W.running = false;
    W.fd = -1;
    W.cctx = NULL; /* the parent's context: do not free it in the child */
    W.out = NULL;
    W.work = NULL;
    W.gone = NULL;
    W.modules = (weft_modules){NULL, 0, 0};
}
