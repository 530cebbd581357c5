// SPDX-License-Identifier: Apache-2.0
/* Collecting a running node's metrics (metrics_src.h). */
#include <errno.h>
#include <stdio.h>

#include "crypto/aead.h"
#include "engine/node.h"
#include "engine/relay.h"
#include "engine/relay_fleet.h"
#include "engine/secure.h"
#include "tools/daemon/metrics_src.h"
#include "transports/uring.h"

static struct sl_metrics_src *the_src;

void sl_metrics_src_set(struct sl_metrics_src *src)
{
	__atomic_store_n(&the_src, src, __ATOMIC_RELEASE);
}

struct sl_metrics_src *sl_metrics_src_get(void)
{
	return __atomic_load_n(&the_src, __ATOMIC_ACQUIRE);
}

void sl_metrics_src_ready(struct sl_metrics_src *src, bool ready)
{
	__atomic_store_n(&src->ready, ready ? 1 : 0, __ATOMIC_RELEASE);
}

bool sl_metrics_src_is_ready(const struct sl_metrics_src *src)
{
	return __atomic_load_n(&src->ready, __ATOMIC_ACQUIRE) != 0;
}

static const char *const pool_classes[3] = { "small", "mid", "big" };

static int per_shard(const struct sl_metrics_src *src, struct sl_metrics *m, unsigned id)
{
	struct sl_shard_stats st;
	struct sl_net_stats ns = { 0 };
	struct sl_shard_occupancy oc;
	char shard[16];
	int ret = 0;

	snprintf(shard, sizeof(shard), "%u", id);
	sl_node_stats(src->node, id, &st);
	if (src->net)
		sl_net_shard_stats(src->net, id, &ns);
	sl_node_occupancy(src->node, id, &oc);
	ret |= sl_metrics_add(m, SL_M_SHARD_MSG_IN, shard, NULL, ns.rx_frames);
	ret |= sl_metrics_add(m, SL_M_SHARD_MSG_OUT, shard, NULL, ns.tx_frames);
	ret |= sl_metrics_add(m, SL_M_SHARD_BYTES_IN, shard, NULL, ns.rx_bytes);
	ret |= sl_metrics_add(m, SL_M_SHARD_BYTES_OUT, shard, NULL, ns.tx_bytes);
	ret |= sl_metrics_add(m, SL_M_SHARD_DELIVERED, shard, NULL, st.delivered);
	ret |= sl_metrics_add(m, SL_M_SHARD_DROPS, shard, NULL,
			      st.drop_unknown + st.drop_route + st.drop_ring_full + st.drop_other +
			      ns.drop_sendq + ns.drop_noconn + ns.proto_errors);
	for (unsigned c = 0; c < 3; c++) {
		ret |= sl_metrics_add(m, SL_M_POOL_MSGS, shard, pool_classes[c], oc.pool_total[c]);
		ret |= sl_metrics_add(m, SL_M_POOL_FREE, shard, pool_classes[c], oc.pool_free[c]);
	}
	ret |= sl_metrics_add(m, SL_M_POOL_EXHAUSTED, shard, NULL, oc.pool_exhausted);
	ret |= sl_metrics_add(m, SL_M_RING_USED, shard, NULL, oc.ring_used);
	ret |= sl_metrics_add(m, SL_M_RING_CAP, shard, NULL, oc.ring_cap);
	ret |= sl_metrics_add(m, SL_M_RING_PARKED, shard, NULL, oc.parked);
	ret |= sl_metrics_add(m, SL_M_CREDIT_STALLS, shard, NULL, st.credit_stalls);
	/* All three causes, as the family says: send queue, pool and ring (or park). */
	ret |= sl_metrics_add(m, SL_M_READ_PAUSES, shard, NULL,
			      ns.paused + ns.paused_nomem + ns.paused_ring);
	return ret ? -ENOMEM : 0;
}

/* A relay fleet's figures, for a node in one. */
static int fleet(const struct sl_metrics_src *src, struct sl_metrics *m)
{
	struct sl_relay_fleet_stats f;
	int ret = 0;

	sl_relay_fleet_stats(src->node, &f);
	if (!f.member)
		return 0;
	ret |= sl_metrics_add(m, SL_M_FLEET_DIR_UP, NULL, NULL, f.directory_up);
	ret |= sl_metrics_add(m, SL_M_FLEET_LOOKUPS, "ok", NULL, f.c[SL_FLEET_LOOKUP_OK]);
	ret |= sl_metrics_add(m, SL_M_FLEET_LOOKUPS, "miss", NULL, f.c[SL_FLEET_LOOKUP_MISS]);
	ret |= sl_metrics_add(m, SL_M_FLEET_LOOKUPS, "error", NULL, f.c[SL_FLEET_LOOKUP_ERROR]);
	ret |= sl_metrics_add(m, SL_M_FLEET_FORWARDS, NULL, NULL, f.c[SL_FLEET_FORWARDED]);
	ret |= sl_metrics_add(m, SL_M_FLEET_DROPS, "nowhere", NULL, f.c[SL_FLEET_DROP_NOWHERE]);
	ret |= sl_metrics_add(m, SL_M_FLEET_DROPS, "lookup_error", NULL, f.c[SL_FLEET_DROP_ERROR]);
	ret |= sl_metrics_add(m, SL_M_FLEET_DROPS, "wait_full", NULL, f.c[SL_FLEET_DROP_WAIT_FULL]);
	ret |= sl_metrics_add(m, SL_M_FLEET_WRITE_ERRORS, NULL, NULL, f.c[SL_FLEET_WRITE_ERRORS]);
	ret |= sl_metrics_add(m, SL_M_FLEET_TAKEOVERS, NULL, NULL, f.c[SL_FLEET_TAKEOVERS]);
	return ret;
}

int sl_metrics_collect(const struct sl_metrics_src *src, struct sl_metrics *m)
{
	unsigned nshards = sl_node_shards(src->node);
	struct sl_shard_stats t;
	struct sl_net_stats ns = { 0 };
	struct sl_relay_stats rs = { 0 };
	int ret = 0;

	m->n = 0;
	sl_node_stats_total(src->node, &t);
	if (src->net)
		sl_net_stats(src->net, &ns);
	ret |= sl_metrics_add(m, SL_M_INFO_AEAD, sl_aead_backend_name(), NULL, 1);
	ret |= sl_metrics_add(m, SL_M_READY, NULL, NULL, sl_metrics_src_is_ready(src));
	ret |= sl_metrics_add(m, SL_M_SHARDS, NULL, NULL, nshards);
	ret |= sl_metrics_add(m, SL_M_MSG_IN, NULL, NULL, ns.rx_frames);
	ret |= sl_metrics_add(m, SL_M_MSG_OUT, NULL, NULL, ns.tx_frames);
	ret |= sl_metrics_add(m, SL_M_BYTES_IN, NULL, NULL, ns.rx_bytes);
	ret |= sl_metrics_add(m, SL_M_BYTES_OUT, NULL, NULL, ns.tx_bytes);
	ret |= sl_metrics_add(m, SL_M_DELIVERED, NULL, NULL, t.delivered);
	ret |= sl_metrics_add(m, SL_M_DISCARDED, NULL, NULL, t.discarded);
	/* Drops, by reason: the engine's, then the transports'. */
	ret |= sl_metrics_add(m, SL_M_DROPS, "unknown_address", NULL, t.drop_unknown);
	ret |= sl_metrics_add(m, SL_M_DROPS, "bad_route", NULL, t.drop_route);
	ret |= sl_metrics_add(m, SL_M_DROPS, "ring_full", NULL, t.drop_ring_full);
	ret |= sl_metrics_add(m, SL_M_DROPS, "malformed", NULL, t.drop_other);
	ret |= sl_metrics_add(m, SL_M_DROPS, "send_queue_full", NULL, ns.drop_sendq);
	ret |= sl_metrics_add(m, SL_M_DROPS, "connection_failed", NULL, ns.drop_noconn);
	ret |= sl_metrics_add(m, SL_M_DROPS, "protocol_error", NULL, ns.proto_errors);
	for (unsigned i = 0; !ret && i < nshards; i++)
		ret = per_shard(src, m, i);
	/* Loaded one after the other: a connection closed in between must not wrap the gauge. */
	ret |= sl_metrics_add(m, SL_M_TCP_CONNS, NULL, NULL,
			      ns.tcp_closed < ns.tcp_opened ? ns.tcp_opened - ns.tcp_closed : 0);
	ret |= sl_metrics_add(m, SL_M_CONNS_ACCEPTED, NULL, NULL, ns.conns_accepted);
	ret |= sl_metrics_add(m, SL_M_CONNS_CONNECTED, NULL, NULL, ns.conns_connected);
	ret |= sl_metrics_add(m, SL_M_CONNS_CLOSED, NULL, NULL, ns.conns_closed);
	ret |= sl_metrics_add(m, SL_M_FRAME_TIMEOUTS, NULL, NULL, ns.frame_timeouts);
	/* One sample per limit of tools/common/limits.c, by its name. */
	const struct {
		const char *limit;
		uint64_t n;
	} lim[] = {
		{ "max-connections", ns.limit_conns },
		{ "max-connections-per-source", ns.limit_conns_per_source },
		{ "max-route-length", ns.limit_route_hops },
		{ "max-pending-handshakes", t.limit_pending_hs },
		{ "max-pending-handshakes-per-connection", t.limit_pending_hs_conn },
		{ "handshake-timeout", t.limit_hs_timeout },
		{ "max-relays-per-connection", t.limit_relays_conn },
		{ "max-relays-per-identity", t.limit_relays_identity },
		{ "idle-timeout", ns.limit_idle },
		{ "idle-timeout-any", ns.limit_idle_any },
		{ "relay-fair-share", t.limit_fair_share },
	};

	for (size_t i = 0; i < sizeof(lim) / sizeof(lim[0]); i++)
		ret |= sl_metrics_add(m, SL_M_LIMIT_REJECTIONS, lim[i].limit, NULL, lim[i].n);
	ret |= sl_metrics_add(m, SL_M_UDP_DGRAMS_IN, NULL, NULL, ns.udp_rx_dgrams);
	ret |= sl_metrics_add(m, SL_M_UDP_DGRAMS_OUT, NULL, NULL, ns.udp_tx_dgrams);
	ret |= sl_metrics_add(m, SL_M_UDP_DROPS, NULL, NULL, ns.udp_drops);
	ret |= sl_metrics_add(m, SL_M_SECURE_CHANNELS, NULL, NULL, sl_secure_list(src->node, NULL, 0));
	ret |= sl_metrics_add(m, SL_M_HS_PENDING, NULL, NULL, sl_secure_pending(src->node));
	ret |= sl_metrics_add(m, SL_M_HS_OK, NULL, NULL, t.hs_ok);
	ret |= sl_metrics_add(m, SL_M_HS_FAILED, "timeout", NULL, t.hs_timeout);
	ret |= sl_metrics_add(m, SL_M_HS_FAILED, "not_authorized", NULL, t.hs_unauthorized);
	ret |= sl_metrics_add(m, SL_M_HS_FAILED, "expired", NULL, t.hs_expired);
	ret |= sl_metrics_add(m, SL_M_HS_FAILED, "invalid_identity", NULL, t.hs_invalid);
	ret |= sl_metrics_add(m, SL_M_HS_FAILED, "other", NULL, t.hs_other);
	if (src->relays)
		sl_relays_stats(src->relays, &rs);
	ret |= sl_metrics_add(m, SL_M_RELAYS, NULL, NULL, rs.active);
	ret |= sl_metrics_add(m, SL_M_RELAY_REGISTERED, NULL, NULL, rs.registered + rs.replaced);
	ret |= sl_metrics_add(m, SL_M_RELAY_REJECTED, NULL, NULL, rs.rejected);
	ret |= sl_metrics_add(m, SL_M_RELAY_EXPIRED, NULL, NULL, rs.expired);
	ret |= fleet(src, m);
	return ret ? -ENOMEM : 0;
}
