// SPDX-License-Identifier: Apache-2.0
/* The control API's CBOR: requests, responses and method bodies, round trips and bad input. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "tools/common/api.h"
#include "tools/common/api_portal.h"
#include "tools/common/api_relay.h"
#include "tools/common/api_secure.h"

TestSuite(api, .timeout = 5);

static size_t finish(struct sl_cbor_writer *w)
{
	size_t len;

	cr_assert_eq(sl_cbor_writer_finish(w, &len), 0);
	return len;
}

Test(api, request_bytes_are_stable)
{
	/* ["node.status"] = 81 6b "node.status" */
	static const uint8_t want[] = { 0x81, 0x6b, 'n', 'o', 'd', 'e', '.', 's', 't', 'a', 't', 'u', 's' };
	struct sl_api_request r;
	struct sl_cbor_writer w;
	uint8_t buf[64];
	size_t len;

	sl_cbor_writer_init(&w, buf, sizeof(buf));
	sl_api_put_request(&w, "node.status", false);
	len = finish(&w);
	cr_assert_eq(len, sizeof(want));
	cr_expect_arr_eq(buf, want, sizeof(want));
	cr_assert_eq(sl_api_request_decode(buf, len, &r), 0);
	cr_expect_str_eq(r.method, "node.status");
	cr_expect_null(r.body);
}

Test(api, send_round_trip)
{
	static const uint8_t hello[] = { 0x05, 'h', 'e', 'l', 'l', 'o' };
	struct sl_api_send s = { .payload = hello, .len = sizeof(hello), .timeout_ms = 10000 }, got;
	struct sl_api_request r;
	struct sl_cbor_writer w;
	struct sl_addr a;
	uint8_t buf[256];
	size_t len, it = 0;

	sl_route_init(&s.route);
	cr_assert_eq(sl_route_push_back(&s.route, SL_ADDR_TCP, "127.0.0.1:4000", 14), 0);
	cr_assert_eq(sl_route_push_back(&s.route, SL_ADDR_LOCAL, "uppercase", 9), 0);
	sl_cbor_writer_init(&w, buf, sizeof(buf));
	sl_api_put_request(&w, "message.send", true);
	sl_api_put_send(&w, &s);
	len = finish(&w);

	cr_assert_eq(sl_api_request_decode(buf, len, &r), 0);
	cr_expect_str_eq(r.method, "message.send");
	cr_assert_not_null(r.body);
	cr_assert_eq(sl_api_send_decode(r.body, r.body_len, &got), 0);
	cr_expect_eq(got.timeout_ms, 10000);
	cr_assert_eq(got.len, sizeof(hello));
	cr_expect_arr_eq(got.payload, hello, sizeof(hello));
	cr_assert_eq(got.route.n, 2);
	cr_assert(sl_route_next(&got.route, &it, &a));
	cr_expect_eq(a.type, SL_ADDR_TCP);
	cr_assert(sl_route_next(&got.route, &it, &a));
	cr_expect(sl_addr_is_local(&a, "uppercase"));
}

Test(api, send_rejects_bad_bodies)
{
	struct sl_api_send s = { .payload = (const uint8_t *)"x", .len = 1, .timeout_ms = 0 }, got;
	struct sl_cbor_writer w;
	uint8_t buf[128];
	size_t len;

	/* timeout 0 */
	sl_route_init(&s.route);
	sl_route_push_back(&s.route, SL_ADDR_LOCAL, "echo", 4);
	sl_cbor_writer_init(&w, buf, sizeof(buf));
	sl_api_put_send(&w, &s);
	len = finish(&w);
	cr_expect_eq(sl_api_send_decode(buf, len, &got), -EBADMSG);
	/* empty route */
	s.timeout_ms = 1000;
	sl_route_init(&s.route);
	sl_cbor_writer_init(&w, buf, sizeof(buf));
	sl_api_put_send(&w, &s);
	len = finish(&w);
	cr_expect_eq(sl_api_send_decode(buf, len, &got), -EBADMSG);
	/* truncated, and a text where bytes belong */
	cr_expect_eq(sl_api_send_decode(buf, len - 1, &got), -EBADMSG);
	{
		static const uint8_t text_payload[] = { 0x83, 0x81, 0x82, 0x00, 0x41, 'e', 0x61, 'x', 0x01 };

		cr_expect_eq(sl_api_send_decode(text_payload, sizeof(text_payload), &got), -EBADMSG);
	}
}

Test(api, response_round_trips)
{
	struct sl_api_response r;
	struct sl_cbor_writer w;
	uint8_t buf[128];
	size_t len;

	sl_cbor_writer_init(&w, buf, sizeof(buf));
	sl_api_put_response(&w, SL_API_TIMEOUT, "no reply from 0#x within 1s", false);
	len = finish(&w);
	cr_assert_eq(sl_api_response_decode(buf, len, &r), 0);
	cr_expect_eq(r.status, SL_API_TIMEOUT);
	cr_expect_str_eq(r.error, "no reply from 0#x within 1s");
	cr_expect_null(r.body);

	/* ok with a body and no error: the error slot is null */
	sl_cbor_writer_init(&w, buf, sizeof(buf));
	sl_api_put_response(&w, SL_API_OK, NULL, true);
	sl_cbor_put_bytes(&w, "\x02hi", 3);
	len = finish(&w);
	cr_expect_eq(buf[0], 0x83);
	cr_assert_eq(sl_api_response_decode(buf, len, &r), 0);
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(r.error, "");
	cr_assert_not_null(r.body);
	cr_expect_eq(r.body_len, 4);

	/* trailing garbage after the response is refused */
	buf[len] = 0x00;
	cr_expect_eq(sl_api_response_decode(buf, len + 1, &r), -EBADMSG);
}

Test(api, status_round_trip_and_tolerance)
{
	struct sl_api_status s = { .tcp_port = 4000, .shards = 4, .uptime_ms = 1234, .pid = 99 }, got;
	static const uint8_t older[] = { 0x86, 0x62, 'n', '1', 0x19, 0x0f, 0xa0, 0x01, 0x00, 0x01, 0x81, 0x07 };
	struct sl_cbor_writer w;
	uint8_t buf[256];
	size_t len;

	strcpy(s.name, "n1");
	s.stats.sends = 7;
	s.stats.timeouts = 2;
	sl_cbor_writer_init(&w, buf, sizeof(buf));
	sl_api_put_status(&w, &s);
	len = finish(&w);
	cr_assert_eq(sl_api_status_decode(buf, len, &got), 0);
	cr_expect_str_eq(got.name, "n1");
	cr_expect_eq(got.tcp_port, 4000);
	cr_expect_eq(got.shards, 4);
	cr_expect_eq(got.uptime_ms, 1234);
	cr_expect_eq(got.pid, 99);
	cr_expect_eq(got.stats.sends, 7);
	cr_expect_eq(got.stats.timeouts, 2);
	/* an older node with one counter only */
	cr_assert_eq(sl_api_status_decode(older, sizeof(older), &got), 0);
	cr_expect_eq(got.stats.delivered, 7);
	cr_expect_eq(got.stats.sends, 0);
}

Test(api, malformed_requests)
{
	static const struct {
		const uint8_t *p;
		size_t n;
	} bad[] = {
		{ (const uint8_t *)"", 0 },
		{ (const uint8_t *)"\x80", 1 },			/* [] */
		{ (const uint8_t *)"\x81\x01", 2 },		/* [1] */
		{ (const uint8_t *)"\x81\x62x", 3 },		/* truncated text */
		{ (const uint8_t *)"\x82\x61x", 3 },		/* body missing */
		{ (const uint8_t *)"\x81\x62x\x00", 4 },	/* NUL in the method */
	};
	struct sl_api_request r;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(sl_api_request_decode(bad[i].p, bad[i].n, &r), -EBADMSG, "case %zu", i);
}

/*
 * Found by fuzz_control_request: a text with a NUL in it was cut at the NUL,
 * so relay.delete "b\0x" deleted relay b. Every body's texts refuse a NUL now.
 */
Test(api, bodies_refuse_nul_in_texts)
{
	static const uint8_t text[] = { 0x63, 'b', 0, 'x' };			/* "b\0x" */
	static const uint8_t nul_only[] = { 0x62, 0, 0 };			/* "\0\0" */
	static const uint8_t text2[] = { 0x82, 0x61, 'a', 0x63, 'b', 0, 'x' };	/* ["a", "b\0x"] */
	static const uint8_t relay[] = { 0x82, 0x63, 'b', 0, 'x',		/* ["b\0x", [0#echo]] */
					 0x81, 0x82, 0x00, 0x44, 'e', 'c', 'h', 'o' };
	static const uint8_t relay_ok[] = { 0x82, 0x61, 'b',			/* ["b", [0#echo]] */
					    0x81, 0x82, 0x00, 0x44, 'e', 'c', 'h', 'o' };
	static const uint8_t scl[] = { 0x83, 0x63, 'l', 0, 'x', 0x60, 0x80 };	/* ["l\0x", "", []] */
	static const uint8_t inlet[] = { 0x84, 0x61, 'i', 0x61, 'b', 0x63, 't', 0, 'x', 0x80 };
	static struct sl_api_scl_create lc;
	static struct sl_api_inlet_create ic;
	static struct sl_api_relay_create rc;
	char a[64], b[64];

	cr_expect_eq(sl_api_text_decode(text, sizeof(text), a, sizeof(a)), -EBADMSG);
	cr_expect_eq(sl_api_relay_name_decode(text, sizeof(text), a, sizeof(a)), -EBADMSG);
	cr_expect_eq(sl_api_relay_name_decode(nul_only, sizeof(nul_only), a, sizeof(a)), -EBADMSG);
	cr_expect_eq(sl_api_relay_name_decode(text, 2, a, sizeof(a)), -EBADMSG, "truncated");
	cr_expect_eq(sl_api_relay_name_decode(NULL, 0, a, sizeof(a)), -EBADMSG, "no body");
	cr_expect_eq(sl_api_text2_decode(text2, sizeof(text2), a, sizeof(a), b, sizeof(b)), -EBADMSG);
	cr_expect_eq(sl_api_relay_create_decode(relay, sizeof(relay), &rc), -EBADMSG);
	cr_expect_eq(sl_api_scl_create_decode(scl, sizeof(scl), &lc), -EBADMSG);
	cr_expect_eq(sl_api_inlet_create_decode(inlet, sizeof(inlet), &ic), -EBADMSG);
	/* the same bodies without the NUL still decode */
	cr_assert_eq(sl_api_relay_create_decode(relay_ok, sizeof(relay_ok), &rc), 0);
	cr_expect_str_eq(rc.name, "b");
	cr_expect_eq(rc.at.n, 1);
	cr_expect_not(rc.has_authority);
	cr_assert_eq(sl_api_relay_name_decode(relay_ok + 1, 2, a, sizeof(a)), 0);
	cr_expect_str_eq(a, "b");
}

/* relay.create's fourth field: plain (a bool), absent or null in older requests. */
Test(api, relay_create_plain_field)
{
	/* ["b", [0#echo], null, true] / ... false / ["b", [0#echo], null, "x"] */
	static const uint8_t plain[] = { 0x84, 0x61, 'b', 0x81, 0x82, 0x00, 0x44, 'e', 'c', 'h', 'o',
					 0xf6, 0xf5 };
	static const uint8_t secure[] = { 0x84, 0x61, 'b', 0x81, 0x82, 0x00, 0x44, 'e', 'c', 'h', 'o',
					  0xf6, 0xf4 };
	static const uint8_t older[] = { 0x83, 0x61, 'b', 0x81, 0x82, 0x00, 0x44, 'e', 'c', 'h', 'o',
					 0xf6 };
	static const uint8_t bad[] = { 0x84, 0x61, 'b', 0x81, 0x82, 0x00, 0x44, 'e', 'c', 'h', 'o',
				       0xf6, 0x61, 'x' };
	static struct sl_api_relay_create rc;

	cr_assert_eq(sl_api_relay_create_decode(plain, sizeof(plain), &rc), 0);
	cr_expect(rc.plain);
	cr_expect_not(rc.has_authority);
	cr_assert_eq(sl_api_relay_create_decode(secure, sizeof(secure), &rc), 0);
	cr_expect_not(rc.plain);
	cr_assert_eq(sl_api_relay_create_decode(older, sizeof(older), &rc), 0);
	cr_expect_not(rc.plain, "a request without the field registers through a channel");
	cr_expect_eq(sl_api_relay_create_decode(bad, sizeof(bad), &rc), -EBADMSG);
}
