/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node-manager service: the worker `node_manager` the CLI talks to over
 * the control socket (api.h lists its methods). It lives on shard 0.
 */
#ifndef SL_NODE_MANAGER_H
#define SL_NODE_MANAGER_H

#include <stddef.h>
#include <stdint.h>

struct sl_node;
struct sl_node_manager;

/*
 * Cold, before the node starts (the runtime's setup hook): start the worker
 * on shard 0. NULL on failure (errno set). The node owns it from then on:
 * it is freed, with any request still in flight, when the node destroys its
 * workers.
 */
struct sl_node_manager *sl_node_manager_start(struct sl_node *n, const char *name,
					      uint16_t tcp_port);

struct sl_api_request;
struct sl_msg;
struct sl_worker;

/*
 * One control-API method the node manager serves: fn answers request m
 * (taken), now or later, with sl_nm_respond. Each feature file (nm_*.c) has
 * a table of them, ended by a NULL method.
 */
struct sl_nm_method {
	const char *method;
	void (*fn)(struct sl_worker *nm, struct sl_msg *m, const struct sl_api_request *req);
};

/*
 * Answer request m (taken) from the node manager worker nm: status, an
 * optional error sentence, an optional body (one encoded CBOR item). For
 * methods served in other files (nm_secure.c).
 */
void sl_nm_respond(struct sl_worker *nm, struct sl_msg *m, uint16_t status, const char *error,
		   const uint8_t *body, size_t body_len);

#endif
