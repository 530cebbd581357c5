// SPDX-License-Identifier: Apache-2.0
/*
 * Stream connections' receive side: the peer's version byte, u32be frames
 * with the 16 MiB cap reassembled across receive buffers, decoded and
 * handed to the router with the connection's address on the return route.
 *
 * Backpressure on receive (DESIGN.md: bounded everything): when the shard's
 * pool has no message for the next frame, the connection stops there. Its
 * multishot receive is cancelled; the bytes not parsed stay in their provided
 * buffers (completions still in flight queue behind them, in order); it
 * waits, oldest first, on the shard's list until the pool gets messages
 * back, then parses what it holds and reads on. No frame is ever skipped.
 * A whole frame whose next hop is another shard with a full ring from us
 * stops the connection the same way (sl_send_try), parked until it fits.
 *
 * Direct receives: a frame of DIRECT_MIN bytes or more still to come is
 * read straight into its message (the multishot is stopped for it), with
 * the next frame's header and, guessing it has the same size, the next
 * frame in the same recvmsg; the connection stays that way while large
 * frames follow. This saves copying bulk bytes out of the provided buffers
 * (~5% of an outlet node's CPU, README Portals); small frames go back to
 * the multishot, which takes many per buffer.
 */
#define SL_URING_INTERNAL
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/clock.h"
#include "engine/fair_share.h"
#include "engine/router.h"
#include "engine/wire.h"
#include "transports/stream.h"

#define DIRECT_MIN (16u * 1024)	/* frame bytes still to come worth a receive of their own */

/* Unlink c from a list threaded through `off` (cold: closes only). */
static void list_remove(struct sl_conn **head, struct sl_conn **tail, struct sl_conn *c,
			size_t off)
{
	struct sl_conn **pp, *prev = NULL;

#define NEXT(x) (*(struct sl_conn **)((char *)(x) + off))
	for (pp = head; *pp; prev = *pp, pp = &NEXT(*pp)) {
		if (*pp == c) {
			*pp = NEXT(c);
			if (*tail == c)
				*tail = prev;
			NEXT(c) = NULL;
			return;
		}
	}
#undef NEXT
}

/* The connection goes: held buffers back to the ring, off the waiting lists. */
void sl_stream_rx_release(struct sl_conn *c)
{
	struct sl_sshard *ss = c->ss;

	while (c->held_head != SL_BUF_NONE) {
		uint32_t bid = c->held_head;

		c->held_head = ss->io->bnext[bid];
		ss->io->nheld--;
		sl_uring_buf_put(ss->io, bid);
	}
	c->held_tail = SL_BUF_NONE;
	c->held_off = 0;
	free(c->stash);
	c->stash = NULL;
	c->stash_len = c->stash_off = c->stash_cap = 0;
	c->rx_pend = false;
	if (c->rx_park) {
		/* The connection is gone: nobody will resend this frame. */
		NET_STAT_INC(ss, drop_noconn);
		sl_msg_free(c->rx_park);
		c->rx_park = NULL;
		ss->nparked--;
	}
	if (c->mem_wait)
		list_remove(&ss->wait_head, &ss->wait_tail, c, offsetof(struct sl_conn, wait_next));
	if (c->nobuf)
		list_remove(&ss->nobuf_head, &ss->nobuf_tail, c, offsetof(struct sl_conn, nobuf_next));
	c->mem_wait = c->nobuf = false;
}

/* Whether the next receive goes straight into the frame (or header) in progress. */
static bool direct_ok(struct sl_conn *c)
{
	if (!c->direct || !c->ver_rx || c->held_head != SL_BUF_NONE || c->stash_len ||
	    c->rx_pend || c->rx_park)
		return false;
	/* Between frames: the header decides; a small frame goes back to the multishot. */
	return c->rx ? c->rx_need - c->rx_have >= DIRECT_MIN : true;
}

static void arm_direct(struct sl_conn *c, struct io_uring_sqe *sqe)
{
	unsigned n = 0;

	if (c->rx)
		c->riov[n++] = (struct iovec){ c->rx->data + c->rx_have, c->rx_need - c->rx_have };
	/* Never past a header: the bytes after it belong in the next message. */
	c->riov[n++] = (struct iovec){ c->dhdr, sizeof(c->dhdr) - c->hdr_have };
	/*
	 * Bulk frames come in one size: read the next one too, into a message
	 * of this one's size (a wrong guess costs a copy, nothing more).
	 */
	if (c->rx && (c->spec = sl_msg_alloc(c->rx_need))) {
		c->riov[n++] = (struct iovec){ c->spec->data, c->rx_need };
		c->riov[n++] = (struct iovec){ c->dhdr2, sizeof(c->dhdr2) };
	}
	memset(&c->rmh, 0, sizeof(c->rmh));
	c->rmh.msg_iov = c->riov;
	c->rmh.msg_iovlen = n;
	/* The kernel writes into c->rx until the completion (conn_finalize frees it). */
	io_uring_prep_recvmsg(sqe, c->core.fd, &c->rmh, 0);
	c->direct_armed = true;
}

void sl_stream_arm_recv(struct sl_conn *c)
{
	struct sl_sshard *ss = c->ss;
	struct io_uring_sqe *sqe;

	if (c->recv_armed || c->paused || c->mem_wait || c->state != CONN_OPEN)
		return;
	sqe = sl_uring_sqe(ss->io);
	if (!sqe)
		return;
	if (direct_ok(c)) {
		arm_direct(c, sqe);
		io_uring_sqe_set_data64(sqe, UD(UOP_RECV, c->core.gen, c->core.slot));
		c->recv_armed = true;
		c->core.ops++;
		return;
	}
	c->direct = false;
	io_uring_prep_recv_multishot(sqe, c->core.fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = 0;
	io_uring_sqe_set_data64(sqe, UD(UOP_RECV, c->core.gen, c->core.slot));
	c->recv_armed = true;
	c->core.ops++;
}

/* The epoch's end wakes the shard: paused connections are tried again (sl_stream_rx_resume). */
static void share_wake(struct sl_timer *t)
{
	(void)t;
}

/*
 * Route a frame of c's (ownership passes on true). A connection a relay's
 * owner rides is counted on its fair share (engine/fair_share.h): past it,
 * on a busy node, the frame waits as for a full ring, and c is not read,
 * until the epoch ends.
 */
static bool rx_send(struct sl_conn *c, struct sl_msg *m, bool first)
{
	struct sl_sshard *ss = c->ss;
	unsigned slot = __atomic_load_n(&c->w.share, __ATOMIC_RELAXED);
	uint32_t len = m->len;

	if (slot && sl_share_over(ss->shard, slot)) {
		if (first)
			SL_STAT_INC(ss->shard, limit_fair_share);
		if (!ss->share_timer.armed) {
			uint64_t end = sl_share_epoch_end(sl_shard_node(ss->shard)), now = sl_now_ns();

			ss->share_timer.fire = share_wake;
			sl_timer_arm(ss->shard, &ss->share_timer, end > now ? end - now : 0);
		}
		return false;
	}
	if (!sl_send_try(ss->shard, m))
		return false;
	if (slot)	/* most connections carry no owner's traffic: no call for them */
		sl_share_add(ss->shard, slot, len);
	return true;
}

static void deliver_frame(struct sl_conn *c, struct sl_msg *m)
{
	struct sl_sshard *ss = c->ss;
	int ret;

	ret = sl_wire_decode(m);
	if (ret) {
		NET_STAT_INC(ss, proto_errors);
		sl_msg_free(m);
		sl_stream_close(c, ret == -E2BIG ? "route_too_long" : "malformed_frame");
		return;
	}
	NET_STAT_INC(ss, rx_frames);
	/* A long route makes every hop of it work for one sender: dropped, the connection stays. */
	if (m->onward.n > __atomic_load_n(&ss->net->cfg.max_route_hops, __ATOMIC_RELAXED)) {
		NET_STAT_INC(ss, limit_route_hops);
		sl_net_log_rl(ss->io, "event=drop reason=limit limit=max-route-length hops=%u peer=%s",
			      m->onward.n, c->w.addr);
		sl_msg_free(m);
		return;
	}
	if (sl_route_empty(&m->onward)) {
		/* An empty onward route is a heartbeat (PROTOCOL.md 3). */
		NET_STAT_INC(ss, heartbeats);
		sl_msg_free(m);
		return;
	}
	c->routed = true;	/* it may hold something now: idle-timeout no longer applies */
	/* Replies retrace the path: our connection's address goes on the return route. */
	if (sl_route_push_front(&m->ret, SL_ADDR_LOCAL, c->w.addr, c->w.addr_len)) {
		NET_STAT_INC(ss, proto_errors);
		sl_msg_free(m);
		return;
	}
	/*
	 * Ownership passes to the router, unless the ring to the frame's shard
	 * is full: then we keep it and stop reading (backpressure, not a drop).
	 */
	if (!rx_send(c, m, true)) {
		c->rx_park = m;
		ss->nparked++;
	}
}

/* The frame in progress is whole: it goes to the router. */
static void rx_deliver_if_whole(struct sl_conn *c)
{
	struct sl_msg *m = c->rx;

	if (!m || c->rx_have != c->rx_need)
		return;
	c->rx = NULL;
	m->len = c->rx_need;
	deliver_frame(c, m);
}

/* A frame's u32be length prefix. */
static inline uint32_t frame_len(const uint8_t h[4])
{
	return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
}

/* Whether c stopped for a message or for ring room (the caller keeps what is left). */
static inline bool rx_blocked(const struct sl_conn *c)
{
	return c->rx_pend || c->rx_park;
}

/*
 * Consume [p, end) of the stream. Never reads past end. Returns where it
 * stopped: end, or earlier when the connection closed, when the pool had no
 * message for the next frame (c->rx_pend) or when a frame found its shard's
 * ring full (c->rx_park): then the caller keeps the rest.
 */
static const uint8_t *conn_rx(struct sl_conn *c, const uint8_t *p, const uint8_t *end)
{
	struct sl_sshard *ss = c->ss;
	struct sl_msg *m;

	if (c->rx_park) {
		/* Ownership passes to the router on success. */
		if (!rx_send(c, c->rx_park, false))
			return p;
		c->rx_park = NULL;
		ss->nparked--;
	}
	if (c->rx_pend) {
		/* The frame whose header we read when the pool was at its cap. */
		m = sl_msg_alloc(c->rx_need);
		if (!m)
			return p;
		c->rx_pend = false;
		c->rx = m;
		c->rx_have = 0;
	}
	if (!c->ver_rx && p < end) {
		if (*p != SL_WIRE_VERSION) {
			NET_STAT_INC(ss, proto_errors);
			sl_stream_close(c, "bad_version");
			return p;
		}
		c->ver_rx = true;
		p++;
	}
	while (p < end && c->state == CONN_OPEN && !c->rx_park) {
		size_t avail = (size_t)(end - p);
		uint32_t len;

		if (c->rx) {
			size_t k = c->rx_need - c->rx_have;

			if (k > avail)
				k = avail;
			memcpy(c->rx->data + c->rx_have, p, k);
			c->rx_have += (uint32_t)k;
			p += k;
			rx_deliver_if_whole(c);
			continue;
		}
		if (!c->hdr_have && avail >= 4) {
			len = frame_len(p);
			p += 4;
			avail -= 4;
		} else {
			while (c->hdr_have < 4 && p < end)
				c->hdr[c->hdr_have++] = *p++;
			if (c->hdr_have < 4)
				return p;
			c->hdr_have = 0;
			len = frame_len(c->hdr);
			avail = (size_t)(end - p);
		}
		if (len > SL_FRAME_MAX) {
			NET_STAT_INC(ss, proto_errors);
			sl_stream_close(c, "frame_too_large");
			return p;
		}
		m = sl_msg_alloc(len);
		if (!m) {
			/* Pool at its cap: stop here (backpressure); the caller keeps [p, end). */
			c->rx_pend = true;
			c->rx_need = len;
			return p;
		}
		if (avail >= len) {
			memcpy(m->data, p, len);
			p += len;
			m->len = len;
			deliver_frame(c, m);
			continue;
		}
		c->rx = m;
		c->rx_need = len;
		c->rx_have = 0;
	}
	return p;
}

/*
 * Cold: copy [p, p + n) behind c's stash. Held buffers past the spares would
 * take the ring's own: frames half received on other connections (holding
 * messages) could then get no bytes, and nothing would ever come back.
 * false when out of memory.
 */
static bool rx_stash(struct sl_conn *c, const uint8_t *p, uint32_t n)
{
	if (c->stash_len + n > c->stash_cap) {
		uint32_t cap = c->stash_cap ? c->stash_cap : 4096;
		uint8_t *v;

		while (cap < c->stash_len + n)
			cap *= 2;
		v = realloc(c->stash, cap);
		if (!v)
			return false;
		c->stash = v;
		c->stash_cap = cap;
	}
	memcpy(c->stash + c->stash_len, p, n);
	c->stash_len += n;
	return true;
}

/* Keep buffer bid (bytes [off, len) not parsed yet) behind the ones c holds. */
static void rx_hold(struct sl_conn *c, uint32_t bid, uint32_t off, uint32_t len)
{
	struct sl_sshard *ss = c->ss;

	if (c->stash_len || ss->io->nheld >= ss->io->nbufs) {
		/* In order: once bytes are in the stash, later ones follow them there. */
		bool ok = rx_stash(c, sl_uring_buf(ss->io, bid) + off, len - off);

		sl_uring_buf_put(ss->io, bid);
		if (!ok)
			sl_stream_close(c, "no_memory_for_held_bytes");
		return;
	}
	ss->io->nheld++;
	ss->io->blen[bid] = len;
	ss->io->bnext[bid] = SL_BUF_NONE;
	if (c->held_tail == SL_BUF_NONE) {
		c->held_head = bid;
		c->held_off = off;
	} else {
		ss->io->bnext[c->held_tail] = bid;
	}
	c->held_tail = bid;
}

/* Stop reading c until the pool has a message for its next frame. */
static void rx_wait(struct sl_conn *c)
{
	struct sl_sshard *ss = c->ss;

	if (c->mem_wait || c->state != CONN_OPEN)
		return;
	c->mem_wait = true;
	c->wait_next = NULL;
	if (ss->wait_tail)
		ss->wait_tail->wait_next = c;
	else
		ss->wait_head = c;
	ss->wait_tail = c;
	if (c->rx_park)
		NET_STAT_INC(ss, paused_ring);
	else
		NET_STAT_INC(ss, paused_nomem);
	if (c->recv_armed) {
		/* Completions already on their way are held in order behind the rest. */
		sl_uring_cancel(ss->io, UD(UOP_RECV, c->core.gen, c->core.slot));
	}
}

/* Bytes [0, len) of buffer bid arrived for c: parse them, or hold them while c waits. */
static void rx_buf(struct sl_conn *c, uint32_t bid, uint32_t len)
{
	struct sl_sshard *ss = c->ss;
	const uint8_t *p = sl_uring_buf(ss->io, bid), *q;

	if (c->mem_wait) {
		/* Behind bytes still waiting: in order, never before them. */
		rx_hold(c, bid, 0, len);
		return;
	}
	ss->cur_rx = c;
	q = conn_rx(c, p, p + len);
	ss->cur_rx = NULL;
	if (c->state == CONN_OPEN && rx_blocked(c)) {
		if (q < p + len)
			rx_hold(c, bid, (uint32_t)(q - p), len);
		else
			sl_uring_buf_put(ss->io, bid);
		rx_wait(c);
		return;
	}
	sl_uring_buf_put(ss->io, bid);
}

/*
 * c waits for a message and the pool may have one: parse what c holds, oldest
 * first. True when everything held went through (c may read on).
 */
static bool rx_drain(struct sl_conn *c)
{
	struct sl_sshard *ss = c->ss;
	bool done = false;

	ss->cur_rx = c;
	while (c->held_head != SL_BUF_NONE) {
		uint32_t bid = c->held_head;
		const uint8_t *p = sl_uring_buf(ss->io, bid) + c->held_off;
		const uint8_t *end = sl_uring_buf(ss->io, bid) + ss->io->blen[bid];
		const uint8_t *q = conn_rx(c, p, end);

		if (c->state != CONN_OPEN)
			goto out;	/* conn_close let go of every held buffer */
		if (q == end) {
			c->held_head = ss->io->bnext[bid];
			if (c->held_head == SL_BUF_NONE)
				c->held_tail = SL_BUF_NONE;
			c->held_off = 0;
			ss->io->nheld--;
			sl_uring_buf_put(ss->io, bid);
		} else {
			c->held_off += (uint32_t)(q - p);
		}
		if (rx_blocked(c))
			goto out;
	}
	if (c->stash_len) {
		const uint8_t *p = c->stash + c->stash_off, *end = c->stash + c->stash_len;
		const uint8_t *q = conn_rx(c, p, end);

		if (c->state != CONN_OPEN)
			goto out;
		c->stash_off += (uint32_t)(q - p);
		if (c->stash_off < c->stash_len || rx_blocked(c))
			goto out;
		free(c->stash);
		c->stash = NULL;
		c->stash_len = c->stash_off = c->stash_cap = 0;
	}
	/* A frame or a header that came last may still want its ring or its message. */
	if (rx_blocked(c))
		conn_rx(c, NULL, NULL);
	done = c->state == CONN_OPEN && !rx_blocked(c);
out:
	ss->cur_rx = NULL;
	return done;
}

/*
 * Connections waiting for messages, oldest first, once the pool got any
 * back. Bounded: each waiter is looked at once, and parses only what it
 * holds (at most every provided buffer of the shard).
 */
void sl_stream_rx_resume(struct sl_sshard *ss)
{
	struct sl_pool *pool = sl_shard_pool(ss->shard);
	uint64_t frees = sl_pool_frees_local(pool);
	struct sl_conn *c, *next;

	/* Ring room shows nowhere cheaper: parked frames are tried every time. */
	if (!ss->wait_head || (frees == ss->wait_frees && !ss->nparked))
		return;
	ss->wait_frees = frees;
	c = ss->wait_head;
	ss->wait_head = ss->wait_tail = NULL;
	for (; c; c = next) {
		next = c->wait_next;
		c->wait_next = NULL;
		/* Off the list while it runs: a close in there has nothing to unlink. */
		c->mem_wait = false;
		if (c->state == CONN_OPEN &&
		    (c->rx_park || sl_pool_room_local(pool, c->rx_pend ? c->rx_need : 0)) &&
		    rx_drain(c)) {
			if (c->rx_eof)
				sl_stream_close(c, "eof");
			else
				sl_stream_flush_later(c);	/* re-arms its receive */
			continue;
		}
		if (c->state != CONN_OPEN)
			continue;
		/* Still waiting: back in line, in the same order. */
		c->mem_wait = true;
		if (ss->wait_tail)
			ss->wait_tail->wait_next = c;
		else
			ss->wait_head = c;
		ss->wait_tail = c;
	}
}

/* Receives that ended for want of a buffer: re-armed, oldest first, as buffers come back. */
void sl_stream_rx_rearm_nobuf(struct sl_sshard *ss)
{
	unsigned n = ss->io->in_ring;

	while (ss->nobuf_head && n--) {
		struct sl_conn *c = ss->nobuf_head;

		ss->nobuf_head = c->nobuf_next;
		if (!ss->nobuf_head)
			ss->nobuf_tail = NULL;
		c->nobuf_next = NULL;
		c->nobuf = false;
		sl_stream_flush_later(c);
	}
}

static void on_recv(struct sl_sshard *ss, struct sl_conn *c, struct io_uring_cqe *cqe)
{
	bool more = cqe->flags & IORING_CQE_F_MORE;
	int res = cqe->res;

	if (!more) {
		c->recv_armed = false;
		c->core.ops--;
	}
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		uint32_t bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

		if (res > 0 && c->state == CONN_OPEN) {
			NET_STAT_ADD(ss, rx_bytes, (uint64_t)res);
			c->rx_seen += (uint64_t)res;
			rx_buf(c, bid, (uint32_t)res);
		} else {
			sl_uring_buf_put(ss->io, bid);
		}
	}
	if (c->state == CONN_CLOSING) {
		sl_stream_finalize(c);
		return;
	}
	if (res == 0) {
		if (c->mem_wait) {
			/* Bytes before the EOF are still held: close once they went through. */
			c->rx_eof = true;
			return;
		}
		sl_stream_close(c, "eof");
		return;
	}
	if (res < 0) {
		if (res == -ENOBUFS) {
			/* Every buffer was in use: the data waits in the socket until some come back. */
			NET_STAT_INC(ss, nobufs);
			if (!c->nobuf && !c->mem_wait) {
				c->nobuf = true;
				c->nobuf_next = NULL;
				if (ss->nobuf_tail)
					ss->nobuf_tail->nobuf_next = c;
				else
					ss->nobuf_head = c;
				ss->nobuf_tail = c;
			}
			return;
		}
		if (res == -ECANCELED) {
			/* We stopped it (backpressure); the flush re-arms once we may read again. */
			sl_stream_flush_later(c);
			return;
		}
		sl_stream_close(c, strerror(-res));
		return;
	}
	if (!more) {
		sl_stream_flush_later(c);
	} else if (!c->direct && !c->mem_wait && c->state == CONN_OPEN && c->rx &&
		   c->rx_need - c->rx_have >= DIRECT_MIN) {
		/* A large frame: stop the multishot; its last completion arms a direct receive. */
		struct io_uring_sqe *sqe = sl_uring_sqe(ss->io);

		if (sqe) {
			c->direct = true;
			io_uring_prep_cancel64(sqe, UD(UOP_RECV, c->core.gen, c->core.slot), 0);
			io_uring_sqe_set_data64(sqe, UD(UOP_CANCEL, 0, 0));
		}
	}
}

/* n received bytes that no message holds yet: parsed now, or kept in order behind a block. */
static void rx_feed(struct sl_conn *c, const uint8_t *p, uint32_t n)
{
	const uint8_t *q;

	if (!n || c->state != CONN_OPEN)
		return;
	q = rx_blocked(c) ? p : conn_rx(c, p, p + n);
	if (c->state == CONN_OPEN && q < p + n && !rx_stash(c, q, (uint32_t)(p + n - q)))
		sl_stream_close(c, "no_memory_for_held_bytes");
}

/*
 * The whole header of the next frame came in dhdr and says it has the size
 * guessed: the guessed message becomes its message (already valid: the
 * same size passed the checks a frame ago), with no message allocated for
 * it by the parser only to be freed.
 */
static bool spec_fits(const struct sl_conn *c, uint32_t h, uint32_t guess)
{
	return h == sizeof(c->dhdr) && !c->hdr_have && c->state == CONN_OPEN &&
	       !rx_blocked(c) && frame_len(c->dhdr) == guess;
}

/* A direct receive completed: res bytes of the frame in progress, dhdr, spec, dhdr2. */
static void on_recv_direct(struct sl_sshard *ss, struct sl_conn *c, int res)
{
	struct sl_msg *spec = c->spec;
	uint32_t k = 0, left, guess = c->rx ? c->rx_need : 0, h;
	const struct iovec *hv = &c->riov[c->rx ? 1 : 0];	/* where dhdr went */
	bool adopted = false;

	c->spec = NULL;
	c->recv_armed = c->direct_armed = false;
	c->core.ops--;
	if (c->state == CONN_CLOSING) {
		sl_msg_free(spec);
		sl_stream_finalize(c);
		return;
	}
	if (res <= 0) {
		sl_msg_free(spec);
		if (res == -ECANCELED || res == -EINTR || res == -EAGAIN)
			sl_stream_flush_later(c);	/* stopped for backpressure, or nothing yet */
		else
			sl_stream_close(c, res ? strerror(-res) : "eof");
		return;
	}
	NET_STAT_ADD(ss, rx_bytes, (uint64_t)res);
	NET_STAT_INC(ss, rx_direct);
	c->rx_seen += (uint64_t)res;
	ss->cur_rx = c;
	if (c->rx) {
		k = c->rx_need - c->rx_have;
		if (k > (uint32_t)res)
			k = (uint32_t)res;
		c->rx_have += k;
		rx_deliver_if_whole(c);
	}
	/* The kernel filled the iovecs in order: a short header ends the bytes. */
	left = (uint32_t)res - k;
	h = left < (uint32_t)hv->iov_len ? left : (uint32_t)hv->iov_len;
	if (spec && spec_fits(c, h, guess)) {
		c->rx = spec;
		c->rx_need = guess;
		c->rx_have = 0;
		spec = NULL;
		adopted = true;
	} else {
		rx_feed(c, c->dhdr, h);
	}
	left -= h;
	if (adopted || spec) {
		/* up to guess bytes of the next frame, then up to a header in dhdr2 */
		uint32_t b = left < guess ? left : guess;

		if (spec) {
			/* a wrong guess: its bytes go through the parser like any others */
			rx_feed(c, spec->data, b);
			sl_msg_free(spec);
		} else {
			c->rx_have = b;
			rx_deliver_if_whole(c);
		}
		rx_feed(c, c->dhdr2, left - b);
	}
	ss->cur_rx = NULL;
	if (c->state != CONN_OPEN)
		return;
	if (rx_blocked(c))
		rx_wait(c);
	else
		sl_stream_flush_later(c);
}

void sl_stream_on_recv(struct sl_sshard *ss, struct sl_conn *c, struct io_uring_cqe *cqe)
{
	if (c->direct_armed)
		on_recv_direct(ss, c, cqe->res);
	else
		on_recv(ss, c, cqe);
}
