// SPDX-License-Identifier: Apache-2.0
/*
 * Stream connections (TCP, and Unix sockets through uds.c): their life
 * (slots, connect, accept, close), the version byte, u32be framing on the
 * way out, bounded send queues with backpressure, the connection's own
 * local address that receivers push on return routes (PROTOCOL.md 3), the
 * TCP listeners and the links' op class.
 * The send queue, waiting for room and the listeners are the connection
 * core's (conn.h); what is a link's own rides on its callbacks: the version
 * byte leads the first sendmsg, a queue past sendq_high pauses the
 * connection feeding it until it drains to half.
 *
 * Receiving (reassembly, backpressure on receive, direct receives) is
 * tcp_rx.c's.
 */
#define SL_URING_INTERNAL
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "engine/clock.h"
#include "engine/log.h"
#include "engine/router.h"
#include "engine/wire.h"
#include "transports/resolve.h"
#include "transports/stream.h"

static uint8_t version_byte = SL_WIRE_VERSION;

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

void sl_stream_flush_later(struct sl_conn *c)
{
	if (c->on_flush)
		return;
	c->on_flush = true;
	c->flush_next = c->ss->flush_head;
	c->ss->flush_head = c;
}

static const char *conn_name(const struct sl_conn *c)
{
	return c->key_len ? c->key : (c->type == SL_ADDR_UDS ? "uds-client" : "tcp-client");
}

void sl_stream_set_sockopts(int fd, uint8_t type)
{
	int one = 1, idle = 300, intvl = 75, cnt = 2;

	if (type != SL_ADDR_TCP)
		return;
	/* Nagle + delayed ACK would hold small replies for tens of ms (PERF.md). */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* Ockam's keepalive: 300 s idle, 75 s interval, 2 probes. */
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	sl_sock_unpace_loopback(fd);
}

/* ---- peers (outgoing connections by address) ---- */

static unsigned peer_bucket(uint8_t type, const uint8_t *body, size_t len)
{
	return (sl_addr_hash(body, len) ^ type) & (SL_PEER_BUCKETS - 1);
}

struct sl_conn *sl_stream_peer(struct sl_sshard *ss, uint8_t type, const uint8_t *body, size_t len)
{
	struct sl_conn *c;

	for (c = ss->peers[peer_bucket(type, body, len)]; c; c = c->pnext)
		if (c->type == type && c->key_len == len && !memcmp(c->key, body, len))
			return c;
	return NULL;
}

static void peer_remove(struct sl_conn *c)
{
	struct sl_conn **pp;

	if (!c->outgoing)
		return;
	for (pp = &c->ss->peers[peer_bucket(c->type, (uint8_t *)c->key, c->key_len)]; *pp;
	     pp = &(*pp)->pnext) {
		if (*pp == c) {
			*pp = c->pnext;
			break;
		}
	}
	c->outgoing = false;
}

/* ---- slots ---- */

static void conn_worker_handle(struct sl_worker *w, struct sl_msg *m);

static const struct sl_conn_cb conn_cb;

static struct sl_conn *conn_new(struct sl_sshard *ss, int fd, uint8_t type, uint8_t state)
{
	struct sl_conn *c;
	uint32_t slot;

	if (!ss->nfree)
		return NULL;
	/* Cold: one allocation per connection, not per message. */
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->w.handle = conn_worker_handle;
	c->w.ctx = c;
	if (sl_worker_start_random(ss->shard, &c->w)) {
		free(c);
		return NULL;
	}
	slot = ss->free_slots[--ss->nfree];
	c->ss = ss;
	sl_conn_init(&c->core, ss->io, &conn_cb, fd, UOP_SEND, UOP_POLLOUT, c->iov, SL_IOV_INLINE,
		     SL_IOV_MAX);
	c->core.zero_fails = true;	/* a link's send of nothing means the socket is gone */
	c->core.slot = slot;
	c->core.gen = ss->gens[slot];
	c->type = type;
	c->state = state;
	c->ver_tx = true;
	c->held_head = c->held_tail = SL_BUF_NONE;
	c->src_bucket = -1;
	ss->conns[slot] = c;
	if (type == SL_ADDR_TCP)
		NET_STAT_INC(ss, tcp_opened);
	return c;
}

/* Frames the connection will never send: counted as dropped for want of a connection. */
static void free_queue(struct sl_conn *c, unsigned keep)
{
	NET_STAT_ADD(c->ss, drop_noconn, sl_sendq_drop(&c->core, keep));
}

void sl_stream_finalize(struct sl_conn *c)
{
	struct sl_sshard *ss = c->ss;

	if (c->state != CONN_CLOSING || c->core.ops || c->on_flush)
		return;
	if (c->core.fd >= 0)
		close(c->core.fd);
	/* Kept until here: a direct receive may have been writing into them. */
	sl_msg_free(c->rx);
	c->rx = NULL;
	sl_msg_free(c->spec);
	c->spec = NULL;
	c->core.busy_n = 0;
	free_queue(c, 0);
	/* A new generation: completions still naming the old one are dropped. */
	ss->gens[c->core.slot] = (ss->gens[c->core.slot] + 1) & 0xffffff;
	ss->conns[c->core.slot] = NULL;
	ss->free_slots[ss->nfree++] = c->core.slot;
	sl_conn_fini(&c->core);
	free(c);
}

static void resume_waiters(struct sl_sshard *ss, struct sl_conn *sink)
{
	struct sl_conn **pp = &ss->paused_head;

	while (*pp) {
		struct sl_conn *c = *pp;

		if (c->bp_slot == sink->core.slot && c->bp_gen == sink->core.gen) {
			*pp = c->bp_next;
			c->paused = false;
			c->bp_next = NULL;
			/* The flush re-arms its receive. */
			sl_stream_flush_later(c);
		} else {
			pp = &c->bp_next;
		}
	}
}

static void unpause_self(struct sl_conn *c)
{
	struct sl_conn **pp;

	if (!c->paused)
		return;
	for (pp = &c->ss->paused_head; *pp; pp = &(*pp)->bp_next) {
		if (*pp == c) {
			*pp = c->bp_next;
			break;
		}
	}
	c->paused = false;
}

void sl_stream_close(struct sl_conn *c, const char *why)
{
	struct sl_sshard *ss = c->ss;
	struct io_uring_sqe *sqe;

	if (c->state == CONN_CLOSING)
		return;
	sl_net_log_rl(ss->io, "event=conn_closed peer=%s transport=%s reason=%s", conn_name(c),
		      c->type == SL_ADDR_UDS ? "uds" : "tcp", why);
	c->state = CONN_CLOSING;
	c->core.dead = true;
	NET_STAT_INC(ss, conns_closed);
	if (c->type == SL_ADDR_TCP)
		NET_STAT_INC(ss, tcp_closed);
	sl_conn_limit_release(ss->net, c->src_bucket);
	c->src_bucket = -1;
	/* Replies still addressed to this connection now miss and are counted as unknown. */
	sl_worker_stop(&c->w);
	peer_remove(c);
	if (ss->cur_rx == c)
		ss->cur_rx = NULL;
	sl_stream_rx_release(c);
	free_queue(c, c->core.send_busy ? c->core.busy_n : 0);
	unpause_self(c);
	resume_waiters(ss, c);
	if (c->core.ops) {
		/* Make the kernel give back every op on this fd; shutdown also ends a stalled send. */
		sqe = sl_uring_sqe(ss->io);
		if (sqe) {
			io_uring_prep_cancel_fd(sqe, c->core.fd, IORING_ASYNC_CANCEL_ALL);
			io_uring_sqe_set_data64(sqe, UD(UOP_CANCEL, 0, 0));
		}
		shutdown(c->core.fd, SHUT_RDWR);
	}
	/*
	 * Never free here: callers (a receive being parsed, a send completion)
	 * still hold c. The flush at the end of this turn finalizes it.
	 */
	sl_stream_flush_later(c);
}

/* ---- send ---- */

static void pause_reader(struct sl_sshard *ss, struct sl_conn *src, struct sl_conn *sink)
{

	if (src->paused || src->state != CONN_OPEN)
		return;
	src->paused = true;
	src->bp_slot = sink->core.slot;
	src->bp_gen = sink->core.gen;
	src->bp_next = ss->paused_head;
	ss->paused_head = src;
	NET_STAT_INC(ss, paused);
	if (src->recv_armed) {
		/* Stop the multishot receive; what it already delivered is still processed. */
		sl_uring_cancel(ss->io, UD(UOP_RECV, src->core.gen, src->core.slot));
	}
}

void sl_stream_enqueue(struct sl_sshard *ss, struct sl_conn *c, struct sl_msg *m)
{
	uint8_t *frame;
	size_t flen;

	if (c->state == CONN_CLOSING) {
		NET_STAT_INC(ss, drop_noconn);
		sl_msg_free(m);
		return;
	}
	if (sl_wire_frame(m, &frame, &flen)) {
		NET_STAT_INC(ss, proto_errors);
		sl_router_drop(ss->shard, m, "frame_encode");
		return;
	}
	if (c->core.q_bytes + flen > ss->net->cfg.sendq_max) {
		NET_STAT_INC(ss, drop_sendq);
		sl_router_drop(ss->shard, m, "send_queue_full");
		return;
	}
	/* From here on m is a frame: data/len cover prefix, header and payload. */
	m->data = frame;
	m->len = (uint32_t)flen;
	sl_sendq_push(&c->core, m);
	if (c->core.q_bytes > ss->net->cfg.sendq_high && ss->cur_rx)
		pause_reader(ss, ss->cur_rx, c);
	sl_stream_flush_later(c);
}

static void conn_send(struct sl_conn *c)
{
	if (c->state != CONN_OPEN)
		return;
	if (sl_conn_send(&c->core, c->ver_tx ? &version_byte : NULL))
		NET_STAT_INC(c->ss, sendmsg_calls);
}

/* ---- the core's callbacks: once per send completion ---- */

static void cb_flush_later(struct sl_conn_core *k)
{
	sl_stream_flush_later(container_of(k, struct sl_conn, core));
}

static void cb_sent(struct sl_conn_core *k, size_t res, unsigned frames, unsigned merged)
{
	struct sl_conn *c = container_of(k, struct sl_conn, core);
	struct sl_sshard *ss = c->ss;

	NET_STAT_ADD(ss, tx_bytes, res);
	NET_STAT_ADD(ss, tx_frames, frames + merged);
	NET_STAT_ADD(ss, tx_merged, merged);
	/* res > 0 here: when ours was still to go, it led this sendmsg and went. */
	c->ver_tx = false;
	if (k->q_bytes <= ss->net->cfg.sendq_high / 2)
		resume_waiters(ss, c);
}

static void cb_failed(struct sl_conn_core *k, int res)
{
	sl_stream_close(container_of(k, struct sl_conn, core), res ? strerror(-res) : "send_returned_0");
}

static void cb_gone(struct sl_conn_core *k, unsigned dropped)
{
	struct sl_conn *c = container_of(k, struct sl_conn, core);

	NET_STAT_ADD(c->ss, drop_noconn, dropped);
	sl_stream_finalize(c);
}

static const struct sl_conn_cb conn_cb = {
	.flush_later = cb_flush_later,
	.sent = cb_sent,
	.failed = cb_failed,
	.gone = cb_gone,
};

static void stream_flush(struct sl_ushard *io)
{
	struct sl_sshard *ss = io->cls[SL_UCLASS_STREAM];
	struct sl_conn *c;

	sl_stream_rx_resume(ss);
	sl_uring_bufs_publish(ss->io);
	sl_stream_rx_rearm_nobuf(ss);
	/* Bounded: each connection is on the list at most once; new additions wait a turn. */
	c = ss->flush_head;
	ss->flush_head = NULL;
	while (c) {
		struct sl_conn *next = c->flush_next;

		c->on_flush = false;
		c->flush_next = NULL;
		if (c->state == CONN_CLOSING) {
			sl_stream_finalize(c);
		} else if (c->state == CONN_OPEN) {
			sl_stream_arm_recv(c);
			conn_send(c);
		}
		c = next;
	}
	for (unsigned l = 0; l < SL_LISTENERS; l++)
		if (ss->lst[l].fd >= 0 && !ss->lst[l].armed)
			sl_accept_arm(ss->io, &ss->lst[l], UOP_ACCEPT, l);
	/* Readers waiting for messages: the shard's wait must not sleep long. */
	if (ss->wait_head)
		io->poll_soon |= 1u << SL_UCLASS_STREAM;
	else
		io->poll_soon &= ~(1u << SL_UCLASS_STREAM);
}

/* ---- connection worker: messages to the connection's own address ---- */

static void conn_worker_handle(struct sl_worker *w, struct sl_msg *m)
{
	struct sl_conn *c = w->ctx;

	/* Remove our own hop; the rest of the onward route travels to the peer. */
	sl_route_pop_front(&m->onward);
	sl_stream_enqueue(c->ss, c, m);
}

/* ---- accept, connect ---- */

static void on_accept(struct sl_sshard *ss, unsigned l, struct io_uring_cqe *cqe)
{
	int fd = sl_accept_done(ss->io, &ss->lst[l], cqe, "accept_failed");
	int32_t bucket = -1;
	struct sl_conn *c;
	int lim;

	if (fd < 0)
		return;
	/* A limit refuses at once, before the connection costs a slot or a byte. */
	if (ss->ltype[l] == SL_ADDR_TCP && (lim = sl_conn_limit_admit(ss->net, fd, &bucket))) {
		if (lim == 1)
			NET_STAT_INC(ss, limit_conns);
		else
			NET_STAT_INC(ss, limit_conns_per_source);
		sl_net_log_rl(ss->io, "event=accept_refused reason=limit limit=%s",
			      lim == 1 ? "max-connections" : "max-connections-per-source");
		close(fd);
		return;
	}
	sl_stream_set_sockopts(fd, ss->ltype[l]);
	c = conn_new(ss, fd, ss->ltype[l], CONN_OPEN);
	if (!c) {
		sl_conn_limit_release(ss->net, bucket);
		sl_net_log_rl(ss->io, "event=accept_refused reason=no_slot");
		close(fd);
		return;
	}
	c->src_bucket = bucket;
	c->opened_ns = c->rx_any_ns = sl_now_ns();
	NET_STAT_INC(ss, conns_accepted);
	sl_log(SL_LOG_DEBUG, "shard=%u event=conn_accepted transport=%s addr=%s",
	       sl_shard_id(ss->shard), l ? "uds" : "tcp", c->w.addr);
	/* Our version byte goes out at once; receiving starts now. */
	sl_stream_flush_later(c);
}

struct sl_conn *sl_stream_connect(struct sl_sshard *ss, uint8_t type, const uint8_t *body,
				  size_t len, const struct sockaddr *sa, socklen_t salen)
{
	struct io_uring_sqe *sqe;
	struct sl_conn *c;
	unsigned b;
	int fd;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	c = conn_new(ss, fd, type, CONN_CONNECTING);
	if (!c) {
		close(fd);
		return NULL;
	}
	memcpy(c->key, body, len);
	c->key[len] = 0;
	c->key_len = (uint8_t)len;
	memcpy(&c->sa, sa, salen);
	c->salen = salen;
	c->outgoing = true;
	b = peer_bucket(type, body, len);
	c->pnext = ss->peers[b];
	ss->peers[b] = c;
	sqe = sl_uring_sqe(ss->io);
	if (!sqe) {
		sl_stream_close(c, "no_sqe");
		return NULL;
	}
	io_uring_prep_connect(sqe, fd, (struct sockaddr *)&c->sa, c->salen);
	io_uring_sqe_set_data64(sqe, UD(UOP_CONNECT, c->core.gen, c->core.slot));
	c->core.ops++;
	return c;
}

static void on_connect(struct sl_sshard *ss, struct sl_conn *c, int res)
{
	c->core.ops--;
	if (c->state == CONN_CLOSING) {
		sl_stream_finalize(c);
		return;
	}
	if (res < 0) {
		sl_stream_close(c, strerror(-res));
		return;
	}
	sl_stream_set_sockopts(c->core.fd, c->type);
	c->state = CONN_OPEN;
	NET_STAT_INC(ss, conns_connected);
	sl_log(SL_LOG_DEBUG, "shard=%u event=conn_connected peer=%s", sl_shard_id(ss->shard), c->key);
	sl_stream_flush_later(c);
}

static void stream_cqe(struct sl_ushard *io, struct io_uring_cqe *cqe)
{
	struct sl_sshard *ss = io->cls[SL_UCLASS_STREAM];
	uint64_t ud = cqe->user_data;
	unsigned op = UD_OP(ud);
	uint32_t slot = UD_SLOT(ud);
	struct sl_conn *c;

	/* The kernel took a buffer off the ring: whoever handles the completion owns it. */
	if (cqe->flags & IORING_CQE_F_BUFFER)
		ss->io->in_ring--;
	if (op == UOP_ACCEPT) {
		if (slot < SL_LISTENERS)
			on_accept(ss, slot, cqe);
		return;
	}
	c = slot < ss->max_conns ? ss->conns[slot] : NULL;
	if (!c || c->core.gen != UD_GEN(ud)) {
		NET_STAT_INC(ss, stale_cqes);
		/* A stale receive may still carry one of our buffers: give it back. */
		if (op == UOP_RECV && (cqe->flags & IORING_CQE_F_BUFFER))
			sl_uring_buf_put(ss->io, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		return;
	}
	switch (op) {
	case UOP_RECV:
		sl_stream_on_recv(ss, c, cqe);
		break;
	case UOP_SEND:
		sl_conn_on_send(&c->core, cqe->res);
		break;
	case UOP_CONNECT:
		on_connect(ss, c, cqe->res);
		break;
	case UOP_POLLOUT:
		sl_conn_on_writable(&c->core);
		break;
	default:
		break;
	}
}

static void stream_shard_stop(struct sl_ushard *io)
{
	struct sl_sshard *ss = io->cls[SL_UCLASS_STREAM];

	if (!ss)
		return;
	sl_stream_idle_stop(ss);
	sl_timer_cancel(&ss->share_timer);
	/* Cold: the loop has ended; close everything synchronously. */
	for (unsigned i = 0; i < ss->max_conns; i++) {
		struct sl_conn *c = ss->conns[i];

		if (!c)
			continue;
		if (c->state != CONN_CLOSING)
			sl_worker_stop(&c->w);
		shutdown(c->core.fd, SHUT_RDWR);
	}
	/* Exiting the ring waits for the kernel to drop every op (and its buffers). */
	if (ss->io->ring_ok) {
		io_uring_queue_exit(&ss->io->ring);
		ss->io->ring_ok = false;
	}
	for (unsigned i = 0; i < ss->max_conns; i++) {
		struct sl_conn *c = ss->conns[i];

		if (!c)
			continue;
		close(c->core.fd);
		sl_msg_free(c->rx);
		sl_msg_free(c->spec);
		sl_msg_free(c->rx_park);	/* a frame held for ring room: nobody sends it now */
		free(c->stash);
		c->core.busy_n = 0;
		free_queue(c, 0);
		ss->conns[i] = NULL;
		sl_conn_fini(&c->core);
		free(c);
	}
	io->cls[SL_UCLASS_STREAM] = NULL;
	free(ss->conns);
	free(ss->gens);
	free(ss->free_slots);
	free(ss);
}

/* Cold, on the shard's thread: the slot table, and this shard's listeners armed. */
static int stream_shard_start(struct sl_ushard *io, void *ctx)
{
	struct sl_streams *st = ctx;
	struct sl_net *t = io->net;
	unsigned id = sl_shard_id(io->shard);
	struct sl_sshard *ss;

	ss = calloc(1, sizeof(*ss));
	if (!ss)
		return -ENOMEM;
	ss->io = io;
	ss->shard = io->shard;
	ss->net = t;
	ss->st = io->st;
	ss->max_conns = t->cfg.max_conns;
	for (unsigned l = 0; l < SL_LISTENERS; l++)
		ss->lst[l].fd = -1;
	ss->conns = calloc(ss->max_conns, sizeof(*ss->conns));
	ss->gens = calloc(ss->max_conns, sizeof(*ss->gens));
	ss->free_slots = calloc(ss->max_conns, sizeof(*ss->free_slots));
	if (!ss->conns || !ss->gens || !ss->free_slots) {
		free(ss->conns);
		free(ss->gens);
		free(ss->free_slots);
		free(ss);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < ss->max_conns; i++)
		ss->free_slots[i] = ss->max_conns - 1 - i;
	ss->nfree = ss->max_conns;
	io->cls[SL_UCLASS_STREAM] = ss;
	sl_stream_idle_start(ss);
	/* Listeners: this shard's TCP socket of the SO_REUSEPORT group; UDS on shard 0. */
	if (st->tcp_fds[id] >= 0) {
		ss->lst[0].fd = st->tcp_fds[id];
		ss->lst[0].drains = true;
		ss->ltype[0] = SL_ADDR_TCP;
		sl_accept_arm(io, &ss->lst[0], UOP_ACCEPT, 0);
	}
	if (id == 0 && st->uds_fd >= 0) {
		ss->lst[1].fd = st->uds_fd;
		ss->ltype[1] = SL_ADDR_UDS;
		sl_accept_arm(io, &ss->lst[1], UOP_ACCEPT, 1);
	}
	return 0;
}

/* ---- TCP addresses ---- */

void sl_tcp_send(void *ctx, struct sl_shard *s, struct sl_msg *m)
{
	struct sl_sshard *ss = sl_stream_shard(s);
	struct sockaddr_storage sa;
	struct sl_conn *c;
	struct sl_addr a;
	socklen_t sl = 0;

	sl_route_front(&m->onward, &a);
	c = sl_stream_peer(ss, SL_ADDR_TCP, a.body, a.len);
	if (!c) {
		if (sl_resolve(ss->io, a.body, a.len, &sa, &sl)) {
			SL_STAT_INC(s, drop_unknown);
			sl_router_drop(s, m, "tcp_address");
			return;
		}
		c = sl_stream_connect(ss, SL_ADDR_TCP, a.body, a.len, (struct sockaddr *)&sa, sl);
		if (!c) {
			NET_STAT_INC(ss, drop_noconn);
			sl_router_drop(s, m, "tcp_connect");
			return;
		}
	}
	/* The transport's own hop (1#host:port) does not travel (PROTOCOL.md 3). */
	sl_route_pop_front(&m->onward);
	sl_stream_enqueue(ss, c, m);
}

/* Whether any TCP socket (IPv4 or IPv6) listens on port, from /proc/net. Cold. */
static bool port_has_listener(uint16_t port)
{
	static const char *const tables[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	char line[512];

	for (unsigned i = 0; i < 2; i++) {
		FILE *f = fopen(tables[i], "re");

		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			char local[64];
			unsigned lport, state;

			/* "  sl  local_address rem_address   st ..." with ADDR:PORT in hex */
			if (sscanf(line, " %*u: %63[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x",
				   local, &lport, &state) == 3 &&
			    lport == port && state == 0x0A) {
				fclose(f);
				return true;
			}
		}
		fclose(f);
	}
	return false;
}

int sl_net_listen_tcp(struct sl_net *t, const char *hostport, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	uint16_t bound = 0;
	unsigned ns = sl_node_shards(t->node);
	struct sl_streams *st = sl_streams_of(t);
	int ret;

	ret = sl_resolve_listen_cold(t->node, hostport, &ss, &sl);
	if (ret)
		return ret;
	/*
	 * SO_REUSEPORT would let this node join another process's listening
	 * group on the same port (same user) and share its connections. A probe
	 * bind cannot tell that apart from our own lingering connections after a
	 * restart, so ask the kernel's table of listeners instead.
	 */
	if (((struct sockaddr_in *)&ss)->sin_port &&
	    port_has_listener(ntohs(((struct sockaddr_in *)&ss)->sin_port)))
		return -EADDRINUSE;
	ret = sl_listen_group_cold(&ss, sl, ns, -1, 1024, false, st->tcp_fds, &bound);
	if (ret)
		return ret;
	if (port)
		*port = bound;
	sl_log(SL_LOG_INFO, "node=%s event=listening transport=tcp addr=%s port=%u shards=%u",
	       sl_node_name(t->node), hostport, bound, ns);
	return 0;
}

/* ---- the class and the transports (cold) ---- */

static void streams_destroy(void *ctx)
{
	struct sl_streams *st = ctx;
	unsigned ns = st->ns;

	for (unsigned i = 0; i < ns; i++)
		if (st->tcp_fds[i] >= 0)
			close(st->tcp_fds[i]);
	if (st->uds_fd >= 0) {
		close(st->uds_fd);
		unlink(st->uds_path);
	}
	free(st->tcp_fds);
	free(st);
}

static const struct sl_uop_class stream_class = {
	.name = "stream",
	.shard_start = stream_shard_start,
	.cqe = stream_cqe,
	.flush = stream_flush,
	.shard_stop = stream_shard_stop,
	.net_destroy = streams_destroy,
};

static const struct sl_transport_ops tcp_ops = {
	.type = SL_ADDR_TCP,
	.name = "tcp",
	.send = sl_tcp_send,
};

static const struct sl_transport_ops uds_ops = {
	.type = SL_ADDR_UDS,
	.name = "uds",
	.send = sl_uds_send,
};

int sl_stream_register_cold(struct sl_net *t)
{
	unsigned ns = sl_node_shards(t->node);
	struct sl_streams *st;
	int ret;

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->ns = ns;
	st->uds_fd = -1;
	st->tcp_fds = malloc(ns * sizeof(*st->tcp_fds));
	if (!st->tcp_fds) {
		free(st);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < ns; i++)
		st->tcp_fds[i] = -1;
	ret = sl_uring_class_add_cold(t, SL_UCLASS_STREAM, &stream_class, st);
	if (ret) {
		streams_destroy(st);
		return ret;
	}
	ret = sl_node_add_transport(t->node, &tcp_ops, t);
	if (!ret)
		ret = sl_node_add_transport(t->node, &uds_ops, t);
	if (ret)
		/* The node must not keep pointers into t once t is freed. */
		sl_node_del_transport(t->node, &tcp_ops);
	/* On failure the class stays registered: sl_net_destroy frees st with it. */
	return ret;
}
