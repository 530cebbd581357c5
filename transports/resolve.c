// SPDX-License-Identifier: Apache-2.0
/*
 * "host:port" -> sockaddr, one parser for links, outlets and listeners.
 */
#define SL_URING_INTERNAL
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "transports/resolve.h"

/*
 * "host:port" -> sockaddr. Numeric addresses are parsed in place. A hostname
 * goes to getaddrinfo, which blocks the shard for the lookup: accepted on this
 * cold path (first message to a new peer only) and logged; a resolver thread
 * is the fix if nodes ever dial many named peers.
 */
int sl_resolve(struct sl_ushard *u, const uint8_t *body, size_t len,
	       struct sockaddr_storage *ss, socklen_t *sl)
{
	char host[SL_ADDR_BODY_MAX + 1], *colon, *h;
	struct addrinfo hints, *res = NULL;
	unsigned long port;
	char *endp;
	int ret;

	if (!len || len > SL_ADDR_BODY_MAX)
		return -EINVAL;
	memcpy(host, body, len);
	host[len] = 0;
	colon = strrchr(host, ':');
	if (!colon || colon == host)
		return -EINVAL;
	*colon = 0;
	port = strtoul(colon + 1, &endp, 10);
	if (*endp || !port || port > 65535)
		return -EINVAL;
	h = host;
	if (*h == '[' && colon[-1] == ']') {
		h++;
		colon[-1] = 0;
	}
	memset(ss, 0, sizeof(*ss));
	{
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET, h, &a4->sin_addr) == 1) {
			a4->sin_family = AF_INET;
			a4->sin_port = htons((uint16_t)port);
			*sl = sizeof(*a4);
			return 0;
		}
		if (inet_pton(AF_INET6, h, &a6->sin6_addr) == 1) {
			a6->sin6_family = AF_INET6;
			a6->sin6_port = htons((uint16_t)port);
			*sl = sizeof(*a6);
			return 0;
		}
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	sl_net_log_rl(u, "event=dns_lookup host=%s (blocking, cold path)", h);
	ret = getaddrinfo(h, colon + 1, &hints, &res);
	if (ret || !res)
		return -EHOSTUNREACH;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sl = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int sl_resolve_listen_cold(struct sl_node *n, const char *hostport,
			   struct sockaddr_storage *ss, socklen_t *sl)
{
	const char *colon = strrchr(hostport, ':');
	char tmp[SL_ADDR_BODY_MAX + 8];
	struct sl_ushard fake;
	int ret;

	/* Not on a shard: the lookup's log line names shard 0. */
	memset(&fake, 0, sizeof(fake));
	fake.shard = sl_node_shard(n, 0);
	if (!colon || strcmp(colon, ":0"))
		return sl_resolve(&fake, (const uint8_t *)hostport, strlen(hostport), ss, sl);
	/* Port 0 (any) is no route address: resolve with port 1, then clear it. */
	snprintf(tmp, sizeof(tmp), "%.*s:1", (int)(colon - hostport), hostport);
	ret = sl_resolve(&fake, (const uint8_t *)tmp, strlen(tmp), ss, sl);
	if (ret)
		return ret;
	((struct sockaddr_in *)ss)->sin_port = 0;	/* same offset in sockaddr_in6 */
	return 0;
}
