/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node-manager service: the worker `node_manager` the CLI talks to over
 * the control socket (api.h lists its methods). It lives on shard 0.
 */
#ifndef SL_NODE_MANAGER_H
#define SL_NODE_MANAGER_H

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

#endif
