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

struct sl_node;
struct sl_msg;
struct sl_state;
struct sl_worker;

/* A tcp_inlet.* / tcp_outlet.* request: answered now. true when method is one of ours. */
bool sl_nm_portal_method(struct sl_worker *nm, struct sl_msg *m, const struct sl_api_request *req);

/*
 * Cold, before the node starts: re-create the outlets and inlets recorded
 * for node `name`. One that cannot come back is logged and skipped.
 */
void sl_nm_portal_restore(struct sl_node *n, struct sl_state *st, const char *name);

#endif
