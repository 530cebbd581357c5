// SPDX-License-Identifier: Apache-2.0
/*
 * Frame bodies: decode from a buffer and in place; whatever decodes is
 * re-encoded and must decode to the same routes and payload, and our own
 * encoding must be stable (encode(decode(encode(x))) == encode(x)).
 */
#include <stdlib.h>
#include <string.h>

#include "engine/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool route_eq(const struct sl_route *a, const struct sl_route *b)
{
	struct sl_addr x, y;
	size_t i = 0, j = 0;

	if (a->n != b->n)
		return false;
	while (sl_route_next(a, &i, &x)) {
		if (!sl_route_next(b, &j, &y) || !sl_addr_eq(&x, &y))
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sl_route on, ret, on2, ret2;
	static struct sl_msg m;
	const uint8_t *p, *p2;
	size_t n, n2, cap, len, len2;
	uint8_t *out, *again, *buf;
	uint8_t *frame;
	size_t flen;

	if (sl_wire_decode_buf(data, size, &on, &ret, &p, &n))
		return 0;
	if (p < data || p + n > data + size)
		__builtin_trap();

	cap = size + 2 * SL_ROUTE_BYTES + 64;
	out = malloc(cap);
	again = malloc(cap);
	if (sl_wire_encode(&on, &ret, p, n, out, cap, &len))
		__builtin_trap();
	if (sl_wire_decode_buf(out + 4, len - 4, &on2, &ret2, &p2, &n2) ||
	    !route_eq(&on, &on2) || !route_eq(&ret, &ret2) || n2 != n || memcmp(p, p2, n))
		__builtin_trap();
	if (sl_wire_encode(&on2, &ret2, p2, n2, again, cap, &len2) || len2 != len ||
	    memcmp(out, again, len))
		__builtin_trap();

	/* in place, then frame it back into the headroom it came from */
	buf = malloc(SL_MSG_HEADROOM + size);
	memcpy(buf + SL_MSG_HEADROOM, data, size);
	memset(&m, 0, sizeof(m));
	m.buf = buf;
	m.cap = (uint32_t)(SL_MSG_HEADROOM + size);
	m.data = buf + SL_MSG_HEADROOM;
	m.len = (uint32_t)size;
	if (sl_wire_decode(&m) || m.len != n || memcmp(m.data, p, n))
		__builtin_trap();
	if (!sl_wire_frame(&m, &frame, &flen) && (flen != len || memcmp(frame, out, len)))
		__builtin_trap();
	free(buf);
	free(out);
	free(again);
	return 0;
}
