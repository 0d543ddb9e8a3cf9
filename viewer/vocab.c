/*
 * vocab.c - code names from the X-macro tables of recorder/wire.h, so a code
 * added there is named here without an edit.
 */
#include "vocab.h"

#include <stddef.h>
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

static const code_name *lookup(const code_name *t, size_t n, uint64_t code)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].code == code)
            return &t[i];
    return NULL;
}

#define LOOKUP(table, code) lookup((table), sizeof(table) / sizeof((table)[0]), (code))

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
