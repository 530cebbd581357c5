// SPDX-License-Identifier: Apache-2.0
/*
 * Limits on accepted TCP connections (node --limit max-connections,
 * max-connections-per-source). Shards accept on their own SO_REUSEPORT
 * sockets, so one source's connections spread over every shard: the counts
 * are shared atomics. Sources are counted per bucket of a keyed hash of the
 * address (SL_SRC_BUCKETS): two sources in one bucket share its count, which
 * errs on refusing, never on admitting; the key (drawn per process) keeps a
 * peer from choosing addresses that land in another's bucket.
 *
 * A source is an IPv4 address, or an IPv6 /64: one host gets a whole /64
 * from its provider (SLAAC, privacy addresses), so counting IPv6 addresses
 * one by one would let one host open the per-source limit once per address.
 * An IPv4-mapped IPv6 address counts as the IPv4 address.
 */
#define SL_URING_INTERNAL
#include <netinet/in.h>
#include <sodium.h>
#include <string.h>
#include <sys/socket.h>

#include "transports/uring.h"

_Static_assert(sizeof(((struct sl_net *)0)->src_key) == crypto_shorthash_KEYBYTES,
	       "src_key holds a crypto_shorthash key");

void sl_conn_limit_init(struct sl_net *t)
{
	/* Idempotent. Without a random source the key stays zero: the counts stay right. */
	if (sodium_init() < 0)
		return;
	crypto_shorthash_keygen(t->src_key);
}

/* The bytes that name a source: family, then the address or its /64. */
size_t sl_conn_limit_source(const struct sockaddr_storage *sa, uint8_t out[9])
{
	const uint8_t *a6;

	if (sa->ss_family == AF_INET) {
		out[0] = 4;
		memcpy(out + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 5;
	}
	if (sa->ss_family != AF_INET6)
		return 0;
	a6 = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a6)) {
		out[0] = 4;
		memcpy(out + 1, a6 + 12, 4);
		return 5;
	}
	out[0] = 6;
	memcpy(out + 1, a6, 8);
	return 9;
}

static uint32_t src_bucket(const struct sl_net *t, const struct sockaddr_storage *sa)
{
	uint8_t src[9], h[crypto_shorthash_BYTES];
	size_t n = sl_conn_limit_source(sa, src);
	uint32_t b;

	if (!n)
		return 0;
	crypto_shorthash(h, src, n, t->src_key);
	memcpy(&b, h, sizeof(b));
	return b % SL_SRC_BUCKETS;
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
	b = src_bucket(t, &sa);
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
