/*
 * compact.h - compressing a trace after the fact: `weft record` has the
 * recorder store its blocks uncompressed while the program runs and
 * compresses the file once the program has exited (compact.c).
 */
#ifndef WV_COMPACT_H
#define WV_COMPACT_H

#include <stddef.h>
#include <stdint.h>

typedef struct wv_compact_result {
    uint64_t bytes_before, bytes_after;
    uint64_t frames;      /* LZ4 frames recompressed */
    uint64_t kept_offset; /* where damage or truncation began; == bytes_before when none */
} wv_compact_result;

/* Rewrites the trace at `path` in place with every LZ4 frame recompressed
 * (LZ4HC, linked 64 KiB blocks, block and content checksums), each frame
 * holding exactly the bytes it held before, so the record stream and its
 * frame boundaries are unchanged. Skippable frames (the header) are copied
 * as they are. From the first frame that is truncated or damaged on, the
 * file is copied byte for byte: compaction never loses what a reader could
 * still recover.
 * The new file is written beside the old one and renamed over it, keeping
 * its permissions, so the trace is never half rewritten.
 * @return 0 and *res filled in; or -1 with the file untouched and a message
 *         naming the file and the problem in err (a read, write or rename
 *         error; out of memory). */
int wv_compact(const char *path, wv_compact_result *res, char *err, size_t errcap);

#endif /* WV_COMPACT_H */
