// SPDX-License-Identifier: Apache-2.0
/*
 * Idle connections, swept by one shard timer:
 *
 * Partial frames: a stream connection that received part of a frame (its
 * header, or some of its body) and then nothing for the net's
 * frame_timeout_ns is closed, reason frame_timeout. Otherwise a peer could
 * announce 16 MiB frames on many connections, send a few bytes of each,
 * and hold their messages and slots for ever. No cost on the receive path
 * but one add per completion (c->rx_seen): the sweep closes a connection
 * whose frame stayed partial with no new byte for frame_sweeps sweeps in a
 * row (so after T to 1.25 T of silence). A connection we stopped reading
 * ourselves (waiting for a message, ring room, or a full queue downstream)
 * is not the peer's fault and is left alone; so is one idle between frames.
 *
 * Silent connections (node limit idle-timeout): an accepted TCP connection
 * that has not had one frame routed idle_timeout_ns after its accept is
 * closed, reason limit. Until then it holds nothing (no channel, relay or
 * portal exists without a message), so cutting it costs nobody anything;
 * after it, it may hold a relay whose registrant stays quiet for hours, so
 * it is left alone: max-connections and max-connections-per-source bound
 * those. One store per routed frame (c->routed).
 *
 * Idle connections (idle-timeout-any, off by default): an accepted TCP
 * connection whose peer sent no byte for idle_any_timeout_ns is closed,
 * whatever it holds, for operators whose clients keep alive (Sluice's
 * relay client pings every 10 s). The sweep sees rx_seen change: no cost
 * on the receive path.
 */
#define SL_URING_INTERNAL
#include <stddef.h>
#include <stdint.h>

#include "engine/clock.h"
#include "transports/stream.h"

#define SWEEPS 4	/* per timeout */

static bool partial(const struct sl_conn *c)
{
	return c->state == CONN_OPEN && (c->rx || c->hdr_have) && !c->mem_wait &&
	       !c->paused && !c->rx_pend && !c->rx_park;
}

static bool silent(const struct sl_sshard *ss, const struct sl_conn *c, uint64_t now)
{
	uint64_t t = ss->net->cfg.idle_timeout_ns;

	return t && c->state == CONN_OPEN && !c->outgoing && c->type == SL_ADDR_TCP &&
	       !c->routed && now - c->opened_ns >= t;
}

/* Accepted TCP, and no byte from its peer for idle_any_timeout_ns (as the sweeps saw it). */
static bool idle_any(const struct sl_sshard *ss, struct sl_conn *c, uint64_t now)
{
	uint64_t t = ss->net->cfg.idle_any_timeout_ns;

	if (!t || c->state != CONN_OPEN || c->outgoing || c->type != SL_ADDR_TCP)
		return false;
	/* Not read because of us (backpressure, no message): not the peer's silence. */
	if (c->rx_seen != c->rx_any_seen || c->paused || c->mem_wait || c->rx_pend || c->rx_park) {
		c->rx_any_seen = c->rx_seen;
		c->rx_any_ns = now;
		return false;
	}
	return now - c->rx_any_ns >= t;
}

static void sweep(struct sl_timer *t)
{
	struct sl_sshard *ss = (struct sl_sshard *)((char *)t - offsetof(struct sl_sshard, idle_timer));
	uint64_t now = sl_now_ns();

	for (unsigned i = 0; i < ss->max_conns; i++) {
		struct sl_conn *c = ss->conns[i];

		if (!c)
			continue;
		if (silent(ss, c, now)) {
			NET_STAT_INC(ss, limit_idle);
			sl_stream_close(c, "limit limit=idle-timeout");
			continue;
		}
		if (idle_any(ss, c, now)) {
			NET_STAT_INC(ss, limit_idle_any);
			sl_stream_close(c, "limit limit=idle-timeout-any");
			continue;
		}
		if (!partial(c) || c->rx_seen != c->idle_seen) {
			c->idle_seen = c->rx_seen;
			c->idle_sweeps = 0;
			continue;
		}
		if (++c->idle_sweeps >= ss->frame_sweeps) {
			NET_STAT_INC(ss, frame_timeouts);
			sl_stream_close(c, "frame_timeout");
		}
	}
	sl_timer_arm(ss->shard, t, ss->idle_period_ns);
}

void sl_stream_idle_start(struct sl_sshard *ss)
{
	uint64_t ft = ss->net->cfg.frame_timeout_ns, p = ft;
	uint64_t it = ss->net->cfg.idle_timeout_ns, at = ss->net->cfg.idle_any_timeout_ns;

	/* A quarter of the shortest timeout; the partial-frame count scales to match. */
	if (it && it < p)
		p = it;
	if (at && at < p)
		p = at;
	ss->idle_period_ns = p / SWEEPS;
	if (!ss->idle_period_ns)
		ss->idle_period_ns = 1;
	ss->frame_sweeps = (unsigned)((ft + ss->idle_period_ns - 1) / ss->idle_period_ns);
	if (ss->frame_sweeps < SWEEPS)
		ss->frame_sweeps = SWEEPS;
	if (ss->frame_sweeps > UINT16_MAX)
		ss->frame_sweeps = UINT16_MAX;
	ss->idle_timer.fire = sweep;
	sl_timer_arm(ss->shard, &ss->idle_timer, ss->idle_period_ns);
}

void sl_stream_idle_stop(struct sl_sshard *ss)
{
	sl_timer_cancel(&ss->idle_timer);
}
