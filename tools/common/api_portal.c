// SPDX-License-Identifier: Apache-2.0
/* Control-API bodies of tcp_inlet.* and tcp_outlet.* (api_portal.h). */
#include <errno.h>
#include <string.h>

#include "tools/common/api_portal.h"

static void put_str(struct sl_cbor_writer *w, const char *s)
{
	sl_cbor_put_text(w, s, strlen(s));
}

/* The next field of a, as text into buf (NUL-terminated; a NUL inside is refused). */
static int get_str(struct sl_cbor_reader *rd, struct sl_cbor_array *a, char *buf, size_t cap)
{
	const char *s;
	size_t n;

	if (a && sl_cbor_field(rd, a))
		return -EBADMSG;
	if (sl_cbor_get_text(rd, &s, &n) || n >= cap || memchr(s, '\0', n))
		return -EBADMSG;
	memcpy(buf, s, n);
	buf[n] = 0;
	return 0;
}

static int get_u64(struct sl_cbor_reader *rd, struct sl_cbor_array *a, uint64_t *v)
{
	if (sl_cbor_field(rd, a) || sl_cbor_get_uint(rd, v))
		return -EBADMSG;
	return 0;
}

void sl_api_put_portal(struct sl_cbor_writer *w, const struct sl_portal_info *v)
{
	sl_cbor_put_array(w, 8);
	put_str(w, v->name);
	put_str(w, v->bind);
	put_str(w, v->route);
	sl_cbor_put_uint(w, v->port);
	sl_cbor_put_uint(w, v->conns);
	sl_cbor_put_uint(w, v->total);
	sl_cbor_put_uint(w, v->bytes_in);
	sl_cbor_put_uint(w, v->bytes_out);
}

int sl_api_get_portal(struct sl_cbor_reader *rd, struct sl_portal_info *v)
{
	struct sl_cbor_array a;
	uint64_t port = 0;

	memset(v, 0, sizeof(*v));
	if (sl_cbor_array_enter(rd, &a) ||
	    get_str(rd, &a, v->name, sizeof(v->name)) ||
	    get_str(rd, &a, v->bind, sizeof(v->bind)) ||
	    get_str(rd, &a, v->route, sizeof(v->route)) ||
	    get_u64(rd, &a, &port) || port > 65535 ||
	    get_u64(rd, &a, &v->conns) || get_u64(rd, &a, &v->total) ||
	    get_u64(rd, &a, &v->bytes_in) || get_u64(rd, &a, &v->bytes_out) ||
	    sl_cbor_array_leave(rd, &a))
		return -EBADMSG;
	v->port = (uint16_t)port;
	return 0;
}

void sl_api_put_inlet_create(struct sl_cbor_writer *w, const struct sl_api_inlet_create *c)
{
	sl_cbor_put_array(w, 4);
	put_str(w, c->alias);
	put_str(w, c->bind);
	put_str(w, c->to);
	sl_route_encode(w, &c->route);
}

int sl_api_inlet_create_decode(const uint8_t *p, size_t n, struct sl_api_inlet_create *c)
{
	struct sl_cbor_reader rd;
	struct sl_cbor_array a;

	sl_cbor_reader_init(&rd, p, n);
	if (sl_cbor_array_enter(&rd, &a) ||
	    get_str(&rd, &a, c->alias, sizeof(c->alias)) ||
	    get_str(&rd, &a, c->bind, sizeof(c->bind)) ||
	    get_str(&rd, &a, c->to, sizeof(c->to)) ||
	    sl_cbor_field(&rd, &a) || sl_route_decode(&rd, &c->route) ||
	    sl_cbor_array_leave(&rd, &a) || !c->alias[0] || !c->bind[0] || !c->to[0])
		return -EBADMSG;
	return 0;
}

void sl_api_put_text2(struct sl_cbor_writer *w, const char *a, const char *b)
{
	sl_cbor_put_array(w, 2);
	put_str(w, a);
	put_str(w, b);
}

int sl_api_text2_decode(const uint8_t *p, size_t n, char *a, size_t acap, char *b, size_t bcap)
{
	struct sl_cbor_reader rd;
	struct sl_cbor_array arr;

	sl_cbor_reader_init(&rd, p, n);
	if (sl_cbor_array_enter(&rd, &arr) || get_str(&rd, &arr, a, acap) ||
	    get_str(&rd, &arr, b, bcap) || sl_cbor_array_leave(&rd, &arr) || !*a || !*b)
		return -EBADMSG;
	return 0;
}
