/*
 * sites.c - see sites.h.
 */
#include "sites.h"

#include <stdlib.h>

struct wv_sites {
    wv_reader *r;
    wv_symbols *sym;
    uint32_t known; /* modules of r already given to sym */
};

wv_sites *wv_sites_new(wv_reader *r)
{
    wv_sites *s = calloc(1, sizeof *s);
    if (s && !(s->sym = wv_symbols_new())) {
        free(s);
        return NULL;
    }
    if (s)
        s->r = r;
    return s;
}

const wv_site *wv_sites_lookup(wv_sites *s, uint64_t addr)
{
    uint32_t n = wv_reader_module_count(s->r);
    for (; s->known < n; s->known++) {
        const wv_module *m = wv_reader_module(s->r, s->known);
        if (wv_symbols_add_module(s->sym, m->start, m->end, m->offset, m->path))
            break; /* out of memory: the site stays an address */
    }
    return wv_symbols_lookup(s->sym, addr);
}

const char *wv_sites_text(wv_sites *s, uint64_t addr) { return wv_sites_lookup(s, addr)->text; }

void wv_sites_free(wv_sites *s)
{
    if (!s)
        return;
    wv_symbols_free(s->sym);
    free(s);
}
