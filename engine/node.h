/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node: its shards, the node-wide name table, the transports registered
 * per address type; start, stop, join; per-shard statistics.
 *
 * Life cycle (all cold, on a control thread):
 *   n = sl_node_create(&cfg);
 *   sl_node_set_io(n, ...); sl_node_add_transport(n, ...);   transports/
 *   sl_services_start(n); sl_worker_start(sl_node_shard(n, i), ...);
 *   sl_node_start(n);  ...  sl_node_stop(n); sl_node_join(n);
 *   sl_node_destroy(n);
 */
#ifndef SL_NODE_H
#define SL_NODE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/msg.h"
#include "engine/transport.h"
#include "engine/worker.h"

#define SL_MAX_SHARDS 64

/*
 * Limits the engine enforces, so one tenant cannot take the node (the
 * tools name them: tools/common/limits.c). 0 = the default given here.
 */
struct sl_node_limits {
	unsigned max_pending_hs;	/* responder handshakes in flight, node, 0 = 8192 */
	unsigned max_pending_hs_conn;	/* ... whose msg1 came by one first hop, 0 = 256 */
	unsigned hs_timeout_ms;		/* a responder handshake's time to finish, 0 = 10 s */
	unsigned max_relays_conn;	/* relays whose route rides one connection, 0 = 256 */
	unsigned max_relays_identity;	/* relays one identity owns, 0 = 256 */
	/*
	 * On a busy relay node, the percent of an equal share of its forwarding
	 * an owning identity may take before its connections wait for the next
	 * epoch (engine/fair_share.h): 0 = 110, SL_FAIR_SHARE_OFF = no share.
	 */
	unsigned relay_fair_share;
};

#define SL_FAIR_SHARE_OFF UINT_MAX

struct sl_node_config {
	const char *name;	/* for logs; may be NULL */
	unsigned shards;	/* 0 = one per online CPU, at most SL_MAX_SHARDS */
	bool no_pin;		/* do not pin shard i to CPU (cpu_base + i) % ncpu */
	unsigned cpu_base;	/* first CPU (several nodes in one process) */
	unsigned spin_us;	/* busy-poll this long before sleeping (0 = sleep at once) */
	unsigned ring_size;	/* entries of each shard-pair ring (power of 2), 0 = 4096 */
	/* Per-shard caps on pooled messages by size class, 0 = default (engine/pool.h). */
	unsigned pool_small_max, pool_mid_max, pool_big_max;
	struct sl_node_limits limits;
};

struct sl_shard_stats {
	uint64_t delivered;		/* handed to a local worker */
	uint64_t to_transport;		/* handed to a transport's send op */
	uint64_t ring_out;		/* pushed to another shard */
	uint64_t ring_in;		/* taken from another shard */
	uint64_t drop_unknown;		/* no worker, name or transport for the address */
	uint64_t drop_route;		/* empty or absurdly long onward route */
	uint64_t drop_ring_full;	/* the other shard's ring was full and our park at its bound */
	uint64_t ring_full_held;	/* ... a reader kept its message instead (sl_send_try) */
	uint64_t ring_parked;		/* waited in our park for room in the other shard's ring */
	uint64_t drop_other;		/* counted by services (malformed payloads...) */
	uint64_t wakeups;		/* doorbells rung */
	uint64_t sleeps;
	uint64_t timers_fired;
	uint64_t calls;			/* sl_shard_call functions run */
	uint64_t bytes;			/* payload bytes routed (to a worker or a transport) */
	/* Secure channel handshakes that ended on this shard (secure_handshake.c). */
	uint64_t hs_ok;			/* established */
	uint64_t hs_timeout;		/* no answer within the handshake's time */
	uint64_t hs_unauthorized;	/* the peer verified but is not on the trust list */
	uint64_t hs_expired;		/* the peer's credentials are out of their validity */
	uint64_t hs_invalid;		/* the peer's identity or attestation did not verify */
	uint64_t hs_other;		/* out of memory, or no room for the next message */
	/* Portal connections that stopped reading: the peer's credit window was used up. */
	uint64_t credit_stalls;
	/* Refused by a limit (struct sl_node_limits). */
	uint64_t limit_pending_hs;	/* msg1 dropped: max_pending_hs responders in flight */
	uint64_t limit_pending_hs_conn;	/* ... max_pending_hs_conn of them by its first hop */
	uint64_t limit_hs_timeout;	/* responder handshakes dropped at hs_timeout_ms */
	uint64_t limit_relays_conn;	/* registrations refused: max_relays_conn on the connection */
	uint64_t limit_relays_identity;	/* ... max_relays_identity owned by the registrant */
	uint64_t limit_fair_share;	/* connections paused: their owner was past relay_fair_share */
	uint64_t discarded;		/* consumed by the discard service, no reply */
};

/* Pool and ring occupancy of one shard (any thread; relaxed reads, a snapshot). */
struct sl_shard_occupancy {
	unsigned pool_total[3], pool_free[3];	/* small, mid, big (engine/pool.h) */
	uint64_t pool_exhausted;		/* allocations refused at a class's cap */
	unsigned ring_used, ring_cap;		/* messages waiting in the rings into the shard */
	unsigned parked;			/* messages in the shard's park, for other shards' rings */
};

/* Cold. NULL on failure (errno set). */
struct sl_node *sl_node_create(const struct sl_node_config *cfg);
/* Cold, after sl_node_join (or before start). */
void sl_node_destroy(struct sl_node *n);

/* Before start. The node calls ops with ctx; ctx outlives the node's run. */
void sl_node_set_io(struct sl_node *n, const struct sl_io_ops *ops, void *ctx);
/* Before start. 0, -EEXIST (type taken), -EINVAL. */
int sl_node_add_transport(struct sl_node *n, const struct sl_transport_ops *ops, void *ctx);
/* Before start: undo sl_node_add_transport(ops) (nothing if ops is not the one added). */
void sl_node_del_transport(struct sl_node *n, const struct sl_transport_ops *ops);

/* Spawn the shard threads and wait until each ran its io shard_start. 0 or -errno. */
int sl_node_start(struct sl_node *n);
/* Any thread (not async-signal-safe: use sl_runtime_stop from handlers). */
void sl_node_stop(struct sl_node *n);
/* Wait for every shard thread; io shard_stop has run on each. */
void sl_node_join(struct sl_node *n);
bool sl_node_running(const struct sl_node *n);

struct sl_shard *sl_node_shard(struct sl_node *n, unsigned id);
/* The node's limits, defaults filled in (any thread; fixed at create). */
const struct sl_node_limits *sl_node_limits(const struct sl_node *n);
/*
 * Any thread, the node running: the non-zero fields of l replace the node's. The
 * readers load each field relaxed, so a new value applies from its next use.
 */
void sl_node_set_limits(struct sl_node *n, const struct sl_node_limits *l);
/* One limit of node n, as its readers take it. */
#define SL_NODE_LIMIT(n, field) __atomic_load_n(&sl_node_limits(n)->field, __ATOMIC_RELAXED)
const char *sl_node_name(const struct sl_node *n);

/*
 * Any thread: route m from shard `id` as if sent there (sl_send). Takes
 * ownership in every case. 0, or -EAGAIN (control queue full; m freed).
 */
int sl_node_inject(struct sl_node *n, unsigned id, struct sl_msg *m);

/* A snapshot of shard id's counters (any thread; relaxed reads). */
void sl_node_stats(const struct sl_node *n, unsigned id, struct sl_shard_stats *out);
/* Sum over all shards. */
void sl_node_stats_total(const struct sl_node *n, struct sl_shard_stats *out);
/* Shard id's pool and rings now (any thread, no lock). */
void sl_node_occupancy(const struct sl_node *n, unsigned id, struct sl_shard_occupancy *out);

/*
 * Before start: run fn(ctx, s, addr, len) on s's thread whenever a worker of
 * s leaves its table through sl_worker_stop() (a connection closed, a channel
 * ended), after the address is gone and before the worker's stopped(). A
 * service that holds routes through other workers' addresses (relays) learns
 * here that such a route is dead. Not run for the workers still registered
 * when the node is destroyed. fn must not stop workers on other shards.
 * 0, -ENOSPC (all SL_STOP_HOOKS taken), -EINVAL.
 */
#define SL_STOP_HOOKS 4
int sl_node_on_worker_stop(struct sl_node *n,
			   void (*fn)(void *ctx, struct sl_shard *s, const uint8_t *addr, size_t len),
			   void *ctx);

/*
 * node_slot.c: feature slots. The per-node state of an engine feature that
 * the node itself knows nothing of (its portals, its secure channels) hangs
 * here, so no feature keeps a table from nodes to its state. A feature sets
 * its slot once (cold) and clears it at teardown; any thread reads it.
 */
enum sl_node_slot {
	SL_NODE_SLOT_PORTALS,		/* struct sl_portals (portal_ctl.c) */
	SL_NODE_SLOT_SECURE,		/* struct sl_secure_node (secure_node.c) */
	SL_NODE_SLOT_FLEET,		/* struct sl_relay_fleet (relay_fleet.c) */
	SL_NODE_SLOTS
};
/* The slot's value, NULL when unset. */
void *sl_node_slot(const struct sl_node *n, enum sl_node_slot k);
/* Slot k becomes v if it holds old (atomically). true when it did. */
bool sl_node_slot_swap(struct sl_node *n, enum sl_node_slot k, void *old, void *v);

/* services.c: start echo, uppercase, hop and the relay services on every shard (PROTOCOL.md 9). Before start. */
int sl_services_start(struct sl_node *n);

#endif
