/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the secure_*.c files only: the channel, the listener and the
 * per-node state. Not for other modules (they use secure.h).
 *
 * Lifetimes. Memory that a worker table points at may only be freed from
 * that worker's `stopped` callback, which the engine also calls at node
 * destroy for workers still registered. So channels and listeners are
 * reference counted by their registered workers (and listeners by their
 * responders in flight and their registry entry), and the per-node state by
 * every channel and listener plus the node's own reference: whatever goes
 * last frees it, on whichever path the node goes down.
 */
#ifndef SL_SECURE_INTERNAL_H
#define SL_SECURE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/cipher.h"
#include "crypto/noise.h"
#include "engine/secure.h"
#include "engine/node.h"
#include "engine/timer.h"
#include "engine/worker.h"
#include "engine/vault.h"

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

/* Handshakes in flight per node; more msg1s are dropped until some finish. */
#define SL_SECURE_MAX_PENDING 16384
/* Bytes of the compact route to the peer's decryptor. */
#define SL_SECURE_REMOTE_MAX 600

/*
 * Verified peers: SHA-256 of IdentityAndCredentials bytes whose signatures
 * verified in an earlier handshake (sl_idcreds_check_known). Direct-mapped
 * and bounded; a repeat peer then costs no Ed25519 verification, the 2 of
 * ~245 us per side that are not Noise. Entries only ever name bytes that
 * fully verified, so a lost or overwritten entry costs a verify, never trust.
 */
#define SL_SECURE_IDCACHE 256

/* Per shard: buckets of responder handshakes in flight by first return hop (secure_admit.c). */
#define SL_SECURE_HOP_BUCKETS 4096

struct sl_secure_node {
	struct sl_node *node;
	int refs;				/* atomic */
	int pending;				/* atomic: handshakes in flight */
	int pending_resp;			/* atomic: ... that this node answers */
	uint16_t *hop_count;			/* per shard, SL_SECURE_HOP_BUCKETS each */
	uint8_t hop_key[16];			/* crypto_shorthash key of the buckets */
	pthread_mutex_t lock;			/* the lists below (cold paths only) */
	struct sl_vault *vaults;		/* first = default */
	struct sl_listener *listeners;
	struct sl_channel *channels;		/* handshaking and established */
	size_t nchannels;
	pthread_mutex_t idcache_lock;		/* a lookup or insert per handshake */
	uint8_t idcache[SL_SECURE_IDCACHE][32];
};

struct sl_listener {
	struct sl_secure_node *sn;
	struct sl_listener *next;		/* sn->listeners, under sn->lock */
	int refs;				/* atomic */
	struct sl_vault *vault;
	unsigned n_authorized;
	uint8_t authorized[SL_SECURE_MAX_AUTHORIZED][SL_ID_LEN];
	char addr[SL_ADDR_BODY_MAX + 1];
	struct sl_worker *workers;		/* one per shard */
	/* Stopping: shards whose worker still has the address, and who to tell at 0. */
	unsigned unstopped;			/* atomic */
	void (*gone)(void *arg);
	void *gone_arg;
};

/* Handshake-only state: freed when the channel is established or aborted. */
struct sl_handshake {
	struct sl_channel *channel;
	struct sl_noise *noise;
	struct sl_timer timer;
	struct sl_vault *vault;
	struct sl_listener *listener;		/* responder: its trust list (a ref) */
	sl_secure_done_fn done;			/* initiator */
	void *arg;
	bool done_at_teardown;			/* initiator: opts->done_at_teardown */
	int32_t admitted;			/* responder: its hop_count index, -1 = none */
	unsigned n_authorized;			/* initiator: its own trust list */
	uint8_t authorized[SL_SECURE_MAX_AUTHORIZED][SL_ID_LEN];
};

/*
 * One channel end. Hot fields first. The route to the peer is kept compact
 * (type, len, body triples, malloc'd) rather than as a struct sl_route: it
 * is rebuilt into each outgoing message, and a channel stays ~2.5 KiB.
 */
struct sl_channel {
	struct sl_cipher_enc tx;
	struct sl_cipher_dec rx;
	struct sl_worker enc;			/* the channel's address */
	struct sl_worker dec;			/* the peer sends here */
	struct sl_secure_node *sn;
	struct sl_handshake *hs;		/* NULL once established */
	uint8_t *remote;			/* route to the peer's decryptor */
	uint16_t remote_len;			/* bytes in remote */
	uint16_t remote_enc;			/* its CBOR length */
	uint8_t remote_n;
	bool initiator, established, closed;
	uint8_t workers;			/* registered workers (frees at 0) */
	uint64_t last_nonce;			/* roaming: highest nonce that set the route */
	uint64_t sent, received;
	uint64_t created_s;
	uint8_t self[SL_ID_LEN];
	uint8_t peer[SL_ID_LEN];
	/* The peer's verified change history: its length and newest change hash. */
	uint8_t peer_changes;
	uint8_t peer_head[SL_ID_LEN];
	uint32_t refreshed;			/* RefreshCredentials applied */
	struct sl_channel *rnext, **rprev;	/* sn->channels, under sn->lock */
};

/* secure_node.c */
struct sl_secure_node *sl_secure_node_get(struct sl_node *n);
void sl_secure_node_put(struct sl_secure_node *sn);
void sl_secure_node_hold(struct sl_secure_node *sn);
void sl_listener_put(struct sl_listener *l);

/* secure_channel.c */
struct sl_channel *sl_channel_new(struct sl_secure_node *sn, bool initiator);
/* Shard: start the decryptor (handshake) worker. 0 or -errno. */
int sl_channel_start_dec(struct sl_channel *c, struct sl_shard *s);
/* Shard: keys in, handshake state out, encryptor started, listed. 0 or -errno. */
int sl_channel_establish(struct sl_channel *c, const struct sl_noise_keys *keys,
			 const uint8_t peer[SL_ID_LEN]);
/* Shard: stop every worker (frees c eventually); send_close sends Close first. */
void sl_channel_close(struct sl_channel *c, bool send_close);
/* Shard, during the handshake: drop the handshake and the channel silently. */
void sl_channel_abort(struct sl_channel *c);
/* Remember route r (the way to the peer's decryptor). 0 or -E2BIG / -ENOMEM. */
int sl_channel_set_remote(struct sl_channel *c, const struct sl_route *r);
/* Remember the peer's verified history id as the one a refresh must extend. */
void sl_channel_set_peer_head(struct sl_channel *c, const struct sl_identity *id);
/* r = the route to the peer's decryptor. */
void sl_channel_load_remote(const struct sl_channel *c, struct sl_route *r);
/* Decode SecureChannelPaddedMessage, for the decryptor and the fuzzer. */
enum {
	SL_SECURE_PAYLOAD = 0,			/* SecureChannelMessage variants */
	SL_SECURE_REFRESH = 1,
	SL_SECURE_CLOSE = 2,
};
struct sl_secure_msg {
	uint64_t kind;				/* SL_SECURE_* */
	const uint8_t *payload;			/* kind 0: view */
	size_t payload_len;
	const uint8_t *history;			/* kind 1: the encoded change history */
	size_t history_len;
	const uint8_t *credentials;		/* kind 1: the encoded credential array */
	size_t credentials_len;
};
/* Apply a RefreshCredentials: NULL, or why it was refused (a log word). */
const char *sl_channel_refresh(struct sl_channel *c, const struct sl_secure_msg *sm);
/*
 * Encode: the head of a padded Payload (everything before the payload bytes;
 * the empty padding 40 follows them). The encryptor writes it in place: head
 * must be what sl_secure_payload_head_len() said for the same arguments (p has
 * that room; -EINVAL when what was written is not that long).
 */
size_t sl_secure_payload_head_len(const struct sl_route *onward, const struct sl_route *ret,
				  size_t len);
int sl_secure_payload_head(uint8_t *p, size_t head, const struct sl_route *onward,
			   const struct sl_route *ret, size_t len);
/* Fills onward/ret for kind 0 (either may be NULL to skip). 0 or -EBADMSG / -E2BIG. */
int sl_secure_msg_decode(const uint8_t *p, size_t len, struct sl_secure_msg *out,
			 struct sl_route *onward, struct sl_route *ret);

/* secure_admit.c */
/* Cold, at init: the per-shard buckets and their key. 0 or -ENOMEM. */
int sl_secure_admit_init(struct sl_secure_node *sn);
/*
 * Shard s: count a responder in for a msg1 whose return route is ret, or
 * refuse it: 0 (*bucket set), 1 (max_pending_hs reached), 2 (its first hop's).
 */
int sl_secure_admit(struct sl_secure_node *sn, struct sl_shard *s, const struct sl_route *ret,
		    int32_t *bucket);
/* Count out what admit counted in (*bucket -1 = nothing; set to -1). */
void sl_secure_admit_release(struct sl_secure_node *sn, int32_t *bucket);

/* secure_handshake.c */
void sl_handshake_on_msg(struct sl_channel *c, struct sl_msg *m);
/* secure_listener.c */
bool sl_trusted(const uint8_t (*list)[SL_ID_LEN], unsigned n, const uint8_t id[SL_ID_LEN]);

#endif
