/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What relay.c (the services) and relay_client.c share: the node's relay
 * state. Engine-private.
 */
#ifndef SL_RELAY_INT_H
#define SL_RELAY_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "engine/relay.h"
#include "engine/shard.h"
#include "engine/timer.h"

struct sl_secure_info;

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

/*
 * An address whose stop kills a relay: the first hop of its forward route
 * and, when that hop is a secure channel, the connection under the channel
 * (a channel outlives its connection; the registering node does not).
 */
struct relay_watch {
	struct relay *r;
	struct relay_watch *wnext, **wpprev;	/* watch chain; wpprev NULL when unused */
	struct relay_watch *snext, **spprev;	/* the verify list of wshard, if on it */
	uint32_t whash;
	uint16_t wshard;		/* shard hosting the watched address */
	uint8_t wlen;
	/*
	 * wbuf, or the heap for a longer address: the watched hops are mostly
	 * random addresses (connections, channels), and 100,000 relays each
	 * watching two would otherwise carry 512 bytes of empty room apiece.
	 */
	char *waddr;
	char wbuf[SL_RANDOM_ADDR_LEN + 1];
};

#define RELAY_WATCHES 2

struct relay {
	struct sl_worker w;		/* at forward_to_<name>, on its hash shard */
	struct sl_relays *rs;
	struct relay *dnext;		/* directory chain */
	struct relay *snext, **spprev;	/* the home shard's reap list, if on it */
	uint32_t dhash;
	bool in_dir;
	bool owned;
	int dead;			/* set under the lock, read by the handler (atomic) */
	uint64_t forwarded;		/* written by the handler, read relaxed */
	uint8_t share;			/* the owner's fair-share slot, 0 = none (relay_limit.c) */
	uint8_t owner[32];
	struct relay_watch watch[RELAY_WATCHES];
	/* The forward route, in the bytes it needs (a whole struct sl_route is 1 KiB). */
	struct sl_route_packed *fwd;
};

/* An identity that owns relays, and how many (relay_limit.c). */
struct relay_owner {
	struct relay_owner *next;
	unsigned n;
	uint8_t slot;			/* fair_share.h; shared by hash once all are taken */
	bool slot_own;			/* ... taken off the free ones (not by hash) */
	uint8_t id[32];
};

/* Per shard: the registrar, the maintenance tick, the lists it works off. */
struct relay_shard {
	struct sl_worker registrar;	/* random address on this shard: registrations sent here */
	struct sl_timer tick;
	struct sl_relays *rs;
	struct relay *reap;		/* dead relays homed here, to stop on this thread */
	struct relay_watch *verify;	/* new watches on addresses hosted here, to check */
	int pending;			/* reap or verify non-empty (atomic hint) */
	unsigned reaped;		/* relays stopped since the last malloc_trim */
};

struct relay_svc {
	struct sl_worker w;
	struct sl_relays *rs;
};

struct sl_relays {
	struct sl_node *node;
	/*
	 * Registration, expiry and listing are control-path events (not per
	 * message): one lock for the directory, the watches and the lists.
	 * A relay's forward route is written only on its home shard, under the
	 * lock; its handler reads it there without one.
	 */
	pthread_mutex_t lock;
	struct relay **dir;		/* by address (forward_to_<name>), chained */
	unsigned dmask;
	struct relay_watch **watch;	/* by watched address (relay.c) */
	unsigned wmask;
	unsigned nrelays;
	unsigned nwatch;		/* atomic hint for the stop hook's fast path */
	unsigned refs;			/* workers pointing here; the last one frees */
	struct sl_relay_stats st;
	struct relay_owner **owners;	/* by identity, chained (relay_limit.c) */
	unsigned omask, nowners;
	uint64_t slots_used;		/* fair-share slots given to owners (bit i: slot i) */

	/* Clients (relay_client.c): all on one shard, the list under the lock. */
	struct sl_relay_client *clients;
	unsigned nclients;		/* atomic hint for the stop hook */

	unsigned nshards;
	struct relay_shard shards[];
};

/* relay_index.c: the directory, the watches and expiry, all under rs->lock unless said. */
#define SL_RELAY_TICK_NS (250ull * 1000000)	/* expiry latency bound across shards */
/*
 * The per-shard lists are intrusive and doubly linked: an entry leaves in
 * O(1) whoever removes it. The pending flag is a hint the owning shard's
 * tick reads without the lock.
 */
#define SLIST_ADD(head, pending, x) do {				\
	(x)->snext = *(head);						\
	if ((x)->snext)							\
		(x)->snext->spprev = &(x)->snext;			\
	*(head) = (x);							\
	(x)->spprev = (head);						\
	__atomic_store_n((pending), 1, __ATOMIC_RELEASE);		\
} while (0)

#define SLIST_REMOVE(x) do {						\
	if ((x)->spprev) {						\
		*(x)->spprev = (x)->snext;				\
		if ((x)->snext)						\
			(x)->snext->spprev = (x)->spprev;		\
		(x)->snext = NULL;					\
		(x)->spprev = NULL;					\
	}								\
} while (0)

struct relay *sl_relay_dir_find(struct sl_relays *rs, const char *addr, size_t len);
void sl_relay_dir_insert(struct sl_relays *rs, struct relay *r);
void sl_relay_dir_remove(struct sl_relays *rs, struct relay *r);
/* Watch a (the first hop of r's route, or the connection under it); s: r's home shard. */
void sl_relay_watch_add(struct sl_relays *rs, struct sl_shard *s, struct relay_watch *x,
			const struct sl_addr *a);
void sl_relay_unwatch_all(struct sl_relays *rs, struct relay *r);
/* On the watched address's shard: count what arrives on its worker w on r's owner. */
void sl_relay_share_tag(const struct relay *r, struct sl_worker *w);
/* r is dead: out of every index, queued for its home shard to stop. */
void sl_relay_expire_locked(struct sl_relays *rs, struct relay *r);
/* Lock not held: the connection a secure channel at `first` rides (into *out, text in si). */
bool sl_relay_channel_first_hop(struct sl_relays *rs, const struct sl_addr *first,
				struct sl_secure_info *si, struct sl_addr *out);
/* s's thread, lock not held: stop the dead relays homed on s. */
void sl_relay_reap_local(struct sl_relays *rs, struct sl_shard *s);
/* The node's worker-stop hook, and each shard's tick. */
void sl_relay_on_worker_stop(void *ctx, struct sl_shard *s, const uint8_t *addr, size_t len);
void sl_relay_tick_fire(struct sl_timer *t);

/* relay_limit.c: the node's limits on relays, all under rs->lock. */
/* Cold: the owner table. 0 or -ENOMEM. */
int sl_relay_limit_init(struct sl_relays *rs);
void sl_relay_limit_free(struct sl_relays *rs);
/*
 * Whether a registration from `peer` (NULL: not through a secure channel)
 * whose route rides connection `conn` (NULL: none) may make or take over r
 * (NULL: a new relay): NULL, or the name of the limit it would pass.
 */
const char *sl_relay_limit_check(struct sl_relays *rs, const struct relay *r,
				 const uint8_t *peer, const struct sl_addr *conn);
/* r, in the directory, is now owned by r->owner (r->share set) / no longer is. */
void sl_relay_owner_add(struct sl_relays *rs, struct relay *r);
void sl_relay_owner_del(struct sl_relays *rs, const struct relay *r);

void sl_relays_get(struct sl_relays *rs);
void sl_relays_put(struct sl_relays *rs);

/* relay_client.c: a worker on `s` stopped (rs->lock not held). */
void sl_relay_clients_addr_gone(struct sl_relays *rs, struct sl_shard *s, const uint8_t *addr,
				size_t len);

/* On the home shard s of forward_to_<name> (addr): stop our relay of it, if any. */
void sl_relays_expire_name_local(struct sl_relays *rs, struct sl_shard *s, const char *addr,
				 size_t len);

#endif
