// SPDX-License-Identifier: Apache-2.0
/*
 * Message pools: slabs of (descriptor + buffer) per size class, free lists
 * owned by one shard, heap for the rare giant frame. See pool.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/pool.h"
#include "engine/shard.h"

#define ALIGN_UP(x, a)	(((x) + (a) - 1) & ~((size_t)(a) - 1))

/*
 * Caps: a shard's pool may hold at most ~146 MiB (pool.h), but slabs are
 * carved only as traffic needs them. 1,000 portal connections echoing 6 KB
 * frames need ~1,000 mid messages per shard at once at full speed; a bulk
 * flow needs its credit window (2 MiB, 32 big messages) per direction. Past
 * a cap readers pause (backpressure), nothing is dropped.
 */
static const struct sl_pool_config default_cfg = {
	.small_slab = SL_POOL_SMALL_SLAB,
	.small_max = SL_POOL_SMALL_MAX,
	.mid_slab = SL_POOL_MID_SLAB,
	.mid_max = SL_POOL_MID_MAX,
	.big_slab = SL_POOL_BIG_SLAB,
	.big_max = SL_POOL_BIG_MAX,
};

static const size_t class_payload[SL_POOL_CLASSES] = { SL_POOL_SMALL, SL_POOL_MID, SL_POOL_BIG };

static void msg_reset(struct sl_msg *m)
{
	m->next = NULL;
	m->data = m->buf + SL_MSG_HEADROOM;
	m->len = 0;
	m->flags = 0;
	sl_route_init(&m->onward);
	sl_route_init(&m->ret);
}

/* Cold: carve one more slab for class c. 0 or -ENOMEM. */
static int pool_grow_cold(struct sl_pool *p, unsigned c)
{
	struct sl_pool_class *k = &p->cls[c];
	unsigned n = k->per_slab, i;
	uint8_t *slab;

	if (k->total >= k->max)
		return -ENOMEM;
	if (n > k->max - k->total)
		n = k->max - k->total;
	if (p->nslabs == p->slabcap) {
		unsigned cap = p->slabcap ? p->slabcap * 2 : 16;
		void **v = realloc(p->slabs, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->slabs = v;
		p->slabcap = cap;
	}
	slab = aligned_alloc(64, ALIGN_UP(k->stride * n, 64));
	if (!slab)
		return -ENOMEM;
	p->slabs[p->nslabs++] = slab;
	for (i = 0; i < n; i++) {
		struct sl_msg *m = (struct sl_msg *)(slab + i * k->stride);

		m->buf = (uint8_t *)m + ALIGN_UP(sizeof(*m), 64);
		m->cap = (uint32_t)k->bufsz;
		m->home = p->home;
		m->cls = (uint8_t)c;
		m->pool = p;
		m->next = k->free;
		k->free = m;
	}
	/* Single writer, read by metrics on other threads: relaxed stores (a plain mov). */
	__atomic_store_n(&k->nfree, k->nfree + n, __ATOMIC_RELAXED);
	__atomic_store_n(&k->total, k->total + n, __ATOMIC_RELAXED);
	return 0;
}

int sl_pool_init(struct sl_pool *p, uint16_t home, struct sl_shard *owner,
		 const struct sl_pool_config *cfg)
{
	int ret;

	if (!cfg)
		cfg = &default_cfg;
	memset(p, 0, sizeof(*p));
	p->home = home;
	p->shard = owner;
	p->cls[SL_POOL_CLS_SMALL].per_slab = cfg->small_slab ? cfg->small_slab : 1;
	p->cls[SL_POOL_CLS_SMALL].max = cfg->small_max;
	p->cls[SL_POOL_CLS_MID].per_slab = cfg->mid_slab ? cfg->mid_slab : 1;
	p->cls[SL_POOL_CLS_MID].max = cfg->mid_max;
	p->cls[SL_POOL_CLS_BIG].per_slab = cfg->big_slab ? cfg->big_slab : 1;
	p->cls[SL_POOL_CLS_BIG].max = cfg->big_max;
	for (unsigned c = 0; c < SL_POOL_CLASSES; c++) {
		p->cls[c].bufsz = SL_MSG_HEADROOM + class_payload[c];
		p->cls[c].stride = ALIGN_UP(sizeof(struct sl_msg), 64) + ALIGN_UP(p->cls[c].bufsz, 64);
	}
	pthread_mutex_init(&p->stray_lock, NULL);
	/* Preallocate one slab of each class so the first messages never wait on malloc. */
	for (unsigned c = 0; c < SL_POOL_CLASSES; c++) {
		if (!p->cls[c].max)
			continue;	/* a class switched off */
		ret = pool_grow_cold(p, c);
		if (ret)
			goto err_free_slabs;
	}
	return 0;
err_free_slabs:
	sl_pool_destroy(p);
	return ret;
}

void sl_pool_destroy(struct sl_pool *p)
{
	for (unsigned i = 0; i < p->nslabs; i++)
		free(p->slabs[i]);
	free(p->slabs);
	p->slabs = NULL;
	p->nslabs = p->slabcap = 0;
	pthread_mutex_destroy(&p->stray_lock);
}

struct sl_msg *sl_msg_alloc_heap(size_t len)
{
	size_t bufsz = SL_MSG_HEADROOM + len;
	size_t off = ALIGN_UP(sizeof(struct sl_msg), 64);
	struct sl_msg *m;

	if (len > SL_FRAME_MAX + (size_t)SL_MSG_HEADROOM)
		return NULL;
	m = aligned_alloc(64, ALIGN_UP(off + bufsz, 64));
	if (!m)
		return NULL;
	m->buf = (uint8_t *)m + off;
	m->cap = (uint32_t)bufsz;
	m->home = 0;
	m->cls = SL_POOL_LARGE;
	m->pool = NULL;
	msg_reset(m);
	m->flags = SL_MSG_LARGE;
	return m;
}

/* The class serving len; SL_POOL_CLASSES for a heap message. */
static inline unsigned class_of(const struct sl_pool *p, size_t len)
{
	if (len <= SL_POOL_SMALL)
		return SL_POOL_CLS_SMALL;
	if (len <= SL_POOL_MID && p->cls[SL_POOL_CLS_MID].max)
		return SL_POOL_CLS_MID;
	if (len <= SL_POOL_BIG)
		return SL_POOL_CLS_BIG;
	return SL_POOL_CLASSES;
}

bool sl_pool_room_local(const struct sl_pool *p, size_t len)
{
	unsigned c = class_of(p, len);

	/* The heap serves giant frames: never at a cap. */
	if (c == SL_POOL_CLASSES)
		return true;
	return p->cls[c].free || p->cls[c].total < p->cls[c].max;
}

bool sl_pool_room_keeping_local(const struct sl_pool *p, size_t len, unsigned share)
{
	unsigned c = class_of(p, len);
	const struct sl_pool_class *k;

	if (c == SL_POOL_CLASSES)
		return true;
	k = &p->cls[c];
	return k->nfree + (k->max - k->total) > k->max / share;
}

struct sl_msg *sl_pool_alloc_local(struct sl_pool *p, size_t len)
{
	struct sl_pool_class *k;
	struct sl_msg *m;
	unsigned c = class_of(p, len);

	if (c == SL_POOL_CLASSES) {
		/* Rare and cold by design: a giant frame pays for a malloc. */
		p->st.large++;
		return sl_msg_alloc_heap(len);
	}
	k = &p->cls[c];
	if (!k->free) {
		/* Before growing: our messages freed elsewhere may be waiting to come home. */
		if (p->shard && p->shard->node)
			sl_shard_reclaim_local(p->shard);
		else if (p->stray_pending)
			sl_pool_reclaim_local(p);
		if (!k->free && pool_grow_cold(p, c)) {
			__atomic_store_n(&p->st.exhausted, p->st.exhausted + 1, __ATOMIC_RELAXED);
			return NULL;
		}
	}
	m = k->free;
	k->free = m->next;
	__atomic_store_n(&k->nfree, k->nfree - 1, __ATOMIC_RELAXED);
	p->st.allocs++;
	msg_reset(m);
	return m;
}

void sl_pool_free_local(struct sl_pool *p, struct sl_msg *m)
{
	struct sl_pool_class *k = &p->cls[m->cls];

	m->next = k->free;
	k->free = m;
	__atomic_store_n(&k->nfree, k->nfree + 1, __ATOMIC_RELAXED);
	p->st.frees_local++;
}

void sl_pool_free_stray(struct sl_pool *p, struct sl_msg *m)
{
	pthread_mutex_lock(&p->stray_lock);
	m->next = p->stray;
	p->stray = m;
	/* The owner reads the hint without the lock; the lock orders the list itself. */
	__atomic_store_n(&p->stray_pending, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&p->stray_lock);
}

unsigned sl_pool_reclaim_local(struct sl_pool *p)
{
	struct sl_msg *m, *next;
	unsigned n = 0;

	if (!__atomic_load_n(&p->stray_pending, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&p->stray_lock);
	m = p->stray;
	p->stray = NULL;
	__atomic_store_n(&p->stray_pending, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&p->stray_lock);
	for (; m; m = next, n++) {
		next = m->next;
		sl_pool_free_local(p, m);
		p->st.frees_local--;
		p->st.frees_remote++;
	}
	return n;
}

void sl_pool_stats(const struct sl_pool *p, struct sl_pool_stats *out)
{
	*out = p->st;
	out->small_total = p->cls[SL_POOL_CLS_SMALL].total;
	out->small_free = p->cls[SL_POOL_CLS_SMALL].nfree;
	out->mid_total = p->cls[SL_POOL_CLS_MID].total;
	out->mid_free = p->cls[SL_POOL_CLS_MID].nfree;
	out->big_total = p->cls[SL_POOL_CLS_BIG].total;
	out->big_free = p->cls[SL_POOL_CLS_BIG].nfree;
}

void sl_pool_occupancy(const struct sl_pool *p, unsigned total[SL_POOL_CLASSES],
		       unsigned nfree[SL_POOL_CLASSES], uint64_t *exhausted)
{
	for (unsigned c = 0; c < SL_POOL_CLASSES; c++) {
		total[c] = __atomic_load_n(&p->cls[c].total, __ATOMIC_RELAXED);
		nfree[c] = __atomic_load_n(&p->cls[c].nfree, __ATOMIC_RELAXED);
	}
	*exhausted = __atomic_load_n(&p->st.exhausted, __ATOMIC_RELAXED);
}

struct sl_msg *sl_msg_alloc(size_t len)
{
	struct sl_shard *s = sl_shard_self();

	if (!s)
		return sl_msg_alloc_heap(len);
	return sl_pool_alloc_local(sl_shard_pool(s), len);
}

void sl_msg_free(struct sl_msg *m)
{
	struct sl_shard *s;

	if (!m)
		return;
	if (!m->pool) {
		free(m);
		return;
	}
	s = sl_shard_self();
	if (s && sl_shard_pool(s) == m->pool) {
		sl_pool_free_local(m->pool, m);
		return;
	}
	/* Foreign shard: home on the return ring; otherwise the cold stray list. */
	if (s && sl_shard_return_msg(s, m))
		return;
	sl_pool_free_stray(m->pool, m);
}

int sl_msg_set_payload(struct sl_msg *m, const void *p, size_t len)
{
	if (len > m->cap - SL_MSG_HEADROOM)
		return -E2BIG;
	m->data = m->buf + SL_MSG_HEADROOM;
	memmove(m->data, p, len);
	m->len = (uint32_t)len;
	return 0;
}

int sl_msg_reserve(struct sl_msg **mp, size_t len)
{
	struct sl_msg *m = *mp, *n;

	if (m->cap - sl_msg_headroom(m) >= len)
		return 0;
	n = sl_msg_alloc(len);
	if (!n)
		return -ENOMEM;
	memcpy(n->data, m->data, m->len);
	n->len = m->len;
	n->flags = (uint8_t)((n->flags & SL_MSG_LARGE) | (m->flags & ~SL_MSG_LARGE));
	memcpy(n->peer, m->peer, sizeof(n->peer));
	sl_route_copy(&n->onward, &m->onward);
	sl_route_copy(&n->ret, &m->ret);
	sl_msg_free(m);
	*mp = n;
	return 0;
}
