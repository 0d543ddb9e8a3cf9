/*
 * record.h - `weft record`: run an unmodified program under the preload
 * library and report the trace it leaves.
 */
#ifndef WV_RECORD_H
#define WV_RECORD_H

/* Runs `weft record` with the arguments after the command name. Returns the
 * program's exit status (128+N if a signal N killed it), 2 for a usage
 * error, 125 when weft itself could not run it (no preload library, fork
 * failed), 126 when the program is not executable and 127 when it is not
 * found, as a shell does. */
int wv_record_main(int argc, char **argv);

/* The usage lines of `weft record`, for the command's help. */
extern const char wv_record_usage[];

#endif /* WV_RECORD_H */
