// SPDX-License-Identifier: Apache-2.0
/*
 * Secure-channel listeners: a named worker on every shard that starts a
 * responder for each msg1, on the shard msg1 arrived on (so the channel's
 * workers sit next to the connection it came by).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "engine/log.h"
#include "engine/router.h"
#include "engine/secure_internal.h"
#include "engine/shard.h"

bool sl_trusted(const uint8_t (*list)[SL_ID_LEN], unsigned n, const uint8_t id[SL_ID_LEN])
{
	/* No list: any peer that proved an identity. */
	if (!n)
		return true;
	for (unsigned i = 0; i < n; i++)
		if (!sodium_memcmp(list[i], id, SL_ID_LEN))
			return true;
	return false;
}

static void listener_hold(struct sl_listener *l)
{
	__atomic_add_fetch(&l->refs, 1, __ATOMIC_RELAXED);
}

void sl_listener_put(struct sl_listener *l)
{
	struct sl_secure_node *sn = l->sn;

	if (__atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL))
		return;
	free(l->workers);
	free(l);
	sl_secure_node_put(sn);
}

static void listener_worker_stopped(struct sl_worker *w)
{
	sl_listener_put(w->ctx);
}

/* msg1: [e] from a fresh initiator. */
static void listener_handle(struct sl_worker *w, struct sl_msg *m)
{
	struct sl_listener *l = w->ctx;
	struct sl_secure_node *sn = l->sn;
	struct sl_channel *c;
	int32_t bucket;
	int lim;

	if (sl_route_empty(&m->ret) ||
	    __atomic_load_n(&sn->pending, __ATOMIC_RELAXED) >= SL_SECURE_MAX_PENDING) {
		/* Nowhere to answer, or too many handshakes at once: bounded state wins. */
		sl_shard_count_drop(w->shard);
		sl_msg_free(m);
		return;
	}
	/* The node's limits on handshakes it answers: msg1 dropped, nothing sent back. */
	lim = sl_secure_admit(sn, w->shard, &m->ret, &bucket);
	if (lim == 1) {
		SL_STAT_INC(w->shard, limit_pending_hs);
		sl_router_drop(w->shard, m, "limit limit=max-pending-handshakes");
		return;
	}
	if (lim == 2) {
		SL_STAT_INC(w->shard, limit_pending_hs_conn);
		sl_router_drop(w->shard, m, "limit limit=max-pending-handshakes-per-connection");
		return;
	}
	c = sl_channel_new(sn, false);
	if (!c) {
		sl_secure_admit_release(sn, &bucket);
		sl_shard_count_drop(w->shard);
		sl_msg_free(m);
		return;
	}
	c->hs->admitted = bucket;
	listener_hold(l);
	c->hs->listener = l;
	c->hs->vault = l->vault;
	if (sl_channel_start_dec(c, w->shard)) {
		sl_channel_abort(c);
		sl_shard_count_drop(w->shard);
		sl_msg_free(m);
		return;
	}
	sl_handshake_on_msg(c, m);
}

static void start_call(struct sl_shard *s, void *arg)
{
	struct sl_listener *l = arg;
	struct sl_worker *w = &l->workers[sl_shard_id(s)];

	if (sl_worker_start(s, w, l->addr)) {
		sl_log(SL_LOG_WARN, "event=listener_start_failed addr=%s shard=%u", l->addr,
		       sl_shard_id(s));
		sl_listener_put(l);	/* the worker's reference */
	}
}

/* One more shard has let go of l's address: at the last, tell who asked. */
static void shard_stopped(struct sl_listener *l)
{
	if (!__atomic_sub_fetch(&l->unstopped, 1, __ATOMIC_ACQ_REL) && l->gone)
		l->gone(l->gone_arg);
}

static void stop_call(struct sl_shard *s, void *arg)
{
	struct sl_listener *l = arg;
	struct sl_worker *w = &l->workers[sl_shard_id(s)];
	bool started = w->shard != NULL;

	/* The worker's stopped callback drops the worker's reference; then ours. */
	if (started)
		sl_worker_stop(w);
	shard_stopped(l);
	sl_listener_put(l);
}

int sl_secure_listener_start(struct sl_node *n, const char *addr,
			     const struct sl_secure_listener_opts *o)
{
	struct sl_secure_node *sn = sl_secure_node_get(n);
	unsigned ns = sl_node_shards(n), i;
	struct sl_listener *l, *p;
	size_t len = addr ? strlen(addr) : 0;
	int ret = 0;

	if (!sn)
		return -ENOENT;
	if (!len || len > SL_ADDR_BODY_MAX || o->n_authorized > SL_SECURE_MAX_AUTHORIZED)
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (l)
		l->workers = calloc(ns, sizeof(*l->workers));
	if (!l || !l->workers) {
		free(l);
		return -ENOMEM;
	}
	l->sn = sn;
	memcpy(l->addr, addr, len + 1);
	l->vault = o->vault ? o->vault : sn->vaults;
	l->n_authorized = o->n_authorized;
	if (o->n_authorized)
		memcpy(l->authorized, o->authorized, o->n_authorized * SL_ID_LEN);
	for (i = 0; i < ns; i++) {
		l->workers[i].handle = listener_handle;
		l->workers[i].stopped = listener_worker_stopped;
		l->workers[i].ctx = l;
	}
	/* The registry's reference + one per shard worker. */
	l->refs = 1 + (int)ns;
	sl_secure_node_hold(sn);

	pthread_mutex_lock(&sn->lock);
	for (p = sn->listeners; p; p = p->next)
		if (!strcmp(p->addr, addr))
			ret = -EEXIST;
	if (!ret && sl_name_lookup(n, (const uint8_t *)addr, len))
		ret = -EEXIST;		/* another service has the name */
	if (!ret) {
		l->next = sn->listeners;
		sn->listeners = l;
	}
	pthread_mutex_unlock(&sn->lock);
	if (ret) {
		l->refs = 1;
		sl_listener_put(l);
		return ret;
	}
	for (i = 0; i < ns; i++) {
		if (!sl_node_running(n)) {
			/* Before start the shards are ours to set up directly. */
			start_call(sl_node_shard(n, i), l);
			continue;
		}
		ret = sl_shard_call(n, i, start_call, l);
		if (ret)
			sl_listener_put(l);
	}
	return 0;
}

int sl_secure_listener_stop(struct sl_node *n, const char *addr, void (*gone)(void *arg),
			    void *arg)
{
	struct sl_secure_node *sn = sl_secure_node_get(n);
	struct sl_listener *l, **pp;
	unsigned i, ns = sl_node_shards(n);

	if (!sn)
		return -ENOENT;
	pthread_mutex_lock(&sn->lock);
	for (pp = &sn->listeners; (l = *pp); pp = &l->next)
		if (!strcmp(l->addr, addr))
			break;
	if (l)
		*pp = l->next;
	pthread_mutex_unlock(&sn->lock);
	if (!l)
		return -ENOENT;
	l->gone = gone;
	l->gone_arg = arg;
	/* One for the loop, so gone runs after it even when every call ran before it ended. */
	l->unstopped = ns + 1;
	/* Each call holds a reference; the registry's goes last of all. */
	for (i = 0; i < ns; i++) {
		listener_hold(l);
		if (!sl_node_running(n)) {
			stop_call(sl_node_shard(n, i), l);
			continue;
		}
		if (sl_shard_call(n, i, stop_call, l)) {
			/* A full control queue: that shard keeps its worker (logged), the rest stop. */
			sl_log(SL_LOG_WARN, "event=listener_stop_failed addr=%s shard=%u", l->addr, i);
			shard_stopped(l);
			sl_listener_put(l);
		}
	}
	shard_stopped(l);
	sl_listener_put(l);
	return 0;
}

size_t sl_secure_listener_list(struct sl_node *n, struct sl_secure_listener_info *v, size_t max)
{
	struct sl_secure_node *sn = sl_secure_node_get(n);
	struct sl_listener *l;
	size_t k = 0;

	if (!sn)
		return 0;
	pthread_mutex_lock(&sn->lock);
	for (l = sn->listeners; l; l = l->next, k++) {
		if (k >= max)
			continue;
		memset(&v[k], 0, sizeof(v[k]));
		memcpy(v[k].addr, l->addr, sizeof(v[k].addr));
		memcpy(v[k].id, l->vault->id, SL_ID_LEN);
		memcpy(v[k].identity, l->vault->name, sizeof(v[k].identity));
		v[k].n_authorized = l->n_authorized;
		memcpy(v[k].authorized, l->authorized, sizeof(v[k].authorized));
	}
	pthread_mutex_unlock(&sn->lock);
	return k;
}
