// SPDX-License-Identifier: Apache-2.0
/*
 * An inlet's secure channels (routes with hops, portal.h): per shard, made on
 * that shard's first client, through each other hop by hop, dropped when a
 * Ping through them gets no Pong or when one of them, or the connection
 * under the first, stops. All of it runs on the shard the set belongs to.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/log.h"
#include "engine/portal_int.h"
#include "engine/secure.h"

static const char *chan_node_name(const struct inlet_chan *c)
{
	return sl_node_name(sl_shard_node(c->s));
}

static void chan_free(struct inlet_chan *c)
{
	struct sl_portal_inlet *in = c->in;

	sl_timer_cancel(&c->timer);
	if (c->listed) {
		*c->pprev = c->next;
		if (c->next)
			c->next->pprev = c->pprev;
		/* Innermost first, so each Close still has the channels it travels through. */
		for (unsigned i = c->n; i-- > 0;)
			sl_secure_close(sl_shard_node(c->s), c->enc[i]);
	}
	free(c);
	sl_portal_owner_put(&in->o);
}

void sl_portal_chan_put(struct inlet_chan *c)
{
	if (--c->refs == 0)
		chan_free(c);
}

/* Not the shard's current set any more: the next client makes a new one. */
void sl_portal_chan_retire(struct inlet_chan *c, const char *why)
{
	if (c->ic->cur != c)
		return;
	sl_log(SL_LOG_INFO, "node=%s shard=%u event=inlet_channel_dropped inlet=%s channel=%s "
	       "reason=%s", chan_node_name(c), sl_shard_id(c->s), c->in->o.name, c->enc[c->n - 1], why);
	c->ic->cur = NULL;
	sl_portal_chan_put(c);
}

/* A channel of c, or the connection under them, stopped: nothing passes any more. */
static void chan_broken(struct sl_timer *t)
{
	struct inlet_chan *c = container_of(t, struct inlet_chan, timer);

	c->refs++;	/* c outlives its connections' ends below */
	sl_portal_chan_retire(c, "channel_closed");
	while (c->conns) {
		struct sl_portal_conn *pc = c->conns;

		pc_unlink(pc);
		sl_portal_conn_finish(pc, true);	/* reset: bytes may have been lost */
	}
	sl_portal_chan_put(c);
}

/* The node's worker-stop hook: on shard s, so s's list is ours to read. */
void sl_portal_worker_stopped(void *ctx, struct sl_shard *s, const uint8_t *addr, size_t len)
{
	/*
	 * Through the slot, not ctx: a hook cannot be taken back, and a worker
	 * stopped after sl_portals_destroy (between it and the node's destroy)
	 * would otherwise find P freed.
	 */
	struct sl_portals *P = sl_portals_get(sl_shard_node(s));

	(void)ctx;
	if (!P)
		return;
	sl_portal_links_stopped(P, s, addr, len);
	for (struct inlet_chan *c = P->ps[sl_shard_id(s)].chans; c; c = c->next) {
		bool hit = c->via_len && len == c->via_len && !memcmp(c->via, addr, len);

		for (unsigned i = 0; i < c->n && !hit; i++)
			hit = len == SL_RANDOM_ADDR_LEN && !memcmp(c->enc[i], addr, len);
		if (!hit || !c->up || c->broken)
			continue;
		/* Later: closing connections here would stop workers inside a stop. */
		c->broken = true;
		sl_timer_arm(s, &c->timer, 0);
	}
}

static void chan_hop_done(void *arg, int err, const char *addr, const uint8_t *peer);

/* Start the handshake of hop c->n: through the previous channel, to the hop's listener. */
static int chan_next_hop(struct inlet_chan *c)
{
	const struct sl_portal_hop *h = &c->in->route->hop[c->n];
	struct sl_secure_opts so = { 0 };
	struct sl_route to;
	int ret;

	sl_route_init(&to);
	if (c->n && sl_route_push_back(&to, SL_ADDR_LOCAL, c->enc[c->n - 1], SL_RANDOM_ADDR_LEN))
		return -E2BIG;
	ret = sl_route_append(&to, &h->to);
	if (ret)
		return ret;
	if (h->has_id) {
		so.authorized = (const uint8_t (*)[SL_ID_LEN])h->id;
		so.n_authorized = 1;
	}
	return sl_secure_create(c->s, &to, &so, chan_hop_done, c);
}

static void chan_hop_done(void *arg, int err, const char *addr, const uint8_t *peer)
{
	struct inlet_chan *c = arg;
	struct inlet_chans *ic = c->ic;
	const struct sl_portal_route *r = c->in->route;

	(void)peer;
	if (!err) {
		memcpy(c->enc[c->n], addr, SL_RANDOM_ADDR_LEN);
		c->enc[c->n][SL_RANDOM_ADDR_LEN] = 0;
		c->n++;
		if (c->n == 1)	/* the connection under the first channel, to watch */
			sl_secure_first_hop(sl_shard_node(c->s), c->enc[0], (uint8_t *)c->via,
					    &c->via_len);
		if (ic->deleted)
			err = -ECANCELED;
		else if (c->n < r->nhops && !(err = chan_next_hop(c)))
			return;
	}
	ic->making = NULL;
	if (!err) {
		sl_route_init(&c->route);
		sl_route_push_back(&c->route, SL_ADDR_LOCAL, c->enc[c->n - 1], SL_RANDOM_ADDR_LEN);
		err = sl_route_append(&c->route, &r->tail);
	}
	if (err) {
		sl_log(SL_LOG_WARN, "node=%s shard=%u event=inlet_channel_failed inlet=%s hop=%u "
		       "err=\"%s\" waiting=%u", chan_node_name(c), sl_shard_id(c->s), c->in->o.name,
		       c->n, strerror(-err), ic->nwait);
		/* Promptly: a client that waits for nothing is worse than a closed one. */
		while (ic->waiters) {
			struct sl_portal_conn *pc = ic->waiters;

			pc_unlink(pc);
			ic->nwait--;
			sl_portal_conn_finish(pc, false);
		}
		sl_portal_chan_put(c);	/* closes what was made */
		return;
	}
	sl_log(SL_LOG_INFO, "node=%s shard=%u event=inlet_channel_up inlet=%s channel=%s waiting=%u",
	       chan_node_name(c), sl_shard_id(c->s), c->in->o.name, c->enc[c->n - 1], ic->nwait);
	c->up = true;
	ic->cur = c;	/* the making reference is the current one now */
	while (ic->waiters) {
		struct sl_portal_conn *pc = ic->waiters;

		pc_unlink(pc);
		ic->nwait--;
		if (sl_portal_conn_ping(pc, c))
			sl_portal_conn_finish(pc, true);
	}
}

/* Shard s: start making in's channels there. 0 or -errno. */
int sl_portal_chan_make(struct sl_portal_inlet *in, struct inlet_chans *ic, struct sl_shard *s)
{
	struct portal_shard *ps = &in->o.P->ps[sl_shard_id(s)];
	struct inlet_chan *c = calloc(1, sizeof(*c));
	int ret;

	if (!c)
		return -ENOMEM;
	c->in = in;
	c->ic = ic;
	c->s = s;
	c->refs = 1;
	c->timer.fire = chan_broken;
	owner_get(&in->o);
	c->next = ps->chans;
	if (c->next)
		c->next->pprev = &c->next;
	c->pprev = &ps->chans;
	ps->chans = c;
	c->listed = true;
	ret = chan_next_hop(c);
	if (ret) {
		sl_log(SL_LOG_WARN, "node=%s shard=%u event=inlet_channel_failed inlet=%s hop=0 "
		       "err=\"%s\"", sl_node_name(in->o.P->node), sl_shard_id(s), in->o.name,
		       strerror(-ret));
		sl_portal_chan_put(c);
		return ret;
	}
	ic->making = c;
	return 0;
}

void sl_portal_chans_stop(struct inlet_chans *ic)
{
	ic->deleted = true;
	if (ic->cur) {
		struct inlet_chan *c = ic->cur;

		ic->cur = NULL;
		sl_portal_chan_put(c);
	}
	while (ic->waiters) {
		struct sl_portal_conn *pc = ic->waiters;

		pc_unlink(pc);
		ic->nwait--;
		sl_portal_conn_finish(pc, false);
	}
}

void sl_portal_chans_release(struct sl_portals *P)
{
	/*
	 * The shards have stopped, so this thread is alone. Channel sets leave
	 * their lists (those that stay for their connections' sake are freed
	 * with them, at node destroy, without touching P), and a set being made
	 * gives up its reference: its handshake will never answer.
	 */
	for (unsigned i = 0; i < P->nshards; i++) {
		struct inlet_chan *c = P->ps[i].chans, *next;

		for (struct inlet_chan *x = c; x; x = x->next)
			x->listed = false;
		P->ps[i].chans = NULL;
		for (; c; c = next) {
			next = c->next;
			if (c->ic->cur == c) {
				c->ic->cur = NULL;
				sl_portal_chan_put(c);
			} else if (c->ic->making == c) {
				c->ic->making = NULL;
				sl_portal_chan_put(c);
			}
		}
	}
}
