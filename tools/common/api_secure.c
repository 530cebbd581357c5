// SPDX-License-Identifier: Apache-2.0
/* Control-API bodies for secure channels (api_secure.h). */
#include <errno.h>
#include <string.h>

#include "tools/common/api_secure.h"

/* A text into out[cap]; one with a NUL in it is refused, not cut short at the NUL. */
static int get_text(struct sl_cbor_reader *rd, char *out, size_t cap)
{
	const char *s;
	size_t n;

	if (sl_cbor_get_text(rd, &s, &n) || n >= cap || memchr(s, '\0', n))
		return -EBADMSG;
	memcpy(out, s, n);
	out[n] = 0;
	return 0;
}

static void put_ids(struct sl_cbor_writer *w, const uint8_t (*ids)[SL_ID_LEN], unsigned n)
{
	sl_cbor_put_array(w, n);
	for (unsigned i = 0; i < n; i++)
		sl_cbor_put_bytes(w, ids[i], SL_ID_LEN);
}

static int get_ids(struct sl_cbor_reader *rd, uint8_t (*ids)[SL_ID_LEN], unsigned *n)
{
	struct sl_cbor_array a;
	int ret;

	*n = 0;
	ret = sl_cbor_array_enter(rd, &a);
	while (!ret && (ret = sl_cbor_array_next(rd, &a)) > 0) {
		if (*n >= SL_SECURE_MAX_AUTHORIZED)
			return -E2BIG;
		ret = sl_cbor_get_bytes_n(rd, ids[(*n)++], SL_ID_LEN);
	}
	return ret ? ret : sl_cbor_array_leave(rd, &a);
}

/* The next required field of a, read as text, an identifier, a uint <= max, identifiers. */
static int field_text(struct sl_cbor_reader *rd, struct sl_cbor_array *a, char *out, size_t cap)
{
	int ret = sl_cbor_field(rd, a);

	return ret ? ret : get_text(rd, out, cap);
}

static int field_id(struct sl_cbor_reader *rd, struct sl_cbor_array *a, uint8_t out[SL_ID_LEN])
{
	int ret = sl_cbor_field(rd, a);

	return ret ? ret : sl_cbor_get_bytes_n(rd, out, SL_ID_LEN);
}

static int field_uint(struct sl_cbor_reader *rd, struct sl_cbor_array *a, uint64_t max,
		      uint64_t *v)
{
	int ret = sl_cbor_field(rd, a);

	return ret ? ret : sl_cbor_get_uint_max(rd, max, v);
}

static int field_ids(struct sl_cbor_reader *rd, struct sl_cbor_array *a,
		     uint8_t (*ids)[SL_ID_LEN], unsigned *n)
{
	int ret = sl_cbor_field(rd, a);

	return ret ? ret : get_ids(rd, ids, n);
}

void sl_api_put_sc_create(struct sl_cbor_writer *w, const struct sl_api_sc_create *c)
{
	sl_cbor_put_array(w, 4);
	sl_route_encode(w, &c->to);
	sl_cbor_put_text(w, c->identity, strlen(c->identity));
	put_ids(w, (const uint8_t (*)[SL_ID_LEN])c->authorized, c->n_authorized);
	sl_cbor_put_uint(w, c->timeout_ms);
}

int sl_api_sc_create_decode(const uint8_t *p, size_t n, struct sl_api_sc_create *c)
{
	struct sl_cbor_reader rd;
	struct sl_cbor_array a;
	uint64_t t;
	int ret;

	memset(c, 0, sizeof(*c));
	sl_cbor_reader_init(&rd, p, n);
	ret = sl_cbor_array_enter(&rd, &a);
	if (!ret)
		ret = sl_cbor_field(&rd, &a);
	if (!ret)
		ret = sl_route_decode(&rd, &c->to);
	if (!ret)
		ret = field_text(&rd, &a, c->identity, sizeof(c->identity));
	if (!ret)
		ret = field_ids(&rd, &a, c->authorized, &c->n_authorized);
	if (!ret)
		ret = field_uint(&rd, &a, 24u * 3600 * 1000, &t);
	if (!ret)
		ret = sl_cbor_array_leave(&rd, &a);
	c->timeout_ms = ret ? 0 : (uint32_t)t;
	return ret == -E2BIG ? ret : ret ? -EBADMSG : 0;
}

void sl_api_put_scl_create(struct sl_cbor_writer *w, const struct sl_api_scl_create *c)
{
	sl_cbor_put_array(w, 3);
	sl_cbor_put_text(w, c->addr, strlen(c->addr));
	sl_cbor_put_text(w, c->identity, strlen(c->identity));
	put_ids(w, (const uint8_t (*)[SL_ID_LEN])c->authorized, c->n_authorized);
}

int sl_api_scl_create_decode(const uint8_t *p, size_t n, struct sl_api_scl_create *c)
{
	struct sl_cbor_reader rd;
	struct sl_cbor_array a;
	int ret;

	memset(c, 0, sizeof(*c));
	sl_cbor_reader_init(&rd, p, n);
	ret = sl_cbor_array_enter(&rd, &a);
	if (!ret)
		ret = field_text(&rd, &a, c->addr, sizeof(c->addr));
	if (!ret)
		ret = field_text(&rd, &a, c->identity, sizeof(c->identity));
	if (!ret)
		ret = field_ids(&rd, &a, c->authorized, &c->n_authorized);
	if (!ret)
		ret = sl_cbor_array_leave(&rd, &a);
	return ret == -E2BIG ? ret : ret ? -EBADMSG : 0;
}

void sl_api_put_sc_info(struct sl_cbor_writer *w, const struct sl_secure_info *i)
{
	sl_cbor_put_array(w, 10);
	sl_cbor_put_text(w, i->addr, strlen(i->addr));
	sl_cbor_put_text(w, i->decryptor, strlen(i->decryptor));
	sl_cbor_put_bytes(w, i->self, SL_ID_LEN);
	sl_cbor_put_bytes(w, i->peer, SL_ID_LEN);
	sl_cbor_put_bool(w, i->initiator);
	sl_cbor_put_text(w, i->route, strlen(i->route));
	sl_cbor_put_uint(w, i->created_s);
	sl_cbor_put_uint(w, i->sent);
	sl_cbor_put_uint(w, i->received);
	sl_cbor_put_uint(w, i->shard);
}

int sl_api_sc_info_decode(struct sl_cbor_reader *rd, struct sl_secure_info *i)
{
	struct sl_cbor_array a;
	uint64_t shard = 0;
	int ret;

	memset(i, 0, sizeof(*i));
	ret = sl_cbor_array_enter(rd, &a);
	if (!ret)
		ret = field_text(rd, &a, i->addr, sizeof(i->addr));
	if (!ret)
		ret = field_text(rd, &a, i->decryptor, sizeof(i->decryptor));
	if (!ret)
		ret = field_id(rd, &a, i->self);
	if (!ret)
		ret = field_id(rd, &a, i->peer);
	if (!ret)
		ret = sl_cbor_field(rd, &a);
	if (!ret)
		ret = sl_cbor_get_bool(rd, &i->initiator);
	if (!ret)
		ret = field_text(rd, &a, i->route, sizeof(i->route));
	if (!ret)
		ret = field_uint(rd, &a, UINT64_MAX, &i->created_s);
	if (!ret)
		ret = field_uint(rd, &a, UINT64_MAX, &i->sent);
	if (!ret)
		ret = field_uint(rd, &a, UINT64_MAX, &i->received);
	if (!ret)
		ret = field_uint(rd, &a, 1024, &shard);
	i->shard = (unsigned)shard;
	if (!ret)
		ret = sl_cbor_array_leave(rd, &a);
	return ret ? -EBADMSG : 0;
}

void sl_api_put_scl_info(struct sl_cbor_writer *w, const struct sl_secure_listener_info *i)
{
	sl_cbor_put_array(w, 4);
	sl_cbor_put_text(w, i->addr, strlen(i->addr));
	sl_cbor_put_text(w, i->identity, strlen(i->identity));
	sl_cbor_put_bytes(w, i->id, SL_ID_LEN);
	put_ids(w, (const uint8_t (*)[SL_ID_LEN])i->authorized, i->n_authorized);
}

int sl_api_scl_info_decode(struct sl_cbor_reader *rd, struct sl_secure_listener_info *i)
{
	struct sl_cbor_array a;
	int ret;

	memset(i, 0, sizeof(*i));
	ret = sl_cbor_array_enter(rd, &a);
	if (!ret)
		ret = field_text(rd, &a, i->addr, sizeof(i->addr));
	if (!ret)
		ret = field_text(rd, &a, i->identity, sizeof(i->identity));
	if (!ret)
		ret = field_id(rd, &a, i->id);
	if (!ret)
		ret = field_ids(rd, &a, i->authorized, &i->n_authorized);
	if (!ret)
		ret = sl_cbor_array_leave(rd, &a);
	return ret ? -EBADMSG : 0;
}

int sl_api_text_decode(const uint8_t *p, size_t n, char *out, size_t cap)
{
	struct sl_cbor_reader rd;

	sl_cbor_reader_init(&rd, p, n);
	if (get_text(&rd, out, cap) || !sl_cbor_at_end(&rd))
		return -EBADMSG;
	return 0;
}
