/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The message: one descriptor from a per-shard pool, carrying the routing
 * header (onward and return routes, parsed) and a payload buffer with headroom
 * so headers, the 8-byte nonce and an encoded routing header can be prepended
 * in place before a send, and decryption can happen in place after a receive.
 *
 * Ownership (the rules every stage follows):
 *  - Exactly one owner at a time. sl_msg_alloc() makes the caller the owner.
 *  - Handing a message on (sl_send(), a successful ring push, a transport's
 *    send op, a worker's handler) moves ownership with the pointer: the giver
 *    must not touch it afterwards, not even on the callee's failure.
 *  - Whoever cannot hand a message on frees it with sl_msg_free(), from any
 *    shard: a message from another shard's pool goes home through a return
 *    ring; no thread ever writes into a pool it does not own.
 *  - The kernel owns a message from an io_uring submission that references it
 *    until that submission's completion; the transport holds it meanwhile.
 */
#ifndef SL_MSG_H
#define SL_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/route.h"

struct sl_pool;

/* Room in front of the payload for frame headers, nonce and routing header. */
#define SL_MSG_HEADROOM 512
/* Largest transport frame body (PROTOCOL.md 3). */
#define SL_FRAME_MAX (16u * 1024 * 1024)

enum {
	SL_MSG_AUTHENTICATED = 1 << 0,	/* arrived through a secure channel; peer is set */
	SL_MSG_LARGE = 1 << 1,		/* buffer came from the heap, not a pool class */
};

struct sl_msg {
	struct sl_msg *next;	/* link for whichever queue the owner keeps it in */
	uint8_t *buf;		/* start of the buffer */
	uint8_t *data;		/* payload start, buf + headroom */
	uint32_t len;		/* payload length */
	uint32_t cap;		/* total buffer size */
	uint16_t home;		/* shard whose pool owns it */
	uint8_t cls;		/* pool size class */
	uint8_t flags;		/* SL_MSG_* */
	uint8_t peer[32];	/* secure-channel peer identifier (SHA-256), if authenticated */
	struct sl_pool *pool;	/* home pool; NULL for a heap message (no shard) */
	struct sl_route onward;
	struct sl_route ret;
};

/* Bytes free in front of data. */
static inline size_t sl_msg_headroom(const struct sl_msg *m)
{
	return (size_t)(m->data - m->buf);
}

/* Bytes free after data + len. */
static inline size_t sl_msg_tailroom(const struct sl_msg *m)
{
	return m->cap - sl_msg_headroom(m) - m->len;
}

/*
 * A message with at least `len` payload bytes of room and SL_MSG_HEADROOM in
 * front, from the calling shard's pool (any thread that is not a shard gets
 * one from the heap). Routes are empty, len is 0, flags 0.
 * NULL when the pool is exhausted: the caller applies backpressure (stops
 * reading from its source) rather than growing without bound.
 */
struct sl_msg *sl_msg_alloc(size_t len);
/* Gives the message back to its home pool (see the ownership rules above). */
void sl_msg_free(struct sl_msg *m);
/* Set the payload to a copy of p[0..len). 0, or -E2BIG when it does not fit. */
int sl_msg_set_payload(struct sl_msg *m, const void *p, size_t len);
/* Ensure room for len payload bytes, moving to a larger buffer if needed. 0 or -ENOMEM. */
int sl_msg_reserve(struct sl_msg **m, size_t len);

#endif
