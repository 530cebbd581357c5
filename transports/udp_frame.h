/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The UDP transport's datagram (PROTOCOL.md 4; Ockam's UdpTransportMessage):
 * CBOR [u8 version = 1, u16 routing_number, u32 offset, bool is_last,
 * bytes chunk]. A routing message (the TCP frame body, without its length
 * prefix) is cut into chunks of at most SL_UDP_CHUNK_MAX bytes, so that no
 * datagram is over SL_UDP_DGRAM_MAX bytes. Pure: no I/O, no allocation
 * (unit tests and tests/fuzz/fuzz_udp.c call it directly).
 */
#ifndef SL_TRANSPORTS_UDP_FRAME_H
#define SL_TRANSPORTS_UDP_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_UDP_VERSION 1
#define SL_UDP_DGRAM_MAX 508	/* Ockam's MAX_ON_THE_WIRE_SIZE */
#define SL_UDP_CHUNK_MAX 493	/* Ockam's MAX_PAYLOAD_SIZE */

struct sl_udp_part {
	uint8_t version;
	uint16_t rn;		/* routing number: one per message, +1 each (mod 2^16) */
	uint32_t offset;	/* of the chunk in the routing message */
	bool last;
	const uint8_t *chunk;	/* decode: a view into the datagram */
	size_t len;
};

/*
 * Decode one datagram. 0, -EBADMSG (not the 5-field array, a field out of
 * range, trailing bytes) or -EPROTONOSUPPORT (a version other than 1; the
 * other fields are still filled). Extra trailing fields in the array are
 * skipped, as minicbor does.
 */
int sl_udp_part_decode(const uint8_t *d, size_t n, struct sl_udp_part *p);
/* Encode p into out. Bytes written, or 0 when cap is too small. */
size_t sl_udp_part_encode(const struct sl_udp_part *p, uint8_t *out, size_t cap);
/* Datagrams a routing message of len bytes takes (1 for an empty one). */
static inline size_t sl_udp_parts(size_t len)
{
	return len ? (len + SL_UDP_CHUNK_MAX - 1) / SL_UDP_CHUNK_MAX : 1;
}
/* Modular order of routing numbers (Ockam's RoutingNumber::cmp): a - b as a signed distance. */
static inline int sl_udp_rn_diff(uint16_t a, uint16_t b)
{
	return (int)(int16_t)(uint16_t)(a - b);
}

#endif
