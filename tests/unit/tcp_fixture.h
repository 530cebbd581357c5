/* SPDX-License-Identifier: Apache-2.0 */
/* What the TCP transport's test files share: an in-process node on 127.0.0.1, a raw peer. */
#ifndef SL_TCP_FIXTURE_H
#define SL_TCP_FIXTURE_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "tests/unit/sl_test_node.h"
#include "transports/uring.h"

struct tnode {
	struct sl_node *n;
	struct sl_net *net;
	struct probe probe;
	uint16_t port;
	char addr[64];		/* "1#127.0.0.1:PORT" */
};

static inline void tnode_up(struct tnode *t, unsigned shards)
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

static inline void tnode_down(struct tnode *t)
{
	sl_node_stop(t->n);
	sl_node_join(t->n);
	probe_drain(&t->probe);
	sl_worker_stop(&t->probe.w);
	sl_net_destroy(t->net);
	sl_node_destroy(t->n);
}

static inline void skip_without_uring(void)
{
	if (!sl_uring_available())
		cr_skip_test("io_uring is not available here");
}

static inline int raw_connect(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

#endif
