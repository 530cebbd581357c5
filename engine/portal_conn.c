// SPDX-License-Identifier: Apache-2.0
/*
 * The portal connection worker: the inlet and outlet side of PROTOCOL.md 8
 * and its flow control (portal.h says how it stays wire compatible with
 * Ockam). This is the hot path: no lock, no allocation per chunk.
 *
 * A portal connection is one worker at a random address on the shard that
 * owns its socket, so a chunk read from the socket is wrapped and routed
 * without crossing a thread, and what arrives for it is written by the same
 * thread. The chunk read from the socket is the message that travels: the
 * Payload head goes into its headroom, no byte is copied here.
 *
 * Inlet side:  accept -> Ping (from the connection's address, along the
 *              inlet's route) -> Pong (its return route is the remote
 *              route from now on) -> read the socket.
 * Outlet side: Ping at the outlet's address (a listener on every shard)
 *              -> a connection worker -> connect to the target -> Pong
 *              only once connected (a failed connect answers Disconnect, so
 *              the inlet closes its client at once) -> read the socket.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/log.h"
#include "engine/portal_int.h"

/* How long an inlet connection waits for the outlet's Pong before it gives up. */
#define PONG_TIMEOUT_NS (10ull * 1000 * 1000 * 1000)
/* Retry delay for a Credit that found no message buffer. */
#define CREDIT_RETRY_NS (1ull * 1000 * 1000)
/*
 * How long a finished connection keeps its address: what the peer sent before
 * it heard of the end (up to a window of chunks, its Credits, a late Pong) is
 * still on its way, through relays and other shards, and is absorbed here
 * rather than dropped by the router as for an unknown address.
 */
#define LATE_NS (5ull * 1000 * 1000 * 1000)

static void pc_handle(struct sl_worker *w, struct sl_msg *m);
static int pc_go(struct sl_portal_conn *pc);

/* The connection is over: off its channels' lists and the open count (once). */
static void pc_release(struct sl_portal_conn *pc)
{
	if (pc->released)
		return;
	pc->released = true;
	if (pc->cpprev && pc->state == PC_WAIT_CHAN)
		pc->ic->nwait--;
	pc_unlink(pc);
	sl_portal_link_leave(pc);
	if (pc->chan) {
		sl_portal_chan_put(pc->chan);
		pc->chan = NULL;
	}
	CTR_ADD(pc->ctr, conns, (uint64_t)-1);
}

static void pc_stopped(struct sl_worker *w)
{
	struct sl_portal_conn *pc = container_of(w, struct sl_portal_conn, w);

	pc_release(pc);
	sl_timer_cancel(&pc->timer);
	/*
	 * Neither pc->P (at node destroy the portals are gone before their
	 * workers) nor pc->w.shard (NULL by now).
	 */
	if (pc->late)
		sl_log(SL_LOG_DEBUG, "node=%s event=portal_late_messages portal=%s absorbed=%u",
		       sl_node_name(pc->node), pc->o->name, pc->late);
	sl_portal_owner_put(pc->o);
	free(pc);
}

/* Cold (once per connection). NULL when out of memory or addresses. */
static struct sl_portal_conn *pc_new(struct sl_portals *P, struct sl_shard *s, struct portal_owner *o)
{
	struct sl_portal_conn *pc = calloc(1, sizeof(*pc));

	if (!pc)
		return NULL;
	pc->P = P;
	pc->node = sl_shard_node(s);
	pc->o = o;
	pc->ctr = &o->ctr[sl_shard_id(s)];
	pc->w.handle = pc_handle;
	pc->w.stopped = pc_stopped;
	pc->w.ctx = pc;
	pc->peer_window = UINT32_MAX;
	sl_route_init(&pc->remote);
	if (sl_worker_start_random(s, &pc->w)) {
		free(pc);
		return NULL;
	}
	owner_get(o);
	CTR_ADD(pc->ctr, conns, 1);
	CTR_ADD(pc->ctr, total, 1);
	return pc;
}

/*
 * The end of a connection: the socket goes (after its queue, unless abort),
 * then the worker. A connection the peer knows of (it was sent a Ping or a
 * Pong) keeps its address for LATE_NS: the peer's chunks, Credits and Pong
 * sent before our Disconnect or Eof reached it arrive after the end, as
 * Ockam's do; they are absorbed, not dropped as unknown_address (which is a
 * routing fault's signature).
 */
void sl_portal_conn_finish(struct sl_portal_conn *pc, bool abort)
{
	bool linger = pc->state == PC_OPEN || pc->state == PC_WAIT_PONG;

	if (pc->k) {
		pc->P->ops->close(pc->k, abort);
		pc->k = NULL;
	}
	sl_timer_cancel(&pc->timer);
	if (linger && pc->w.shard) {
		pc_release(pc);
		pc->state = PC_CLOSED;
		pc->reading = false;
		sl_timer_arm(pc->w.shard, &pc->timer, LATE_NS);
		return;
	}
	sl_worker_stop(&pc->w);	/* frees pc (pc_stopped) */
}

/* Address m to the peer: onward = remote route, return = [us]. */
static int pc_address(struct sl_portal_conn *pc, struct sl_msg *m)
{
	sl_route_copy(&m->onward, &pc->remote);
	sl_route_init(&m->ret);
	return sl_route_push_front(&m->ret, SL_ADDR_LOCAL, pc->w.addr, pc->w.addr_len);
}

/* A control message to the peer. -ENOMEM when no buffer was free (the caller may retry). */
static int pc_send_ctl(struct sl_portal_conn *pc, enum sl_portal_kind kind, uint64_t credit)
{
	struct sl_msg *m = sl_msg_alloc(16);
	size_t n;

	if (!m)
		return -ENOMEM;
	n = sl_portal_msg_encode(m->data, 16, kind, pc->ext, SL_PORTAL_WINDOW, credit);
	m->len = (uint32_t)n;
	if (!n || pc_address(pc, m)) {
		sl_msg_free(m);
		return -EINVAL;
	}
	sl_send(pc->w.shard, m);	/* the router's now */
	return 0;
}

static void pc_set_reading(struct sl_portal_conn *pc, bool on)
{
	if (pc->reading == on || !pc->k)
		return;
	pc->reading = on;
	pc->P->ops->read(pc->k, on);
}

/* Read while the peer has room: the backpressure of portal.h. */
static void pc_update_reading(struct sl_portal_conn *pc)
{
	pc_set_reading(pc, pc->state == PC_OPEN && !pc->rd_eof &&
			   (!pc->ext || pc->sent - pc->credited < pc->peer_window));
}

static void pc_credit(struct sl_portal_conn *pc)
{
	/* The peer sends no more after its Eof: it needs no credit. */
	if (!pc->ext || pc->peer_eof || pc->written == pc->reported)
		return;
	if (pc_send_ctl(pc, SL_PORTAL_CREDIT, pc->written) == -ENOMEM) {
		/* A lost credit would shrink the peer's window for good: try again soon. */
		sl_timer_arm(pc->w.shard, &pc->timer, CREDIT_RETRY_NS);
		return;
	}
	pc->reported = pc->written;
}

static void pc_timer(struct sl_timer *t)
{
	struct sl_portal_conn *pc = container_of(t, struct sl_portal_conn, timer);

	if (pc->state == PC_CLOSED) {
		sl_worker_stop(&pc->w);	/* frees pc (pc_stopped) */
		return;
	}
	if (pc->state == PC_WAIT_PONG) {
		/*
		 * Through channels of our own, the likeliest cause is that they
		 * lead nowhere now (the outlet's node restarted behind a relay,
		 * which nothing else tells us): new ones are made, and this
		 * client tries once more through them rather than be the one
		 * that pays for the discovery.
		 */
		if (pc->chan) {
			struct inlet_chan *c = pc->chan;

			sl_portal_chan_retire(c, "no_pong");
			pc_unlink(pc);
			pc->chan = NULL;
			sl_portal_chan_put(c);
			if (!pc->retried) {
				pc->retried = true;
				if (!pc_go(pc))
					return;
			}
		}
		sl_log(SL_LOG_INFO, "node=%s event=portal_no_pong inlet=%s action=close_client",
		       sl_node_name(pc->P->node), pc->o->name);
		sl_portal_conn_finish(pc, false);
		return;
	}
	pc_credit(pc);
}

/*
 * Watch the worker pc's remote route goes into (portal_link.c), unless
 * pc's channel set watches it, or it is not on this shard, or it is the
 * peer's connection worker itself (both ends on this node).
 */
static void pc_watch(struct sl_portal_conn *pc)
{
	struct sl_worker *w;
	struct sl_addr f;

	if (pc->chan || !sl_route_front(&pc->remote, &f) || f.type != SL_ADDR_LOCAL)
		return;
	w = sl_worker_lookup_local(pc->w.shard, (const uint8_t *)f.body, f.len);
	if (w && w->handle != pc_handle)
		sl_portal_link_watch(pc, &f);
}

static void pc_open(struct sl_portal_conn *pc)
{
	pc->state = PC_OPEN;
	pc_update_reading(pc);
}

static void pc_payload(struct sl_portal_conn *pc, struct sl_msg *m, const struct sl_portal_msg *pm)
{
	if (pc->peer_eof || !pc->k) {
		sl_msg_free(m);
		return;
	}
	if (pm->has_counter) {
		/* Ockam's packet counter: a gap means a chunk was lost on the way. */
		if (pm->counter != pc->rx_counter) {
			sl_log(SL_LOG_WARN, "node=%s event=portal_chunk_lost portal=%s expected=%u got=%u",
			       sl_node_name(pc->P->node), pc->o->name, pc->rx_counter, pm->counter);
			sl_msg_free(m);
			pc_send_ctl(pc, SL_PORTAL_DISCONNECT, 0);
			sl_portal_conn_finish(pc, true);
			return;
		}
		pc->rx_counter++;
	}
	if (!pc->ext && pc->queued + pm->len > SL_PORTAL_QUEUE_MAX) {
		sl_log(SL_LOG_WARN, "node=%s event=portal_queue_full portal=%s queued=%llu "
		       "reason=\"the peer (not Sluice) ignores backpressure\"",
		       sl_node_name(pc->P->node), pc->o->name, (unsigned long long)pc->queued);
		sl_msg_free(m);
		pc_send_ctl(pc, SL_PORTAL_DISCONNECT, 0);
		sl_portal_conn_finish(pc, true);
		return;
	}
	/* The message itself goes to the socket: its data now covers just the bytes. */
	m->data = (uint8_t *)pm->data;
	m->len = (uint32_t)pm->len;
	pc->queued += pm->len;
	pc->P->ops->write(pc->k, m);
}

static void pc_handle(struct sl_worker *w, struct sl_msg *m)
{
	struct sl_portal_conn *pc = w->ctx;
	struct sl_portal_msg pm;

	if (sl_portal_msg_decode(m->data, m->len, &pm)) {
		sl_shard_count_drop(w->shard);
		sl_msg_free(m);
		return;
	}
	if (pc->state == PC_CLOSED) {
		/* Sent before the peer heard of our end: expected, and nobody's loss. */
		pc->late++;
		if (pm.kind == SL_PORTAL_PONG) {
			/* The outlet connection answered a Ping we gave up on: it is to go. */
			m->len = (uint32_t)sl_portal_msg_encode(m->data, m->len, SL_PORTAL_DISCONNECT,
								false, 0, 0);
			if (m->len) {
				sl_reply(&pc->w, m);
				return;
			}
		}
		sl_msg_free(m);
		return;
	}
	if (pm.kind == SL_PORTAL_PAYLOAD && pc->state == PC_OPEN) {
		pc_payload(pc, m, &pm);
		return;
	}
	switch (pm.kind) {
	case SL_PORTAL_PONG:
		if (pc->state != PC_WAIT_PONG)
			break;
		/*
		 * Through our channels, only through the current ones: a Pong
		 * through the channels given up on is late, and the outlet
		 * connection that sent it is told to go (else it stays, idle).
		 */
		if (pc->chan) {
			struct sl_addr f;

			if (!sl_route_front(&m->ret, &f) || f.len != SL_RANDOM_ADDR_LEN ||
			    memcmp(f.body, pc->chan->enc[pc->chan->n - 1], f.len)) {
				m->len = (uint32_t)sl_portal_msg_encode(m->data, m->len,
									SL_PORTAL_DISCONNECT, false, 0, 0);
				if (m->len) {
					sl_reply(&pc->w, m);
					return;
				}
				break;
			}
		}
		/* The outlet's connection worker answered: its return route is the way back. */
		sl_timer_cancel(&pc->timer);
		sl_route_copy(&pc->remote, &m->ret);
		pc->ext = pm.ext;
		if (pm.ext)
			pc->peer_window = pm.window;
		pc_watch(pc);
		pc_open(pc);
		break;
	case SL_PORTAL_CREDIT:
		if (!pc->ext || pc->state != PC_OPEN)
			break;
		/* Cumulative: a credit lost on the way is made good by the next one. */
		if (pm.credit > pc->credited && pm.credit <= pc->sent)
			pc->credited = pm.credit;
		pc_update_reading(pc);
		break;
	case SL_PORTAL_EOF:
		if (!pc->ext || pc->state != PC_OPEN || pc->peer_eof)
			break;
		pc->peer_eof = true;
		pc->P->ops->shutdown_write(pc->k);
		if (pc->rd_eof) {
			sl_msg_free(m);
			sl_portal_conn_finish(pc, false);
			return;
		}
		break;
	case SL_PORTAL_DISCONNECT:
		/* The peer is gone (or its target refused us): close once our queue is out. */
		sl_msg_free(m);
		sl_portal_conn_finish(pc, false);
		return;
	default:
		break;
	}
	sl_msg_free(m);
}

/* ---- callbacks from the socket side ---- */

void sl_portal_on_data(struct sl_portal_conn *pc, struct sl_msg *m)
{
	uint32_t len = m->len;

	if (pc->state != PC_OPEN || sl_portal_payload_wrap(m, pc->ext, pc->tx_counter) ||
	    pc_address(pc, m)) {
		sl_shard_count_drop(pc->w.shard);
		sl_msg_free(m);
		return;
	}
	if (pc->ext)
		pc->tx_counter++;
	pc->sent += len;
	CTR_ADD(pc->ctr, bytes_in, len);
	sl_send(pc->w.shard, m);	/* the router's now */
	if (pc->ext && pc->sent - pc->credited >= pc->peer_window) {
		SL_STAT_INC(pc->w.shard, credit_stalls);
		pc_set_reading(pc, false);
	}
}

void sl_portal_on_eof(struct sl_portal_conn *pc)
{
	pc->reading = false;
	pc->rd_eof = true;
	if (!pc->ext) {
		/* Ockam's way: EOF ends the connection. */
		pc_send_ctl(pc, SL_PORTAL_DISCONNECT, 0);
		sl_portal_conn_finish(pc, false);
		return;
	}
	/* Half close: the peer shuts down its socket's write side and keeps answering. */
	pc_send_ctl(pc, SL_PORTAL_EOF, 0);
	if (pc->peer_eof)
		sl_portal_conn_finish(pc, false);
}

void sl_portal_on_written(struct sl_portal_conn *pc, size_t n)
{
	pc->queued -= n;
	pc->written += n;
	CTR_ADD(pc->ctr, bytes_out, n);
	/* A quarter window at a time: few credits, and the peer never waits for a full one. */
	if (pc->written - pc->reported >= SL_PORTAL_WINDOW / 4)
		pc_credit(pc);
}

void sl_portal_on_error(struct sl_portal_conn *pc, int err)
{
	pc->k = NULL;	/* gone: transports said so */
	if (pc->state == PC_OPEN || pc->state == PC_CONNECTING)
		pc_send_ctl(pc, SL_PORTAL_DISCONNECT, 0);
	sl_portal_conn_finish(pc, true);
}

void sl_portal_on_connect(struct sl_portal_conn *pc, int err)
{
	if (err) {
		sl_log(SL_LOG_INFO, "node=%s event=portal_connect_failed outlet=%s target=%s err=\"%s\"",
		       sl_node_name(pc->P->node), pc->o->name, pc->o->bind, strerror(-err));
		pc->k = NULL;
		/* No Pong: a Disconnect makes the inlet close its client now. */
		pc_send_ctl(pc, SL_PORTAL_DISCONNECT, 0);
		sl_portal_conn_finish(pc, true);
		return;
	}
	if (pc_send_ctl(pc, SL_PORTAL_PONG, 0)) {
		sl_portal_conn_finish(pc, true);
		return;
	}
	pc_open(pc);
}

/*
 * Send the Ping that opens pc: along c's route, or the inlet's fixed route
 * when c is NULL. 0 or -ENOMEM (the caller closes pc).
 */
int sl_portal_conn_ping(struct sl_portal_conn *pc, struct inlet_chan *c)
{
	struct sl_portal_inlet *in = container_of(pc->o, struct sl_portal_inlet, o);
	struct sl_msg *m = sl_msg_alloc(16);
	size_t n;

	if (!m)
		return -ENOMEM;
	if (c) {
		pc->chan = c;
		c->refs++;
		pc_link(&c->conns, pc);
		sl_route_copy(&pc->remote, &c->route);
	} else {
		sl_route_copy(&pc->remote, &in->route->tail);
	}
	pc->state = PC_WAIT_PONG;
	/* We offer the extension; an Ockam outlet reads the first byte only. */
	n = sl_portal_msg_encode(m->data, 16, SL_PORTAL_PING, true, SL_PORTAL_WINDOW, 0);
	m->len = (uint32_t)n;
	if (pc_address(pc, m)) {
		sl_msg_free(m);
		return -ENOMEM;
	}
	sl_timer_arm(pc->w.shard, &pc->timer, PONG_TIMEOUT_NS);
	sl_send(pc->w.shard, m);
	return 0;
}

/* Ping now, or wait for the shard's channels. 0 or -errno (the caller closes pc). */
static int pc_go(struct sl_portal_conn *pc)
{
	struct sl_portal_inlet *in = container_of(pc->o, struct sl_portal_inlet, o);
	struct inlet_chans *ic = pc->ic;
	int ret;

	if (!ic)
		return sl_portal_conn_ping(pc, NULL);
	if (ic->cur)
		return sl_portal_conn_ping(pc, ic->cur);
	/* Wait for the channels: bounded by their handshakes' timeouts, and in number. */
	if (ic->deleted || ic->nwait >= SL_PORTAL_WAIT_MAX)
		return -EBUSY;
	if (!ic->making) {
		ret = sl_portal_chan_make(in, ic, pc->w.shard);
		if (ret)
			return ret;
	}
	pc->state = PC_WAIT_CHAN;
	pc_link(&ic->waiters, pc);
	ic->nwait++;
	return 0;
}

struct sl_portal_conn *sl_portal_on_accept(struct sl_portal_inlet *in, struct sl_shard *s,
					   struct sl_portal_sock *k)
{
	struct sl_portal_conn *pc;

	if (!in->o.P)
		return NULL;
	pc = pc_new(in->o.P, s, &in->o);
	if (!pc)
		return NULL;
	pc->k = k;
	pc->timer.fire = pc_timer;
	if (in->route->nhops)
		pc->ic = &in->ic[sl_shard_id(s)];
	if (pc_go(pc)) {
		pc->k = NULL;	/* the caller closes it */
		sl_portal_conn_finish(pc, true);
		return NULL;
	}
	return pc;
}

/* ---- outlets ---- */

/* A Ping at the outlet's address on this shard: a connection worker here, then connect. */
void sl_portal_outlet_handle(struct sl_worker *w, struct sl_msg *m)
{
	struct outlet_worker *ow = w->ctx;
	struct sl_portal_outlet *out = ow->out;
	struct sl_portals *P = out->o.P;
	struct sl_portal_conn *pc;
	struct sl_portal_msg pm;
	int err = 0;

	if (!P || sl_portal_msg_decode(m->data, m->len, &pm) || pm.kind != SL_PORTAL_PING ||
	    sl_route_empty(&m->ret)) {
		sl_shard_count_drop(w->shard);
		sl_msg_free(m);
		return;
	}
	pc = pc_new(P, w->shard, &out->o);
	if (!pc) {
		sl_shard_count_drop(w->shard);
		sl_msg_free(m);
		return;
	}
	pc->state = PC_CONNECTING;
	pc->ext = pm.ext;
	if (pm.ext)
		pc->peer_window = pm.window;
	pc->timer.fire = pc_timer;
	sl_route_copy(&pc->remote, &m->ret);
	sl_msg_free(m);
	pc_watch(pc);
	pc->k = P->ops->connect(P->ctx, w->shard, pc, out->o.bind, &err);
	if (!pc->k)
		sl_portal_on_connect(pc, err ? err : -ENOMEM);
}
