// SPDX-License-Identifier: Apache-2.0
/* Control-API bodies of relay.* as the node manager reads them (api_relay.h). */
#include <errno.h>
#include <string.h>

#include "crypto/cbor.h"
#include "tools/common/api_relay.h"

int sl_api_relay_name_decode(const uint8_t *p, size_t n, char *name, size_t cap)
{
	struct sl_cbor_reader rd;
	const char *s;
	size_t len;

	if (!p)
		return -EBADMSG;
	sl_cbor_reader_init(&rd, p, n);
	if (sl_cbor_get_text(&rd, &s, &len) || !len || len >= cap || memchr(s, '\0', len))
		return -EBADMSG;
	memcpy(name, s, len);
	name[len] = 0;
	return 0;
}

int sl_api_relay_create_decode(const uint8_t *p, size_t n, struct sl_api_relay_create *c)
{
	struct sl_cbor_reader rd;
	struct sl_cbor_array a;
	const uint8_t *v;
	const char *s;
	bool present;
	size_t len;

	memset(c, 0, sizeof(*c));
	if (!p)
		return -EBADMSG;
	sl_cbor_reader_init(&rd, p, n);
	if (sl_cbor_array_enter(&rd, &a) || sl_cbor_field(&rd, &a) || sl_cbor_get_text(&rd, &s, &len) ||
	    !len || len >= sizeof(c->name) || memchr(s, '\0', len))
		return -EBADMSG;
	memcpy(c->name, s, len);
	c->name[len] = 0;
	if (sl_cbor_field(&rd, &a) || sl_route_decode(&rd, &c->at))
		return -EBADMSG;
	if (sl_cbor_field_opt(&rd, &a, &present))
		return -EBADMSG;
	if (present && !sl_cbor_peek_null(&rd)) {
		if (sl_cbor_get_bytes(&rd, &v, &len) || len != sizeof(c->authority))
			return -EBADMSG;
		memcpy(c->authority, v, len);
		c->has_authority = true;
	}
	if (sl_cbor_field_opt(&rd, &a, &present))
		return -EBADMSG;
	if (present && sl_cbor_get_bool(&rd, &c->plain))
		return -EBADMSG;
	return 0;
}
