/*
 * test_symbols.c - the call-site symbolizer (viewer/symbols.c) on this very
 * test binary, built with -g: the executable mappings come from
 * /proc/self/maps as the recorder writes them, and a return address taken
 * in a known function must come back as that function, this file and the
 * line of the call. Then the fallbacks: a library without DWARF (its ELF
 * symbol), a file that is gone (module+offset), no mapping at all.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbols.h"
#include "testutil.h"

static void add(void *ctx, uint64_t start, uint64_t end, uint64_t offset, const char *path)
{
    cr_assert_eq(wv_symbols_add_module(ctx, start, end, offset, path), 0);
}

/* The executable mappings of this process, as MODULE records carry them. */
static wv_symbols *from_maps(void)
{
    wv_symbols *s = wv_symbols_new();
    cr_assert_not_null(s);
    cr_assert_gt(tu_self_mappings(add, s), 0);
    return s;
}

static __attribute__((noinline)) uint64_t return_address(void)
{
    uint64_t a = (uint64_t)__builtin_return_address(0);
    __asm__ volatile("" ::: "memory"); /* not a tail call */
    return a;
}

static int call_line;

/* A known caller: the site of its call is this function, this file, the
 * line of the call. */
static __attribute__((noinline)) uint64_t known_caller(void)
{
    call_line = __LINE__ + 1;
    uint64_t a = return_address();
    __asm__ volatile("" ::: "memory");
    return a;
}

Test(symbols, a_site_in_this_binary_is_its_function_file_and_line)
{
    wv_symbols *s = from_maps();
    uint64_t addr = known_caller();
    const wv_site *site = wv_symbols_lookup(s, addr);
    cr_assert_str_eq(site->function, "known_caller");
    cr_assert_not_null(site->file);
    const char *base = strrchr(site->file, '/');
    cr_assert_str_eq(base ? base + 1 : site->file, "test_symbols.c");
    cr_assert_eq(site->line, call_line);
    char want[64];
    snprintf(want, sizeof want, "known_caller (test_symbols.c:%d)", call_line);
    cr_assert_str_eq(site->text, want);
    cr_assert_not_null(site->module);
    cr_assert_eq(wv_symbols_lookup(s, addr), site, "cached");
    wv_symbols_free(s);
}

static int inlined_line;

/* Inlined into its caller: the site is still named after it, as DWARF
 * knows, not after the function it was inlined into. */
static inline __attribute__((always_inline)) uint64_t inlined_caller(void)
{
    inlined_line = __LINE__ + 1;
    uint64_t a = return_address();
    __asm__ volatile("" ::: "memory");
    return a;
}

static __attribute__((noinline)) uint64_t outer(void) { return inlined_caller(); }

Test(symbols, an_inlined_function_is_named_by_dwarf)
{
    wv_symbols *s = from_maps();
    const wv_site *site = wv_symbols_lookup(s, outer());
    cr_assert_str_eq(site->function, "inlined_caller", "%s", site->text);
    cr_assert_eq(site->line, inlined_line);
    wv_symbols_free(s);
}

Test(symbols, a_library_without_dwarf_gives_its_elf_symbol)
{
    wv_symbols *s = from_maps();
    /* inside getpid: a return address 4 bytes in is a call at +3 */
    uint64_t addr = (uint64_t)(uintptr_t)&getpid + 4;
    const wv_site *site = wv_symbols_lookup(s, addr);
    cr_assert_not_null(site->function, "%s", site->text);
    cr_assert(strstr(site->function, "getpid"), "%s", site->function);
    if (!site->file) /* unless the machine has libc6-dbg */
        cr_assert(strstr(site->text, "+0x4 (libc.so.6)"), "%s", site->text);
    wv_symbols_free(s);
}

Test(symbols, a_missing_file_gives_module_and_offset)
{
    wv_symbols *s = wv_symbols_new();
    cr_assert_eq(wv_symbols_add_module(s, 0x10000000, 0x10010000, 0x2000, "/nonexistent/dir/libgone.so.1"), 0);
    const wv_site *site = wv_symbols_lookup(s, 0x10000123);
    cr_assert_null(site->function);
    cr_assert_str_eq(site->module, "/nonexistent/dir/libgone.so.1");
    cr_assert_str_eq(site->text, "libgone.so.1+0x2123", "its offset in the file");
    site = wv_symbols_lookup(s, 0x7f0000001234);
    cr_assert_null(site->module);
    cr_assert_str_eq(site->text, "0x7f0000001234");
    wv_symbols_free(s);
}

Test(symbols, a_file_that_is_not_elf_is_not_a_problem)
{
    char path[] = "/tmp/weft-notelf-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "not an elf file\n", 16), 16);
    close(fd);
    wv_symbols *s = wv_symbols_new();
    wv_symbols_add_module(s, 0x400000, 0x500000, 0, path);
    const wv_site *site = wv_symbols_lookup(s, 0x400010);
    cr_assert_null(site->function);
    cr_assert(strstr(site->text, "weft-notelf-"), "%s", site->text);
    wv_symbols_free(s);
    unlink(path);
}
