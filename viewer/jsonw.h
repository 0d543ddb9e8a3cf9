/*
 * jsonw.h - a streaming JSON text writer.
 *
 * Hand-written rather than cJSON because cJSON builds the whole document as a
 * tree before printing it: `weft json` would then need memory proportional to
 * the trace (gigabytes for 10 M events) and spend most of its time allocating
 * nodes. This writer appends text to one large buffer and fwrite()s it when
 * full, so output costs a memcpy and a few digit conversions per field.
 *
 * The caller is responsible for the structure (commas, brackets); the writer
 * guarantees that every string and number it formats is valid JSON, whatever
 * bytes it is given.
 */
#ifndef WV_JSONW_H
#define WV_JSONW_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define WV_JW_BUF (1u << 20)
#define WV_JW_RESERVE 64 /* bytes a single number or literal may need */

typedef struct wv_jw {
    FILE *out;
    char *buf;
    size_t len;
    int err; /* errno of the first failed write, 0 if none */
} wv_jw;

/* @return 0, or -ENOMEM. */
int wv_jw_init(wv_jw *w, FILE *out);
/* Writes what is buffered. @return 0 or the first write error (positive errno). */
int wv_jw_flush(wv_jw *w);
/* Flushes and frees the buffer. @return as wv_jw_flush(). */
int wv_jw_close(wv_jw *w);

/* Makes room for n more bytes (n <= WV_JW_BUF). */
static inline char *wv_jw_room(wv_jw *w, size_t n)
{
    if (w->len + n > WV_JW_BUF)
        wv_jw_flush(w);
    return w->buf + w->len;
}

/* Writes n bytes past the buffer (for text larger than it). */
void wv_jw_direct(wv_jw *w, const char *s, size_t n);

/* Appends raw text that is already valid JSON. */
static inline void wv_jw_raw(wv_jw *w, const char *s, size_t n)
{
    if (n > WV_JW_BUF)
        return wv_jw_direct(w, s, n);
    memcpy(wv_jw_room(w, n), s, n);
    w->len += n;
}

/* `"" lit` only compiles for a string literal, so sizeof is its length. */
#define WV_JW_LIT(w, lit) wv_jw_raw((w), "" lit, sizeof("" lit) - 1)

/* Digit formatting into p; each returns the end. */
char *wv_fmt_u64(char *p, uint64_t v);
char *wv_fmt_i64(char *p, int64_t v);
/* Microseconds with exactly three decimals from integer ns: 1234567 -> "1234.567". */
char *wv_fmt_us(char *p, int64_t ns);

static inline void wv_jw_u64(wv_jw *w, uint64_t v)
{
    w->len = (size_t)(wv_fmt_u64(wv_jw_room(w, WV_JW_RESERVE), v) - w->buf);
}

static inline void wv_jw_i64(wv_jw *w, int64_t v)
{
    w->len = (size_t)(wv_fmt_i64(wv_jw_room(w, WV_JW_RESERVE), v) - w->buf);
}

static inline void wv_jw_us(wv_jw *w, int64_t ns)
{
    w->len = (size_t)(wv_fmt_us(wv_jw_room(w, WV_JW_RESERVE), ns) - w->buf);
}

/* The JSON string literal (with quotes) for n bytes of s: quotes, backslashes
 * and control characters escaped; bytes that are not valid UTF-8 (stray
 * continuation bytes, overlong forms, surrogates, values past U+10FFFF, cut
 * sequences) each become U+FFFD. At most wv_json_quoted_max(n) bytes are
 * written to dst. @return the length written. */
size_t wv_json_quote(char *dst, const void *s, size_t n);
static inline size_t wv_json_quoted_max(size_t n) { return 6 * n + 2; }

/* Appends the quoted, escaped string. */
void wv_jw_str(wv_jw *w, const void *s, size_t n);

#endif /* WV_JSONW_H */
