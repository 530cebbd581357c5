// SPDX-License-Identifier: Apache-2.0
/*
 * The relay node's per-identity fair share (fair_share.h). The hot path is
 * sl_share_add (one atomic add, relaxed order) and, on a counted connection, sl_share_over
 * (two relaxed loads); the epoch's end is done once, by whichever shard
 * thread sees it first and takes the roll's try-lock (whose release orders
 * one roller's writes before the next one's reads).
 *
 * "Contended" is the node's own view: a shard busy most of the epoch. An
 * identity past its share on an idle node takes nothing from anyone, so it
 * is never paused there; on a busy node the others are waiting behind it.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "engine/fair_share.h"
#include "engine/log.h"
#include "engine/shard.h"

int sl_share_init(struct sl_share *f, unsigned nshards)
{
	memset(f, 0, sizeof(*f));
	f->busy_seen = calloc(nshards, sizeof(*f->busy_seen));
	if (!f->busy_seen)
		return -ENOMEM;
	for (unsigned i = 0; i < SL_SHARE_SLOTS; i++)
		f->cap[i] = SL_SHARE_NOCAP;
	return 0;
}

void sl_share_free(struct sl_share *f)
{
	free(f->busy_seen);
	f->busy_seen = NULL;
}

unsigned sl_share_caps(const uint64_t *bytes, const uint64_t *prev, unsigned n, unsigned pct,
		       uint64_t *caps)
{
	uint64_t total = 0, room, want[SL_SHARE_SLOTS], level = 0;
	unsigned active = 0, k = 0, capped = 0;
	bool fixed = true;

	if (n > SL_SHARE_SLOTS)
		n = SL_SHARE_SLOTS;
	for (unsigned i = 0; i < n; i++) {
		caps[i] = SL_SHARE_NOCAP;
		total += bytes[i];
		active += bytes[i] != 0;
	}
	if (active < 2)
		return 0;
	room = total / 100 * pct;
	for (unsigned i = 0; i < n; i++) {
		want[i] = 0;
		if (!bytes[i])
			continue;
		/* A trickle's rate is its own, not the node's to share: uncapped. */
		if (bytes[i] * SL_SHARE_TRICKLE * active < total) {
			room -= room < bytes[i] ? room : bytes[i];
			continue;
		}
		/* Well short of its cap it took what it wanted: room to grow, the rest is the others'. */
		if (prev[i] != SL_SHARE_NOCAP && bytes[i] < prev[i] / 4 * 3)
			want[i] = bytes[i] / 100 * pct + 1;
		else
			want[i] = SL_SHARE_NOCAP;
		k++;
	}
	if (k < 2)
		return 0;
	/* Water-filling: those who want less than the level get what they want; the others the level. */
	for (unsigned left = k; fixed && left;) {
		fixed = false;
		level = room / left;
		for (unsigned i = 0; i < n; i++) {
			if (!want[i] || want[i] == SL_SHARE_NOCAP - 1 || want[i] >= level)
				continue;
			caps[i] = want[i];
			room -= want[i];
			want[i] = SL_SHARE_NOCAP - 1;	/* done */
			left--;
			fixed = true;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		if (!want[i])
			continue;
		if (want[i] != SL_SHARE_NOCAP - 1)
			caps[i] = level + 1;
		capped++;
	}
	return capped;
}

/* The largest busy share of an epoch among the shards, in per mille. */
static unsigned busiest(struct sl_node *n, struct sl_share *f, uint64_t span)
{
	unsigned top = 0;

	for (unsigned i = 0; i < n->nshards; i++) {
		uint64_t b = __atomic_load_n(&n->shards[i].busy_ns, __ATOMIC_RELAXED);
		uint64_t d = b - f->busy_seen[i];

		f->busy_seen[i] = b;
		if (span && d * 1000 / span > top)
			top = (unsigned)(d * 1000 / span);
	}
	return top;
}

void sl_share_roll(struct sl_node *n, uint64_t now)
{
	struct sl_share *f = &n->share;
	uint64_t end = __atomic_load_n(&f->epoch_end, __ATOMIC_RELAXED);
	uint64_t bytes[SL_SHARE_SLOTS], caps[SL_SHARE_SLOTS], prev[SL_SHARE_SLOTS], span;
	unsigned pct = SL_NODE_LIMIT(n, relay_fair_share), capped = 0, busy, binding = 0;

	if (now < end || __atomic_exchange_n(&f->rolling, 1, __ATOMIC_ACQUIRE))
		return;
	/* Another thread may have rolled between our load and the lock. */
	if (now < __atomic_load_n(&f->epoch_end, __ATOMIC_RELAXED)) {
		__atomic_store_n(&f->rolling, 0, __ATOMIC_RELEASE);
		return;
	}
	__atomic_store_n(&f->epoch_end, now + SL_SHARE_EPOCH_NS, __ATOMIC_RELAXED);
	/* Ours alone while we hold the try-lock: the roller's fields need no more. */
	span = now - f->epoch_start;
	f->epoch_start = now;
	for (unsigned i = 0; i < SL_SHARE_SLOTS; i++)
		bytes[i] = __atomic_exchange_n(&f->bytes[i], 0, __ATOMIC_RELAXED);
	bytes[0] = 0;
	busy = busiest(n, f, span);
	/* Per nominal epoch: a late roll must not hand out a longer epoch's bytes. */
	for (unsigned i = 0; i < SL_SHARE_SLOTS; i++) {
		bytes[i] = bytes[i] * SL_SHARE_EPOCH_NS / (span ? span : 1);
		prev[i] = __atomic_load_n(&f->cap[i], __ATOMIC_RELAXED);
		/* Near its cap: the cap held it back. */
		binding += prev[i] != SL_SHARE_NOCAP && bytes[i] >= prev[i] / 4 * 3;
	}
	/*
	 * Contended: a shard busy, or two identities held back by their caps (a
	 * cap only grows by the slack, so held-back identities mean a node short of
	 * room; the caps of those who want less let the others grow).
	 */
	if (pct == SL_FAIR_SHARE_OFF || span > 4 * SL_SHARE_EPOCH_NS)
		f->hold = 0;	/* off, or the node had no traffic for a while */
	else if (busy >= SL_SHARE_BUSY_PERMILLE || binding >= 2)
		f->hold = SL_SHARE_HOLD_EPOCHS;
	else if (f->hold)
		f->hold--;
	if (f->hold)
		capped = sl_share_caps(bytes, prev, SL_SHARE_SLOTS, pct < 100 ? 100 : pct, caps);
	for (unsigned i = 0; i < SL_SHARE_SLOTS; i++)
		__atomic_store_n(&f->cap[i], capped ? caps[i] : SL_SHARE_NOCAP, __ATOMIC_RELAXED);
	if (capped && now / 1000000000ull >= f->log_next_s) {
		f->log_next_s = (unsigned)(now / 1000000000ull) + 1;
		sl_log(SL_LOG_INFO, "node=%s event=fair_share capped=%u busy_permille=%u "
		       "epoch_ms=%llu limit=relay-fair-share pct=%u", n->name, capped, busy,
		       SL_SHARE_EPOCH_NS / 1000000, pct);
	}
	__atomic_store_n(&f->rolling, 0, __ATOMIC_RELEASE);
}

bool sl_share_over(struct sl_shard *s, unsigned slot)
{
	struct sl_share *f = &s->node->share;

	if (s->now_ns >= __atomic_load_n(&f->epoch_end, __ATOMIC_RELAXED))
		sl_share_roll(s->node, s->now_ns);
	return __atomic_load_n(&f->bytes[slot], __ATOMIC_RELAXED) >=
	       __atomic_load_n(&f->cap[slot], __ATOMIC_RELAXED);
}

void sl_share_add(struct sl_shard *s, unsigned slot, uint32_t len)
{
	if (slot && slot < SL_SHARE_SLOTS)
		__atomic_fetch_add(&s->node->share.bytes[slot], len, __ATOMIC_RELAXED);
}

uint64_t sl_share_epoch_end(const struct sl_node *n)
{
	return __atomic_load_n(&n->share.epoch_end, __ATOMIC_RELAXED);
}
