// SPDX-License-Identifier: Apache-2.0
/*
 * Limits on accepted TCP connections (node --limit max-connections,
 * max-connections-per-source). Shards accept on their own SO_REUSEPORT
 * sockets, so one source's connections spread over every shard: the counts
 * are shared atomics. Sources are counted per bucket of a hash of the address
 * (SL_SRC_BUCKETS): two sources in one bucket share its count, which errs on
 * refusing, never on admitting.
 */
#define SL_URING_INTERNAL
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "transports/uring.h"

static uint32_t src_hash(const struct sockaddr_storage *sa)
{
	const uint8_t *p;
	size_t n;
	uint32_t h = 2166136261u;

	if (sa->ss_family == AF_INET) {
		p = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
		n = 4;
	} else if (sa->ss_family == AF_INET6) {
		p = (const uint8_t *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
		n = 16;
	} else {
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h % SL_SRC_BUCKETS;
}

int sl_conn_limit_admit(struct sl_net *t, int fd, int32_t *bucket)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	uint32_t b;

	*bucket = -1;
	memset(&sa, 0, sizeof(sa));
	if (getpeername(fd, (struct sockaddr *)&sa, &len))
		sa.ss_family = AF_UNSPEC;
	b = src_hash(&sa);
	if (__atomic_add_fetch(&t->tcp_in, 1, __ATOMIC_RELAXED) >
	    __atomic_load_n(&t->cfg.max_tcp_in, __ATOMIC_RELAXED)) {
		__atomic_sub_fetch(&t->tcp_in, 1, __ATOMIC_RELAXED);
		return 1;
	}
	if (__atomic_add_fetch(&t->tcp_in_src[b], 1, __ATOMIC_RELAXED) >
	    __atomic_load_n(&t->cfg.max_tcp_in_per_source, __ATOMIC_RELAXED)) {
		__atomic_sub_fetch(&t->tcp_in_src[b], 1, __ATOMIC_RELAXED);
		__atomic_sub_fetch(&t->tcp_in, 1, __ATOMIC_RELAXED);
		return 2;
	}
	*bucket = (int32_t)b;
	return 0;
}

void sl_conn_limit_release(struct sl_net *t, int32_t bucket)
{
	if (bucket < 0)
		return;
	__atomic_sub_fetch(&t->tcp_in_src[bucket], 1, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&t->tcp_in, 1, __ATOMIC_RELAXED);
}

void sl_net_set_limits(struct sl_net *t, const struct sl_net_config *cfg)
{
	/* Each read on the shards is one relaxed load: a new value applies from the next use. */
	if (cfg->max_tcp_in)
		__atomic_store_n(&t->cfg.max_tcp_in, cfg->max_tcp_in, __ATOMIC_RELAXED);
	if (cfg->max_tcp_in_per_source)
		__atomic_store_n(&t->cfg.max_tcp_in_per_source, cfg->max_tcp_in_per_source,
				 __ATOMIC_RELAXED);
	if (cfg->max_route_hops)
		__atomic_store_n(&t->cfg.max_route_hops, cfg->max_route_hops, __ATOMIC_RELAXED);
}
