/*
 * sites.h - call sites of a trace as text: the symbolizer (symbols.h) fed
 * with the MODULE records its reader has read so far.
 *
 * The recorder writes the mappings present when recording starts before any
 * event, and those of a library loaded later before the first events written
 * after its dlopen, so a streaming consumer (`weft json`) knows the mapping
 * of every site it meets. (Files from before that change report such
 * libraries only at the end: there `weft json` shows their sites' addresses,
 * and `weft stats`, which prints at the end, names them.)
 */
#ifndef WV_SITES_H
#define WV_SITES_H

#include "reader.h"
#include "symbols.h"

typedef struct wv_sites wv_sites;

/* @return NULL when out of memory. */
wv_sites *wv_sites_new(wv_reader *r);
/* The site of a return address; valid until the next call on s. */
const wv_site *wv_sites_lookup(wv_sites *s, uint64_t addr);
/* Its one-line text ("func (file.c:42)", see wv_site.text). */
const char *wv_sites_text(wv_sites *s, uint64_t addr);
void wv_sites_free(wv_sites *s);

#endif /* WV_SITES_H */
