/*
 * jsontest.c - see jsontest.h.
 */
#define _GNU_SOURCE
#include "jsontest.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "chrome.h"
#include "reader.h"

/* ---- running the converter ------------------------------------------------------ */

jout convert_fd(int fd)
{
    jout j = {0};
    wv_reader *r = wv_reader_open_fd(fd, "in");
    cr_assert_neq(wv_reader_status(r), WV_FAILED, "%s", wv_reader_message(r));
    size_t len;
    FILE *f = open_memstream(&j.text, &len);
    j.rc = wv_chrome_write(r, f);
    fclose(f);
    j.status = wv_reader_status(r);
    wv_reader_close(r);
    j.root = cJSON_Parse(j.text);
    cr_assert_not_null(j.root, "output is valid JSON");
    j.events = cJSON_GetObjectItemCaseSensitive(j.root, "traceEvents");
    cr_assert(cJSON_IsArray(j.events));
    return j;
}

jout convert_bytes(const void *b, size_t len)
{
    int fd = memfd_create("weft-json", MFD_CLOEXEC);
    cr_assert_eq(write(fd, b, len), (ssize_t)len);
    lseek(fd, 0, SEEK_SET);
    jout j = convert_fd(fd);
    close(fd);
    return j;
}

jout convert(tg *g)
{
    size_t len;
    const uint8_t *b = tg_bytes(g, &len);
    return convert_bytes(b, len);
}

void jout_free(jout *j)
{
    cJSON_Delete(j->root);
    free(j->text);
}

const char *str_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

double num_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    cr_assert(cJSON_IsNumber(v), "%s is a number", key);
    return v->valuedouble;
}

long long ns_of(const cJSON *o, const char *key) { return llround(num_of(o, key) * 1000.0); }

const cJSON *arg(const cJSON *ev, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ev, "args"), key);
}

/* The n-th (0-based) event with ph and, if not NULL, name. */
const cJSON *find(const jout *j, const char *ph, const char *name, int n)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, j->events)
    {
        if (strcmp(str_of(e, "ph"), ph) || (name && (!str_of(e, "name") || strcmp(str_of(e, "name"), name))))
            continue;
        if (n-- == 0)
            return e;
    }
    return NULL;
}

size_t count_ph(const jout *j, const char *ph)
{
    size_t n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, j->events) n += !strcmp(str_of(e, "ph"), ph);
    return n;
}

/* ---- structural rules, checked on any output --------------------------------------- */

typedef struct span {
    long long tid, start, end;
} span;

static int by_start(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->tid != y->tid)
        return x->tid < y->tid ? -1 : 1;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->end > y->end ? -1 : x->end < y->end;
}

/* Complete slices on one tid never partially overlap. */
void check_nesting(const jout *j)
{
    size_t n = count_ph(j, "X"), k = 0;
    span *s = calloc(n + 1, sizeof *s), *stack = calloc(n + 1, sizeof *s);
    const cJSON *e;
    cJSON_ArrayForEach(e, j->events)
    {
        if (strcmp(str_of(e, "ph"), "X"))
            continue;
        long long ts = ns_of(e, "ts"), dur = ns_of(e, "dur");
        cr_assert_geq(dur, 0);
        s[k++] = (span){(long long)num_of(e, "tid"), ts, ts + dur};
    }
    qsort(s, n, sizeof *s, by_start);
    size_t depth = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && s[i].tid != s[i - 1].tid)
            depth = 0;
        while (depth && stack[depth - 1].end <= s[i].start)
            depth--;
        if (depth)
            cr_assert_leq(s[i].end, stack[depth - 1].end, "X [%lld,%lld] crosses [%lld,%lld] on tid %lld",
                          s[i].start, s[i].end, stack[depth - 1].start, stack[depth - 1].end, s[i].tid);
        stack[depth++] = s[i];
    }
    free(s);
    free(stack);
}

/* Every async begin has exactly one end with the same cat and id. */
void check_async_pairs(const jout *j)
{
    const cJSON *b;
    cJSON_ArrayForEach(b, j->events)
    {
        if (strcmp(str_of(b, "ph"), "b"))
            continue;
        int ends = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, j->events) ends += !strcmp(str_of(e, "ph"), "e") &&
                                                 !strcmp(str_of(e, "id"), str_of(b, "id")) &&
                                                 !strcmp(str_of(e, "cat"), str_of(b, "cat"));
        cr_assert_eq(ends, 1, "task %s has %d ends", str_of(b, "id"), ends);
    }
    cr_assert_eq(count_ph(j, "b"), count_ph(j, "e"));
}

/* tids are non-zero 32-bit values and each has a thread_name. */
void check_threads(const jout *j)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, j->events)
    {
        cr_assert(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(e, "pid")));
        const cJSON *tid = cJSON_GetObjectItemCaseSensitive(e, "tid");
        if (!tid) {
            cr_assert_str_eq(str_of(e, "ph"), "M", "only process metadata lacks a tid");
            continue;
        }
        cr_assert(tid->valuedouble > 0 && tid->valuedouble <= 2147483647.0);
        int named = 0;
        const cJSON *m;
        cJSON_ArrayForEach(m, j->events) named += !strcmp(str_of(m, "ph"), "M") &&
                                                  !strcmp(str_of(m, "name"), "thread_name") &&
                                                  num_of(m, "tid") == tid->valuedouble;
        cr_assert_eq(named, 1, "tid %.0f has %d thread_name events", tid->valuedouble, named);
    }
}

/* Every "ts" and "dur" in the text has exactly three decimals. */
void check_decimals(const char *text)
{
    for (const char *k = "\"ts\":"; k; k = strcmp(k, "\"ts\":") ? NULL : "\"dur\":")
        for (const char *p = strstr(text, k); p; p = strstr(p + 1, k)) {
            const char *q = p + strlen(k);
            if (*q == '-')
                q++;
            cr_assert(*q >= '0' && *q <= '9', "digits after %.20s", p);
            while (*q >= '0' && *q <= '9')
                q++;
            cr_assert(q[0] == '.' && q[1] >= '0' && q[1] <= '9' && q[2] >= '0' && q[2] <= '9' &&
                          q[3] >= '0' && q[3] <= '9' && (q[4] == ',' || q[4] == '}'),
                      "three decimals in %.30s", p);
        }
}

void check_all(const jout *j)
{
    check_nesting(j);
    check_async_pairs(j);
    check_threads(j);
    check_decimals(j->text);
}

