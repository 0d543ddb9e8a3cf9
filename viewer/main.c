/*
 * main.c - the `weft` command: argument parsing and exit statuses around the
 * viewer library (reader, chrome, stats) and the server (serve.h).
 *
 * Exit status: 0 success (also for a truncated file, with a warning on
 * stderr); 1 bad input or failed output (what could be read is still
 * written); 2 usage errors. `weft record` exits with the recorded program's
 * status instead (record.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chrome.h"
#include "reader.h"
#include "record.h"
#include "serve.h"
#include "stats.h"
#include "weft.h"

enum { EXIT_OK = 0, EXIT_BAD_INPUT = 1, EXIT_USAGE = 2 };

static const char usage_text[] =
    "usage: weft <command> [arguments]\n"
    "\n"
    "commands:\n"
    "  json IN [-o OUT]   convert a .weft trace to Chrome trace-event JSON\n"
    "                     (open it in ui.perfetto.dev); writes to stdout without -o\n"
    "  stats IN           print a summary: threads, events by type, drops, diagnostics\n"
    "  serve [FILE|DIR]... [--addr HOST:PORT] [--auth USER:PASS] [--insecure]\n"
    "        [--max-upload BYTES]\n"
    "                     serve the web UI and its JSON API for the traces (every\n"
    "                     *.weft of a DIR), by default at http://127.0.0.1:8080/;\n"
    "                     port 0 picks a free port\n"
    "  version            print the weft version and the trace format version\n"
    "  help               print this help\n";

/* The command list, with `weft record`'s lines (record.c) before version. */
static void print_usage(FILE *f)
{
    const char *tail = strstr(usage_text, "  version ");
    fwrite(usage_text, 1, (size_t)(tail - usage_text), f);
    fputs(wv_record_usage, f);
    fputs(tail, f);
}

static int usage_error(const char *fmt, const char *arg)
{
    fputs("weft: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\n", stderr);
    print_usage(stderr);
    return EXIT_USAGE;
}

/* Opens IN; on failure prints the reader's message. */
static wv_reader *open_input(const char *path)
{
    wv_reader *r = wv_reader_open(path);
    if (!r) {
        fprintf(stderr, "weft: %s: out of memory\n", path);
        return NULL;
    }
    if (wv_reader_status(r) == WV_FAILED) {
        fprintf(stderr, "%s\n", wv_reader_message(r));
        wv_reader_close(r);
        return NULL;
    }
    return r;
}

/* Reports how reading went and what writing returned; gives the exit status. */
static int finish(wv_reader *r, int rc, const char *out_name)
{
    int status = EXIT_OK;
    if (wv_reader_status(r) != WV_OK)
        fprintf(stderr, "%s\n", wv_reader_message(r));
    if (wv_reader_status(r) == WV_FAILED)
        status = EXIT_BAD_INPUT;
    if (rc) {
        fprintf(stderr, "weft: %s: %s\n", out_name, rc < 0 ? strerror(-rc) : strerror(rc));
        status = EXIT_BAD_INPUT;
    }
    wv_reader_close(r);
    return status;
}

static int cmd_json(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) {
            if (i + 1 >= argc || out)
                return usage_error("json: %s needs one output file", argv[i]);
            out = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return usage_error("json: unknown option %s", argv[i]);
        } else if (in) {
            return usage_error("json: unexpected argument %s", argv[i]);
        } else {
            in = argv[i];
        }
    }
    if (!in)
        return usage_error("json: %s", "missing input file");
    wv_reader *r = open_input(in);
    if (!r)
        return EXIT_BAD_INPUT;
    FILE *f = out ? fopen(out, "w") : stdout;
    if (!f) {
        fprintf(stderr, "weft: %s: cannot create: %s\n", out, strerror(errno));
        wv_reader_close(r);
        return EXIT_BAD_INPUT;
    }
    int rc = wv_chrome_write(r, f);
    if (out && fclose(f) && !rc)
        rc = errno ? errno : EIO;
    return finish(r, rc, out ? out : "stdout");
}

static int cmd_stats(int argc, char **argv)
{
    if (argc != 1)
        return usage_error("stats: %s", argc ? "takes exactly one input file" : "missing input file");
    if (argv[0][0] == '-' && argv[0][1])
        return usage_error("stats: unknown option %s", argv[0]);
    wv_reader *r = open_input(argv[0]);
    if (!r)
        return EXIT_BAD_INPUT;
    return finish(r, wv_stats_print(r, stdout), "stdout");
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error("%s", "missing command");
    const char *cmd = argv[1];
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        print_usage(stdout);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        if (argc != 2)
            return usage_error("version: %s", "takes no arguments");
        printf("weft %s (trace format %d)\n", WEFT_VERSION_STRING, WEFT_FORMAT_VERSION);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "json"))
        return cmd_json(argc - 2, argv + 2);
    if (!strcmp(cmd, "stats"))
        return cmd_stats(argc - 2, argv + 2);
    if (!strcmp(cmd, "serve"))
        return wv_serve_main(argc - 2, argv + 2);
    if (!strcmp(cmd, "record"))
        return wv_record_main(argc - 2, argv + 2);
    return usage_error("unknown command %s", cmd);
}
