// SPDX-License-Identifier: Apache-2.0
/*
 * UDP datagrams and their reassembly. Input byte 0 picks the mode:
 *  even: a stream of datagrams, each (peer byte, u16be length, bytes), fed
 *        to a reassembler with small caps; every datagram that decodes must
 *        re-encode to one that decodes the same, and the caps must hold.
 *  odd:  the rest is one message, cut into parts of 1 + byte 1 % 64 bytes,
 *        delivered in an order (and with repeats) taken from its own bytes:
 *        it must come out whole and exact, exactly once. At most 32 parts:
 *        the reassembler holds up to 16 separate ranges of a message.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "transports/udp_frame.h"
#include "transports/udp_reasm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct sl_udp_reasm_cfg small = {
	.max_peers = 4, .max_partials = 6, .per_peer = 3, .max_bytes = 8192, .max_msg = 65536,
	.timeout_ns = 1000,
};

static void stream(const uint8_t *d, size_t n)
{
	struct sl_udp_reasm *r = sl_udp_reasm_new(&small);
	uint64_t now = 0;

	while (n >= 3) {
		uint8_t peer = d[0];
		size_t len = (size_t)d[1] << 8 | d[2];
		struct sl_udp_part p, q;
		uint8_t enc[70000];
		const uint8_t *msg;
		size_t mlen, elen;
		struct sl_udp_reasm_stats st;

		d += 3;
		n -= 3;
		if (len > n)
			len = n;
		now += peer & 0x3;	/* time moves by the peer byte's low bits */
		if (!sl_udp_part_decode(d, len, &p)) {
			elen = sl_udp_part_encode(&p, enc, sizeof(enc));
			if (!elen || sl_udp_part_decode(enc, elen, &q) || q.rn != p.rn ||
			    q.offset != p.offset || q.last != p.last || q.len != p.len ||
			    memcmp(q.chunk, p.chunk, p.len))
				__builtin_trap();
			int ret = sl_udp_reasm_add(r, &peer, 1, &p, now, &msg, &mlen);

			if (ret == SL_UDP_WHOLE && mlen > small.max_msg)
				__builtin_trap();
			if (ret == SL_UDP_WHOLE && mlen)
				(void)*(volatile const uint8_t *)&msg[mlen - 1];
		}
		if (peer & 0x80)
			sl_udp_reasm_expire(r, now);
		sl_udp_reasm_stats(r, &st);
		if (st.bytes > small.max_bytes || st.partials > small.max_partials)
			__builtin_trap();
		d += len;
		n -= len;
	}
	sl_udp_reasm_free(r);
}

static void whole(const uint8_t *d, size_t n)
{
	struct sl_udp_reasm *r;
	size_t chunk, parts, got = 0;
	unsigned char *order;

	if (n < 2)
		return;
	chunk = 1 + d[0] % 64;
	d++;
	n--;
	parts = n ? (n + chunk - 1) / chunk : 1;
	if (parts > 32)
		return;
	r = sl_udp_reasm_new(NULL);
	order = malloc(parts * 2);
	/* Each part once, in an order from the message's bytes, then a few repeats. */
	for (size_t i = 0; i < parts; i++)
		order[i] = (unsigned char)i;
	for (size_t i = parts; i > 1; i--) {
		size_t j = d[i % n ? i % n : 0] % i, t = order[i - 1];

		order[i - 1] = order[j];
		order[j] = (unsigned char)t;
	}
	for (size_t k = 0; k < parts * 2; k++) {
		size_t i = k < parts ? order[k] : d[k % n] % parts, off = i * chunk;
		struct sl_udp_part p = { 1, 7, (uint32_t)off, i == parts - 1, d + off,
					 n - off < chunk ? n - off : chunk };
		const uint8_t *msg;
		size_t mlen;
		int ret = sl_udp_reasm_add(r, "p", 1, &p, 0, &msg, &mlen);

		if (ret == SL_UDP_WHOLE) {
			if (got++ || k != parts - 1 || mlen != n || memcmp(msg, d, n))
				__builtin_trap();
		} else if (ret != SL_UDP_PENDING && ret != -EALREADY) {
			__builtin_trap();
		}
	}
	if (got != 1)
		__builtin_trap();
	free(order);
	sl_udp_reasm_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	if (data[0] & 1)
		whole(data + 1, size - 1);
	else
		stream(data + 1, size - 1);
	return 0;
}
