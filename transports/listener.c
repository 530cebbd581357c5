// SPDX-License-Identifier: Apache-2.0
/*
 * Listeners, for links and portal inlets alike: one SO_REUSEPORT socket
 * per shard on the same port, each with a multishot accept in its shard's
 * ring. The kernel spreads connections over the shards by 4-tuple hash, so
 * no shard hands accepted sockets to another, no herd wakes on each
 * connection, and a connection's socket and completions all live on the
 * shard that accepted it (PERF.md: keep a flow on one shard).
 */
#define SL_URING_INTERNAL
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transports/conn.h"

void sl_accept_arm(struct sl_ushard *io, struct sl_acceptor *a, unsigned op, uint32_t idx)
{
	struct io_uring_sqe *sqe = sl_uring_sqe(io);

	if (!sqe || (a->drains && __atomic_load_n(&io->net->draining, __ATOMIC_RELAXED)))
		return;
	io_uring_prep_multishot_accept(sqe, a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, UD(op, a->gen, idx));
	a->armed = true;
}

int sl_accept_done(struct sl_ushard *io, struct sl_acceptor *a, const struct io_uring_cqe *cqe,
		   const char *event)
{
	bool draining = a->drains && __atomic_load_n(&io->net->draining, __ATOMIC_RELAXED);

	if (!(cqe->flags & IORING_CQE_F_MORE))
		a->armed = false;	/* re-armed by the next flush */
	if (draining && cqe->res >= 0) {
		/*
		 * Draining: no new connection; it is closed at once. (Shutting the
		 * listening socket down instead broke established links here.)
		 */
		close(cqe->res);
		return -1;
	}
	if (cqe->res < 0) {
		if (cqe->res != -ECANCELED && !draining)
			sl_net_log_rl(io, "event=%s err=%s", event, strerror(-cqe->res));
		return -1;
	}
	return cqe->res;
}

int sl_listen_group_cold(const struct sockaddr_storage *sa, socklen_t salen, unsigned ns,
			 int home, int backlog, bool first_alone, int *fds, uint16_t *port)
{
	struct sockaddr_storage ss = *sa;
	unsigned nfd = 0;
	uint16_t bound = 0;
	int ret;

	for (unsigned i = 0; i < ns; i++)
		fds[i] = -1;
	for (unsigned i = 0; i < ns; i++) {
		int fd, one = 1;

		if (home >= 0 && i != (unsigned)home)
			continue;
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			goto err_close;
		fds[i] = fd;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		/* first_alone: the first socket binds alone, so a port someone else holds is refused. */
		if (nfd || !first_alone)
			setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
		if (nfd)
			((struct sockaddr_in *)&ss)->sin_port = htons(bound);	/* same offset in sockaddr_in6 */
		if (bind(fd, (struct sockaddr *)&ss, salen) || listen(fd, backlog))
			goto err_close;
		if (!nfd++) {
			struct sockaddr_storage got;
			socklen_t gl = sizeof(got);

			getsockname(fd, (struct sockaddr *)&got, &gl);
			bound = ntohs(((struct sockaddr_in *)&got)->sin_port);
			/* Now let the other shards' sockets join this one. */
			if (first_alone)
				setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
		}
	}
	*port = bound;
	return 0;
err_close:
	ret = -errno;
	for (unsigned i = 0; i < ns; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
	return ret;
}

void sl_net_stop_accepting(struct sl_net *t)
{
	/* The shards see it at their next accept completion or re-arm. */
	__atomic_store_n(&t->draining, true, __ATOMIC_RELAXED);
}
