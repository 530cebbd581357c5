// SPDX-License-Identifier: Apache-2.0
/*
 * A relay fleet's engine side (relay_fleet.h): the per-shard cache of
 * directory answers, the messages waiting on a lookup, forwarding to the
 * owner node, and the hooks relay.c and router.c call.
 *
 * Where things run: a name's cache entry and its waiting messages live on
 * the name's home shard (the one forward_to_<name> hashes to), the only
 * thread that touches them. The directory answers from its own thread
 * through sl_shard_call, so nothing here takes a lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/clock.h"
#include "engine/log.h"
#include "engine/relay_fleet.h"
#include "engine/relay_int.h"
#include "engine/router.h"
#include "engine/shard.h"

#define TICK_NS (250ull * 1000000)	/* how late a lookup's deadline may be noticed */
#define LOG_EVERY_NS (10ull * 1000000000)

enum entry_state { E_FREE, E_WAITING, E_OWNER, E_NOWHERE };

struct entry {
	uint8_t state;
	uint8_t nlen, olen;
	uint32_t hash;
	uint64_t until_ns;		/* cached until; for E_WAITING the lookup's deadline */
	struct sl_msg *head, *tail;	/* waiting for the answer (E_WAITING) */
	unsigned nwait;
	char name[SL_RELAY_NAME_MAX + 1];
	char owner[SL_ADDR_BODY_MAX + 1];
};

struct fleet_shard {
	struct sl_worker hop;		/* random address here: sends a forward from this shard */
	struct sl_timer tick;
	struct sl_shard *s;
	struct entry *slot[SL_FLEET_SLOTS];
	unsigned nwait;			/* messages waiting, all entries */
	unsigned nlookups;		/* entries waiting */
	uint64_t log_next_ns;
	uint64_t c[SL_FLEET_COUNTERS];	/* written on this shard only, read relaxed */
};

struct sl_relay_fleet {
	struct sl_node *node;
	const struct sl_relay_fleet_ops *ops;
	void *ctx;
	char self[SL_ADDR_BODY_MAX + 1];
	int up;				/* atomic */
	int closed;			/* atomic: the directory is gone (sl_relay_fleet_stop) */
	unsigned hops;			/* hop workers alive: the last one's stop frees us */
	uint64_t extra[SL_FLEET_COUNTERS];	/* the directory's own counts (atomic) */
	unsigned nshards;
	struct fleet_shard shards[];
};

/* Off the shards only: the directory's thread waits for room in a shard's control queue. */
static void pause_1ms(void)
{
	struct timespec ts = { 0, 1000000 };

	nanosleep(&ts, NULL);
}

static struct sl_relay_fleet *fleet_of(const struct sl_node *n)
{
	return sl_node_slot(n, SL_NODE_SLOT_FLEET);
}

static void count(struct fleet_shard *fs, enum sl_fleet_counter c, unsigned k)
{
	__atomic_store_n(&fs->c[c], fs->c[c] + k, __ATOMIC_RELAXED);
}

/* The bare name of forward_to_<name>, or NULL. */
static const char *bare_name(const uint8_t *addr, size_t len, size_t *nlen)
{
	if (len <= SL_RELAY_PREFIX_LEN || len - SL_RELAY_PREFIX_LEN > SL_RELAY_NAME_MAX ||
	    memcmp(addr, SL_RELAY_PREFIX, SL_RELAY_PREFIX_LEN))
		return NULL;
	*nlen = len - SL_RELAY_PREFIX_LEN;
	return (const char *)addr + SL_RELAY_PREFIX_LEN;
}

static struct entry **slot_of(struct fleet_shard *fs, const char *name, size_t len, uint32_t *h)
{
	*h = sl_addr_hash((const uint8_t *)name, len);
	return &fs->slot[*h & (SL_FLEET_SLOTS - 1)];
}

static bool entry_is(const struct entry *e, const char *name, size_t len, uint32_t h)
{
	return e && e->state != E_FREE && e->hash == h && e->nlen == len &&
	       !memcmp(e->name, name, len);
}

static void drop(struct fleet_shard *fs, struct sl_msg *m, enum sl_fleet_counter why,
		 const char *reason)
{
	count(fs, why, 1);
	SL_STAT_INC(fs->s, drop_unknown);
	sl_router_drop(fs->s, m, reason);
}

static int push_arrival_hop(struct sl_relay_fleet *f, struct fleet_shard *fs, struct sl_msg *m);

/* The owner holds the name: over TCP to its listener (the onward route keeps forward_to_<name>). */
static void forward(struct sl_relay_fleet *f, struct fleet_shard *fs, const struct entry *e,
		    struct sl_msg *m)
{
	if (e->state == E_NOWHERE) {
		drop(fs, m, SL_FLEET_DROP_NOWHERE, "relay_unknown_in_fleet");
		return;
	}
	/* The directory names us but no relay is here: stale, and sending it would loop. */
	if (!strcmp(e->owner, f->self)) {
		drop(fs, m, SL_FLEET_DROP_NOWHERE, "relay_stale_directory_entry");
		return;
	}
	if (sl_route_push_front(&m->onward, SL_ADDR_TCP, e->owner, e->olen) ||
	    push_arrival_hop(f, fs, m)) {
		SL_STAT_INC(fs->s, drop_route);
		sl_router_drop(fs->s, m, "relay_route_too_long");
		return;
	}
	count(fs, SL_FLEET_FORWARDED, 1);
	sl_send(fs->s, m);
}

/*
 * The connection to the owner is dialled by the shard that sends the first
 * message, and a secure channel's later messages ride the route its
 * handshake came back on: connection to connection. Dialled from the shard
 * the message came in on (its return route starts with that connection), the
 * whole flow stays on one shard of this node; from the name's home shard,
 * every message of it would cross shards both ways.
 */
static int push_arrival_hop(struct sl_relay_fleet *f, struct fleet_shard *fs, struct sl_msg *m)
{
	struct fleet_shard *in;
	struct sl_addr a;
	unsigned id;

	if (!sl_route_front(&m->ret, &a) || a.type != SL_ADDR_LOCAL ||
	    !sl_addr_is_random(a.body, a.len))
		return 0;
	id = sl_random_addr_shard(f->node, a.body, a.len);
	if (id == sl_shard_id(fs->s) || id >= f->nshards)
		return 0;
	in = &f->shards[id];
	return sl_route_push_front(&m->onward, SL_ADDR_LOCAL, in->hop.addr, in->hop.addr_len);
}

/* Node destruction (one thread): the last hop worker takes the fleet with it. */
static void hop_stopped(struct sl_worker *w)
{
	struct sl_relay_fleet *f = w->ctx;

	if (--f->hops)
		return;
	sl_node_slot_swap(f->node, SL_NODE_SLOT_FLEET, f, NULL);
	free(f);
}

/* On the arrival shard: off with our address, on to the owner over TCP from here. */
static void hop_handle(struct sl_worker *w, struct sl_msg *m)
{
	sl_route_pop_front(&m->onward);
	sl_send(w->shard, m);
}

static void fail_waiting(struct fleet_shard *fs, struct entry *e, enum sl_fleet_counter why,
			 const char *reason)
{
	struct sl_msg *m;

	while ((m = e->head)) {
		e->head = m->next;
		m->next = NULL;
		drop(fs, m, why, reason);
	}
	e->tail = NULL;
	fs->nwait -= e->nwait;
	e->nwait = 0;
}

bool sl_relay_fleet_miss(struct sl_shard *s, struct sl_msg *m)
{
	struct sl_relay_fleet *f = fleet_of(s->node);
	struct fleet_shard *fs;
	struct entry **sp, *e;
	const char *name;
	struct sl_addr a;
	size_t len;
	uint32_t h;

	if (!f || __atomic_load_n(&f->closed, __ATOMIC_ACQUIRE) ||
	    !sl_route_front(&m->onward, &a) || a.type != SL_ADDR_LOCAL ||
	    !(name = bare_name(a.body, a.len, &len)))
		return false;
	fs = &f->shards[sl_shard_id(s)];
	sp = slot_of(fs, name, len, &h);
	e = *sp;
	if (entry_is(e, name, len, h)) {
		if (e->state != E_WAITING && sl_now_ns() < e->until_ns) {
			forward(f, fs, e, m);
			return true;
		}
		if (e->state == E_WAITING)
			goto wait;
	} else if (e && e->state == E_WAITING) {
		/* The slot waits on another name: this one cannot wait (rare, bounded). */
		drop(fs, m, SL_FLEET_DROP_WAIT_FULL, "relay_lookup_slot_busy");
		return true;
	}
	if (!e && !(e = *sp = calloc(1, sizeof(*e)))) {
		drop(fs, m, SL_FLEET_DROP_WAIT_FULL, "relay_lookup_no_memory");
		return true;
	}
	/* Stale or another name's: ask the directory. */
	e->state = E_WAITING;
	e->hash = h;
	e->nlen = (uint8_t)len;
	memcpy(e->name, name, len);
	e->name[len] = 0;
	e->until_ns = sl_now_ns() + SL_FLEET_WAIT_NS;
	if (f->ops->lookup(f->ctx, sl_shard_id(s), e->name)) {
		e->state = E_FREE;
		count(fs, SL_FLEET_LOOKUP_ERROR, 1);
		drop(fs, m, SL_FLEET_DROP_ERROR, "relay_lookup_failed");
		return true;
	}
	fs->nlookups++;
wait:
	if (fs->nwait >= SL_FLEET_WAIT_MAX) {
		drop(fs, m, SL_FLEET_DROP_WAIT_FULL, "relay_lookup_queue_full");
		return true;
	}
	/* The message waits here, ours until the answer or the deadline. */
	m->next = NULL;
	if (e->tail)
		e->tail->next = m;
	else
		e->head = m;
	e->tail = m;
	e->nwait++;
	fs->nwait++;
	return true;
}

struct answer {
	struct sl_relay_fleet *f;
	int status;
	char name[SL_RELAY_NAME_MAX + 1];
	char owner[SL_ADDR_BODY_MAX + 1];
};

static void answer_call(struct sl_shard *s, void *arg)
{
	struct answer *an = arg;
	struct sl_relay_fleet *f = an->f;
	struct fleet_shard *fs = &f->shards[sl_shard_id(s)];
	size_t len = strlen(an->name);
	struct entry **sp, *e;
	struct sl_msg *m;
	uint32_t h;

	sp = slot_of(fs, an->name, len, &h);
	e = *sp;
	if (!entry_is(e, an->name, len, h) || e->state != E_WAITING)
		goto out;	/* timed out meanwhile, or the slot went to another name */
	fs->nlookups--;
	if (an->status && an->status != -ENOENT) {
		uint64_t now = sl_now_ns();

		count(fs, SL_FLEET_LOOKUP_ERROR, 1);
		if (now >= fs->log_next_ns) {
			sl_log(SL_LOG_WARN, "node=%s shard=%u event=relay_lookup_failed name=%s err=\"%s\"",
			       sl_node_name(f->node), sl_shard_id(s), an->name, strerror(-an->status));
			fs->log_next_ns = now + LOG_EVERY_NS;
		}
		fail_waiting(fs, e, SL_FLEET_DROP_ERROR, "relay_lookup_failed");
		e->state = E_FREE;
		goto out;
	}
	if (an->status == -ENOENT) {
		count(fs, SL_FLEET_LOOKUP_MISS, 1);
		e->state = E_NOWHERE;
		e->olen = 0;
		e->owner[0] = 0;
		e->until_ns = sl_now_ns() + SL_FLEET_NEG_NS;
	} else {
		count(fs, SL_FLEET_LOOKUP_OK, 1);
		e->state = E_OWNER;
		e->olen = (uint8_t)strlen(an->owner);
		memcpy(e->owner, an->owner, e->olen + 1u);
		e->until_ns = sl_now_ns() + SL_FLEET_CACHE_NS;
	}
	while ((m = e->head)) {
		e->head = m->next;
		m->next = NULL;
		e->nwait--;
		fs->nwait--;
		forward(f, fs, e, m);
	}
	e->tail = NULL;
out:
	free(an);
}

void sl_relay_fleet_answer(struct sl_node *n, unsigned shard, const char *name, int status,
			   const char *owner)
{
	struct sl_relay_fleet *f = fleet_of(n);
	struct answer *an;

	/* A stopping node runs no more shard calls: their arguments would be left behind. */
	if (!f || __atomic_load_n(&f->closed, __ATOMIC_ACQUIRE) || !sl_node_running(n) ||
	    shard >= f->nshards || strlen(name) > SL_RELAY_NAME_MAX ||
	    (owner && strlen(owner) > SL_ADDR_BODY_MAX))
		return;
	an = calloc(1, sizeof(*an));
	if (!an)
		return;	/* the lookup's deadline fails its messages */
	an->f = f;
	an->status = status;
	strcpy(an->name, name);
	if (!status && owner)
		strcpy(an->owner, owner);
	else if (!status)
		an->status = -ENOENT;
	/* The shard's control queue is bounded; the caller is not a shard: wait for room a while. */
	for (int tries = 0; tries < 1000; tries++) {
		int ret = sl_shard_call(n, shard, answer_call, an);

		if (ret != -EAGAIN) {
			if (ret)
				free(an);
			return;
		}
		pause_1ms();
	}
	free(an);
}

struct disown {
	struct sl_relay_fleet *f;
	char addr[SL_ADDR_BODY_MAX + 1];
};

static void disown_call(struct sl_shard *s, void *arg)
{
	struct disown *d = arg;
	struct sl_relays *rs = sl_relays_local(s);

	sl_log(SL_LOG_INFO, "node=%s event=relay_taken_over address=%s", sl_node_name(d->f->node),
	       d->addr);
	if (rs)
		sl_relays_expire_name_local(rs, s, d->addr, strlen(d->addr));
	free(d);
}

void sl_relay_fleet_disown(struct sl_node *n, const char *name)
{
	struct sl_relay_fleet *f = fleet_of(n);
	struct disown *d;
	int ret;

	if (!f || __atomic_load_n(&f->closed, __ATOMIC_ACQUIRE) || !sl_node_running(n) ||
	    strlen(name) > SL_RELAY_NAME_MAX ||
	    !(d = calloc(1, sizeof(*d))))
		return;
	d->f = f;
	memcpy(d->addr, SL_RELAY_PREFIX, SL_RELAY_PREFIX_LEN);
	strcpy(d->addr + SL_RELAY_PREFIX_LEN, name);
	sl_relay_fleet_count(n, SL_FLEET_TAKEOVERS);
	while ((ret = sl_shard_call(n, sl_worker_hashed_shard(n, d->addr), disown_call, d)) ==
	       -EAGAIN)
		pause_1ms();
	if (ret)
		free(d);
}

/* Lookups the directory never answered fail at their deadline; old answers are let go. */
static void tick_fire(struct sl_timer *t)
{
	struct fleet_shard *fs = (struct fleet_shard *)((char *)t - offsetof(struct fleet_shard, tick));
	uint64_t now = sl_now_ns();

	for (unsigned i = 0; fs->nlookups && i < SL_FLEET_SLOTS; i++) {
		struct entry *e = fs->slot[i];

		if (!e || e->state != E_WAITING || now < e->until_ns)
			continue;
		fs->nlookups--;
		count(fs, SL_FLEET_LOOKUP_ERROR, 1);
		fail_waiting(fs, e, SL_FLEET_DROP_ERROR, "relay_lookup_timeout");
		e->state = E_FREE;
	}
	sl_timer_arm(t->shard, t, TICK_NS);
}

int sl_relay_fleet_start(struct sl_node *n, const char *self, const struct sl_relay_fleet_ops *ops,
			 void *ctx)
{
	unsigned ns = sl_node_shards(n);
	struct sl_relay_fleet *f;

	if (!ops || !ops->owned || !ops->gone || !ops->lookup || strlen(self) > SL_ADDR_BODY_MAX)
		return -EINVAL;
	f = calloc(1, sizeof(*f) + ns * sizeof(f->shards[0]));
	if (!f)
		return -ENOMEM;
	f->node = n;
	f->ops = ops;
	f->ctx = ctx;
	f->nshards = ns;
	strcpy(f->self, self);
	for (unsigned i = 0; i < ns; i++) {
		f->shards[i].s = sl_node_shard(n, i);
		f->shards[i].tick.fire = tick_fire;
		f->shards[i].hop.handle = hop_handle;
		f->shards[i].hop.ctx = f;
		if (sl_worker_start_random(f->shards[i].s, &f->shards[i].hop)) {
			while (i--)
				sl_worker_stop(&f->shards[i].hop);
			free(f);
			return -ENOMEM;
		}
	}
	for (unsigned i = 0; i < ns; i++)
		/* Before start, as relay.c's ticks: the shard's heap is not running yet. */
		sl_timer_arm(f->shards[i].s, &f->shards[i].tick, TICK_NS);
	if (!sl_node_slot_swap(n, SL_NODE_SLOT_FLEET, NULL, f)) {
		for (unsigned i = 0; i < ns; i++) {
			sl_timer_cancel(&f->shards[i].tick);
			sl_worker_stop(&f->shards[i].hop);
		}
		free(f);
		return -EEXIST;
	}
	/* From now on the node's teardown frees us, after whatever reads our counters. */
	for (unsigned i = 0; i < ns; i++)
		f->shards[i].hop.stopped = hop_stopped;
	f->hops = ns;
	return 0;
}

void sl_relay_fleet_stop(struct sl_node *n)
{
	struct sl_relay_fleet *f = fleet_of(n);

	if (!f || __atomic_exchange_n(&f->closed, 1, __ATOMIC_ACQ_REL))
		return;
	/*
	 * The shards have stopped: their caches and waiting messages go now. The
	 * counters stay until the node is destroyed (the metrics endpoint may
	 * still read them): the last hop worker's stop frees them.
	 */
	for (unsigned i = 0; i < f->nshards; i++) {
		struct fleet_shard *fs = &f->shards[i];

		sl_timer_cancel(&fs->tick);
		for (unsigned k = 0; k < SL_FLEET_SLOTS; k++) {
			struct entry *e = fs->slot[k];
			struct sl_msg *m;

			if (!e)
				continue;
			while ((m = e->head)) {
				e->head = m->next;
				sl_msg_free(m);
			}
			free(e);
			fs->slot[k] = NULL;
		}
	}
}

void sl_relay_fleet_owned(struct sl_node *n, const char *addr)
{
	struct sl_relay_fleet *f = fleet_of(n);
	size_t len;
	const char *name;

	if (f && !__atomic_load_n(&f->closed, __ATOMIC_ACQUIRE) &&
	    (name = bare_name((const uint8_t *)addr, strlen(addr), &len)))
		f->ops->owned(f->ctx, name);
}

void sl_relay_fleet_gone(struct sl_node *n, const char *addr)
{
	struct sl_relay_fleet *f = fleet_of(n);
	size_t len;
	const char *name;

	if (f && !__atomic_load_n(&f->closed, __ATOMIC_ACQUIRE) &&
	    (name = bare_name((const uint8_t *)addr, strlen(addr), &len)))
		f->ops->gone(f->ctx, name);
}

void sl_relay_fleet_count(struct sl_node *n, enum sl_fleet_counter c)
{
	struct sl_relay_fleet *f = fleet_of(n);

	if (f && c < SL_FLEET_COUNTERS)
		__atomic_add_fetch(&f->extra[c], 1, __ATOMIC_RELAXED);
}

void sl_relay_fleet_set_up(struct sl_node *n, bool up)
{
	struct sl_relay_fleet *f = fleet_of(n);

	if (f)
		__atomic_store_n(&f->up, up, __ATOMIC_RELAXED);
}

void sl_relay_fleet_stats(struct sl_node *n, struct sl_relay_fleet_stats *out)
{
	struct sl_relay_fleet *f = fleet_of(n);

	memset(out, 0, sizeof(*out));
	if (!f)
		return;
	out->member = true;
	out->directory_up = __atomic_load_n(&f->up, __ATOMIC_RELAXED);
	for (unsigned c = 0; c < SL_FLEET_COUNTERS; c++) {
		out->c[c] = __atomic_load_n(&f->extra[c], __ATOMIC_RELAXED);
		for (unsigned i = 0; i < f->nshards; i++)
			out->c[c] += __atomic_load_n(&f->shards[i].c[c], __ATOMIC_RELAXED);
	}
}
