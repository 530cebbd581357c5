// SPDX-License-Identifier: Apache-2.0
/*
 * The links portal connections watch: the local worker the first hop of a
 * connection's remote route goes into (the node-to-node TCP connection, or a
 * channel and the connection under it). When that worker stops, nothing the
 * connection sends arrives any more, and nobody else says so: every
 * connection watching it is reset at once, as a /secure inlet's are by its
 * channel set (portal_chan.c). Inlets with hops of their own leave this to
 * their channel sets; this is for fixed routes and for outlets.
 *
 * Per shard, a short list of links, each with the connections that watch
 * it: the worker-stop hook walks links, not connections. All of it on the
 * connections' shard.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/log.h"
#include "engine/portal_int.h"
#include "engine/secure.h"

static void link_unlist(struct portal_link *l)
{
	if (!l->listed)
		return;
	*l->pprev = l->next;
	if (l->next)
		l->next->pprev = l->pprev;
	l->listed = false;
}

static void link_free(struct portal_link *l)
{
	sl_timer_cancel(&l->timer);
	link_unlist(l);
	free(l);
}

/* The link stopped: reset every connection over it (out of the stop hook). */
static void link_broken(struct sl_timer *t)
{
	struct portal_link *l = container_of(t, struct portal_link, timer);
	unsigned n = 0;

	l->firing = true;	/* l stays until the loop is done */
	while (l->conns) {
		struct sl_portal_conn *pc = l->conns;

		sl_portal_link_leave(pc);
		sl_portal_conn_finish(pc, true);	/* reset: bytes may have been lost */
		n++;
	}
	sl_log(SL_LOG_INFO, "node=%s shard=%u event=portal_link_closed link=%.*s connections=%u",
	       sl_node_name(sl_shard_node(l->s)), sl_shard_id(l->s), (int)l->len[0], l->addr[0], n);
	link_free(l);
}

static bool link_is(const struct portal_link *l, const char *addr, size_t len)
{
	for (unsigned i = 0; i < l->n; i++)
		if (l->len[i] == len && !memcmp(l->addr[i], addr, len))
			return true;
	return false;
}

void sl_portal_link_watch(struct sl_portal_conn *pc, const struct sl_addr *front)
{
	struct sl_shard *s = pc->w.shard;
	struct portal_shard *ps = &pc->P->ps[sl_shard_id(s)];
	struct portal_link *l;
	char enc[SL_RANDOM_ADDR_LEN + 1];

	if (pc->link || front->type != SL_ADDR_LOCAL)
		return;
	for (l = ps->links; l; l = l->next)
		if (!l->dead && l->len[0] == front->len && !memcmp(l->addr[0], front->body, front->len))
			break;
	if (!l) {
		l = calloc(1, sizeof(*l));
		if (!l)
			return;	/* unwatched: the connection still ends by its peer or its timeouts */
		l->s = s;
		l->timer.fire = link_broken;
		memcpy(l->addr[0], front->body, front->len);
		l->len[0] = (uint8_t)front->len;
		l->n = 1;
		/* A channel: the connection under it too (a channel does not watch it itself). */
		if (front->len == SL_RANDOM_ADDR_LEN) {
			memcpy(enc, front->body, front->len);
			enc[front->len] = 0;
			if (!sl_secure_first_hop(sl_shard_node(s), enc, (uint8_t *)l->addr[1], &l->len[1]))
				l->n = 2;
		}
		l->next = ps->links;
		if (l->next)
			l->next->pprev = &l->next;
		l->pprev = &ps->links;
		ps->links = l;
		l->listed = true;
	}
	pc->link = l;
	pc->lnext = l->conns;
	if (pc->lnext)
		pc->lnext->lpprev = &pc->lnext;
	pc->lpprev = &l->conns;
	l->conns = pc;
}

void sl_portal_link_leave(struct sl_portal_conn *pc)
{
	struct portal_link *l = pc->link;

	if (!l)
		return;
	*pc->lpprev = pc->lnext;
	if (pc->lnext)
		pc->lnext->lpprev = pc->lpprev;
	pc->lnext = NULL;
	pc->lpprev = NULL;
	pc->link = NULL;
	/* The last one out frees it (its broken timer, if armed, too). */
	if (!l->conns && !l->firing)
		link_free(l);
}

void sl_portal_links_stopped(struct sl_portals *P, struct sl_shard *s, const uint8_t *addr,
			     size_t len)
{
	for (struct portal_link *l = P->ps[sl_shard_id(s)].links; l; l = l->next) {
		if (l->dead || !link_is(l, (const char *)addr, len))
			continue;
		/* Later: closing connections here would stop workers inside a stop. */
		l->dead = true;
		sl_timer_arm(s, &l->timer, 0);
	}
}

void sl_portal_links_release(struct sl_portals *P)
{
	/* The shards have stopped: links leave the lists, and go with their connections. */
	for (unsigned i = 0; i < P->nshards; i++) {
		for (struct portal_link *l = P->ps[i].links; l; l = l->next)
			l->listed = false;
		P->ps[i].links = NULL;
	}
}
