/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The connection core that stream links (tcp.c) and portal sockets
 * (portal.c) embed: a socket in a shard's ring with a bounded queue of
 * sl_msg frames sent by batched sendmsg (sendq.c), waiting for room when
 * the socket is full, and the per-shard SO_REUSEPORT multishot accept
 * listeners both set up (listener.c). Internal to transports/.
 *
 * What differs between the two (link frames vs raw portal bytes, the
 * version byte in a link's first sendmsg, feeders paused by a full queue,
 * a portal's credits and half close) stays with the embedder, behind the
 * callbacks below: called once per send completion, never per frame.
 */
#ifndef SL_TRANSPORTS_CONN_H
#define SL_TRANSPORTS_CONN_H

#include "transports/uring.h"

struct sl_conn_core;

struct sl_conn_cb {
	/* Put the connection on its shard's flush list (sends again at the flush). */
	void (*flush_later)(struct sl_conn_core *k);
	/*
	 * res bytes went out (with the lead byte, if any), `frames` whole frames
	 * left the queue and are freed, `merged` more of them inside merged
	 * buffers (counted when a send after their merge completes); the queue
	 * is flushed again already if it holds more.
	 */
	void (*sent)(struct sl_conn_core *k, size_t res, unsigned frames, unsigned merged);
	/* The send failed (res < 0, or 0 with zero_fails): the queue past the kernel's is the embedder's to drop. */
	void (*failed)(struct sl_conn_core *k, int res);
	/* A send or poll completed on a dead connection: its queue was dropped (`dropped` frames). */
	void (*gone)(struct sl_conn_core *k, unsigned dropped);
};

struct sl_conn_core {
	struct sl_ushard *io;
	const struct sl_conn_cb *cb;
	int fd;
	uint32_t slot, gen;
	unsigned ops;		/* submissions the kernel still holds */
	uint8_t op_send, op_pollout;	/* the embedder's op codes (its class) */
	bool send_busy;		/* a sendmsg or a poll for room is in the kernel */
	bool dead;		/* going: nothing more is sent, completions give back */
	bool zero_fails;	/* a send of 0 bytes is an error (links), not a retry */
	bool lead_busy;		/* the lead byte is in the current sendmsg */

	/* Send queue: frames (m->data/len = what goes out), oldest first. */
	struct sl_msg *q_head, *q_tail;
	size_t q_bytes;
	unsigned busy_n;	/* the first busy_n frames are in the kernel */
	unsigned merged;	/* frames copied into one buffer, not yet counted as sent */
	unsigned iov_max;	/* frames per sendmsg */
	unsigned iov_cap;	/* frames iov holds now (iov_max once grown) */
	struct msghdr mh;
	/*
	 * The embedder's iov_cap entries (one more if a lead byte is sent), or
	 * iov_big: grown to iov_max once a batch has more frames, so a connection
	 * that only ever sends a few at a time (a relay registrant) stays small.
	 */
	struct iovec *iov;
	struct iovec *iov_big;
};

/* sendq.c */
/* iov: iov_cap entries (+1 for a lead byte); grown to iov_max on demand (iov_cap == iov_max: never). */
void sl_conn_init(struct sl_conn_core *k, struct sl_ushard *io, const struct sl_conn_cb *cb, int fd,
		  uint8_t op_send, uint8_t op_pollout, struct iovec *iov, unsigned iov_cap,
		  unsigned iov_max);
/* What init and the sends allocated: once the connection is gone. */
void sl_conn_fini(struct sl_conn_core *k);

/* Queue m (m->data/len: the bytes to send); takes ownership. */
static inline void sl_sendq_push(struct sl_conn_core *k, struct sl_msg *m)
{
	m->next = NULL;
	if (k->q_tail)
		k->q_tail->next = m;
	else
		k->q_head = m;
	k->q_tail = m;
	k->q_bytes += m->len;
}

/* Free the queue past its first `keep` frames (the kernel's until their completion). Frames freed. */
unsigned sl_sendq_drop(struct sl_conn_core *k, unsigned keep);
/*
 * One sendmsg of up to iov_max queued frames, behind *lead if not NULL (a
 * single byte). False when a send is in the kernel already, nothing is to
 * go, or the ring had no room (the caller's next flush tries again).
 */
bool sl_conn_send(struct sl_conn_core *k, const uint8_t *lead);
/* The completions of k's sendmsg and of its poll for room. */
void sl_conn_on_send(struct sl_conn_core *k, int res);
void sl_conn_on_writable(struct sl_conn_core *k);

/* listener.c */
struct sl_acceptor {
	int fd;			/* a listening socket, this shard's of its group */
	uint32_t gen;		/* the embedder's, when it reuses acceptor slots */
	bool armed;		/* a multishot accept is in the kernel */
	bool drains;		/* TCP: stops with sl_net_stop_accepting() (not the UDS) */
};

/* Arm a's multishot accept, user_data UD(op, a->gen, idx). */
void sl_accept_arm(struct sl_ushard *io, struct sl_acceptor *a, unsigned op, uint32_t idx);
/*
 * A completion of a's accept: the accepted fd, or -1 (an error, logged as
 * `event`, or the cancel). When the multishot ended, a is unarmed: the
 * embedder's flush re-arms it.
 */
int sl_accept_done(struct sl_ushard *io, struct sl_acceptor *a, const struct io_uring_cqe *cqe,
		   const char *event);

/*
 * Cold: a listening socket per shard on the same port (SO_REUSEPORT), so
 * the kernel spreads clients over the shards by 4-tuple hash and each
 * connection lives where it was accepted. fds[i] for shard i in [0, ns),
 * or for shard home only (home >= 0); the others -1. first_alone: the
 * first binds without SO_REUSEPORT (refused if another process holds the
 * port), then lets the others join. *port: the bound port. 0 or -errno (no
 * socket left open).
 */
int sl_listen_group_cold(const struct sockaddr_storage *sa, socklen_t salen, unsigned ns,
			 int home, int backlog, bool first_alone, int *fds, uint16_t *port);

#endif
