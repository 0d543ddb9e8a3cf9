/*
 * testutil.h - helpers shared by the Criterion tests: temporary paths, and a
 * whole trace loaded into memory (through the viewer's reader) so a test can
 * assert on exact event sequences.
 */
#ifndef WEFT_TESTUTIL_H
#define WEFT_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "reader.h"

typedef struct tev {
    uint8_t code;
    uint32_t thread;     /* recorder thread index */
    uint64_t tid;
    int64_t ns;
    uint64_t arg[WEFT_MAX_ARGS];
    const char *str[WEFT_MAX_ARGS]; /* S arguments resolved; NULL otherwise */
    char *data;          /* B argument, NUL-terminated copy; NULL if none */
    int64_t dur_ns;      /* runtime events with a "dur" argument: it in ns */
} tev;

typedef struct trace {
    tev *ev;
    size_t n;
    weft_header hdr;
    wv_end end;
    int status;          /* enum wv_status */
    char msg[1024];
    char **strings;      /* all string texts, to keep str[] pointers alive */
    size_t nstrings;
} trace;

/* A fresh path under the build's test tmp directory, unique per process. */
const char *tu_path(const char *name);

/* Reads a whole trace; returns its status (WV_OK, WV_TRUNCATED, WV_FAILED). */
int tu_load(const char *path, trace *t);
void tu_free(trace *t);

/* Events of one code (0: all), optionally on one thread index (0: any). */
size_t tu_count(const trace *t, unsigned code, uint32_t thread);
/* The i-th event of `code` (0-based), or NULL. */
const tev *tu_nth(const trace *t, unsigned code, size_t i);
/* Events the program generated: all but TIME_BASE and DROP bookkeeping and
 * the recorder's own system stream (thread index 0). */
size_t tu_user_events(const trace *t);

/* "K=V" in one of a few static buffers (the last 4 stay valid), for tu_run. */
char *tu_env(const char *k, const char *v);

/* Runs argv with extra environment entries ("K=V", NULL-terminated); returns
 * the exit status (or 128+signal), with stdout+stderr in *out (malloc'd). */
int tu_run(char *const argv[], char *const env[], char **out);

/* Calls fn for each executable file mapping of this process, as the
 * recorder's MODULE records list them. @return how many. */
int tu_self_mappings(void (*fn)(void *ctx, uint64_t start, uint64_t end, uint64_t offset, const char *path),
                     void *ctx);

/* xorshift64: a reproducible stream of pseudo-random numbers from *state
 * (non-zero). */
static inline uint64_t tu_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

#endif
