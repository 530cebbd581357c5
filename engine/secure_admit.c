// SPDX-License-Identifier: Apache-2.0
/*
 * Admission of responder handshakes (node limits max_pending_hs and
 * max_pending_hs_conn): a msg1 is answered only while the node has fewer
 * than max_pending_hs responders in flight, and the first hop of its return
 * route (the connection, or channel, it came by) fewer than
 * max_pending_hs_conn. Otherwise a peer could open handshakes faster than
 * they time out and hold the node's memory, or one connection could take
 * every place.
 *
 * The per-hop counts live per shard (a msg1 is answered on the shard it
 * arrived on, which is its connection's), in buckets of a keyed hash of the
 * hop: two hops that share a bucket share its count, which errs on
 * refusing, never on admitting; the key is the node's secret, so a peer
 * cannot aim at another's bucket. One hash and two counters per msg1.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "engine/secure_internal.h"
#include "engine/shard.h"

_Static_assert(sizeof(((struct sl_secure_node *)0)->hop_key) == crypto_shorthash_KEYBYTES,
	       "hop key");

int sl_secure_admit_init(struct sl_secure_node *sn)
{
	sn->hop_count = calloc((size_t)sl_node_shards(sn->node) * SL_SECURE_HOP_BUCKETS,
			       sizeof(*sn->hop_count));
	if (!sn->hop_count)
		return -ENOMEM;
	crypto_shorthash_keygen(sn->hop_key);
	return 0;
}

static uint32_t hop_bucket(const struct sl_secure_node *sn, const struct sl_route *ret)
{
	uint8_t h[crypto_shorthash_BYTES], buf[1 + SL_ADDR_BODY_MAX];
	struct sl_addr a;
	uint32_t v;

	if (!sl_route_front(ret, &a))
		return 0;
	buf[0] = a.type;
	memcpy(buf + 1, a.body, a.len);
	crypto_shorthash(h, buf, 1 + (size_t)a.len, sn->hop_key);
	memcpy(&v, h, sizeof(v));
	return v % SL_SECURE_HOP_BUCKETS;
}

int sl_secure_admit(struct sl_secure_node *sn, struct sl_shard *s, const struct sl_route *ret,
		    int32_t *bucket)
{
	uint16_t *cnt;
	uint32_t b;

	*bucket = -1;
	if (__atomic_add_fetch(&sn->pending_resp, 1, __ATOMIC_RELAXED) > (int)SL_NODE_LIMIT(sn->node, max_pending_hs)) {
		__atomic_sub_fetch(&sn->pending_resp, 1, __ATOMIC_RELAXED);
		return 1;
	}
	b = hop_bucket(sn, ret);
	/* Shard-local: only s's thread touches its row (and node destroy, after the shards). */
	cnt = &sn->hop_count[(size_t)sl_shard_id(s) * SL_SECURE_HOP_BUCKETS + b];
	if (*cnt >= SL_NODE_LIMIT(sn->node, max_pending_hs_conn) || *cnt == UINT16_MAX) {
		__atomic_sub_fetch(&sn->pending_resp, 1, __ATOMIC_RELAXED);
		return 2;
	}
	(*cnt)++;
	*bucket = (int32_t)(sl_shard_id(s) * SL_SECURE_HOP_BUCKETS + b);
	return 0;
}

void sl_secure_admit_release(struct sl_secure_node *sn, int32_t *bucket)
{
	if (*bucket < 0)
		return;
	sn->hop_count[*bucket]--;
	*bucket = -1;
	__atomic_sub_fetch(&sn->pending_resp, 1, __ATOMIC_RELAXED);
}
