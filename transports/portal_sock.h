/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Portal sockets' insides, shared by portal.c (sockets, completions, the
 * op class) and portal_listen.c (inlet listeners). Internal to transports/.
 */
#ifndef SL_TRANSPORTS_PORTAL_SOCK_H
#define SL_TRANSPORTS_PORTAL_SOCK_H

#include "engine/portal.h"
#include "engine/timer.h"
#include "transports/conn.h"

#define PBGID 1			/* provided-buffer group of portal receives (udp.c has 2) */
#define PBUFS 64		/* per shard: receives that may complete in one turn */
#define PSLOTS_INIT 1024	/* socket slots per shard, doubled as needed */
#define PLISTEN_MAX 64		/* inlet listeners per shard */
#define PIOV_MAX 64		/* chunks per sendmsg */
#define STREAM_CHUNKS 2		/* chunks a streaming socket's receive asks for */
/* How long a closed connection may take to write what it still has queued. */
#define LINGER_NS (10ull * 1000 * 1000 * 1000)

/* The portal sockets' op class, and their ops within it. */
#define SL_UCLASS_PORTAL 2
enum {
	UOP_PORTAL_ACCEPT = SL_UOP(SL_UCLASS_PORTAL, 1),
	UOP_PORTAL_RECV = SL_UOP(SL_UCLASS_PORTAL, 2),
	UOP_PORTAL_SEND = SL_UOP(SL_UCLASS_PORTAL, 3),
	UOP_PORTAL_CONNECT = SL_UOP(SL_UCLASS_PORTAL, 4),
	UOP_PORTAL_POLLOUT = SL_UOP(SL_UCLASS_PORTAL, 5),	/* a send found the socket full: wait for room */
	UOP_PORTAL_HUP = SL_UOP(SL_UCLASS_PORTAL, 6),	/* not reading: watch for the peer's FIN or RST */
};

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

struct plisten;

struct sl_portal_sock {
	struct sl_pshard *ps;
	/*
	 * fd, slot, generation, ops the kernel holds, the queue of chunks to
	 * write (conn.h); core.dead: aborted, the queue dropped.
	 */
	struct sl_conn_core core;
	struct sl_portal_conn *pc;	/* NULL once the engine let go (close) or was told (error) */
	bool want_read;			/* the engine's backpressure switch */
	bool recv_armed, on_flush;
	bool want_shut, shut;		/* shutdown(SHUT_WR) after the queue */
	bool closing;
	bool nobuf;			/* on the list of receives that found no buffer */
	bool connecting;		/* an outlet's connect is in the kernel */
	/*
	 * While the engine does not read (flow control, or before the Pong), a
	 * poll for POLLRDHUP|POLLERR|POLLHUP (no data read) tells of a FIN or
	 * RST at once; armed at most once at a time, left in while reading.
	 */
	bool hup_armed;
	bool hup_seen;			/* the FIN was seen (read, or behind unread bytes): poll no more */
	struct sl_portal_sock *flush_next;
	struct sl_portal_sock *nobuf_next;
	struct sl_timer linger;
	struct iovec iov[PIOV_MAX];	/* the queue's sendmsg (no lead byte) */
	bool streaming;			/* the last receive filled all it asked for */
	unsigned nrx;			/* chunks of the streaming receive in flight */
	struct sl_msg *rxm[STREAM_CHUNKS];
	struct msghdr rmh;
	struct iovec riov[STREAM_CHUNKS];
	struct sockaddr_storage sa;
	socklen_t salen;
};

/* An inlet's listening sockets, one per shard. */
struct plisten {
	struct sl_portal_inlet *in;
	struct sl_node *node;
	int refs;			/* shards that still have it, and an unlisten under way */
	int home;			/* the one shard listening, or -1: all */
	void (*done)(struct sl_portal_inlet *in);
	int fds[];			/* [nshards] */
};

struct pslot_l {
	struct plisten *pl;
	struct sl_acceptor a;		/* a.gen: bumped as the slot is let go */
};

struct sl_pshard {
	struct sl_ushard *u;
	struct sl_portal_sock **socks;
	uint32_t *gens;
	uint32_t nslots, nused, *free_slots, nfree;
	struct io_uring_buf_ring *br;
	struct sl_msg *bmsg[PBUFS];
	unsigned bmask, nbufs;		/* nbufs: slots holding a buffer */
	bool br_ok;
	struct sl_portal_sock *flush_head;
	struct sl_portal_sock *nobuf_head;	/* receives that found no buffer */
	struct pslot_l lst[PLISTEN_MAX];
};

/* portal.c */
/* The shard's portal state, made on first use. NULL when out of memory. */
struct sl_pshard *sl_pshard_get(struct sl_ushard *u);
struct sl_portal_sock *sl_psock_new(struct sl_pshard *ps, int fd);
void sl_psock_set_sockopts(int fd);
void sl_psock_flush_later(struct sl_portal_sock *k);

/* portal_listen.c */
void sl_pinlet_arm(struct sl_pshard *ps, unsigned i);
/* On the shard's thread (sl_shard_call): take up or let go of an inlet's listener. */
void sl_pinlet_unlisten_on(struct sl_shard *s, void *arg);
void sl_pinlet_on_accept(struct sl_pshard *ps, unsigned i, struct io_uring_cqe *cqe);
int sl_pinlet_listen(void *ctx, struct sl_portal_inlet *in, const char *hostport, uint16_t *port,
		     void (*done)(struct sl_portal_inlet *in));
void sl_pinlet_unlisten(void *ctx, struct sl_portal_inlet *in);

#endif
