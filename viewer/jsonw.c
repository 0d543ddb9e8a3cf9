/*
 * jsonw.c - the streaming JSON writer (see jsonw.h for why it exists).
 *
 * Numbers are formatted two digits at a time from a 200-byte table instead of
 * with printf: `weft json` writes two or three numbers per event, and
 * snprintf's format parsing and locale handling would dominate the run time.
 */
#include "jsonw.h"

#include <errno.h>
#include <stdlib.h>

int wv_jw_init(wv_jw *w, FILE *out)
{
    w->out = out;
    w->len = 0;
    w->err = 0;
    w->buf = malloc(WV_JW_BUF);
    return w->buf ? 0 : -ENOMEM;
}

int wv_jw_flush(wv_jw *w)
{
    if (w->len && fwrite(w->buf, 1, w->len, w->out) != w->len && !w->err)
        w->err = errno ? errno : EIO;
    w->len = 0;
    return w->err;
}

void wv_jw_direct(wv_jw *w, const char *s, size_t n)
{
    wv_jw_flush(w);
    if (fwrite(s, 1, n, w->out) != n && !w->err)
        w->err = errno ? errno : EIO;
}

int wv_jw_close(wv_jw *w)
{
    wv_jw_flush(w);
    if (fflush(w->out) && !w->err)
        w->err = errno ? errno : EIO;
    free(w->buf);
    w->buf = NULL;
    return w->err;
}

static const char digits2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

char *wv_fmt_u64(char *p, uint64_t v)
{
    char tmp[20];
    char *e = tmp + sizeof tmp, *q = e;
    while (v >= 100) {
        unsigned d = (unsigned)(v % 100) * 2;
        v /= 100;
        *--q = digits2[d + 1];
        *--q = digits2[d];
    }
    if (v >= 10) {
        *--q = digits2[v * 2 + 1];
        *--q = digits2[v * 2];
    } else {
        *--q = (char)('0' + v);
    }
    memcpy(p, q, (size_t)(e - q));
    return p + (e - q);
}

char *wv_fmt_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return wv_fmt_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return wv_fmt_u64(p, (uint64_t)v);
}

char *wv_fmt_us(char *p, int64_t ns)
{
    uint64_t a = (uint64_t)ns;
    if (ns < 0) {
        *p++ = '-';
        a = (uint64_t)0 - a;
    }
    p = wv_fmt_u64(p, a / 1000);
    unsigned f = (unsigned)(a % 1000);
    p[0] = '.';
    p[1] = (char)('0' + f / 100);
    p[2] = digits2[(f % 100) * 2];
    p[3] = digits2[(f % 100) * 2 + 1];
    return p + 4;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid.
 * Follows RFC 3629 table 3-7 (no overlongs, no surrogates, <= U+10FFFF). */
static size_t utf8_len(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    size_t len;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

size_t wv_json_quote(char *dst, const void *src, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *s = src;
    char *p = dst;
    *p++ = '"';
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            *p++ = (char)c;
            i++;
        } else if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
            i++;
        } else if (c < 0x20) {
            const char *esc = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : NULL;
            if (esc) {
                memcpy(p, esc, 2);
                p += 2;
            } else {
                memcpy(p, "\\u00", 4);
                p[4] = hex[c >> 4];
                p[5] = hex[c & 15];
                p += 6;
            }
            i++;
        } else {
            size_t len = utf8_len(s + i, n - i);
            if (len) {
                memcpy(p, s + i, len);
                p += len;
                i += len;
            } else {
                memcpy(p, "\xEF\xBF\xBD", 3); /* U+FFFD for one bad byte */
                p += 3;
                i++;
            }
        }
    }
    *p++ = '"';
    return (size_t)(p - dst);
}

void wv_jw_str(wv_jw *w, const void *s, size_t n)
{
    const uint8_t *b = s;
    /* quote in pieces so a long message never needs more than the buffer */
    const size_t piece = 4096;
    if (n <= piece) {
        w->len += wv_json_quote(wv_jw_room(w, wv_json_quoted_max(n)), s, n);
        return;
    }
    wv_jw_raw(w, "\"", 1);
    size_t i = 0;
    while (i < n) {
        size_t k = n - i < piece ? n - i : piece;
        /* do not split a UTF-8 sequence across pieces */
        while (i + k < n && k > piece - 4 && (b[i + k] & 0xC0) == 0x80)
            k--;
        char *d = wv_jw_room(w, wv_json_quoted_max(k));
        size_t q = wv_json_quote(d, b + i, k);
        memmove(d, d + 1, q - 2); /* drop this piece's own quotes */
        w->len += q - 2;
        i += k;
    }
    wv_jw_raw(w, "\"", 1);
}
