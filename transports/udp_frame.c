// SPDX-License-Identifier: Apache-2.0
/* The UDP datagram codec (udp_frame.h). */
#include <errno.h>

#include "crypto/cbor.h"
#include "transports/udp_frame.h"

int sl_udp_part_decode(const uint8_t *d, size_t n, struct sl_udp_part *p)
{
	struct sl_cbor_reader rd;
	struct sl_cbor_array a;
	uint64_t v, rn, off;

	sl_cbor_reader_init(&rd, d, n);
	if (sl_cbor_array_enter(&rd, &a) ||
	    sl_cbor_field(&rd, &a) || sl_cbor_get_uint_max(&rd, UINT8_MAX, &v) ||
	    sl_cbor_field(&rd, &a) || sl_cbor_get_uint_max(&rd, UINT16_MAX, &rn) ||
	    sl_cbor_field(&rd, &a) || sl_cbor_get_uint_max(&rd, UINT32_MAX, &off) ||
	    sl_cbor_field(&rd, &a) || sl_cbor_get_bool(&rd, &p->last) ||
	    sl_cbor_field(&rd, &a) || sl_cbor_get_bytes(&rd, &p->chunk, &p->len) ||
	    sl_cbor_array_leave(&rd, &a) || !sl_cbor_at_end(&rd))
		return -EBADMSG;
	p->version = (uint8_t)v;
	p->rn = (uint16_t)rn;
	p->offset = (uint32_t)off;
	return p->version == SL_UDP_VERSION ? 0 : -EPROTONOSUPPORT;
}

size_t sl_udp_part_encode(const struct sl_udp_part *p, uint8_t *out, size_t cap)
{
	struct sl_cbor_writer w;
	size_t n;

	sl_cbor_writer_init(&w, out, cap);
	sl_cbor_put_array(&w, 5);
	sl_cbor_put_uint(&w, p->version);
	sl_cbor_put_uint(&w, p->rn);
	sl_cbor_put_uint(&w, p->offset);
	sl_cbor_put_bool(&w, p->last);
	sl_cbor_put_bytes(&w, p->chunk, p->len);
	return sl_cbor_writer_finish(&w, &n) ? 0 : n;
}
