/*
 * report.c - the results table printed at the end of weft-bench: one row per
 * figure with weft's value, the baselines measured in the same run, the
 * target and PASS, MISS or n/a (not measured, with the reason as baseline).
 * Targets are reported, never asserted: the exit status does not depend on
 * them.
 */
#include "bench.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_ROWS 16

struct bench_row {
    char figure[72];
    char weft[64];
    char baseline[512];
    char target[64];
    const char *verdict;
};

static bench_row rows[MAX_ROWS];
static int nrows;

bench_row *bench_row_add(const char *figure, const char *target, const char *verdict)
{
    if (nrows == MAX_ROWS)
        nrows--; /* never happens with the figures we have; keep the last */
    bench_row *r = &rows[nrows++];
    memset(r, 0, sizeof *r);
    snprintf(r->figure, sizeof r->figure, "%s", figure);
    snprintf(r->target, sizeof r->target, "%s", target);
    r->verdict = verdict;
    return r;
}

void bench_row_weft(bench_row *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->weft, sizeof r->weft, fmt, ap);
    va_end(ap);
}

/* Baselines accumulate, separated by "; ". */
void bench_row_base(bench_row *r, const char *fmt, ...)
{
    size_t len = strlen(r->baseline);
    if (len && len + 2 < sizeof r->baseline)
        memcpy(r->baseline + len, "; ", 3), len += 2;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->baseline + len, sizeof r->baseline - len, fmt, ap);
    va_end(ap);
}

void bench_row_verdict(bench_row *r, const char *verdict) { r->verdict = verdict; }

int bench_row_count(void) { return nrows; }

bench_row *bench_row_at(int i) { return &rows[i]; }

/* Length of the next line of `p` in a column `width` wide: up to the last
 * "; " that fits (one baseline per line where possible), else the last space,
 * else a hard cut. */
static int wrap_len(const char *p, int width)
{
    int n = (int)strlen(p);
    if (n <= width)
        return n;
    for (int cut = width; cut > 1; cut--)
        if (p[cut - 2] == ';' && p[cut - 1] == ' ')
            return cut;
    for (int cut = width; cut > 0; cut--)
        if (p[cut - 1] == ' ')
            return cut;
    return width;
}

void bench_report_print(void)
{
    const int wf = 34, ww = 30, wb = 56, wt = 28;
    printf("\n%-*s | %-*s | %-*s | %-*s | %s\n", wf, "figure", ww, "weft", wb, "baseline(s)", wt,
           "target", "result");
    for (int i = 0; i < wf + ww + wb + wt + 18; i++)
        putchar('-');
    putchar('\n');
    for (int i = 0; i < nrows; i++) {
        bench_row *r = &rows[i];
        const char *b = r->baseline;
        int n = wrap_len(b, wb);
        printf("%-*s | %-*s | %-*.*s | %-*s | %s\n", wf, r->figure, ww, r->weft, wb, n, b, wt,
               r->target, r->verdict);
        for (b += n; *b; b += n) {
            b += strspn(b, " ");
            n = wrap_len(b, wb);
            printf("%-*s | %-*s | %-*.*s | %-*s |\n", wf, "", ww, "", wb, n, b, wt, "");
        }
    }
}
