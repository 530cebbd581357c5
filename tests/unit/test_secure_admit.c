// SPDX-License-Identifier: Apache-2.0
/*
 * Admission of responder handshakes (engine/secure_admit.c): the node's
 * total and the count per first return hop, refusals that leave nothing
 * counted, and places given back.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "engine/node.h"
#include "engine/secure_internal.h"

TestSuite(secure_admit, .timeout = 5);

static void hop(struct sl_route *r, const char *first)
{
	sl_route_init(r);
	cr_assert_eq(sl_route_push_front(r, SL_ADDR_LOCAL, "initiator", 9), 0);
	cr_assert_eq(sl_route_push_front(r, SL_ADDR_LOCAL, first, strlen(first)), 0);
}

Test(secure_admit, per_hop_then_total_then_released)
{
	struct sl_node_config cfg = {
		.shards = 2, .no_pin = true,
		.limits = { .max_pending_hs = 5, .max_pending_hs_conn = 3 },
	};
	struct sl_node *n = sl_node_create(&cfg);
	struct sl_secure_node sn = { 0 };
	struct sl_route a, b;
	int32_t got[8];

	cr_assert(n);
	sn.node = n;
	cr_assert_eq(sl_secure_admit_init(&sn), 0);
	hop(&a, "conn-a");
	hop(&b, "conn-b");
	for (int i = 0; i < 3; i++)
		cr_expect_eq(sl_secure_admit(&sn, sl_node_shard(n, 0), &a, &got[i]), 0);
	cr_expect_eq(sl_secure_admit(&sn, sl_node_shard(n, 0), &a, &got[3]), 2, "per hop");
	cr_expect_eq(got[3], -1, "a refusal holds no place");
	/* The same hop on another shard is counted there (a msg1 is answered where it came). */
	cr_expect_eq(sl_secure_admit(&sn, sl_node_shard(n, 1), &a, &got[4]), 0);
	cr_expect_eq(sl_secure_admit(&sn, sl_node_shard(n, 0), &b, &got[5]), 0, "the fifth");
	cr_expect_eq(sl_secure_admit(&sn, sl_node_shard(n, 0), &b, &got[6]), 1, "in total");
	cr_expect_eq(got[6], -1);
	cr_expect_eq(sn.pending_resp, 5);
	sl_secure_admit_release(&sn, &got[0]);
	cr_expect_eq(got[0], -1);
	sl_secure_admit_release(&sn, &got[0]);	/* twice is once */
	cr_expect_eq(sn.pending_resp, 4);
	cr_expect_eq(sl_secure_admit(&sn, sl_node_shard(n, 0), &a, &got[0]), 0, "its place is free");
	for (int i = 0; i < 7; i++)
		sl_secure_admit_release(&sn, &got[i]);
	cr_expect_eq(sn.pending_resp, 0);
	for (size_t i = 0; i < 2 * SL_SECURE_HOP_BUCKETS; i++)
		cr_expect_eq(sn.hop_count[i], 0, "bucket %zu", i);
	free(sn.hop_count);
	sl_node_destroy(n);
}

Test(secure_admit, defaults_when_unset)
{
	struct sl_node *n = sl_node_create(&(struct sl_node_config){ .shards = 1, .no_pin = true });
	const struct sl_node_limits *l;

	cr_assert(n);
	l = sl_node_limits(n);
	cr_expect_eq(l->max_pending_hs, 8192);
	cr_expect_eq(l->max_pending_hs_conn, 256);
	cr_expect_eq(l->hs_timeout_ms, 10000);
	cr_expect_eq(l->max_relays_conn, 256);
	cr_expect_eq(l->max_relays_identity, 256);
	sl_node_destroy(n);
}
