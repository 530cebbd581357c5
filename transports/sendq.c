// SPDX-License-Identifier: Apache-2.0
/*
 * A connection's send queue: frames leave in batches, one sendmsg of up to
 * iov_max frames at a time (runs of small ones first merged into one
 * buffer, merge_small); a short send leaves the rest of its frame at
 * the head (data/len advanced) to go first next time; a full socket is
 * waited on with a POLLOUT op, after which sending resumes. One completion
 * per batch: the embedder's callbacks run once per completion, not per
 * frame.
 */
#define SL_URING_INTERNAL
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "transports/conn.h"

void sl_conn_init(struct sl_conn_core *k, struct sl_ushard *io, const struct sl_conn_cb *cb, int fd,
		  uint8_t op_send, uint8_t op_pollout, struct iovec *iov, unsigned iov_cap,
		  unsigned iov_max)
{
	k->io = io;
	k->cb = cb;
	k->fd = fd;
	k->op_send = op_send;
	k->op_pollout = op_pollout;
	k->iov = iov;
	k->iov_cap = iov_cap;
	k->iov_max = iov_max;
	k->mh.msg_iov = iov;
}

void sl_conn_fini(struct sl_conn_core *k)
{
	free(k->iov_big);
	k->iov_big = NULL;
}

/* Cold, once per connection at most: room for iov_max frames, the used entries kept. */
static bool iov_grow(struct sl_conn_core *k, unsigned used)
{
	struct iovec *big;

	if (k->iov_cap == k->iov_max)
		return false;
	big = malloc((k->iov_max + 1) * sizeof(*big));
	if (!big) {
		k->iov_max = k->iov_cap;	/* send in small batches, and stop asking */
		return false;
	}
	memcpy(big, k->iov, used * sizeof(*big));
	k->iov = k->iov_big = big;
	k->iov_cap = k->iov_max;
	k->mh.msg_iov = big;
	return true;
}

unsigned sl_sendq_drop(struct sl_conn_core *k, unsigned keep)
{
	struct sl_msg *m = k->q_head, *prev = NULL;
	unsigned i = 0, n = k->merged;	/* a merged buffer dropped counts as its frames (about) */

	/* The first `keep` frames belong to the kernel until their completion. */
	while (m && i < keep) {
		prev = m;
		m = m->next;
		i++;
	}
	if (prev)
		prev->next = NULL;
	else
		k->q_head = NULL;
	k->q_tail = prev;
	while (m) {
		struct sl_msg *next = m->next;

		k->q_bytes -= m->len;
		sl_msg_free(m);
		m = next;
		n++;
	}
	k->merged = 0;
	return n;
}

/*
 * Runs of small frames in what the next sendmsg takes, each copied into one
 * buffer: the kernel then copies one iovec per run instead of one per
 * ~150-byte frame, and their 2 KiB pool slots go back at once. Only between
 * sends (nothing of the queue is in the kernel), and a run stays as it is
 * when the pool has no buffer to spare.
 */
#define MERGE_FRAME_MAX 512u	/* frames up to this size are copied */
#define MERGE_MIN 4u		/* at least this many in a row, or it is not worth a copy */

static void merge_small(struct sl_conn_core *k)
{
	struct sl_msg **link = &k->q_head, *m, *c, *next;
	unsigned entries = 0;

	while (*link && entries < k->iov_max) {
		size_t bytes = 0;
		unsigned n = 0;

		for (m = *link; m && m->len <= MERGE_FRAME_MAX && bytes + m->len <= SL_POOL_MID;
		     m = m->next) {
			bytes += m->len;
			n++;
		}
		if (n < MERGE_MIN || !(c = sl_msg_alloc(bytes))) {
			/* a large frame, a short run or no buffer: they go as they are */
			for (n = n ? n : 1; n-- && *link; entries++)
				link = &(*link)->next;
			continue;
		}
		for (m = *link; n--; m = next) {
			next = m->next;
			memcpy(c->data + c->len, m->data, m->len);
			c->len += m->len;
			sl_msg_free(m);
			k->merged++;
		}
		k->merged--;	/* c itself is counted as the frame that went */
		c->next = m;
		*link = c;
		if (!m)
			k->q_tail = c;
		link = &c->next;
		entries++;
	}
}

bool sl_conn_send(struct sl_conn_core *k, const uint8_t *lead)
{
	struct io_uring_sqe *sqe;
	struct sl_msg *m;
	unsigned i = 0, n = 0;

	if (k->send_busy || (!k->q_head && !lead))
		return false;
	sqe = sl_uring_sqe(k->io);
	if (!sqe)
		return false;
	if (k->q_head && k->q_head->next)
		merge_small(k);
	if (lead) {
		k->iov[i].iov_base = (void *)lead;
		k->iov[i++].iov_len = 1;
		k->lead_busy = true;
	}
	for (m = k->q_head; m && n < k->iov_max; m = m->next, n++) {
		if (n == k->iov_cap && !iov_grow(k, i))
			break;
		k->iov[i].iov_base = m->data;
		k->iov[i++].iov_len = m->len;
	}
	k->mh.msg_iovlen = i;
	k->busy_n = n;
	/* The kernel owns these frames until the completion. */
	io_uring_prep_sendmsg(sqe, k->fd, &k->mh, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, UD(k->op_send, k->gen, k->slot));
	k->send_busy = true;
	k->ops++;
	return true;
}

/* A poll for room: send_busy stays set so nothing else sends until it completes. */
static void wait_writable(struct sl_conn_core *k)
{
	struct io_uring_sqe *sqe = sl_uring_sqe(k->io);

	if (!sqe) {
		k->cb->flush_later(k);	/* no submission room now: the next turn sends again */
		return;
	}
	io_uring_prep_poll_add(sqe, k->fd, POLLOUT);
	io_uring_sqe_set_data64(sqe, UD(k->op_pollout, k->gen, k->slot));
	k->send_busy = true;
	k->ops++;
}

void sl_conn_on_writable(struct sl_conn_core *k)
{
	k->ops--;
	k->send_busy = false;
	if (k->dead) {
		k->cb->gone(k, sl_sendq_drop(k, 0));
		return;
	}
	/* Room, an error or a cancel: the next send (or the close) finds out which. */
	k->cb->flush_later(k);
}

void sl_conn_on_send(struct sl_conn_core *k, int res)
{
	unsigned frames = 0, merged;
	size_t left;

	k->ops--;
	k->send_busy = false;
	if (k->dead) {
		/* Frames the kernel held are ours again; nobody will send them now. */
		k->busy_n = 0;
		k->lead_busy = false;
		k->cb->gone(k, sl_sendq_drop(k, 0));
		return;
	}
	if (res == -EAGAIN || res == -EINTR) {
		/*
		 * Not an error: the socket is non-blocking and still full (a peer
		 * reading slower than we write, under load: io_uring's own poll
		 * retries of a send are bounded, then it completes with -EAGAIN).
		 * Wait for room, the queue as it is: closing here lost every frame
		 * queued to that peer.
		 */
		k->busy_n = 0;
		k->lead_busy = false;
		wait_writable(k);
		return;
	}
	if (res < 0 || (!res && k->zero_fails)) {
		k->busy_n = 0;
		k->lead_busy = false;
		k->cb->failed(k, res);
		return;
	}
	left = (size_t)res;
	if (k->lead_busy) {
		/* The lead byte went first: res > 0 covers it. */
		k->lead_busy = false;
		left--;
	}
	while (left && k->q_head) {
		struct sl_msg *m = k->q_head;

		if (left < m->len) {
			/* Short send: the rest of this frame goes first next time. */
			m->data += left;
			m->len -= (uint32_t)left;
			k->q_bytes -= left;
			break;
		}
		left -= m->len;
		k->q_bytes -= m->len;
		k->q_head = m->next;
		if (!k->q_head)
			k->q_tail = NULL;
		sl_msg_free(m);
		frames++;
	}
	k->busy_n = 0;
	if (k->q_head)
		k->cb->flush_later(k);
	merged = k->merged;
	k->merged = 0;
	k->cb->sent(k, (size_t)res, frames, merged);
}
