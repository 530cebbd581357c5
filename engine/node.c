// SPDX-License-Identifier: Apache-2.0
/*
 * The node: shards, the name table, transports per address type, and the
 * cold life cycle (create, start, stop, join, destroy).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/log.h"
#include "engine/shard.h"

static void set_default(unsigned *v, unsigned def)
{
	if (!*v)
		*v = def;
}

struct sl_node *sl_node_create(const struct sl_node_config *cfg)
{
	struct sl_node *n;
	unsigned ns = cfg ? cfg->shards : 0;
	int ret = -ENOMEM;

	if (!ns) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);

		ns = c > 0 ? (unsigned)c : 1;
	}
	if (ns > SL_MAX_SHARDS) {
		errno = EINVAL;
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	snprintf(n->name, sizeof(n->name), "%s", cfg && cfg->name ? cfg->name : "node");
	n->nshards = ns;
	n->pin = !(cfg && cfg->no_pin);
	n->spin_us = cfg ? cfg->spin_us : 0;
	n->cpu_base = cfg ? cfg->cpu_base : 0;
	n->ring_size = cfg && cfg->ring_size ? cfg->ring_size : 4096;
	n->pool_cfg = (struct sl_pool_config){
		.small_slab = SL_POOL_SMALL_SLAB,
		.small_max = cfg && cfg->pool_small_max ? cfg->pool_small_max : SL_POOL_SMALL_MAX,
		.mid_slab = SL_POOL_MID_SLAB,
		.mid_max = cfg && cfg->pool_mid_max ? cfg->pool_mid_max : SL_POOL_MID_MAX,
		.big_slab = SL_POOL_BIG_SLAB,
		.big_max = cfg && cfg->pool_big_max ? cfg->pool_big_max : SL_POOL_BIG_MAX,
	};
	if (cfg)
		n->limits = cfg->limits;
	set_default(&n->limits.max_pending_hs, 8192);
	set_default(&n->limits.max_pending_hs_conn, 256);
	set_default(&n->limits.hs_timeout_ms, 10000);
	set_default(&n->limits.max_relays_conn, 256);
	set_default(&n->limits.max_relays_identity, 256);
	set_default(&n->limits.relay_fair_share, 110);
	pthread_mutex_init(&n->names_lock, NULL);
	pthread_mutex_init(&n->start_lock, NULL);
	pthread_cond_init(&n->start_cond, NULL);
	n->names = calloc(SL_NAMES_MAX, sizeof(*n->names));
	n->shards = sl_cache_alloc(sizeof(*n->shards) * ns);
	if (!n->names || !n->shards || sl_share_init(&n->share, ns))
		goto err_destroy;
	memset(n->shards, 0, sizeof(*n->shards) * ns);
	for (unsigned i = 0; i < ns; i++) {
		ret = sl_shard_init_cold(n, &n->shards[i], i);
		if (ret)
			goto err_destroy;
	}
	return n;
err_destroy:
	sl_node_destroy(n);
	errno = -ret;
	return NULL;
}

void sl_node_destroy(struct sl_node *n)
{
	if (!n)
		return;
	if (n->shards) {
		for (unsigned i = 0; i < n->nshards; i++)
			sl_shard_destroy_cold(n, &n->shards[i]);
		/* Pools last: the rings above gave messages back to their stray lists. */
		for (unsigned i = 0; i < n->nshards; i++)
			sl_shard_destroy_pool_cold(&n->shards[i]);
	}
	free(n->shards);
	free(n->names);
	sl_share_free(&n->share);
	pthread_mutex_destroy(&n->names_lock);
	pthread_mutex_destroy(&n->start_lock);
	pthread_cond_destroy(&n->start_cond);
	free(n);
}

int sl_node_start(struct sl_node *n)
{
	sigset_t all, old;
	unsigned i;
	int ret = 0;

	/* Shards never take process signals: the runtime's main thread does. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < n->nshards; i++) {
		ret = sl_shard_spawn_cold(&n->shards[i]);
		if (ret)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_mutex_lock(&n->start_lock);
	while (n->nstarted < i)
		pthread_cond_wait(&n->start_cond, &n->start_lock);
	if (!ret)
		ret = n->start_err;
	pthread_mutex_unlock(&n->start_lock);
	if (ret) {
		sl_log(SL_LOG_ERROR, "node=%s event=start_failed err=%s", n->name, strerror(-ret));
		sl_node_stop(n);
		sl_node_join(n);
		return ret;
	}
	__atomic_store_n(&n->running, 1, __ATOMIC_RELEASE);
	return 0;
}

void sl_node_stop(struct sl_node *n)
{
	for (unsigned i = 0; i < n->nshards; i++)
		sl_shard_stop(&n->shards[i]);
}

void sl_node_join(struct sl_node *n)
{
	for (unsigned i = 0; i < n->nshards; i++)
		sl_shard_join_cold(&n->shards[i]);
	__atomic_store_n(&n->running, 0, __ATOMIC_RELEASE);
}

void sl_node_set_io(struct sl_node *n, const struct sl_io_ops *ops, void *ctx)
{
	n->io_ops = ops;
	n->io_ctx = ctx;
}

int sl_node_add_transport(struct sl_node *n, const struct sl_transport_ops *ops, void *ctx)
{
	if (!ops || ops->type >= SL_ADDR_TYPES || ops->type == SL_ADDR_LOCAL || !ops->send)
		return -EINVAL;
	if (n->tops[ops->type])
		return -EEXIST;
	n->tops[ops->type] = ops;
	n->tctx[ops->type] = ctx;
	return 0;
}

void sl_node_del_transport(struct sl_node *n, const struct sl_transport_ops *ops)
{
	if (ops && ops->type < SL_ADDR_TYPES && n->tops[ops->type] == ops) {
		n->tops[ops->type] = NULL;
		n->tctx[ops->type] = NULL;
	}
}

int sl_node_on_worker_stop(struct sl_node *n,
			   void (*fn)(void *ctx, struct sl_shard *s, const uint8_t *addr, size_t len),
			   void *ctx)
{
	if (!fn)
		return -EINVAL;
	if (n->nstop_hooks == SL_STOP_HOOKS)
		return -ENOSPC;
	n->stop_hooks[n->nstop_hooks].fn = fn;
	n->stop_hooks[n->nstop_hooks].ctx = ctx;
	n->nstop_hooks++;
	return 0;
}

struct sl_shard *sl_node_shard(struct sl_node *n, unsigned id)
{
	return id < n->nshards ? &n->shards[id] : NULL;
}

unsigned sl_node_shards(const struct sl_node *n)
{
	return n->nshards;
}

const char *sl_node_name(const struct sl_node *n)
{
	return n->name;
}

const struct sl_node_limits *sl_node_limits(const struct sl_node *n)
{
	return &n->limits;
}

void sl_node_set_limits(struct sl_node *n, const struct sl_node_limits *l)
{
	unsigned *dst[] = { &n->limits.max_pending_hs, &n->limits.max_pending_hs_conn,
			    &n->limits.hs_timeout_ms, &n->limits.max_relays_conn,
			    &n->limits.max_relays_identity, &n->limits.relay_fair_share };
	const unsigned src[] = { l->max_pending_hs, l->max_pending_hs_conn, l->hs_timeout_ms,
				 l->max_relays_conn, l->max_relays_identity, l->relay_fair_share };

	_Static_assert(sizeof(dst) / sizeof(dst[0]) * sizeof(unsigned) ==
		       sizeof(struct sl_node_limits), "every limit");
	for (size_t i = 0; i < sizeof(dst) / sizeof(dst[0]); i++)
		if (src[i])
			__atomic_store_n(dst[i], src[i], __ATOMIC_RELAXED);
}

bool sl_node_running(const struct sl_node *n)
{
	return __atomic_load_n(&n->running, __ATOMIC_ACQUIRE);
}

int sl_node_inject(struct sl_node *n, unsigned id, struct sl_msg *m)
{
	struct sl_ctl c = { .msg = m };
	int ret;

	if (id >= n->nshards) {
		sl_msg_free(m);
		return -EINVAL;
	}
	ret = sl_shard_ctl_push(&n->shards[id], &c);
	if (ret)
		sl_msg_free(m);	/* ownership was ours to give; nobody took it */
	return ret;
}

void sl_node_stats(const struct sl_node *n, unsigned id, struct sl_shard_stats *out)
{
	const struct sl_shard_stats *st = &n->shards[id].st;
	const uint64_t *src = (const uint64_t *)st;
	uint64_t *dst = (uint64_t *)out;

	for (size_t i = 0; i < sizeof(*st) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

void sl_node_stats_total(const struct sl_node *n, struct sl_shard_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < n->nshards; i++) {
		struct sl_shard_stats one;
		uint64_t *a = (uint64_t *)out;
		const uint64_t *b = (const uint64_t *)&one;

		sl_node_stats(n, i, &one);
		for (size_t k = 0; k < sizeof(one) / sizeof(uint64_t); k++)
			a[k] += b[k];
	}
}

_Static_assert(SL_POOL_CLASSES == 3, "struct sl_shard_occupancy names three pool classes");

void sl_node_occupancy(const struct sl_node *n, unsigned id, struct sl_shard_occupancy *out)
{
	const struct sl_shard *s = &n->shards[id];

	memset(out, 0, sizeof(*out));
	sl_pool_occupancy(&s->pool, out->pool_total, out->pool_free, &out->pool_exhausted);
	out->parked = __atomic_load_n(&s->nparked, __ATOMIC_RELAXED);
	for (unsigned i = 0; s->in && i < n->nshards; i++) {
		if (i == id || !s->in[i].slots)
			continue;
		out->ring_used += sl_ring_count(&s->in[i]);
		out->ring_cap += sl_ring_capacity(&s->in[i]);
	}
}

/* Name table: open addressing, insert-only slots (see shard.h). */

static struct sl_name *name_find(const struct sl_node *n, const uint8_t *name, size_t len,
				 bool want_free)
{
	uint32_t h = sl_addr_hash(name, len);

	for (unsigned i = 0; i < SL_NAMES_MAX; i++) {
		struct sl_name *e = &n->names[(h + i) & (SL_NAMES_MAX - 1)];

		/* Acquire pairs with the release in sl_name_add: the name is complete. */
		if (!__atomic_load_n(&e->used, __ATOMIC_ACQUIRE))
			return want_free ? e : NULL;
		if (e->len == len && !memcmp(e->name, name, len))
			return e;
	}
	return NULL;
}

int sl_name_add(struct sl_node *n, const char *name, size_t len, unsigned shard)
{
	struct sl_name *e;

	if (!len || len > SL_ADDR_BODY_MAX)
		return -EINVAL;
	pthread_mutex_lock(&n->names_lock);
	e = name_find(n, (const uint8_t *)name, len, true);
	if (!e) {
		pthread_mutex_unlock(&n->names_lock);
		return -ENOSPC;
	}
	if (!e->used) {
		memcpy(e->name, name, len);
		e->name[len] = 0;
		e->len = (uint8_t)len;
		e->mask = 0;
		/* Publish the slot only once its name is written. */
		__atomic_store_n(&e->used, 1, __ATOMIC_RELEASE);
	}
	__atomic_fetch_or(&e->mask, 1ull << shard, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&n->names_lock);
	return 0;
}

void sl_name_del(struct sl_node *n, const char *name, size_t len, unsigned shard)
{
	struct sl_name *e;

	pthread_mutex_lock(&n->names_lock);
	e = name_find(n, (const uint8_t *)name, len, false);
	if (e)
		__atomic_fetch_and(&e->mask, ~(1ull << shard), __ATOMIC_RELEASE);
	pthread_mutex_unlock(&n->names_lock);
}

uint64_t sl_name_lookup(const struct sl_node *n, const uint8_t *name, size_t len)
{
	struct sl_name *e = name_find(n, name, len, false);

	return e ? __atomic_load_n(&e->mask, __ATOMIC_ACQUIRE) : 0;
}
