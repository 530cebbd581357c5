// SPDX-License-Identifier: Apache-2.0
/*
 * The router: sl_send() looks at the front of the onward route and hands the
 * message to a local worker, another shard's ring, or a transport. Every path
 * takes ownership; whatever cannot be handed on is counted, logged (one line,
 * rate limited, never the payload) and freed. A full ring is not "cannot":
 * the message waits in the sender's park (see to_shard) up to a hard bound.
 */
#include <inttypes.h>
#include <string.h>

#include "engine/clock.h"
#include "engine/log.h"
#include "engine/relay_fleet.h"
#include "engine/router.h"
#include "engine/shard.h"

#define DROP_LOG_INTERVAL_NS 1000000000ull

void sl_router_drop(struct sl_shard *s, struct sl_msg *m, const char *why)
{
	char addr[96] = "-";
	struct sl_addr a;
	uint64_t now = sl_now_ns();

	if (now >= s->log_next_ns) {
		if (sl_route_front(&m->onward, &a))
			sl_addr_format(&a, addr, sizeof(addr));
		sl_log(SL_LOG_WARN,
		       "node=%s shard=%u event=drop reason=%s to=%s hops=%u len=%u suppressed=%" PRIu64,
		       s->node->name, s->id, why, addr, m->onward.n, m->len, s->log_suppressed);
		s->log_next_ns = now + DROP_LOG_INTERVAL_NS;
		s->log_suppressed = 0;
	} else {
		s->log_suppressed++;
	}
	sl_msg_free(m);
}

bool sl_router_log_ok(struct sl_shard *s)
{
	uint64_t now = sl_now_ns();

	if (now < s->log_next_ns) {
		s->log_suppressed++;
		return false;
	}
	s->log_next_ns = now + DROP_LOG_INTERVAL_NS;
	s->log_suppressed = 0;
	return true;
}

static void drop_unknown(struct sl_shard *s, struct sl_msg *m)
{
	SL_STAT_INC(s, drop_unknown);
	sl_router_drop(s, m, "unknown_address");
}

static void deliver(struct sl_shard *s, struct sl_worker *w, struct sl_msg *m)
{
	/* Handlers that send to local workers nest; past a depth, queue instead of recursing. */
	if (s->depth >= SL_SEND_DEPTH) {
		m->next = NULL;
		if (s->defer_tail)
			s->defer_tail->next = m;
		else
			s->defer_head = m;
		s->defer_tail = m;
		return;
	}
	s->depth++;
	SL_STAT_INC(s, delivered);
	/* Ownership passes to the handler. */
	w->handle(w, m);
	s->depth--;
}

unsigned sl_router_run_deferred(struct sl_shard *s)
{
	struct sl_msg *m = s->defer_head;
	unsigned n = 0;

	s->defer_head = s->defer_tail = NULL;
	while (m) {
		struct sl_msg *next = m->next;

		m->next = NULL;
		sl_send_local_or_drop(s, m);
		m = next;
		n++;
	}
	return n;
}

void sl_send_local_or_drop(struct sl_shard *s, struct sl_msg *m)
{
	struct sl_worker *w;
	struct sl_addr a;

	if (!sl_route_front(&m->onward, &a) || a.type != SL_ADDR_LOCAL) {
		SL_STAT_INC(s, drop_route);
		sl_router_drop(s, m, "bad_route");
		return;
	}
	w = sl_worker_lookup_local(s, a.body, a.len);
	if (!w) {
		/* A relay name held by another node of a fleet (cold: a miss). */
		if (!sl_relay_fleet_miss(s, m))
			drop_unknown(s, m);
		return;
	}
	deliver(s, w, m);
}

/* Cold: behind what is parked for the same shard (order), or the ring was full. */
static __attribute__((noinline)) bool park(struct sl_shard *s, unsigned dst, struct sl_msg *m,
					   bool keep)
{
	struct sl_park *q = &s->park[dst];

	if (keep) {
		/* A reader keeps m and stops reading: backpressure reaches the socket. */
		SL_STAT_INC(s, ring_full_held);
		return false;
	}
	if (s->nparked >= SL_PARK_MAX(s->node)) {
		SL_STAT_INC(s, drop_ring_full);
		sl_router_drop(s, m, "ring_full");
		return true;
	}
	m->next = NULL;
	if (q->tail)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
	/* relaxed stores: node show reads it from another thread */
	__atomic_store_n(&s->nparked, s->nparked + 1, __ATOMIC_RELAXED);
	SL_STAT_INC(s, ring_parked);
	return true;
}

/* false only when keep is set and the ring is full: m is then still the caller's. */
static bool to_shard(struct sl_shard *s, unsigned dst, struct sl_msg *m, bool keep)
{
	struct sl_shard *d = &s->node->shards[dst];

	/* On success the message belongs to shard dst. */
	if (__builtin_expect(s->nparked != 0, 0) && s->park[dst].head)
		return park(s, dst, m, keep);
	if (!sl_ring_push_spsc(&d->in[s->id], m))
		return park(s, dst, m, keep);
	SL_STAT_INC(s, ring_out);
	sl_shard_kick(d);
	return true;
}

unsigned sl_router_flush_parked(struct sl_shard *s)
{
	struct sl_node *n = s->node;
	unsigned moved = 0;

	for (unsigned dst = 0; dst < n->nshards && s->nparked; dst++) {
		struct sl_park *q = &s->park[dst];
		struct sl_shard *d = &n->shards[dst];
		unsigned k = 0;

		/* Oldest first; we are the ring's only producer, so order holds. */
		while (q->head) {
			struct sl_msg *m = q->head, *next = m->next;

			m->next = NULL;
			if (!sl_ring_push_spsc(&d->in[s->id], m)) {
				m->next = next;
				break;
			}
			q->head = next;
			k++;
		}
		if (!q->head)
			q->tail = NULL;
		if (k) {
			__atomic_store_n(&s->nparked, s->nparked - k, __ATOMIC_RELAXED);
			SL_STAT_ADD(s, ring_out, k);
			sl_shard_kick(d);
			moved += k;
		}
	}
	return moved;
}

void sl_router_free_parked(struct sl_shard *s)
{
	for (unsigned dst = 0; s->park && dst < s->node->nshards; dst++) {
		struct sl_msg *m;

		while ((m = s->park[dst].head)) {
			s->park[dst].head = m->next;
			sl_msg_free(m);
		}
		s->park[dst].tail = NULL;
	}
	__atomic_store_n(&s->nparked, 0, __ATOMIC_RELAXED);
}

static inline bool route(struct sl_shard *s, struct sl_msg *m, bool keep)
{
	struct sl_node *n = s->node;
	struct sl_worker *w;
	struct sl_addr a;
	uint64_t mask;

	if (m->onward.n > SL_ROUTE_MAX_HOPS || !sl_route_front(&m->onward, &a)) {
		SL_STAT_INC(s, drop_route);
		sl_router_drop(s, m, m->onward.n ? "route_too_long" : "empty_route");
		return true;
	}
	/* what tells a bulk flow from a request/response one (the shard's spin) */
	SL_STAT_ADD(s, bytes, m->len);
	if (a.type != SL_ADDR_LOCAL) {
		if (a.type < SL_ADDR_TYPES && n->tops[a.type]) {
			SL_STAT_INC(s, to_transport);
			/* Ownership passes to the transport. */
			n->tops[a.type]->send(n->tctx[a.type], s, m);
			return true;
		}
		drop_unknown(s, m);
		return true;
	}
	w = sl_worker_lookup_local(s, a.body, a.len);
	if (w) {
		deliver(s, w, m);
		return true;
	}
	mask = sl_name_lookup(n, a.body, a.len) & ~(1ull << s->id);
	if (mask)
		return to_shard(s, (unsigned)__builtin_ctzll(mask), m, keep);
	if (sl_addr_is_random(a.body, a.len)) {
		unsigned dst = sl_random_addr_shard(n, a.body, a.len);

		if (dst != s->id)
			return to_shard(s, dst, m, keep);
	} else {
		unsigned dst;

		/* Relay workers: homed by hash, found without the name table. */
		if (sl_addr_hashed_shard(n, a.body, a.len, &dst)) {
			if (dst != s->id)
				return to_shard(s, dst, m, keep);
			/* Here, but no relay of that name: another node of a fleet may hold it. */
			if (sl_relay_fleet_miss(s, m))
				return true;
		}
	}
	drop_unknown(s, m);
	return true;
}

void sl_send(struct sl_shard *s, struct sl_msg *m)
{
	route(s, m, false);
}

bool sl_send_try(struct sl_shard *s, struct sl_msg *m)
{
	/* Enough parked for other shards: this reader waits, whatever m is for. */
	if (__builtin_expect(s->nparked >= SL_PARK_PAUSE(s->node), 0)) {
		SL_STAT_INC(s, ring_full_held);
		return false;
	}
	return route(s, m, true);
}

void sl_forward(struct sl_worker *self, struct sl_msg *m)
{
	sl_route_pop_front(&m->onward);
	if (sl_route_push_front(&m->ret, SL_ADDR_LOCAL, self->addr, self->addr_len)) {
		SL_STAT_INC(self->shard, drop_route);
		sl_router_drop(self->shard, m, "return_route_full");
		return;
	}
	sl_send(self->shard, m);
}

void sl_reply(struct sl_worker *self, struct sl_msg *m)
{
	sl_route_copy(&m->onward, &m->ret);
	sl_route_init(&m->ret);
	sl_route_push_front(&m->ret, SL_ADDR_LOCAL, self->addr, self->addr_len);
	sl_send(self->shard, m);
}
