/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Workers: the API a service is written against, with engine/router.h
 * (sending) and engine/timer.h.
 *
 * A worker lives on one shard and is reached by a local address (type 0). Its
 * handler runs on that shard's thread only, so a worker's own state needs no
 * lock. A handler owns the message it is given (msg.h): it sends it on with
 * sl_send() or frees it.
 *
 * Addresses: a named service ("uppercase") may be started on every shard (one
 * instance each, stateless services) or on one shard; a message for a name not
 * hosted on the current shard goes to the shard that registered it, through
 * the node's read-mostly name table. Random addresses (32 hex chars) are drawn
 * so that they hash to the shard that hosts the worker, so the router finds
 * their shard without a table.
 */
#ifndef SL_WORKER_H
#define SL_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/msg.h"

struct sl_shard;
struct sl_node;
struct sl_worker;

typedef void (*sl_handle_fn)(struct sl_worker *w, struct sl_msg *m);

/*
 * Local addresses starting with this prefix (the relays' forward_to_<name>)
 * are homed by hash: a worker at such an address must be started on the shard
 * sl_worker_hashed_shard() names; the router sends there without a table.
 */
#define SL_HASHED_PREFIX "forward_to_"

struct sl_worker {
	sl_handle_fn handle;			/* required */
	void (*stopped)(struct sl_worker *w);	/* optional: after removal, may free w */
	void *ctx;				/* the service's own state */
	/* Set by the engine: */
	struct sl_shard *shard;
	struct sl_worker *hnext;		/* address table chain */
	uint32_t hash;
	uint8_t addr_len;
	/*
	 * Set by a relay node's services on the worker of a connection its
	 * relays' owner rides: the fair-share slot that traffic arriving on it
	 * is counted on (engine/fair_share.h), 0 = none. Relaxed.
	 */
	uint8_t share;
	char addr[SL_ADDR_BODY_MAX + 1];	/* local address body, NUL-terminated */
};

/*
 * Start w at local address addr on shard s (the calling thread must be s's
 * thread, or s must not be running yet). 0, -EEXIST (address in use on s),
 * -EINVAL (empty or too long).
 */
int sl_worker_start(struct sl_shard *s, struct sl_worker *w, const char *addr);
/* Start w at a fresh random address that maps to s. */
int sl_worker_start_random(struct sl_shard *s, struct sl_worker *w);
/* The shard that hosts the hash-homed address addr (SL_HASHED_PREFIX...). */
unsigned sl_worker_hashed_shard(const struct sl_node *n, const char *addr);
/* Remove w from its shard's table (on its shard's thread); then calls w->stopped. */
void sl_worker_stop(struct sl_worker *w);

/* shard.c: the shard a worker runs on, and control calls to it. */
/* The shard the calling thread runs, or NULL on a thread that is not a shard. */
struct sl_shard *sl_shard_self(void);
unsigned sl_shard_id(const struct sl_shard *s);
struct sl_node *sl_shard_node(const struct sl_shard *s);

/*
 * Run fn(shard, arg) on shard `id`'s thread (control plane: it arrives as a
 * message on that shard's control ring). Callable from any thread. 0, or
 * -EAGAIN when the ring is full.
 */
int sl_shard_call(struct sl_node *n, unsigned id, void (*fn)(struct sl_shard *s, void *arg), void *arg);
/* Bump a shard's drop_other counter (services that drop malformed input). */
void sl_shard_count_drop(struct sl_shard *s);
/* node.c */
unsigned sl_node_shards(const struct sl_node *n);

#endif
