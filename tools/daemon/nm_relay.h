/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Relays on the node-manager side: at node setup the relays saved for the
 * node are registered again; afterwards the control-API methods relay.*
 * are served for the CLI (their bodies: common/api_relay.h). Every client
 * lives on the node manager's shard.
 */
#ifndef SL_NM_RELAY_H
#define SL_NM_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/relay.h"
#include "tools/common/api.h"
#include "tools/common/api_relay.h"
#include "tools/daemon/node_manager.h"

struct sl_node;
struct sl_msg;
struct sl_worker;

/* Cold, before the node starts: re-create the node's saved relays. 0 or -errno. */
int sl_nm_relay_start(struct sl_node *n, const char *node_name);

/* relay.*: answered now or when registered. */
extern const struct sl_nm_method sl_nm_relay_methods[];

#endif
