// SPDX-License-Identifier: Apache-2.0
/*
 * PortalMessage (PROTOCOL.md 8): Ping 00, Pong 01, Disconnect 02,
 * Payload 03 || uleb128 len || bytes [|| 01 || u16le counter], and Sluice's
 * extension (portal.h): "SL" 01 uleb128(window) after Ping/Pong, Credit 04,
 * Eof 05. Parsing walks (p, end) and never reads past end.
 */
#include <errno.h>
#include <string.h>

#include "engine/bare.h"
#include "engine/portal.h"

static const uint8_t ext_magic[3] = { 0x53, 0x4c, 0x01 };	/* "SL", version 1 */

int sl_portal_msg_decode(const uint8_t *p, size_t n, struct sl_portal_msg *out)
{
	const uint8_t *end = p + n;
	uint64_t v;
	int k;

	memset(out, 0, sizeof(*out));
	if (!n)
		return -EBADMSG;
	out->kind = p[0];
	p++;
	switch (out->kind) {
	case SL_PORTAL_PING:
	case SL_PORTAL_PONG:
		/* Ockam ignores what follows; so do we, unless it is our extension. */
		if ((size_t)(end - p) > sizeof(ext_magic) && !memcmp(p, ext_magic, sizeof(ext_magic))) {
			k = sl_bare_get_uleb(p + sizeof(ext_magic), (size_t)(end - p) - sizeof(ext_magic), &v);
			if (k > 0 && v > 0 && v <= UINT32_MAX) {
				out->ext = true;
				out->window = (uint32_t)v;
			}
		}
		return 0;
	case SL_PORTAL_DISCONNECT:
	case SL_PORTAL_EOF:
		return 0;
	case SL_PORTAL_CREDIT:
		k = sl_bare_get_uleb(p, (size_t)(end - p), &v);
		if (k < 0)
			return -EBADMSG;
		out->credit = v;
		return 0;
	case SL_PORTAL_PAYLOAD:
		k = sl_bare_get_bytes(p, (size_t)(end - p), &out->data, &out->len);
		if (k < 0)
			return -EBADMSG;
		out->head = (size_t)(out->data - (p - 1));
		p += k;
		/* Ockam: a counter only when three or more bytes follow and the flag is 1. */
		if (end - p >= 3 && p[0] == 1) {
			out->has_counter = true;
			out->counter = (uint16_t)(p[1] | p[2] << 8);
		}
		return 0;
	default:
		return -EBADMSG;
	}
}

size_t sl_portal_msg_encode(uint8_t *out, size_t cap, enum sl_portal_kind kind, bool ext,
			    uint32_t window, uint64_t credit)
{
	size_t n;

	if (cap < 1)
		return 0;
	out[0] = (uint8_t)kind;
	switch (kind) {
	case SL_PORTAL_PING:
	case SL_PORTAL_PONG:
		if (!ext)
			return 1;
		if (cap < 1 + sizeof(ext_magic))
			return 0;
		memcpy(out + 1, ext_magic, sizeof(ext_magic));
		n = sl_bare_put_uleb(out + 4, cap - 4, window);
		return n ? 4 + n : 0;
	case SL_PORTAL_CREDIT:
		n = sl_bare_put_uleb(out + 1, cap - 1, credit);
		return n ? 1 + n : 0;
	case SL_PORTAL_DISCONNECT:
	case SL_PORTAL_EOF:
		return 1;
	default:
		return 0;
	}
}

int sl_portal_payload_wrap(struct sl_msg *m, bool has_counter, uint16_t counter)
{
	size_t h = 1 + sl_bare_uleb_len(m->len);

	if (sl_msg_headroom(m) < h || (has_counter && sl_msg_tailroom(m) < SL_PORTAL_TAIL_MAX))
		return -E2BIG;
	if (has_counter) {
		uint8_t *t = m->data + m->len;

		t[0] = 1;
		t[1] = (uint8_t)counter;
		t[2] = (uint8_t)(counter >> 8);
	}
	m->data -= h;
	m->data[0] = SL_PORTAL_PAYLOAD;
	sl_bare_put_uleb(m->data + 1, h - 1, m->len);
	m->len += (uint32_t)h + (has_counter ? SL_PORTAL_TAIL_MAX : 0);
	return 0;
}
