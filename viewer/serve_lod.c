/*
 * serve_lod.c - the level-of-detail pyramids of the serve index and the
 * searches window queries use (serve_index.h).
 *
 * A pyramid level k summarises aligned groups of 16^(k+1) entries: for a
 * row, the name covering most time in the group; for a counter, where its
 * minimum and maximum are. Any range [a, b) splits into at most 15 entries
 * at each end of each level plus whole groups, so a summary of a range of
 * n entries costs O(16 log16 n) whatever n is - a block merging a million
 * slices is named as fast as one merging a hundred.
 *
 * State rows (serve_rt.h) get a pyramid of their own: the time per state.
 * The lookups of a thread and of a slice by its global index live here too.
 *
 * The dominant name of a group is taken from its children's dominant names
 * (tallied by their time), not from every slice: exact for groups whose
 * children each hold one name, which is the common case of runs of the same
 * small function, and a close approximation otherwise.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "serve_rt.h"

#define F WV_LOD_FANOUT
#define TALLY 32

typedef struct tally {
    uint32_t name[TALLY];
    int64_t ns[TALLY];
    int n;
} tally;

static void tally_add(tally *t, uint32_t name, int64_t ns)
{
    for (int i = 0; i < t->n; i++)
        if (t->name[i] == name) {
            t->ns[i] += ns;
            return;
        }
    if (t->n < TALLY) {
        t->name[t->n] = name;
        t->ns[t->n++] = ns;
    }
}

static wv_lod_node tally_best(const tally *t)
{
    wv_lod_node best = {-1, 0};
    for (int i = 0; i < t->n; i++)
        if (t->ns[i] > best.ns)
            best = (wv_lod_node){t->ns[i], t->name[i]};
    return best;
}

/* Visits a decomposition of [a, b) into leaves (level -1) and whole pyramid
 * groups; nlevel[k] is the number of groups built at level k (0: none). */
typedef void (*lod_visit)(void *ctx, int level, size_t i);

static void lod_walk(size_t a, size_t b, const size_t *nlevel, lod_visit visit, void *ctx)
{
    int level = -1;
    while (a < b) {
        if (level + 1 >= WV_LOD_LEVELS || !nlevel[level + 1]) {
            while (a < b)
                visit(ctx, level, a++);
            return;
        }
        while (a < b && a % F)
            visit(ctx, level, a++);
        while (b > a && b % F)
            visit(ctx, level, --b);
        a /= F, b /= F;
        level++;
    }
}

/* ---- rows ----------------------------------------------------------------- */

int wv_lod_build_row(wv_row *r)
{
    size_t below = r->n;
    for (int k = 0; k < WV_LOD_LEVELS && below >= F; k++) {
        size_t n = (below + F - 1) / F;
        wv_lod_node *lv = malloc(n * sizeof *lv);
        if (!lv)
            return -ENOMEM;
        for (size_t g = 0; g < n; g++) {
            tally t = {.n = 0};
            for (size_t i = g * F; i < below && i < g * F + F; i++) {
                if (k == 0)
                    tally_add(&t, r->sl[i].name, r->sl[i].d);
                else
                    tally_add(&t, r->lod[k - 1][i].name, r->lod[k - 1][i].ns);
            }
            lv[g] = tally_best(&t);
        }
        r->lod[k] = lv;
        r->nlod[k] = n;
        below = n;
    }
    return 0;
}

typedef struct dom_ctx {
    const wv_row *r;
    tally t;
} dom_ctx;

static void dom_visit(void *ctx, int level, size_t i)
{
    dom_ctx *c = ctx;
    if (level < 0)
        tally_add(&c->t, c->r->sl[i].name, c->r->sl[i].d);
    else
        tally_add(&c->t, c->r->lod[level][i].name, c->r->lod[level][i].ns);
}

uint32_t wv_row_dominant(const wv_row *r, size_t a, size_t b)
{
    dom_ctx c = {r, {.n = 0}};
    lod_walk(a, b, r->nlod, dom_visit, &c);
    return tally_best(&c.t).name;
}

/* ---- state rows ----------------------------------------------------------- */

/* Unlike names, time per state adds up exactly: a group's sums are the sums
 * of its children's, so a block of any size gets its exact split. */
int wv_lod_build_states(wv_state_row *sr)
{
    const wv_row *r = &sr->row;
    const unsigned C = WV_STATE_CODES;
    size_t below = r->n;
    for (int k = 0; k < WV_LOD_LEVELS && below >= F; k++) {
        size_t n = (below + F - 1) / F;
        int64_t *lv = calloc(n * C, sizeof *lv);
        if (!lv)
            return -ENOMEM;
        for (size_t i = 0; i < below; i++) {
            int64_t *to = &lv[(i / F) * C];
            if (k == 0)
                to[r->sl[i].name < C ? r->sl[i].name : C - 1] += r->sl[i].d;
            else
                for (unsigned c = 0; c < C; c++)
                    to[c] += sr->sums[k - 1][i * C + c];
        }
        sr->sums[k] = lv;
        sr->nsums[k] = n;
        below = n;
    }
    return 0;
}

typedef struct sum_ctx {
    const wv_state_row *r;
    int64_t *out;
} sum_ctx;

static void sum_visit(void *ctx, int level, size_t i)
{
    sum_ctx *c = ctx;
    if (level < 0) {
        const wv_slice *s = &c->r->row.sl[i];
        c->out[s->name < WV_STATE_CODES ? s->name : WV_STATE_CODES - 1] += s->d;
        return;
    }
    for (unsigned k = 0; k < WV_STATE_CODES; k++)
        c->out[k] += c->r->sums[level][i * WV_STATE_CODES + k];
}

void wv_state_sums(const wv_state_row *r, size_t a, size_t b, int64_t out[WV_STATE_CODES])
{
    sum_ctx c = {r, out};
    memset(out, 0, WV_STATE_CODES * sizeof *out);
    lod_walk(a, b, r->nsums, sum_visit, &c);
}

/* ---- counters ------------------------------------------------------------- */

int wv_lod_build_counter(wv_icounter *c)
{
    c->min = c->n ? c->v[0] : 0;
    c->max = c->min;
    for (size_t i = 0; i < c->n; i++) {
        c->min = c->v[i] < c->min ? c->v[i] : c->min;
        c->max = c->v[i] > c->max ? c->v[i] : c->max;
    }
    size_t below = c->n;
    for (int k = 0; k < WV_LOD_LEVELS && below >= F; k++) {
        size_t n = (below + F - 1) / F;
        uint32_t *lv = malloc(2 * n * sizeof *lv);
        if (!lv)
            return -ENOMEM;
        for (size_t g = 0; g < n; g++) {
            uint32_t lo = UINT32_MAX, hi = UINT32_MAX;
            for (size_t i = g * F; i < below && i < g * F + F; i++) {
                uint32_t a = k ? c->mm[k - 1][2 * i] : (uint32_t)i;
                uint32_t b = k ? c->mm[k - 1][2 * i + 1] : (uint32_t)i;
                if (lo == UINT32_MAX || c->v[a] < c->v[lo])
                    lo = a;
                if (hi == UINT32_MAX || c->v[b] > c->v[hi])
                    hi = b;
            }
            lv[2 * g] = lo;
            lv[2 * g + 1] = hi;
        }
        c->mm[k] = lv;
        c->nmm[k] = n;
        below = n;
    }
    return 0;
}

typedef struct mm_ctx {
    const wv_icounter *c;
    size_t lo, hi;
    int any;
} mm_ctx;

static void mm_visit(void *ctx, int level, size_t i)
{
    mm_ctx *m = ctx;
    size_t a = level < 0 ? i : m->c->mm[level][2 * i];
    size_t b = level < 0 ? i : m->c->mm[level][2 * i + 1];
    if (!m->any || m->c->v[a] < m->c->v[m->lo])
        m->lo = a;
    if (!m->any || m->c->v[b] > m->c->v[m->hi])
        m->hi = b;
    m->any = 1;
}

void wv_counter_minmax(const wv_icounter *c, size_t a, size_t b, size_t *imin, size_t *imax)
{
    mm_ctx m = {c, a, a, 0};
    lod_walk(a, b, c->nmm, mm_visit, &m);
    *imin = m.lo;
    *imax = m.hi;
}

/* ---- searches ------------------------------------------------------------- */

size_t wv_lower_bound(const void *base, size_t n, size_t stride, int64_t v)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (*(const int64_t *)((const char *)base + mid * stride) < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t wv_row_first_after(const wv_row *r, int64_t t)
{
    if (!r->n)
        return 0;
    size_t i = wv_lower_bound(&r->sl[0].s, r->n, sizeof *r->sl, t);
    /* slices do not overlap in a row, so only the one before may reach t */
    if (i > 0 && r->sl[i - 1].s + r->sl[i - 1].d > t)
        i--;
    return i;
}

size_t wv_gallop(const void *base, size_t n, size_t stride, size_t lo, int64_t v)
{
    /* galloping: the next pixel column is usually a few entries away */
    size_t step = 1, hi = lo;
    while (hi < n && *(const int64_t *)((const char *)base + hi * stride) < v) {
        lo = hi + 1;
        hi += step;
        step *= 2;
    }
    if (hi > n)
        hi = n;
    if (lo >= hi)
        return lo < n ? lo : n;
    return lo + wv_lower_bound((const char *)base + lo * stride, hi - lo, stride, v);
}

size_t wv_row_seek(const wv_row *r, size_t lo, int64_t t)
{
    if (lo >= r->n)
        return r->n;
    return wv_gallop(&r->sl[0].s, r->n, sizeof *r->sl, lo, t);
}

const wv_ithread *wv_index_thread(const wv_index *x, uint64_t thread)
{
    if (thread >= x->thread_limit || x->thread_pos[thread] == UINT32_MAX)
        return NULL;
    return &x->threads[x->thread_pos[thread]];
}

const wv_row *wv_index_slice(const wv_index *x, uint64_t i, size_t *pos)
{
    if (i >= x->nslices)
        return NULL;
    size_t lo = 0, hi = x->nrows; /* last row with base <= i and a slice */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (x->rows[mid].base <= i)
            lo = mid;
        else
            hi = mid;
    }
    while (lo < x->nrows && i >= x->rows[lo].base + x->rows[lo].n)
        lo++;
    *pos = (size_t)(i - x->rows[lo].base);
    return &x->rows[lo];
}
