/*
 * preload.h - what the parts of libweft-preload.so share. Compiled only into
 * the preload library (-DWEFT_PRELOAD), never into libweft.
 *
 *   alloc.c    the malloc family: heap-in-use slots, allocator pauses
 *   preload.c  pthread_create, pthread_setname_np, the lock and I/O calls
 *
 * The rest of the recorder is the same code as libweft's; session.c's
 * WEFT_OUT constructor starts the recording (see weft__autostart_gate()).
 */
#ifndef WEFT_PRELOAD_H
#define WEFT_PRELOAD_H

#include "internal.h"

#include <stddef.h>

/* Reads WEFT_ALLOC_SAMPLE and WEFT_ALLOC_PAUSE_US and installs the fork
 * handler of the heap slots. Called once by the preload constructor, before
 * the recording starts; until then the defaults apply. */
WEFT__HIDDEN void weft__alloc_init(void);

/* The real allocator, untracked and untimed: for the preload library's own
 * bookkeeping (a pthread_create trampoline's arguments), which belongs to no
 * program heap and is freed on another thread. */
WEFT__HIDDEN void *weft__alloc_raw(size_t n);
WEFT__HIDDEN void weft__alloc_raw_free(void *p);

#endif /* WEFT_PRELOAD_H */
