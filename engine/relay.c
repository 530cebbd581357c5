// SPDX-License-Identifier: Apache-2.0
/*
 * The relay services (relay.h, PROTOCOL.md 6): registration, the per-name
 * relay workers, ownership, and expiry when the registering route dies.
 *
 * Where things run:
 *  - forwarding_service / static_forwarding_service: one instance per shard
 *    (a registration is parsed on the shard it arrived on);
 *  - forward_to_<name>: on the shard its name hashes to (worker.h), so the
 *    router finds it from any shard and relays spread over the shards. A
 *    registration for a name is handed to that shard's registrar, so every
 *    change of one relay happens on one thread, in arrival order;
 *  - expiry: the node tells us on the shard F where a worker stopped; relays
 *    watching that address are marked dead and queued on their home shard,
 *    which stops them (only a worker's own shard may stop it). A watch added
 *    after its address already stopped is caught by F's tick, which checks
 *    every new watch on its own table.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "engine/bare.h"
#include "engine/log.h"
#include "engine/relay_fleet.h"
#include "engine/relay_int.h"
#include "engine/router.h"
#include "engine/secure.h"
#include "engine/timer.h"

#define SL_RELAY_TICK_NS (250ull * 1000000)	/* expiry latency bound across shards */
#define TABLE_INIT 256
/* After a mass expiry, give freed memory back to the system (see sl_relay_reap_local). */
#define TRIM_AFTER 1024

/* Relay workers must be hash-homed (worker.h): one prefix for both. */
_Static_assert(sizeof(SL_RELAY_PREFIX) == sizeof(SL_HASHED_PREFIX), "relay prefix");

int sl_relay_parse_registration(const uint8_t *p, size_t len, char *name, size_t cap,
				bool *ephemeral)
{
	const uint8_t *s;
	size_t n;

	*ephemeral = false;
	if (sl_bare_get_bytes(p, len, &s, &n) < 0)
		return -EBADMSG;
	if (n == 8 && !memcmp(s, "register", 8)) {
		*ephemeral = true;
		return 0;
	}
	if (!n || n > SL_RELAY_NAME_MAX || n + 1 > cap)
		return -EBADMSG;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == '/')
			return -EBADMSG;
	memcpy(name, s, n);
	name[n] = 0;
	return (int)n;
}

/* ---- life of the shared state ---- */

void sl_relays_get(struct sl_relays *rs)
{
	pthread_mutex_lock(&rs->lock);
	rs->refs++;
	pthread_mutex_unlock(&rs->lock);
}

void sl_relays_put(struct sl_relays *rs)
{
	unsigned left;

	pthread_mutex_lock(&rs->lock);
	left = --rs->refs;
	pthread_mutex_unlock(&rs->lock);
	if (left)
		return;
	/* The last worker of the node's relay state is gone (node destruction). */
	pthread_mutex_destroy(&rs->lock);
	sl_relay_limit_free(rs);
	free(rs->dir);
	free(rs->watch);
	free(rs);
}

/* ---- the relay worker ---- */

static void relay_handle(struct sl_worker *w, struct sl_msg *m)
{
	struct relay *r = w->ctx;

	if (__atomic_load_n(&r->dead, __ATOMIC_RELAXED)) {
		sl_shard_count_drop(w->shard);
		sl_router_drop(w->shard, m, "relay_expired");
		return;
	}
	/* Ockam's relay.rs: our address off, the forward route on, return route untouched. */
	sl_route_pop_front(&m->onward);
	if (sl_route_prepend_packed(&m->onward, r->fwd)) {
		SL_STAT_INC(w->shard, drop_route);
		sl_router_drop(w->shard, m, "relay_route_too_long");
		return;
	}
	__atomic_store_n(&r->forwarded, r->forwarded + 1, __ATOMIC_RELAXED);
	/* Toward the owner: counted on its share (its own connection is what pauses). */
	if (r->share)
		sl_share_add(w->shard, r->share, m->len);
	sl_send(w->shard, m);
}

static void relay_stopped(struct sl_worker *w)
{
	struct relay *r = w->ctx;
	struct sl_relays *rs = r->rs;

	pthread_mutex_lock(&rs->lock);
	sl_relay_dir_remove(rs, r);
	sl_relay_unwatch_all(rs, r);
	SLIST_REMOVE(r);
	pthread_mutex_unlock(&rs->lock);
	sl_relay_fleet_gone(rs->node, r->w.addr);
	free(r->fwd);
	free(r);
	sl_relays_put(rs);
}

/* ---- registration ---- */

static void reject(struct sl_relays *rs, struct sl_shard *s, struct sl_msg *m, const char *why)
{
	pthread_mutex_lock(&rs->lock);
	rs->st.rejected++;
	pthread_mutex_unlock(&rs->lock);
	/* Ockam drops refused registrations silently; so do we, counted and logged. */
	sl_shard_count_drop(s);
	sl_router_drop(s, m, why);
}

/* Refused by one of the node's limits on relays (relay_limit.c; rs->lock held, and released). */
static void reject_limit(struct sl_relays *rs, struct sl_shard *s, struct sl_msg *m,
			 const char *limit)
{
	rs->st.rejected++;
	pthread_mutex_unlock(&rs->lock);
	if (!strcmp(limit, "max-relays-per-identity")) {
		SL_STAT_INC(s, limit_relays_identity);
		sl_router_drop(s, m, "limit limit=max-relays-per-identity");
	} else {
		SL_STAT_INC(s, limit_relays_conn);
		sl_router_drop(s, m, "limit limit=max-relays-per-connection");
	}
}

/* A random name that hashes to shard s, so an ephemeral relay is born where it was asked for. */
static int ephemeral_name(struct sl_relays *rs, struct sl_shard *s, char *name)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t rnd[16];

	memcpy(name, SL_RELAY_PREFIX, SL_RELAY_PREFIX_LEN);
	for (unsigned tries = 0; tries < 64 * SL_MAX_SHARDS; tries++) {
		char *p = name + SL_RELAY_PREFIX_LEN;

		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return -EIO;
		for (unsigned i = 0; i < 16; i++) {
			p[2 * i] = hex[rnd[i] >> 4];
			p[2 * i + 1] = hex[rnd[i] & 15];
		}
		p[32] = 0;
		if (sl_worker_hashed_shard(rs->node, name) == sl_shard_id(s))
			return (int)(SL_RELAY_PREFIX_LEN + 32);
	}
	return -EAGAIN;
}

/* On the name's home shard s: create the relay or replace its route, then answer. */
static void relay_register(struct sl_relays *rs, struct sl_shard *s, struct sl_msg *m,
			   const char *name, size_t len)
{
	bool auth = m->flags & SL_MSG_AUTHENTICATED;
	struct sl_addr first, under;
	const struct sl_addr *conn = NULL;
	struct sl_secure_info *si = NULL;
	struct sl_route_packed *fwd, *old = NULL;
	struct sl_route route;
	bool has_first, has_under = false;
	const char *limit;
	struct relay *r;
	bool created = false;
	int ret;

	/* The route to the registering worker; the relay keeps it without that last hop. */
	sl_route_copy(&route, &m->ret);
	sl_route_pop_back(&route);
	fwd = sl_route_pack(&route);
	if (!fwd) {
		reject(rs, s, m, "relay_no_memory");
		return;
	}
	has_first = sl_route_front(&m->ret, &first);
	/* Before our lock: the channel table has its own. */
	if (has_first && sl_addr_is_random(first.body, first.len) && (si = malloc(sizeof(*si))))
		has_under = sl_relay_channel_first_hop(rs, &first, si, &under);
	/* The connection the route rides: under its channel, or its first hop. */
	if (has_under)
		conn = &under;
	else if (has_first)
		conn = &first;
	sl_relay_reap_local(rs, s);
	pthread_mutex_lock(&rs->lock);
	r = sl_relay_dir_find(rs, name, len);
	if (r) {
		if (r->owned && (!auth || memcmp(r->owner, m->peer, sizeof(r->owner)))) {
			pthread_mutex_unlock(&rs->lock);
			free(si);
			free(fwd);
			reject(rs, s, m, "relay_name_owned_by_another_identity");
			return;
		}
		limit = sl_relay_limit_check(rs, r, auth ? m->peer : NULL, conn);
		if (limit) {
			free(si);
			free(fwd);
			reject_limit(rs, s, m, limit);
			return;
		}
		sl_relay_unwatch_all(rs, r);
		rs->st.replaced++;
	} else {
		/* Before the relay is made, and once more after (below). */
		limit = sl_relay_limit_check(rs, NULL, auth ? m->peer : NULL, conn);
		if (limit) {
			free(si);
			free(fwd);
			reject_limit(rs, s, m, limit);
			return;
		}
		if (rs->nrelays >= SL_RELAYS_MAX) {
			pthread_mutex_unlock(&rs->lock);
			free(si);
			free(fwd);
			reject(rs, s, m, "relay_limit");
			return;
		}
		pthread_mutex_unlock(&rs->lock);
		r = calloc(1, sizeof(*r));
		if (!r) {
			free(si);
			free(fwd);
			reject(rs, s, m, "relay_no_memory");
			return;
		}
		r->rs = rs;
		r->w.handle = relay_handle;
		r->w.stopped = relay_stopped;
		r->w.ctx = r;
		ret = sl_worker_start(s, &r->w, name);
		if (ret == -EEXIST) {
			/* A dead relay of that name may still hold the address: it is ours to stop. */
			sl_relay_reap_local(rs, s);
			ret = sl_worker_start(s, &r->w, name);
		}
		if (ret) {
			free(r);
			free(si);
			free(fwd);
			reject(rs, s, m, "relay_address_taken");
			return;
		}
		sl_relays_get(rs);
		created = true;
		pthread_mutex_lock(&rs->lock);
		/* Again: another shard may have filled a limit while the worker was made. */
		limit = sl_relay_limit_check(rs, NULL, auth ? m->peer : NULL, conn);
		if (limit) {
			free(si);
			free(fwd);
			reject_limit(rs, s, m, limit);
			sl_worker_stop(&r->w);	/* frees r (relay_stopped): it was never listed */
			return;
		}
		sl_relay_dir_insert(rs, r);
		rs->st.registered++;
	}
	if (auth && !r->owned) {
		r->owned = true;
		memcpy(r->owner, m->peer, sizeof(r->owner));
		sl_relay_owner_add(rs, r);
	}
	old = r->fwd;
	r->fwd = fwd;
	for (unsigned i = 0; i < RELAY_WATCHES; i++)
		r->watch[i].r = r;
	if (has_first)
		sl_relay_watch_add(rs, s, &r->watch[0], &first);
	if (has_under)
		sl_relay_watch_add(rs, s, &r->watch[1], &under);
	pthread_mutex_unlock(&rs->lock);
	free(si);
	free(old);
	sl_log(SL_LOG_INFO, "node=%s event=relay_%s address=%s hops=%u owned=%d",
	       sl_node_name(rs->node), created ? "created" : "replaced", name, fwd->n, r->owned);
	sl_relay_fleet_owned(rs->node, name);

	/* The answer: the BARE name along the full route, from the relay's address. */
	if (sl_msg_reserve(&m, len + 2)) {
		sl_msg_free(m);
		return;
	}
	sl_route_copy(&m->onward, &m->ret);
	sl_route_init(&m->ret);
	sl_route_push_front(&m->ret, SL_ADDR_LOCAL, name, len);
	m->len = (uint32_t)sl_bare_put_bytes(m->data, len + 2, name, len);
	m->flags &= (uint8_t)~SL_MSG_AUTHENTICATED;
	sl_send(s, m);
	sl_relay_reap_local(rs, s);	/* if the route was dead already */
}

static void register_handle(struct sl_worker *w, struct sl_msg *m)
{
	struct sl_relays *rs = w->ctx;
	struct sl_shard *s = w->shard;
	char name[SL_ADDR_BODY_MAX + 1];
	unsigned home;
	bool eph;
	int ret;

	ret = sl_relay_parse_registration(m->data, m->len, name + SL_RELAY_PREFIX_LEN,
					  sizeof(name) - SL_RELAY_PREFIX_LEN, &eph);
	if (ret < 0) {
		reject(rs, s, m, "relay_bad_registration");
		return;
	}
	if (sl_route_empty(&m->ret)) {
		reject(rs, s, m, "relay_no_return_route");
		return;
	}
	if (eph) {
		ret = ephemeral_name(rs, s, name);
		if (ret < 0) {
			reject(rs, s, m, "relay_no_name");
			return;
		}
	} else {
		memcpy(name, SL_RELAY_PREFIX, SL_RELAY_PREFIX_LEN);
		ret += (int)SL_RELAY_PREFIX_LEN;
	}
	home = sl_worker_hashed_shard(rs->node, name);
	if (home != sl_shard_id(s)) {
		struct sl_worker *reg = &rs->shards[home].registrar;

		/* Every change of one name happens on its home shard, in order. */
		sl_route_pop_front(&m->onward);
		if (sl_route_push_front(&m->onward, SL_ADDR_LOCAL, reg->addr, reg->addr_len)) {
			reject(rs, s, m, "relay_route_too_long");
			return;
		}
		sl_send(s, m);
		return;
	}
	relay_register(rs, s, m, name, (size_t)ret);
}

/* ---- start, lookup, listing ---- */

static void svc_stopped(struct sl_worker *w)
{
	struct relay_svc *svc = container_of(w, struct relay_svc, w);
	struct sl_relays *rs = svc->rs;

	free(svc);
	sl_relays_put(rs);
}

static void registrar_stopped(struct sl_worker *w)
{
	struct relay_shard *rsh = container_of(w, struct relay_shard, registrar);

	/* The tick lives in rs: it must be off its shard's heap before rs can go. */
	sl_timer_cancel(&rsh->tick);
	sl_relays_put(rsh->rs);
}

int sl_relay_services_start(struct sl_node *n)
{
	static const char *const names[] = { SL_RELAY_SERVICE, SL_RELAY_STATIC_SERVICE };
	unsigned ns = sl_node_shards(n);
	struct sl_relays *rs;
	int ret;

	rs = calloc(1, sizeof(*rs) + ns * sizeof(rs->shards[0]));
	if (!rs)
		return -ENOMEM;
	rs->node = n;
	rs->nshards = ns;
	pthread_mutex_init(&rs->lock, NULL);
	rs->dir = calloc(TABLE_INIT, sizeof(*rs->dir));
	rs->watch = calloc(TABLE_INIT, sizeof(*rs->watch));
	rs->dmask = rs->wmask = TABLE_INIT - 1;
	/* Held by this function until the end, so a failure half way frees what it must. */
	rs->refs = 1;
	ret = -ENOMEM;
	if (!rs->dir || !rs->watch || sl_relay_limit_init(rs))
		goto out;
	for (unsigned i = 0; i < ns; i++) {
		struct sl_shard *s = sl_node_shard(n, i);
		struct relay_shard *rsh = &rs->shards[i];

		for (unsigned k = 0; k < 2; k++) {
			struct relay_svc *svc = calloc(1, sizeof(*svc));

			ret = -ENOMEM;
			if (!svc)
				goto out;
			svc->rs = rs;
			svc->w.handle = register_handle;
			svc->w.stopped = svc_stopped;
			svc->w.ctx = rs;
			ret = sl_worker_start(s, &svc->w, names[k]);
			if (ret) {
				free(svc);
				goto out;
			}
			rs->refs++;
		}
		rsh->rs = rs;
		rsh->registrar.handle = register_handle;
		rsh->registrar.stopped = registrar_stopped;
		rsh->registrar.ctx = rs;
		ret = sl_worker_start_random(s, &rsh->registrar);
		if (ret)
			goto out;
		rs->refs++;
		rsh->tick.fire = sl_relay_tick_fire;
		sl_timer_arm(s, &rsh->tick, SL_RELAY_TICK_NS);
	}
	ret = sl_node_on_worker_stop(n, sl_relay_on_worker_stop, rs);
out:
	sl_relays_put(rs);
	return ret;
}

struct sl_relays *sl_relays_local(struct sl_shard *s)
{
	static const char svc[] = SL_RELAY_SERVICE;
	struct sl_worker *w = sl_worker_lookup_local(s, (const uint8_t *)svc, sizeof(svc) - 1);

	return w && w->handle == register_handle ? w->ctx : NULL;
}

void sl_relays_stats(struct sl_relays *rs, struct sl_relay_stats *out)
{
	pthread_mutex_lock(&rs->lock);
	*out = rs->st;
	out->active = rs->nrelays;
	pthread_mutex_unlock(&rs->lock);
}

size_t sl_relays_each(struct sl_relays *rs, size_t max,
		      void (*fn)(void *arg, const struct sl_relay_info *ri), void *arg)
{
	struct sl_relay_info *ri = malloc(sizeof(*ri));
	size_t n = 0;

	if (!ri)
		return 0;
	pthread_mutex_lock(&rs->lock);
	for (unsigned b = 0; b <= rs->dmask && n < max; b++) {
		for (struct relay *r = rs->dir[b]; r && n < max; r = r->dnext) {
			memcpy(ri->address, r->w.addr, r->w.addr_len + 1u);
			if (r->fwd)
				sl_route_unpack(&ri->route, r->fwd);
			else
				sl_route_init(&ri->route);
			ri->owned = r->owned;
			memcpy(ri->owner, r->owner, sizeof(ri->owner));
			ri->shard = r->w.shard ? sl_shard_id(r->w.shard) : 0;
			ri->forwarded = __atomic_load_n(&r->forwarded, __ATOMIC_RELAXED);
			fn(arg, ri);
			n++;
		}
	}
	pthread_mutex_unlock(&rs->lock);
	free(ri);
	return n;
}
