// SPDX-License-Identifier: Apache-2.0
/*
 * TCP transport: two and three in-process nodes over 127.0.0.1, and raw
 * socket peers that misbehave.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/wire.h"
#include "tests/unit/sl_test_node.h"
#include "transports/uring.h"

struct tnode {
	struct sl_node *n;
	struct sl_net *net;
	struct probe probe;
	uint16_t port;
	char addr[64];		/* "1#127.0.0.1:PORT" */
};

static void tnode_up(struct tnode *t, unsigned shards)
{
	struct sl_node_config cfg = { .name = "t", .shards = shards, .no_pin = true };

	memset(t, 0, sizeof(*t));
	t->n = sl_node_create(&cfg);
	cr_assert_not_null(t->n);
	t->net = sl_net_create(t->n, NULL);
	cr_assert_not_null(t->net);
	cr_assert_eq(sl_net_listen_tcp(t->net, "127.0.0.1:0", &t->port), 0);
	cr_assert_neq(t->port, 0);
	snprintf(t->addr, sizeof(t->addr), "1#127.0.0.1:%u", t->port);
	cr_assert_eq(sl_services_start(t->n), 0);
	cr_assert_eq(probe_start(&t->probe, t->n, 0, "probe"), 0);
	cr_assert_eq(sl_node_start(t->n), 0);
}

static void tnode_down(struct tnode *t)
{
	sl_node_stop(t->n);
	sl_node_join(t->n);
	probe_drain(&t->probe);
	sl_worker_stop(&t->probe.w);
	sl_net_destroy(t->net);
	sl_node_destroy(t->n);
}

static void skip_without_uring(void)
{
	if (!sl_uring_available())
		cr_skip_test("io_uring is not available here");
}

TestSuite(tcp, .timeout = 30);

static void roundtrip(struct tnode *from, const struct sl_route *r, const char *in, const char *want)
{
	struct sl_msg *m = msg_bare(&from->probe, r, in);

	cr_assert_not_null(m);
	cr_assert_eq(sl_node_inject(from->n, 0, m), 0);
	m = probe_wait(&from->probe, 5000);
	cr_assert_not_null(m, "no reply for %s", in);
	cr_assert_str_eq(msg_text(m), want);
	sl_msg_free(m);
}

Test(tcp, uppercase_round_trip)
{
	struct tnode a, b;
	struct sl_route r;

	skip_without_uring();
	tnode_up(&a, 2);
	tnode_up(&b, 2);
	cr_assert_eq(route_from(&r, b.addr, "uppercase", NULL), 0);
	roundtrip(&a, &r, "hello", "HELLO");
	roundtrip(&a, &r, "again, same connection", "AGAIN, SAME CONNECTION");
	tnode_down(&a);
	tnode_down(&b);
}
