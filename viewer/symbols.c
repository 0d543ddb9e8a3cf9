/*
 * symbols.c - see symbols.h.
 *
 * Each mapping gets its own Dwfl session, opened on first use: one file may
 * be mapped more than once, and a session per mapping keeps every load
 * address unambiguous. Names and file names point into the sessions, which
 * live as long as the symbolizer, so a cached site only owns its text.
 */
#include "symbols.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct module {
    uint64_t start, end, offset, bias;
    char *path;
    const char *base;  /* file name without directories */
    int state;         /* 0: not opened yet, 1: open, -1: unreadable */
    Dwfl *dwfl;
    Dwfl_Module *mod;
} module;

typedef struct entry {
    wv_site site;
    char text[]; /* site.text */
} entry;

struct wv_symbols {
    module *mods;
    size_t nmods, cap;
    entry **cache;    /* open addressing, 2 * WV_SYMBOLS_CACHE slots */
    size_t ncache;
    wv_site scratch;  /* when out of memory */
    char scratch_text[24];
};

#define SLOTS (2 * WV_SYMBOLS_CACHE)

/* ---- debug info on this machine only ---------------------------------------- */

/* find_debuginfo callback: the separate debug file named by the build id, as
 * Debian's -dbgsym packages install it. dwfl_standard_find_debuginfo would
 * also ask debuginfod servers when DEBUGINFOD_URLS is set (Debian sets it in
 * login shells), turning `weft json` into downloads. */
static int local_debuginfo(Dwfl_Module *mod, void **user, const char *modname, Dwarf_Addr base,
                           const char *file_name, const char *debuglink, GElf_Word crc, char **debuginfo_name)
{
    (void)user, (void)modname, (void)base, (void)file_name, (void)debuglink, (void)crc;
    const unsigned char *id;
    GElf_Addr vaddr;
    int n = dwfl_module_build_id(mod, &id, &vaddr);
    if (n < 2)
        return -1;
    char path[64 + 2 * 64];
    int k = snprintf(path, sizeof path, "/usr/lib/debug/.build-id/%02x/", id[0]);
    for (int i = 1; i < n && k < (int)sizeof path - 8; i++)
        k += snprintf(path + k, sizeof path - (size_t)k, "%02x", id[i]);
    snprintf(path + k, sizeof path - (size_t)k, ".debug");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0)
        *debuginfo_name = strdup(path);
    return fd;
}

static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = local_debuginfo,
    .section_address = dwfl_offline_section_address,
};

/* ---- modules ----------------------------------------------------------------- */

/* The load bias of m: its file offset lies in an executable PT_LOAD segment
 * whose p_vaddr the mapping's start corresponds to. */
static int load_bias(module *m, int fd)
{
    elf_version(EV_CURRENT);
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    size_t n;
    int found = -1;
    if (elf && elf_kind(elf) == ELF_K_ELF && elf_getphdrnum(elf, &n) == 0) {
        for (size_t i = 0; i < n && found; i++) {
            GElf_Phdr ph;
            if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD || m->offset < ph.p_offset ||
                m->offset >= ph.p_offset + ph.p_filesz)
                continue;
            m->bias = m->start - (ph.p_vaddr + (m->offset - ph.p_offset));
            found = 0;
        }
    }
    if (elf)
        elf_end(elf);
    return found;
}

static void module_open(module *m)
{
    m->state = -1;
    int fd = open(m->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    int bad = load_bias(m, fd);
    close(fd);
    if (bad || !(m->dwfl = dwfl_begin(&callbacks)))
        return;
    dwfl_report_begin(m->dwfl);
    m->mod = dwfl_report_elf(m->dwfl, m->base, m->path, -1, m->bias, true);
    dwfl_report_end(m->dwfl, NULL, NULL);
    if (m->mod)
        m->state = 1;
}

static module *module_of(wv_symbols *s, uint64_t addr)
{
    for (size_t i = 0; i < s->nmods; i++)
        if (addr >= s->mods[i].start && addr < s->mods[i].end)
            return &s->mods[i];
    return NULL;
}

/* ---- the cache ----------------------------------------------------------------- */

static size_t slot_of(uint64_t addr)
{
    addr ^= addr >> 33;
    addr *= 0xff51afd7ed558ccdull;
    addr ^= addr >> 33;
    return (size_t)addr & (SLOTS - 1);
}

static void cache_clear(wv_symbols *s)
{
    for (size_t i = 0; i < SLOTS; i++) {
        free(s->cache[i]);
        s->cache[i] = NULL;
    }
    s->ncache = 0;
}

/* ---- lookup --------------------------------------------------------------------- */

static const char *base_name(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

/* The innermost function DWARF places `a` in, an inlined one included (the
 * ELF symbol would name the function it was inlined into); NULL without
 * DWARF there. */
static const char *dwarf_function(Dwfl_Module *mod, Dwarf_Addr a)
{
    Dwarf_Addr bias;
    Dwarf_Die *cu = dwfl_module_addrdie(mod, a, &bias);
    Dwarf_Die *scopes = NULL;
    int n = cu ? dwarf_getscopes(cu, a - bias, &scopes) : 0;
    const char *name = NULL;
    for (int i = 0; i < n && !name; i++) {
        int tag = dwarf_tag(&scopes[i]);
        if (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine)
            name = dwarf_diename(&scopes[i]);
    }
    free(scopes);
    return name;
}

/* Fills the names of addr from its module. */
static void resolve(module *m, uint64_t addr, wv_site *site, uint64_t *sym_off)
{
    if (!m->state)
        module_open(m);
    site->module = m->path;
    /* Unreadable file: its offset in the file, which is also its address in
     * the ELF file wherever p_vaddr == p_offset (the usual layout). */
    site->offset = m->state == 1 ? addr - m->bias : addr - m->start + m->offset;
    if (m->state != 1)
        return;
    /* A return address points after the call; the call itself is at -1
     * (it may be the last instruction of its function). */
    Dwarf_Addr a = addr - 1;
    GElf_Off off;
    GElf_Sym sym;
    site->function = dwfl_module_addrinfo(m->mod, a, &off, &sym, NULL, NULL, NULL);
    *sym_off = off + 1;
    Dwfl_Line *line = dwfl_module_getsrc(m->mod, a);
    int lineno = 0;
    const char *file = line ? dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL) : NULL;
    if (file && lineno > 0) {
        site->file = file;
        site->line = lineno;
        const char *fn = dwarf_function(m->mod, a);
        if (fn)
            site->function = fn;
    }
}

static int format(char *out, size_t n, const wv_site *site, const module *m, uint64_t sym_off)
{
    if (site->function && site->file)
        return snprintf(out, n, "%s (%s:%d)", site->function, base_name(site->file), site->line);
    if (site->file)
        return snprintf(out, n, "%s:%d (%s)", base_name(site->file), site->line, m->base);
    if (site->function)
        return snprintf(out, n, "%s+0x%" PRIx64 " (%s)", site->function, sym_off, m->base);
    if (m)
        return snprintf(out, n, "%s+0x%" PRIx64, m->base, site->offset);
    return snprintf(out, n, "0x%" PRIx64, site->addr);
}

static const wv_site *scratch(wv_symbols *s, uint64_t addr)
{
    s->scratch = (wv_site){.addr = addr, .text = s->scratch_text};
    snprintf(s->scratch_text, sizeof s->scratch_text, "0x%" PRIx64, addr);
    return &s->scratch;
}

const wv_site *wv_symbols_lookup(wv_symbols *s, uint64_t addr)
{
    size_t i = slot_of(addr);
    for (; s->cache[i]; i = (i + 1) & (SLOTS - 1))
        if (s->cache[i]->site.addr == addr)
            return &s->cache[i]->site;
    if (s->ncache == WV_SYMBOLS_CACHE) {
        cache_clear(s);
        i = slot_of(addr);
    }
    wv_site site = {.addr = addr};
    uint64_t sym_off = 0;
    module *m = module_of(s, addr);
    if (m)
        resolve(m, addr, &site, &sym_off);
    int len = format(NULL, 0, &site, m, sym_off);
    entry *e = len >= 0 ? malloc(sizeof *e + (size_t)len + 1) : NULL;
    if (!e)
        return scratch(s, addr);
    format(e->text, (size_t)len + 1, &site, m, sym_off);
    e->site = site;
    e->site.text = e->text;
    s->cache[i] = e;
    s->ncache++;
    return &e->site;
}

/* ---- lifetime -------------------------------------------------------------------- */

int wv_symbols_add_module(wv_symbols *s, uint64_t start, uint64_t end, uint64_t offset, const char *path)
{
    for (size_t i = 0; i < s->nmods; i++)
        if (s->mods[i].start == start && s->mods[i].end == end && !strcmp(s->mods[i].path, path))
            return 0;
    if (s->nmods == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        module *n = realloc(s->mods, cap * sizeof *n);
        if (!n)
            return -ENOMEM;
        s->mods = n, s->cap = cap;
    }
    char *p = strdup(path);
    if (!p)
        return -ENOMEM;
    s->mods[s->nmods++] = (module){start, end, offset, 0, p, base_name(p), 0, NULL, NULL};
    cache_clear(s); /* addresses seen before may lie in it */
    return 0;
}

wv_symbols *wv_symbols_new(void)
{
    wv_symbols *s = calloc(1, sizeof *s);
    if (s && !(s->cache = calloc(SLOTS, sizeof *s->cache))) {
        free(s);
        s = NULL;
    }
    return s;
}

void wv_symbols_free(wv_symbols *s)
{
    if (!s)
        return;
    cache_clear(s);
    free(s->cache);
    for (size_t i = 0; i < s->nmods; i++) {
        if (s->mods[i].dwfl)
            dwfl_end(s->mods[i].dwfl);
        free(s->mods[i].path);
    }
    free(s->mods);
    free(s);
}
