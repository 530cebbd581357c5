/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The router (router.c): sl_send() looks at the front of the onward route and
 * hands the message to a local worker, another shard's ring, or a transport.
 * Every path takes ownership; whatever cannot be handed on is counted, logged
 * (rate limited, never the payload) and freed.
 */
#ifndef SL_ROUTER_H
#define SL_ROUTER_H

#include <stdbool.h>

#include "engine/msg.h"

struct sl_shard;
struct sl_worker;

/*
 * Route m by the front of its onward route; takes ownership in every case.
 * A local address is delivered to its worker (on whichever shard hosts it);
 * a transport address (TCP, UDS, ...) goes to that transport. A message that
 * cannot be routed is counted, logged (rate limited) and freed. A message
 * for another shard whose ring is full waits in this shard's park, in order,
 * and is dropped (drop_ring_full) only past SL_PARK_MAX parked messages.
 * Must be called on a shard thread (s is the caller's shard).
 */
void sl_send(struct sl_shard *s, struct sl_msg *m);
/*
 * As sl_send, except when m is for a worker on another shard whose ring from
 * us is full (or has messages parked before it), or when this shard has
 * SL_PARK_PAUSE messages parked: then false, and m is still the caller's (a reader keeps it and
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

/* For the shard loop: deliver to a worker on this shard, or drop (ring arrivals). */
void sl_send_local_or_drop(struct sl_shard *s, struct sl_msg *m);
/*
 * For the shard loop: move parked messages (sl_send found the ring to their
 * shard full) into their rings, oldest first, as far as there is room. Count
 * moved. Free them all instead (shard teardown).
 */
unsigned sl_router_flush_parked(struct sl_shard *s);
void sl_router_free_parked(struct sl_shard *s);
/* For the shard loop: run deferred local deliveries. Count run. */
unsigned sl_router_run_deferred(struct sl_shard *s);
/* Count, log (rate limited, one line, no payload) and free. */
void sl_router_drop(struct sl_shard *s, struct sl_msg *m, const char *why);
/* Whether a rate-limited line of s may go now (the drops' budget: one a second). */
bool sl_router_log_ok(struct sl_shard *s);

#endif
