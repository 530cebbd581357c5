// SPDX-License-Identifier: Apache-2.0
/* serde-BARE uleb128 lengths and byte vectors. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "engine/bare.h"

#define ULEB_MAX 10	/* 64 bits in 7-bit groups */

size_t sl_bare_uleb_len(uint64_t n)
{
	size_t len = 1;

	while (n >= 0x80) {
		n >>= 7;
		len++;
	}
	return len;
}

size_t sl_bare_put_uleb(uint8_t *out, size_t cap, uint64_t n)
{
	size_t len = sl_bare_uleb_len(n), i;

	if (cap < len)
		return 0;
	for (i = 0; i < len - 1; i++, n >>= 7)
		out[i] = (uint8_t)(n | 0x80);
	out[i] = (uint8_t)n;
	return len;
}

size_t sl_bare_put_bytes(uint8_t *out, size_t cap, const void *p, size_t len)
{
	size_t h = sl_bare_uleb_len(len);

	if (cap < h || cap - h < len)
		return 0;
	sl_bare_put_uleb(out, cap, len);
	if (len)
		memmove(out + h, p, len);
	return h + len;
}

int sl_bare_get_uleb(const uint8_t *in, size_t len, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;

	for (i = 0; i < len && i < ULEB_MAX; i++) {
		uint8_t b = in[i];

		/* the tenth group holds bit 63 only */
		if (i == ULEB_MAX - 1 && b > 1)
			return -EBADMSG;
		x |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			/* a zero last group after the first is a longer spelling of a shorter number */
			if (i && !b)
				return -EBADMSG;
			*v = x;
			return (int)(i + 1);
		}
	}
	return -EBADMSG;
}

int sl_bare_get_bytes(const uint8_t *in, size_t len, const uint8_t **p, size_t *n)
{
	uint64_t v;
	int h;

	h = sl_bare_get_uleb(in, len, &v);
	if (h < 0)
		return h;
	if (v > len - (size_t)h || v > (uint64_t)INT_MAX - (uint64_t)h)
		return -EBADMSG;
	*p = in + h;
	*n = (size_t)v;
	return h + (int)v;
}
