// SPDX-License-Identifier: Apache-2.0
/*
 * Portal sockets: the socket side of engine/portal.h. Outlet connects,
 * accepted inlet sockets (their listeners are portal_listen.c's), and per
 * connection one receive at a time and a queue of writes sent with one
 * sendmsg per batch (the connection core, conn.h).
 *
 * Receive buffers. Each shard has a provided-buffer ring (group 1) whose
 * buffers are pool messages: the kernel picks one only when a socket has
 * data, so an idle connection holds no buffer, and the message it filled is
 * the one that travels on (the Payload head goes into its headroom): no
 * copy between the socket and the router. A ring slot is refilled from the
 * pool right away; when the pool is at its cap the slot waits (the kernel
 * answers ENOBUFS and those sockets are retried once buffers are back).
 *
 * Streaming: a receive that filled its whole chunk most likely left more in
 * the socket, so that socket's next receive reads up to STREAM_CHUNKS chunks
 * at once, into pool messages of its own (one recvmsg; an idle socket still
 * holds nothing). A bulk flow then costs half the receives, its chunks leave
 * in one sendmsg, and the far node wakes half as often: -6% CPU per GB and
 * +5% throughput through a portal (median of 12 runs each, same session).
 * Not io_uring's receive bundles: the kernel appends all the socket holds
 * to a full bundle, and bursts that large cost throughput.
 *
 * Backpressure: a socket is read only while the engine says so, one receive
 * at a time; what the engine queues for the socket is bounded by the
 * engine's credit window (portal.h), overrun by at most one receive.
 */
#define SL_URING_INTERNAL
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/log.h"
#include "engine/portal.h"
#include "engine/timer.h"
#include "transports/portal.h"
#include "transports/portal_sock.h"
#include "transports/resolve.h"

static const struct sl_portal_sock_ops sock_ops;

/* ---- per-shard state (cold) ---- */

static void refill(struct sl_pshard *ps)
{
	unsigned added = 0;

	for (unsigned bid = 0; bid < PBUFS && ps->nbufs < PBUFS; bid++) {
		struct sl_msg *m;

		if (ps->bmsg[bid])
			continue;
		m = sl_msg_alloc(SL_PORTAL_CHUNK + SL_PORTAL_TAIL_MAX);
		if (!m)
			break;	/* the pool is at its cap: retried on a later flush */
		ps->bmsg[bid] = m;
		ps->nbufs++;
		io_uring_buf_ring_add(ps->br, m->data, SL_PORTAL_CHUNK, (unsigned short)bid,
				      (int)ps->bmask, (int)added++);
	}
	/* Hands the new buffers to the kernel (a release store of the ring's tail). */
	if (added)
		io_uring_buf_ring_advance(ps->br, (int)added);
}

struct sl_pshard *sl_pshard_get(struct sl_ushard *u)
{
	struct sl_pshard *ps = u->cls[SL_UCLASS_PORTAL];

	if (ps)
		return ps;
	ps = calloc(1, sizeof(*ps));
	if (!ps)
		return NULL;
	ps->u = u;
	ps->nslots = PSLOTS_INIT;
	ps->socks = calloc(ps->nslots, sizeof(*ps->socks));
	ps->gens = calloc(ps->nslots, sizeof(*ps->gens));
	ps->free_slots = calloc(ps->nslots, sizeof(*ps->free_slots));
	if (!ps->socks || !ps->gens || !ps->free_slots)
		goto err_free;
	for (uint32_t i = 0; i < ps->nslots; i++)
		ps->free_slots[i] = ps->nslots - 1 - i;
	ps->nfree = ps->nslots;
	ps->bmask = (unsigned)io_uring_buf_ring_mask(PBUFS);
	if (sl_uring_bufring_cold(&u->ring, PBUFS, PBGID, &ps->br))
		goto err_free;
	ps->br_ok = true;
	refill(ps);
	u->cls[SL_UCLASS_PORTAL] = ps;
	return ps;
err_free:
	free(ps->br);
	free(ps->socks);
	free(ps->gens);
	free(ps->free_slots);
	free(ps);
	return NULL;
}

static int slot_take(struct sl_pshard *ps, struct sl_portal_sock *k)
{
	if (!ps->nfree) {
		/* Cold: double the table; slots keep their numbers. */
		uint32_t n = ps->nslots * 2;
		struct sl_portal_sock **s = realloc(ps->socks, n * sizeof(*s));
		uint32_t *g, *f;

		if (!s)
			return -ENOMEM;
		ps->socks = s;
		g = realloc(ps->gens, n * sizeof(*g));
		if (!g)
			return -ENOMEM;
		ps->gens = g;
		f = realloc(ps->free_slots, n * sizeof(*f));
		if (!f)
			return -ENOMEM;
		ps->free_slots = f;
		for (uint32_t i = ps->nslots; i < n; i++) {
			ps->socks[i] = NULL;
			ps->gens[i] = 0;
		}
		for (uint32_t i = n; i > ps->nslots; i--)
			ps->free_slots[ps->nfree++] = i - 1;
		ps->nslots = n;
	}
	k->core.slot = ps->free_slots[--ps->nfree];
	k->core.gen = ps->gens[k->core.slot];
	ps->socks[k->core.slot] = k;
	return 0;
}

/* ---- sockets ---- */

void sl_psock_set_sockopts(int fd)
{
	int one = 1;

	/* Interactive protocols through a portal must not wait for Nagle (PERF.md). */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	sl_sock_unpace_loopback(fd);
}

static void linger_fire(struct sl_timer *t);
static const struct sl_conn_cb sock_cb;

struct sl_portal_sock *sl_psock_new(struct sl_pshard *ps, int fd)
{
	struct sl_portal_sock *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	if (slot_take(ps, k)) {
		free(k);
		return NULL;
	}
	k->ps = ps;
	sl_conn_init(&k->core, ps->u, &sock_cb, fd, UOP_PORTAL_SEND, UOP_PORTAL_POLLOUT, k->iov,
		     PIOV_MAX, PIOV_MAX);
	k->linger.fire = linger_fire;
	return k;
}

void sl_psock_flush_later(struct sl_portal_sock *k)
{
	if (k->on_flush)
		return;
	k->on_flush = true;
	k->flush_next = k->ps->flush_head;
	k->ps->flush_head = k;
}

static void free_queue(struct sl_portal_sock *k, unsigned keep)
{
	sl_sendq_drop(&k->core, keep);
}

/* Free k once the kernel gave back every op (called from the flush only). */
static bool finalize(struct sl_portal_sock *k)
{
	struct sl_pshard *ps = k->ps;

	if (!k->closing || k->core.ops || k->on_flush || k->nobuf)
		return false;
	if (!k->core.dead && k->core.q_head)
		return false;
	sl_timer_cancel(&k->linger);
	close(k->core.fd);
	free_queue(k, 0);
	/* A new generation: completions naming the old one are dropped. */
	ps->gens[k->core.slot] = (ps->gens[k->core.slot] + 1) & 0xffffff;
	ps->socks[k->core.slot] = NULL;
	ps->free_slots[ps->nfree++] = k->core.slot;
	sl_conn_fini(&k->core);
	free(k);
	return true;
}

static void cancel_ops(struct sl_portal_sock *k, bool all)
{
	struct io_uring_sqe *sqe;

	if (!k->core.ops)
		return;
	if (!all) {
		sl_uring_cancel(k->ps->u, UD(UOP_PORTAL_RECV, k->core.gen, k->core.slot));
		return;
	}
	sqe = sl_uring_sqe(k->ps->u);
	if (!sqe)
		return;
	io_uring_prep_cancel_fd(sqe, k->core.fd, IORING_ASYNC_CANCEL_ALL);
	io_uring_sqe_set_data64(sqe, UD(UOP_CANCEL, 0, 0));
}

/* Stop at once: RST to the peer, the queue dropped. */
static void sock_abort(struct sl_portal_sock *k)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	k->closing = true;
	k->core.dead = true;
	k->pc = NULL;
	/* Linger 0: close() resets the connection, so the client sees an error, not an EOF. */
	setsockopt(k->core.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	free_queue(k, k->core.send_busy ? k->core.busy_n : 0);
	cancel_ops(k, true);
	sl_psock_flush_later(k);
}

static void linger_fire(struct sl_timer *t)
{
	struct sl_portal_sock *k = container_of(t, struct sl_portal_sock, linger);

	/* The peer did not read what was left in time. */
	sock_abort(k);
}

/* The socket failed: tell the engine (once), then go. */
static void sock_fail(struct sl_portal_sock *k, int err)
{
	struct sl_portal_conn *pc = k->pc;

	sock_abort(k);
	if (pc)
		sl_portal_on_error(pc, err);
}

/* A streaming receive into STREAM_CHUNKS messages of k's own; false: the pool had none. */
static bool prep_stream_recv(struct sl_portal_sock *k, struct io_uring_sqe *sqe)
{
	unsigned i;

	for (i = 0; i < STREAM_CHUNKS; i++) {
		k->rxm[i] = sl_msg_alloc(SL_PORTAL_CHUNK + SL_PORTAL_TAIL_MAX);
		if (!k->rxm[i]) {
			while (i--) {
				sl_msg_free(k->rxm[i]);
				k->rxm[i] = NULL;
			}
			return false;
		}
		k->riov[i] = (struct iovec){ .iov_base = k->rxm[i]->data, .iov_len = SL_PORTAL_CHUNK };
	}
	memset(&k->rmh, 0, sizeof(k->rmh));
	k->rmh.msg_iov = k->riov;
	k->rmh.msg_iovlen = STREAM_CHUNKS;
	/* The kernel owns these chunks until the completion. */
	io_uring_prep_recvmsg(sqe, k->core.fd, &k->rmh, 0);
	k->nrx = STREAM_CHUNKS;
	return true;
}

static void arm_recv(struct sl_portal_sock *k)
{
	struct io_uring_sqe *sqe;

	if (k->recv_armed || !k->want_read || k->closing || k->nobuf)
		return;
	sqe = sl_uring_sqe(k->ps->u);
	if (!sqe)
		return;
	/* One receive at a time: the engine decides after each whether to read on. */
	if (!k->streaming || !prep_stream_recv(k, sqe)) {
		io_uring_prep_recv(sqe, k->core.fd, NULL, SL_PORTAL_CHUNK, 0);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = PBGID;
	}
	io_uring_sqe_set_data64(sqe, UD(UOP_PORTAL_RECV, k->core.gen, k->core.slot));
	k->recv_armed = true;
	k->core.ops++;
}

/* Not reading: learn of the peer's FIN or RST without taking its bytes. */
static void arm_hup(struct sl_portal_sock *k)
{
	struct io_uring_sqe *sqe;

	if (k->hup_armed || k->hup_seen || k->want_read || k->recv_armed || k->closing ||
	    k->connecting || !k->pc)
		return;
	sqe = sl_uring_sqe(k->ps->u);
	if (!sqe)
		return;
	io_uring_prep_poll_add(sqe, k->core.fd, POLLRDHUP | POLLERR | POLLHUP);
	io_uring_sqe_set_data64(sqe, UD(UOP_PORTAL_HUP, k->core.gen, k->core.slot));
	k->hup_armed = true;
	k->core.ops++;
}

static void send_queue(struct sl_portal_sock *k)
{
	if (!k->core.dead)
		sl_conn_send(&k->core, NULL);
}

/* After the queue: the half close the engine asked for, or the close. */
static void after_queue(struct sl_portal_sock *k)
{
	if (k->core.q_head || k->core.send_busy)
		return;
	if (k->want_shut && !k->shut) {
		k->shut = true;
		shutdown(k->core.fd, SHUT_WR);
	}
	if (k->closing)
		sl_psock_flush_later(k);
}

/* ---- ops the engine calls ---- */

static void op_write(struct sl_portal_sock *k, struct sl_msg *m)
{
	if (k->closing || k->want_shut) {
		sl_msg_free(m);
		return;
	}
	sl_sendq_push(&k->core, m);
	/* Chunks queued in this turn leave in one sendmsg at its end. */
	sl_psock_flush_later(k);
}

static void op_read(struct sl_portal_sock *k, bool on)
{
	k->want_read = on;
	/*
	 * Off: the receive in flight (one chunk at most) completes; none
	 * follows, and the flush arms the watch for a FIN (once per socket
	 * while it stays armed: nothing per pause of a bulk flow).
	 */
	if (on || !k->hup_armed)
		sl_psock_flush_later(k);
}

static void op_shutdown_write(struct sl_portal_sock *k)
{
	k->want_shut = true;
	after_queue(k);
}

static void op_close(struct sl_portal_sock *k, bool abort)
{
	if (abort) {
		sock_abort(k);
		return;
	}
	k->pc = NULL;
	k->closing = true;
	k->want_read = false;
	if (k->recv_armed)
		cancel_ops(k, false);
	if (k->hup_armed)
		sl_uring_cancel(k->ps->u, UD(UOP_PORTAL_HUP, k->core.gen, k->core.slot));
	if (k->core.q_head || k->core.send_busy)
		sl_timer_arm(k->ps->u->shard, &k->linger, LINGER_NS);
	after_queue(k);
	sl_psock_flush_later(k);
}

static struct sl_portal_sock *op_connect(void *ctx, struct sl_shard *s, struct sl_portal_conn *pc,
					 const char *hostport, int *err)
{
	struct sl_ushard *u = sl_shard_io(s);
	struct sl_pshard *ps = u ? sl_pshard_get(u) : NULL;
	struct sl_portal_sock *k;
	struct io_uring_sqe *sqe;
	int fd;

	*err = -ENOMEM;
	if (!ps)
		return NULL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	*err = sl_resolve(u, (const uint8_t *)hostport, strlen(hostport), &k->sa, &k->salen);
	if (*err) {
		free(k);
		return NULL;
	}
	fd = socket(k->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*err = -errno;
		free(k);
		return NULL;
	}
	if (slot_take(ps, k)) {
		close(fd);
		free(k);
		*err = -ENOMEM;
		return NULL;
	}
	k->ps = ps;
	sl_conn_init(&k->core, u, &sock_cb, fd, UOP_PORTAL_SEND, UOP_PORTAL_POLLOUT, k->iov,
		     PIOV_MAX, PIOV_MAX);
	k->linger.fire = linger_fire;
	k->pc = pc;
	sqe = sl_uring_sqe(u);
	if (!sqe) {
		k->closing = k->core.dead = true;
		k->pc = NULL;
		sl_psock_flush_later(k);
		*err = -EBUSY;
		return NULL;
	}
	k->connecting = true;
	io_uring_prep_connect(sqe, fd, (struct sockaddr *)&k->sa, k->salen);
	io_uring_sqe_set_data64(sqe, UD(UOP_PORTAL_CONNECT, k->core.gen, k->core.slot));
	k->core.ops++;
	return k;
}

/* ---- completions ---- */

static void on_connect(struct sl_portal_sock *k, int res)
{
	struct sl_portal_conn *pc = k->pc;

	k->core.ops--;
	k->connecting = false;
	if (k->closing) {
		sl_psock_flush_later(k);
		return;
	}
	if (res < 0) {
		/* The engine hears "refused" and forgets k: it goes at the flush. */
		k->closing = k->core.dead = true;
		k->pc = NULL;
		sl_psock_flush_later(k);
		sl_portal_on_connect(pc, res);
		return;
	}
	sl_psock_set_sockopts(k->core.fd);
	sl_portal_on_connect(pc, 0);
}

static void on_recv(struct sl_pshard *ps, struct sl_portal_sock *k, struct io_uring_cqe *cqe)
{
	struct sl_msg *ms[STREAM_CHUNKS];
	int res = cqe->res;
	unsigned n = 0, i;
	uint32_t left;

	k->recv_armed = false;
	k->core.ops--;
	if (k->nrx) {
		/* A streaming receive: its chunks were k's all along. */
		n = k->nrx;
		for (i = 0; i < n; i++) {
			ms[i] = k->rxm[i];
			k->rxm[i] = NULL;
		}
		k->nrx = 0;
	} else if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

		/* The filled buffer is a message: it leaves the ring, a fresh one takes its slot. */
		ms[n++] = ps->bmsg[bid];
		ps->bmsg[bid] = NULL;
		ps->nbufs--;
		refill(ps);
	}
	k->streaming = n && res == (int)(n * SL_PORTAL_CHUNK);
	left = res > 0 ? (uint32_t)res : 0;
	for (i = 0; i < n; i++) {
		if (!left || k->closing || !k->pc) {
			sl_msg_free(ms[i]);
			continue;
		}
		ms[i]->len = left < SL_PORTAL_CHUNK ? left : SL_PORTAL_CHUNK;
		left -= ms[i]->len;
		sl_portal_on_data(k->pc, ms[i]);	/* may switch reading off, or close k */
	}
	if (k->closing || !k->pc || (res > 0 && n)) {
		sl_psock_flush_later(k);		/* re-arms when still wanted */
		return;
	}
	if (res == 0) {
		k->want_read = false;
		k->hup_seen = true;
		sl_portal_on_eof(k->pc);
		return;
	}
	if (res == -ENOBUFS) {
		/* No buffer free: wait until the pool gives some back. */
		k->nobuf = true;
		k->nobuf_next = ps->nobuf_head;
		ps->nobuf_head = k;
		return;
	}
	if (res == -ECANCELED || res == -EINTR || res == -EAGAIN) {
		sl_psock_flush_later(k);
		return;
	}
	sock_fail(k, res);
}

/*
 * The watch of a socket the engine does not read fired (mask res). An
 * error or reset goes to the engine at once, as from a receive. A FIN with
 * no byte left unread is the EOF now: what was read before it is routed
 * already, so it goes out first. A FIN behind unread bytes stays behind
 * them: they are read, then the EOF, once the peer grants credit again.
 */
static void on_hup(struct sl_portal_sock *k, int res)
{
	int err = 0, inq = 0;
	socklen_t sl = sizeof(err);

	k->hup_armed = false;
	k->core.ops--;
	if (k->closing || !k->pc || res == -ECANCELED) {
		sl_psock_flush_later(k);
		return;
	}
	if (res < 0 || (res & POLLERR)) {
		if (res < 0)
			err = -res;
		else if (getsockopt(k->core.fd, SOL_SOCKET, SO_ERROR, &err, &sl) || !err)
			err = ECONNRESET;
		NET_STAT_INC(k->ps->u, portal_hups);
		sock_fail(k, -err);
		return;
	}
	if (k->want_read || k->recv_armed) {
		sl_psock_flush_later(k);	/* the receive sees the EOF itself */
		return;
	}
	k->hup_seen = true;
	if (ioctl(k->core.fd, FIONREAD, &inq) == 0 && inq == 0) {
		NET_STAT_INC(k->ps->u, portal_hups);
		sl_portal_on_eof(k->pc);
	}
}

/* ---- the core's callbacks: once per send completion ---- */

static void cb_flush_later(struct sl_conn_core *c)
{
	sl_psock_flush_later(container_of(c, struct sl_portal_sock, core));
}

static void cb_sent(struct sl_conn_core *c, size_t res, unsigned frames, unsigned merged)
{
	struct sl_portal_sock *k = container_of(c, struct sl_portal_sock, core);

	if (k->pc && res)
		sl_portal_on_written(k->pc, res);	/* may queue more, or close k */
	after_queue(k);
}

static void cb_failed(struct sl_conn_core *c, int res)
{
	sock_fail(container_of(c, struct sl_portal_sock, core), res);
}

static void cb_gone(struct sl_conn_core *c, unsigned dropped)
{
	sl_psock_flush_later(container_of(c, struct sl_portal_sock, core));
}

/*
 * A full socket (-EAGAIN) waits for room with the queue as it is: failing
 * there reset the connection (the client saw "Connection reset by peer",
 * the peer's chunks still on the way found no worker). A send of 0 bytes
 * is tried again.
 */
static const struct sl_conn_cb sock_cb = {
	.flush_later = cb_flush_later,
	.sent = cb_sent,
	.failed = cb_failed,
	.gone = cb_gone,
};

static void portal_cqe(struct sl_ushard *u, struct io_uring_cqe *cqe)
{
	struct sl_pshard *ps = u->cls[SL_UCLASS_PORTAL];
	uint64_t ud = cqe->user_data;
	unsigned op = UD_OP(ud);
	uint32_t slot = UD_SLOT(ud);
	struct sl_portal_sock *k;

	if (!ps)
		return;
	if (op == UOP_PORTAL_ACCEPT) {
		if (slot < PLISTEN_MAX && ps->lst[slot].pl && ps->lst[slot].a.gen == UD_GEN(ud))
			sl_pinlet_on_accept(ps, slot, cqe);
		else if (cqe->res >= 0)
			close(cqe->res);	/* accepted for a listener that is gone */
		return;
	}
	k = slot < ps->nslots ? ps->socks[slot] : NULL;
	if (!k || k->core.gen != UD_GEN(ud)) {
		NET_STAT_INC(u, stale_cqes);
		/* A stale receive may still carry one of our buffers: it goes back to the ring. */
		if (op == UOP_PORTAL_RECV && (cqe->flags & IORING_CQE_F_BUFFER)) {
			unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

			sl_msg_free(ps->bmsg[bid]);
			ps->bmsg[bid] = NULL;
			ps->nbufs--;
			refill(ps);
		}
		return;
	}
	switch (op) {
	case UOP_PORTAL_RECV:
		on_recv(ps, k, cqe);
		break;
	case UOP_PORTAL_SEND:
		sl_conn_on_send(&k->core, cqe->res);
		break;
	case UOP_PORTAL_CONNECT:
		on_connect(k, cqe->res);
		break;
	case UOP_PORTAL_POLLOUT:
		sl_conn_on_writable(&k->core);
		break;
	case UOP_PORTAL_HUP:
		on_hup(k, cqe->res);
		break;
	default:
		break;
	}
}

static void portal_flush(struct sl_ushard *u)
{
	struct sl_pshard *ps = u->cls[SL_UCLASS_PORTAL];
	struct sl_portal_sock *k, *next, **pp;

	if (!ps)
		return;
	refill(ps);
	/* Receives that found no buffer try again once the ring has some; closing ones go. */
	for (pp = &ps->nobuf_head; (k = *pp);) {
		if (ps->nbufs || k->closing) {
			*pp = k->nobuf_next;
			k->nobuf = false;
			sl_psock_flush_later(k);
		} else {
			pp = &k->nobuf_next;
		}
	}
	/* The shard's wait must not sleep past messages coming home on a return ring. */
	if (ps->nobuf_head)
		u->poll_soon |= 1u << SL_UCLASS_PORTAL;
	else
		u->poll_soon &= ~(1u << SL_UCLASS_PORTAL);
	/* Bounded: each socket is on the list at most once; new additions wait a turn. */
	k = ps->flush_head;
	ps->flush_head = NULL;
	for (; k; k = next) {
		next = k->flush_next;
		k->on_flush = false;
		k->flush_next = NULL;
		if (finalize(k))
			continue;
		if (k->closing) {
			send_queue(k);
			continue;
		}
		arm_recv(k);
		arm_hup(k);
		send_queue(k);
	}
	for (unsigned i = 0; i < PLISTEN_MAX; i++)
		if (ps->lst[i].pl && !ps->lst[i].a.armed)
			sl_pinlet_arm(ps, i);
}

static void portal_shard_stop(struct sl_ushard *u)
{
	struct sl_pshard *ps = u->cls[SL_UCLASS_PORTAL];

	if (!ps)
		return;
	/* Cold: the loop has ended. Sockets close now; their ops end with the ring. */
	for (unsigned i = 0; i < PLISTEN_MAX; i++)
		if (ps->lst[i].pl)
			sl_pinlet_unlisten_on(u->shard, ps->lst[i].pl);
	for (uint32_t i = 0; i < ps->nslots; i++) {
		struct sl_portal_sock *k = ps->socks[i];

		if (!k)
			continue;
		shutdown(k->core.fd, SHUT_RDWR);
	}
	/* Exiting the ring waits for the kernel to drop every op (and its buffers). */
	if (u->ring_ok) {
		io_uring_queue_exit(&u->ring);
		u->ring_ok = false;
	}
	for (uint32_t i = 0; i < ps->nslots; i++) {
		struct sl_portal_sock *k = ps->socks[i];

		if (!k)
			continue;
		sl_timer_cancel(&k->linger);
		close(k->core.fd);
		free_queue(k, 0);
		/* the ring is gone: a streaming receive's chunks are ours again */
		for (unsigned j = 0; j < k->nrx; j++)
			sl_msg_free(k->rxm[j]);
		sl_conn_fini(&k->core);
		free(k);
	}
	for (unsigned bid = 0; bid < PBUFS; bid++)
		sl_msg_free(ps->bmsg[bid]);
	free(ps->br);
	free(ps->socks);
	free(ps->gens);
	free(ps->free_slots);
	free(ps);
	u->cls[SL_UCLASS_PORTAL] = NULL;
}

static const struct sl_portal_sock_ops sock_ops = {
	.connect = op_connect,
	.write = op_write,
	.read = op_read,
	.shutdown_write = op_shutdown_write,
	.close = op_close,
	.listen = sl_pinlet_listen,
	.unlisten = sl_pinlet_unlisten,
};

/* Per-shard state comes on first use (pshard), so a node without portals holds none. */
static const struct sl_uop_class portal_class = {
	.name = "portal",
	.cqe = portal_cqe,
	.flush = portal_flush,
	.shard_stop = portal_shard_stop,
};

struct sl_portals *sl_net_portals(struct sl_net *t)
{
	int ret = sl_uring_class_add_cold(t, SL_UCLASS_PORTAL, &portal_class, NULL);

	if (ret && ret != -EEXIST) {
		errno = -ret;
		return NULL;
	}
	return sl_portals_create(t->node, &sock_ops, t);
}
