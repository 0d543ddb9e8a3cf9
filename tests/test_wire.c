/*
 * test_wire.c - the wire table's own rules (like Go's TestSpecs): every
 * defined event has a unique name, arguments are declared densely with a
 * bytes argument only last, only TIME_BASE is untimed; and the varint, task
 * delta and header encoders agree with docs/format.md.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "wire.h"

Test(wire, event_table_declares_arguments_densely_with_bytes_last)
{
    int defined = 0;
    for (unsigned c = 0; c < WEFT_EV_LIMIT; c++) {
        const weft_event_spec *s = &weft_event_specs[c];
        if (!s->name)
            continue;
        defined++;
        cr_assert_leq(s->nargs, WEFT_MAX_ARGS, "%s", s->name);
        for (unsigned i = 0; i < WEFT_MAX_ARGS; i++) {
            if (i < s->nargs) {
                cr_expect_neq(s->kind[i], WEFT_ARG_N, "%s arg %u is declared", s->name, i);
                cr_expect(s->arg_name[i][0], "%s arg %u has a name", s->name, i);
                if (s->kind[i] == WEFT_ARG_B)
                    cr_expect_eq(i, s->nargs - 1u, "%s: bytes only as the last argument", s->name);
            } else {
                cr_expect_eq(s->kind[i], WEFT_ARG_N, "%s arg %u beyond nargs is N", s->name, i);
            }
        }
        for (unsigned d = 0; d < c; d++)
            if (weft_event_specs[d].name)
                cr_expect_str_neq(weft_event_specs[d].name, s->name, "names are unique");
        cr_expect_eq(!!(s->flags & WEFT_EVF_UNTIMED), c == WEFT_EV_TIME_BASE,
                     "%s: only TIME_BASE is untimed", s->name);
    }
    cr_expect_eq(defined, WEFT_EV_LIMIT - 1, "codes are dense from 1");
    cr_expect_null(weft_event_specs[0].name, "code 0 is never an event");
}

Test(wire, diagnostics_from_the_recorder_and_the_reader_use_separate_ranges)
{
#define X(code, NAME, text) cr_expect(strlen(text) > 10, #NAME " has a description");
    WEFT_DIAGS(X)
#undef X
    cr_expect_lt(WEFT_DIAG_LOG_TRUNCATED, 64);
    cr_expect_geq(WEFT_DIAG_TASK_ENDED_TWICE, 64);
}

Test(wire, uvarint_round_trips_at_every_length_boundary)
{
    uint64_t vals[] = {0, 1, 127, 128, 16383, 16384, (1ull << 35) - 1, 1ull << 35,
                       UINT64_MAX - 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        uint8_t buf[WEFT_UVARINT_MAX];
        uint8_t *end = weft_put_uvarint(buf, vals[i]);
        cr_assert_leq(end - buf, WEFT_UVARINT_MAX);
        const uint8_t *p = buf;
        uint64_t got;
        cr_assert_eq(weft_get_uvarint(&p, end, &got), 0);
        cr_expect_eq(got, vals[i]);
        cr_expect_eq(p, end);
        /* Cut short by one byte, it is an error, not a wrong value. */
        p = buf;
        cr_expect_eq(weft_get_uvarint(&p, end - 1, &got), -1);
    }
    uint8_t over[11];
    memset(over, 0xff, sizeof over);
    const uint8_t *p = over;
    uint64_t got;
    cr_expect_eq(weft_get_uvarint(&p, over + sizeof over, &got), -1, "more than 64 bits is rejected");
}

Test(wire, zigzag_and_task_deltas_round_trip)
{
    int64_t sv[] = {0, -1, 1, INT64_MIN, INT64_MAX, -123456789};
    for (size_t i = 0; i < sizeof sv / sizeof sv[0]; i++)
        cr_expect_eq(weft_unzigzag(weft_zigzag(sv[i])), sv[i]);
    uint64_t tasks[] = {5, 5, 0, 6, 3, 1000000, 1000001, 0, 0, UINT64_MAX, 1};
    uint8_t buf[256], *p = buf;
    uint64_t wlast = 0, rlast = 0;
    for (size_t i = 0; i < sizeof tasks / sizeof tasks[0]; i++)
        p = weft_put_task(p, &wlast, tasks[i]);
    cr_expect_eq(buf[1], 1, "the same task again takes one byte of value 1");
    const uint8_t *q = buf;
    for (size_t i = 0; i < sizeof tasks / sizeof tasks[0]; i++) {
        uint64_t v = 0;
        cr_assert_eq(weft_get_uvarint(&q, p, &v), 0);
        cr_expect_eq(weft_task_of(&rlast, v), tasks[i], "task %zu", i);
    }
}

Test(wire, call_site_deltas_round_trip_and_a_nearby_site_is_short)
{
    uint64_t sites[] = {0x7f0012345678, 0x7f0012345678, 0x7f0012345000, 0x55aa00001000, 0, UINT64_MAX, 1};
    uint8_t buf[256], *p = buf, *ends[8];
    uint64_t wlast = 0, rlast = 0;
    for (size_t i = 0; i < sizeof sites / sizeof sites[0]; i++)
        ends[i] = p = weft_put_addr(p, &wlast, sites[i]);
    cr_expect_eq(ends[0] - buf, 7, "the chunk's first site is whole: 7 bytes");
    cr_expect_eq(ends[1] - ends[0], 1, "the same site again takes one byte");
    cr_expect_eq(ends[2] - ends[1], 2, "a site 0x678 bytes away takes two");
    const uint8_t *q = buf;
    for (size_t i = 0; i < sizeof sites / sizeof sites[0]; i++) {
        uint64_t v = 0;
        cr_assert_eq(weft_get_uvarint(&q, p, &v), 0);
        cr_expect_eq(weft_addr_of(&rlast, v), sites[i], "site %zu", i);
    }
}

Test(wire, header_bytes_sit_at_the_documented_offsets)
{
    weft_header h;
    memset(&h, 0, sizeof h);
    h.version = WEFT_FORMAT_VERSION;
    h.clock = WEFT_CLOCK_TSC;
    h.tick_shift = 4;
    h.pid = 0x01020304;
    h.ticks0 = 0x1111111111111111ull;
    h.mono0_ns = 0x2222222222222222ull;
    h.real0_ns = 0x3333333333333333ull;
    h.ticks_per_sec = 2100000000ull;
    h.chunk_bytes = WEFT_CHUNK_BYTES;
    h.chunks_per_thread = 16;
    strcpy(h.program, "prog");
    strcpy(h.weft_version, "0.1.0");
    uint8_t b[WEFT_HEADER_MAX];
    size_t n = weft_header_encode(&h, b);
    cr_assert_eq(n, 8 + 64 + 4 + 5);
    cr_expect_eq(weft_get_le32(b), 0x184D2A57u, "skippable frame magic");
    cr_expect_eq(weft_get_le32(b + 4), 64 + 4 + 5, "payload size");
    const uint8_t *p = b + 8;
    cr_expect_eq(memcmp(p, "WEFT", 4), 0);
    cr_expect_eq(weft_get_le16(p + 4), WEFT_FORMAT_VERSION);
    cr_expect_eq(weft_get_le16(p + 6), 64);
    cr_expect_eq(p[8], WEFT_CLOCK_TSC);
    cr_expect_eq(p[9], 4);
    cr_expect_eq(weft_get_le32(p + 12), 0x01020304u);
    cr_expect_eq(weft_get_le64(p + 16), h.ticks0);
    cr_expect_eq(weft_get_le64(p + 24), h.mono0_ns);
    cr_expect_eq(weft_get_le64(p + 32), h.real0_ns);
    cr_expect_eq(weft_get_le64(p + 40), h.ticks_per_sec);
    cr_expect_eq(weft_get_le32(p + 48), WEFT_CHUNK_BYTES);
    cr_expect_eq(weft_get_le32(p + 52), 16);
    cr_expect_eq(weft_get_le16(p + 60), 4);
    cr_expect_eq(weft_get_le16(p + 62), 5);
    cr_expect_eq(memcmp(p + 64, "prog0.1.0", 9), 0);
}
