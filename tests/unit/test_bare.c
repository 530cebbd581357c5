// SPDX-License-Identifier: Apache-2.0
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/bare.h"

TestSuite(bare, .timeout = 10);

Test(bare, uleb_table)
{
	static const struct {
		uint64_t v;
		size_t len;
		uint8_t b[10];
	} t[] = {
		{ 0, 1, { 0x00 } },
		{ 5, 1, { 0x05 } },
		{ 127, 1, { 0x7f } },
		{ 128, 2, { 0x80, 0x01 } },
		{ 300, 2, { 0xac, 0x02 } },
		{ 16383, 2, { 0xff, 0x7f } },
		{ 16384, 3, { 0x80, 0x80, 0x01 } },
		{ UINT64_MAX, 10, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 } },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint8_t out[10];
		uint64_t v;

		cr_assert_eq(sl_bare_uleb_len(t[i].v), t[i].len);
		cr_assert_eq(sl_bare_put_uleb(out, sizeof(out), t[i].v), t[i].len);
		cr_assert(!memcmp(out, t[i].b, t[i].len), "case %zu", i);
		cr_assert_eq(sl_bare_put_uleb(out, t[i].len - 1, t[i].v), 0, "cap too small");
		cr_assert_eq(sl_bare_get_uleb(t[i].b, t[i].len, &v), (int)t[i].len);
		cr_assert_eq(v, t[i].v);
		cr_assert_eq(sl_bare_get_uleb(t[i].b, t[i].len - 1, &v), -EBADMSG, "truncated");
	}
}

Test(bare, uleb_rejects)
{
	static const struct {
		size_t len;
		uint8_t b[12];
	} t[] = {
		{ 0, { 0 } },
		{ 2, { 0x80, 0x00 } },						/* overlong zero */
		{ 3, { 0xff, 0x80, 0x00 } },					/* overlong */
		{ 10, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02 } }, /* 2^64 */
		{ 11, { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x81, 0x00 } },
		{ 1, { 0x80 } },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint8_t *exact = malloc(t[i].len ? t[i].len : 1);
		uint64_t v;

		memcpy(exact, t[i].b, t[i].len);
		cr_assert_eq(sl_bare_get_uleb(exact, t[i].len, &v), -EBADMSG, "case %zu", i);
		free(exact);
	}
}

Test(bare, bytes)
{
	uint8_t out[300], big[200];
	const uint8_t *p;
	size_t n;

	/* G1 */
	cr_assert_eq(sl_bare_put_bytes(out, sizeof(out), "hello", 5), 6);
	cr_assert(!memcmp(out, "\x05hello", 6));
	cr_assert_eq(sl_bare_get_bytes(out, 6, &p, &n), 6);
	cr_assert_eq(n, 5);
	cr_assert_eq(p, out + 1);
	/* trailing bytes are the caller's business: consumed count says where we stopped */
	cr_assert_eq(sl_bare_get_bytes((const uint8_t *)"\x01" "ab", 3, &p, &n), 2);
	cr_assert_eq(sl_bare_get_bytes((const uint8_t *)"\x03" "ab", 3, &p, &n), -EBADMSG);
	cr_assert_eq(sl_bare_get_bytes((const uint8_t *)"\x00", 1, &p, &n), 1);
	cr_assert_eq(n, 0);
	cr_assert_eq(sl_bare_put_bytes(out, 5, "hello", 5), 0);
	cr_assert_eq(sl_bare_put_bytes(out, 0, "", 0), 0);
	cr_assert_eq(sl_bare_put_bytes(out, 1, "", 0), 1);
	memset(big, 'z', sizeof(big));
	cr_assert_eq(sl_bare_put_bytes(out, sizeof(out), big, sizeof(big)), 202);
	cr_assert_eq(out[0], 0xc8);
	cr_assert_eq(out[1], 0x01);
	cr_assert_eq(sl_bare_get_bytes(out, 202, &p, &n), 202);
	cr_assert_eq(n, 200);
	/* a length near 2^64 does not wrap the bounds check */
	cr_assert_eq(sl_bare_get_bytes((const uint8_t *)"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
				       10, &p, &n), -EBADMSG);
	/* in place: payload already at out + header */
	memcpy(out + 1, "abc", 3);
	cr_assert_eq(sl_bare_put_bytes(out, sizeof(out), out + 1, 3), 4);
	cr_assert(!memcmp(out, "\x03" "abc", 4));
}
