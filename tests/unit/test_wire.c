// SPDX-License-Identifier: Apache-2.0
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/bare.h"
#include "engine/wire.h"
#include "wire_vectors.h"

TestSuite(wire, .timeout = 10);

static void expect_route(const struct sl_route *r, const char *want)
{
	char buf[256];

	sl_route_format(r, buf, sizeof(buf));
	cr_assert_str_eq(buf, want);
}

static void route_of(struct sl_route *r, const char *a)
{
	const char *body;
	uint8_t type;
	size_t len;

	sl_route_init(r);
	cr_assert_eq(sl_addr_parse(a, &type, &body, &len), 0);
	cr_assert_eq(sl_route_push_back(r, type, body, len), 0);
}

/* G2: the frame as our sender writes it, from an sl_msg with headroom, no copy. */
Test(wire, g2_frame_in_place)
{
	size_t flen, hlen;
	uint8_t *want = vector("tcp_frame", &flen);
	uint8_t *hello = vector("bare_hello", &hlen);
	uint8_t buf[SL_MSG_HEADROOM + 64];
	struct sl_msg m = { 0 };
	uint8_t *frame;
	size_t len;

	m.buf = buf;
	m.cap = sizeof(buf);
	m.data = buf + SL_MSG_HEADROOM;
	memcpy(m.data, hello, hlen);
	m.len = (uint32_t)hlen;
	route_of(&m.onward, "0#uppercase");
	route_of(&m.ret, "0#app");
	cr_assert_eq(sl_wire_frame(&m, &frame, &len), 0);
	cr_assert_eq(len, flen);
	cr_assert(!memcmp(frame, want, flen));
	cr_assert_eq(frame + len, m.data + m.len, "payload not framed in place");
	cr_assert_eq(m.len, hlen, "frame changed the payload");
	free(want);
	free(hello);
}

Test(wire, g2_encode_and_headroom_limits)
{
	size_t flen;
	uint8_t *want = vector("tcp_frame", &flen);
	struct sl_route on, ret;
	uint8_t out[64];
	size_t len;

	route_of(&on, "0#uppercase");
	route_of(&ret, "0#app");
	cr_assert_eq(sl_wire_encode(&on, &ret, (const uint8_t *)"\x05hello", 6, out,
				    sizeof(out), &len), 0);
	cr_assert_eq(len, flen);
	cr_assert(!memcmp(out, want, flen));
	cr_assert_eq(sl_wire_encode(&on, &ret, (const uint8_t *)"\x05hello", 6, out,
				    flen - 1, &len), -E2BIG);
	cr_assert_eq(sl_wire_encode(&on, &ret, out, 6, out, 3, &len), -E2BIG);

	/* not enough headroom for the routes: refused, not written before buf */
	{
		uint8_t buf[16 + 6];
		struct sl_msg m = { 0 };
		uint8_t *frame;

		m.buf = buf;
		m.cap = sizeof(buf);
		m.data = buf + 16;
		m.len = 6;
		sl_route_copy(&m.onward, &on);
		sl_route_copy(&m.ret, &ret);
		cr_assert_eq(sl_wire_frame(&m, &frame, &len), -E2BIG);
	}
	free(want);
}

static void decode_g2(const char *key)
{
	size_t n;
	uint8_t *body = vector(key, &n);
	uint8_t *copy = malloc(SL_MSG_HEADROOM + n);
	struct sl_route on, ret;
	const uint8_t *p;
	size_t plen;
	struct sl_msg m = { 0 };

	cr_assert_eq(sl_wire_decode_buf(body, n, &on, &ret, &p, &plen), 0, "%s", key);
	expect_route(&on, "0#uppercase");
	expect_route(&ret, "0#app");
	cr_assert_eq(plen, 6);
	cr_assert(!memcmp(p, "\x05hello", 6));

	/* in place: data narrowed to the payload */
	m.buf = copy;
	m.cap = (uint32_t)(SL_MSG_HEADROOM + n);
	m.data = copy + SL_MSG_HEADROOM;
	memcpy(m.data, body, n);
	m.len = (uint32_t)n;
	cr_assert_eq(sl_wire_decode(&m), 0);
	cr_assert_eq(m.len, 6);
	cr_assert(!memcmp(m.data, "\x05hello", 6));
	cr_assert(m.data > copy + SL_MSG_HEADROOM);
	expect_route(&m.onward, "0#uppercase");
	free(body);
	free(copy);
}

Test(wire, g2_decode_without_tracing_context)
{
	decode_g2("tcp_msg_cbor");
}

Test(wire, g2_decode_with_tracing_context)
{
	decode_g2("tcp_msg_cbor_with_tracing");
}

/*
 * E: the legacy BARE TransportMessage. Its first byte 01 is a CBOR uint, not
 * the array a current message starts with: it must fail as malformed, not
 * decode as something else.
 */
Test(wire, e_legacy_bare_is_rejected)
{
	size_t n;
	uint8_t *body = vector("legacy_v1", &n);
	struct sl_route on, ret;
	const uint8_t *p;
	size_t plen;

	cr_assert_eq(sl_wire_decode_buf(body, n, &on, &ret, &p, &plen), -EBADMSG);
	/* nor without its version byte (a frame might be cut differently) */
	cr_assert_eq(sl_wire_decode_buf(body + 1, n - 1, &on, &ret, &p, &plen), -EBADMSG);
	free(body);
}

/* Tolerated variations of a frame body that decode like G2. */
Test(wire, tolerant_variants)
{
	static const char *ok[] = {
		/* tracing_context null */
		"84 818200497570706572636173658182004361707046 0568656c6c6f f6",
		/* extra trailing fields after tracing_context */
		"86 818200497570706572636173658182004361707046 0568656c6c6f 627b7d 01 a0",
		/* indefinite outer array and routes */
		"9f 9f 9f00497570706572636173 65ff ff 818200436170704605 68656c6c6f ff",
	};
	uint8_t buf[128];
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct sl_route on, ret;
		const uint8_t *p;
		size_t n = 0, plen;
		const char *h;

		for (h = ok[i]; *h; h++) {
			if (*h == ' ')
				continue;
			sscanf(h, "%2hhx", &buf[n++]);
			h++;
		}
		cr_assert_eq(sl_wire_decode_buf(buf, n, &on, &ret, &p, &plen), 0, "case %zu", i);
		cr_assert_eq(plen, 6, "case %zu", i);
		expect_route(&ret, "0#app");
	}
}

Test(wire, rejects_malformed)
{
	static const char *bad[] = {
		"",
		"80",						/* no fields */
		"82 80 80",					/* no payload */
		"83 80 80 6161",				/* payload as text */
		"83 80 80 8100",				/* payload as array */
		"84 80 80 40 01",				/* tracing_context not text */
		"84 80 80 40 5f ff",				/* indefinite string */
		"83 80 80 41",					/* payload truncated */
		"83 80 80 40 00",				/* trailing bytes after the body */
		"83 81 80 80 40",				/* address without fields */
		"83 a0 80 40",					/* route as map */
		"9f 80 80 40",					/* indefinite without break */
		"83 80 80 5b ffffffffffffffff",			/* absurd payload length */
	};
	uint8_t buf[64];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sl_route on, ret;
		const uint8_t *p;
		size_t n = 0, plen;
		const char *h;
		uint8_t *exact;

		for (h = bad[i]; *h; h++) {
			if (*h == ' ')
				continue;
			sscanf(h, "%2hhx", &buf[n++]);
			h++;
		}
		exact = malloc(n ? n : 1);
		memcpy(exact, buf, n);
		cr_assert_eq(sl_wire_decode_buf(exact, n, &on, &ret, &p, &plen), -EBADMSG,
			     "accepted case %zu '%s'", i, bad[i]);
		free(exact);
	}
}

/* Every truncation of a valid body is refused (and read within bounds under ASan). */
Test(wire, every_truncation_fails)
{
	size_t n, i;
	uint8_t *body = vector("tcp_msg_cbor_with_tracing", &n);

	for (i = 0; i < n; i++) {
		uint8_t *cut = malloc(i ? i : 1);
		struct sl_route on, ret;
		const uint8_t *p;
		size_t plen;

		memcpy(cut, body, i);
		cr_assert_neq(sl_wire_decode_buf(cut, i, &on, &ret, &p, &plen), 0, "len %zu", i);
		free(cut);
	}
	free(body);
}

Test(wire, deep_nesting_and_absurd_routes)
{
	uint8_t buf[512];
	struct sl_route on, ret;
	const uint8_t *p;
	size_t n = 0, plen;
	int i;

	/* extra field nested 40 deep */
	buf[n++] = 0x84;
	buf[n++] = 0x80;
	buf[n++] = 0x80;
	buf[n++] = 0x40;
	for (i = 0; i < 40; i++)
		buf[n++] = 0x81;
	buf[n++] = 0x00;
	cr_assert_eq(sl_wire_decode_buf(buf, n, &on, &ret, &p, &plen), -EBADMSG);

	/* a 33-hop onward route */
	n = 0;
	buf[n++] = 0x83;
	buf[n++] = 0x98;
	buf[n++] = 33;
	for (i = 0; i < 33; i++) {
		buf[n++] = 0x82;
		buf[n++] = 0x00;
		buf[n++] = 0x41;
		buf[n++] = 'a';
	}
	buf[n++] = 0x80;
	buf[n++] = 0x40;
	cr_assert_eq(sl_wire_decode_buf(buf, n, &on, &ret, &p, &plen), -E2BIG);
	/* too long for SL_ROUTE_BYTES: five 255-byte addresses */
	{
		static uint8_t big[2048];
		size_t k = 0;

		big[k++] = 0x83;
		big[k++] = 0x85;
		for (i = 0; i < 5; i++) {
			big[k++] = 0x82;
			big[k++] = 0x00;
			big[k++] = 0x58;
			big[k++] = 255;
			memset(big + k, 'x', 255);
			k += 255;
		}
		big[k++] = 0x80;
		big[k++] = 0x40;
		cr_assert_eq(sl_wire_decode_buf(big, k, &on, &ret, &p, &plen), -E2BIG);
	}
	/* an address body longer than an address may be */
	{
		static uint8_t big[512];
		size_t k = 0;

		big[k++] = 0x83;
		big[k++] = 0x81;
		big[k++] = 0x82;
		big[k++] = 0x00;
		big[k++] = 0x59;
		big[k++] = 0x01;
		big[k++] = 0x00;
		memset(big + k, 'x', 256);
		k += 256;
		big[k++] = 0x80;
		big[k++] = 0x40;
		cr_assert_eq(sl_wire_decode_buf(big, k, &on, &ret, &p, &plen), -E2BIG);
	}
}

Test(wire, oversized_body)
{
	static const uint8_t b[] = { 0x83, 0x80, 0x80, 0x40 };
	struct sl_route on, ret;
	const uint8_t *p;
	size_t plen;

	cr_assert_eq(sl_wire_decode_buf(b, SL_FRAME_MAX + 1, &on, &ret, &p, &plen), -E2BIG);
	/* an empty onward route (heartbeat) decodes; dropping it is the router's call */
	cr_assert_eq(sl_wire_decode_buf(b, sizeof(b), &on, &ret, &p, &plen), 0);
	cr_assert(sl_route_empty(&on));
	cr_assert_eq(plen, 0);
}

/* A payload of SL_FRAME_MAX bytes does not fit with its header. */
Test(wire, frame_cap)
{
	struct sl_route on, ret;
	size_t len;
	uint8_t *out = malloc(SL_FRAME_MAX + 64);

	sl_route_init(&on);
	sl_route_init(&ret);
	cr_assert_eq(sl_wire_encode(&on, &ret, out + 64, SL_FRAME_MAX, out, SL_FRAME_MAX + 64,
				    &len), -E2BIG);
	cr_assert_eq(sl_wire_encode(&on, &ret, out + 64, SL_FRAME_MAX - 8, out,
				    SL_FRAME_MAX + 64, &len), 0);
	cr_assert_eq(len, 4 + SL_FRAME_MAX);
	cr_assert_eq(out[0], 0x01);	/* 16 MiB body = 0x01000000 */
	free(out);
}

/* G1, G4, G5, G6: the application bodies other modules frame. */
Test(wire, g1_g4_g5_g6_bodies)
{
	static const struct {
		const char *key, *text;
	} bare[] = {
		{ "bare_hello", "hello" },
		{ "relay_register", "register" },
		{ "relay_static_myrelay", "myrelay" },
		{ "relay_reply_forward_to_myrelay", "forward_to_myrelay" },
	};
	uint8_t out[64];
	size_t i, n;

	for (i = 0; i < sizeof(bare) / sizeof(bare[0]); i++) {
		uint8_t *v = vector(bare[i].key, &n);
		const uint8_t *p;
		size_t plen;
		size_t tl = strlen(bare[i].text);

		cr_assert_eq(sl_bare_put_bytes(out, sizeof(out), bare[i].text, tl), n);
		cr_assert(!memcmp(out, v, n), "%s", bare[i].key);
		cr_assert_eq(sl_bare_get_bytes(v, n, &p, &plen), (int)n);
		cr_assert_eq(plen, tl);
		cr_assert(!memcmp(p, bare[i].text, tl));
		free(v);
	}
	/* G5: CBOR u64 ping */
	{
		uint8_t *v = vector("session_ping", &n);
		struct sl_cbor_writer w;
		struct sl_cbor_reader rd;
		uint64_t x;

		sl_cbor_writer_init(&w, out, sizeof(out));
		sl_cbor_put_uint(&w, 0x0102030405060708ull);
		cr_assert_eq(sl_cbor_writer_len(&w), n);
		cr_assert(!memcmp(out, v, n));
		sl_cbor_reader_init(&rd, v, n);
		cr_assert_eq(sl_cbor_get_uint(&rd, &x), 0);
		cr_assert_eq(x, 0x0102030405060708ull);
		free(v);
	}
	/* G6: portal Payload = 03 || BARE bytes */
	{
		uint8_t *v = vector("portal_payload_hi", &n);
		const uint8_t *p;
		size_t plen;

		cr_assert_eq(v[0], 0x03);
		cr_assert_eq(sl_bare_get_bytes(v + 1, n - 1, &p, &plen), (int)n - 1);
		cr_assert_eq(plen, 2);
		cr_assert(!memcmp(p, "hi", 2));
		free(v);
	}
}

/*
 * F: a UdpTransportMessage with a 493-byte payload and maximal field values is
 * exactly 508 bytes: [1, u16, u32, bool, bytes(493)] in shortest form. Checks
 * our writer's head sizes against Ockam's constant.
 */
Test(wire, f_udp_constant)
{
	static uint8_t buf[600], chunk[493];
	struct sl_cbor_writer w;
	size_t len;

	sl_cbor_writer_init(&w, buf, sizeof(buf));
	sl_cbor_put_array(&w, 5);
	sl_cbor_put_uint(&w, UINT8_MAX);	/* version, maximal */
	sl_cbor_put_uint(&w, UINT16_MAX);
	sl_cbor_put_uint(&w, UINT32_MAX);
	sl_cbor_put_bool(&w, true);
	sl_cbor_put_bytes(&w, chunk, sizeof(chunk));
	cr_assert_eq(sl_cbor_writer_finish(&w, &len), 0);
	cr_assert_eq(len, 508);
}

/* G3's datagram carries G2's body: decode the datagram's fields then the body. */
Test(wire, g3_udp_datagram_carries_g2)
{
	size_t n;
	uint8_t *v = vector("udp_datagram", &n);
	struct sl_cbor_reader rd;
	struct sl_cbor_array a;
	uint64_t ver, rn, off;
	bool last;
	const uint8_t *chunk, *p;
	size_t clen, plen;
	struct sl_route on, ret;

	sl_cbor_reader_init(&rd, v, n);
	cr_assert_eq(sl_cbor_array_enter(&rd, &a), 0);
	cr_assert_eq(a.left, 5);
	cr_assert_eq(sl_cbor_get_uint(&rd, &ver), 0);
	cr_assert_eq(sl_cbor_get_uint(&rd, &rn), 0);
	cr_assert_eq(sl_cbor_get_uint(&rd, &off), 0);
	cr_assert_eq(sl_cbor_get_bool(&rd, &last), 0);
	cr_assert_eq(sl_cbor_get_bytes(&rd, &chunk, &clen), 0);
	cr_assert(ver == 1 && rn == 0x1234 && off == 0 && last);
	cr_assert_eq(sl_wire_decode_buf(chunk, clen, &on, &ret, &p, &plen), 0);
	expect_route(&on, "0#uppercase");
	free(v);
}

/* Encode -> decode -> encode over a table of routes and payload sizes. */
Test(wire, round_trip_table)
{
	static const char *routes[][3] = {
		{ "0#a", "1#127.0.0.1:4000", "5#/run/sluice.sock" },
		{ "1#[::1]:4000", "0#0123456789abcdef0123456789abcdef", "3#ws" },
	};
	static const size_t sizes[] = { 0, 1, 23, 24, 255, 256, 65535, 65536, 100000 };
	uint8_t *pl = malloc(100000), *out = malloc(100000 + 512), *again = malloc(100000 + 512);
	size_t i, j, k;

	for (i = 0; i < 100000; i++)
		pl[i] = (uint8_t)(i * 7);
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		for (j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
			struct sl_route on, ret, on2, ret2;
			const uint8_t *p;
			size_t len, len2, plen;

			sl_route_init(&on);
			sl_route_init(&ret);
			for (k = 0; k < 3; k++) {
				const char *body;
				uint8_t type;
				size_t bl;

				sl_addr_parse(routes[i][k], &type, &body, &bl);
				sl_route_push_back(k == 2 ? &ret : &on, type, body, bl);
			}
			cr_assert_eq(sl_wire_encode(&on, &ret, pl, sizes[j], out, 100000 + 512, &len), 0);
			cr_assert_eq((size_t)(out[0] << 24 | out[1] << 16 | out[2] << 8 | out[3]), len - 4);
			cr_assert_eq(sl_wire_decode_buf(out + 4, len - 4, &on2, &ret2, &p, &plen), 0);
			cr_assert_eq(plen, sizes[j]);
			cr_assert(!plen || !memcmp(p, pl, plen));
			cr_assert_eq(sl_wire_encode(&on2, &ret2, p, plen, again, 100000 + 512, &len2), 0);
			cr_assert_eq(len2, len);
			cr_assert(!memcmp(again, out, len));
		}
	}
	free(pl);
	free(out);
	free(again);
}
