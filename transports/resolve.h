/* SPDX-License-Identifier: Apache-2.0 */
/*
 * "host:port" -> sockaddr for TCP links, portal outlets and listeners
 * (resolve.c). Internal to transports/ (SL_URING_INTERNAL).
 */
#ifndef SL_TRANSPORTS_RESOLVE_H
#define SL_TRANSPORTS_RESOLVE_H

#include "transports/uring.h"

/*
 * Numeric addresses in place; a name through getaddrinfo (blocks: cold
 * only, logged rate-limited on u's shard). Port 0 is refused, as in a
 * route. 0 or -errno (-EINVAL: not "host:port", -EHOSTUNREACH: no such name).
 */
int sl_resolve(struct sl_ushard *u, const uint8_t *body, size_t len,
	       struct sockaddr_storage *ss, socklen_t *sl);
/* Cold, before or beside the shards: a listener's address, where port 0 means any. */
int sl_resolve_listen_cold(struct sl_node *n, const char *hostport,
			   struct sockaddr_storage *ss, socklen_t *sl);

#endif
