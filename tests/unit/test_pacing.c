// SPDX-License-Identifier: Apache-2.0
/*
 * Loopback sockets leave BBR; others keep what they have.
 */
#define SL_URING_INTERNAL	/* the helper is transports' own */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transports/uring.h"

/* A connected pair on family's address addr; fds[0] dials, fds[1] was accepted. */
static void tcp_pair(int family, const void *addr, int fds[2])
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	int l = socket(family, SOCK_STREAM, 0);

	cr_assert_geq(l, 0);
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		memcpy(&a->sin_addr, addr, sizeof(a->sin_addr));
		sl = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		memcpy(&a->sin6_addr, addr, sizeof(a->sin6_addr));
		sl = sizeof(*a);
	}
	cr_assert_eq(bind(l, (struct sockaddr *)&ss, sl), 0, "bind: %s", strerror(errno));
	cr_assert_eq(listen(l, 1), 0);
	cr_assert_eq(getsockname(l, (struct sockaddr *)&ss, &sl), 0);
	fds[0] = socket(family, SOCK_STREAM, 0);
	cr_assert_geq(fds[0], 0);
	cr_assert_eq(connect(fds[0], (struct sockaddr *)&ss, sl), 0, "connect: %s", strerror(errno));
	fds[1] = accept(l, NULL, NULL);
	cr_assert_geq(fds[1], 0);
	close(l);
}

static void cc_set(int fd, const char *cc)
{
	if (setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, (socklen_t)strlen(cc)))
		cr_skip_test("this kernel cannot put a socket on %s: %s", cc, strerror(errno));
}

static const char *cc_get(int fd)
{
	static char cc[16];
	socklen_t n = sizeof(cc) - 1;

	memset(cc, 0, sizeof(cc));
	cr_assert_eq(getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, &n), 0);
	return cc;
}

static void check_loopback(int family, const void *addr)
{
	int fds[2];

	tcp_pair(family, addr, fds);
	for (int i = 0; i < 2; i++) {
		cc_set(fds[i], "bbr");
		cr_assert(sl_sock_unpace_loopback(fds[i]));
		cr_assert(strcmp(cc_get(fds[i]), "cubic") == 0 || strcmp(cc_get(fds[i]), "reno") == 0,
			  "still on %s", cc_get(fds[i]));
		/* The connection still carries bytes both ways. */
		cr_assert_eq(write(fds[i], "x", 1), 1);
		char c;
		cr_assert_eq(read(fds[!i], &c, 1), 1);
	}
	close(fds[0]);
	close(fds[1]);
}

Test(pacing, loopback_ipv4_sockets_leave_bbr)
{
	struct in_addr a = { htonl(INADDR_LOOPBACK) };

	check_loopback(AF_INET, &a);
}

Test(pacing, loopback_ipv6_sockets_leave_bbr)
{
	int probe = socket(AF_INET6, SOCK_STREAM, 0);

	if (probe < 0)
		cr_skip_test("no IPv6 here");
	close(probe);
	check_loopback(AF_INET6, &in6addr_loopback);
}

/* A pair on addr whose dialling socket, put on cc, keeps it. */
static void check_kept(const struct in_addr *addr, const char *cc)
{
	int fds[2];

	tcp_pair(AF_INET, addr, fds);
	cc_set(fds[0], cc);
	cr_assert_not(sl_sock_unpace_loopback(fds[0]));
	cr_assert_str_eq(cc_get(fds[0]), cc);
	close(fds[0]);
	close(fds[1]);
}

Test(pacing, other_algorithms_are_left_alone)
{
	struct in_addr a = { htonl(INADDR_LOOPBACK) };

	check_kept(&a, "reno");
}

Test(pacing, non_loopback_peers_keep_bbr)
{
	struct ifaddrs *ifs, *i;
	struct in_addr a = { 0 };

	cr_assert_eq(getifaddrs(&ifs), 0);
	for (i = ifs; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && !(i->ifa_flags & IFF_LOOPBACK) &&
		    (i->ifa_flags & IFF_UP)) {
			a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
			break;
		}
	freeifaddrs(ifs);
	if (!a.s_addr)
		cr_skip_test("no non-loopback IPv4 address here");
	/* Traffic to our own address stays on this host, but the peer is not loopback. */
	check_kept(&a, "bbr");
}

Test(pacing, a_socket_that_is_not_connected_is_left_alone)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	cr_assert_not(sl_sock_unpace_loopback(fd));
	close(fd);
}
