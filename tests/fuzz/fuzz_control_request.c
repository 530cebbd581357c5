// SPDX-License-Identifier: Apache-2.0
/*
 * The control socket (tools/common/api.h): a Request payload as the node manager
 * receives it, its body through every method's decoder, and the same bytes
 * as a Response and its bodies as the CLI reads them. Anything with access
 * to the socket sends these bytes. Invariants: views stay inside the input,
 * texts end inside their fields, counts stay within their limits, and what
 * decodes encodes again to something that decodes to the same values.
 */
#include <stdlib.h>
#include <string.h>

#include "tools/common/api.h"
#include "tools/common/api_portal.h"
#include "tools/common/api_relay.h"
#include "tools/common/api_secure.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

static bool inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size)
{
	return p >= data && n <= size && p + n <= data + size;
}

static bool ended(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

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

/* Room for any re-encoding of a body of n bytes (its routes may be re-encoded longer). */
static uint8_t *scratch(size_t n, size_t *cap)
{
	*cap = n + 2 * SL_ROUTE_BYTES + 1024;
	return malloc(*cap);
}

static void request(const uint8_t *data, size_t size)
{
	struct sl_api_request r, r2;
	struct sl_cbor_writer w;
	uint8_t *buf;
	size_t cap, len;

	if (sl_api_request_decode(data, size, &r))
		return;
	CHECK(ended(r.method, sizeof(r.method)));
	CHECK(!r.body || (r.body_len && inside(r.body, r.body_len, data, size)));
	buf = scratch(size, &cap);
	sl_cbor_writer_init(&w, buf, cap);
	sl_api_put_request(&w, r.method, r.body != NULL);
	if (r.body)
		sl_cbor_put_raw(&w, r.body, r.body_len);
	CHECK(!sl_cbor_writer_finish(&w, &len));
	CHECK(!sl_api_request_decode(buf, len, &r2));
	CHECK(!strcmp(r.method, r2.method) && r2.body_len == r.body_len);
	CHECK(!r.body || !memcmp(r.body, r2.body, r.body_len));
	free(buf);
}

static void send_body(const uint8_t *p, size_t n)
{
	static struct sl_api_send s, s2;
	struct sl_cbor_writer w;
	uint8_t *buf;
	size_t cap, len;

	if (sl_api_send_decode(p, n, &s))
		return;
	CHECK(!sl_route_empty(&s.route) && s.timeout_ms && s.timeout_ms <= SL_API_TIMEOUT_MAX_MS);
	CHECK(inside(s.payload, s.len, p, n));
	buf = scratch(n, &cap);
	sl_cbor_writer_init(&w, buf, cap);
	sl_api_put_send(&w, &s);
	CHECK(!sl_cbor_writer_finish(&w, &len));
	CHECK(!sl_api_send_decode(buf, len, &s2));
	CHECK(route_eq(&s.route, &s2.route) && s.timeout_ms == s2.timeout_ms && s.len == s2.len &&
	      !memcmp(s.payload, s2.payload, s.len));
	free(buf);
}

static void secure_bodies(const uint8_t *p, size_t n)
{
	static struct sl_api_sc_create c, c2;
	static struct sl_api_scl_create l, l2;
	struct sl_cbor_writer w;
	uint8_t *buf;
	size_t cap, len;
	char text[SL_ADDR_BODY_MAX + 1];

	buf = scratch(n, &cap);
	if (!sl_api_sc_create_decode(p, n, &c)) {
		CHECK(ended(c.identity, sizeof(c.identity)));
		CHECK(c.n_authorized <= SL_SECURE_MAX_AUTHORIZED);
		sl_cbor_writer_init(&w, buf, cap);
		sl_api_put_sc_create(&w, &c);
		CHECK(!sl_cbor_writer_finish(&w, &len));
		CHECK(!sl_api_sc_create_decode(buf, len, &c2));
		CHECK(route_eq(&c.to, &c2.to) && !strcmp(c.identity, c2.identity) &&
		      c.timeout_ms == c2.timeout_ms && c.n_authorized == c2.n_authorized &&
		      !memcmp(c.authorized, c2.authorized, sizeof(c.authorized[0]) * c.n_authorized));
	}
	if (!sl_api_scl_create_decode(p, n, &l)) {
		CHECK(ended(l.addr, sizeof(l.addr)) && ended(l.identity, sizeof(l.identity)));
		CHECK(l.n_authorized <= SL_SECURE_MAX_AUTHORIZED);
		sl_cbor_writer_init(&w, buf, cap);
		sl_api_put_scl_create(&w, &l);
		CHECK(!sl_cbor_writer_finish(&w, &len));
		CHECK(!sl_api_scl_create_decode(buf, len, &l2));
		CHECK(!strcmp(l.addr, l2.addr) && !strcmp(l.identity, l2.identity) &&
		      l.n_authorized == l2.n_authorized &&
		      !memcmp(l.authorized, l2.authorized, sizeof(l.authorized[0]) * l.n_authorized));
	}
	if (!sl_api_text_decode(p, n, text, sizeof(text)))
		CHECK(strlen(text) < sizeof(text));
	free(buf);
}

static void portal_relay_bodies(const uint8_t *p, size_t n)
{
	static struct sl_api_inlet_create c, c2;
	static struct sl_api_relay_create rc;
	char a[SL_ADDR_BODY_MAX + 1], b[SL_ADDR_BODY_MAX + 1], name[SL_RELAY_NAME_MAX + 1];
	struct sl_cbor_writer w;
	uint8_t *buf;
	size_t cap, len;

	buf = scratch(n, &cap);
	memset(&c, 0, sizeof(c));
	if (!sl_api_inlet_create_decode(p, n, &c)) {
		CHECK(c.alias[0] && c.bind[0] && c.to[0] && ended(c.to, sizeof(c.to)));
		sl_cbor_writer_init(&w, buf, cap);
		sl_api_put_inlet_create(&w, &c);
		CHECK(!sl_cbor_writer_finish(&w, &len));
		memset(&c2, 0, sizeof(c2));
		CHECK(!sl_api_inlet_create_decode(buf, len, &c2));
		CHECK(!strcmp(c.alias, c2.alias) && !strcmp(c.bind, c2.bind) && !strcmp(c.to, c2.to) &&
		      route_eq(&c.route, &c2.route));
	}
	if (!sl_api_text2_decode(p, n, a, sizeof(a), b, sizeof(b))) {
		CHECK(a[0] && b[0] && strlen(a) < sizeof(a) && strlen(b) < sizeof(b));
		sl_cbor_writer_init(&w, buf, cap);
		sl_api_put_text2(&w, a, b);
		CHECK(!sl_cbor_writer_finish(&w, &len));
	}
	if (!sl_api_relay_create_decode(p, n, &rc))
		CHECK(rc.name[0] && ended(rc.name, sizeof(rc.name)));
	if (!sl_api_relay_name_decode(p, n, name, sizeof(name)))
		CHECK(name[0] && strlen(name) < sizeof(name));
	free(buf);
}

/* The CLI's side: a Response and the bodies it reads from one. */
static void response(const uint8_t *data, size_t size)
{
	static struct sl_api_response r;
	static struct sl_secure_info si;
	static struct sl_secure_listener_info li;
	static struct sl_portal_info pi;
	struct sl_api_status st;
	struct sl_cbor_reader rd;

	if (sl_api_response_decode(data, size, &r))
		return;
	CHECK(r.status <= 999 && ended(r.error, sizeof(r.error)));
	CHECK(!r.body || inside(r.body, r.body_len, data, size));
	if (!r.body)
		return;
	if (!sl_api_status_decode(r.body, r.body_len, &st))
		CHECK(ended(st.name, sizeof(st.name)));
	sl_cbor_reader_init(&rd, r.body, r.body_len);
	if (!sl_api_sc_info_decode(&rd, &si))
		CHECK(ended(si.addr, sizeof(si.addr)) && ended(si.route, sizeof(si.route)));
	sl_cbor_reader_init(&rd, r.body, r.body_len);
	if (!sl_api_scl_info_decode(&rd, &li))
		CHECK(li.n_authorized <= SL_SECURE_MAX_AUTHORIZED);
	sl_cbor_reader_init(&rd, r.body, r.body_len);
	if (!sl_api_get_portal(&rd, &pi))
		CHECK(ended(pi.name, sizeof(pi.name)) && ended(pi.route, sizeof(pi.route)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_api_request r;
	const uint8_t *body = NULL;
	size_t body_len = 0;

	request(data, size);
	/* A well-formed request's body goes to the method decoders, as the node manager does. */
	if (!sl_api_request_decode(data, size, &r)) {
		body = r.body;
		body_len = r.body_len;
	}
	/* Every decoder sees every body: the method only picks one of them. */
	if (body) {
		send_body(body, body_len);
		secure_bodies(body, body_len);
		portal_relay_bodies(body, body_len);
	} else {
		/* A missing body: the decoders that take one refuse it. */
		struct sl_api_relay_create rc;
		char name[8];

		CHECK(sl_api_relay_create_decode(NULL, 0, &rc) && sl_api_relay_name_decode(NULL, 0, name, 8));
	}
	response(data, size);
	return 0;
}
