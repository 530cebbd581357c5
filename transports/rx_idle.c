// SPDX-License-Identifier: Apache-2.0
/*
 * Idle partial frames: a stream connection that received part of a frame
 * (its header, or some of its body) and then nothing for the net's
 * frame_timeout_ns is closed, reason frame_timeout. Otherwise a peer could
 * announce 16 MiB frames on many connections, send a few bytes of each,
 * and hold their messages and slots for ever.
 *
 * No cost on the receive path but one add per completion (c->rx_seen): a
 * shard timer sweeps the shard's slots four times per timeout and closes a
 * connection whose frame stayed partial with no new byte for four sweeps
 * in a row (so after T to 1.25 T of silence). A connection we stopped
 * reading ourselves (waiting for a message, ring room, or a full queue
 * downstream) is not the peer's fault and is left alone; so is one idle
 * between frames.
 */
#define SL_URING_INTERNAL
#include <stddef.h>

#include "transports/stream.h"

#define SWEEPS 4	/* per timeout */

static bool partial(const struct sl_conn *c)
{
	return c->state == CONN_OPEN && (c->rx || c->hdr_have) && !c->mem_wait &&
	       !c->paused && !c->rx_pend && !c->rx_park;
}

static void sweep(struct sl_timer *t)
{
	struct sl_sshard *ss = (struct sl_sshard *)((char *)t - offsetof(struct sl_sshard, idle_timer));

	for (unsigned i = 0; i < ss->max_conns; i++) {
		struct sl_conn *c = ss->conns[i];

		if (!c)
			continue;
		if (!partial(c) || c->rx_seen != c->idle_seen) {
			c->idle_seen = c->rx_seen;
			c->idle_sweeps = 0;
			continue;
		}
		if (++c->idle_sweeps >= SWEEPS) {
			NET_STAT_INC(ss, frame_timeouts);
			sl_stream_close(c, "frame_timeout");
		}
	}
	sl_timer_arm(ss->shard, t, ss->idle_period_ns);
}

void sl_stream_idle_start(struct sl_sshard *ss)
{
	ss->idle_period_ns = ss->net->cfg.frame_timeout_ns / SWEEPS;
	if (!ss->idle_period_ns)
		ss->idle_period_ns = 1;
	ss->idle_timer.fire = sweep;
	sl_timer_arm(ss->shard, &ss->idle_timer, ss->idle_period_ns);
}

void sl_stream_idle_stop(struct sl_sshard *ss)
{
	sl_timer_cancel(&ss->idle_timer);
}
