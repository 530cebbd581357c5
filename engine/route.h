/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Addresses and routes (PROTOCOL.md section 1).
 *
 * A route is kept as a compact byte string of (type, len, body) triples inside a
 * fixed buffer, with free room on both sides: routes grow at the front (every
 * transport receiver pushes its own address on the return route, a relay
 * prepends its forward route) and shrink at the front (every hop consumes one),
 * so both are O(length of the address) and never allocate.
 */
#ifndef SL_ROUTE_H
#define SL_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/cbor.h"

enum {
	SL_ADDR_LOCAL = 0,
	SL_ADDR_TCP = 1,
	SL_ADDR_UDP = 2,
	SL_ADDR_WS = 3,
	SL_ADDR_BLE = 4,
	SL_ADDR_UDS = 5,
};

#define SL_ADDR_BODY_MAX 255	/* a dnsaddr host:port fits */
#define SL_ROUTE_MAX_HOPS 32	/* longer routes are rejected as absurd */
#define SL_ROUTE_BYTES 1024	/* room for the triples, both sides included */
#define SL_RANDOM_ADDR_LEN 32	/* 16 random bytes as lowercase hex */

/* A view of one address: body points into the route (or any buffer) it came from. */
struct sl_addr {
	uint8_t type;
	uint8_t len;
	const uint8_t *body;
};

struct sl_route {
	uint16_t head;		/* offset of the first triple in buf */
	uint16_t tail;		/* offset one past the last triple */
	uint8_t n;		/* number of addresses */
	uint8_t buf[SL_ROUTE_BYTES];
};

/* Empty route with room at both ends. */
void sl_route_init(struct sl_route *r);
static inline bool sl_route_empty(const struct sl_route *r) { return r->n == 0; }
void sl_route_copy(struct sl_route *dst, const struct sl_route *src);

/* 0, or -E2BIG when the route would exceed SL_ROUTE_MAX_HOPS or SL_ROUTE_BYTES. */
int sl_route_push_front(struct sl_route *r, uint8_t type, const void *body, size_t len);
int sl_route_push_back(struct sl_route *r, uint8_t type, const void *body, size_t len);
/* dst = src ++ dst (a relay prepends its forward route). */
int sl_route_prepend(struct sl_route *dst, const struct sl_route *src);

/*
 * A route kept for long (a relay's forward route) in just the bytes it needs
 * rather than a whole struct sl_route: its triples, as the route holds them.
 */
struct sl_route_packed {
	uint16_t used;		/* bytes of triples */
	uint8_t n;
	uint8_t buf[];
};
/* A heap copy of r (free() it), or NULL when out of memory. */
struct sl_route_packed *sl_route_pack(const struct sl_route *r);
void sl_route_unpack(struct sl_route *dst, const struct sl_route_packed *p);
/* dst = the n addresses of the triples [t, t + len), as a route holds them. 0 or -E2BIG. */
int sl_route_set_triples(struct sl_route *dst, const uint8_t *t, size_t len, size_t n);
/* dst = p ++ dst, as sl_route_prepend. */
int sl_route_prepend_packed(struct sl_route *dst, const struct sl_route_packed *p);
/* dst = dst ++ src. */
int sl_route_append(struct sl_route *dst, const struct sl_route *src);

/* false when empty. The view stays valid until the route is modified. */
bool sl_route_front(const struct sl_route *r, struct sl_addr *out);
/* 0, or -ENOENT when empty. */
int sl_route_pop_front(struct sl_route *r);
/* Drop the last address (relay registration). 0 or -ENOENT. */
int sl_route_pop_back(struct sl_route *r);

/* Iterate: size_t it = 0; while (sl_route_next(r, &it, &a)) ... */
bool sl_route_next(const struct sl_route *r, size_t *it, struct sl_addr *out);

bool sl_addr_eq(const struct sl_addr *a, const struct sl_addr *b);
/* True when a is the local address whose body equals the C string name. */
bool sl_addr_is_local(const struct sl_addr *a, const char *name);

/* CBOR: route = array of addresses, address = [type, bytes body] (PROTOCOL.md 2). */
void sl_route_encode(struct sl_cbor_writer *w, const struct sl_route *r);
/*
 * 0, or -EBADMSG (malformed), -E2BIG (too long, or a body over
 * SL_ADDR_BODY_MAX). r is initialised first. Indefinite arrays and extra
 * trailing fields in an address are accepted; a body must be a byte string.
 */
int sl_route_decode(struct sl_cbor_reader *rd, struct sl_route *r);
/* Exact number of bytes sl_route_encode writes. */
size_t sl_route_encoded_len(const struct sl_route *r);
/* The same bytes at p, which has sl_route_encoded_len(r) of room; returns that. */
size_t sl_route_encode_raw(uint8_t *p, const struct sl_route *r);

/*
 * Text forms: an address is "TT#body" ("#"-less means type 0); a route is the
 * addresses joined by " => ". Bodies that are not printable ASCII are shown
 * as "0x" and lowercase hex.
 * Return the length that was (or would have been) written, like snprintf.
 */
int sl_addr_format(const struct sl_addr *a, char *buf, size_t cap);
int sl_route_format(const struct sl_route *r, char *buf, size_t cap);
/* Parse "TT#body" into (type, body). 0 or -EINVAL. */
int sl_addr_parse(const char *text, uint8_t *type, const char **body, size_t *len);

#endif
