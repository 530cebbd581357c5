// SPDX-License-Identifier: Apache-2.0
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "crypto/cbor.h"

TestSuite(cbor, .timeout = 10);

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
	size_t n = 0;

	while (h[0] && h[1] && n < cap) {
		if (h[0] == ' ') {
			h++;
			continue;
		}
		cr_assert_eq(sscanf(h, "%2hhx", &out[n]), 1);
		n++;
		h += 2;
	}
	return n;
}

static void expect_bytes(struct sl_cbor_writer *w, const char *hex)
{
	uint8_t want[64];
	size_t n = unhex(hex, want, sizeof(want)), len;

	cr_assert_eq(sl_cbor_writer_finish(w, &len), 0);
	cr_assert_eq(len, n, "length %zu, want %zu (%s)", len, n, hex);
	cr_assert(!memcmp(w->start, want, n), "bytes differ from %s", hex);
}

Test(cbor, uint_shortest_form)
{
	static const struct {
		uint64_t v;
		const char *hex;
	} t[] = {
		{ 0, "00" }, { 23, "17" }, { 24, "1818" }, { 255, "18ff" }, { 256, "190100" },
		{ 65535, "19ffff" }, { 65536, "1a00010000" }, { 0xffffffff, "1affffffff" },
		{ 0x100000000ull, "1b0000000100000000" }, { UINT64_MAX, "1bffffffffffffffff" },
		{ 0x0102030405060708ull, "1b0102030405060708" },	/* G5 session ping */
	};
	uint8_t buf[16];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sl_cbor_writer w;
		struct sl_cbor_reader rd;
		uint64_t v;

		sl_cbor_writer_init(&w, buf, sizeof(buf));
		sl_cbor_put_uint(&w, t[i].v);
		expect_bytes(&w, t[i].hex);
		cr_assert_eq(sl_cbor_head_len(t[i].v), sl_cbor_writer_len(&w));
		sl_cbor_reader_init(&rd, buf, sl_cbor_writer_len(&w));
		cr_assert_eq(sl_cbor_get_uint(&rd, &v), 0);
		cr_assert_eq(v, t[i].v);
		cr_assert(sl_cbor_at_end(&rd));
	}
}

Test(cbor, negative_ints)
{
	static const struct {
		int64_t v;
		const char *hex;
	} t[] = {
		{ -1, "20" }, { -24, "37" }, { -25, "3818" }, { -256, "38ff" },
		{ -257, "390100" }, { INT64_MIN, "3b7fffffffffffffff" }, { INT64_MAX, "1b7fffffffffffffff" },
	};
	uint8_t buf[16];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sl_cbor_writer w;
		struct sl_cbor_reader rd;
		int64_t v;

		sl_cbor_writer_init(&w, buf, sizeof(buf));
		sl_cbor_put_int(&w, t[i].v);
		expect_bytes(&w, t[i].hex);
		sl_cbor_reader_init(&rd, buf, sl_cbor_writer_len(&w));
		cr_assert_eq(sl_cbor_get_int(&rd, &v), 0);
		cr_assert_eq(v, t[i].v);
	}
	/* -2^64 does not fit int64_t */
	{
		struct sl_cbor_reader rd;
		int64_t v;

		unhex("3bffffffffffffffff", buf, sizeof(buf));
		sl_cbor_reader_init(&rd, buf, 9);
		cr_assert_eq(sl_cbor_get_int(&rd, &v), -EBADMSG);
		cr_assert_eq(sl_cbor_offset(&rd), 0, "cursor moved on error");
	}
}

Test(cbor, strings_and_simple)
{
	uint8_t buf[64];
	struct sl_cbor_writer w;

	sl_cbor_writer_init(&w, buf, sizeof(buf));
	sl_cbor_put_bytes(&w, "app", 3);
	sl_cbor_put_text(&w, "{}", 2);
	sl_cbor_put_null(&w);
	sl_cbor_put_bool(&w, false);
	sl_cbor_put_bool(&w, true);
	sl_cbor_put_array(&w, 0);
	sl_cbor_put_enum(&w, 2, 0);	/* unit variant: Close */
	sl_cbor_put_bytes(&w, "", 0);
	expect_bytes(&w, "43617070 627b7d f6 f4 f5 80 820280 40");
}

Test(cbor, enum_with_fields_is_primary_key_shape)
{
	uint8_t pk[32], buf[64];
	struct sl_cbor_writer w;

	memset(pk, 0xab, sizeof(pk));
	sl_cbor_writer_init(&w, buf, sizeof(buf));
	sl_cbor_put_enum(&w, 0, 1);
	sl_cbor_put_bytes(&w, pk, 32);
	cr_assert_eq(sl_cbor_writer_len(&w), 5 + 32);
	cr_assert(!memcmp(buf, "\x82\x00\x81\x58\x20", 5));
}

Test(cbor, writer_overflow_is_sticky)
{
	uint8_t buf[4];
	struct sl_cbor_writer w;
	size_t len;

	sl_cbor_writer_init(&w, buf, sizeof(buf));
	sl_cbor_put_uint(&w, 1);
	sl_cbor_put_bytes(&w, "abcd", 4);	/* does not fit */
	sl_cbor_put_uint(&w, 2);		/* would fit, must not be written */
	cr_assert_eq(sl_cbor_writer_finish(&w, &len), -E2BIG);
	/* the header fitted, the body did not; nothing after the failure */
	cr_assert_eq(sl_cbor_writer_len(&w), 2);
	cr_assert_null(sl_cbor_put_reserve(&w, 0));
}

Test(cbor, bytes_header_then_in_place)
{
	uint8_t buf[16];
	struct sl_cbor_writer w;
	uint8_t *at;

	sl_cbor_writer_init(&w, buf, sizeof(buf));
	sl_cbor_put_bytes_hdr(&w, 5);
	at = sl_cbor_put_reserve(&w, 5);
	cr_assert_not_null(at);
	memcpy(at, "hello", 5);
	expect_bytes(&w, "45 68656c6c6f");
}

/* Malformed and hostile inputs: every one -EBADMSG from skip, nothing read past end. */
Test(cbor, skip_rejects_malformed)
{
	static const char *bad[] = {
		"",			/* nothing */
		"18",			/* truncated uint8 argument */
		"19ff",			/* truncated uint16 */
		"1bffffffff",		/* truncated uint64 */
		"1c", "1d", "1e",	/* reserved additional info */
		"1f",			/* indefinite uint */
		"43 6162",		/* byte string past end */
		"5f 41 61 ff",		/* indefinite byte string: rejected by design */
		"7f ff",		/* indefinite text string */
		"83 01 02",		/* array short of elements */
		"9b ffffffffffffffff",	/* absurd count */
		"9f 01 02",		/* indefinite array without break */
		"a1 01",		/* map missing a value */
		"bf 01 02 03 ff",	/* indefinite map with an odd item count */
		"ff",			/* stray break */
		"c1",			/* tag without an item */
		"f8",			/* simple value missing its byte */
		"fa 0000",		/* truncated float32 */
		"5b 8000000000000000",	/* byte string longer than the address space */
	};
	uint8_t buf[64];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sl_cbor_reader rd;
		size_t n = unhex(bad[i], buf, sizeof(buf));
		/* a copy exactly n long so ASan sees a read past end */
		uint8_t *exact = malloc(n ? n : 1);

		memcpy(exact, buf, n);
		sl_cbor_reader_init(&rd, exact, n);
		cr_assert_eq(sl_cbor_skip(&rd), -EBADMSG, "accepted '%s'", bad[i]);
		free(exact);
	}
}

Test(cbor, skip_accepts_tolerated_items)
{
	static const char *good[] = {
		"00", "3bffffffffffffffff", "4100", "6161", "80", "9fff", "9f 01 9f ff ff",
		"a1 01 02", "bf 01 02 ff", "c1 1a 00000000", "d8 20 6161", "f93c00",
		"fa 3f800000", "fb 3ff0000000000000", "f7", "f0", "f8 ff", "1800", /* non-shortest */
	};
	uint8_t buf[64];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct sl_cbor_reader rd;
		size_t n = unhex(good[i], buf, sizeof(buf));

		sl_cbor_reader_init(&rd, buf, n);
		cr_assert_eq(sl_cbor_skip(&rd), 0, "rejected '%s'", good[i]);
		cr_assert(sl_cbor_at_end(&rd), "'%s' not consumed", good[i]);
	}
}

Test(cbor, depth_bound)
{
	uint8_t buf[64];
	struct sl_cbor_reader rd;

	/* 16 nested arrays around 00: depth 16 is allowed */
	memset(buf, 0x81, 16);
	buf[16] = 0;
	sl_cbor_reader_init(&rd, buf, 17);
	cr_assert_eq(sl_cbor_skip(&rd), 0);
	/* 17: refused, and so are deep indefinite arrays and tag chains */
	memset(buf, 0x81, 17);
	buf[17] = 0;
	sl_cbor_reader_init(&rd, buf, 18);
	cr_assert_eq(sl_cbor_skip(&rd), -EBADMSG);
	memset(buf, 0x9f, 40);
	sl_cbor_reader_init(&rd, buf, 40);
	cr_assert_eq(sl_cbor_skip(&rd), -EBADMSG);
	memset(buf, 0xc6, 40);
	sl_cbor_reader_init(&rd, buf, 40);
	cr_assert_eq(sl_cbor_skip(&rd), -EBADMSG);
}

Test(cbor, typed_getters_reject_wrong_types_and_tags)
{
	uint8_t buf[16];
	struct sl_cbor_reader rd;
	const uint8_t *p;
	size_t n;
	uint64_t v;
	bool b;

	n = unhex("c1 01", buf, sizeof(buf));
	sl_cbor_reader_init(&rd, buf, n);
	cr_assert_eq(sl_cbor_get_uint(&rd, &v), -EBADMSG);
	n = unhex("6161", buf, sizeof(buf));
	sl_cbor_reader_init(&rd, buf, n);
	cr_assert_eq(sl_cbor_get_bytes(&rd, &p, &n), -EBADMSG);
	n = unhex("f6", buf, sizeof(buf));
	sl_cbor_reader_init(&rd, buf, n);
	cr_assert_eq(sl_cbor_get_bool(&rd, &b), -EBADMSG);
	cr_assert_eq(sl_cbor_get_null(&rd), 0);
	n = unhex("1864", buf, sizeof(buf));
	sl_cbor_reader_init(&rd, buf, n);
	cr_assert_eq(sl_cbor_get_uint_max(&rd, 99, &v), -EBADMSG);
	cr_assert_eq(sl_cbor_get_uint_max(&rd, 100, &v), 0);
	cr_assert_eq(v, 100);
	n = unhex("4401020304", buf, sizeof(buf));
	sl_cbor_reader_init(&rd, buf, n);
	cr_assert_eq(sl_cbor_get_bytes_n(&rd, buf + 8, 3), -EBADMSG);
	cr_assert_eq(sl_cbor_get_bytes_n(&rd, buf + 8, 4), 0);
}

/* A struct [a, ?b, ?c] read from every shape minicbor or a tolerant peer may send. */
static int read_struct(const char *hex, uint64_t *a, bool *has_b, uint64_t *b, bool *has_c)
{
	uint8_t buf[64];
	struct sl_cbor_reader rd;
	struct sl_cbor_array arr;
	size_t n = unhex(hex, buf, sizeof(buf));
	uint64_t c;
	int ret;

	sl_cbor_reader_init(&rd, buf, n);
	ret = sl_cbor_array_enter(&rd, &arr);
	if (!ret)
		ret = sl_cbor_field(&rd, &arr);
	if (!ret)
		ret = sl_cbor_get_uint(&rd, a);
	if (!ret)
		ret = sl_cbor_field_opt(&rd, &arr, has_b);
	if (!ret && *has_b)
		ret = sl_cbor_get_uint(&rd, b);
	if (!ret)
		ret = sl_cbor_field_opt(&rd, &arr, has_c);
	if (!ret && *has_c)
		ret = sl_cbor_get_uint(&rd, &c);
	if (!ret)
		ret = sl_cbor_array_leave(&rd, &arr);
	if (!ret && !sl_cbor_at_end(&rd))
		ret = -EBADMSG;
	return ret;
}

Test(cbor, struct_conventions)
{
	static const struct {
		const char *hex;
		int ret;
		bool has_b, has_c;
	} t[] = {
		{ "8101", 0, false, false },		/* trailing optionals omitted */
		{ "820102", 0, true, false },
		{ "83 01 f6 03", 0, false, true },	/* absent middle = null */
		{ "83 01 02 03", 0, true, true },
		{ "85 01 02 03 8104 6178", 0, true, true }, /* extra trailing fields */
		{ "9f 01 02 ff", 0, true, false },	/* indefinite */
		{ "9f 01 02 03 a1 01 02 ff", 0, true, true },
		{ "80", -EBADMSG, false, false },	/* required field missing */
		{ "9f ff", -EBADMSG, false, false },
		{ "82 01 61", -EBADMSG, false, false },	/* wrong type for b, truncated */
		{ "82 01 6162", -EBADMSG, false, false },
		{ "83 01 02 03 00", -EBADMSG, true, true }, /* trailing garbage after the struct */
		{ "9f 01 02", -EBADMSG, true, false },	/* no break */
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint64_t a = 0, b = 0;
		bool hb = false, hc = false;
		int ret = read_struct(t[i].hex, &a, &hb, &b, &hc);

		cr_assert_eq(ret, t[i].ret, "%s: %d", t[i].hex, ret);
		if (ret)
			continue;
		cr_assert_eq(a, 1, "%s", t[i].hex);
		cr_assert_eq(hb, t[i].has_b, "%s", t[i].hex);
		cr_assert_eq(hc, t[i].has_c, "%s", t[i].hex);
		if (hb)
			cr_assert_eq(b, 2);
	}
}

Test(cbor, enum_reader)
{
	uint8_t buf[64];
	struct sl_cbor_reader rd;
	struct sl_cbor_array outer, fields;
	uint64_t idx;
	size_t n;

	/* padded Close (section C): [[2, []], h''] */
	n = unhex("8282028040", buf, sizeof(buf));
	sl_cbor_reader_init(&rd, buf, n);
	cr_assert_eq(sl_cbor_array_enter(&rd, &outer), 0);
	cr_assert_eq(sl_cbor_field(&rd, &outer), 0);
	{
		struct sl_cbor_array e, f;

		cr_assert_eq(sl_cbor_enum_enter(&rd, &e, &idx, &f), 0);
		cr_assert_eq(idx, 2);
		cr_assert_eq(sl_cbor_array_next(&rd, &f), 0, "unit variant has no fields");
		cr_assert_eq(sl_cbor_enum_leave(&rd, &e, &f), 0);
	}
	cr_assert_eq(sl_cbor_array_leave(&rd, &outer), 0, "padding skipped as extra");
	cr_assert(sl_cbor_at_end(&rd));

	/* fields not read are skipped, in both definite and indefinite form */
	n = unhex("9f 01 9f 01 02 03 ff ff", buf, sizeof(buf));
	sl_cbor_reader_init(&rd, buf, n);
	cr_assert_eq(sl_cbor_enum_enter(&rd, &outer, &idx, &fields), 0);
	cr_assert_eq(idx, 1);
	cr_assert_eq(sl_cbor_enum_leave(&rd, &outer, &fields), 0);
	cr_assert(sl_cbor_at_end(&rd));
}
