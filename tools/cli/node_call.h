/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the CLI's commands share: pick the node a command talks to, resolve
 * /node/NAME, /secure/NAME and /project/NAME in a multiaddr, and make one
 * control call with errors that say what to do.
 */
#ifndef SL_NODE_CALL_H
#define SL_NODE_CALL_H

#include "engine/route.h"
#include "tools/cli/cli.h"
#include "tools/cli/control.h"
#include "tools/cli/list.h"
#include "tools/common/api_secure.h"
#include "tools/common/state.h"

/* The one option of a command that only names its node: --at NODE. */
extern const struct sl_opt sl_at_opts[];

/* "/service/abc" or "abc" -> "abc" (a local address as the node's API takes it). */
const char *sl_service_name(const char *addr);

/* `name`, or (NULL) the only running node; it must be running. 0 or -1 (printed). */
int sl_node_pick(struct sl_state *st, const char *name, const char *flag, struct sl_node_rec *rec);

/* sl_node_pick on the command's --at, with the state store opened for it. 0 or non-zero. */
int sl_node_pick_at(const struct sl_cmd_spec *spec, const struct sl_args *a,
		    struct sl_node_rec *rec);

/* One control call to a running node; errors printed (status != 200 is the caller's). */
int sl_node_call(const char *node, const char *method, const uint8_t *body, size_t len,
		 int timeout_ms, struct sl_control_reply *r);
/*
 * sl_node_call that also takes a status other than 200 as a failure ("node N:
 * <error>", printed, *r freed). On 0 the caller frees *r.
 */
int sl_node_call_ok(const char *node, const char *method, const uint8_t *body, size_t len,
		    int timeout_ms, struct sl_control_reply *r);

struct sl_cbor_reader;

/*
 * Call `method` (no body) at the node the command's --at names and print the
 * CBOR array it answers as a list (list.h): `item` decodes one element and
 * prints it as sl_list_row() says (`node` is the node's name). On a terminal
 * an empty list says "No <empty> at node N" (nothing if `empty` is NULL). 0,
 * or -1 after printing what was wrong.
 */
int sl_node_list(const struct sl_cli *cli, const struct sl_cmd_spec *spec, const struct sl_args *a,
		 const char *method, int timeout_ms, const char *empty,
		 int (*item)(struct sl_list *l, struct sl_cbor_reader *rd, const char *node,
			     void *arg),
		 void *arg);

/*
 * Multiaddr text -> route for a command run against node `from`:
 * /node/NAME is that node's TCP listener; /secure/NAME opens a channel from
 * `from` to listener NAME at that point (secure_channel.create). 0, or -1
 * with the error printed.
 */
int sl_node_route(struct sl_state *st, const char *from, const char *text, uint32_t timeout_ms,
		  struct sl_route *route);

/*
 * /node/NAME in route text `text`: push node NAME's TCP listener onto route.
 * It must be running. 0, or -1 after printing what was wrong.
 */
int sl_node_route_push(struct sl_state *st, const char *name, const char *text,
		       struct sl_route *route);

/* Create a channel from node `from` along `to`; *addr gets its address. 0 or -1 (printed). */
int sl_node_secure_create(const char *from, const char *to_text, const struct sl_route *to,
			  const char *identity, const uint8_t (*authorized)[32], unsigned n_authorized,
			  uint32_t timeout_ms, char addr[33], uint8_t peer[32]);

/* Collect every --authorized IDENTIFIER of argv (the option may repeat). 0 or -1 (printed). */
int sl_collect_authorized(int argc, char **argv, uint8_t (*ids)[32], unsigned *n);

/*
 * --authorized may be repeated but sl_cli_parse keeps one value, so a noun
 * that takes it collects them all first: sl_authorized_collect is its
 * prepare hook (struct sl_noun), and its verbs read sl_authorized.
 */
struct sl_authorized {
	unsigned n;
	uint8_t id[SL_SECURE_MAX_AUTHORIZED][SL_ID_LEN];
	int err;		/* 0, or -1 after the error was printed */
};
extern struct sl_authorized sl_authorized;
void sl_authorized_collect(int argc, char **argv);

#endif
