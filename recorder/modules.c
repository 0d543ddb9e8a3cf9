/*
 * modules.c - the executable mappings of the process, for MODULE records.
 *
 * Call sites are stored as raw return addresses (docs/format.md, "Runtime
 * events"). To turn one into a function and file:line the viewer needs to
 * know which file was mapped at that address: the writer reports every
 * executable mapping of /proc/self/maps at the start of a recording, the
 * ones that appeared since in the first cycle after a dlopen (before that
 * cycle's events), and any left at its end. A library both loaded and
 * unloaded within one cycle is missed; its sites stay unsymbolized.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A mapping already reported: the same range, offset and path is not
 * reported twice. The path is compared by hash; a collision would only
 * leave out a duplicate-looking mapping. */
struct weft_module_seen {
    uint64_t start, end, offset, path_hash;
};

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

/* O(n) per mapping, O(n^2) per scan: a process has a few hundred
 * executable mappings at most, and a scan runs at the start, at the end and
 * after each dlopen. */
static bool seen_before(const weft_modules *m, const struct weft_module_seen *s)
{
    for (size_t i = 0; i < m->n; i++)
        if (memcmp(&m->seen[i], s, sizeof *s) == 0)
            return true;
    return false;
}

static int remember(weft_modules *m, const struct weft_module_seen *s)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        struct weft_module_seen *n = realloc(m->seen, cap * sizeof *n);
        if (!n)
            return -ENOMEM;
        m->seen = n, m->cap = cap;
    }
    m->seen[m->n++] = *s;
    return 0;
}

/* Parses "start-end perms offset dev inode   path". Returns the path (NULL
 * for a mapping that is not executable or has no path) and its length. */
static const char *parse_line(char *line, struct weft_module_seen *s, size_t *len)
{
    char perms[8];
    int at = 0;
    if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %*s %n", &s->start, &s->end,
               perms, &s->offset, &at) < 4 || at == 0 || !strchr(perms, 'x'))
        return NULL;
    char *path = line + at;
    size_t n = strlen(path);
    while (n && (path[n - 1] == '\n' || path[n - 1] == ' '))
        n--;
    if (n == 0) /* anonymous executable memory (a JIT): no file to read */
        return NULL;
    *len = n;
    return path;
}

int weft__modules_scan(weft_modules *m, weft_module_fn fn, void *ctx)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return -errno;
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    while (getline(&line, &cap, f) > 0) {
        struct weft_module_seen s;
        size_t len;
        const char *path = parse_line(line, &s, &len);
        if (!path)
            continue;
        s.path_hash = hash_bytes(path, len);
        if (seen_before(m, &s))
            continue;
        if ((rc = remember(m, &s)) != 0)
            break;
        fn(ctx, s.start, s.end, s.offset, path, len);
    }
    if (!rc && ferror(f))
        rc = -EIO;
    free(line);
    fclose(f);
    return rc;
}

void weft__modules_free(weft_modules *m)
{
    free(m->seen);
    m->seen = NULL;
    m->n = m->cap = 0;
}
