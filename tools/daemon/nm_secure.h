/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's side of secure channels and identities: at node setup it loads
 * the node's identity from the state store (making the node's own default
 * identity on first start) and starts the `api` listener; afterwards it
 * serves the control-API methods secure_channel.* and
 * secure_channel_listener.* (api.h) for the node manager.
 */
#ifndef SL_NM_SECURE_H
#define SL_NM_SECURE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "engine/secure.h"
#include "tools/common/api.h"
#include "tools/daemon/node_manager.h"

struct sl_node;
struct sl_msg;
struct sl_state;
struct sl_worker;

/* Cold, before the node starts. 0 or -errno (logged with what to do). */
int sl_nm_secure_start(struct sl_node *n, const char *node_name);
/*
 * Cold, at node setup: start again the secure channel listeners saved for
 * node `name`, logging one line per listener restored or not.
 */
void sl_nm_secure_restore(struct sl_node *n, struct sl_state *st, const char *name);
/*
 * A saved listener's authorized column, "I<hex> I<hex> ..." (single spaces,
 * as the CLI writes it), into ids[SL_SECURE_MAX_AUTHORIZED]: the count, or
 * -EINVAL with err naming what was wrong.
 */
int sl_nm_authorized_parse(const char *text, uint8_t ids[][SL_ID_LEN], char *err, size_t cap);
/* When the node manager goes (node destroy). */
void sl_nm_secure_stop(struct sl_node *n);

/*
 * nm_sc_origin.c: how this node's secure_channel.create made channel enc
 * (made with the node's own identity): the route to the listener, the
 * peer's identifier and whether any verified peer would have done (no
 * --authorized). _origin: 0 or -ENOENT (not made so, or forgotten).
 */
void sl_nm_sc_origin_add(struct sl_node *n, const char *enc, const struct sl_route *to,
			 const uint8_t peer[SL_ID_LEN], bool any_peer);
int sl_nm_sc_origin(const struct sl_node *n, const char *enc, size_t len, struct sl_route *to,
		    uint8_t peer[SL_ID_LEN], bool *any_peer);
void sl_nm_sc_origins_clear(const struct sl_node *n);

/* secure_channel.* and secure_channel_listener.*: answered now or when the handshake ends. */
extern const struct sl_nm_method sl_nm_secure_methods[];

#endif
