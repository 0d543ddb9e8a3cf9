/*
 * sample.h - starting and stopping the recording, done the same way by every
 * sample: record to the -o file, or join a recording that is already running
 * (WEFT_OUT set, or the program runs under `weft record`), and fail loudly
 * rather than run without the trace the sample exists to show.
 */
#ifndef WEFT_SAMPLE_H
#define WEFT_SAMPLE_H

#include <weft.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* Starts recording into `path`; exits with status 1 if it cannot. Returns
 * where the trace goes, for the closing message. */
static inline const char *sample_start(const char *prog, const char *path)
{
    weft_config cfg = {0};
    cfg.path = path;
    int rc = weft_start(&cfg);
    if (rc == -EBUSY) { /* already recording since before main() */
        const char *env = getenv("WEFT_OUT");
        return env ? env : "the running recording";
    }
    if (rc) {
        fprintf(stderr, "%s: cannot record to %s: %s\n", prog, path, weft_strerror(rc));
        exit(1);
    }
    return path;
}

/* Finishes the trace file; exits with status 1 if any of it failed. */
static inline void sample_stop(const char *prog)
{
    int rc = weft_stop();
    if (rc && rc != -ESRCH) {
        fprintf(stderr, "%s: recording failed: %s\n", prog, weft_strerror(rc));
        exit(1);
    }
}

#endif
