// SPDX-License-Identifier: Apache-2.0
/*
 * Which relays exist and when they die (relay_int.h): the directory of relays
 * by name, the watches on the addresses their routes start with, the per-shard
 * lists of relays to stop and watches to check, and the events that expire
 * relays: a watched worker's stop, the shard's tick, a fleet's takeover.
 * Everything here runs under rs->lock but the reaping, which stops workers.
 */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "engine/log.h"
#include "engine/relay_int.h"
#include "engine/secure.h"

/* After a mass expiry, give freed memory back to the system (sl_relay_reap_local). */
#define TRIM_AFTER 1024

/* ---- directory, watches, shard lists (all under rs->lock) ---- */

struct relay *sl_relay_dir_find(struct sl_relays *rs, const char *addr, size_t len)
{
	uint32_t h = sl_addr_hash((const uint8_t *)addr, len);
	struct relay *r;

	for (r = rs->dir[h & rs->dmask]; r; r = r->dnext)
		if (r->dhash == h && r->w.addr_len == len && !memcmp(r->w.addr, addr, len))
			return r;
	return NULL;
}

/* Cold; a failed grow keeps the old table (longer chains, still correct). */
static void dir_grow(struct sl_relays *rs)
{
	unsigned cap = (rs->dmask + 1) * 2;
	struct relay **t = calloc(cap, sizeof(*t));

	if (!t)
		return;
	for (unsigned i = 0; i <= rs->dmask; i++) {
		struct relay *r, *next;

		for (r = rs->dir[i]; r; r = next) {
			next = r->dnext;
			r->dnext = t[r->dhash & (cap - 1)];
			t[r->dhash & (cap - 1)] = r;
		}
	}
	free(rs->dir);
	rs->dir = t;
	rs->dmask = cap - 1;
}

static void watch_link(struct relay_watch **b, struct relay_watch *x)
{
	x->wnext = *b;
	if (x->wnext)
		x->wnext->wpprev = &x->wnext;
	*b = x;
	x->wpprev = b;
}

static void watch_grow(struct sl_relays *rs)
{
	unsigned cap = (rs->wmask + 1) * 2;
	struct relay_watch **t = calloc(cap, sizeof(*t));

	if (!t)
		return;
	for (unsigned i = 0; i <= rs->wmask; i++) {
		struct relay_watch *x, *next;

		for (x = rs->watch[i]; x; x = next) {
			next = x->wnext;
			watch_link(&t[x->whash & (cap - 1)], x);
		}
	}
	free(rs->watch);
	rs->watch = t;
	rs->wmask = cap - 1;
}

void sl_relay_dir_insert(struct sl_relays *rs, struct relay *r)
{
	unsigned b;

	r->dhash = sl_addr_hash((const uint8_t *)r->w.addr, r->w.addr_len);
	b = r->dhash & rs->dmask;
	r->dnext = rs->dir[b];
	rs->dir[b] = r;
	r->in_dir = true;
	rs->nrelays++;
	if (rs->nrelays > 2 * (rs->dmask + 1))
		dir_grow(rs);
}

void sl_relay_dir_remove(struct sl_relays *rs, struct relay *r)
{
	struct relay **pp;

	if (!r->in_dir)
		return;
	for (pp = &rs->dir[r->dhash & rs->dmask]; *pp; pp = &(*pp)->dnext) {
		if (*pp == r) {
			*pp = r->dnext;
			break;
		}
	}
	r->in_dir = false;
	rs->nrelays--;
	if (r->owned)
		sl_relay_owner_del(rs, r);
}

static void watch_remove(struct sl_relays *rs, struct relay_watch *x)
{
	if (!x->wpprev)
		return;
	*x->wpprev = x->wnext;
	if (x->wnext)
		x->wnext->wpprev = x->wpprev;
	x->wnext = NULL;
	x->wpprev = NULL;
	__atomic_store_n(&rs->nwatch, rs->nwatch - 1, __ATOMIC_RELAXED);
	/* A pending check of the old address is moot now. */
	SLIST_REMOVE(x);
	if (x->waddr != x->wbuf)
		free(x->waddr);
	x->waddr = NULL;
}

void sl_relay_unwatch_all(struct sl_relays *rs, struct relay *r)
{
	for (unsigned i = 0; i < RELAY_WATCHES; i++)
		watch_remove(rs, &r->watch[i]);
}

/* The relay is dead: out of every index, queued for its home shard to stop. */
void sl_relay_expire_locked(struct sl_relays *rs, struct relay *r)
{
	struct relay_shard *home = &rs->shards[r->w.shard ? sl_shard_id(r->w.shard) : 0];

	if (r->dead)
		return;
	sl_relay_dir_remove(rs, r);
	sl_relay_unwatch_all(rs, r);
	__atomic_store_n(&r->dead, 1, __ATOMIC_RELAXED);
	rs->st.expired++;
	SLIST_ADD(&home->reap, &home->pending, r);
}

/* The shard hosting local address a: where its stop will be announced. */
static unsigned addr_shard(struct sl_relays *rs, const struct sl_addr *a, unsigned here)
{
	unsigned shard;
	uint64_t mask;

	if (sl_addr_is_random(a->body, a->len))
		return sl_random_addr_shard(rs->node, a->body, a->len);
	if (sl_addr_hashed_shard(rs->node, a->body, a->len, &shard))
		return shard;
	mask = sl_name_lookup(rs->node, a->body, a->len);
	if (mask & (1ull << here))
		return here;
	return mask ? (unsigned)__builtin_ctzll(mask) : here;
}

/*
 * Watch the first hop of r's route (s: r's home shard, the calling thread).
 * Only local addresses are watched: a return route starts with the worker of
 * the connection or channel the registration came through.
 */
void sl_relay_watch_add(struct sl_relays *rs, struct sl_shard *s, struct relay_watch *x,
		      const struct sl_addr *a)
{
	if (a->type != SL_ADDR_LOCAL || !a->len || x->r->dead)
		return;
	x->waddr = a->len < sizeof(x->wbuf) ? x->wbuf : malloc(a->len + 1u);
	if (!x->waddr) {
		/* Unwatched, it could outlive its route: gone now instead. */
		sl_relay_expire_locked(rs, x->r);
		return;
	}
	memcpy(x->waddr, a->body, a->len);
	x->waddr[a->len] = 0;
	x->wlen = a->len;
	x->whash = sl_addr_hash(a->body, a->len);
	x->wshard = (uint16_t)addr_shard(rs, a, sl_shard_id(s));
	watch_link(&rs->watch[x->whash & rs->wmask], x);
	__atomic_store_n(&rs->nwatch, rs->nwatch + 1, __ATOMIC_RELEASE);
	if (rs->nwatch > 2 * (rs->wmask + 1))
		watch_grow(rs);
	if (x->wshard == sl_shard_id(s)) {
		/* Our own table: check now that the route is still alive. */
		struct sl_worker *w = sl_worker_lookup_local(s, (const uint8_t *)x->waddr, x->wlen);

		if (!w)
			sl_relay_expire_locked(rs, x->r);
		else
			sl_relay_share_tag(x->r, w);
	} else {
		/* Its stop may have been announced before this watch existed. */
		struct relay_shard *f = &rs->shards[x->wshard];

		SLIST_ADD(&f->verify, &f->pending, x);
	}
}

/*
 * When the first hop is the local end of a secure channel, the connection
 * the channel rides on: its route to the peer starts with that connection's
 * worker. Text as secure.h gives it ("TT#body => ..."). false if none.
 */
bool sl_relay_channel_first_hop(struct sl_relays *rs, const struct sl_addr *first,
			      struct sl_secure_info *si, struct sl_addr *out)
{
	char addr[SL_RANDOM_ADDR_LEN + 1], *end;
	const char *body;
	size_t len;
	uint8_t type;

	if (first->type != SL_ADDR_LOCAL || !sl_addr_is_random(first->body, first->len))
		return false;
	memcpy(addr, first->body, SL_RANDOM_ADDR_LEN);
	addr[SL_RANDOM_ADDR_LEN] = 0;
	if (sl_secure_find(rs->node, addr, si))
		return false;
	end = strstr(si->route, " => ");
	if (end)
		*end = 0;
	if (sl_addr_parse(si->route, &type, &body, &len) || len > SL_ADDR_BODY_MAX)
		return false;
	out->type = type;
	out->len = (uint8_t)len;
	out->body = (const uint8_t *)body;
	return true;
}

/* Stop the dead relays homed on s (s's thread; the lock is not held). */
void sl_relay_reap_local(struct sl_relays *rs, struct sl_shard *s)
{
	struct relay_shard *rsh = &rs->shards[sl_shard_id(s)];
	struct relay *list = NULL, *r;

	if (!__atomic_load_n(&rsh->pending, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&rs->lock);
	while ((r = rsh->reap)) {
		SLIST_REMOVE(r);
		r->snext = list;
		list = r;
	}
	pthread_mutex_unlock(&rs->lock);
	/* Outside the lock: sl_worker_stop runs the stop hooks, ours included. */
	while ((r = list)) {
		list = r->snext;
		r->snext = NULL;
		sl_log(SL_LOG_DEBUG, "node=%s event=relay_expired address=%s", sl_node_name(rs->node),
		       r->w.addr);
		sl_worker_stop(&r->w);	/* frees r (relay_stopped) */
		rsh->reaped++;
	}
	/*
	 * Thousands of relays (and their connections) going at once leave their
	 * memory in the shard threads' malloc arenas, which glibc does not return
	 * by itself: an elastic relay node should shrink back. Cold, rare.
	 */
	if (rsh->reaped >= TRIM_AFTER) {
		rsh->reaped = 0;
		malloc_trim(0);
	}
}

/* ---- expiry ---- */

void sl_relays_expire_name_local(struct sl_relays *rs, struct sl_shard *s, const char *addr,
				 size_t len)
{
	struct relay *r;

	pthread_mutex_lock(&rs->lock);
	r = sl_relay_dir_find(rs, addr, len);
	if (r)
		sl_relay_expire_locked(rs, r);
	pthread_mutex_unlock(&rs->lock);
	sl_relay_reap_local(rs, s);
}

void sl_relay_on_worker_stop(void *ctx, struct sl_shard *s, const uint8_t *addr, size_t len)
{
	struct sl_relays *rs = ctx;
	bool mine = false;
	uint32_t h;

	if (__atomic_load_n(&rs->nclients, __ATOMIC_ACQUIRE))
		sl_relay_clients_addr_gone(rs, s, addr, len);
	/* Most stops concern no relay; a watch added meanwhile is verified by the tick. */
	if (!__atomic_load_n(&rs->nwatch, __ATOMIC_ACQUIRE))
		return;
	h = sl_addr_hash(addr, len);
	pthread_mutex_lock(&rs->lock);
restart:
	for (struct relay_watch *x = rs->watch[h & rs->wmask]; x; x = x->wnext) {
		struct relay *r = x->r;

		if (x->whash != h || x->wlen != len || memcmp(x->waddr, addr, len) ||
		    x->wshard != sl_shard_id(s))
			continue;
		/* This unlinks r's watches from the chain we walk: start over (each pass removes one). */
		sl_relay_expire_locked(rs, r);
		mine |= r->w.shard == s;
		goto restart;
	}
	pthread_mutex_unlock(&rs->lock);
	if (mine)
		sl_relay_reap_local(rs, s);
}

/*
 * The connection (or channel) a relay's owner rides: what arrives on it is
 * the owner's traffic through this node (downloads to the relay's clients,
 * and the acknowledgements its uploads wait for), counted on its slot.
 */
void sl_relay_share_tag(const struct relay *r, struct sl_worker *w)
{
	if (r->share)
		__atomic_store_n(&w->share, r->share, __ATOMIC_RELAXED);
}

void sl_relay_tick_fire(struct sl_timer *t)
{
	struct relay_shard *rsh = container_of(t, struct relay_shard, tick);
	struct sl_relays *rs = rsh->rs;
	struct sl_shard *s = t->shard;

	if (__atomic_load_n(&rsh->pending, __ATOMIC_ACQUIRE)) {
		struct relay_watch *x;

		pthread_mutex_lock(&rs->lock);
		__atomic_store_n(&rsh->pending, 0, __ATOMIC_RELAXED);
		while ((x = rsh->verify)) {
			struct sl_worker *w;

			SLIST_REMOVE(x);
			w = sl_worker_lookup_local(s, (const uint8_t *)x->waddr, x->wlen);
			if (!w)
				sl_relay_expire_locked(rs, x->r);
			else
				sl_relay_share_tag(x->r, w);
		}
		if (rsh->reap)
			__atomic_store_n(&rsh->pending, 1, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&rs->lock);
		sl_relay_reap_local(rs, s);
	}
	sl_timer_arm(s, t, SL_RELAY_TICK_NS);
}
