// SPDX-License-Identifier: Apache-2.0
/*
 * What counts as one source for max-connections-per-source, and the counts
 * themselves on real accepted sockets.
 */
#define SL_URING_INTERNAL	/* conn_limit.c is transports' own */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transports/uring.h"

/* An IPv4 or (with a ':') IPv6 address. */
static struct sockaddr_storage ip(const char *text)
{
	struct sockaddr_storage ss = { 0 };
	bool six = strchr(text, ':') != NULL;
	void *dst = six ? (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr
			: (void *)&((struct sockaddr_in *)&ss)->sin_addr;

	ss.ss_family = six ? AF_INET6 : AF_INET;
	cr_assert_eq(inet_pton(ss.ss_family, text, dst), 1);
	return ss;
}

/* Whether a and b count as the same source. */
static bool same(struct sockaddr_storage a, struct sockaddr_storage b)
{
	uint8_t x[9], y[9];
	size_t nx = sl_conn_limit_source(&a, x), ny = sl_conn_limit_source(&b, y);

	cr_assert_gt(nx, 0);
	return nx == ny && !memcmp(x, y, nx);
}

Test(conn_limit, ipv4_counts_per_address)
{
	cr_assert(same(ip("192.0.2.1"), ip("192.0.2.1")));
	cr_assert_not(same(ip("192.0.2.1"), ip("192.0.2.2")));
}

Test(conn_limit, ipv6_counts_per_64)
{
	/* One host's privacy addresses share a /64: one source. */
	cr_assert(same(ip("2001:db8:1:2::1"), ip("2001:db8:1:2:ffff:1234:5678:9abc")));
	cr_assert_not(same(ip("2001:db8:1:2::1"), ip("2001:db8:1:3::1")));
}

Test(conn_limit, ipv4_mapped_is_the_ipv4_address)
{
	cr_assert(same(ip("::ffff:192.0.2.7"), ip("192.0.2.7")));
	cr_assert_not(same(ip("::ffff:192.0.2.7"), ip("192.0.2.8")));
	/* and not the /64 it would otherwise be (::ffff:0:0/96 is all one /64) */
	cr_assert_not(same(ip("::ffff:192.0.2.7"), ip("::ffff:192.0.2.8")));
}

Test(conn_limit, other_families_name_no_source)
{
	struct sockaddr_storage ss = { .ss_family = AF_UNIX };
	uint8_t out[9];

	cr_assert_eq(sl_conn_limit_source(&ss, out), 0);
}

/* An accepted TCP socket from 127.0.0.1 (*dial keeps the other end open). */
static int accepted(int l, int *dial)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int fd;

	cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &al), 0);
	*dial = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(*dial, (struct sockaddr *)&a, al), 0);
	fd = accept(l, NULL, NULL);
	cr_assert_geq(fd, 0);
	return fd;
}

Test(conn_limit, per_source_and_total_counts)
{
	struct sl_net t = { 0 };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int l = socket(AF_INET, SOCK_STREAM, 0), d[3], fd[3];
	int32_t b[3];

	cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(l, 8), 0);
	t.tcp_in_src = calloc(SL_SRC_BUCKETS, sizeof(*t.tcp_in_src));
	cr_assert_not_null(t.tcp_in_src);
	sl_conn_limit_init(&t);
	t.cfg.max_tcp_in = 2;
	t.cfg.max_tcp_in_per_source = 1;
	for (int i = 0; i < 3; i++)
		fd[i] = accepted(l, &d[i]);

	cr_assert_eq(sl_conn_limit_admit(&t, fd[0], &b[0]), 0);
	cr_assert_geq(b[0], 0);
	/* the same source again: refused by its count, and nothing kept */
	cr_assert_eq(sl_conn_limit_admit(&t, fd[1], &b[1]), 2);
	cr_assert_eq(b[1], -1);
	cr_assert_eq(t.tcp_in, 1);
	t.cfg.max_tcp_in_per_source = 8;
	cr_assert_eq(sl_conn_limit_admit(&t, fd[1], &b[1]), 0);
	/* the total is full */
	cr_assert_eq(sl_conn_limit_admit(&t, fd[2], &b[2]), 1);
	cr_assert_eq(t.tcp_in_src[b[0]], 2);
	sl_conn_limit_release(&t, b[0]);
	sl_conn_limit_release(&t, b[1]);
	cr_assert_eq(t.tcp_in, 0);
	cr_assert_eq(t.tcp_in_src[b[0]], 0);
	for (int i = 0; i < 3; i++) {
		close(fd[i]);
		close(d[i]);
	}
	close(l);
	free(t.tcp_in_src);
}
