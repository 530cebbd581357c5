/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the CLI's commands share: pick the node a command talks to, resolve
 * /node/NAME, /secure/NAME and /project/NAME in a multiaddr, and make one
 * control call with errors that say what to do.
 */
#ifndef SL_NODE_CALL_H
#define SL_NODE_CALL_H

#include "engine/route.h"
#include "tools/control.h"
#include "tools/state.h"

/* `name`, or (NULL) the only running node; it must be running. 0 or -1 (printed). */
int sl_node_pick(struct sl_state *st, const char *name, const char *flag, struct sl_node_rec *rec);

/* One control call to a running node; errors printed (status != 200 is the caller's). */
int sl_node_call(const char *node, const char *method, const uint8_t *body, size_t len,
		 int timeout_ms, struct sl_control_reply *r);

/*
 * Multiaddr text -> route for a command run against node `from`:
 * /node/NAME is that node's TCP listener; /secure/NAME opens a channel from
 * `from` to listener NAME at that point (secure_channel.create). 0, or -1
 * with the error printed.
 */
int sl_node_route(struct sl_state *st, const char *from, const char *text, uint32_t timeout_ms,
		  struct sl_route *route);

/* Create a channel from node `from` along `to`; *addr gets its address. 0 or -1 (printed). */
int sl_node_secure_create(const char *from, const char *to_text, const struct sl_route *to,
			  const char *identity, const uint8_t (*authorized)[32], unsigned n_authorized,
			  uint32_t timeout_ms, char addr[33], uint8_t peer[32]);

/* Collect every --authorized IDENTIFIER of argv (the option may repeat). 0 or -1 (printed). */
int sl_collect_authorized(int argc, char **argv, uint8_t (*ids)[32], unsigned *n);

#endif
