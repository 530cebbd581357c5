/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The io_uring transports: one io_uring per shard, created on the shard's
 * thread (SINGLE_ISSUER + DEFER_TASKRUN when the kernel has them), carrying
 * the TCP and Unix-socket (UDS) stream transports of PROTOCOL.md 3.
 *
 * Public part (tools/, tests, benches): sl_net_*. The rest of this header is
 * shared by uring.c, tcp.c and uds.c only.
 */
#ifndef SL_URING_H
#define SL_URING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/node.h"

struct sl_net;

struct sl_net_config {
	unsigned sq_entries;	/* per shard, 0 = 1024 */
	unsigned buf_size;	/* provided receive buffers, 0 = 64 KiB */
	unsigned buf_count;	/* ring entries, power of two, 0 = 64; as many again are spares */
	unsigned max_conns;	/* per shard, 0 = 16384 (an elastic relay node holds 10,000+) */
	size_t sendq_high;	/* queued bytes on a connection that pause its feeders, 0 = 4 MiB */
	size_t sendq_max;	/* queued bytes past which messages are dropped, 0 = 64 MiB */
};

struct sl_net_stats {
	uint64_t rx_frames, tx_frames;
	uint64_t rx_bytes, tx_bytes;
	uint64_t sendmsg_calls;		/* batched: tx_frames / sendmsg_calls frames each */
	uint64_t conns_accepted, conns_connected, conns_closed;
	uint64_t heartbeats;		/* empty onward route, dropped */
	uint64_t drop_sendq;		/* connection queue over sendq_max */
	uint64_t drop_noconn;		/* queued on a connection that failed */
	uint64_t proto_errors;		/* bad version byte, oversized or malformed frame */
	uint64_t stale_cqes;		/* completions for a closed, reused slot */
	uint64_t paused;		/* times a connection stopped reading (backpressure) */
	uint64_t paused_nomem;		/* ... because the shard's pool had no message for a frame */
	uint64_t paused_ring;		/* ... because the ring to the frame's shard was full */
	uint64_t nobufs;		/* receives ended for want of a provided buffer (re-armed later) */
	uint64_t rx_direct;		/* receives straight into a large frame's message */
};

/*
 * Cold. Registers the io ops and the TCP (1) and UDS (5) transports with n,
 * which must not be started yet. NULL on failure (errno set).
 */
struct sl_net *sl_net_create(struct sl_node *n, const struct sl_net_config *cfg);
/*
 * Cold, before sl_node_start: listen on "host:port" (port 0 = ephemeral),
 * one SO_REUSEPORT socket per shard on the same port. *port = bound port.
 */
int sl_net_listen_tcp(struct sl_net *t, const char *hostport, uint16_t *port);
/* Cold, before sl_node_start: a Unix socket listener at path, mode 0600, on shard 0. */
int sl_net_listen_uds(struct sl_net *t, const char *path);
/* Cold, after sl_node_join: close the listeners, unlink the UDS path, free. */
void sl_net_destroy(struct sl_net *t);
/* Sum over shards (relaxed reads; any thread). */
void sl_net_stats(const struct sl_net *t, struct sl_net_stats *out);
/* Whether this kernel lets us create an io_uring at all (tests skip otherwise). */
bool sl_uring_available(void);

/* ---- transports-internal ---- */
#ifdef SL_URING_INTERNAL

#include <liburing.h>
#include <sys/socket.h>

#include "engine/shard.h"

enum sl_uop {
	UOP_WAKE = 1,
	UOP_ACCEPT,
	UOP_RECV,
	UOP_SEND,
	UOP_CONNECT,
	UOP_CANCEL,
	UOP_POLLOUT,		/* a send found the socket full: wait for room */
	/* Portal sockets (portal.c): every op from here on is theirs. */
	UOP_PORTAL_ACCEPT,
	UOP_PORTAL_RECV,
	UOP_PORTAL_SEND,
	UOP_PORTAL_CONNECT,
	UOP_PORTAL_POLLOUT,	/* a send found the socket full: wait for room */
};

/*
 * user_data = op (8 bits) | generation (24 bits) | slot (32 bits). A slot's
 * generation changes when the connection in it is freed, so a completion
 * that arrives for an older occupant is recognised and dropped.
 */
#define UD(op, gen, slot) (((uint64_t)(op) << 56) | ((uint64_t)((gen) & 0xffffff) << 32) | (uint32_t)(slot))
#define UD_OP(ud) ((unsigned)((ud) >> 56))
#define UD_GEN(ud) ((uint32_t)(((ud) >> 32) & 0xffffff))
#define UD_SLOT(ud) ((uint32_t)(ud))

#define SL_IOV_MAX 256		/* frames per sendmsg */
#define SL_PEER_BUCKETS 256
#define SL_LISTENERS 2		/* TCP, UDS */

enum sl_conn_state {
	CONN_CONNECTING = 1,
	CONN_OPEN,
	CONN_CLOSING,		/* waiting for the kernel to give back its ops */
};

struct sl_ushard;

struct sl_conn {
	struct sl_ushard *u;
	int fd;
	uint32_t slot, gen;
	uint8_t type;		/* SL_ADDR_TCP or SL_ADDR_UDS */
	uint8_t state;
	bool outgoing;
	bool ver_rx;		/* the peer's version byte was seen */
	bool ver_tx;		/* ours is still to be sent */
	bool ver_busy;		/* ... and is in the current sendmsg */
	bool recv_armed, send_busy, on_flush, paused;
	unsigned ops;		/* submissions the kernel still holds */

	/* Receive: a frame header split across buffers, or a frame body in progress. */
	uint8_t hdr[4];
	uint8_t hdr_have;
	struct sl_msg *rx;
	uint32_t rx_need, rx_have;

	/*
	 * Waiting for a message (the pool was at its cap): rx_pend says the
	 * header of an rx_need-byte frame was read but its message is still to
	 * come; the bytes not yet parsed stay in the provided buffers they came
	 * in (held_head.., oldest first, held_off bytes of the first done) and,
	 * once the shard's spare buffers are all held, in a copy behind them
	 * (stash: cold, only past that point, bounded by what was in flight
	 * when the receive was cancelled).
	 */
	bool rx_pend;
	struct sl_msg *rx_park;	/* a whole frame whose next shard's ring was full */
	bool mem_wait;		/* on u->wait_head (for a message, or for ring room) */
	bool nobuf;		/* on u->nobuf_head: the receive ended for want of a buffer */
	bool rx_eof;		/* the peer's EOF came behind held bytes */
	/*
	 * Direct receives (tcp.c): a large frame's body goes from the socket
	 * straight into its message, its successor's header into dhdr, with
	 * one recvmsg and no copy out of a provided buffer; the same recvmsg
	 * reads the successor too, into spec, guessing it has the same size.
	 */
	bool direct;		/* receiving this way (or stopping the multishot to) */
	bool direct_armed;	/* the receive in flight is a direct one */
	uint8_t dhdr[4], dhdr2[4];
	struct sl_msg *spec;	/* a guess at the next frame's message (same size) */
	struct msghdr rmh;
	struct iovec riov[4];
	uint32_t held_head, held_tail, held_off;
	uint8_t *stash;
	uint32_t stash_len, stash_off, stash_cap;
	struct sl_conn *wait_next;
	struct sl_conn *nobuf_next;

	/* Send queue: frames (m->data/len = the whole frame), oldest first. */
	struct sl_msg *q_head, *q_tail;
	size_t q_bytes;
	unsigned busy_n;	/* first busy_n frames are in the kernel */
	struct msghdr mh;
	struct iovec iov[SL_IOV_MAX + 1];

	struct sl_conn *flush_next;
	/* Backpressure: the connection whose full queue paused us. */
	struct sl_conn *bp_next;
	uint32_t bp_slot, bp_gen;

	/* Outgoing connections, by address. */
	struct sl_conn *pnext;
	uint8_t key_len;
	char key[SL_ADDR_BODY_MAX + 1];
	struct sockaddr_storage sa;
	socklen_t salen;

	struct sl_worker w;	/* the connection's local address (return routes) */
};

struct sl_pshard;

struct sl_ushard {
	struct io_uring ring;
	bool ring_ok;
	struct sl_net *net;
	struct sl_shard *shard;

	int efd;
	uint64_t efd_buf;
	bool efd_armed;

	/*
	 * Provided receive buffers: nbufs ring entries, nbufs spares more.
	 * A buffer the kernel filled comes back to the spare stack when parsed,
	 * or stays with a connection waiting for a message (held); the ring is
	 * topped up from the spares, so held buffers do not starve the others
	 * until more than nbufs are held.
	 */
	struct io_uring_buf_ring *br;
	uint8_t *bufs;
	unsigned nbufs, bufsz, bmask;
	unsigned in_ring;		/* buffers the kernel may pick */
	unsigned nheld;			/* buffers connections hold, at most nbufs */
	uint32_t *spare, nspare;	/* stack of buffer ids */
	uint32_t *bnext, *blen;		/* per buffer id: next held, bytes in it */

	struct sl_conn **conns;
	uint32_t *gens;
	uint32_t *free_slots;
	unsigned nfree, max_conns;

	struct sl_conn *flush_head;
	struct sl_conn *paused_head;
	/* Connections waiting for messages, and receives waiting for buffers: oldest first. */
	struct sl_conn *wait_head, *wait_tail;
	struct sl_conn *nobuf_head, *nobuf_tail;
	uint64_t wait_frees;		/* the pool's free count when the waiters last tried */
	unsigned nparked;		/* waiters with a frame for a full ring: try each turn */
	struct sl_conn *peers[SL_PEER_BUCKETS];
	struct sl_conn *cur_rx;
	struct sl_pshard *portal;	/* portal sockets (portal.c), made on first use */
	bool portal_nobuf;		/* portal receives wait for pool messages (portal.c) */

	int lfd[SL_LISTENERS];
	uint8_t ltype[SL_LISTENERS];
	bool accept_armed[SL_LISTENERS];

	uint64_t log_next_ns;
	struct sl_net_stats *st;	/* in sl_net, so it outlives the shard */
};

struct sl_net {
	struct sl_node *node;
	struct sl_net_config cfg;
	struct sl_ushard **us;		/* per shard, set on each shard's thread */
	int *tcp_fds;			/* per shard, SO_REUSEPORT group */
	int uds_fd;
	char uds_path[108];
	struct sl_net_stats *stats;	/* per shard */
	/*
	 * Doorbells, per shard: owned here, not by the shard's ring state, so a
	 * producer ringing a shard that is just stopping never writes to a
	 * closed (or reused) fd. Closed in sl_net_destroy, after join.
	 */
	int *efds;
};

/* Single-writer counters read by other threads: relaxed, no lock prefix. */
#define NET_STAT_ADD(u, f, n) __atomic_store_n(&(u)->st->f, (u)->st->f + (n), __ATOMIC_RELAXED)
#define NET_STAT_INC(u, f) NET_STAT_ADD(u, f, 1)

/* uring.c */
struct io_uring_sqe *sl_uring_sqe(struct sl_ushard *u);
void sl_uring_flush_later(struct sl_conn *c);
#define SL_BUF_NONE UINT32_MAX
static inline uint8_t *sl_uring_buf(struct sl_ushard *u, uint32_t bid)
{
	return u->bufs + (size_t)bid * u->bufsz;
}
/* A provided buffer is ours again (parsed, or let go): onto the spare stack. */
static inline void sl_uring_buf_put(struct sl_ushard *u, uint32_t bid)
{
	u->spare[u->nspare++] = bid;
}
/* Top the kernel's ring up from the spares (one tail store). */
void sl_uring_bufs_publish(struct sl_ushard *u);

/* tcp.c */
void sl_stream_cqe(struct sl_ushard *u, struct io_uring_cqe *cqe);
void sl_stream_flush(struct sl_ushard *u);
void sl_stream_shard_stop(struct sl_ushard *u);
void sl_stream_arm_accept(struct sl_ushard *u, unsigned l);
void sl_tcp_send(void *ctx, struct sl_shard *s, struct sl_msg *m);
void sl_uds_send(void *ctx, struct sl_shard *s, struct sl_msg *m);
/* Open an outgoing connection for address (type, body) on u. NULL when it cannot. */
struct sl_conn *sl_stream_connect(struct sl_ushard *u, uint8_t type, const uint8_t *body,
				  size_t len, const struct sockaddr *sa, socklen_t salen);
struct sl_conn *sl_stream_peer(struct sl_ushard *u, uint8_t type, const uint8_t *body, size_t len);
/* Queue m (onward route already past this hop) on c; takes ownership. */
void sl_stream_enqueue(struct sl_ushard *u, struct sl_conn *c, struct sl_msg *m);
void sl_stream_set_sockopts(int fd, uint8_t type);
void sl_net_log_rl(struct sl_ushard *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "host:port" -> sockaddr (numeric in place; a name through getaddrinfo, cold). 0 or -errno. */
int sl_stream_resolve(struct sl_ushard *u, const uint8_t *body, size_t len,
		      struct sockaddr_storage *ss, socklen_t *sl);

/* pacing.c: a TCP socket with a loopback peer leaves BBR (true when it did). */
bool sl_sock_unpace_loopback(int fd);

/* portal.c */
void sl_portal_cqe(struct sl_ushard *u, struct io_uring_cqe *cqe);
void sl_portal_flush(struct sl_ushard *u);
void sl_portal_shard_stop(struct sl_ushard *u);

#endif /* SL_URING_INTERNAL */
#endif
