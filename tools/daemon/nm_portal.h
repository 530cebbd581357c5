/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's side of portals: the control-API methods tcp_inlet.* and
 * tcp_outlet.* (api_portal.h) for the node manager, and bringing back the
 * inlets and outlets the state store lists for a node when it starts.
 */
#ifndef SL_NM_PORTAL_H
#define SL_NM_PORTAL_H

#include <stdbool.h>

#include "tools/common/api.h"
#include "tools/daemon/node_manager.h"

struct sl_node;
struct sl_msg;
struct sl_state;
struct sl_worker;

/* tcp_inlet.* and tcp_outlet.*: each answered now. */
extern const struct sl_nm_method sl_nm_portal_methods[];

/*
 * Cold, before the node starts: re-create the outlets and inlets recorded
 * for node `name`. One that cannot come back is logged and skipped.
 */
void sl_nm_portal_restore(struct sl_node *n, struct sl_state *st, const char *name);

#endif
