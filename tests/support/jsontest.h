/*
 * jsontest.h - helpers of the `weft json` tests: convert a trace with
 * wv_chrome_write(), parse the output back with cJSON, find events, and
 * check the rules Perfetto relies on (X slices nest per tid, async pairs
 * match, every tid is named and 32-bit, times have three decimals).
 */
#ifndef WEFT_JSONTEST_H
#define WEFT_JSONTEST_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "tracegen.h"

typedef struct jout {
    char *text;
    cJSON *root;
    cJSON *events; /* traceEvents */
    int status;    /* the reader's, after conversion */
    int rc;        /* wv_chrome_write()'s */
} jout;

jout convert_fd(int fd);
jout convert_bytes(const void *b, size_t len);
jout convert(tg *g);
void jout_free(jout *j);

const char *str_of(const cJSON *o, const char *key);
double num_of(const cJSON *o, const char *key);
/* A microsecond field in ns. */
long long ns_of(const cJSON *o, const char *key);
const cJSON *arg(const cJSON *ev, const char *key);
/* The n-th (0-based) event with ph and, if not NULL, name. */
const cJSON *find(const jout *j, const char *ph, const char *name, int n);
size_t count_ph(const jout *j, const char *ph);

void check_nesting(const jout *j);
void check_async_pairs(const jout *j);
void check_threads(const jout *j);
void check_decimals(const char *text);
void check_all(const jout *j);

#endif
