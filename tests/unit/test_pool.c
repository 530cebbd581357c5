// SPDX-License-Identifier: Apache-2.0
#include <criterion/criterion.h>
#include <errno.h>

#include "engine/pool.h"
#include "engine/shard.h"
#include "tests/unit/sl_test_node.h"

TestSuite(pool, .timeout = 20);

Test(pool, classes_headroom_and_cap)
{
	struct sl_pool_config cfg = { .small_slab = 4, .small_max = 8, .big_slab = 1, .big_max = 1 };
	struct sl_pool p;
	struct sl_msg *v[9], *big, *huge;
	struct sl_pool_stats st;

	cr_assert_eq(sl_pool_init(&p, 3, NULL, &cfg), 0);
	for (int i = 0; i < 8; i++) {
		v[i] = sl_pool_alloc_local(&p, 100);
		cr_assert_not_null(v[i], "alloc %d", i);
		cr_assert_eq(v[i]->cls, 0);
		cr_assert_eq(v[i]->home, 3);
		cr_assert_eq(sl_msg_headroom(v[i]), SL_MSG_HEADROOM);
		cr_assert_geq(sl_msg_tailroom(v[i]), SL_POOL_SMALL);
		cr_assert(sl_route_empty(&v[i]->onward));
	}
	v[8] = sl_pool_alloc_local(&p, 100);
	cr_assert_null(v[8], "allocation past the cap must fail (backpressure), not grow");
	{
		/* What metrics read from other threads: all 8 carved and taken, one refusal. */
		unsigned total[SL_POOL_CLASSES], nfree[SL_POOL_CLASSES];
		uint64_t exhausted;

		sl_pool_occupancy(&p, total, nfree, &exhausted);
		cr_expect_eq(total[SL_POOL_CLS_SMALL], 8);
		cr_expect_eq(nfree[SL_POOL_CLS_SMALL], 0);
		cr_expect_eq(exhausted, 1);
		sl_pool_free_local(&p, v[7]);
		sl_pool_occupancy(&p, total, nfree, &exhausted);
		cr_expect_eq(nfree[SL_POOL_CLS_SMALL], 1);
		v[7] = sl_pool_alloc_local(&p, 100);
		cr_assert_not_null(v[7]);
	}
	/* No mid class in this configuration: the big class serves its sizes. */
	big = sl_pool_alloc_local(&p, SL_POOL_SMALL + 1);
	cr_assert_not_null(big);
	cr_assert_eq(big->cls, SL_POOL_CLS_BIG);
	cr_assert_geq(sl_msg_tailroom(big), SL_POOL_BIG);
	cr_assert_null(sl_pool_alloc_local(&p, 5000), "big class cap");
	huge = sl_pool_alloc_local(&p, 1u << 20);
	cr_assert_not_null(huge);
	cr_assert(huge->flags & SL_MSG_LARGE);
	cr_assert_null(huge->pool);
	sl_msg_free(huge);
	sl_pool_free_local(&p, big);
	for (int i = 0; i < 8; i++)
		sl_pool_free_local(&p, v[i]);
	sl_pool_stats(&p, &st);
	cr_assert_eq(st.small_free, 8);
	cr_assert_eq(st.small_total, 8);
	cr_assert_eq(st.big_free, 1);
	cr_assert_eq(st.exhausted, 2);
	cr_assert_eq(st.large, 1);
	sl_pool_destroy(&p);
}

Test(pool, mid_class_and_room)
{
	struct sl_pool_config cfg = { .small_slab = 1, .small_max = 1, .mid_slab = 1, .mid_max = 2,
				      .big_slab = 1, .big_max = 1 };
	struct sl_msg *a, *b, *big;
	struct sl_pool_stats st;
	struct sl_pool p;
	uint64_t frees;

	cr_assert_eq(sl_pool_init(&p, 0, NULL, &cfg), 0);
	cr_assert(sl_pool_room_local(&p, 6000));
	a = sl_pool_alloc_local(&p, 6000);
	b = sl_pool_alloc_local(&p, SL_POOL_MID);
	cr_assert_not_null(a);
	cr_assert_not_null(b);
	cr_assert_eq(a->cls, SL_POOL_CLS_MID, "a 6 KB frame must not take a 64 KiB buffer");
	cr_assert_geq(sl_msg_tailroom(a), SL_POOL_MID);
	cr_assert_not(sl_pool_room_local(&p, 6000), "mid class at its cap");
	cr_assert_null(sl_pool_alloc_local(&p, 6000));
	cr_assert(sl_pool_room_local(&p, SL_POOL_MID + 1), "the big class is separate");
	big = sl_pool_alloc_local(&p, SL_POOL_MID + 1);
	cr_assert_not_null(big);
	cr_assert_eq(big->cls, SL_POOL_CLS_BIG);
	cr_assert(sl_pool_room_local(&p, 1u << 20), "giant frames come from the heap");
	frees = sl_pool_frees_local(&p);
	sl_pool_free_local(&p, a);
	cr_assert_eq(sl_pool_frees_local(&p), frees + 1);
	cr_assert(sl_pool_room_local(&p, 6000), "room again once one came back");
	sl_pool_free_local(&p, b);
	sl_pool_free_local(&p, big);
	sl_pool_stats(&p, &st);
	cr_assert_eq(st.mid_total, 2);
	cr_assert_eq(st.mid_free, 2);
	cr_assert_eq(st.exhausted, 1);
	sl_pool_destroy(&p);
}

Test(pool, payload_and_reserve)
{
	struct sl_msg *m = sl_msg_alloc(16);	/* not a shard: heap */
	uint8_t big[5000];

	cr_assert_not_null(m);
	cr_assert_eq(sl_msg_set_payload(m, "abc", 3), 0);
	cr_assert_eq(m->len, 3);
	sl_route_push_back(&m->onward, SL_ADDR_LOCAL, "x", 1);
	memset(big, 'z', sizeof(big));
	cr_assert_eq(sl_msg_reserve(&m, sizeof(big)), 0);
	cr_assert_eq(m->len, 3);
	cr_assert_eq(memcmp(m->data, "abc", 3), 0);
	cr_assert_eq(m->onward.n, 1, "routes survive a move");
	cr_assert_eq(sl_msg_set_payload(m, big, sizeof(big)), 0);
	sl_msg_free(m);
}

static struct sl_msg *shared;
static struct sl_pool_stats seen;

static void alloc_on_0(struct sl_shard *s, void *arg)
{
	shared = sl_msg_alloc(64);
}

static void free_on_1(struct sl_shard *s, void *arg)
{
	/* Not our pool: must travel home on the return ring. */
	sl_msg_free(shared);
}

static void stats_on_0(struct sl_shard *s, void *arg)
{
	sl_pool_stats(sl_shard_pool(s), &seen);
}

Test(pool, cross_shard_free_goes_home)
{
	struct sl_node_config cfg = { .shards = 2, .no_pin = true };
	struct sl_node *n = sl_node_create(&cfg);
	struct sl_pool_stats before;

	cr_assert_not_null(n);
	cr_assert_eq(sl_node_start(n), 0);
	cr_assert_eq(call_on_shard(n, 0, stats_on_0, NULL), 0);
	before = seen;
	cr_assert_eq(call_on_shard(n, 0, alloc_on_0, NULL), 0);
	cr_assert_not_null(shared);
	cr_assert_eq(shared->home, 0);
	cr_assert_eq(call_on_shard(n, 1, free_on_1, NULL), 0);
	for (int i = 0; i < 200; i++) {
		cr_assert_eq(call_on_shard(n, 0, stats_on_0, NULL), 0);
		if (seen.frees_remote == before.frees_remote + 1)
			break;
		sleep_ms(5);
	}
	cr_assert_eq(seen.frees_remote, before.frees_remote + 1, "the message did not come home");
	cr_assert_eq(seen.small_free, before.small_free, "home pool is whole again");
	sl_node_stop(n);
	sl_node_join(n);
	sl_node_destroy(n);
}

Test(pool, free_from_a_plain_thread_goes_home)
{
	struct sl_node_config cfg = { .shards = 1, .no_pin = true };
	struct sl_node *n = sl_node_create(&cfg);
	struct sl_pool_stats before;

	cr_assert_not_null(n);
	cr_assert_eq(sl_node_start(n), 0);
	call_on_shard(n, 0, stats_on_0, NULL);
	before = seen;
	call_on_shard(n, 0, alloc_on_0, NULL);
	sl_msg_free(shared);	/* the test thread is no shard: the stray list */
	call_on_shard(n, 0, stats_on_0, NULL);
	for (int i = 0; i < 200 && seen.frees_remote != before.frees_remote + 1; i++) {
		sleep_ms(5);
		call_on_shard(n, 0, stats_on_0, NULL);
	}
	cr_assert_eq(seen.frees_remote, before.frees_remote + 1);
	sl_node_stop(n);
	sl_node_join(n);
	sl_node_destroy(n);
}

/* A source of new messages (the load harness's sender) stops with a share left for readers. */
Test(pool, room_keeping_a_share)
{
	struct sl_pool_config cfg = { .small_slab = 4, .small_max = 8, .mid_slab = 1, .mid_max = 1,
				      .big_slab = 1, .big_max = 1 };
	struct sl_msg *m[8];
	struct sl_pool p;
	unsigned i;

	cr_assert_eq(sl_pool_init(&p, 0, NULL, &cfg), 0);
	for (i = 0; i < 6; i++) {
		cr_assert(sl_pool_room_keeping_local(&p, 64, 4), "%u spare of 8", 8 - i);
		m[i] = sl_pool_alloc_local(&p, 64);
		cr_assert_not_null(m[i]);
	}
	cr_assert_not(sl_pool_room_keeping_local(&p, 64, 4), "2 spare is the readers' quarter");
	cr_assert(sl_pool_room_local(&p, 64), "readers still get them");
	m[6] = sl_pool_alloc_local(&p, 64);
	m[7] = sl_pool_alloc_local(&p, 64);
	cr_assert_not_null(m[7]);
	cr_assert(sl_pool_room_keeping_local(&p, 1u << 20, 4), "giant frames come from the heap");
	sl_pool_free_local(&p, m[7]);
	sl_pool_free_local(&p, m[6]);
	cr_assert_not(sl_pool_room_keeping_local(&p, 64, 4));
	sl_pool_free_local(&p, m[5]);
	cr_assert(sl_pool_room_keeping_local(&p, 64, 4), "3 spare: sends go on");
	for (i = 0; i < 5; i++)
		sl_pool_free_local(&p, m[i]);
	sl_pool_destroy(&p);
}
