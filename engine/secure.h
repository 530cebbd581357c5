/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Secure channels (PROTOCOL.md 5): Ockam's XX handshake with identities,
 * then an encryptor / decryptor pair per channel.
 *
 * Addresses, as Ockam has them. Each side of a channel has two random local
 * addresses, both drawn to hash to the shard that runs the channel, so a
 * channel never crosses a thread:
 *   decryptor  receives the handshake messages and then the ciphertext
 *              (the peer sends to it); it delivers plaintext with
 *              SL_MSG_AUTHENTICATED, m->peer = the peer identifier and
 *              return route [encryptor] + the sender's inner return route.
 *   encryptor  the channel's address for local users, printed as
 *              /service/<32 hex>: a message whose onward route is
 *              [encryptor, rest...] travels to the peer, which routes it on
 *              along rest.
 * A listener (named, e.g. `api`, on every shard) starts a responder per msg1
 * on the shard msg1 arrived on.
 *
 * Trust: every handshake verifies the peer's change history and the
 * attestation of its Noise static key; a non-empty authorized list then
 * admits only those identifiers. The initiator checks after msg2 (and never
 * sends msg3 to a peer it refuses), the responder after msg3. A failed check
 * aborts silently: nothing goes back on the wire.
 *
 * Threads: functions marked "shard" run on the given shard's thread; the
 * others (control plane, cold) run on any thread.
 */
#ifndef SL_SECURE_H
#define SL_SECURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "engine/route.h"

struct sl_node;
struct sl_shard;
struct sl_vault;

#define SL_SECURE_LISTENER "api"	/* the listener every node starts */
#define SL_SECURE_TIMEOUT_MS 10000	/* handshake timeout (Ockam: 120 s) */
#define SL_SECURE_MAX_AUTHORIZED 16	/* identifiers in one trust list */

struct sl_secure_opts {
	struct sl_vault *vault;		/* identity to present; NULL = the node's default */
	const uint8_t (*authorized)[SL_ID_LEN];	/* copied; NULL or n = 0: any verified peer */
	unsigned n_authorized;		/* at most SL_SECURE_MAX_AUTHORIZED */
	uint32_t timeout_ms;		/* 0 = SL_SECURE_TIMEOUT_MS */
	bool done_at_teardown;		/* done(-ECANCELED) if the channel goes mid-handshake */
};

/*
 * Called once per sl_secure_create() that returned 0, on the same shard.
 * err 0: channel_addr is the encryptor's address (32 hex chars, valid during
 * the call) and peer the peer's identifier. Otherwise channel_addr and peer
 * are NULL and err says what happened:
 *   -ETIMEDOUT     no valid msg2 within the timeout (nobody answered, or the
 *                  route does not reach a listener)
 *   -EACCES        the responder proved an identity not on the authorized list
 *   -EKEYREJECTED  the responder's identity or attestation does not verify
 *   -EKEYEXPIRED   ... or is outside its validity (clock skew?)
 *   -ENOMEM        out of memory or message buffers
 *   -ECANCELED     the channel went before its handshake ended: closed, or the node
 *                  stopped (then from node destroy, shards stopped). Only with
 *                  done_at_teardown, for an owner that frees arg in done.
 */
typedef void (*sl_secure_done_fn)(void *arg, int err, const char *channel_addr,
				  const uint8_t *peer);

/* secure_node.c: per-node state (cold) */

/*
 * Before sl_node_start: make v (owned by the node from now on) the node's
 * default identity and start the listener SL_SECURE_LISTENER on every shard.
 * 0, -EEXIST (already done), -ENOMEM.
 */
int sl_secure_node_init(struct sl_node *n, struct sl_vault *v);
/* After sl_node_join: free the node's channels, listeners and vaults. */
void sl_secure_node_fini(struct sl_node *n);
/* The node's default vault, NULL before sl_secure_node_init. */
struct sl_vault *sl_secure_node_vault(struct sl_node *n);
/* Hand another vault to the node (freed at fini). 0 or -EEXIST (same name). */
int sl_secure_node_add_vault(struct sl_node *n, struct sl_vault *v);
/* A vault of the node by identity name, NULL when absent. */
struct sl_vault *sl_secure_node_find_vault(struct sl_node *n, const char *name);

/* secure_handshake.c */

/*
 * Shard: open a channel to the listener at the end of `to` (e.g.
 * [1#127.0.0.1:4000, 0#api]), on shard s. 0 and done() later, or -EINVAL
 * (empty route, too many authorized), -ENOMEM, -ENOENT (no vault).
 */
int sl_secure_create(struct sl_shard *s, const struct sl_route *to,
		     const struct sl_secure_opts *opts, sl_secure_done_fn done, void *arg);

/* secure_listener.c */

struct sl_secure_listener_opts {
	struct sl_vault *vault;		/* NULL = the node's default */
	const uint8_t (*authorized)[SL_ID_LEN];	/* copied; NULL / 0: any verified peer */
	unsigned n_authorized;
};

/*
 * Start a listener at local address `addr` on every shard. Before node start
 * it is live at once; on a running node it is live once every shard ran the
 * control call (microseconds). 0, -EEXIST (a listener or worker has that
 * address), -EINVAL, -ENOMEM, -EAGAIN (control queue full).
 */
int sl_secure_listener_start(struct sl_node *n, const char *addr,
			     const struct sl_secure_listener_opts *o);
/*
 * Stop it (responders already running finish). 0, -ENOENT. gone (may be
 * NULL) runs once the address has left every shard, so a new listener or
 * service may take it: on the thread of the last shard to stop its worker
 * (before node start: the caller's, within the call).
 */
int sl_secure_listener_stop(struct sl_node *n, const char *addr, void (*gone)(void *arg),
			    void *arg);

struct sl_secure_listener_info {
	char addr[SL_ADDR_BODY_MAX + 1];
	uint8_t id[SL_ID_LEN];			/* the identity it presents */
	char identity[65];			/* that identity's name */
	unsigned n_authorized;
	uint8_t authorized[SL_SECURE_MAX_AUTHORIZED][SL_ID_LEN];
};

/* Snapshot into v[0..max); returns how many listeners there are. */
size_t sl_secure_listener_list(struct sl_node *n, struct sl_secure_listener_info *v, size_t max);

/* secure_channel.c: established channels */

struct sl_secure_info {
	char addr[SL_RANDOM_ADDR_LEN + 1];	/* encryptor: the channel */
	char decryptor[SL_RANDOM_ADDR_LEN + 1];
	uint8_t self[SL_ID_LEN];		/* our identifier */
	uint8_t peer[SL_ID_LEN];		/* the peer's */
	bool initiator;
	unsigned shard;
	uint64_t created_s;			/* wall clock */
	uint64_t sent, received;		/* messages, approximate (relaxed reads) */
	char route[512];			/* the route to the peer's decryptor, as text */
};

/* Snapshot into v[0..max); returns how many channels there are. */
size_t sl_secure_list(struct sl_node *n, struct sl_secure_info *v, size_t max);
/* 0 or -ENOENT. */
int sl_secure_find(struct sl_node *n, const char *addr, struct sl_secure_info *out);
/*
 * The first hop of the route to the peer of the channel whose encryptor is
 * addr, when it is a local worker (the connection the channel goes over):
 * 0 and hop[*len] (at most SL_ADDR_BODY_MAX bytes), or -ENOENT.
 */
int sl_secure_first_hop(struct sl_node *n, const char *addr, uint8_t *hop, uint8_t *len);
/*
 * Close the channel whose encryptor is addr: an encrypted Close goes to the
 * peer and both halves stop (on the channel's shard, shortly). 0, -ENOENT,
 * -EAGAIN.
 */
int sl_secure_close(struct sl_node *n, const char *addr);
/* Handshakes in flight on the node now (any thread; 0 without secure channels). */
unsigned sl_secure_pending(struct sl_node *n);

#endif
