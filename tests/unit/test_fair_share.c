// SPDX-License-Identifier: Apache-2.0
/*
 * The relay node's per-identity fair share (engine/fair_share.c): the caps
 * an epoch's bytes give, and the epochs themselves on a node that is not
 * running (its shards' busy time set by hand).
 */
#include <criterion/criterion.h>

#include "engine/fair_share.h"
#include "engine/shard.h"

TestSuite(fair_share, .timeout = 10);

#define N 4
#define NOCAP SL_SHARE_NOCAP
static const uint64_t none[N] = { NOCAP, NOCAP, NOCAP, NOCAP };

Test(fair_share, two_greedy_identities_get_an_equal_share)
{
	const uint64_t bytes[N] = { 0, 7500, 2500, 0 };
	uint64_t caps[N];

	cr_assert_eq(sl_share_caps(bytes, none, N, 110, caps), 2);
	/* 110% of what the node moved, halved: the one with 3/4 must give back. */
	cr_expect_eq(caps[1], 5500 + 1);
	cr_expect_eq(caps[2], 5500 + 1);
	cr_expect_eq(caps[0], NOCAP);
	cr_expect_eq(caps[3], NOCAP);
}

Test(fair_share, one_identity_or_nothing_is_never_capped)
{
	const uint64_t one[N] = { 0, 9000, 0, 0 }, zero[N] = { 0 };
	uint64_t caps[N];

	cr_expect_eq(sl_share_caps(one, none, N, 110, caps), 0);
	cr_expect_eq(caps[1], NOCAP);
	cr_expect_eq(sl_share_caps(zero, none, N, 110, caps), 0);
}

Test(fair_share, a_trickle_is_not_capped_nor_shared_with)
{
	/* 10 of 10010 is far under an eighth of an equal share: the greedy one is alone. */
	const uint64_t bytes[N] = { 0, 10000, 10, 0 };
	const uint64_t three[N] = { 0, 10000, 10, 8000 };
	uint64_t caps[N];

	cr_expect_eq(sl_share_caps(bytes, none, N, 110, caps), 0);
	cr_expect_eq(caps[1], NOCAP);
	cr_expect_eq(caps[2], NOCAP);
	/* Beside two greedy ones it stays uncapped and out of their share. */
	cr_assert_eq(sl_share_caps(three, none, N, 100, caps), 2);
	cr_expect_eq(caps[2], NOCAP);
	cr_expect_eq(caps[1], (18010 / 100 * 100 - 10) / 2 + 1);
	cr_expect_eq(caps[3], caps[1]);
}

Test(fair_share, what_one_left_under_its_cap_goes_to_the_other)
{
	/* 2 was capped at 6000 and took 3000: it wants 3300, 1 gets the rest of 110%. */
	const uint64_t bytes[N] = { 0, 6000, 3000, 0 };
	const uint64_t prev[N] = { NOCAP, 6000, 6000, NOCAP };
	uint64_t caps[N];

	cr_assert_eq(sl_share_caps(bytes, prev, N, 110, caps), 2);
	cr_expect_eq(caps[2], 3000 / 100 * 110 + 1);
	cr_expect_eq(caps[1], 9900 - caps[2] + 1);
	/* Both at their caps: both want all, an equal share again. */
	const uint64_t full[N] = { 0, 6000, 6000, 0 };

	cr_assert_eq(sl_share_caps(full, prev, N, 110, caps), 2);
	cr_expect_eq(caps[1], 6600 + 1);
	cr_expect_eq(caps[2], 6600 + 1);
}

/* A node not started: its shards' clocks and busy time are the test's to set. */
static struct sl_node *node_at(unsigned pct)
{
	struct sl_node_config cfg = { .shards = 2, .no_pin = true };
	struct sl_node *n;

	cfg.limits.relay_fair_share = pct;
	n = sl_node_create(&cfg);
	cr_assert_not_null(n);
	return n;
}

/* One epoch of d ns on shard 0, busy for busy ns, then the next begins. */
static void epoch(struct sl_node *n, uint64_t *now, uint64_t busy)
{
	struct sl_shard *s = sl_node_shard(n, 0);

	s->busy_ns += busy;
	*now += SL_SHARE_EPOCH_NS;
	s->now_ns = *now;
	sl_share_roll(n, *now);
}

Test(fair_share, only_a_busy_node_pauses_and_only_the_one_past_its_share)
{
	struct sl_node *n = node_at(0);
	struct sl_shard *s = sl_node_shard(n, 0);
	uint64_t now = 1000000000ull;

	s->now_ns = now;
	sl_share_roll(n, now);
	/* Idle node: no cap however lopsided. */
	sl_share_add(s, 1, 3000000);
	sl_share_add(s, 2, 1000000);
	epoch(n, &now, SL_SHARE_EPOCH_NS / 10);
	sl_share_add(s, 1, 3000000);
	cr_expect_not(sl_share_over(s, 1));
	/* Busy: the next epoch caps both at 110% of half of it. */
	sl_share_add(s, 2, 1000000);
	epoch(n, &now, SL_SHARE_EPOCH_NS);
	sl_share_add(s, 1, 2000000);
	sl_share_add(s, 2, 1000000);
	cr_expect_not(sl_share_over(s, 1));
	sl_share_add(s, 1, 300000);
	cr_expect(sl_share_over(s, 1), "past 2.2 MB of 4");
	cr_expect_not(sl_share_over(s, 2));
	cr_expect_not(sl_share_over(s, 0), "slot 0 is nobody's");
	sl_node_destroy(n);
}

Test(fair_share, off_never_pauses)
{
	struct sl_node *n = node_at(SL_FAIR_SHARE_OFF);
	struct sl_shard *s = sl_node_shard(n, 0);
	uint64_t now = 1000000000ull;

	s->now_ns = now;
	sl_share_roll(n, now);
	for (int i = 0; i < 3; i++) {
		sl_share_add(s, 1, 3000000);
		sl_share_add(s, 2, 1000000);
		epoch(n, &now, SL_SHARE_EPOCH_NS);
	}
	sl_share_add(s, 1, 30000000);
	cr_expect_not(sl_share_over(s, 1));
	sl_node_destroy(n);
}
