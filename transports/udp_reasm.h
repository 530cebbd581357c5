/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reassembly of UDP datagrams into routing messages, per peer, in bounded
 * memory (udp_reasm.c). Pure: no I/O, the caller passes the clock; one per
 * shard, single-threaded (unit tests and tests/fuzz/fuzz_udp.c drive it).
 *
 * A message is whole when its parts cover [0, end of the last part) exactly;
 * parts may come in any order (up to 16 separate runs held at once: more
 * gaps drop the message) and a duplicate part is ignored. A message
 * that stays partial past timeout_ns, that a newer message pushes out of its
 * peer's per_peer partials, or that would take memory over the caps, is
 * dropped whole: a lost part loses its message and never reaches into the
 * next one (each message has its own routing number and buffer).
 *
 * Each peer also keeps a 64-message window of delivered routing numbers
 * behind the newest: a message delivered already, or older than the
 * window, is dropped (no duplicate deliveries from one peer while its
 * entry lives). A number more than SL_UDP_RESTART_GAP behind the newest is
 * taken as the peer having restarted with a fresh random number.
 */
#ifndef SL_TRANSPORTS_UDP_REASM_H
#define SL_TRANSPORTS_UDP_REASM_H

#include <stddef.h>
#include <stdint.h>

#include "transports/udp_frame.h"

#define SL_UDP_PEER_KEY_MAX 28	/* a sockaddr_in6 */
#define SL_UDP_RESTART_GAP 1024

struct sl_udp_reasm_cfg {
	unsigned max_peers;	/* peers remembered, least recently heard evicted; 0 = 256 */
	unsigned max_partials;	/* partial messages in all, 0 = 256 */
	unsigned per_peer;	/* partial messages per peer, 0 = 8 */
	size_t max_bytes;	/* buffered bytes of partial messages in all, 0 = 32 MiB */
	size_t max_msg;		/* largest routing message, 0 = 16 MiB */
	uint64_t timeout_ns;	/* a partial message's life, 0 = 2 s */
};

struct sl_udp_reasm_stats {
	uint64_t whole;		/* messages returned */
	uint64_t dup;		/* datagrams of a message delivered already, or repeated parts */
	uint64_t stale;		/* datagrams older than the window */
	uint64_t expired;	/* partial messages timed out */
	uint64_t evicted;	/* partial messages pushed out by newer ones or by a peer's eviction */
	uint64_t nomem;		/* messages dropped at the memory caps */
	uint64_t bad;		/* messages dropped as inconsistent (overlaps, past the end) */
	size_t bytes;		/* buffered now */
	unsigned partials;	/* partial messages now */
};

enum {
	SL_UDP_PENDING = 0,	/* taken; the message is not whole yet */
	SL_UDP_WHOLE = 1,	/* *msg, *len: a whole routing message */
};

struct sl_udp_reasm;

/* NULL on ENOMEM. */
struct sl_udp_reasm *sl_udp_reasm_new(const struct sl_udp_reasm_cfg *cfg);
void sl_udp_reasm_free(struct sl_udp_reasm *r);
/*
 * Take part p (decoded, version 1) from peer (at most SL_UDP_PEER_KEY_MAX
 * bytes compared as they are). SL_UDP_WHOLE with *msg and *len valid until the
 * next call on r; SL_UDP_PENDING; or a drop: -EALREADY (duplicate), -ESTALE
 * (too old), -ENOBUFS (a cap), -EBADMSG (inconsistent parts: the message
 * is dropped).
 */
int sl_udp_reasm_add(struct sl_udp_reasm *r, const void *peer, size_t peer_len,
		     const struct sl_udp_part *p, uint64_t now_ns, const uint8_t **msg,
		     size_t *len);
/* Drop the partial messages older than the timeout. Returns how many. */
unsigned sl_udp_reasm_expire(struct sl_udp_reasm *r, uint64_t now_ns);
/* Earliest deadline of a partial message, UINT64_MAX when there is none. */
uint64_t sl_udp_reasm_next_deadline(const struct sl_udp_reasm *r);
void sl_udp_reasm_stats(const struct sl_udp_reasm *r, struct sl_udp_reasm_stats *out);

#endif
