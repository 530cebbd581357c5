// SPDX-License-Identifier: Apache-2.0
/*
 * TcpTransportMessage framing (PROTOCOL.md 3). We never send the optional
 * tracing_context, so our header is 83 <onward> <return> <bytes head>, and
 * its exact size is known before writing, which is what lets sl_wire_frame()
 * write it backwards-free into the headroom in front of the payload.
 */
#include <errno.h>
#include <string.h>

#include "engine/wire.h"

#define PREFIX 4

static size_t header_len(const struct sl_route *onward, const struct sl_route *ret,
			 size_t len)
{
	return 1 + sl_route_encoded_len(onward) + sl_route_encoded_len(ret) +
	       sl_cbor_head_len(len);
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Prefix and header into [out, out + PREFIX + hdr); 0 or -E2BIG. */
static int put_header(const struct sl_route *onward, const struct sl_route *ret,
		      size_t len, uint8_t *out, size_t hdr)
{
	uint8_t *p = out + PREFIX;

	/* hdr is header_len()'s, and the room is the callers': no writer checks per frame */
	put_be32(out, (uint32_t)(hdr + len));
	*p++ = (uint8_t)(SL_CBOR_ARRAY << 5 | 3);
	p += sl_route_encode_raw(p, onward);
	p += sl_route_encode_raw(p, ret);
	p += sl_cbor_head_write(p, SL_CBOR_BYTES, len);
	/* header_len() and the encoder must agree to the byte, or the frame lies */
	return p == out + PREFIX + hdr ? 0 : -E2BIG;
}

int sl_wire_frame(struct sl_msg *m, uint8_t **frame, size_t *frame_len)
{
	size_t hdr = header_len(&m->onward, &m->ret, m->len);
	uint8_t *start;
	int ret;

	if (hdr + m->len > SL_FRAME_MAX || PREFIX + hdr > sl_msg_headroom(m))
		return -E2BIG;
	start = m->data - hdr - PREFIX;
	ret = put_header(&m->onward, &m->ret, m->len, start, hdr);
	if (ret)
		return ret;
	*frame = start;
	*frame_len = PREFIX + hdr + m->len;
	return 0;
}

int sl_wire_encode(const struct sl_route *onward, const struct sl_route *ret,
		   const uint8_t *payload, size_t len, uint8_t *out, size_t cap,
		   size_t *out_len)
{
	size_t hdr = header_len(onward, ret, len);
	int err;

	if (hdr + len > SL_FRAME_MAX || cap < PREFIX || cap - PREFIX < hdr ||
	    cap - PREFIX - hdr < len)
		return -E2BIG;
	/* the payload may already sit in out: move it before the header lands */
	if (len)
		memmove(out + PREFIX + hdr, payload, len);
	err = put_header(onward, ret, len, out, hdr);
	if (err)
		return err;
	*out_len = PREFIX + hdr + len;
	return 0;
}

/*
 * The usual frame, per frame: 83, two routes and a definite byte string that
 * ends the body (no tracing_context, as we and Ockam send it). false at any
 * other form, for the general reader to start over (it reads this one the same).
 */
static bool decode_fast(const uint8_t *body, size_t len, struct sl_route *onward,
			struct sl_route *ret, const uint8_t **payload, size_t *payload_len)
{
	struct sl_cbor_reader rd;
	uint64_t n;

	if (!len || body[0] != 0x83)
		return false;
	sl_cbor_reader_init(&rd, body + 1, len - 1);
	if (sl_route_decode(&rd, onward) || sl_route_decode(&rd, ret) ||
	    sl_cbor_head_expect(&rd, SL_CBOR_BYTES, &n) || n != (uint64_t)(rd.end - rd.p))
		return false;
	*payload = rd.p;
	*payload_len = (size_t)n;
	return true;
}

int sl_wire_decode_buf(const uint8_t *body, size_t len, struct sl_route *onward,
		       struct sl_route *ret, const uint8_t **payload, size_t *payload_len)
{
	struct sl_cbor_reader rd;
	struct sl_cbor_array a;
	const uint8_t *p = NULL;
	const char *trace;
	size_t n = 0, tn;
	bool present;
	int err;

	if (len > SL_FRAME_MAX) {
		sl_route_init(onward);
		sl_route_init(ret);
		return -E2BIG;
	}
	if (decode_fast(body, len, onward, ret, payload, payload_len))
		return 0;
	sl_route_init(onward);
	sl_route_init(ret);
	sl_cbor_reader_init(&rd, body, len);
	err = sl_cbor_array_enter(&rd, &a);
	if (!err)
		err = sl_cbor_field(&rd, &a);
	if (!err)
		err = sl_route_decode(&rd, onward);
	if (!err)
		err = sl_cbor_field(&rd, &a);
	if (!err)
		err = sl_route_decode(&rd, ret);
	if (!err)
		err = sl_cbor_field(&rd, &a);
	if (!err)
		err = sl_cbor_get_bytes(&rd, &p, &n);
	/* tracing_context: text or null, its content is of no use to us */
	if (!err)
		err = sl_cbor_field_opt(&rd, &a, &present);
	if (!err && present)
		err = sl_cbor_get_text(&rd, &trace, &tn);
	if (!err)
		err = sl_cbor_array_leave(&rd, &a);
	if (!err && !sl_cbor_at_end(&rd))
		err = -EBADMSG;	/* one frame body is one item */
	if (err)
		return err;
	*payload = p;
	*payload_len = n;
	return 0;
}

int sl_wire_decode(struct sl_msg *m)
{
	const uint8_t *p;
	size_t n;
	int ret;

	ret = sl_wire_decode_buf(m->data, m->len, &m->onward, &m->ret, &p, &n);
	if (ret)
		return ret;
	/* p points into m->data: narrowing the view costs nothing */
	m->data += p - m->data;
	m->len = (uint32_t)n;
	return 0;
}
