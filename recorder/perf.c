/*
 * perf.c - one thread's kernel context switches through perf_event_open.
 *
 * A thread opens, on itself (pid 0, cpu -1), a software "dummy" event that
 * counts nothing but has context_switch = 1: the kernel then writes a
 * PERF_RECORD_SWITCH into the event's mmap ring each time the thread is
 * switched in or out, with the CPU and a CLOCK_MONOTONIC time stamp
 * (sample_id_all with TID|TIME|CPU, use_clockid). exclude_kernel keeps it
 * legal at perf_event_paranoid = 2, the default for unprivileged users
 * (field notes §7). Nothing is ever sampled, so the ring holds only switch
 * records and the kernel's PERF_RECORD_LOST when the ring was full.
 *
 * The ring is the kernel's single-producer single-consumer buffer: the
 * kernel advances data_head, we advance data_tail. Mapping it writable tells
 * the kernel to respect data_tail (never overwrite unread records, count
 * them as lost instead).
 */
#define _GNU_SOURCE
#include "perf.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* sample_id_all appends these fields, in this order, to every record. */
typedef struct sample_id {
    uint32_t pid, tid;
    uint64_t time;
    uint32_t cpu, res;
} sample_id;

/* The largest record this file parses (PERF_RECORD_LOST). Records of other
 * types are skipped by their header size without being copied. */
#define REC_MAX (sizeof(struct perf_event_header) + 2 * sizeof(uint64_t) + sizeof(sample_id))

static int perf_event_open(struct perf_event_attr *a)
{
    return (int)syscall(SYS_perf_event_open, a, 0 /* this thread */, -1 /* any cpu */,
                        -1 /* no group */, PERF_FLAG_FD_CLOEXEC);
}

static void switch_attr(struct perf_event_attr *a)
{
    memset(a, 0, sizeof *a);
    a->size = sizeof *a;
    a->type = PERF_TYPE_SOFTWARE;
    a->config = PERF_COUNT_SW_DUMMY;
    a->context_switch = 1;
    a->sample_id_all = 1;
    a->sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU;
    a->use_clockid = 1;
    a->clockid = CLOCK_MONOTONIC;
    a->exclude_kernel = 1; /* required unprivileged; switch records still come */
    a->exclude_hv = 1;
}

int weft__perf_open(weft_perf_ring *r, unsigned data_pages)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
    struct perf_event_attr a;
    switch_attr(&a);
    int fd = perf_event_open(&a);
    if (fd < 0)
        return -errno;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t bytes = page * (1 + (size_t)data_pages);
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) { /* EPERM: over the locked-memory limit for perf rings */
        int err = -errno;
        close(fd);
        return err;
    }
    r->fd = fd;
    r->page = m;
    r->data = (const uint8_t *)m + page;
    r->mask = (uint64_t)page * data_pages - 1;
    r->map_bytes = bytes;
    return 0;
}

void weft__perf_close(weft_perf_ring *r)
{
    if (r->fd < 0)
        return;
    munmap(r->page, r->map_bytes);
    close(r->fd);
    r->fd = -1;
    r->page = NULL;
}

/* Copies n bytes starting at ring position pos, which may wrap around the
 * end of the data area. */
static void ring_copy(const weft_perf_ring *r, uint64_t pos, void *out, size_t n)
{
    size_t off = (size_t)(pos & r->mask), first = (size_t)(r->mask + 1) - off;
    if (first >= n) {
        memcpy(out, r->data + off, n);
        return;
    }
    memcpy(out, r->data + off, first);
    memcpy((uint8_t *)out + first, r->data, n - first);
}

/* Parses one whole record; returns 0 if it is one we report. */
static int parse(const uint8_t *rec, size_t size, weft_perf_rec *out)
{
    struct perf_event_header h;
    memcpy(&h, rec, sizeof h);
    size_t body = sizeof h + (h.type == PERF_RECORD_LOST ? 2 * sizeof(uint64_t) : 0);
    if (size < body + sizeof(sample_id))
        return -1;
    sample_id id; /* at the very end of the record */
    memcpy(&id, rec + size - sizeof id, sizeof id);
    memset(out, 0, sizeof *out);
    out->cpu = id.cpu;
    out->mono_ns = id.time;
    if (h.type == PERF_RECORD_LOST) {
        out->lost = 1;
        memcpy(&out->count, rec + sizeof h + sizeof(uint64_t), sizeof out->count);
    } else if (!(h.misc & PERF_RECORD_MISC_SWITCH_OUT)) {
        out->sw = WEFT_SWITCH_IN;
    } else {
        /* Switched out while still runnable: the kernel preempted it. */
        out->sw = h.misc & PERF_RECORD_MISC_SWITCH_OUT_PREEMPT ? WEFT_SWITCH_PREEMPTED
                                                                : WEFT_SWITCH_OUT;
    }
    return 0;
}

double weft__perf_fill(const weft_perf_ring *r)
{
    if (r->fd < 0)
        return 0;
    uint64_t head = __atomic_load_n(&r->page->data_head, __ATOMIC_ACQUIRE);
    return (double)(head - r->page->data_tail) / (double)(r->mask + 1);
}

size_t weft__perf_drain(weft_perf_ring *r, weft_perf_fn fn, void *ctx, uint64_t *bad)
{
    if (r->fd < 0)
        return 0;
    /* Acquire: the records up to head are complete before we read them (the
     * kernel's documented smp_rmb() after reading data_head). */
    uint64_t head = __atomic_load_n(&r->page->data_head, __ATOMIC_ACQUIRE);
    uint64_t tail = r->page->data_tail; /* written by us alone */
    size_t n = 0;
    while (head - tail >= sizeof(struct perf_event_header)) {
        struct perf_event_header h;
        ring_copy(r, tail, &h, sizeof h);
        if (h.size < sizeof h || h.size > head - tail) { /* cannot happen; do not loop on it */
            ++*bad;
            tail = head;
            break;
        }
        if (h.type == PERF_RECORD_SWITCH || h.type == PERF_RECORD_LOST) {
            uint8_t rec[REC_MAX];
            weft_perf_rec out;
            size_t take = h.size < sizeof rec ? h.size : sizeof rec;
            ring_copy(r, tail, rec, take);
            if (h.size <= sizeof rec && parse(rec, h.size, &out) == 0) {
                fn(ctx, &out);
                n++;
            } else {
                ++*bad;
            }
        }
        tail += h.size;
    }
    /* Release: our reads of the records finish before the kernel may reuse
     * their space (the documented smp_mb() before writing data_tail). */
    __atomic_store_n(&r->page->data_tail, tail, __ATOMIC_RELEASE);
    return n;
}
