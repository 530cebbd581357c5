// SPDX-License-Identifier: Apache-2.0
/*
 * The UDP transport (udp.h): type-2 addresses "A:P" / "[A]:P". A message
 * is encoded as the TCP frame body (wire.c, without its length prefix),
 * cut into datagrams (udp_frame.c) and sent from this shard's socket of
 * the destination's family; datagrams received are put together per peer
 * (udp_reasm.c) and the whole message goes to the router with the peer's
 * 2#A:P on its return route, so replies go back the same way. No
 * retransmission: a lost datagram loses its message.
 */
#define SL_URING_INTERNAL
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "engine/clock.h"
#include "engine/log.h"
#include "engine/router.h"
#include "engine/wire.h"
#include "transports/resolve.h"
#include "transports/udp.h"
#include "transports/udp_frame.h"
#include "transports/udp_reasm.h"

enum {
	UOP_URECV = SL_UOP(SL_UCLASS_UDP, 1),	/* slot: the socket (0 IPv4, 1 IPv6) */
	UOP_USEND = SL_UOP(SL_UCLASS_UDP, 2),	/* slot: the datagram */
};

#define BGID_UDP 2		/* provided-buffer group of UDP receives (0 the ring's, 1 portals') */
#define RX_BUFS 256		/* power of two */
#define RX_BUFSZ 2048		/* header, peer address and a datagram; larger ones are cut and dropped */
#define TX_SLOTS 2048		/* datagrams in flight per shard: about 1 MiB of messages */
/*
 * Socket buffers asked for: UDP has no flow control, so a burst that finds
 * the receiver's buffer full is lost. The default (~208 KiB) holds about one
 * 64 KiB message in 508-byte datagrams; the kernel caps this at rmem_max /
 * wmem_max unless we may force it.
 */
#define SOCK_BUF (8 << 20)

struct udp_tx {
	struct msghdr mh;
	struct iovec iov;
	struct sockaddr_storage to;
	uint8_t d[SL_UDP_DGRAM_MAX];
};

struct udp_sock {
	int fd;
	bool armed, listener;
	uint16_t rn;		/* the next message's routing number */
	struct msghdr rmh;	/* multishot recvmsg template: the peer's address, no control */
};

struct udp_shard {
	struct sl_ushard *io;
	struct sl_udps *u;
	struct udp_sock sock[2];
	struct io_uring_buf_ring *br;
	uint8_t *bufs;
	bool br_ok;
	struct sl_udp_reasm *reasm;
	struct udp_tx *tx;	/* TX_SLOTS, made at the first send */
	uint32_t *tx_free, ntx_free;
	/*
	 * The last destination resolved: a flow sends every message to one peer,
	 * and a host name would otherwise be looked up (blocking) per message.
	 */
	struct {
		uint8_t body[SL_ADDR_BODY_MAX];
		size_t len;
		struct sockaddr_storage sa;
		socklen_t sl;
	} dst;
};

static int resolve_dst(struct udp_shard *us, const struct sl_addr *a, struct sockaddr_storage *sa,
		       socklen_t *sl)
{
	int ret;

	if (!us->dst.len || a->len != us->dst.len || memcmp(a->body, us->dst.body, a->len)) {
		ret = sl_resolve(us->io, a->body, a->len, &us->dst.sa, &us->dst.sl);
		if (ret) {
			us->dst.len = 0;
			return ret;
		}
		memcpy(us->dst.body, a->body, a->len);	/* sl_resolve took len <= the maximum */
		us->dst.len = a->len;
	}
	*sa = us->dst.sa;
	*sl = us->dst.sl;
	return 0;
}

/* Per net: the listener's sockets, one per shard (the kernel spreads peers over them). */
struct sl_udps {
	unsigned ns;
	int fam;		/* the listener's: 0 IPv4, 1 IPv6 */
	int *fds;
	/*
	 * Every shard sends from the listener's one address (SO_REUSEPORT), and a
	 * receiver keeps one window of routing numbers per address: one sequence
	 * for all shards, or one shard's numbers fall behind another's window.
	 */
	uint16_t listen_rn;
};

static inline struct udp_shard *udp_shard(const struct sl_shard *s)
{
	struct sl_ushard *u = sl_shard_io(s);

	return u ? u->cls[SL_UCLASS_UDP] : NULL;
}

/* ---- receive ---- */

static void arm_recv(struct udp_shard *us, unsigned i)
{
	struct udp_sock *k = &us->sock[i];
	struct io_uring_sqe *sqe;

	if (k->fd < 0 || k->armed || !us->br_ok)
		return;
	sqe = sl_uring_sqe(us->io);
	if (!sqe)
		return;
	io_uring_prep_recvmsg_multishot(sqe, k->fd, &k->rmh, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID_UDP;
	io_uring_sqe_set_data64(sqe, UD(UOP_URECV, 0, i));
	k->armed = true;
}

/* "A:P" or "[A]:P" of a peer, the body of its 2# address. Length, 0 if unknown. */
static size_t peer_text(const struct sockaddr *sa, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN];
	int n;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		n = snprintf(out, cap, "%s:%u", host, ntohs(s4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		n = snprintf(out, cap, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		return 0;
	}
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static void deliver(struct udp_shard *us, const struct sockaddr *from, const uint8_t *body,
		    size_t len)
{
	struct sl_shard *s = us->io->shard;
	char text[64];
	size_t tl = peer_text(from, text, sizeof(text));
	struct sl_msg *m = sl_msg_alloc(len);

	if (!m || !tl) {
		NET_STAT_INC(us->io, udp_drops);
		sl_msg_free(m);
		return;
	}
	memcpy(m->data, body, len);
	m->len = (uint32_t)len;
	if (sl_wire_decode(m)) {
		NET_STAT_INC(us->io, proto_errors);
		sl_msg_free(m);
		return;
	}
	NET_STAT_INC(us->io, rx_frames);
	NET_STAT_ADD(us->io, rx_bytes, len);
	/* As over TCP: a long route makes every hop of it work for one sender. */
	if (m->onward.n > us->io->net->cfg.max_route_hops) {
		NET_STAT_INC(us->io, limit_route_hops);
		sl_net_log_rl(us->io, "event=drop reason=limit limit=max-route-length hops=%u peer=%s",
			      m->onward.n, text);
		sl_msg_free(m);
		return;
	}
	if (sl_route_empty(&m->onward)) {
		NET_STAT_INC(us->io, heartbeats);
		sl_msg_free(m);
		return;
	}
	/* Replies go back to the peer's address, over UDP. */
	if (sl_route_push_front(&m->ret, SL_ADDR_UDP, text, tl)) {
		NET_STAT_INC(us->io, proto_errors);
		sl_msg_free(m);
		return;
	}
	/* No backpressure on UDP: a full ring to its shard (or our park at its bound) drops it. */
	if (!sl_send_try(s, m)) {
		NET_STAT_INC(us->io, udp_drops);
		sl_msg_free(m);
	}
}

static void on_datagram(struct udp_shard *us, const uint8_t *buf, int res)
{
	struct sl_udp_part p;
	struct io_uring_recvmsg_out *o;
	const uint8_t *msg;
	size_t mlen;
	struct msghdr *mh = &us->sock[0].rmh;	/* both templates have the same sizes */
	const struct sockaddr *from;
	int ret;

	o = io_uring_recvmsg_validate((void *)buf, res, mh);
	if (!o || (o->flags & MSG_TRUNC) || o->namelen > mh->msg_namelen) {
		NET_STAT_INC(us->io, udp_drops);
		return;
	}
	NET_STAT_INC(us->io, udp_rx_dgrams);
	from = io_uring_recvmsg_name(o);
	if (sl_udp_part_decode(io_uring_recvmsg_payload(o, mh),
			       io_uring_recvmsg_payload_length(o, res, mh), &p)) {
		NET_STAT_INC(us->io, proto_errors);
		return;
	}
	ret = sl_udp_reasm_add(us->reasm, from, o->namelen, &p, sl_now_ns(), &msg, &mlen);
	if (ret == SL_UDP_WHOLE)
		deliver(us, from, msg, mlen);
	else if (ret < 0)
		NET_STAT_INC(us->io, udp_drops);
}

static void on_recv(struct udp_shard *us, struct io_uring_cqe *cqe)
{
	struct udp_sock *k = &us->sock[UD_SLOT(cqe->user_data) & 1];

	if (!(cqe->flags & IORING_CQE_F_MORE))
		k->armed = false;	/* re-armed at the flush */
	if (cqe->res == -ENOBUFS)
		NET_STAT_INC(us->io, nobufs);
	else if (cqe->res < 0 && cqe->res != -ECANCELED)
		sl_net_log_rl(us->io, "event=udp_recv_error err=%s", strerror(-cqe->res));
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		uint8_t *b = us->bufs + (size_t)bid * RX_BUFSZ;

		if (cqe->res > 0)
			on_datagram(us, b, cqe->res);
		io_uring_buf_ring_add(us->br, b, RX_BUFSZ, (unsigned short)bid,
				      io_uring_buf_ring_mask(RX_BUFS), 0);
		io_uring_buf_ring_advance(us->br, 1);
	}
}

/* ---- send ---- */

static int sock_open(int family, const struct sockaddr *bind_to, socklen_t bl, bool reuse)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1, ret;

	if (fd < 0)
		return -errno;
	for (int b = SOCK_BUF, i = 0; i < 2; i++) {
		int force = i ? SO_SNDBUFFORCE : SO_RCVBUFFORCE, opt = i ? SO_SNDBUF : SO_RCVBUF;

		if (setsockopt(fd, SOL_SOCKET, force, &b, sizeof(b)))
			setsockopt(fd, SOL_SOCKET, opt, &b, sizeof(b));	/* capped: best effort */
	}
	if ((family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one))) ||
	    bind(fd, bind_to, bl)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/* This shard's socket for family fam: the listener's, or an ephemeral one made now. */
static struct udp_sock *sock_for(struct udp_shard *us, unsigned fam)
{
	struct udp_sock *k = &us->sock[fam];

	if (k->fd < 0) {
		struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
		struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
		int fd = fam ? sock_open(AF_INET6, (struct sockaddr *)&a6, sizeof(a6), false)
			     : sock_open(AF_INET, (struct sockaddr *)&a4, sizeof(a4), false);

		if (fd < 0) {
			sl_net_log_rl(us->io, "event=udp_socket_failed err=%s", strerror(-fd));
			return NULL;
		}
		k->fd = fd;
		arm_recv(us, fam);
	}
	return k;
}

static bool tx_ready(struct udp_shard *us)
{
	if (us->tx)
		return true;
	us->tx = calloc(TX_SLOTS, sizeof(*us->tx));
	us->tx_free = calloc(TX_SLOTS, sizeof(*us->tx_free));
	if (!us->tx || !us->tx_free) {
		free(us->tx);
		free(us->tx_free);
		us->tx = NULL;
		us->tx_free = NULL;
		return false;
	}
	for (uint32_t i = 0; i < TX_SLOTS; i++)
		us->tx_free[i] = TX_SLOTS - 1 - i;
	us->ntx_free = TX_SLOTS;
	return true;
}

static void udp_send(void *ctx, struct sl_shard *s, struct sl_msg *m)
{
	struct udp_shard *us = udp_shard(s);
	struct sockaddr_storage sa;
	struct udp_sock *k;
	struct sl_addr a;
	socklen_t sl = 0;
	uint8_t *frame;
	size_t flen, blen, parts;
	uint16_t rn;

	(void)ctx;
	sl_route_front(&m->onward, &a);
	if (!us || resolve_dst(us, &a, &sa, &sl)) {
		SL_STAT_INC(s, drop_unknown);
		sl_router_drop(s, m, "udp_address");
		return;
	}
	k = sock_for(us, sa.ss_family == AF_INET6);
	sl_route_pop_front(&m->onward);
	if (!k || !tx_ready(us) || sl_wire_frame(m, &frame, &flen)) {
		NET_STAT_INC(us->io, udp_drops);
		sl_router_drop(s, m, "udp_send");
		return;
	}
	/* The routing message is the TCP frame's body: past its u32 length. */
	blen = flen - 4;
	parts = sl_udp_parts(blen);
	if (parts > us->ntx_free) {
		NET_STAT_INC(us->io, udp_drops);
		sl_router_drop(s, m, "udp_sendq_full");
		return;
	}
	rn = k->listener ? __atomic_fetch_add(&us->u->listen_rn, 1, __ATOMIC_RELAXED) : k->rn++;
	for (size_t i = 0; i < parts; i++) {
		size_t off = i * SL_UDP_CHUNK_MAX, n = blen - off;
		struct sl_udp_part p = { SL_UDP_VERSION, rn, (uint32_t)off, i == parts - 1,
					 frame + 4 + off, n < SL_UDP_CHUNK_MAX ? n : SL_UDP_CHUNK_MAX };
		uint32_t id = us->tx_free[--us->ntx_free];
		struct udp_tx *tx = &us->tx[id];
		struct io_uring_sqe *sqe = sl_uring_sqe(us->io);

		if (!sqe) {
			us->tx_free[us->ntx_free++] = id;
			NET_STAT_INC(us->io, udp_drops);
			break;
		}
		memcpy(&tx->to, &sa, sl);
		tx->iov.iov_base = tx->d;
		tx->iov.iov_len = sl_udp_part_encode(&p, tx->d, sizeof(tx->d));
		tx->mh = (struct msghdr){ .msg_name = &tx->to, .msg_namelen = sl,
					  .msg_iov = &tx->iov, .msg_iovlen = 1 };
		io_uring_prep_sendmsg(sqe, k->fd, &tx->mh, 0);
		io_uring_sqe_set_data64(sqe, UD(UOP_USEND, 0, id));
		NET_STAT_INC(us->io, udp_tx_dgrams);
	}
	NET_STAT_INC(us->io, tx_frames);
	NET_STAT_ADD(us->io, tx_bytes, blen);
	sl_msg_free(m);
}

static void on_send(struct udp_shard *us, struct io_uring_cqe *cqe)
{
	uint32_t id = UD_SLOT(cqe->user_data);

	if (id < TX_SLOTS && us->tx)
		us->tx_free[us->ntx_free++] = id;
	NET_STAT_INC(us->io, sendmsg_calls);
	if (cqe->res < 0) {
		/* A peer that is not there (ECONNREFUSED from ICMP) or a full socket: lost. */
		NET_STAT_INC(us->io, udp_drops);
		sl_net_log_rl(us->io, "event=udp_send_error err=%s", strerror(-cqe->res));
	}
}

/* ---- the class ---- */

static void udp_cqe(struct sl_ushard *io, struct io_uring_cqe *cqe)
{
	struct udp_shard *us = io->cls[SL_UCLASS_UDP];

	if (UD_OP(cqe->user_data) == UOP_URECV)
		on_recv(us, cqe);
	else
		on_send(us, cqe);
}

static void udp_flush(struct sl_ushard *io)
{
	struct udp_shard *us = io->cls[SL_UCLASS_UDP];
	struct sl_udp_reasm_stats st;

	if (!us)
		return;
	arm_recv(us, 0);
	arm_recv(us, 1);
	sl_udp_reasm_stats(us->reasm, &st);
	if (st.partials) {
		unsigned n = sl_udp_reasm_expire(us->reasm, sl_now_ns());

		if (n)
			NET_STAT_ADD(io, udp_drops, n);
	}
}

static int bufring_cold(struct udp_shard *us)
{
	void *mem;
	int ret;

	if (posix_memalign(&mem, 4096, (size_t)RX_BUFS * RX_BUFSZ))
		return -ENOMEM;
	us->bufs = mem;
	ret = sl_uring_bufring_cold(&us->io->ring, RX_BUFS, BGID_UDP, &us->br);
	if (ret)
		return ret;
	for (unsigned i = 0; i < RX_BUFS; i++)
		io_uring_buf_ring_add(us->br, us->bufs + (size_t)i * RX_BUFSZ, RX_BUFSZ,
				      (unsigned short)i, io_uring_buf_ring_mask(RX_BUFS), (int)i);
	io_uring_buf_ring_advance(us->br, RX_BUFS);
	us->br_ok = true;
	return 0;
}

static void udp_shard_free(struct udp_shard *us)
{
	sl_udp_reasm_free(us->reasm);
	free(us->br);
	free(us->bufs);
	free(us->tx);
	free(us->tx_free);
	free(us);
}

static int udp_shard_start(struct sl_ushard *io, void *ctx)
{
	struct sl_udps *u = ctx;
	unsigned id = sl_shard_id(io->shard);
	struct udp_shard *us = calloc(1, sizeof(*us));
	int ret;

	if (!us)
		return -ENOMEM;
	us->io = io;
	us->u = u;
	us->reasm = sl_udp_reasm_new(NULL);
	for (unsigned i = 0; i < 2; i++) {
		struct udp_sock *k = &us->sock[i];

		k->fd = -1;
		k->rmh.msg_namelen = sizeof(struct sockaddr_in6);
		/* Routing numbers start random (PROTOCOL.md 4). */
		if (getrandom(&k->rn, sizeof(k->rn), 0) != (ssize_t)sizeof(k->rn))
			k->rn = (uint16_t)(sl_now_ns() ^ id);
	}
	ret = us->reasm ? bufring_cold(us) : -ENOMEM;
	if (ret) {
		udp_shard_free(us);
		return ret;
	}
	if (u->fds && u->fds[id] >= 0) {
		us->sock[u->fam].fd = u->fds[id];
		us->sock[u->fam].listener = true;
	}
	io->cls[SL_UCLASS_UDP] = us;
	arm_recv(us, 0);
	arm_recv(us, 1);
	return 0;
}

static void udp_shard_stop(struct sl_ushard *io)
{
	struct udp_shard *us = io->cls[SL_UCLASS_UDP];

	if (!us)
		return;
	/* Exiting the ring waits for the kernel to let go of the buffers and datagrams. */
	if (io->ring_ok) {
		io_uring_queue_exit(&io->ring);
		io->ring_ok = false;
	}
	for (unsigned i = 0; i < 2; i++)
		if (us->sock[i].fd >= 0 && !us->sock[i].listener)
			close(us->sock[i].fd);
	io->cls[SL_UCLASS_UDP] = NULL;
	udp_shard_free(us);
}

static void udps_destroy(void *ctx)
{
	struct sl_udps *u = ctx;

	if (u->fds)
		for (unsigned i = 0; i < u->ns; i++)
			if (u->fds[i] >= 0)
				close(u->fds[i]);
	free(u->fds);
	free(u);
}

int sl_net_listen_udp(struct sl_net *t, const char *hostport, uint16_t *port)
{
	struct sl_udps *u = t->cls_ctx[SL_UCLASS_UDP];
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	uint16_t bound = 0;
	int ret;

	if (!u || u->fds)
		return -EALREADY;
	ret = sl_resolve_listen_cold(t->node, hostport, &ss, &sl);
	if (ret)
		return ret;
	u->fds = malloc(u->ns * sizeof(*u->fds));
	if (!u->fds)
		return -ENOMEM;
	for (unsigned i = 0; i < u->ns; i++)
		u->fds[i] = -1;
	u->fam = ss.ss_family == AF_INET6;
	for (unsigned i = 0; i < u->ns; i++) {
		int fd = sock_open(ss.ss_family, (struct sockaddr *)&ss, sl, true);

		if (fd < 0) {
			ret = fd;
			goto fail;
		}
		u->fds[i] = fd;
		if (!i) {
			/* The others join the port the first one got. */
			struct sockaddr_storage got;
			socklen_t gl = sizeof(got);

			if (getsockname(fd, (struct sockaddr *)&got, &gl)) {
				ret = -errno;
				goto fail;
			}
			bound = ntohs(((struct sockaddr_in *)&got)->sin_port);
			((struct sockaddr_in *)&ss)->sin_port = htons(bound);	/* same offset in v6 */
		}
	}
	if (port)
		*port = bound;
	sl_log(SL_LOG_INFO, "node=%s event=listening transport=udp addr=%s port=%u shards=%u",
	       sl_node_name(t->node), hostport, bound, u->ns);
	return 0;
fail:
	for (unsigned i = 0; i < u->ns; i++)
		if (u->fds[i] >= 0)
			close(u->fds[i]);
	free(u->fds);
	u->fds = NULL;
	return ret;
}

static const struct sl_uop_class udp_class = {
	.name = "udp",
	.shard_start = udp_shard_start,
	.cqe = udp_cqe,
	.flush = udp_flush,
	.shard_stop = udp_shard_stop,
	.net_destroy = udps_destroy,
};

static const struct sl_transport_ops udp_ops = {
	.type = SL_ADDR_UDP,
	.name = "udp",
	.send = udp_send,
};

int sl_udp_register_cold(struct sl_net *t)
{
	struct sl_udps *u = calloc(1, sizeof(*u));
	int ret;

	if (!u)
		return -ENOMEM;
	u->ns = sl_node_shards(t->node);
	/* Routing numbers start random (PROTOCOL.md 4). */
	if (getrandom(&u->listen_rn, sizeof(u->listen_rn), 0) != (ssize_t)sizeof(u->listen_rn))
		u->listen_rn = (uint16_t)sl_now_ns();
	ret = sl_uring_class_add_cold(t, SL_UCLASS_UDP, &udp_class, u);
	if (ret) {
		udps_destroy(u);
		return ret;
	}
	return sl_node_add_transport(t->node, &udp_ops, t);
}
