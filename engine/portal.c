// SPDX-License-Identifier: Apache-2.0
/*
 * Portals: the inlet and outlet worker protocol (PROTOCOL.md 8) and its flow
 * control (portal.h says how it stays wire compatible with Ockam).
 *
 * A portal connection is one worker at a random address on the shard that
 * owns its socket, so a chunk read from the socket is wrapped and routed
 * without crossing a thread, and what arrives for it is written by the same
 * thread. The chunk read from the socket is the message that travels: the
 * Payload head goes into its headroom, no byte is copied here.
 *
 * Inlet side:  accept -> Ping (from the connection's address, along the
 *              inlet's route) -> Pong (its return route is the remote
 *              route from now on) -> read the socket.
 * Outlet side: Ping at the outlet's address (a listener on every shard)
 *              -> a connection worker -> connect to the target -> Pong
 *              only once connected (a failed connect answers Disconnect, so
 *              the inlet closes its client at once) -> read the socket.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/log.h"
#include "engine/portal.h"
#include "engine/router.h"
#include "engine/secure.h"
#include "engine/shard.h"
#include "engine/timer.h"

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

/* How long an inlet connection waits for the outlet's Pong before it gives up. */
#define PONG_TIMEOUT_NS (10ull * 1000 * 1000 * 1000)
/* Retry delay for a Credit that found no message buffer. */
#define CREDIT_RETRY_NS (1ull * 1000 * 1000)
/*
 * How long a finished connection keeps its address: what the peer sent before
 * it heard of the end (up to a window of chunks, its Credits, a late Pong) is
 * still on its way, through relays and other shards, and is absorbed here
 * rather than dropped by the router as for an unknown address.
 */
#define LATE_NS (5ull * 1000 * 1000 * 1000)

/* Per-shard counters of an inlet or outlet: one writer each (its shard). */
struct pctr {
	uint64_t conns, total, bytes_in, bytes_out;
} __attribute__((aligned(SL_CACHELINE)));

#define CTR_ADD(c, f, n) __atomic_store_n(&(c)->f, (c)->f + (n), __ATOMIC_RELAXED)

/*
 * What inlets and outlets share: a reference count (the registry, each
 * shard's worker or listener, each open connection) and the counters.
 */
struct owner {
	int refs;
	bool inlet;
	struct pctr *ctr;	/* [nshards] */
	struct sl_portals *P;
	char name[SL_ADDR_BODY_MAX + 1];
	char bind[SL_ADDR_BODY_MAX + 1];
};

struct chan;

/*
 * An inlet's channels on one shard (routes with hops, portal.h): touched on
 * that shard's thread only, so no lock.
 */
struct ichan {
	struct chan *cur;		/* up: new connections go through it */
	struct chan *making;		/* its handshakes are under way */
	struct sl_portal_conn *waiters;	/* clients waiting for `making` */
	unsigned nwait;
	bool deleted;			/* the inlet was deleted: make no more */
};

/*
 * One set of channels an inlet made on a shard (one per hop). References:
 * being made or being the shard's current set (one), each connection
 * through it. The last one closes the channels.
 */
struct chan {
	struct sl_portal_inlet *in;	/* holds a reference on in */
	struct ichan *ic;
	struct sl_shard *s;
	struct chan *next, **pprev;	/* every set of the shard, for the stop hook */
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

/* Per shard: the channel sets made there (the stop hook's list). */
struct pshard {
	struct chan *chans;
} __attribute__((aligned(SL_CACHELINE)));

struct sl_portal_inlet {
	struct owner o;
	struct sl_portal_inlet *next;
	struct sl_portal_route *route;	/* fixed at creation */
	struct ichan *ic;		/* [nshards] when the route has hops */
	char route_text[512];
	uint16_t port;
	void *io;		/* transports' listener state */
};

struct outlet_worker {
	struct sl_worker w;
	struct sl_portal_outlet *out;
};

struct sl_portal_outlet {
	struct owner o;
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
	struct pshard *ps;		/* [nshards] */
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
	struct owner *o;
	struct pctr *ctr;		/* o's counters for this shard */
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
	struct ichan *ic;		/* inlet with hops: its shard's channels */
	struct chan *chan;		/* ... the set it goes through (a reference) */
	struct sl_portal_conn *cnext, **cpprev;	/* ic->waiters, then chan->conns */
};

/* ---- the node -> portals registry (cold) ---- */

#define MAX_NODES 16

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	const struct sl_node *n;
	struct sl_portals *P;
} reg[MAX_NODES];

struct sl_portals *sl_portals_get(const struct sl_node *n)
{
	struct sl_portals *P = NULL;

	pthread_mutex_lock(&reg_lock);
	for (unsigned i = 0; i < MAX_NODES; i++)
		if (reg[i].n == n)
			P = reg[i].P;
	pthread_mutex_unlock(&reg_lock);
	return P;
}

static void portals_worker_stopped(void *ctx, struct sl_shard *s, const uint8_t *addr, size_t len);

struct sl_portals *sl_portals_create(struct sl_node *n, const struct sl_portal_sock_ops *ops,
				     void *ctx)
{
	struct sl_portals *P = calloc(1, sizeof(*P));
	unsigned i;

	if (!P)
		return NULL;
	P->node = n;
	P->ops = ops;
	P->ctx = ctx;
	P->nshards = sl_node_shards(n);
	P->ps = sl_cache_alloc(P->nshards * sizeof(*P->ps));
	if (!P->ps) {
		free(P);
		return NULL;
	}
	memset(P->ps, 0, P->nshards * sizeof(*P->ps));
	/* Without the hook a broken channel is still noticed, by its first lost Pong. */
	if (sl_node_on_worker_stop(n, portals_worker_stopped, P))
		sl_log(SL_LOG_WARN, "node=%s event=portal_no_stop_hook", sl_node_name(n));
	pthread_mutex_init(&P->lock, NULL);
	pthread_mutex_lock(&reg_lock);
	for (i = 0; i < MAX_NODES && reg[i].n; i++)
		;
	if (i < MAX_NODES) {
		reg[i].n = n;
		reg[i].P = P;
	}
	pthread_mutex_unlock(&reg_lock);
	if (i == MAX_NODES) {
		pthread_mutex_destroy(&P->lock);
		free(P->ps);
		free(P);
		errno = ENOSPC;
		return NULL;
	}
	return P;
}

static void owner_put(struct owner *o);
static void chan_put(struct chan *c);

void sl_portals_destroy(struct sl_portals *P)
{
	if (!P)
		return;
	pthread_mutex_lock(&reg_lock);
	for (unsigned i = 0; i < MAX_NODES; i++)
		if (reg[i].P == P)
			reg[i].n = NULL, reg[i].P = NULL;
	pthread_mutex_unlock(&reg_lock);
	/*
	 * The shards have stopped, so this thread is alone. Channel sets leave
	 * their lists (those that stay for their connections' sake are freed
	 * with them, at node destroy, without touching P), and a set being made
	 * gives up its reference: its handshake will never answer.
	 */
	for (unsigned i = 0; i < P->nshards; i++) {
		struct chan *c = P->ps[i].chans, *next;

		for (struct chan *x = c; x; x = x->next)
			x->listed = false;
		P->ps[i].chans = NULL;
		for (; c; c = next) {
			next = c->next;
			if (c->ic->cur == c) {
				c->ic->cur = NULL;
				chan_put(c);
			} else if (c->ic->making == c) {
				c->ic->making = NULL;
				chan_put(c);
			}
		}
	}
	/*
	 * The shards have stopped: listeners are closed, and the workers still
	 * in the shards' tables drop their references when the node destroys them.
	 */
	while (P->inlets) {
		struct sl_portal_inlet *in = P->inlets;

		P->inlets = in->next;
		in->o.P = NULL;
		owner_put(&in->o);
	}
	while (P->outlets) {
		struct sl_portal_outlet *out = P->outlets;

		P->outlets = out->next;
		out->o.P = NULL;
		owner_put(&out->o);
	}
	pthread_mutex_destroy(&P->lock);
	free(P->ps);
	free(P);
}

/* ---- owners ---- */

static void owner_get(struct owner *o)
{
	__atomic_add_fetch(&o->refs, 1, __ATOMIC_RELAXED);
}

static void owner_put(struct owner *o)
{
	if (__atomic_sub_fetch(&o->refs, 1, __ATOMIC_ACQ_REL))
		return;
	if (o->inlet) {
		struct sl_portal_inlet *in = container_of(o, struct sl_portal_inlet, o);

		free(in->route);
		free(in->ic);
		free(in->o.ctr);
		free(in);
	} else {
		struct sl_portal_outlet *out = container_of(o, struct sl_portal_outlet, o);

		free(out->ws);
		free(out->o.ctr);
		free(out);
	}
}

static int owner_init(struct owner *o, struct sl_portals *P, bool inlet, const char *name,
		      const char *bind)
{
	o->P = P;
	o->inlet = inlet;
	o->refs = 1;	/* the registry's */
	o->ctr = sl_cache_alloc(P->nshards * sizeof(*o->ctr));
	if (!o->ctr)
		return -ENOMEM;
	memset(o->ctr, 0, P->nshards * sizeof(*o->ctr));
	snprintf(o->name, sizeof(o->name), "%s", name);
	snprintf(o->bind, sizeof(o->bind), "%s", bind);
	return 0;
}

static void owner_info(const struct owner *o, unsigned nshards, struct sl_portal_info *v)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", o->name);
	snprintf(v->bind, sizeof(v->bind), "%s", o->bind);
	for (unsigned i = 0; i < nshards; i++) {
		const struct pctr *c = &o->ctr[i];

		v->conns += __atomic_load_n(&c->conns, __ATOMIC_RELAXED);
		v->total += __atomic_load_n(&c->total, __ATOMIC_RELAXED);
		v->bytes_in += __atomic_load_n(&c->bytes_in, __ATOMIC_RELAXED);
		v->bytes_out += __atomic_load_n(&c->bytes_out, __ATOMIC_RELAXED);
	}
}

/* ---- an inlet's channels (routes with hops) ---- */

static void pc_finish(struct sl_portal_conn *pc, bool abort);
static int pc_ping(struct sl_portal_conn *pc, struct chan *c);
static int pc_go(struct sl_portal_conn *pc);

static void pc_link(struct sl_portal_conn **head, struct sl_portal_conn *pc)
{
	pc->cnext = *head;
	if (pc->cnext)
		pc->cnext->cpprev = &pc->cnext;
	pc->cpprev = head;
	*head = pc;
}

static void pc_unlink(struct sl_portal_conn *pc)
{
	if (!pc->cpprev)
		return;
	*pc->cpprev = pc->cnext;
	if (pc->cnext)
		pc->cnext->cpprev = pc->cpprev;
	pc->cnext = NULL;
	pc->cpprev = NULL;
}

static const char *chan_node_name(const struct chan *c)
{
	return sl_node_name(sl_shard_node(c->s));
}

static void chan_free(struct chan *c)
{
	struct sl_portal_inlet *in = c->in;

	sl_timer_cancel(&c->timer);
	if (c->listed) {
		*c->pprev = c->next;
		if (c->next)
			c->next->pprev = c->pprev;
		/* Innermost first, so each Close still has the channels it travels through. */
		for (unsigned i = c->n; i-- > 0;)
			sl_secure_close(sl_shard_node(c->s), c->enc[i]);
	}
	free(c);
	owner_put(&in->o);
}

static void chan_put(struct chan *c)
{
	if (--c->refs == 0)
		chan_free(c);
}

/* Not the shard's current set any more: the next client makes a new one. */
static void chan_retire(struct chan *c, const char *why)
{
	if (c->ic->cur != c)
		return;
	sl_log(SL_LOG_INFO, "node=%s shard=%u event=inlet_channel_dropped inlet=%s channel=%s "
	       "reason=%s", chan_node_name(c), sl_shard_id(c->s), c->in->o.name, c->enc[c->n - 1], why);
	c->ic->cur = NULL;
	chan_put(c);
}

/* A channel of c, or the connection under them, stopped: nothing passes any more. */
static void chan_broken(struct sl_timer *t)
{
	struct chan *c = container_of(t, struct chan, timer);

	c->refs++;	/* c outlives its connections' ends below */
	chan_retire(c, "channel_closed");
	while (c->conns) {
		struct sl_portal_conn *pc = c->conns;

		pc_unlink(pc);
		pc_finish(pc, true);	/* reset: bytes may have been lost */
	}
	chan_put(c);
}

/* The node's worker-stop hook: on shard s, so s's list is ours to read. */
static void portals_worker_stopped(void *ctx, struct sl_shard *s, const uint8_t *addr, size_t len)
{
	struct sl_portals *P = ctx;

	for (struct chan *c = P->ps[sl_shard_id(s)].chans; c; c = c->next) {
		bool hit = c->via_len && len == c->via_len && !memcmp(c->via, addr, len);

		for (unsigned i = 0; i < c->n && !hit; i++)
			hit = len == SL_RANDOM_ADDR_LEN && !memcmp(c->enc[i], addr, len);
		if (!hit || !c->up || c->broken)
			continue;
		/* Later: closing connections here would stop workers inside a stop. */
		c->broken = true;
		sl_timer_arm(s, &c->timer, 0);
	}
}

/* The connection under the first channel (the first hop of its route), to watch. */
static void chan_watch_via(struct chan *c)
{
	struct sl_secure_info *si = malloc(sizeof(*si));
	const char *body;
	uint8_t type;
	size_t len;
	char *end;

	if (!si)
		return;
	if (!sl_secure_find(sl_shard_node(c->s), c->enc[0], si)) {
		end = strstr(si->route, " => ");
		if (end)
			*end = 0;
		if (!sl_addr_parse(si->route, &type, &body, &len) && type == SL_ADDR_LOCAL &&
		    len <= SL_ADDR_BODY_MAX) {
			memcpy(c->via, body, len);
			c->via_len = (uint8_t)len;
		}
	}
	free(si);
}

static void chan_hop_done(void *arg, int err, const char *addr, const uint8_t *peer);

/* Start the handshake of hop c->n: through the previous channel, to the hop's listener. */
static int chan_next_hop(struct chan *c)
{
	const struct sl_portal_hop *h = &c->in->route->hop[c->n];
	struct sl_secure_opts so = { 0 };
	struct sl_route to;
	int ret;

	sl_route_init(&to);
	if (c->n && sl_route_push_back(&to, SL_ADDR_LOCAL, c->enc[c->n - 1], SL_RANDOM_ADDR_LEN))
		return -E2BIG;
	ret = sl_route_append(&to, &h->to);
	if (ret)
		return ret;
	if (h->has_id) {
		so.authorized = (const uint8_t (*)[SL_ID_LEN])h->id;
		so.n_authorized = 1;
	}
	return sl_secure_create(c->s, &to, &so, chan_hop_done, c);
}

static void chan_hop_done(void *arg, int err, const char *addr, const uint8_t *peer)
{
	struct chan *c = arg;
	struct ichan *ic = c->ic;
	const struct sl_portal_route *r = c->in->route;

	(void)peer;
	if (!err) {
		memcpy(c->enc[c->n], addr, SL_RANDOM_ADDR_LEN);
		c->enc[c->n][SL_RANDOM_ADDR_LEN] = 0;
		c->n++;
		if (c->n == 1)
			chan_watch_via(c);
		if (ic->deleted)
			err = -ECANCELED;
		else if (c->n < r->nhops && !(err = chan_next_hop(c)))
			return;
	}
	ic->making = NULL;
	if (!err) {
		sl_route_init(&c->route);
		sl_route_push_back(&c->route, SL_ADDR_LOCAL, c->enc[c->n - 1], SL_RANDOM_ADDR_LEN);
		err = sl_route_append(&c->route, &r->tail);
	}
	if (err) {
		sl_log(SL_LOG_WARN, "node=%s shard=%u event=inlet_channel_failed inlet=%s hop=%u "
		       "err=\"%s\" waiting=%u", chan_node_name(c), sl_shard_id(c->s), c->in->o.name,
		       c->n, strerror(-err), ic->nwait);
		/* Promptly: a client that waits for nothing is worse than a closed one. */
		while (ic->waiters) {
			struct sl_portal_conn *pc = ic->waiters;

			pc_unlink(pc);
			ic->nwait--;
			pc_finish(pc, false);
		}
		chan_put(c);	/* closes what was made */
		return;
	}
	sl_log(SL_LOG_INFO, "node=%s shard=%u event=inlet_channel_up inlet=%s channel=%s waiting=%u",
	       chan_node_name(c), sl_shard_id(c->s), c->in->o.name, c->enc[c->n - 1], ic->nwait);
	c->up = true;
	ic->cur = c;	/* the making reference is the current one now */
	while (ic->waiters) {
		struct sl_portal_conn *pc = ic->waiters;

		pc_unlink(pc);
		ic->nwait--;
		if (pc_ping(pc, c))
			pc_finish(pc, true);
	}
}

/* Shard s: start making in's channels there. 0 or -errno. */
static int chan_make(struct sl_portal_inlet *in, struct ichan *ic, struct sl_shard *s)
{
	struct pshard *ps = &in->o.P->ps[sl_shard_id(s)];
	struct chan *c = calloc(1, sizeof(*c));
	int ret;

	if (!c)
		return -ENOMEM;
	c->in = in;
	c->ic = ic;
	c->s = s;
	c->refs = 1;
	c->timer.fire = chan_broken;
	owner_get(&in->o);
	c->next = ps->chans;
	if (c->next)
		c->next->pprev = &c->next;
	c->pprev = &ps->chans;
	ps->chans = c;
	c->listed = true;
	ret = chan_next_hop(c);
	if (ret) {
		sl_log(SL_LOG_WARN, "node=%s shard=%u event=inlet_channel_failed inlet=%s hop=0 "
		       "err=\"%s\"", sl_node_name(in->o.P->node), sl_shard_id(s), in->o.name,
		       strerror(-ret));
		chan_put(c);
		return ret;
	}
	ic->making = c;
	return 0;
}

/* ---- connections ---- */

static void pc_handle(struct sl_worker *w, struct sl_msg *m);

/* The connection is over: off its channels' lists and the open count (once). */
static void pc_release(struct sl_portal_conn *pc)
{
	if (pc->released)
		return;
	pc->released = true;
	if (pc->cpprev && pc->state == PC_WAIT_CHAN)
		pc->ic->nwait--;
	pc_unlink(pc);
	if (pc->chan) {
		chan_put(pc->chan);
		pc->chan = NULL;
	}
	CTR_ADD(pc->ctr, conns, (uint64_t)-1);
}

static void pc_stopped(struct sl_worker *w)
{
	struct sl_portal_conn *pc = container_of(w, struct sl_portal_conn, w);

	pc_release(pc);
	sl_timer_cancel(&pc->timer);
	/*
	 * Neither pc->P (at node destroy the portals are gone before their
	 * workers) nor pc->w.shard (NULL by now).
	 */
	if (pc->late)
		sl_log(SL_LOG_DEBUG, "node=%s event=portal_late_messages portal=%s absorbed=%u",
		       sl_node_name(pc->node), pc->o->name, pc->late);
	owner_put(pc->o);
	free(pc);
}

/* Cold (once per connection). NULL when out of memory or addresses. */
static struct sl_portal_conn *pc_new(struct sl_portals *P, struct sl_shard *s, struct owner *o)
{
	struct sl_portal_conn *pc = calloc(1, sizeof(*pc));

	if (!pc)
		return NULL;
	pc->P = P;
	pc->node = sl_shard_node(s);
	pc->o = o;
	pc->ctr = &o->ctr[sl_shard_id(s)];
	pc->w.handle = pc_handle;
	pc->w.stopped = pc_stopped;
	pc->w.ctx = pc;
	pc->peer_window = UINT32_MAX;
	sl_route_init(&pc->remote);
	if (sl_worker_start_random(s, &pc->w)) {
		free(pc);
		return NULL;
	}
	owner_get(o);
	CTR_ADD(pc->ctr, conns, 1);
	CTR_ADD(pc->ctr, total, 1);
	return pc;
}

/*
 * The end of a connection: the socket goes (after its queue, unless abort),
 * then the worker. A connection the peer knows of (it was sent a Ping or a
 * Pong) keeps its address for LATE_NS: the peer's chunks, Credits and Pong
 * sent before our Disconnect or Eof reached it arrive after the end, as
 * Ockam's do; they are absorbed, not dropped as unknown_address (which is a
 * routing fault's signature).
 */
static void pc_finish(struct sl_portal_conn *pc, bool abort)
{
	bool linger = pc->state == PC_OPEN || pc->state == PC_WAIT_PONG;

	if (pc->k) {
		pc->P->ops->close(pc->k, abort);
		pc->k = NULL;
	}
	sl_timer_cancel(&pc->timer);
	if (linger && pc->w.shard) {
		pc_release(pc);
		pc->state = PC_CLOSED;
		pc->reading = false;
		sl_timer_arm(pc->w.shard, &pc->timer, LATE_NS);
		return;
	}
	sl_worker_stop(&pc->w);	/* frees pc (pc_stopped) */
}

/* Address m to the peer: onward = remote route, return = [us]. */
static int pc_address(struct sl_portal_conn *pc, struct sl_msg *m)
{
	sl_route_copy(&m->onward, &pc->remote);
	sl_route_init(&m->ret);
	return sl_route_push_front(&m->ret, SL_ADDR_LOCAL, pc->w.addr, pc->w.addr_len);
}

/* A control message to the peer. -ENOMEM when no buffer was free (the caller may retry). */
static int pc_send_ctl(struct sl_portal_conn *pc, enum sl_portal_kind kind, uint64_t credit)
{
	struct sl_msg *m = sl_msg_alloc(16);
	size_t n;

	if (!m)
		return -ENOMEM;
	n = sl_portal_msg_encode(m->data, 16, kind, pc->ext, SL_PORTAL_WINDOW, credit);
	m->len = (uint32_t)n;
	if (!n || pc_address(pc, m)) {
		sl_msg_free(m);
		return -EINVAL;
	}
	sl_send(pc->w.shard, m);	/* the router's now */
	return 0;
}

static void pc_set_reading(struct sl_portal_conn *pc, bool on)
{
	if (pc->reading == on || !pc->k)
		return;
	pc->reading = on;
	pc->P->ops->read(pc->k, on);
}

/* Read while the peer has room: the backpressure of portal.h. */
static void pc_update_reading(struct sl_portal_conn *pc)
{
	pc_set_reading(pc, pc->state == PC_OPEN && !pc->rd_eof &&
			   (!pc->ext || pc->sent - pc->credited < pc->peer_window));
}

static void pc_credit(struct sl_portal_conn *pc)
{
	/* The peer sends no more after its Eof: it needs no credit. */
	if (!pc->ext || pc->peer_eof || pc->written == pc->reported)
		return;
	if (pc_send_ctl(pc, SL_PORTAL_CREDIT, pc->written) == -ENOMEM) {
		/* A lost credit would shrink the peer's window for good: try again soon. */
		sl_timer_arm(pc->w.shard, &pc->timer, CREDIT_RETRY_NS);
		return;
	}
	pc->reported = pc->written;
}

static void pc_timer(struct sl_timer *t)
{
	struct sl_portal_conn *pc = container_of(t, struct sl_portal_conn, timer);

	if (pc->state == PC_CLOSED) {
		sl_worker_stop(&pc->w);	/* frees pc (pc_stopped) */
		return;
	}
	if (pc->state == PC_WAIT_PONG) {
		/*
		 * Through channels of our own, the likeliest cause is that they
		 * lead nowhere now (the outlet's node restarted behind a relay,
		 * which nothing else tells us): new ones are made, and this
		 * client tries once more through them rather than be the one
		 * that pays for the discovery.
		 */
		if (pc->chan) {
			struct chan *c = pc->chan;

			chan_retire(c, "no_pong");
			pc_unlink(pc);
			pc->chan = NULL;
			chan_put(c);
			if (!pc->retried) {
				pc->retried = true;
				if (!pc_go(pc))
					return;
			}
		}
		sl_log(SL_LOG_INFO, "node=%s event=portal_no_pong inlet=%s action=close_client",
		       sl_node_name(pc->P->node), pc->o->name);
		pc_finish(pc, false);
		return;
	}
	pc_credit(pc);
}

static void pc_open(struct sl_portal_conn *pc)
{
	pc->state = PC_OPEN;
	pc_update_reading(pc);
}

static void pc_payload(struct sl_portal_conn *pc, struct sl_msg *m, const struct sl_portal_msg *pm)
{
	if (pc->peer_eof || !pc->k) {
		sl_msg_free(m);
		return;
	}
	if (pm->has_counter) {
		/* Ockam's packet counter: a gap means a chunk was lost on the way. */
		if (pm->counter != pc->rx_counter) {
			sl_log(SL_LOG_WARN, "node=%s event=portal_chunk_lost portal=%s expected=%u got=%u",
			       sl_node_name(pc->P->node), pc->o->name, pc->rx_counter, pm->counter);
			sl_msg_free(m);
			pc_send_ctl(pc, SL_PORTAL_DISCONNECT, 0);
			pc_finish(pc, true);
			return;
		}
		pc->rx_counter++;
	}
	if (!pc->ext && pc->queued + pm->len > SL_PORTAL_QUEUE_MAX) {
		sl_log(SL_LOG_WARN, "node=%s event=portal_queue_full portal=%s queued=%llu "
		       "reason=\"the peer (not Sluice) ignores backpressure\"",
		       sl_node_name(pc->P->node), pc->o->name, (unsigned long long)pc->queued);
		sl_msg_free(m);
		pc_send_ctl(pc, SL_PORTAL_DISCONNECT, 0);
		pc_finish(pc, true);
		return;
	}
	/* The message itself goes to the socket: its data now covers just the bytes. */
	m->data = (uint8_t *)pm->data;
	m->len = (uint32_t)pm->len;
	pc->queued += pm->len;
	pc->P->ops->write(pc->k, m);
}

static void pc_handle(struct sl_worker *w, struct sl_msg *m)
{
	struct sl_portal_conn *pc = w->ctx;
	struct sl_portal_msg pm;

	if (sl_portal_msg_decode(m->data, m->len, &pm)) {
		sl_shard_count_drop(w->shard);
		sl_msg_free(m);
		return;
	}
	if (pc->state == PC_CLOSED) {
		/* Sent before the peer heard of our end: expected, and nobody's loss. */
		pc->late++;
		if (pm.kind == SL_PORTAL_PONG) {
			/* The outlet connection answered a Ping we gave up on: it is to go. */
			m->len = (uint32_t)sl_portal_msg_encode(m->data, m->len, SL_PORTAL_DISCONNECT,
								false, 0, 0);
			if (m->len) {
				sl_reply(&pc->w, m);
				return;
			}
		}
		sl_msg_free(m);
		return;
	}
	if (pm.kind == SL_PORTAL_PAYLOAD && pc->state == PC_OPEN) {
		pc_payload(pc, m, &pm);
		return;
	}
	switch (pm.kind) {
	case SL_PORTAL_PONG:
		if (pc->state != PC_WAIT_PONG)
			break;
		/*
		 * Through our channels, only through the current ones: a Pong
		 * through the channels given up on is late, and the outlet
		 * connection that sent it is told to go (else it stays, idle).
		 */
		if (pc->chan) {
			struct sl_addr f;

			if (!sl_route_front(&m->ret, &f) || f.len != SL_RANDOM_ADDR_LEN ||
			    memcmp(f.body, pc->chan->enc[pc->chan->n - 1], f.len)) {
				m->len = (uint32_t)sl_portal_msg_encode(m->data, m->len,
									SL_PORTAL_DISCONNECT, false, 0, 0);
				if (m->len) {
					sl_reply(&pc->w, m);
					return;
				}
				break;
			}
		}
		/* The outlet's connection worker answered: its return route is the way back. */
		sl_timer_cancel(&pc->timer);
		sl_route_copy(&pc->remote, &m->ret);
		pc->ext = pm.ext;
		if (pm.ext)
			pc->peer_window = pm.window;
		pc_open(pc);
		break;
	case SL_PORTAL_CREDIT:
		if (!pc->ext || pc->state != PC_OPEN)
			break;
		/* Cumulative: a credit lost on the way is made good by the next one. */
		if (pm.credit > pc->credited && pm.credit <= pc->sent)
			pc->credited = pm.credit;
		pc_update_reading(pc);
		break;
	case SL_PORTAL_EOF:
		if (!pc->ext || pc->state != PC_OPEN || pc->peer_eof)
			break;
		pc->peer_eof = true;
		pc->P->ops->shutdown_write(pc->k);
		if (pc->rd_eof) {
			sl_msg_free(m);
			pc_finish(pc, false);
			return;
		}
		break;
	case SL_PORTAL_DISCONNECT:
		/* The peer is gone (or its target refused us): close once our queue is out. */
		sl_msg_free(m);
		pc_finish(pc, false);
		return;
	default:
		break;
	}
	sl_msg_free(m);
}

/* ---- callbacks from the socket side ---- */

void sl_portal_on_data(struct sl_portal_conn *pc, struct sl_msg *m)
{
	uint32_t len = m->len;

	if (pc->state != PC_OPEN || sl_portal_payload_wrap(m, pc->ext, pc->tx_counter) ||
	    pc_address(pc, m)) {
		sl_shard_count_drop(pc->w.shard);
		sl_msg_free(m);
		return;
	}
	if (pc->ext)
		pc->tx_counter++;
	pc->sent += len;
	CTR_ADD(pc->ctr, bytes_in, len);
	sl_send(pc->w.shard, m);	/* the router's now */
	if (pc->ext && pc->sent - pc->credited >= pc->peer_window)
		pc_set_reading(pc, false);
}

void sl_portal_on_eof(struct sl_portal_conn *pc)
{
	pc->reading = false;
	pc->rd_eof = true;
	if (!pc->ext) {
		/* Ockam's way: EOF ends the connection. */
		pc_send_ctl(pc, SL_PORTAL_DISCONNECT, 0);
		pc_finish(pc, false);
		return;
	}
	/* Half close: the peer shuts down its socket's write side and keeps answering. */
	pc_send_ctl(pc, SL_PORTAL_EOF, 0);
	if (pc->peer_eof)
		pc_finish(pc, false);
}

void sl_portal_on_written(struct sl_portal_conn *pc, size_t n)
{
	pc->queued -= n;
	pc->written += n;
	CTR_ADD(pc->ctr, bytes_out, n);
	/* A quarter window at a time: few credits, and the peer never waits for a full one. */
	if (pc->written - pc->reported >= SL_PORTAL_WINDOW / 4)
		pc_credit(pc);
}

void sl_portal_on_error(struct sl_portal_conn *pc, int err)
{
	pc->k = NULL;	/* gone: transports said so */
	if (pc->state == PC_OPEN || pc->state == PC_CONNECTING)
		pc_send_ctl(pc, SL_PORTAL_DISCONNECT, 0);
	pc_finish(pc, true);
}

void sl_portal_on_connect(struct sl_portal_conn *pc, int err)
{
	if (err) {
		sl_log(SL_LOG_INFO, "node=%s event=portal_connect_failed outlet=%s target=%s err=\"%s\"",
		       sl_node_name(pc->P->node), pc->o->name, pc->o->bind, strerror(-err));
		pc->k = NULL;
		/* No Pong: a Disconnect makes the inlet close its client now. */
		pc_send_ctl(pc, SL_PORTAL_DISCONNECT, 0);
		pc_finish(pc, true);
		return;
	}
	if (pc_send_ctl(pc, SL_PORTAL_PONG, 0)) {
		pc_finish(pc, true);
		return;
	}
	pc_open(pc);
}

/*
 * Send the Ping that opens pc: along c's route, or the inlet's fixed route
 * when c is NULL. 0 or -ENOMEM (the caller closes pc).
 */
static int pc_ping(struct sl_portal_conn *pc, struct chan *c)
{
	struct sl_portal_inlet *in = container_of(pc->o, struct sl_portal_inlet, o);
	struct sl_msg *m = sl_msg_alloc(16);
	size_t n;

	if (!m)
		return -ENOMEM;
	if (c) {
		pc->chan = c;
		c->refs++;
		pc_link(&c->conns, pc);
		sl_route_copy(&pc->remote, &c->route);
	} else {
		sl_route_copy(&pc->remote, &in->route->tail);
	}
	pc->state = PC_WAIT_PONG;
	/* We offer the extension; an Ockam outlet reads the first byte only. */
	n = sl_portal_msg_encode(m->data, 16, SL_PORTAL_PING, true, SL_PORTAL_WINDOW, 0);
	m->len = (uint32_t)n;
	if (pc_address(pc, m)) {
		sl_msg_free(m);
		return -ENOMEM;
	}
	sl_timer_arm(pc->w.shard, &pc->timer, PONG_TIMEOUT_NS);
	sl_send(pc->w.shard, m);
	return 0;
}

/* Ping now, or wait for the shard's channels. 0 or -errno (the caller closes pc). */
static int pc_go(struct sl_portal_conn *pc)
{
	struct sl_portal_inlet *in = container_of(pc->o, struct sl_portal_inlet, o);
	struct ichan *ic = pc->ic;
	int ret;

	if (!ic)
		return pc_ping(pc, NULL);
	if (ic->cur)
		return pc_ping(pc, ic->cur);
	/* Wait for the channels: bounded by their handshakes' timeouts, and in number. */
	if (ic->deleted || ic->nwait >= SL_PORTAL_WAIT_MAX)
		return -EBUSY;
	if (!ic->making) {
		ret = chan_make(in, ic, pc->w.shard);
		if (ret)
			return ret;
	}
	pc->state = PC_WAIT_CHAN;
	pc_link(&ic->waiters, pc);
	ic->nwait++;
	return 0;
}

struct sl_portal_conn *sl_portal_on_accept(struct sl_portal_inlet *in, struct sl_shard *s,
					   struct sl_portal_sock *k)
{
	struct sl_portal_conn *pc;

	if (!in->o.P)
		return NULL;
	pc = pc_new(in->o.P, s, &in->o);
	if (!pc)
		return NULL;
	pc->k = k;
	pc->timer.fire = pc_timer;
	if (in->route->nhops)
		pc->ic = &in->ic[sl_shard_id(s)];
	if (pc_go(pc)) {
		pc->k = NULL;	/* the caller closes it */
		pc_finish(pc, true);
		return NULL;
	}
	return pc;
}

/* ---- outlets ---- */

/* A Ping at the outlet's address on this shard: a connection worker here, then connect. */
static void outlet_handle(struct sl_worker *w, struct sl_msg *m)
{
	struct outlet_worker *ow = w->ctx;
	struct sl_portal_outlet *out = ow->out;
	struct sl_portals *P = out->o.P;
	struct sl_portal_conn *pc;
	struct sl_portal_msg pm;
	int err = 0;

	if (!P || sl_portal_msg_decode(m->data, m->len, &pm) || pm.kind != SL_PORTAL_PING ||
	    sl_route_empty(&m->ret)) {
		sl_shard_count_drop(w->shard);
		sl_msg_free(m);
		return;
	}
	pc = pc_new(P, w->shard, &out->o);
	if (!pc) {
		sl_shard_count_drop(w->shard);
		sl_msg_free(m);
		return;
	}
	pc->state = PC_CONNECTING;
	pc->ext = pm.ext;
	if (pm.ext)
		pc->peer_window = pm.window;
	pc->timer.fire = pc_timer;
	sl_route_copy(&pc->remote, &m->ret);
	sl_msg_free(m);
	pc->k = P->ops->connect(P->ctx, w->shard, pc, out->o.bind, &err);
	if (!pc->k)
		sl_portal_on_connect(pc, err ? err : -ENOMEM);
}

static void outlet_worker_stopped(struct sl_worker *w)
{
	struct outlet_worker *ow = w->ctx;

	owner_put(&ow->out->o);
}

static void outlet_start_on(struct sl_shard *s, void *arg)
{
	struct sl_portal_outlet *out = arg;
	struct outlet_worker *ow = &out->ws[sl_shard_id(s)];

	if (sl_worker_start(s, &ow->w, out->o.name)) {
		sl_log(SL_LOG_WARN, "node=%s shard=%u event=outlet_start_failed address=%s",
		       sl_node_name(sl_shard_node(s)), sl_shard_id(s), out->o.name);
		owner_put(&out->o);
	}
}

static void outlet_stop_on(struct sl_shard *s, void *arg)
{
	struct sl_portal_outlet *out = arg;

	sl_worker_stop(&out->ws[sl_shard_id(s)].w);	/* drops its reference */
	owner_put(&out->o);				/* the call's */
}

/* Run fn on every shard's thread (queued until the shard runs, before start). */
static void each_shard(struct sl_portals *P, void (*fn)(struct sl_shard *, void *), void *arg)
{
	for (unsigned i = 0; i < P->nshards; i++)
		while (sl_shard_call(P->node, i, fn, arg) == -EAGAIN)
			sched_yield();	/* its control queue drains within a loop turn */
}

static struct sl_portal_outlet *outlet_find(struct sl_portals *P, const char *addr)
{
	for (struct sl_portal_outlet *o = P->outlets; o; o = o->next)
		if (!strcmp(o->o.name, addr))
			return o;
	return NULL;
}

int sl_portal_outlet_create(struct sl_portals *P, const char *addr, const char *target)
{
	struct sl_portal_outlet *out;
	size_t len = strlen(addr);
	int ret;

	if (!len || len > SL_ADDR_BODY_MAX || !*target || strlen(target) > SL_ADDR_BODY_MAX)
		return -EINVAL;
	pthread_mutex_lock(&P->lock);
	if (outlet_find(P, addr) || sl_name_lookup(P->node, (const uint8_t *)addr, len)) {
		ret = -EEXIST;
		goto out_unlock;
	}
	ret = -ENOMEM;
	out = calloc(1, sizeof(*out));
	if (!out)
		goto out_unlock;
	out->ws = calloc(P->nshards, sizeof(*out->ws));
	if (!out->ws || owner_init(&out->o, P, false, addr, target)) {
		free(out->ws);
		free(out);
		goto out_unlock;
	}
	for (unsigned i = 0; i < P->nshards; i++) {
		out->ws[i].w.handle = outlet_handle;
		out->ws[i].w.stopped = outlet_worker_stopped;
		out->ws[i].w.ctx = &out->ws[i];
		out->ws[i].out = out;
	}
	/* One reference per shard's worker, dropped when it stops. */
	__atomic_add_fetch(&out->o.refs, P->nshards, __ATOMIC_RELAXED);
	out->next = P->outlets;
	P->outlets = out;
	each_shard(P, outlet_start_on, out);
	ret = 0;
out_unlock:
	pthread_mutex_unlock(&P->lock);
	return ret;
}

int sl_portal_outlet_delete(struct sl_portals *P, const char *addr)
{
	struct sl_portal_outlet **pp, *out = NULL;

	pthread_mutex_lock(&P->lock);
	for (pp = &P->outlets; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->o.name, addr)) {
			out = *pp;
			*pp = out->next;
			break;
		}
	}
	if (!out) {
		pthread_mutex_unlock(&P->lock);
		return -ENOENT;
	}
	/* One reference per control call, so the outlet outlives them. */
	__atomic_add_fetch(&out->o.refs, P->nshards, __ATOMIC_RELAXED);
	each_shard(P, outlet_stop_on, out);
	pthread_mutex_unlock(&P->lock);
	owner_put(&out->o);	/* the registry's */
	return 0;
}

/* ---- inlets ---- */

static struct sl_portal_inlet *inlet_find(struct sl_portals *P, const char *alias)
{
	for (struct sl_portal_inlet *in = P->inlets; in; in = in->next)
		if (!strcmp(in->o.name, alias))
			return in;
	return NULL;
}

static void inlet_unlistened(struct sl_portal_inlet *in)
{
	owner_put(&in->o);
}

int sl_portal_inlet_home(const struct sl_portal_inlet *in)
{
	struct sl_addr a;

	if (in->route->nhops || !sl_route_front(&in->route->tail, &a) || a.type != SL_ADDR_LOCAL ||
	    !sl_addr_is_random(a.body, a.len))
		return -1;
	return (int)sl_random_addr_shard(in->o.P->node, a.body, a.len);
}

int sl_portal_inlet_create(struct sl_portals *P, const char *alias, const char *bind,
			   const struct sl_portal_route *route, const char *route_text, uint16_t *port)
{
	struct sl_portal_inlet *in;
	int ret;

	if (!*alias || strlen(alias) > SL_ADDR_BODY_MAX || !*bind ||
	    strlen(bind) > SL_ADDR_BODY_MAX || sl_route_empty(&route->tail) ||
	    route->nhops > SL_PORTAL_HOPS_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < route->nhops; i++)
		if (sl_route_empty(&route->hop[i].to))
			return -EINVAL;
	pthread_mutex_lock(&P->lock);
	ret = -EEXIST;
	if (inlet_find(P, alias))
		goto out_unlock;
	ret = -ENOMEM;
	in = calloc(1, sizeof(*in));
	if (!in)
		goto out_unlock;
	in->route = malloc(sizeof(*in->route));
	in->ic = route->nhops ? calloc(P->nshards, sizeof(*in->ic)) : NULL;
	if (!in->route || (route->nhops && !in->ic) || owner_init(&in->o, P, true, alias, bind)) {
		free(in->route);
		free(in->ic);
		free(in);
		goto out_unlock;
	}
	*in->route = *route;
	snprintf(in->route_text, sizeof(in->route_text), "%s", route_text ? route_text : "");
	/* The listeners' reference, dropped by unlisten's done. */
	owner_get(&in->o);
	ret = P->ops->listen(P->ctx, in, bind, &in->port, inlet_unlistened);
	if (ret) {
		in->o.refs = 1;
		owner_put(&in->o);
		goto out_unlock;
	}
	if (port)
		*port = in->port;
	in->next = P->inlets;
	P->inlets = in;
out_unlock:
	pthread_mutex_unlock(&P->lock);
	return ret;
}

/*
 * The inlet is deleted: its shard makes no more channels, lets its current
 * set go (closed when the connections through it end) and closes the
 * clients still waiting.
 */
static void inlet_stop_on(struct sl_shard *s, void *arg)
{
	struct sl_portal_inlet *in = arg;
	struct ichan *ic = &in->ic[sl_shard_id(s)];

	ic->deleted = true;
	if (ic->cur) {
		struct chan *c = ic->cur;

		ic->cur = NULL;
		chan_put(c);
	}
	while (ic->waiters) {
		struct sl_portal_conn *pc = ic->waiters;

		pc_unlink(pc);
		ic->nwait--;
		pc_finish(pc, false);
	}
	owner_put(&in->o);	/* the call's */
}

int sl_portal_inlet_delete(struct sl_portals *P, const char *alias)
{
	struct sl_portal_inlet **pp, *in = NULL;

	pthread_mutex_lock(&P->lock);
	for (pp = &P->inlets; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->o.name, alias)) {
			in = *pp;
			*pp = in->next;
			break;
		}
	}
	if (in && in->ic) {
		/* One reference per control call, so the inlet outlives them. */
		__atomic_add_fetch(&in->o.refs, P->nshards, __ATOMIC_RELAXED);
		each_shard(P, inlet_stop_on, in);
	}
	pthread_mutex_unlock(&P->lock);
	if (!in)
		return -ENOENT;
	P->ops->unlisten(P->ctx, in);
	owner_put(&in->o);	/* the registry's */
	return 0;
}

void *sl_portal_inlet_io(struct sl_portal_inlet *in)
{
	return in->io;
}

void sl_portal_inlet_set_io(struct sl_portal_inlet *in, void *io)
{
	in->io = io;
}

/* ---- snapshots ---- */

size_t sl_portal_inlet_list(struct sl_portals *P, struct sl_portal_info *v, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&P->lock);
	for (struct sl_portal_inlet *in = P->inlets; in; in = in->next, n++) {
		if (n >= max)
			continue;
		owner_info(&in->o, P->nshards, &v[n]);
		v[n].port = in->port;
		snprintf(v[n].route, sizeof(v[n].route), "%s", in->route_text);
	}
	pthread_mutex_unlock(&P->lock);
	return n;
}

size_t sl_portal_outlet_list(struct sl_portals *P, struct sl_portal_info *v, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&P->lock);
	for (struct sl_portal_outlet *o = P->outlets; o; o = o->next, n++)
		if (n < max)
			owner_info(&o->o, P->nshards, &v[n]);
	pthread_mutex_unlock(&P->lock);
	return n;
}

int sl_portal_inlet_get(struct sl_portals *P, const char *alias, struct sl_portal_info *out)
{
	struct sl_portal_inlet *in;
	int ret = -ENOENT;

	pthread_mutex_lock(&P->lock);
	in = inlet_find(P, alias);
	if (in) {
		owner_info(&in->o, P->nshards, out);
		out->port = in->port;
		snprintf(out->route, sizeof(out->route), "%s", in->route_text);
		ret = 0;
	}
	pthread_mutex_unlock(&P->lock);
	return ret;
}

int sl_portal_outlet_get(struct sl_portals *P, const char *addr, struct sl_portal_info *out)
{
	struct sl_portal_outlet *o;
	int ret = -ENOENT;

	pthread_mutex_lock(&P->lock);
	o = outlet_find(P, addr);
	if (o) {
		owner_info(&o->o, P->nshards, out);
		ret = 0;
	}
	pthread_mutex_unlock(&P->lock);
	return ret;
}
