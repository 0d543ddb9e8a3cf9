/*
 * symbols.h - call sites to function and file:line, with elfutils' libdwfl.
 *
 * A site is a return address in the recorded process. The recorder writes
 * the executable mappings of the process as MODULE records (start, end,
 * file offset, path); the symbolizer finds the mapping of an address, loads
 * the file at the same place (its load bias from the mapping and the ELF
 * program headers) and asks DWARF for the function and source line, or the
 * ELF symbol table when there is no DWARF. Results are cached per address.
 *
 * Debug info is looked for in the file itself, then under
 * /usr/lib/debug/.build-id/ (Debian's -dbgsym packages); never over the
 * network, whatever DEBUGINFOD_URLS says, so `weft json` stays fast and
 * offline. A missing or unreadable file is not an error: the site is then
 * shown as "module+0xOFFSET" (the address in the file, what addr2line
 * takes), and as "0x..." outside every known mapping. The file read is the
 * one on disk now: if it was rebuilt since the recording, the names are
 * those of the new build.
 *
 * One symbolizer serves one thread.
 */
#ifndef WV_SYMBOLS_H
#define WV_SYMBOLS_H

#include <stdint.h>

#define WV_SYMBOLS_CACHE (1u << 16) /* addresses remembered; then the cache restarts */

typedef struct wv_site {
    uint64_t addr;
    const char *function; /* NULL if unknown */
    const char *file;     /* source file as DWARF names it; NULL if unknown */
    int line;             /* 0 if unknown */
    const char *module;   /* path of the mapping's file; NULL outside every mapping */
    uint64_t offset;      /* with module: the address in the file */
    /* One line for people: "handle_request (server.c:42)",
     * "pthread_mutex_lock+0x1c (libc.so.6)", "libfoo.so+0x1234",
     * "0x7f31c2a01234" */
    const char *text;
} wv_site;

typedef struct wv_symbols wv_symbols;

/* @return NULL when out of memory. */
wv_symbols *wv_symbols_new(void);
/* Adds the executable mapping [start, end) of `path`, mapped from file offset
 * `offset`. A mapping already known is ignored. @return 0 or -ENOMEM. */
int wv_symbols_add_module(wv_symbols *s, uint64_t start, uint64_t end, uint64_t offset, const char *path);
/* The site of a return address. Never NULL (out of memory gives a site with
 * text "0x..."); valid until the next call on s. */
const wv_site *wv_symbols_lookup(wv_symbols *s, uint64_t addr);
void wv_symbols_free(wv_symbols *s);

#endif /* WV_SYMBOLS_H */
