/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Portal sockets (portal.c): the socket side of engine/portal.h on the
 * io_uring transports' shards.
 */
#ifndef SL_TRANSPORTS_PORTAL_H
#define SL_TRANSPORTS_PORTAL_H

struct sl_net;
struct sl_portals;

/*
 * Cold, after sl_net_create and before the node starts: the node's portals,
 * with their sockets on t's shards. NULL on failure (errno set). Destroy with
 * sl_portals_destroy() after the node's shards stopped.
 */
struct sl_portals *sl_net_portals(struct sl_net *t);

#endif
