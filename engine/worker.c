// SPDX-License-Identifier: Apache-2.0
/*
 * Workers: the per-shard address table, random addresses that hash to a
 * chosen shard, and the node-wide name table for named services (written
 * here, on the control path only).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "engine/log.h"
#include "engine/shard.h"

#define WTAB_INIT 1024

/*
 * A seed per process, drawn before main: relay names are the peers' choice and go
 * into the address tables, so the buckets must not be predictable from outside.
 */
static uint64_t hash_seed = 0x9e3779b97f4a7c15ull;

__attribute__((constructor)) static void hash_seed_init(void)
{
	uint64_t s;

	if (getrandom(&s, sizeof(s), 0) == (ssize_t)sizeof(s))
		hash_seed ^= s;
}

uint32_t sl_addr_hash(const uint8_t *p, size_t len)
{
	/*
	 * Every hop hashes its next address (a 32-byte random one, mostly): eight
	 * bytes a step, where a byte at a time cost ~220 instructions a lookup.
	 * The final mix spreads all bits: tables use the low ones, shard homing
	 * the high ones. In-process only: nothing stored or sent depends on it.
	 */
	const uint64_t k = 0xff51afd7ed558ccdull;
	uint64_t h = hash_seed ^ len, w;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * k;
		h ^= h >> 32;
	}
	if (len) {
		w = 0;
		for (size_t i = 0; i < len; i++)
			w |= (uint64_t)p[i] << (8 * i);
		h = (h ^ w) * k;
	}
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return (uint32_t)h;
}

bool sl_addr_is_random(const uint8_t *p, size_t len)
{
	if (len != SL_RANDOM_ADDR_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return false;
	return true;
}

unsigned sl_random_addr_shard(const struct sl_node *n, const uint8_t *p, size_t len)
{
	/* A different mix than the table's so shard choice and bucket are independent. */
	return (sl_addr_hash(p, len) >> 16) % n->nshards;
}

bool sl_addr_hashed_shard(const struct sl_node *n, const uint8_t *p, size_t len, unsigned *shard)
{
	size_t plen = sizeof(SL_HASHED_PREFIX) - 1;

	if (len <= plen || memcmp(p, SL_HASHED_PREFIX, plen))
		return false;
	/* The same mix as random addresses: shard and table bucket stay independent. */
	*shard = (sl_addr_hash(p, len) >> 16) % n->nshards;
	return true;
}

unsigned sl_worker_hashed_shard(const struct sl_node *n, const char *addr)
{
	unsigned shard = 0;

	sl_addr_hashed_shard(n, (const uint8_t *)addr, strlen(addr), &shard);
	return shard;
}

/* On its home shard, an address found by hash needs no name table entry. */
static bool homed_by_hash(const struct sl_shard *s, const uint8_t *addr, size_t len)
{
	unsigned shard;

	if (sl_addr_is_random(addr, len))
		return sl_random_addr_shard(s->node, addr, len) == s->id;
	return sl_addr_hashed_shard(s->node, addr, len, &shard) && shard == s->id;
}

int sl_worker_table_init(struct sl_shard *s)
{
	s->wtab = calloc(WTAB_INIT, sizeof(*s->wtab));
	if (!s->wtab)
		return -ENOMEM;
	s->wmask = WTAB_INIT - 1;
	s->nworkers = 0;
	return 0;
}

void sl_worker_table_destroy(struct sl_shard *s)
{
	/* Workers still registered at node destroy are stopped now (services free themselves). */
	for (unsigned i = 0; s->wtab && i <= s->wmask; i++) {
		struct sl_worker *w, *next;

		for (w = s->wtab[i]; w; w = next) {
			next = w->hnext;
			w->shard = NULL;
			w->hnext = NULL;
			if (w->stopped)
				w->stopped(w);
		}
	}
	free(s->wtab);
	s->wtab = NULL;
}

struct sl_worker *sl_worker_lookup_local(struct sl_shard *s, const uint8_t *addr, size_t len)
{
	uint32_t h = sl_addr_hash(addr, len);
	struct sl_worker *w;

	for (w = s->wtab[h & s->wmask]; w; w = w->hnext)
		if (w->hash == h && w->addr_len == len && !memcmp(w->addr, addr, len))
			return w;
	return NULL;
}

/* Cold: double the buckets when chains get long. A failure keeps the old table. */
static void wtab_grow_cold(struct sl_shard *s)
{
	unsigned cap = (s->wmask + 1) * 2;
	struct sl_worker **t = calloc(cap, sizeof(*t));

	if (!t)
		return;
	for (unsigned i = 0; i <= s->wmask; i++) {
		struct sl_worker *w, *next;

		for (w = s->wtab[i]; w; w = next) {
			next = w->hnext;
			w->hnext = t[w->hash & (cap - 1)];
			t[w->hash & (cap - 1)] = w;
		}
	}
	free(s->wtab);
	s->wtab = t;
	s->wmask = cap - 1;
}

static int table_insert(struct sl_shard *s, struct sl_worker *w, const char *addr, size_t len)
{
	uint32_t h = sl_addr_hash((const uint8_t *)addr, len);

	if (sl_worker_lookup_local(s, (const uint8_t *)addr, len))
		return -EEXIST;
	memcpy(w->addr, addr, len);
	w->addr[len] = 0;
	w->addr_len = (uint8_t)len;
	w->hash = h;
	w->shard = s;
	w->hnext = s->wtab[h & s->wmask];
	s->wtab[h & s->wmask] = w;
	if (++s->nworkers > 2 * (s->wmask + 1))
		wtab_grow_cold(s);
	return 0;
}

int sl_worker_start(struct sl_shard *s, struct sl_worker *w, const char *addr)
{
	size_t len = addr ? strlen(addr) : 0;
	int ret;

	if (!len || len > SL_ADDR_BODY_MAX || !w->handle)
		return -EINVAL;
	ret = table_insert(s, w, addr, len);
	if (ret)
		return ret;
	/* A random-looking or hash-homed address on its own hash shard needs no name entry. */
	if (homed_by_hash(s, (const uint8_t *)addr, len))
		return 0;
	ret = sl_name_add(s->node, addr, len, s->id);
	if (ret) {
		sl_worker_stop(w);
		return ret;
	}
	return 0;
}

int sl_worker_start_random(struct sl_shard *s, struct sl_worker *w)
{
	static const char hex[] = "0123456789abcdef";
	char addr[SL_RANDOM_ADDR_LEN + 1];
	uint8_t rnd[16];

	if (!w->handle)
		return -EINVAL;
	/* Expected nshards draws: keep drawing until the address maps to s. */
	for (unsigned tries = 0; tries < 64 * SL_MAX_SHARDS; tries++) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return -EIO;
		for (unsigned i = 0; i < 16; i++) {
			addr[2 * i] = hex[rnd[i] >> 4];
			addr[2 * i + 1] = hex[rnd[i] & 15];
		}
		addr[SL_RANDOM_ADDR_LEN] = 0;
		if (sl_random_addr_shard(s->node, (uint8_t *)addr, SL_RANDOM_ADDR_LEN) != s->id)
			continue;
		if (table_insert(s, w, addr, SL_RANDOM_ADDR_LEN) == 0)
			return 0;
	}
	return -EAGAIN;
}

void sl_worker_stop(struct sl_worker *w)
{
	struct sl_shard *s = w->shard;
	struct sl_worker **pp;

	if (!s)
		return;
	for (pp = &s->wtab[w->hash & s->wmask]; *pp; pp = &(*pp)->hnext) {
		if (*pp == w) {
			*pp = w->hnext;
			s->nworkers--;
			break;
		}
	}
	if (!homed_by_hash(s, (const uint8_t *)w->addr, w->addr_len))
		sl_name_del(s->node, w->addr, w->addr_len, s->id);
	/* The address is gone from s: tell who holds routes through it (node.h). */
	for (unsigned i = 0; i < s->node->nstop_hooks; i++)
		s->node->stop_hooks[i].fn(s->node->stop_hooks[i].ctx, s, (const uint8_t *)w->addr,
					  w->addr_len);
	w->shard = NULL;
	w->hnext = NULL;
	if (w->stopped)
		w->stopped(w);
}
