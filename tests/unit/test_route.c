// SPDX-License-Identifier: Apache-2.0
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "engine/route.h"

TestSuite(route, .timeout = 10);

static void push(struct sl_route *r, const char *text)
{
	const char *body;
	uint8_t type;
	size_t len;

	cr_assert_eq(sl_addr_parse(text, &type, &body, &len), 0, "parse %s", text);
	cr_assert_eq(sl_route_push_back(r, type, body, len), 0);
}

static void expect_text(const struct sl_route *r, const char *want)
{
	char buf[512];
	int n = sl_route_format(r, buf, sizeof(buf));

	cr_assert_str_eq(buf, want);
	cr_assert_eq((size_t)n, strlen(want));
}

Test(route, push_pop_both_ends)
{
	struct sl_route r;
	struct sl_addr a;

	sl_route_init(&r);
	cr_assert(sl_route_empty(&r));
	cr_assert_not(sl_route_front(&r, &a));
	cr_assert_eq(sl_route_pop_front(&r), -ENOENT);
	cr_assert_eq(sl_route_pop_back(&r), -ENOENT);
	push(&r, "1#127.0.0.1:4000");
	push(&r, "printer");
	cr_assert_eq(sl_route_push_front(&r, 0, "conn", 4), 0);
	expect_text(&r, "0#conn => 1#127.0.0.1:4000 => 0#printer");
	cr_assert(sl_route_front(&r, &a));
	cr_assert(sl_addr_is_local(&a, "conn"));
	cr_assert_not(sl_addr_is_local(&a, "con"));
	cr_assert_eq(sl_route_pop_back(&r), 0);
	expect_text(&r, "0#conn => 1#127.0.0.1:4000");
	cr_assert_eq(sl_route_pop_front(&r), 0);
	cr_assert_eq(sl_route_pop_front(&r), 0);
	cr_assert(sl_route_empty(&r));
	expect_text(&r, "");
}

/* Many pushes on one side recentre instead of failing while room remains. */
Test(route, recentres_when_one_side_is_full)
{
	struct sl_route r;
	uint8_t body[SL_ADDR_BODY_MAX];
	struct sl_addr a;
	size_t it = 0;
	int i;

	memset(body, 'x', sizeof(body));
	sl_route_init(&r);
	/* 3 * 257 + 2 * 100 bytes: more than half the buffer on each side */
	for (i = 0; i < 3; i++)
		cr_assert_eq(sl_route_push_back(&r, 3, body, sizeof(body)), 0, "push %d", i);
	cr_assert_eq(sl_route_push_front(&r, 0, body, 100), 0);
	cr_assert_eq(sl_route_push_front(&r, 1, body, 20), 0);
	cr_assert_eq(r.n, 5);
	/* bytes: 771 + 102 + 22 = 895; one more 255-byte body cannot fit */
	cr_assert_eq(sl_route_push_back(&r, 3, body, sizeof(body)), -E2BIG);
	cr_assert_eq(sl_route_push_front(&r, 3, body, sizeof(body)), -E2BIG);
	cr_assert_eq(r.n, 5, "failed push changed the route");
	cr_assert(sl_route_next(&r, &it, &a));
	cr_assert_eq(a.type, 1);
	cr_assert_eq(a.len, 20);
	cr_assert(sl_route_next(&r, &it, &a));
	cr_assert_eq(a.len, 100);
	cr_assert_eq(sl_route_push_back(&r, 0, body, SL_ADDR_BODY_MAX + 1), -E2BIG);
}

Test(route, hop_limit)
{
	struct sl_route r;
	int i;

	sl_route_init(&r);
	for (i = 0; i < SL_ROUTE_MAX_HOPS; i++)
		cr_assert_eq(i % 2 ? sl_route_push_back(&r, 0, "a", 1) :
				     sl_route_push_front(&r, 0, "b", 1), 0);
	cr_assert_eq(sl_route_push_back(&r, 0, "c", 1), -E2BIG);
	cr_assert_eq(sl_route_push_front(&r, 0, "c", 1), -E2BIG);
	cr_assert_eq(sl_route_prepend(&r, &r), -E2BIG);
}

Test(route, prepend_append_copy_and_alias)
{
	struct sl_route a, b, c;

	sl_route_init(&a);
	sl_route_init(&b);
	push(&a, "a1");
	push(&a, "a2");
	push(&b, "1#h:1");
	cr_assert_eq(sl_route_prepend(&a, &b), 0);
	expect_text(&a, "1#h:1 => 0#a1 => 0#a2");
	cr_assert_eq(sl_route_append(&a, &b), 0);
	expect_text(&a, "1#h:1 => 0#a1 => 0#a2 => 1#h:1");
	sl_route_copy(&c, &b);
	cr_assert_eq(sl_route_prepend(&c, &c), 0);
	expect_text(&c, "1#h:1 => 1#h:1");
	cr_assert_eq(sl_route_append(&c, &c), 0);
	expect_text(&c, "1#h:1 => 1#h:1 => 1#h:1 => 1#h:1");
	sl_route_init(&c);
	cr_assert_eq(sl_route_append(&a, &c), 0);
	cr_assert_eq(a.n, 4);
}

Test(route, addr_parse_table)
{
	static const struct {
		const char *text;
		int ret;
		uint8_t type;
		const char *body;
	} t[] = {
		{ "0#uppercase", 0, 0, "uppercase" },
		{ "uppercase", 0, 0, "uppercase" },
		{ "1#127.0.0.1:4000", 0, 1, "127.0.0.1:4000" },
		{ "255#x", 0, 255, "x" },
		{ "5#/tmp/sock", 0, 5, "/tmp/sock" },
		{ "256#x", -EINVAL, 0, NULL },
		{ "1000#x", -EINVAL, 0, NULL },
		{ "#x", -EINVAL, 0, NULL },
		{ "a#x", -EINVAL, 0, NULL },
		{ "1#", -EINVAL, 0, NULL },
		{ "", -EINVAL, 0, NULL },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *body;
		uint8_t type;
		size_t len;

		cr_assert_eq(sl_addr_parse(t[i].text, &type, &body, &len), t[i].ret, "%s", t[i].text);
		if (t[i].ret)
			continue;
		cr_assert_eq(type, t[i].type);
		cr_assert_eq(len, strlen(t[i].body));
		cr_assert(!memcmp(body, t[i].body, len));
	}
}

Test(route, format_binary_and_truncation)
{
	struct sl_route r;
	struct sl_addr a;
	char buf[8];
	int n;

	sl_route_init(&r);
	cr_assert_eq(sl_route_push_back(&r, 0, "\x01\xff", 2), 0);
	sl_route_front(&r, &a);
	n = sl_addr_format(&a, buf, sizeof(buf));
	cr_assert_eq(n, 8);	/* "0#0x01ff" */
	cr_assert_str_eq(buf, "0#0x01f", "truncated like snprintf");
	cr_assert_eq(sl_route_format(&r, NULL, 0), 8);
}

Test(route, cbor_round_trip_and_len)
{
	static const uint8_t want[] = { 0x82, 0x82, 0x00, 0x43, 'a', 'p', 'p',
					0x82, 0x18, 0xc8, 0x41, 'x' };
	uint8_t buf[64], body[32];
	struct sl_cbor_writer w;
	struct sl_cbor_reader rd;
	struct sl_route r, back;
	size_t len;

	sl_route_init(&r);
	push(&r, "0#app");
	push(&r, "200#x");	/* a type of 24 or more takes two bytes */
	sl_cbor_writer_init(&w, buf, sizeof(buf));
	sl_route_encode(&w, &r);
	cr_assert_eq(sl_cbor_writer_finish(&w, &len), 0);
	cr_assert_eq(len, sizeof(want));
	cr_assert_eq(sl_route_encoded_len(&r), len);
	cr_assert(!memcmp(buf, want, len));
	sl_cbor_reader_init(&rd, buf, len);
	cr_assert_eq(sl_route_decode(&rd, &back), 0);
	expect_text(&back, "0#app => 200#x");
	sl_route_init(&r);
	cr_assert_eq(sl_route_encoded_len(&r), 1);
	/* a 32-byte body (a random address) has a two-byte bytes head */
	memset(body, 0xab, sizeof(body));
	cr_assert_eq(sl_route_push_back(&r, 0, body, sizeof(body)), 0);
	sl_cbor_writer_init(&w, buf, sizeof(buf));
	sl_route_encode(&w, &r);
	cr_assert_eq(sl_cbor_writer_finish(&w, &len), 0);
	cr_assert_eq(len, 5 + sizeof(body));
	cr_assert_eq(sl_route_encoded_len(&r), len);
	cr_assert(!memcmp(buf, "\x81\x82\x00\x58\x20", 5));
	cr_assert(!memcmp(buf + 5, body, sizeof(body)));
	sl_cbor_reader_init(&rd, buf, len);
	cr_assert_eq(sl_route_decode(&rd, &back), 0);
	cr_assert(sl_cbor_at_end(&rd));
	cr_assert_eq(back.n, 1);
	/* no room: the writer says so */
	sl_cbor_writer_init(&w, buf, 10);
	sl_route_encode(&w, &r);
	cr_assert_eq(sl_cbor_writer_finish(&w, &len), -E2BIG);
}

Test(route, cbor_decode_table)
{
	static const struct {
		const uint8_t *p;
		size_t n;
		int ret;
		const char *text;
	} t[] = {
#define C(s) (const uint8_t *)s, sizeof(s) - 1
		{ C("\x80"), 0, "" },
		{ C("\x9f\x82\x00\x41" "a" "\xff"), 0, "0#a" },			/* indefinite route */
		{ C("\x81\x9f\x00\x41" "a" "\xff"), 0, "0#a" },			/* indefinite address */
		{ C("\x81\x83\x00\x41" "a" "\xf6"), 0, "0#a" },			/* extra field */
		{ C("\x81\x82\x00\x40"), 0, "0#" },				/* empty body */
		{ C("\x81\x81\x00"), -EBADMSG, NULL },				/* no body */
		{ C("\x81\x82\x19\x01\x00\x41" "a"), -EBADMSG, NULL },		/* type 256 */
		{ C("\x81\x82\x20\x41" "a"), -EBADMSG, NULL },			/* negative type */
		{ C("\x81\x82\x00\x81\x61"), -EBADMSG, NULL },			/* body as array */
		{ C("\x81\x82\x00\x61" "a"), -EBADMSG, NULL },			/* body as text */
		{ C("\x82\x82\x00\x41" "a"), -EBADMSG, NULL },			/* truncated */
		{ C("\x98\x21"), -EBADMSG, NULL },				/* 33 hops announced, none there */
		{ C("\xa0"), -EBADMSG, NULL },
		/* the one-read form of an address (82, type < 24, a 1- or 2-byte bytes head) */
		{ C("\x81\x82\x17\x41" "a"), 0, "23#a" },			/* type 23 */
		{ C("\x81\x82\x05\x58\x03" "abc"), 0, "5#abc" },		/* long head, short body */
		{ C("\x81\x82\x00\x58\x18" "aaaaaaaaaaaaaaaaaaaaaaaa"), 0, "0#aaaaaaaaaaaaaaaaaaaaaaaa" },
		{ C("\x81\x82\x00\x59\x00\x01" "a"), 0, "0#a" },		/* 2-byte length */
		/* the one pass gives up at the second address: the general path starts over */
		{ C("\x82\x82\x00\x41" "a" "\x83\x00\x41" "b" "\xf6"), 0, "0#a => 0#b" },
		{ C("\x82\x82\x00\x41" "a" "\x9f\x00\x41" "b" "\xff"), 0, "0#a => 0#b" },
		{ C("\x81\x82\x00\x58"), -EBADMSG, NULL },			/* length byte missing */
		{ C("\x81\x82\x00\x58\x02" "a"), -EBADMSG, NULL },		/* body cut */
		{ C("\x81\x82\x00\x43" "ab"), -EBADMSG, NULL },		/* body cut */
		{ C("\x81\x82\x00\x5f\x41" "a" "\xff"), -EBADMSG, NULL },	/* indefinite bytes */
#undef C
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sl_cbor_reader rd;
		struct sl_route r;
		char buf[64];
		int ret;

		sl_cbor_reader_init(&rd, t[i].p, t[i].n);
		ret = sl_route_decode(&rd, &r);
		cr_assert_eq(ret, t[i].ret, "case %zu: %d", i, ret);
		if (ret)
			continue;
		sl_route_format(&r, buf, sizeof(buf));
		cr_assert_str_eq(buf, t[i].text, "case %zu", i);
	}
}

/* Three 255-byte bodies: past the back half the one pass leaves, so the general path recentres. */
Test(route, cbor_decode_long_bodies)
{
	uint8_t buf[1024], body[SL_ADDR_BODY_MAX];
	struct sl_cbor_writer w;
	struct sl_cbor_reader rd;
	struct sl_route r, back;
	struct sl_addr a;
	size_t len, it = 0;

	sl_route_init(&r);
	for (int i = 0; i < 3; i++) {
		memset(body, 'a' + i, sizeof(body));
		cr_assert_eq(sl_route_push_back(&r, (uint8_t)i, body, sizeof(body)), 0);
	}
	sl_cbor_writer_init(&w, buf, sizeof(buf));
	sl_route_encode(&w, &r);
	cr_assert_eq(sl_cbor_writer_finish(&w, &len), 0);
	sl_cbor_reader_init(&rd, buf, len);
	cr_assert_eq(sl_route_decode(&rd, &back), 0);
	cr_assert(sl_cbor_at_end(&rd));
	cr_assert_eq(back.n, 3);
	for (int i = 0; sl_route_next(&back, &it, &a); i++) {
		cr_assert_eq(a.type, i);
		cr_assert_eq(a.len, SL_ADDR_BODY_MAX);
		cr_assert_eq(a.body[0], 'a' + i);
		cr_assert_eq(a.body[SL_ADDR_BODY_MAX - 1], 'a' + i);
	}
}

/* 33 addresses, definite (refused from the count) and indefinite (on the 33rd). */
Test(route, cbor_decode_too_many_hops)
{
	uint8_t buf[256];
	struct sl_cbor_reader rd;
	struct sl_route r;
	size_t n = 0;
	int i;

	buf[n++] = 0x9f;
	for (i = 0; i < 33; i++) {
		buf[n++] = 0x82;
		buf[n++] = 0x00;
		buf[n++] = 0x40;
	}
	buf[n++] = 0xff;
	sl_cbor_reader_init(&rd, buf, n);
	cr_assert_eq(sl_route_decode(&rd, &r), -E2BIG);
	memmove(buf + 2, buf + 1, n - 2);
	buf[0] = 0x98;
	buf[1] = 33;
	sl_cbor_reader_init(&rd, buf, n);
	cr_assert_eq(sl_route_decode(&rd, &r), -E2BIG);
	/* 32 is fine */
	buf[1] = 32;
	sl_cbor_reader_init(&rd, buf, n - 3);
	cr_assert_eq(sl_route_decode(&rd, &r), 0);
	cr_assert_eq(r.n, 32);
}
