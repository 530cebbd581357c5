/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The io_uring transports: one io_uring per shard, created on the shard's
 * thread (SINGLE_ISSUER + DEFER_TASKRUN when the kernel has them), carrying
 * the TCP and Unix-socket (UDS) stream transports of PROTOCOL.md 3.
 *
 * Public part (tools/, tests, benches): sl_net_*. The rest of this header is
 * the ring's side for the users of a shard's ring inside transports/: the op
 * class registry, user_data encoding, the provided buffer ring, the doorbell.
 * It names no user; each user keeps its ops and per-shard state in its own
 * header or file and registers a class (cold, before the node starts).
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
	uint64_t frame_timeout_ns;	/* a partial frame with no byte for this long closes, 0 = 30 s */
	unsigned max_tcp_in;		/* accepted TCP connections, all shards, 0 = 50000 */
	unsigned max_tcp_in_per_source;	/* ... from one source address, 0 = 1024 */
	unsigned max_route_hops;	/* onward hops of a frame from a stream, 0 = 16 (at most 32) */
	/* An accepted TCP connection that routed no frame this long after accept closes, 0 = never. */
	uint64_t idle_timeout_ns;
	/* Any accepted TCP connection with no byte from its peer this long closes, 0 = never. */
	uint64_t idle_any_timeout_ns;
};

struct sl_net_stats {
	uint64_t rx_frames, tx_frames;
	uint64_t rx_bytes, tx_bytes;
	uint64_t sendmsg_calls;		/* batched: tx_frames / sendmsg_calls frames each */
	uint64_t tx_merged;		/* of tx_frames, those copied into one buffer with others */
	uint64_t conns_accepted, conns_connected, conns_closed;
	uint64_t heartbeats;		/* empty onward route, dropped */
	uint64_t drop_sendq;		/* connection queue over sendq_max */
	uint64_t drop_noconn;		/* queued on a connection that failed */
	uint64_t proto_errors;		/* bad version byte, oversized or malformed frame */
	uint64_t stale_cqes;		/* completions for a closed, reused slot */
	uint64_t paused;		/* times a connection stopped reading (backpressure) */
	uint64_t paused_nomem;		/* ... because the shard's pool had no message for a frame */
	uint64_t paused_ring;		/* ... the ring to the frame's shard was full, or the shard's park big */
	uint64_t nobufs;		/* receives ended for want of a provided buffer (re-armed later) */
	uint64_t rx_direct;		/* receives straight into a large frame's message */
	uint64_t frame_timeouts;	/* connections closed: a partial frame idle frame_timeout_ns */
	uint64_t portal_hups;		/* portal sockets not read that saw their peer's FIN or RST at once */
	uint64_t tcp_opened, tcp_closed; /* TCP connections (accepted or dialled), not the UDS */
	uint64_t udp_rx_dgrams, udp_tx_dgrams;	/* datagrams (rx_frames/tx_frames count messages) */
	uint64_t udp_drops;		/* UDP: bad, duplicate, late or unsendable datagrams, lost messages */
	uint64_t limit_conns;		/* accepts refused: max_tcp_in reached */
	uint64_t limit_conns_per_source; /* accepts refused: max_tcp_in_per_source reached */
	uint64_t limit_route_hops;	/* frames dropped (TCP, UDP): onward route over max_route_hops */
	uint64_t limit_idle;		/* accepted connections closed: no frame in idle_timeout_ns */
	uint64_t limit_idle_any;	/* ... no byte in idle_any_timeout_ns */
};

/*
 * net.c. Cold. Registers the io ops and the TCP (1) and UDS (5) transports with n,
 * which must not be started yet. NULL on failure (errno set).
 */
struct sl_net *sl_net_create(struct sl_node *n, const struct sl_net_config *cfg);
/*
 * tcp.c. Cold, before sl_node_start: listen on "host:port" (port 0 = ephemeral),
 * one SO_REUSEPORT socket per shard on the same port. *port = bound port.
 */
int sl_net_listen_tcp(struct sl_net *t, const char *hostport, uint16_t *port);
/* uds.c. Cold, before sl_node_start: a Unix socket listener at path, mode 0600, on shard 0. */
int sl_net_listen_uds(struct sl_net *t, const char *path);
/*
 * udp.c. Cold, before sl_node_start: a UDP socket per shard bound to
 * "host:port" (port 0 = ephemeral, SO_REUSEPORT: a peer's datagrams keep to
 * one shard). Without it, a shard sends from an ephemeral port of its own.
 */
int sl_net_listen_udp(struct sl_net *t, const char *hostport, uint16_t *port);
/*
 * conn_limit.c. Any thread, while the node runs: new values of the limits in
 * cfg (max_tcp_in, max_tcp_in_per_source, max_route_hops; 0 keeps one). They
 * bound what comes next: connections already open stay.
 */
void sl_net_set_limits(struct sl_net *t, const struct sl_net_config *cfg);
/*
 * listener.c. Any thread: stop taking TCP connections, on the node's listener
 * and its portal inlets alike (a draining node); the UDS control socket
 * still accepts. A connection that arrives is closed at once.
 */
void sl_net_stop_accepting(struct sl_net *t);
/* Cold, after sl_node_join: close the listeners, unlink the UDS path, free. */
void sl_net_destroy(struct sl_net *t);
/* Sum over shards (relaxed reads; any thread). */
void sl_net_stats(const struct sl_net *t, struct sl_net_stats *out);
/* Shard id's counters alone (relaxed reads; any thread). */
void sl_net_shard_stats(const struct sl_net *t, unsigned id, struct sl_net_stats *out);
/* Whether this kernel lets us create an io_uring at all (tests skip otherwise). */
bool sl_uring_available(void);

/* ---- transports-internal ---- */
#ifdef SL_URING_INTERNAL

#include <liburing.h>
#include <sys/socket.h>

#include "engine/shard.h"

/*
 * user_data = op (8 bits) | generation (24 bits) | slot (32 bits). The op
 * byte's top 3 bits name the op class (the user that submitted it), the low
 * 5 bits the op within that class; reap dispatches on the class through a
 * small table. A slot's generation changes when the connection in it is
 * freed, so a completion that arrives for an older occupant is recognised
 * and dropped (by the class that owns the slot).
 */
#define UD(op, gen, slot) (((uint64_t)(op) << 56) | ((uint64_t)((gen) & 0xffffff) << 32) | (uint32_t)(slot))
#define UD_OP(ud) ((unsigned)((ud) >> 56))
#define UD_GEN(ud) ((uint32_t)(((ud) >> 32) & 0xffffff))
#define UD_SLOT(ud) ((uint32_t)(ud))

#define SL_UCLASS_SHIFT 5
#define SL_UCLASS_MAX 8		/* class ids 1..7 are users'; 0 is the ring's own */
#define SL_UOP(cls, op) ((unsigned)(cls) << SL_UCLASS_SHIFT | (unsigned)(op))
#define UD_CLASS(ud) ((unsigned)((ud) >> (56 + SL_UCLASS_SHIFT)))

/* Class 0: the ring's own ops. A cancel's own completion carries nothing. */
enum {
	UOP_WAKE = SL_UOP(0, 1),
	UOP_CANCEL = SL_UOP(0, 2),
};

#define SL_IOV_MAX 256		/* frames per sendmsg */
#define SL_IOV_INLINE 8		/* frames a link's sendmsg holds before it grows to SL_IOV_MAX */

struct sl_ushard;

/*
 * A user of the shards' rings. Registered cold, before the node starts; on
 * each shard, started in registration order after the ring is up and
 * stopped in reverse order before it goes.
 */
struct sl_uop_class {
	const char *name;
	/* Cold, on the shard's thread: make the class's per-shard state (may be NULL). */
	int (*shard_start)(struct sl_ushard *u, void *ctx);
	/* A completion whose op names this class (every CQE of the class, hot). */
	void (*cqe)(struct sl_ushard *u, struct io_uring_cqe *cqe);
	/* Before each submit, and after a reap that found work: queue what is due. */
	void (*flush)(struct sl_ushard *u);
	/* Cold, on the shard's thread after its loop ended: close everything. */
	void (*shard_stop)(struct sl_ushard *u);
	/* Cold, from sl_net_destroy after the shards stopped: the class's own state. */
	void (*net_destroy)(void *ctx);
};

struct sl_ushard {
	struct io_uring ring;
	bool ring_ok;
	struct sl_net *net;
	struct sl_shard *shard;

	int efd;
	uint64_t efd_buf;
	bool efd_armed;

	/* Reap's dispatch table (one per shard, so a completion costs no pointer chase). */
	void (*cqe_fn[SL_UCLASS_MAX])(struct sl_ushard *u, struct io_uring_cqe *cqe);
	void *cls[SL_UCLASS_MAX];	/* each class's per-shard state */
	unsigned started;		/* classes started, in registration order */
	/*
	 * A bit per class that has readers waiting for pool messages: the wait
	 * must not sleep past messages coming home on a return ring (set by the
	 * class's flush).
	 */
	uint32_t poll_soon;

	/*
	 * Provided receive buffers (group 0): nbufs ring entries, nbufs spares
	 * more. A buffer the kernel filled comes back to the spare stack when
	 * parsed, or stays with a connection waiting for a message (held); the
	 * ring is topped up from the spares, so held buffers do not starve the
	 * others until more than nbufs are held. The user that takes a buffer
	 * (a completion with IORING_CQE_F_BUFFER from group 0) counts it off
	 * in_ring.
	 */
	struct io_uring_buf_ring *br;
	uint8_t *bufs;
	unsigned nbufs, bufsz, bmask;
	unsigned in_ring;		/* buffers the kernel may pick */
	unsigned nheld;			/* buffers connections hold, at most nbufs */
	uint32_t *spare, nspare;	/* stack of buffer ids */
	uint32_t *bnext, *blen;		/* per buffer id: next held, bytes in it */

	uint64_t log_next_ns;
	struct sl_net_stats *st;	/* in sl_net, so it outlives the shard */
};

struct sl_net {
	struct sl_node *node;
	struct sl_net_config cfg;
	struct sl_ushard **us;		/* per shard, set on each shard's thread */
	struct sl_net_stats *stats;	/* per shard */
	/*
	 * Doorbells, per shard: owned here, not by the shard's ring state, so a
	 * producer ringing a shard that is just stopping never writes to a
	 * closed (or reused) fd. Closed in sl_net_destroy, after join.
	 */
	int *efds;
	/* The op class registry, by id, and the order the classes came in. */
	const struct sl_uop_class *cls[SL_UCLASS_MAX];
	void *cls_ctx[SL_UCLASS_MAX];
	uint8_t order[SL_UCLASS_MAX];
	unsigned ncls;
	/* Accepted TCP connections now (conn_limit.c): in total, and per hashed source address. */
	uint32_t tcp_in;
	uint32_t *tcp_in_src;
	uint8_t src_key[16];		/* the buckets' hash key (conn_limit.c) */
	bool draining;			/* sl_net_stop_accepting() was called (atomic) */
};

/* conn_limit.c. Any shard. */
#define SL_SRC_BUCKETS 4096
struct sockaddr_storage;
/* Cold: draw the buckets' key. */
void sl_conn_limit_init(struct sl_net *t);
/* The bytes counted as sa's source (IPv4 address, IPv6 /64) into out: their length, 0 = none. */
size_t sl_conn_limit_source(const struct sockaddr_storage *sa, uint8_t out[9]);
/* Count an accepted TCP fd in, or refuse it: 0, 1 (total full), 2 (its source is). */
int sl_conn_limit_admit(struct sl_net *t, int fd, int32_t *bucket);
/* Count out what admit counted in (bucket -1 = nothing). */
void sl_conn_limit_release(struct sl_net *t, int32_t bucket);

/* Single-writer counters read by other threads: relaxed, no lock prefix. */
#define NET_STAT_ADD(u, f, n) __atomic_store_n(&(u)->st->f, (u)->st->f + (n), __ATOMIC_RELAXED)
#define NET_STAT_INC(u, f) NET_STAT_ADD(u, f, 1)

/* uring.c */
/* Cold: the net with its io ops on n, no class yet. NULL on failure (errno set). */
struct sl_net *sl_uring_create_cold(struct sl_node *n, const struct sl_net_config *cfg);
/* Cold, before the node starts: class id (1..SL_UCLASS_MAX-1) is c's. 0 or -EEXIST / -EINVAL. */
int sl_uring_class_add_cold(struct sl_net *t, unsigned id, const struct sl_uop_class *c,
			    void *ctx);
struct io_uring_sqe *sl_uring_sqe(struct sl_ushard *u);
/* Cancel the op named by ud (its own completion is the ring's, and dropped). */
void sl_uring_cancel(struct sl_ushard *u, uint64_t ud);
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
/* Cold: a zeroed, page-aligned provided-buffer ring of entries (a power of
 * two) registered as group bgid (liburing 2.3 has no io_uring_setup_buf_ring);
 * empty: the caller adds its buffers. 0, or -errno with *br NULL. */
int sl_uring_bufring_cold(struct io_uring *ring, unsigned entries, unsigned short bgid,
			  struct io_uring_buf_ring **br);
void sl_net_log_rl(struct sl_ushard *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* pacing.c: a TCP socket with a loopback peer leaves BBR (true when it did). */
bool sl_sock_unpace_loopback(int fd);

#endif /* SL_URING_INTERNAL */
#endif
