// SPDX-License-Identifier: Apache-2.0
/*
 * Portals' control plane (cold): a node's portals in its feature slot, the
 * inlets and outlets (create, delete, list) and their reference counts. The
 * lists are under a per-node lock, which no shard's hot path takes.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/log.h"
#include "engine/portal_int.h"

/* ---- a node's portals ---- */

struct sl_portals *sl_portals_get(const struct sl_node *n)
{
	return sl_node_slot(n, SL_NODE_SLOT_PORTALS);
}

struct sl_portals *sl_portals_create(struct sl_node *n, const struct sl_portal_sock_ops *ops,
				     void *ctx)
{
	struct sl_portals *P = calloc(1, sizeof(*P));

	if (!P)
		return NULL;
	P->node = n;
	P->ops = ops;
	P->ctx = ctx;
	P->nshards = sl_node_shards(n);
	P->ps = sl_cache_alloc(P->nshards * sizeof(*P->ps));
	if (!P->ps) {
		free(P);
		return NULL;
	}
	memset(P->ps, 0, P->nshards * sizeof(*P->ps));
	pthread_mutex_init(&P->lock, NULL);
	if (!sl_node_slot_swap(n, SL_NODE_SLOT_PORTALS, NULL, P)) {
		pthread_mutex_destroy(&P->lock);
		free(P->ps);
		free(P);
		errno = EEXIST;
		return NULL;
	}
	/* Without the hook a broken channel is still noticed, by its first lost Pong. */
	if (sl_node_on_worker_stop(n, sl_portal_worker_stopped, NULL))
		sl_log(SL_LOG_WARN, "node=%s event=portal_no_stop_hook", sl_node_name(n));
	return P;
}

void sl_portals_destroy(struct sl_portals *P)
{
	if (!P)
		return;
	sl_node_slot_swap(P->node, SL_NODE_SLOT_PORTALS, P, NULL);
	sl_portal_chans_release(P);
	sl_portal_links_release(P);
	/*
	 * The shards have stopped: listeners are closed, and the workers still
	 * in the shards' tables drop their references when the node destroys them.
	 */
	while (P->inlets) {
		struct sl_portal_inlet *in = P->inlets;

		P->inlets = in->next;
		in->o.P = NULL;
		sl_portal_owner_put(&in->o);
	}
	while (P->outlets) {
		struct sl_portal_outlet *out = P->outlets;

		P->outlets = out->next;
		out->o.P = NULL;
		sl_portal_owner_put(&out->o);
	}
	pthread_mutex_destroy(&P->lock);
	free(P->ps);
	free(P);
}

/* ---- owners ---- */

void sl_portal_owner_put(struct portal_owner *o)
{
	if (__atomic_sub_fetch(&o->refs, 1, __ATOMIC_ACQ_REL))
		return;
	if (o->inlet) {
		struct sl_portal_inlet *in = container_of(o, struct sl_portal_inlet, o);

		free(in->route);
		free(in->ic);
		free(in->o.ctr);
		free(in);
	} else {
		struct sl_portal_outlet *out = container_of(o, struct sl_portal_outlet, o);

		free(out->ws);
		free(out->o.ctr);
		free(out);
	}
}

static int owner_init(struct portal_owner *o, struct sl_portals *P, bool inlet, const char *name,
		      const char *bind)
{
	o->P = P;
	o->inlet = inlet;
	o->refs = 1;	/* the registry's */
	o->ctr = sl_cache_alloc(P->nshards * sizeof(*o->ctr));
	if (!o->ctr)
		return -ENOMEM;
	memset(o->ctr, 0, P->nshards * sizeof(*o->ctr));
	snprintf(o->name, sizeof(o->name), "%s", name);
	snprintf(o->bind, sizeof(o->bind), "%s", bind);
	return 0;
}

static void owner_info(const struct portal_owner *o, unsigned nshards, struct sl_portal_info *v)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", o->name);
	snprintf(v->bind, sizeof(v->bind), "%s", o->bind);
	for (unsigned i = 0; i < nshards; i++) {
		const struct portal_ctr *c = &o->ctr[i];

		v->conns += __atomic_load_n(&c->conns, __ATOMIC_RELAXED);
		v->total += __atomic_load_n(&c->total, __ATOMIC_RELAXED);
		v->bytes_in += __atomic_load_n(&c->bytes_in, __ATOMIC_RELAXED);
		v->bytes_out += __atomic_load_n(&c->bytes_out, __ATOMIC_RELAXED);
	}
}

/* ---- outlets ---- */

static void outlet_worker_stopped(struct sl_worker *w)
{
	struct outlet_worker *ow = w->ctx;

	sl_portal_owner_put(&ow->out->o);
}

static void outlet_start_on(struct sl_shard *s, void *arg)
{
	struct sl_portal_outlet *out = arg;
	struct outlet_worker *ow = &out->ws[sl_shard_id(s)];

	if (sl_worker_start(s, &ow->w, out->o.name)) {
		sl_log(SL_LOG_WARN, "node=%s shard=%u event=outlet_start_failed address=%s",
		       sl_node_name(sl_shard_node(s)), sl_shard_id(s), out->o.name);
		sl_portal_owner_put(&out->o);
	}
}

static void outlet_stop_on(struct sl_shard *s, void *arg)
{
	struct sl_portal_outlet *out = arg;

	sl_worker_stop(&out->ws[sl_shard_id(s)].w);	/* drops its reference */
	sl_portal_owner_put(&out->o);				/* the call's */
}

/* Run fn on every shard's thread (queued until the shard runs, before start). */
static void each_shard(struct sl_portals *P, void (*fn)(struct sl_shard *, void *), void *arg)
{
	for (unsigned i = 0; i < P->nshards; i++)
		while (sl_shard_call(P->node, i, fn, arg) == -EAGAIN)
			sched_yield();	/* its control queue drains within a loop turn */
}

static struct sl_portal_outlet *outlet_find(struct sl_portals *P, const char *addr)
{
	for (struct sl_portal_outlet *o = P->outlets; o; o = o->next)
		if (!strcmp(o->o.name, addr))
			return o;
	return NULL;
}

int sl_portal_outlet_create(struct sl_portals *P, const char *addr, const char *target)
{
	struct sl_portal_outlet *out;
	size_t len = strlen(addr);
	int ret;

	if (!len || len > SL_ADDR_BODY_MAX || !*target || strlen(target) > SL_ADDR_BODY_MAX)
		return -EINVAL;
	pthread_mutex_lock(&P->lock);
	if (outlet_find(P, addr) || sl_name_lookup(P->node, (const uint8_t *)addr, len)) {
		ret = -EEXIST;
		goto out_unlock;
	}
	ret = -ENOMEM;
	out = calloc(1, sizeof(*out));
	if (!out)
		goto out_unlock;
	out->ws = calloc(P->nshards, sizeof(*out->ws));
	if (!out->ws || owner_init(&out->o, P, false, addr, target)) {
		free(out->ws);
		free(out);
		goto out_unlock;
	}
	for (unsigned i = 0; i < P->nshards; i++) {
		out->ws[i].w.handle = sl_portal_outlet_handle;
		out->ws[i].w.stopped = outlet_worker_stopped;
		out->ws[i].w.ctx = &out->ws[i];
		out->ws[i].out = out;
	}
	/* One reference per shard's worker, dropped when it stops. */
	__atomic_add_fetch(&out->o.refs, P->nshards, __ATOMIC_RELAXED);
	out->next = P->outlets;
	P->outlets = out;
	each_shard(P, outlet_start_on, out);
	ret = 0;
out_unlock:
	pthread_mutex_unlock(&P->lock);
	return ret;
}

int sl_portal_outlet_delete(struct sl_portals *P, const char *addr)
{
	struct sl_portal_outlet **pp, *out = NULL;

	pthread_mutex_lock(&P->lock);
	for (pp = &P->outlets; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->o.name, addr)) {
			out = *pp;
			*pp = out->next;
			break;
		}
	}
	if (!out) {
		pthread_mutex_unlock(&P->lock);
		return -ENOENT;
	}
	/* One reference per control call, so the outlet outlives them. */
	__atomic_add_fetch(&out->o.refs, P->nshards, __ATOMIC_RELAXED);
	each_shard(P, outlet_stop_on, out);
	pthread_mutex_unlock(&P->lock);
	sl_portal_owner_put(&out->o);	/* the registry's */
	return 0;
}

/* ---- inlets ---- */

static struct sl_portal_inlet *inlet_find(struct sl_portals *P, const char *alias)
{
	for (struct sl_portal_inlet *in = P->inlets; in; in = in->next)
		if (!strcmp(in->o.name, alias))
			return in;
	return NULL;
}

static void inlet_unlistened(struct sl_portal_inlet *in)
{
	sl_portal_owner_put(&in->o);
}

int sl_portal_inlet_home(const struct sl_portal_inlet *in)
{
	struct sl_addr a;

	if (in->route->nhops || !sl_route_front(&in->route->tail, &a) || a.type != SL_ADDR_LOCAL ||
	    !sl_addr_is_random(a.body, a.len))
		return -1;
	return (int)sl_random_addr_shard(in->o.P->node, a.body, a.len);
}

int sl_portal_inlet_create(struct sl_portals *P, const char *alias, const char *bind,
			   const struct sl_portal_route *route, const char *route_text, uint16_t *port)
{
	struct sl_portal_inlet *in;
	int ret;

	if (!*alias || strlen(alias) > SL_ADDR_BODY_MAX || !*bind ||
	    strlen(bind) > SL_ADDR_BODY_MAX || sl_route_empty(&route->tail) ||
	    route->nhops > SL_PORTAL_HOPS_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < route->nhops; i++)
		if (sl_route_empty(&route->hop[i].to))
			return -EINVAL;
	pthread_mutex_lock(&P->lock);
	ret = -EEXIST;
	if (inlet_find(P, alias))
		goto out_unlock;
	ret = -ENOMEM;
	in = calloc(1, sizeof(*in));
	if (!in)
		goto out_unlock;
	in->route = malloc(sizeof(*in->route));
	in->ic = route->nhops ? calloc(P->nshards, sizeof(*in->ic)) : NULL;
	if (!in->route || (route->nhops && !in->ic) || owner_init(&in->o, P, true, alias, bind)) {
		free(in->route);
		free(in->ic);
		free(in);
		goto out_unlock;
	}
	*in->route = *route;
	snprintf(in->route_text, sizeof(in->route_text), "%s", route_text ? route_text : "");
	/* The listeners' reference, dropped by unlisten's done. */
	owner_get(&in->o);
	ret = P->ops->listen(P->ctx, in, bind, &in->port, inlet_unlistened);
	if (ret) {
		in->o.refs = 1;
		sl_portal_owner_put(&in->o);
		goto out_unlock;
	}
	if (port)
		*port = in->port;
	in->next = P->inlets;
	P->inlets = in;
out_unlock:
	pthread_mutex_unlock(&P->lock);
	return ret;
}

/*
 * The inlet is deleted: its shard makes no more channels, lets its current
 * set go (closed when the connections through it end) and closes the
 * clients still waiting.
 */
static void inlet_stop_on(struct sl_shard *s, void *arg)
{
	struct sl_portal_inlet *in = arg;

	sl_portal_chans_stop(&in->ic[sl_shard_id(s)]);
	sl_portal_owner_put(&in->o);	/* the call's */
}

int sl_portal_inlet_delete(struct sl_portals *P, const char *alias)
{
	struct sl_portal_inlet **pp, *in = NULL;

	pthread_mutex_lock(&P->lock);
	for (pp = &P->inlets; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->o.name, alias)) {
			in = *pp;
			*pp = in->next;
			break;
		}
	}
	if (in && in->ic) {
		/* One reference per control call, so the inlet outlives them. */
		__atomic_add_fetch(&in->o.refs, P->nshards, __ATOMIC_RELAXED);
		each_shard(P, inlet_stop_on, in);
	}
	pthread_mutex_unlock(&P->lock);
	if (!in)
		return -ENOENT;
	P->ops->unlisten(P->ctx, in);
	sl_portal_owner_put(&in->o);	/* the registry's */
	return 0;
}

void *sl_portal_inlet_io(struct sl_portal_inlet *in)
{
	return in->io;
}

void sl_portal_inlet_set_io(struct sl_portal_inlet *in, void *io)
{
	in->io = io;
}

/* ---- snapshots ---- */

size_t sl_portal_inlet_list(struct sl_portals *P, struct sl_portal_info *v, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&P->lock);
	for (struct sl_portal_inlet *in = P->inlets; in; in = in->next, n++) {
		if (n >= max)
			continue;
		owner_info(&in->o, P->nshards, &v[n]);
		v[n].port = in->port;
		snprintf(v[n].route, sizeof(v[n].route), "%s", in->route_text);
	}
	pthread_mutex_unlock(&P->lock);
	return n;
}

size_t sl_portal_outlet_list(struct sl_portals *P, struct sl_portal_info *v, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&P->lock);
	for (struct sl_portal_outlet *o = P->outlets; o; o = o->next, n++)
		if (n < max)
			owner_info(&o->o, P->nshards, &v[n]);
	pthread_mutex_unlock(&P->lock);
	return n;
}

int sl_portal_inlet_get(struct sl_portals *P, const char *alias, struct sl_portal_info *out)
{
	struct sl_portal_inlet *in;
	int ret = -ENOENT;

	pthread_mutex_lock(&P->lock);
	in = inlet_find(P, alias);
	if (in) {
		owner_info(&in->o, P->nshards, out);
		out->port = in->port;
		snprintf(out->route, sizeof(out->route), "%s", in->route_text);
		ret = 0;
	}
	pthread_mutex_unlock(&P->lock);
	return ret;
}

int sl_portal_outlet_get(struct sl_portals *P, const char *addr, struct sl_portal_info *out)
{
	struct sl_portal_outlet *o;
	int ret = -ENOENT;

	pthread_mutex_lock(&P->lock);
	o = outlet_find(P, addr);
	if (o) {
		owner_info(&o->o, P->nshards, out);
		ret = 0;
	}
	pthread_mutex_unlock(&P->lock);
	return ret;
}
