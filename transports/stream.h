/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stream links (tcp.c, and Unix sockets through uds.c): the connections of
 * PROTOCOL.md 3 between nodes, one op class on each shard's ring. Internal
 * to transports/ (SL_URING_INTERNAL).
 */
#ifndef SL_TRANSPORTS_STREAM_H
#define SL_TRANSPORTS_STREAM_H

#include "engine/timer.h"
#include "transports/conn.h"

/* The stream links' op class, and their ops within it. */
#define SL_UCLASS_STREAM 1
enum {
	UOP_ACCEPT = SL_UOP(SL_UCLASS_STREAM, 1),
	UOP_RECV = SL_UOP(SL_UCLASS_STREAM, 2),
	UOP_SEND = SL_UOP(SL_UCLASS_STREAM, 3),
	UOP_CONNECT = SL_UOP(SL_UCLASS_STREAM, 4),
	UOP_POLLOUT = SL_UOP(SL_UCLASS_STREAM, 5),	/* a send found the socket full: wait for room */
};

#define SL_PEER_BUCKETS 256
#define SL_LISTENERS 2		/* TCP, UDS */

enum sl_conn_state {
	CONN_CONNECTING = 1,
	CONN_OPEN,
	CONN_CLOSING,		/* waiting for the kernel to give back its ops */
};

struct sl_sshard;

struct sl_conn {
	/* fd, slot, generation, ops the kernel holds, the send queue (conn.h) */
	struct sl_conn_core core;
	struct sl_sshard *ss;
	uint8_t type;		/* SL_ADDR_TCP or SL_ADDR_UDS */
	uint8_t state;
	bool outgoing;
	bool ver_rx;		/* the peer's version byte was seen */
	bool ver_tx;		/* ours is still to be sent (the lead of the next sendmsg) */
	bool recv_armed, on_flush, paused;
	int32_t src_bucket;	/* an accepted TCP connection's count (conn_limit.c), -1 = none */

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
	bool mem_wait;		/* on ss->wait_head (for a message, or for ring room) */
	bool nobuf;		/* on ss->nobuf_head: the receive ended for want of a buffer */
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
	/* Idle partial frames (rx_idle.c): bytes received, as the last sweep saw them. */
	uint64_t rx_seen, idle_seen;
	uint16_t idle_sweeps;	/* sweeps in a row that found the same partial frame */
	bool routed;		/* a frame of the peer's went to the router (idle-timeout) */
	uint64_t opened_ns;	/* when it was accepted or dialled */
	uint64_t rx_any_seen;	/* rx_seen at the sweep that last saw it change (idle-timeout-any) */
	uint64_t rx_any_ns;	/* ... and when, or opened_ns */

	/*
	 * The send queue's sendmsg: a frame each, behind the version byte in the
	 * first. Grown to SL_IOV_MAX frames on the heap when a batch needs it.
	 */
	struct iovec iov[SL_IOV_INLINE + 1];

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

/* The stream links of one shard (the class's per-shard state). */
struct sl_sshard {
	struct sl_ushard *io;		/* the shard's ring and receive buffers */
	struct sl_shard *shard;
	struct sl_net *net;
	struct sl_net_stats *st;

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

	struct sl_acceptor lst[SL_LISTENERS];	/* fd -1: none */
	uint8_t ltype[SL_LISTENERS];

	struct sl_timer idle_timer;	/* the idle partial-frame sweep (rx_idle.c) */
	struct sl_timer share_timer;	/* a fair-share epoch's end: paused connections go on */
	uint64_t idle_period_ns;
	unsigned frame_sweeps;		/* sweeps of one partial frame that make frame_timeout_ns */
};

/* The stream links of a net (the class's context): the listening sockets. */
struct sl_streams {
	unsigned ns;			/* shards */
	int *tcp_fds;			/* per shard, SO_REUSEPORT group */
	int uds_fd;
	char uds_path[108];
};

static inline struct sl_sshard *sl_stream_shard(const struct sl_shard *s)
{
	struct sl_ushard *u = sl_shard_io(s);

	return u ? u->cls[SL_UCLASS_STREAM] : NULL;
}

static inline struct sl_streams *sl_streams_of(const struct sl_net *t)
{
	return t->cls_ctx[SL_UCLASS_STREAM];
}

/* tcp.c */
/* Cold, from sl_net_create: the class and the TCP (1) and UDS (5) transports. 0 or -errno. */
int sl_stream_register_cold(struct sl_net *t);
void sl_stream_flush_later(struct sl_conn *c);
void sl_tcp_send(void *ctx, struct sl_shard *s, struct sl_msg *m);
/* Open an outgoing connection for address (type, body) on ss. NULL when it cannot. */
struct sl_conn *sl_stream_connect(struct sl_sshard *ss, uint8_t type, const uint8_t *body,
				  size_t len, const struct sockaddr *sa, socklen_t salen);
struct sl_conn *sl_stream_peer(struct sl_sshard *ss, uint8_t type, const uint8_t *body, size_t len);
/* Queue m (onward route already past this hop) on c; takes ownership. */
void sl_stream_enqueue(struct sl_sshard *ss, struct sl_conn *c, struct sl_msg *m);
void sl_stream_set_sockopts(int fd, uint8_t type);

/* tcp.c: a connection's life, for tcp_rx.c */
/* Close c (once; cold): its ops cancelled, freed by the flush once the kernel gave them back. */
void sl_stream_close(struct sl_conn *c, const char *why);
/* Free c if it is closing and the kernel holds none of its ops. */
void sl_stream_finalize(struct sl_conn *c);

/* tcp_rx.c */
/* Arm c's receive (multishot into the provided buffers, or direct into a large frame). */
void sl_stream_arm_recv(struct sl_conn *c);
/* A receive completion of c's. */
void sl_stream_on_recv(struct sl_sshard *ss, struct sl_conn *c, struct io_uring_cqe *cqe);
/* The flush's part: waiters for messages resumed, receives that found no buffer re-armed. */
void sl_stream_rx_resume(struct sl_sshard *ss);
void sl_stream_rx_rearm_nobuf(struct sl_sshard *ss);
/* c goes: held buffers back, off the waiting lists, a parked frame dropped. */
void sl_stream_rx_release(struct sl_conn *c);

/* rx_idle.c: cold, on the shard's thread: the sweep that closes idle partial frames. */
void sl_stream_idle_start(struct sl_sshard *ss);
void sl_stream_idle_stop(struct sl_sshard *ss);

/* uds.c */
void sl_uds_send(void *ctx, struct sl_shard *s, struct sl_msg *m);

#endif
