/* SPDX-License-Identifier: Apache-2.0 */
/*
 * How the engine sees transports: two small ops tables that transports/
 * implements and tools/ registers with a node. The engine includes no socket
 * or io_uring header; it only calls these.
 *
 * sl_io_ops: the per-shard event source (one per node). The shard loop calls
 * poll() every turn and wait() when a turn found no work; wake() is how another
 * thread rings the doorbell of a sleeping shard (an eventfd read kept armed in
 * the shard's io_uring, or IORING_OP_MSG_RING). The engine calls wake() only
 * when the target shard has announced it is about to sleep.
 *
 * sl_transport_ops: one per address type (TCP = 1, UDS = 5, ...). The router
 * calls send() on the sending shard's thread for a message whose onward route
 * starts with an address of that type.
 */
#ifndef SL_TRANSPORT_H
#define SL_TRANSPORT_H

#include <stdint.h>

#include "engine/msg.h"

struct sl_shard;

struct sl_io_ops {
	const char *name;
	/* Cold, on s's thread before its loop starts: set up the shard's I/O. 0 or -errno. */
	int (*shard_start)(void *ctx, struct sl_shard *s);
	/*
	 * Cold, on s's thread after its loop ended: close every fd the shard
	 * owns and free every message the transport still holds.
	 */
	void (*shard_stop)(void *ctx, struct sl_shard *s);
	/* Never blocks: submit pending I/O, reap a batch of completions. Work done (0 = idle). */
	unsigned (*poll)(void *ctx, struct sl_shard *s);
	/* Block until a completion, a wake() or timeout_ns (UINT64_MAX = none) passes. */
	void (*wait)(void *ctx, struct sl_shard *s, uint64_t timeout_ns);
	/* Any thread: make s's wait() return soon. */
	void (*wake)(void *ctx, struct sl_shard *s);
};

struct sl_transport_ops {
	uint8_t type;		/* SL_ADDR_* this transport serves */
	const char *name;
	/*
	 * On s's thread. Takes ownership of m (sends it, queues it, or frees it
	 * and counts the drop). The front of m->onward is an address of `type`:
	 * the transport removes it before encoding (PROTOCOL.md 3).
	 */
	void (*send)(void *ctx, struct sl_shard *s, struct sl_msg *m);
};

#endif
