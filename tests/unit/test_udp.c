// SPDX-License-Identifier: Apache-2.0
/* The UDP datagram codec and the reassembler against vector G3 and made-up losses. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/wire.h"
#include "transports/udp_frame.h"
#include "transports/udp_reasm.h"
#include "wire_vectors.h"

TestSuite(udp, .timeout = 10);

Test(udp, g3_decode)
{
	size_t dn, mn;
	uint8_t *d = vector("udp_datagram", &dn);
	uint8_t *m = vector("tcp_msg_cbor", &mn);
	struct sl_udp_part p;

	cr_assert_eq(sl_udp_part_decode(d, dn, &p), 0);
	cr_assert_eq(p.version, 1);
	cr_assert_eq(p.rn, 0x1234);
	cr_assert_eq(p.offset, 0);
	cr_assert(p.last);
	cr_assert_eq(p.len, mn);
	cr_assert_arr_eq(p.chunk, m, mn);
	free(d);
	free(m);
}

Test(udp, g3_encode)
{
	size_t dn, mn;
	uint8_t *d = vector("udp_datagram", &dn);
	uint8_t *m = vector("tcp_msg_cbor", &mn);
	struct sl_udp_part p = { 1, 0x1234, 0, true, m, mn };
	uint8_t out[SL_UDP_DGRAM_MAX];

	cr_assert_eq(sl_udp_part_encode(&p, out, sizeof(out)), dn);
	cr_assert_arr_eq(out, d, dn);
	cr_assert_eq(sl_udp_part_encode(&p, out, dn - 1), 0);
	free(d);
	free(m);
}

Test(udp, worst_case_fits_508)
{
	static uint8_t chunk[SL_UDP_CHUNK_MAX];
	struct sl_udp_part p = { 255, 0xffff, 0xffffffff, true, chunk, sizeof(chunk) };
	uint8_t out[600];

	/* Ockam's test_max_size_max_protocol: exactly 508. */
	cr_assert_eq(sl_udp_part_encode(&p, out, sizeof(out)), SL_UDP_DGRAM_MAX);
}

Test(udp, decode_rejects)
{
	size_t dn;
	uint8_t *d = vector("udp_datagram", &dn);
	struct sl_udp_part p;
	uint8_t bad[64];

	for (size_t n = 0; n < dn; n++)
		cr_assert_eq(sl_udp_part_decode(d, n, &p), -EBADMSG, "truncated at %zu", n);
	memcpy(bad, d, 8);
	bad[1] = 2;	/* version 2: known fields, refused */
	cr_assert_eq(sl_udp_part_decode(d, dn, &p), 0);
	memcpy(bad, d, dn > sizeof(bad) ? sizeof(bad) : dn);
	bad[1] = 2;
	cr_assert_eq(sl_udp_part_decode(bad, dn, &p), -EPROTONOSUPPORT);
	/* routing number over u16 */
	static const uint8_t big_rn[] = { 0x85, 0x01, 0x1a, 0x00, 0x01, 0x00, 0x00, 0x00, 0xf5, 0x40 };
	cr_assert_eq(sl_udp_part_decode(big_rn, sizeof(big_rn), &p), -EBADMSG);
	/* a text chunk, not bytes */
	static const uint8_t text[] = { 0x85, 0x01, 0x01, 0x00, 0xf5, 0x61, 0x41 };
	cr_assert_eq(sl_udp_part_decode(text, sizeof(text), &p), -EBADMSG);
	/* trailing byte */
	static const uint8_t trail[] = { 0x85, 0x01, 0x01, 0x00, 0xf5, 0x40, 0x00 };
	cr_assert_eq(sl_udp_part_decode(trail, sizeof(trail), &p), -EBADMSG);
	/* an extra sixth field is skipped */
	static const uint8_t extra[] = { 0x86, 0x01, 0x01, 0x00, 0xf4, 0x40, 0x00 };
	cr_assert_eq(sl_udp_part_decode(extra, sizeof(extra), &p), 0);
	cr_assert(!p.last);
	free(d);
}

/* A message of n bytes (byte i = i * 7 + seed) cut as a sender does. */
static size_t cut(uint8_t *msg, size_t n, uint8_t seed, uint16_t rn, struct sl_udp_part *parts)
{
	size_t k = sl_udp_parts(n);

	for (size_t i = 0; i < n; i++)
		msg[i] = (uint8_t)(i * 7 + seed);
	for (size_t i = 0; i < k; i++) {
		size_t off = i * SL_UDP_CHUNK_MAX;

		parts[i] = (struct sl_udp_part){ 1, rn, (uint32_t)off, i == k - 1, msg + off,
						 n - off < SL_UDP_CHUNK_MAX ? n - off : SL_UDP_CHUNK_MAX };
	}
	return k;
}

static const char P1[] = "peer-one", P2[] = "peer-two";

Test(udp, single_datagram_and_duplicate)
{
	struct sl_udp_reasm *r = sl_udp_reasm_new(NULL);
	struct sl_udp_part p = { 1, 7, 0, true, (const uint8_t *)"abc", 3 };
	const uint8_t *m;
	size_t n;

	cr_assert_eq(sl_udp_reasm_add(r, P1, sizeof(P1), &p, 0, &m, &n), SL_UDP_WHOLE);
	cr_assert_eq(n, 3);
	cr_assert_arr_eq(m, "abc", 3);
	cr_assert_eq(sl_udp_reasm_add(r, P1, sizeof(P1), &p, 1, &m, &n), -EALREADY);
	/* Another peer's number space is its own. */
	cr_assert_eq(sl_udp_reasm_add(r, P2, sizeof(P2), &p, 2, &m, &n), SL_UDP_WHOLE);
	sl_udp_reasm_free(r);
}

Test(udp, in_order_reordered_duplicated)
{
	static uint8_t msg[5000];
	struct sl_udp_part parts[16];
	struct sl_udp_reasm *r = sl_udp_reasm_new(NULL);
	size_t k = cut(msg, sizeof(msg), 3, 100, parts), n;
	static const unsigned order[] = { 5, 0, 9, 2, 2, 1, 8, 3, 7, 4, 6, 10 };
	const uint8_t *m;
	int ret = 0;

	cr_assert_eq(k, 11);
	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]) - 1; i++) {
		ret = sl_udp_reasm_add(r, P1, sizeof(P1), &parts[order[i]], i, &m, &n);
		cr_assert(ret == SL_UDP_PENDING || (ret == -EALREADY && i == 4), "step %u: %d", i, ret);
	}
	ret = sl_udp_reasm_add(r, P1, sizeof(P1), &parts[10], 20, &m, &n);
	cr_assert_eq(ret, SL_UDP_WHOLE);
	cr_assert_eq(n, sizeof(msg));
	cr_assert_arr_eq(m, msg, sizeof(msg));
	/* A late repeat of a part of the delivered message: dropped. */
	cr_assert_eq(sl_udp_reasm_add(r, P1, sizeof(P1), &parts[3], 21, &m, &n), -EALREADY);
	struct sl_udp_reasm_stats st;
	sl_udp_reasm_stats(r, &st);
	cr_assert_eq(st.partials, 0);
	cr_assert_eq(st.bytes, 0);
	sl_udp_reasm_free(r);
}

Test(udp, lost_part_never_corrupts_next)
{
	static uint8_t a[2000], b[2000];
	struct sl_udp_part pa[8], pb[8];
	struct sl_udp_reasm *r = sl_udp_reasm_new(&(struct sl_udp_reasm_cfg){ .per_peer = 1 });
	size_t ka = cut(a, sizeof(a), 1, 65535, pa), kb = cut(b, sizeof(b), 2, 0, pb), n;
	const uint8_t *m;

	/* Message 65535 loses its part 2; message 0 (the next, wrapping) comes whole. */
	for (size_t i = 0; i < ka; i++)
		if (i != 2)
			cr_assert_eq(sl_udp_reasm_add(r, P1, sizeof(P1), &pa[i], 0, &m, &n),
				     SL_UDP_PENDING);
	for (size_t i = 0; i < kb; i++) {
		int ret = sl_udp_reasm_add(r, P1, sizeof(P1), &pb[i], 0, &m, &n);

		cr_assert_eq(ret, i == kb - 1 ? SL_UDP_WHOLE : SL_UDP_PENDING);
	}
	cr_assert_eq(n, sizeof(b));
	cr_assert_arr_eq(m, b, sizeof(b));
	/* The lost part arriving now finds its message gone, and makes nothing whole. */
	cr_assert_eq(sl_udp_reasm_add(r, P1, sizeof(P1), &pa[2], 0, &m, &n), SL_UDP_PENDING);
	struct sl_udp_reasm_stats st;
	sl_udp_reasm_stats(r, &st);
	cr_assert_eq(st.whole, 1);
	cr_assert_eq(st.evicted, 1);
	sl_udp_reasm_free(r);
}

Test(udp, timeout_and_caps)
{
	static uint8_t a[3000];
	struct sl_udp_part pa[8];
	struct sl_udp_reasm *r = sl_udp_reasm_new(&(struct sl_udp_reasm_cfg){
		.max_partials = 4, .max_bytes = 4000, .timeout_ns = 1000 });
	size_t n;
	const uint8_t *m;
	struct sl_udp_reasm_stats st;

	cut(a, sizeof(a), 1, 5, pa);
	cr_assert_eq(sl_udp_reasm_add(r, P1, sizeof(P1), &pa[0], 0, &m, &n), SL_UDP_PENDING);
	cr_assert_eq(sl_udp_reasm_next_deadline(r), 1000);
	cr_assert_eq(sl_udp_reasm_expire(r, 999), 0);
	cr_assert_eq(sl_udp_reasm_expire(r, 1000), 1);
	sl_udp_reasm_stats(r, &st);
	cr_assert_eq(st.partials, 0);
	cr_assert_eq(st.bytes, 0);
	/* More partials than the cap: the oldest goes; never more than 4 held. */
	for (uint16_t rn = 10; rn < 20; rn++) {
		cut(a, 600, 1, rn, pa);
		cr_assert_eq(sl_udp_reasm_add(r, &rn, sizeof(rn), &pa[0], 2000 + rn, &m, &n),
			     SL_UDP_PENDING);
		sl_udp_reasm_stats(r, &st);
		cr_assert_leq(st.partials, 4);
		cr_assert_leq(st.bytes, 4000);
	}
	/* A message larger than the byte cap is dropped at the cap. */
	cut(a, sizeof(a), 1, 30, pa);
	int ret = 0;
	for (unsigned i = 0; i < 7 && ret >= 0; i++)
		ret = sl_udp_reasm_add(r, P2, sizeof(P2), &pa[i], 3000, &m, &n);
	cr_assert_eq(ret, -ENOBUFS);
	sl_udp_reasm_stats(r, &st);
	cr_assert_eq(st.nomem, 1);
	sl_udp_reasm_free(r);
}

Test(udp, inconsistent_parts)
{
	static uint8_t a[1500];
	struct sl_udp_part pa[4], q;
	struct sl_udp_reasm *r = sl_udp_reasm_new(NULL);
	size_t n;
	const uint8_t *m;

	cut(a, sizeof(a), 1, 1, pa);
	cr_assert_eq(sl_udp_reasm_add(r, P1, sizeof(P1), &pa[0], 0, &m, &n), SL_UDP_PENDING);
	q = pa[1];
	q.offset -= 10;		/* overlaps part 0 */
	cr_assert_eq(sl_udp_reasm_add(r, P1, sizeof(P1), &q, 0, &m, &n), -EBADMSG);
	/* A part past the last one's end. */
	cut(a, sizeof(a), 1, 2, pa);
	cr_assert_eq(sl_udp_reasm_add(r, P1, sizeof(P1), &pa[3], 0, &m, &n), SL_UDP_PENDING);
	q = pa[0];
	q.offset = 5000;
	cr_assert_eq(sl_udp_reasm_add(r, P1, sizeof(P1), &q, 0, &m, &n), -EBADMSG);
	/* Number far behind the newest: a restarted peer, accepted. */
	struct sl_udp_part one = { 1, 40000, 0, true, a, 10 };
	cr_assert_eq(sl_udp_reasm_add(r, P2, sizeof(P2), &one, 0, &m, &n), SL_UDP_WHOLE);
	one.rn = 39990;
	cr_assert_eq(sl_udp_reasm_add(r, P2, sizeof(P2), &one, 0, &m, &n), SL_UDP_WHOLE);
	one.rn = 39900;	/* older than the 64-message window, not far enough for a restart */
	cr_assert_eq(sl_udp_reasm_add(r, P2, sizeof(P2), &one, 0, &m, &n), -ESTALE);
	one.rn = 1000;
	cr_assert_eq(sl_udp_reasm_add(r, P2, sizeof(P2), &one, 0, &m, &n), SL_UDP_WHOLE);
	sl_udp_reasm_free(r);
}

Test(udp, routing_number_order_as_ockam)
{
	/* Ockam's RoutingNumber tests: 5 < 6, u16::MAX < 0, 0 > u16::MAX. */
	cr_assert_lt(sl_udp_rn_diff(5, 6), 0);
	cr_assert_lt(sl_udp_rn_diff(65535, 0), 0);
	cr_assert_gt(sl_udp_rn_diff(0, 65535), 0);
	cr_assert_gt(sl_udp_rn_diff(65535, 65534), 0);
}
