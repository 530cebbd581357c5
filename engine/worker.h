/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Workers, sending and timers: the API a service is written against.
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

/*
 * Route m by the front of its onward route; takes ownership in every case.
 * A local address is delivered to its worker (on whichever shard hosts it);
 * a transport address (TCP, UDS, ...) goes to that transport. A message that
 * cannot be routed is counted, logged (rate limited) and freed.
 * Must be called on a shard thread (s is the caller's shard).
 */
void sl_send(struct sl_shard *s, struct sl_msg *m);
/*
 * As sl_send, except when m is for a worker on another shard whose ring from
 * us is full: then false, and m is still the caller's (a reader keeps it and
 * stops reading its source: backpressure instead of a drop). True otherwise,
 * with ownership gone as in sl_send.
 */
bool sl_send_try(struct sl_shard *s, struct sl_msg *m);

/*
 * Forward m one hop the way a relaying worker does: pop the front of the
 * onward route (the worker's own address) and push `self` onto the return
 * route, then sl_send. (Ockam's step_forward.)
 */
void sl_forward(struct sl_worker *self, struct sl_msg *m);

/*
 * Reply to m with its own buffer: onward = m's return route, return = [self].
 * The payload is whatever the caller left in m.
 */
void sl_reply(struct sl_worker *self, struct sl_msg *m);

/* The shard the calling thread runs, or NULL on a thread that is not a shard. */
struct sl_shard *sl_shard_self(void);
unsigned sl_shard_id(const struct sl_shard *s);
struct sl_node *sl_shard_node(const struct sl_shard *s);

/*
 * Timers, per shard, fired on the shard's thread. A timer is embedded in its
 * owner's struct; arming an armed timer re-arms it.
 */
struct sl_timer {
	uint64_t deadline;			/* monotonic ns */
	void (*fire)(struct sl_timer *t);
	struct sl_shard *shard;
	uint32_t slot;				/* engine-private position in the shard's heap */
	bool armed;
};

void sl_timer_arm(struct sl_shard *s, struct sl_timer *t, uint64_t delay_ns);
void sl_timer_cancel(struct sl_timer *t);

/* CLOCK_MONOTONIC in ns and CLOCK_REALTIME in s, read once per loop turn. */
uint64_t sl_now_ns(void);
uint64_t sl_wall_s(void);

/*
 * Run fn(shard, arg) on shard `id`'s thread (control plane: it arrives as a
 * message on that shard's control ring). Callable from any thread. 0, or
 * -EAGAIN when the ring is full.
 */
int sl_shard_call(struct sl_node *n, unsigned id, void (*fn)(struct sl_shard *s, void *arg), void *arg);
unsigned sl_node_shards(const struct sl_node *n);

#endif
