/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the portal_*.c files share: the node's portals, inlets and outlets,
 * an inlet's channel sets, the connection. Engine-private; other modules use
 * portal.h.
 *
 *   portal_conn.c   the connection worker: the hot path, credit and half close
 *   portal_chan.c   an inlet's secure channels per shard (routes with hops)
 *   portal_link.c   the links fixed-route and outlet connections watch
 *   portal_ctl.c    the control plane: create, delete, list, the node's slot
 *
 * Lifetimes. Inlets and outlets (struct portal_owner) are reference counted
 * by the registry, each shard's worker or listener, each open connection and
 * each channel set; the last sl_portal_owner_put() frees them, on whichever
 * path the node goes down.
 */
#ifndef SL_PORTAL_INT_H
#define SL_PORTAL_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/portal.h"
#include "engine/router.h"
#include "engine/shard.h"
#include "engine/timer.h"

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

/* Per-shard counters of an inlet or outlet: one writer each (its shard). */
struct portal_ctr {
	uint64_t conns, total, bytes_in, bytes_out;
} __attribute__((aligned(SL_CACHELINE)));

#define CTR_ADD(c, f, n) __atomic_store_n(&(c)->f, (c)->f + (n), __ATOMIC_RELAXED)

/*
 * What inlets and outlets share: a reference count (the registry, each
 * shard's worker or listener, each open connection) and the counters.
 */
struct portal_owner {
	int refs;
	bool inlet;
	struct portal_ctr *ctr;	/* [nshards] */
	struct sl_portals *P;
	char name[SL_ADDR_BODY_MAX + 1];
	char bind[SL_ADDR_BODY_MAX + 1];
};

struct inlet_chan;

/*
 * An inlet's channels on one shard (routes with hops, portal.h): touched on
 * that shard's thread only, so no lock.
 */
struct inlet_chans {
	struct inlet_chan *cur;		/* up: new connections go through it */
	struct inlet_chan *making;	/* its handshakes are under way */
	struct sl_portal_conn *waiters;	/* clients waiting for `making` */
	unsigned nwait;
	bool deleted;			/* the inlet was deleted: make no more */
};

/*
 * One set of channels an inlet made on a shard (one per hop). References:
 * being made or being the shard's current set (one), each connection
 * through it. The last one closes the channels.
 */
struct inlet_chan {
	struct sl_portal_inlet *in;	/* holds a reference on in */
	struct inlet_chans *ic;
	struct sl_shard *s;
	struct inlet_chan *next, **pprev; /* every set of the shard, for the stop hook */
	bool listed;			/* on that list (false once the shards stopped) */
	bool up, broken;
	int refs;
	unsigned n;			/* channels made so far */
	char enc[SL_PORTAL_HOPS_MAX][SL_RANDOM_ADDR_LEN + 1];
	uint8_t via_len;		/* the connection under the first channel */
	char via[SL_ADDR_BODY_MAX + 1];
	struct sl_route route;		/* [last channel] ++ tail */
	struct sl_portal_conn *conns;	/* the connections through it */
	struct sl_timer timer;		/* a break, handled out of the stop hook */
};

/*
 * A local worker the first hop of connections' remote routes goes into (a
 * node-to-node connection; a channel, and the connection under it), watched
 * so that they are reset when it stops (portal_link.c). Exists while a
 * connection watches it; on its shard's thread only.
 */
struct portal_link {
	struct portal_link *next, **pprev;	/* the shard's links */
	struct sl_shard *s;
	bool listed, dead, firing;
	uint8_t n;				/* addresses watched: 1 or 2 */
	uint8_t len[2];
	char addr[2][SL_ADDR_BODY_MAX + 1];	/* the first hop; under a channel, its connection */
	struct sl_portal_conn *conns;
	struct sl_timer timer;			/* the break, handled out of the stop hook */
};

/* Per shard: the channel sets made there and the links watched (the stop hook's lists). */
struct portal_shard {
	struct inlet_chan *chans;
	struct portal_link *links;
} __attribute__((aligned(SL_CACHELINE)));

struct sl_portal_inlet {
	struct portal_owner o;
	struct sl_portal_inlet *next;
	struct sl_portal_route *route;	/* fixed at creation */
	struct inlet_chans *ic;		/* [nshards] when the route has hops */
	char route_text[512];
	uint16_t port;
	void *io;		/* transports' listener state */
};

struct outlet_worker {
	struct sl_worker w;
	struct sl_portal_outlet *out;
};

struct sl_portal_outlet {
	struct portal_owner o;
	struct sl_portal_outlet *next;
	struct outlet_worker *ws;	/* [nshards] */
};

struct sl_portals {
	struct sl_node *node;
	const struct sl_portal_sock_ops *ops;
	void *ctx;
	unsigned nshards;
	pthread_mutex_t lock;		/* the lists; control plane only */
	struct sl_portal_inlet *inlets;
	struct sl_portal_outlet *outlets;
	struct portal_shard *ps;	/* [nshards] */
};

enum pc_state {
	PC_WAIT_CHAN = 1,	/* inlet: waiting for its shard's channels */
	PC_WAIT_PONG,		/* inlet: Ping sent */
	PC_CONNECTING,		/* outlet: connecting to the target */
	PC_OPEN,
	PC_CLOSED,		/* finished: the address absorbs late messages for LATE_NS */
};

struct sl_portal_conn {
	struct sl_worker w;
	struct sl_portals *P;
	struct sl_node *node;		/* outlives P and w.shard, for the last log line */
	struct sl_portal_sock *k;	/* NULL once closed */
	struct portal_owner *o;
	struct portal_ctr *ctr;		/* o's counters for this shard */
	uint8_t state;
	bool ext;			/* both sides speak Sluice's credit extension */
	bool reading;			/* the socket is being read */
	bool rd_eof;			/* our socket read EOF (we sent Eof) */
	bool peer_eof;			/* the peer sent Eof (our socket's write side is shut) */
	bool retried;			/* inlet: its Ping was sent again through new channels */
	bool released;			/* off the channel lists and counters (pc_release) */
	uint32_t late;			/* messages absorbed after the end */
	uint16_t tx_counter, rx_counter;
	uint32_t peer_window;		/* bytes the peer accepts in flight */
	uint64_t sent;			/* bytes read from our socket and sent */
	uint64_t credited;		/* the peer's cumulative written count */
	uint64_t written;		/* bytes we wrote to our socket */
	uint64_t reported;		/* `written` as last told to the peer */
	uint64_t queued;		/* bytes handed to the socket, not written yet */
	struct sl_timer timer;		/* Pong timeout; Credit retry */
	struct sl_route remote;		/* to the peer's connection worker */
	struct inlet_chans *ic;		/* inlet with hops: its shard's channels */
	struct inlet_chan *chan;	/* ... the set it goes through (a reference) */
	struct sl_portal_conn *cnext, **cpprev;	/* ic->waiters, then chan->conns */
	struct portal_link *link;	/* fixed route or outlet: the link it watches */
	struct sl_portal_conn *lnext, **lpprev;	/* link->conns */
};

/* ---- owners (portal_ctl.c) ---- */

static inline void owner_get(struct portal_owner *o)
{
	__atomic_add_fetch(&o->refs, 1, __ATOMIC_RELAXED);
}

/* The last reference frees the inlet or outlet (any thread). */
void sl_portal_owner_put(struct portal_owner *o);

/* ---- the lists a connection is on (an inlet's waiters, a channel set's conns) ---- */

static inline void pc_link(struct sl_portal_conn **head, struct sl_portal_conn *pc)
{
	pc->cnext = *head;
	if (pc->cnext)
		pc->cnext->cpprev = &pc->cnext;
	pc->cpprev = head;
	*head = pc;
}

static inline void pc_unlink(struct sl_portal_conn *pc)
{
	if (!pc->cpprev)
		return;
	*pc->cpprev = pc->cnext;
	if (pc->cnext)
		pc->cnext->cpprev = pc->cpprev;
	pc->cnext = NULL;
	pc->cpprev = NULL;
}

/* ---- connections (portal_conn.c; on the connection's shard) ---- */

/* The end: the socket goes (after its queue, unless abort), then the worker. */
void sl_portal_conn_finish(struct sl_portal_conn *pc, bool abort);
/* Send the inlet connection's Ping along c's route (NULL: the fixed route). 0 or -ENOMEM. */
int sl_portal_conn_ping(struct sl_portal_conn *pc, struct inlet_chan *c);
/* The outlet's worker on each shard: a Ping makes a connection there. */
void sl_portal_outlet_handle(struct sl_worker *w, struct sl_msg *m);

/* ---- an inlet's channel sets (portal_chan.c; on their shard) ---- */

/* Shard s: start making in's channels there (ic->making). 0 or -errno. */
int sl_portal_chan_make(struct sl_portal_inlet *in, struct inlet_chans *ic, struct sl_shard *s);
/* Drop a reference; the last closes the channels. */
void sl_portal_chan_put(struct inlet_chan *c);
/* Not the shard's current set any more: the next client makes a new one. */
void sl_portal_chan_retire(struct inlet_chan *c, const char *why);
/* The inlet was deleted: make no more, let the current set go, close the waiting clients. */
void sl_portal_chans_stop(struct inlet_chans *ic);
/* Cold, after the shards stopped: every set leaves its shard's list. */
void sl_portal_chans_release(struct sl_portals *P);
/* ---- links (portal_link.c; on the connection's shard) ---- */

/* Watch the local worker at front (pc's remote route's first hop); skipped if it is none. */
void sl_portal_link_watch(struct sl_portal_conn *pc, const struct sl_addr *front);
/* pc no longer watches its link (idempotent); the last one out frees the link. */
void sl_portal_link_leave(struct sl_portal_conn *pc);
/* From the stop hook: links at addr on s are broken (their connections reset shortly). */
void sl_portal_links_stopped(struct sl_portals *P, struct sl_shard *s, const uint8_t *addr,
			     size_t len);
/* Cold, after the shards stopped: every link leaves its shard's list. */
void sl_portal_links_release(struct sl_portals *P);

/* The node's worker-stop hook: a channel or the connection under it stopped. */
void sl_portal_worker_stopped(void *ctx, struct sl_shard *s, const uint8_t *addr, size_t len);

#endif
