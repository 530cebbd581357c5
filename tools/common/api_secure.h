/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bodies of the control-API methods for secure channels and identities
 * (methods listed in api.h). Structs are CBOR arrays (PROTOCOL.md 2).
 */
#ifndef SL_API_SECURE_H
#define SL_API_SECURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/cbor.h"
#include "crypto/identity.h"
#include "engine/route.h"
#include "engine/secure.h"
#include "tools/common/text.h"

/* SecureCreate = [route to, text identity ("" = the node's), [bytes32 authorized...], uint timeout_ms] */
struct sl_api_sc_create {
	struct sl_route to;
	char identity[SL_NODE_NAME_MAX + 2];
	unsigned n_authorized;
	uint8_t authorized[SL_SECURE_MAX_AUTHORIZED][SL_ID_LEN];
	uint32_t timeout_ms;
};

/* ListenerCreate = [text address, text identity, [bytes32 authorized...]] */
struct sl_api_scl_create {
	char addr[SL_ADDR_BODY_MAX + 1];
	char identity[SL_NODE_NAME_MAX + 2];
	unsigned n_authorized;
	uint8_t authorized[SL_SECURE_MAX_AUTHORIZED][SL_ID_LEN];
};

void sl_api_put_sc_create(struct sl_cbor_writer *w, const struct sl_api_sc_create *c);
int sl_api_sc_create_decode(const uint8_t *p, size_t n, struct sl_api_sc_create *c);
void sl_api_put_scl_create(struct sl_cbor_writer *w, const struct sl_api_scl_create *c);
int sl_api_scl_create_decode(const uint8_t *p, size_t n, struct sl_api_scl_create *c);

/* ChannelInfo = [text addr, text decryptor, bytes self, bytes peer, bool initiator,
 *                text route, uint created_s, uint sent, uint received, uint shard] */
void sl_api_put_sc_info(struct sl_cbor_writer *w, const struct sl_secure_info *i);
int sl_api_sc_info_decode(struct sl_cbor_reader *rd, struct sl_secure_info *i);
/* ListenerInfo = [text addr, text identity, bytes id, [bytes authorized...]] */
void sl_api_put_scl_info(struct sl_cbor_writer *w, const struct sl_secure_listener_info *i);
int sl_api_scl_info_decode(struct sl_cbor_reader *rd, struct sl_secure_listener_info *i);

/* A text body (an address): 0 or -EBADMSG. */
int sl_api_text_decode(const uint8_t *p, size_t n, char *out, size_t cap);

#endif
