/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A relay fleet: several relay nodes share one directory of
 * `name -> owning node's TCP listener`, so a message for forward_to_<name>
 * may arrive at any of them.
 *
 * The engine's side, with no I/O of its own: the directory (a Redis client in
 * tools/daemon/relay_dir.c) is behind an ops table. Relays this node takes or
 * loses are told to it; a message for forward_to_<name> that finds no relay
 * on its home shard is handed here by the router instead of being dropped.
 * The home shard keeps a small cache of answers; a name it does not know is
 * asked of the directory (never blocking the shard), and the messages for it
 * wait, bounded, until the answer comes back through sl_shard_call. A known
 * owner gets the message over TCP: its listener is pushed on the onward
 * route, so the connection's worker lands on the return route and replies
 * come back the same way. Everything per shard, on its own thread: no lock.
 */
#ifndef SL_RELAY_FLEET_H
#define SL_RELAY_FLEET_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/msg.h"
#include "engine/relay.h"

struct sl_node;
struct sl_shard;

#define SL_FLEET_CACHE_NS (1000ull * 1000000)	/* an owner found is trusted this long */
#define SL_FLEET_NEG_NS (250ull * 1000000)	/* so is "nowhere" */
#define SL_FLEET_WAIT_NS (3000ull * 1000000)	/* a lookup unanswered this long fails */
#define SL_FLEET_WAIT_MAX 1024u			/* messages waiting on lookups, per shard */
#define SL_FLEET_SLOTS 4096u			/* cached names per shard (direct mapped) */

/* The directory. Every op is called on a shard thread and must not block. */
struct sl_relay_fleet_ops {
	/* This node now holds relay `name` (created, or its route replaced). */
	void (*owned)(void *ctx, const char *name);
	/* It no longer does (expired, taken over, node stopping). */
	void (*gone)(void *ctx, const char *name);
	/* Find name's owner; answered with sl_relay_fleet_answer(). 0 or -errno. */
	int (*lookup)(void *ctx, unsigned shard, const char *name);
};

/*
 * Cold, before the node starts and after sl_relay_services_start: make n a
 * member of a fleet. self is this node's TCP listener ("HOST:PORT", as the
 * directory stores it), to tell "the owner is me" (a stale entry) from a
 * peer. 0 or -errno.
 */
int sl_relay_fleet_start(struct sl_node *n, const char *self, const struct sl_relay_fleet_ops *ops,
			 void *ctx);
/*
 * Cold, after the shards stopped and before the directory's ctx goes: ops
 * are called no more, cached answers and waiting messages are freed. The
 * counters stay readable until sl_node_destroy, which frees the rest.
 */
void sl_relay_fleet_stop(struct sl_node *n);

/*
 * Any thread: the directory's answer to lookup(shard, name). status 0:
 * owner holds it ("HOST:PORT"); -ENOENT: nowhere; else the directory failed.
 */
void sl_relay_fleet_answer(struct sl_node *n, unsigned shard, const char *name, int status,
			   const char *owner);
/* Any thread: another node took name over; drop our relay of that name. */
void sl_relay_fleet_disown(struct sl_node *n, const char *name);

enum sl_fleet_counter {
	SL_FLEET_LOOKUP_OK,		/* the directory named an owner */
	SL_FLEET_LOOKUP_MISS,		/* ... said nowhere */
	SL_FLEET_LOOKUP_ERROR,		/* ... could not answer (down, timeout) */
	SL_FLEET_FORWARDED,		/* messages sent on to the owner node */
	SL_FLEET_DROP_NOWHERE,		/* messages for a name no node holds */
	SL_FLEET_DROP_ERROR,		/* ... whose lookup failed */
	SL_FLEET_DROP_WAIT_FULL,	/* ... with no room to wait for a lookup */
	SL_FLEET_WRITE_ERRORS,		/* directory writes that failed */
	SL_FLEET_TAKEOVERS,		/* our names another node took over */
	SL_FLEET_COUNTERS
};

struct sl_relay_fleet_stats {
	bool member;			/* the node is in a fleet */
	bool directory_up;		/* the directory answers now */
	uint64_t c[SL_FLEET_COUNTERS];
};
/* Any thread: count one event (the directory's own, e.g. write errors). */
void sl_relay_fleet_count(struct sl_node *n, enum sl_fleet_counter c);
void sl_relay_fleet_set_up(struct sl_node *n, bool up);
void sl_relay_fleet_stats(struct sl_node *n, struct sl_relay_fleet_stats *out);

/* ---- for the engine ---- */

/* router.c: m is for forward_to_<name>, homed on s, and no relay holds it here. true: taken. */
bool sl_relay_fleet_miss(struct sl_shard *s, struct sl_msg *m);
/* relay.c, on the name's home shard: forward_to_<name> was created, replaced or stopped. */
void sl_relay_fleet_owned(struct sl_node *n, const char *addr);
void sl_relay_fleet_gone(struct sl_node *n, const char *addr);

#endif
