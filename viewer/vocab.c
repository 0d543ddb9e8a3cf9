/*
 * vocab.c - code names from the X-macro tables of recorder/wire.h, so a code
 * added there is named here without an edit.
 */
#include "vocab.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "wire.h"

typedef struct code_name {
    uint64_t code;
    const char *name, *text;
} code_name;

static const code_name clocks[] = {
#define X(code, NAME, str) {code, str, str},
    WEFT_CLOCKS(X)
#undef X
};

static const code_name sched_sources[] = {
#define X(code, NAME, str) {code, #NAME, str},
    WEFT_SCHED_SOURCES(X)
#undef X
};

static const code_name reasons[] = {
#define X(code, NAME, text) {code, #NAME, text},
    WEFT_END_REASONS(X)
#undef X
};

static const code_name diags[] = {
#define X(code, NAME, text) {code, #NAME, text},
    WEFT_DIAGS(X)
#undef X
};

static const code_name lock_ops[] = {
#define X(code, NAME, str, reason) {code, str, str},
    WEFT_LOCK_OPS(X)
#undef X
};

static const code_name io_ops[] = {
#define X(code, NAME, str, reason) {code, str, str},
    WEFT_IO_OPS(X)
#undef X
};

static const code_name alloc_ops[] = {
#define X(code, NAME, str) {code, str, str},
    WEFT_ALLOC_OPS(X)
#undef X
};

static const code_name uv_phases[] = {
#define X(code, NAME, str) {code, str, str},
    WEFT_UV_PHASES(X)
#undef X
};

static const code_name heap_sources[] = {
#define X(code, NAME, str) {code, str, str},
    WEFT_HEAP_SOURCES(X)
#undef X
};

static const code_name block_reasons[] = {
#define X(code, NAME, str) {code, str, str},
    WEFT_BLOCK_REASONS(X)
#undef X
};


static const code_name *lookup(const code_name *t, size_t n, uint64_t code)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].code == code)
            return &t[i];
    return NULL;
}

#define LOOKUP(table, code) lookup((table), sizeof(table) / sizeof((table)[0]), (code))

static const char *name_or(const code_name *c, const char *missing) { return c ? c->name : missing; }

const char *wv_clock_name(uint64_t clock)
{
    const code_name *c = LOOKUP(clocks, clock);
    return c ? c->name : "unknown";
}

const char *wv_sched_source_text(uint64_t source)
{
    if (source == 0)
        return "not recorded";
    const code_name *c = LOOKUP(sched_sources, source);
    return c ? c->text : "unknown";
}

const char *wv_end_reason_name(uint64_t reason)
{
    const code_name *c = LOOKUP(reasons, reason);
    return c ? c->name : "unknown";
}

const char *wv_end_reason_text(uint64_t reason)
{
    const code_name *c = LOOKUP(reasons, reason);
    return c ? c->text : "unknown";
}

const char *wv_diag_name(uint64_t kind)
{
    const code_name *c = LOOKUP(diags, kind);
    return c ? c->name : NULL;
}

const char *wv_diag_text(uint64_t kind)
{
    const code_name *c = LOOKUP(diags, kind);
    return c ? c->text : NULL;
}

void wv_format_utc(uint64_t real_ns, char out[40])
{
    time_t sec = (time_t)(real_ns / 1000000000u);
    struct tm tm;
    if (!gmtime_r(&sec, &tm)) {
        strcpy(out, "unknown");
        return;
    }
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 40 - n, ".%09uZ", (unsigned)(real_ns % 1000000000u));
}

/* ---- runtime events ----------------------------------------------------- */

const char *wv_lock_op_name(uint64_t op) { return name_or(LOOKUP(lock_ops, op), NULL); }
const char *wv_io_op_name(uint64_t op) { return name_or(LOOKUP(io_ops, op), NULL); }
const char *wv_alloc_op_name(uint64_t op) { return name_or(LOOKUP(alloc_ops, op), NULL); }
const char *wv_uv_phase_name(uint64_t phase) { return name_or(LOOKUP(uv_phases, phase), NULL); }
const char *wv_heap_source_name(uint64_t source) { return name_or(LOOKUP(heap_sources, source), NULL); }
const char *wv_block_reason_name(uint64_t reason) { return name_or(LOOKUP(block_reasons, reason), "blocked"); }

/* The op tables' fourth column. */
unsigned wv_lock_op_reason(uint64_t op)
{
    switch (op) {
#define X(code, NAME, str, reason) case code: return WEFT_BLOCK_##reason;
        WEFT_LOCK_OPS(X)
#undef X
    default: return WEFT_BLOCK_LOCK;
    }
}

unsigned wv_io_op_reason(uint64_t op)
{
    switch (op) {
#define X(code, NAME, str, reason) case code: return WEFT_BLOCK_##reason;
        WEFT_IO_OPS(X)
#undef X
    default: return WEFT_BLOCK_IO;
    }
}

int wv_io_op_moves_bytes(uint64_t op)
{
    switch (op) {
    case WEFT_IO_READ: case WEFT_IO_WRITE: case WEFT_IO_PREAD: case WEFT_IO_PWRITE:
    case WEFT_IO_RECV: case WEFT_IO_SEND: case WEFT_IO_RECVFROM: case WEFT_IO_SENDTO:
    case WEFT_IO_READV: case WEFT_IO_WRITEV:
        return 1;
    default:
        return 0;
    }
}

const char *wv_code_label(const char *name, uint64_t code, char buf[32])
{
    if (name)
        return name;
    snprintf(buf, 32, "op %llu", (unsigned long long)code);
    return buf;
}
