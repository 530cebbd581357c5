/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What relay.c (the services) and relay_client.c share: the node's relay
 * state. Engine-private.
 */
#ifndef SL_RELAY_INT_H
#define SL_RELAY_INT_H

#include <pthread.h>

#include "engine/relay.h"
#include "engine/shard.h"
#include "engine/timer.h"

struct relay;
struct relay_watch;

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

	/* Clients (relay_client.c): all on one shard, the list under the lock. */
	struct sl_relay_client *clients;
	unsigned nclients;		/* atomic hint for the stop hook */

	unsigned nshards;
	struct relay_shard shards[];
};

void sl_relays_get(struct sl_relays *rs);
void sl_relays_put(struct sl_relays *rs);

/* relay_client.c: a worker on `s` stopped (rs->lock not held). */
void sl_relay_clients_addr_gone(struct sl_relays *rs, struct sl_shard *s, const uint8_t *addr,
				size_t len);

#endif
