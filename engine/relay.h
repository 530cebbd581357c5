/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Relays (PROTOCOL.md 6): the services that let a node be reached through
 * another one, and the client that keeps a registration alive.
 *
 * Server side, on every node: `forwarding_service` (payload BARE "register":
 * the node picks a random name) and `static_forwarding_service` (payload the
 * BARE name) create a worker at `forward_to_<name>` whose forward route is
 * the registration's return route. It answers with the BARE string
 * `forward_to_<name>` along that route (from its own address), then drops the
 * route's last hop (the registering worker) so the route ends at the
 * registering node. Every message it gets: pop its own address, prepend the
 * forward route, send (Ockam's relay.rs; the return route is left alone).
 *
 * Names and owners: a registration that arrived through a secure channel
 * (SL_MSG_AUTHENTICATED) makes its peer identity the name's owner; only that
 * identity may register the name again (the route is replaced, the
 * Orchestrator's behaviour). A plain registration takes a free name or one
 * held by another plain registration.
 *
 * Elastic: relay workers are homed by hash (SL_HASHED_PREFIX), spread over
 * the shards and found by the router without a table, so one busy relay only
 * loads its own shard and nothing is O(number of relays) per message. A relay
 * goes away when the worker its forward route starts with stops (the
 * connection or channel of the registering node closed): the node's
 * worker-stop hook tells us, so nothing leaks when nodes go away.
 *
 * Client side: sl_relay_client_create() registers a name at a route and keeps
 * it: a CBOR Ping(u64 random) to `echo` on the relay node every 10 s (3
 * unanswered = down), re-registration as soon as the connection it came
 * through closes or pongs come back another way, a retry every 5 s while the
 * relay node cannot be reached. The engine has no sockets: the transport
 * connects on demand when a message goes to a TCP address.
 */
#ifndef SL_RELAY_H
#define SL_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/route.h"

struct sl_node;
struct sl_shard;
struct sl_relays;
struct sl_relay_client;

#define SL_RELAY_SERVICE "forwarding_service"
#define SL_RELAY_STATIC_SERVICE "static_forwarding_service"
#define SL_RELAY_PREFIX "forward_to_"	/* == SL_HASHED_PREFIX (worker.h) */
#define SL_RELAY_PREFIX_LEN (sizeof(SL_RELAY_PREFIX) - 1)
/* Longest name a client may ask for: forward_to_<name> is one address body. */
#define SL_RELAY_NAME_MAX (SL_ADDR_BODY_MAX - SL_RELAY_PREFIX_LEN)
/* Relays one node hosts at most; registrations beyond are dropped (counted). */
#define SL_RELAYS_MAX 1000000u

#define SL_RELAY_PING_NS (10ull * 1000000000)	/* keepalive period */
#define SL_RELAY_PING_MISSES 3			/* unanswered pings = down */
#define SL_RELAY_RETRY_NS (5ull * 1000000000)	/* re-registration period while down */

/*
 * Decode a registration payload (a BARE string). Ephemeral ("register"):
 * returns 0 with *ephemeral set. Static: the name is copied to name
 * (NUL-terminated, cap >= SL_RELAY_NAME_MAX + 1) and its length returned.
 * -EBADMSG: not a BARE string, empty, longer than SL_RELAY_NAME_MAX, or with
 * bytes outside printable ASCII (0x21..0x7e) or a '/' (names are address
 * bodies that also travel in multiaddr text).
 */
int sl_relay_parse_registration(const uint8_t *p, size_t len, char *name, size_t cap,
				bool *ephemeral);

/*
 * Cold, before the node starts: the relay services on every shard, the
 * node's relay state, its hook on worker stops and a maintenance timer per
 * shard. Freed with the node's workers. 0 or -errno.
 */
int sl_relay_services_start(struct sl_node *n);

/* The node's relay state, found through the services on shard s (s's thread). NULL if none. */
struct sl_relays *sl_relays_local(struct sl_shard *s);

/* Counters of the hosted relays (any thread). */
struct sl_relay_stats {
	uint64_t active;	/* relays registered now */
	uint64_t registered;	/* registrations that created a relay */
	uint64_t replaced;	/* registrations that replaced a relay's route */
	uint64_t rejected;	/* name held by another identity, or a bad request */
	uint64_t expired;	/* relays whose registering connection went away */
};
void sl_relays_stats(struct sl_relays *rs, struct sl_relay_stats *out);

/* One hosted relay, as listed (any thread; a snapshot under the relays' lock). */
struct sl_relay_info {
	char address[SL_ADDR_BODY_MAX + 1];	/* forward_to_<name> */
	struct sl_route route;			/* forward route (after the pop) */
	bool owned;
	uint8_t owner[32];			/* identifier hash when owned */
	unsigned shard;
	uint64_t forwarded;			/* messages, relaxed count */
};
/*
 * Call fn for at most max relays, in no particular order (any thread; fn
 * must not call back into relays). Number visited.
 */
size_t sl_relays_each(struct sl_relays *rs, size_t max,
		      void (*fn)(void *arg, const struct sl_relay_info *ri), void *arg);

/* ---- client (relay_client.c); every call on the client's shard thread ---- */

enum sl_relay_client_state {
	SL_RELAY_CLIENT_CONNECTING,	/* registration sent, no answer yet */
	SL_RELAY_CLIENT_UP,		/* registered, pongs coming back */
	SL_RELAY_CLIENT_DOWN,		/* lost; retrying every SL_RELAY_RETRY_NS */
};

const char *sl_relay_client_state_name(enum sl_relay_client_state st);

struct sl_relay_client_info {
	char name[SL_RELAY_NAME_MAX + 1];
	char remote[SL_ADDR_BODY_MAX + 1];	/* forward_to_<name> once registered */
	struct sl_route at;			/* route to the relay node */
	enum sl_relay_client_state state;
	uint64_t registrations;			/* successful (re-)registrations */
	uint64_t pings, pongs;
	uint64_t last_up_s;			/* wall clock of the last registration */
	bool secure;
	char channel[SL_RANDOM_ADDR_LEN + 1];	/* our end of the channel, "" when none */
};

/*
 * Told (on the client's shard) when a registration succeeded (status 0) or a
 * first registration timed out (-ETIMEDOUT). May call sl_relay_client_delete.
 * -ECANCELED: the client went before its first outcome (deleted, or the node
 * stopped: then from node destroy, shards stopped); c must not be used.
 */
typedef void (*sl_relay_client_event_fn)(void *ctx, struct sl_relay_client *c, int status);

struct sl_relay_client_opts {
	/*
	 * Register through a secure channel to the relay node's `api` listener
	 * (as Ockam does): the relay then belongs to this node's identity, and
	 * the relay node sees only ciphertext of what it carries for us.
	 */
	bool secure;
	bool has_authority;			/* admit only this relay node identity */
	uint8_t authority[32];
	uint64_t first_timeout_ns;		/* bound on the first registration */
	sl_relay_client_event_fn event;		/* may be NULL */
	void *ctx;
};

/*
 * Register `name` at route `at` (the relay node, without the service) from a
 * worker on shard s, and keep it registered until deleted. After
 * first_timeout_ns the event gets -ETIMEDOUT; the client goes on retrying
 * unless deleted. On s's thread or before the node starts.
 * 0, -EEXIST (a client with that name), -EINVAL, -ENOMEM.
 */
int sl_relay_client_create(struct sl_relays *rs, struct sl_shard *s, const char *name,
			   const struct sl_route *at, const struct sl_relay_client_opts *o,
			   struct sl_relay_client **out);
/* NULL when there is none. */
struct sl_relay_client *sl_relay_client_find(struct sl_relays *rs, const char *name);
void sl_relay_client_get_info(const struct sl_relay_client *c, struct sl_relay_client_info *out);
/* Stop and free; the relay on the relay node goes when its route does. */
void sl_relay_client_delete(struct sl_relay_client *c);
/* Visit every client (same shard as the clients). Number visited. */
size_t sl_relay_client_each(struct sl_relays *rs,
			    void (*fn)(void *arg, struct sl_relay_client *c), void *arg);

#endif
