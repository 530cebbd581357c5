// SPDX-License-Identifier: Apache-2.0
/*
 * Per-node secure-channel state: the node's vaults, its listeners and the
 * registry of its channels that `secure-channel list/show/delete` read.
 * Everything here is control plane (cold): a lock is fine.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/secure_internal.h"
#include "engine/shard.h"

/* The node's feature slot holds it: no table, no lock on the handshake path. */
struct sl_secure_node *sl_secure_node_get(struct sl_node *n)
{
	return sl_node_slot(n, SL_NODE_SLOT_SECURE);
}

void sl_secure_node_hold(struct sl_secure_node *sn)
{
	__atomic_add_fetch(&sn->refs, 1, __ATOMIC_RELAXED);
}

void sl_secure_node_put(struct sl_secure_node *sn)
{
	struct sl_vault *v, *next;

	/* acq_rel: the last one sees every other holder's writes before freeing. */
	if (__atomic_sub_fetch(&sn->refs, 1, __ATOMIC_ACQ_REL))
		return;
	for (v = sn->vaults; v; v = next) {
		next = v->next;
		sl_vault_free(v);
	}
	pthread_mutex_destroy(&sn->lock);
	pthread_mutex_destroy(&sn->idcache_lock);
	free(sn->hop_count);
	free(sn);
}

int sl_secure_node_init(struct sl_node *n, struct sl_vault *v)
{
	struct sl_secure_listener_opts lo = { .vault = v };
	struct sl_secure_node *sn;
	int ret;

	if (!v)
		return -EINVAL;
	if (sl_secure_node_get(n))
		return -EEXIST;
	sn = calloc(1, sizeof(*sn));
	if (!sn)
		return -ENOMEM;
	sn->node = n;
	sn->refs = 1;
	if (sl_secure_admit_init(sn)) {
		free(sn);
		return -ENOMEM;
	}
	pthread_mutex_init(&sn->lock, NULL);
	pthread_mutex_init(&sn->idcache_lock, NULL);
	sn->vaults = v;		/* before the slot publishes sn */
	if (!sl_node_slot_swap(n, SL_NODE_SLOT_SECURE, NULL, sn)) {
		/* Another init won the race. */
		pthread_mutex_destroy(&sn->lock);
		pthread_mutex_destroy(&sn->idcache_lock);
		free(sn->hop_count);
		free(sn);
		return -EEXIST;
	}
	ret = sl_secure_listener_start(n, SL_SECURE_LISTENER, &lo);
	if (ret) {
		sn->vaults = NULL;	/* the caller keeps v on failure */
		sl_secure_node_fini(n);
	}
	return ret;
}

void sl_secure_node_fini(struct sl_node *n)
{
	struct sl_secure_node *sn = sl_secure_node_get(n);
	struct sl_listener *l, *next;
	struct sl_channel *c;

	/* Whoever empties the slot finishes: a second fini finds nothing. */
	if (!sn || !sl_node_slot_swap(n, SL_NODE_SLOT_SECURE, sn, NULL))
		return;
	pthread_mutex_lock(&sn->lock);
	l = sn->listeners;
	sn->listeners = NULL;
	/* Channels stay until their workers go (at node destroy); wipe what they no longer need. */
	for (c = sn->channels; c; c = c->rnext)
		c->closed = true;
	pthread_mutex_unlock(&sn->lock);
	for (; l; l = next) {
		next = l->next;
		sl_listener_put(l);	/* the registry's reference */
	}
	sl_secure_node_put(sn);
}

struct sl_vault *sl_secure_node_vault(struct sl_node *n)
{
	struct sl_secure_node *sn = sl_secure_node_get(n);

	return sn ? sn->vaults : NULL;
}

int sl_secure_node_add_vault(struct sl_node *n, struct sl_vault *v)
{
	struct sl_secure_node *sn = sl_secure_node_get(n);
	struct sl_vault *p;

	if (!sn)
		return -ENOENT;
	pthread_mutex_lock(&sn->lock);
	for (p = sn->vaults; p; p = p->next) {
		if (!strcmp(p->name, v->name)) {
			pthread_mutex_unlock(&sn->lock);
			return -EEXIST;
		}
	}
	/* After the default, which stays first. */
	v->next = sn->vaults->next;
	sn->vaults->next = v;
	pthread_mutex_unlock(&sn->lock);
	return 0;
}

struct sl_vault *sl_secure_node_find_vault(struct sl_node *n, const char *name)
{
	struct sl_secure_node *sn = sl_secure_node_get(n);
	struct sl_vault *v = NULL;

	if (!sn)
		return NULL;
	pthread_mutex_lock(&sn->lock);
	for (v = sn->vaults; v && strcmp(v->name, name); v = v->next)
		;
	pthread_mutex_unlock(&sn->lock);
	return v;
}

/* The registry */

static void fill_info(const struct sl_channel *c, struct sl_secure_info *o)
{
	struct sl_route r;

	memcpy(o->addr, c->enc.addr, sizeof(o->addr) - 1);
	o->addr[sizeof(o->addr) - 1] = 0;
	memcpy(o->decryptor, c->dec.addr, sizeof(o->decryptor) - 1);
	o->decryptor[sizeof(o->decryptor) - 1] = 0;
	memcpy(o->self, c->self, SL_ID_LEN);
	memcpy(o->peer, c->peer, SL_ID_LEN);
	o->initiator = c->initiator;
	o->shard = sl_random_addr_shard(c->sn->node, (const uint8_t *)c->enc.addr,
					SL_RANDOM_ADDR_LEN);
	o->created_s = c->created_s;
	o->sent = __atomic_load_n(&c->sent, __ATOMIC_RELAXED);
	o->received = __atomic_load_n(&c->received, __ATOMIC_RELAXED);
	/* c->remote is replaced (roaming) only under sn->lock, which we hold. */
	sl_channel_load_remote(c, &r);
	sl_route_format(&r, o->route, sizeof(o->route));
}

unsigned sl_secure_pending(struct sl_node *n)
{
	struct sl_secure_node *sn = sl_secure_node_get(n);
	int v = sn ? __atomic_load_n(&sn->pending, __ATOMIC_RELAXED) : 0;

	return v > 0 ? (unsigned)v : 0;
}

size_t sl_secure_list(struct sl_node *n, struct sl_secure_info *v, size_t max)
{
	struct sl_secure_node *sn = sl_secure_node_get(n);
	struct sl_channel *c;
	size_t k = 0;

	if (!sn)
		return 0;
	pthread_mutex_lock(&sn->lock);
	for (c = sn->channels; c; c = c->rnext) {
		if (!c->established || c->closed)
			continue;
		if (k < max)
			fill_info(c, &v[k]);
		k++;
	}
	pthread_mutex_unlock(&sn->lock);
	return k;
}

static struct sl_channel *find_locked(struct sl_secure_node *sn, const char *addr)
{
	struct sl_channel *c;

	for (c = sn->channels; c; c = c->rnext)
		if (c->established && !c->closed && !strcmp(c->enc.addr, addr))
			return c;
	return NULL;
}

int sl_secure_find(struct sl_node *n, const char *addr, struct sl_secure_info *out)
{
	struct sl_secure_node *sn = sl_secure_node_get(n);
	struct sl_channel *c;

	if (!sn)
		return -ENOENT;
	pthread_mutex_lock(&sn->lock);
	c = find_locked(sn, addr);
	if (c)
		fill_info(c, out);
	pthread_mutex_unlock(&sn->lock);
	return c ? 0 : -ENOENT;
}

int sl_secure_first_hop(struct sl_node *n, const char *addr, uint8_t *hop, uint8_t *len)
{
	struct sl_secure_node *sn = sl_secure_node_get(n);
	struct sl_channel *c;
	struct sl_route r;
	struct sl_addr a;
	int ret = -ENOENT;

	if (!sn)
		return -ENOENT;
	pthread_mutex_lock(&sn->lock);
	c = find_locked(sn, addr);
	if (c) {
		/* c->remote is replaced (roaming) only under sn->lock, which we hold. */
		sl_channel_load_remote(c, &r);
		if (sl_route_front(&r, &a) && a.type == SL_ADDR_LOCAL && a.len) {
			memcpy(hop, a.body, a.len);
			*len = a.len;
			ret = 0;
		}
	}
	pthread_mutex_unlock(&sn->lock);
	return ret;
}

static void close_call(struct sl_shard *s, void *arg)
{
	char *addr = arg;
	struct sl_worker *w = sl_worker_lookup_local(s, (const uint8_t *)addr, strlen(addr));
	struct sl_channel *c;

	free(addr);
	/* The channel may have gone meanwhile; an address is only reused by a new channel. */
	if (!w || w->ctx == NULL)
		return;
	c = w->ctx;
	if (&c->enc == w && c->established && !c->closed)
		sl_channel_close(c, true);
}

int sl_secure_close(struct sl_node *n, const char *addr)
{
	struct sl_secure_node *sn = sl_secure_node_get(n);
	unsigned shard;
	char *copy;
	int ret;

	if (!sn)
		return -ENOENT;
	pthread_mutex_lock(&sn->lock);
	ret = find_locked(sn, addr) ? 0 : -ENOENT;
	pthread_mutex_unlock(&sn->lock);
	if (ret)
		return ret;
	copy = strdup(addr);
	if (!copy)
		return -ENOMEM;
	shard = sl_random_addr_shard(n, (const uint8_t *)addr, strlen(addr));
	ret = sl_shard_call(n, shard, close_call, copy);
	if (ret)
		free(copy);
	return ret;
}
