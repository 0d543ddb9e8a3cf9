/*
 * real.c - the preload library's pointers to the real functions it
 * interposes (see real.h). Compiled only into libweft-preload.so, with
 * -DWEFT_PRELOAD; libweft calls the real functions directly.
 */
#define _GNU_SOURCE
#include "real.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef WEFT_PRELOAD
#error "real.c belongs to the preload build (-DWEFT_PRELOAD)"
#endif

/* Reports an unresolvable function without going through any interposed call
 * (write itself may be the one missing) and stops: calling on would recurse
 * into the stub forever. */
static void die_unresolved(const char *name)
{
    static const char head[] = "weft: libweft-preload.so cannot find the real ";
    syscall(SYS_write, 2, head, sizeof head - 1);
    syscall(SYS_write, 2, name, strlen(name));
    syscall(SYS_write, 2, "\n", 1);
    abort();
}

static void *resolve(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (!p)
        die_unresolved(name);
    return p;
}

/* The first-call stubs: resolve everything, then call the real function. */
#define X(ret, name, params, args)                                                                  \
    static ret first_##name params                                                                  \
    {                                                                                               \
        weft__real_init();                                                                          \
        return WEFT_REAL(name) args;                                                                \
    }
WEFT_REAL_FUNCS(X)
#undef X

#define X(ret, name, params, args) ret(*weft__real_##name) params = first_##name;
WEFT_REAL_FUNCS(X)
#undef X

/* dlsym returns the default symbol version, which is what a program linked
 * today calls (e.g. pthread_cond_wait@@GLIBC_2.3.2, not the 2.2.5 one). */
void weft__real_init(void)
{
#define X(ret, name, params, args)                                                                  \
    __atomic_store_n(&weft__real_##name, (ret(*) params)resolve(#name), __ATOMIC_RELAXED);
    WEFT_REAL_FUNCS(X)
#undef X
}
