/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control-API bodies of the portal methods (api.h has the envelope):
 *
 *   "tcp_outlet.create"  [text address, text target]          -> Portal
 *   "tcp_outlet.list"    none                                 -> [Portal...]
 *   "tcp_outlet.show"    text address                         -> Portal
 *   "tcp_outlet.delete"  text address                         -> none
 *   "tcp_inlet.create"   [text alias, text bind, text to, route to] -> Portal
 *                        (an empty route: the node resolves `to` itself, making
 *                        the secure channels its /secure and /project stand for)
 *   "tcp_inlet.list"     none                                 -> [Portal...]
 *   "tcp_inlet.show"     text alias                           -> Portal
 *   "tcp_inlet.delete"   text alias                           -> none
 *
 *   Portal = [text name, text bind, text route, uint port, uint conns,
 *             uint total, uint bytes_in, uint bytes_out]
 * (an outlet's bind is its target, its route and port empty / 0).
 */
#ifndef SL_API_PORTAL_H
#define SL_API_PORTAL_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/cbor.h"
#include "engine/portal.h"
#include "engine/route.h"

struct sl_api_inlet_create {
	char alias[SL_ADDR_BODY_MAX + 1];
	char bind[SL_ADDR_BODY_MAX + 1];
	char to[512];
	struct sl_route route;
};

void sl_api_put_portal(struct sl_cbor_writer *w, const struct sl_portal_info *v);
/* One Portal item from rd. 0 or -EBADMSG. */
int sl_api_get_portal(struct sl_cbor_reader *rd, struct sl_portal_info *v);

void sl_api_put_inlet_create(struct sl_cbor_writer *w, const struct sl_api_inlet_create *c);
int sl_api_inlet_create_decode(const uint8_t *p, size_t n, struct sl_api_inlet_create *c);

/* [text a, text b] (outlet create). 0 or -EBADMSG (missing, empty or too long). */
void sl_api_put_text2(struct sl_cbor_writer *w, const char *a, const char *b);
int sl_api_text2_decode(const uint8_t *p, size_t n, char *a, size_t acap, char *b, size_t bcap);

#endif
