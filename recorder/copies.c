/*
 * copies.c - which copy of the recorder starts recording from WEFT_OUT when a
 * process holds more than one, and which process of a tree records.
 *
 * `weft record` preloads libweft-preload.so, a whole recorder, into a program
 * that may link libweft as well. Two copies must never both record: each
 * would write the same file, and a wait would be counted by both.
 *
 *   - libweft.so behind the preload library: the preload library comes first
 *     in the lookup order, so the program's weft_* calls (and its reads of
 *     weft__gen) reach the preload copy; libweft.so's own copy stays inert.
 *     A copy knows it is not the first when dlsym(RTLD_DEFAULT, "weft_start")
 *     lies in another object than its own code.
 *   - libweft linked statically: the program's weft_* calls bind to its own
 *     copy at link time and cannot be redirected, while its pthread and libc
 *     calls still reach the preload interposers; each copy would record half
 *     of the story and the wrappers' waits twice. Not supported: the static
 *     copy (or a shadowed preload copy) says so and the process exits with
 *     status 126 ("cannot run", as in a shell), before main().
 *
 * Processes: the program's children inherit LD_PRELOAD and WEFT_OUT, and
 * recording there would truncate the parent's trace. `weft record` names the
 * process to record in WEFT_RECORD_PID; every copy in every other process
 * stays inert (a child that exec()s keeps its pid, so `exec prog` in a
 * wrapper script records prog).
 */
#define _GNU_SOURCE
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define EXIT_CANNOT_RUN 126

static bool recorded_process(void)
{
    const char *pid = getenv("WEFT_RECORD_PID");
    if (!pid || !*pid)
        return true;
    char *end;
    long v = strtol(pid, &end, 10);
    return !*end && v == (long)getpid();
}

/* The object holding `addr`: its base address, and its path in *name. */
static const void *object_of(const void *addr, const char **name)
{
    Dl_info info;
    if (!addr || !dladdr(addr, &info))
        return NULL;
    *name = info.dli_fname;
    return info.dli_fbase;
}

/* The path of the first weft_start in the lookup order, or NULL if it is
 * this copy's (or there is none, e.g. a static program that exports
 * nothing). */
static const char *other_first_copy(void)
{
    const char *first_name = NULL, *own_name = NULL;
    const void *first = object_of(dlsym(RTLD_DEFAULT, "weft_start"), &first_name);
    const void *own = object_of((const void *)weft__autostart_gate, &own_name);
    return first && first != own ? first_name : NULL;
}

#ifndef WEFT_PRELOAD
/* True if this copy is part of the executable itself (linked statically). */
static bool in_executable(void)
{
    Dl_info info;
    struct link_map *map = NULL;
    if (!dladdr1((const void *)weft__autostart_gate, &info, (void **)&map, RTLD_DL_LINKMAP) || !map)
        return false;
    return map->l_name[0] == '\0'; /* the main program's link map has no name */
}
#endif

static _Noreturn void refuse(const char *what, const char *other)
{
    if (!*other) /* the main program's link map has an empty name */
        other = program_invocation_name;
    fprintf(stderr,
            "weft: %s, and %s holds another copy of the recorder: both would record.\n"
            "weft: link the program with libweft.so (-lweft) to record it with weft record,\n"
            "weft: or record it with WEFT_OUT=FILE alone.\n",
            what, other);
    _exit(EXIT_CANNOT_RUN);
}

bool weft__autostart_gate(void)
{
    if (!recorded_process())
        return false;
    const char *other = other_first_copy();
    if (!other)
        return true;
#ifdef WEFT_PRELOAD
    refuse("the program defines the weft API itself (libweft linked statically and exported)",
           other);
#else
    if (in_executable())
        refuse("this program links libweft statically", other);
    return false; /* the first copy takes the program's calls, and records */
#endif
}
