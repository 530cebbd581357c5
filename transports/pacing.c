// SPDX-License-Identifier: Apache-2.0
/*
 * Loopback sockets send unpaced.
 *
 * BBR (the system default on many machines, this one included) paces every
 * send from a high-resolution timer: each burst costs a timer interrupt and a
 * softirq on whatever CPU armed it, and the data leaves from there. That
 * protects a bottleneck queue on a real path; a loopback peer has none. On
 * the 2-core bench machine the timers fired ~16,000 times a second during one
 * portal transfer, and moving a node's loopback sockets to cubic cut the
 * tunnel's CPU per GB by ~4% (README, Portals speed). Sockets with any other
 * peer, or already on another algorithm, keep what the system chose.
 */
#define SL_URING_INTERNAL
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "transports/uring.h"

static bool is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

		return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a))
			return a->s6_addr[12] == 127;
		return IN6_IS_ADDR_LOOPBACK(a);
	}
	return false;
}

bool sl_sock_unpace_loopback(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char cc[16] = "";
	socklen_t cl = sizeof(cc) - 1;

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) || !is_loopback(&ss))
		return false;
	if (getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, &cl) || strncmp(cc, "bbr", 3))
		return false;
	/* Unprivileged users may set only what tcp_allowed_congestion_control lists: reno always. */
	if (!setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, "cubic", 5))
		return true;
	return !setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, "reno", 4);
}
