// SPDX-License-Identifier: Apache-2.0
/*
 * The router's park: a worker on shard 0 sends a burst to a worker on shard
 * 1 while shard 1 is busy (its ring from shard 0 fills); the burst waits in
 * shard 0's park and arrives whole and in order once shard 1 drains, and
 * only past the park's hard bound are messages dropped (and counted).
 */
#include <criterion/criterion.h>
#include <stdio.h>

#include "engine/router.h"
#include "tests/unit/sl_test_node.h"

TestSuite(park, .timeout = 30);

#define RING 8	/* holds 7; SL_PARK_MAX = 64 */

struct burst {
	struct sl_worker w;
	struct probe *reply_to;
	unsigned n;
};

/* The worker's sends: n messages "0".."n-1" to probe1 on the other shard. */
static void burst_handle(struct sl_worker *w, struct sl_msg *m)
{
	struct burst *b = w->ctx;
	struct sl_route r;
	char text[16];

	sl_msg_free(m);
	route_from(&r, "probe1", NULL);
	for (unsigned i = 0; i < b->n; i++) {
		struct sl_msg *o;

		snprintf(text, sizeof(text), "%u", i);
		o = msg_bare(b->reply_to, &r, text);
		if (o)
			sl_send(w->shard, o);
	}
}

static int hold_entered, hold_release;

/* Keeps shard 1 busy (not draining its rings) until the test lets go. */
static void hold(struct sl_shard *s, void *arg)
{
	(void)s;
	(void)arg;
	__atomic_store_n(&hold_entered, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&hold_release, __ATOMIC_ACQUIRE))
		sleep_ms(1);
}

/* Sends n from a worker on shard 0 while shard 1 is held; returns what probe1 got, in order. */
static unsigned run_burst(unsigned n, struct sl_shard_stats *st0, unsigned *parked_seen)
{
	struct sl_node_config cfg = { .name = "p", .shards = 2, .no_pin = true, .ring_size = RING };
	struct sl_shard_occupancy oc;
	struct probe p0, p1;
	struct burst b = { .n = n };
	struct sl_node *node;
	struct sl_route r;
	struct sl_msg *m;
	unsigned got = 0;

	hold_entered = hold_release = 0;
	node = sl_node_create(&cfg);
	cr_assert_not_null(node);
	cr_assert_eq(probe_start(&p0, node, 0, "probe0"), 0);
	cr_assert_eq(probe_start(&p1, node, 1, "probe1"), 0);
	b.reply_to = &p0;
	b.w.handle = burst_handle;
	b.w.ctx = &b;
	cr_assert_eq(sl_worker_start(sl_node_shard(node, 0), &b.w, "burst0"), 0);
	cr_assert_eq(sl_node_start(node), 0);

	cr_assert_eq(sl_shard_call(node, 1, hold, NULL), 0);
	while (!__atomic_load_n(&hold_entered, __ATOMIC_ACQUIRE))
		sleep_ms(1);
	route_from(&r, "burst0", NULL);
	m = msg_bare(&p0, &r, "go");
	cr_assert_not_null(m);
	cr_assert_eq(sl_node_inject(node, 0, m), 0);
	/* The burst is sent once shard 0 counts it all (routed to the ring, parked or dropped). */
	for (unsigned i = 0; i < 2000; i++) {
		sl_node_stats(node, 0, st0);
		if (st0->ring_out + st0->ring_parked + st0->drop_ring_full >= n)
			break;
		sleep_ms(1);
	}
	sl_node_occupancy(node, 0, &oc);
	*parked_seen = oc.parked;
	__atomic_store_n(&hold_release, 1, __ATOMIC_RELEASE);

	for (;;) {
		char want[16];

		m = probe_wait(&p1, got < n ? 2000 : 200);
		if (!m)
			break;
		snprintf(want, sizeof(want), "%u", got);
		cr_assert_str_eq(msg_text(m), want, "message %u arrived out of order", got);
		sl_msg_free(m);
		got++;
	}
	sl_node_stats(node, 0, st0);
	sl_node_stop(node);
	sl_node_join(node);
	probe_drain(&p0);
	probe_drain(&p1);
	sl_worker_stop(&p0.w);
	sl_worker_stop(&p1.w);
	sl_worker_stop(&b.w);
	sl_node_destroy(node);
	return got;
}

Test(park, full_ring_parks_in_order_without_drops)
{
	struct sl_shard_stats st;
	unsigned parked, got = run_burst(50, &st, &parked);

	cr_assert_eq(got, 50, "only %u of 50 arrived", got);
	cr_assert_eq(st.drop_ring_full, 0, "a message was dropped at the full ring");
	cr_assert_eq(st.ring_parked, 50 - (RING - 1), "parked %llu", (unsigned long long)st.ring_parked);
	cr_assert_eq(parked, 50 - (RING - 1), "the park held %u while the ring was full", parked);
	cr_assert_eq(st.ring_out, 50);
}

Test(park, past_the_hard_bound_drops_are_counted)
{
	struct sl_shard_stats st;
	unsigned parked, n = 200, got = run_burst(n, &st, &parked);
	unsigned kept = (RING - 1) + 8 * RING;

	cr_assert_eq(got, kept, "%u arrived, want ring + park = %u", got, kept);
	cr_assert_eq(st.drop_ring_full, n - kept);
	cr_assert_eq(st.ring_parked, 8 * RING);
}
