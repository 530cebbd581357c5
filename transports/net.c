// SPDX-License-Identifier: Apache-2.0
/*
 * The transports' composition: a ring per shard (uring.c) carrying the
 * stream links' op class (tcp.c, uds.c) and the UDP transport's (udp.c).
 * Portal sockets join later, through sl_net_portals (portal.c).
 */
#define SL_URING_INTERNAL
#include <errno.h>

#include "transports/stream.h"
#include "transports/udp.h"

struct sl_net *sl_net_create(struct sl_node *n, const struct sl_net_config *cfg)
{
	struct sl_net *t = sl_uring_create_cold(n, cfg);
	int ret;

	if (!t)
		return NULL;
	ret = sl_stream_register_cold(t);
	if (!ret)
		ret = sl_udp_register_cold(t);
	if (ret) {
		/* The node must not keep pointers into t once t is freed. */
		sl_node_set_io(n, NULL, NULL);
		sl_net_destroy(t);
		errno = -ret;
		return NULL;
	}
	return t;
}
