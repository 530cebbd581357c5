/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-shard message pools (msg.h gives the ownership rules).
 *
 * Three size classes of (descriptor + buffer) carved from slabs: small
 * (SL_POOL_SMALL payload bytes), mid (SL_POOL_MID) and big (SL_POOL_BIG). The
 * mid class exists so a frame of a few KiB (a portal chunk of an interactive
 * protocol, a 6 KB echo) does not pin 64 KiB. Slabs are allocated at start
 * and grown one slab at a time up to a cap; past the cap an allocation fails
 * and the caller applies backpressure (stops reading its source until
 * sl_pool_room_local() says yes again). Frames above SL_POOL_BIG (up to
 * SL_FRAME_MAX) are rare and cold: descriptor and buffer come from the heap.
 *
 * Only the owning shard touches a pool's free lists. A message freed on
 * another shard of the same node travels home on that pair's return ring; one
 * freed anywhere else (a thread that is not a shard, a full return ring) goes
 * to the pool's stray list under a lock, which the owner drains lazily.
 */
#ifndef SL_POOL_H
#define SL_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/msg.h"

#define SL_POOL_SMALL	2048u		/* payload bytes of class SL_POOL_CLS_SMALL */
#define SL_POOL_MID	16384u		/* ... of SL_POOL_CLS_MID */
#define SL_POOL_BIG	65536u		/* ... of SL_POOL_CLS_BIG */
#define SL_POOL_LARGE	0xffu		/* cls of a heap message */

enum {
	SL_POOL_CLS_SMALL,
	SL_POOL_CLS_MID,
	SL_POOL_CLS_BIG,
	SL_POOL_CLASSES,
};

struct sl_shard;

/*
 * Taken as given (sl_pool_init with cfg NULL uses the defaults). mid_max 0
 * switches the mid class off: its sizes come from the big class.
 */
struct sl_pool_config {
	unsigned small_slab;	/* messages per slab */
	unsigned small_max;	/* cap on small messages */
	unsigned mid_slab;
	unsigned mid_max;
	unsigned big_slab;
	unsigned big_max;
};

/* Per-shard caps of the default configuration (sl_node_config can lower or raise them). */
#define SL_POOL_SMALL_MAX	32768u	/* 80 MiB at most (2.5 KiB each) */
#define SL_POOL_MID_MAX		2048u	/* 33 MiB at most (16.5 KiB each) */
#define SL_POOL_BIG_MAX		512u	/* 33 MiB at most (64.5 KiB each) */
/* Messages carved per slab: growth steps of ~640 KiB, ~530 KiB and ~520 KiB. */
#define SL_POOL_SMALL_SLAB	256u
#define SL_POOL_MID_SLAB	32u
#define SL_POOL_BIG_SLAB	8u

struct sl_pool_class {
	struct sl_msg *free;
	unsigned nfree;
	unsigned total;		/* carved so far */
	unsigned max;
	unsigned per_slab;
	size_t bufsz;		/* headroom + payload */
	size_t stride;		/* descriptor + buffer, aligned */
};

struct sl_pool_stats {
	uint64_t allocs;
	uint64_t frees_local;
	uint64_t frees_remote;	/* arrived home on a return ring or the stray list */
	uint64_t exhausted;	/* allocations refused at the cap */
	uint64_t large;		/* heap allocations above SL_POOL_BIG */
	unsigned small_total, small_free;
	unsigned mid_total, mid_free;
	unsigned big_total, big_free;
};

struct sl_pool {
	struct sl_pool_class cls[SL_POOL_CLASSES];
	void **slabs;
	unsigned nslabs, slabcap;
	struct sl_shard *shard;		/* owner, NULL for a pool used alone */
	uint16_t home;
	struct sl_pool_stats st;
	/* Cold: frees from threads without a return ring to this pool. */
	pthread_mutex_t stray_lock;
	struct sl_msg *stray;
	int stray_pending;		/* atomic hint: stray is not empty */
};

/* Cold. 0 or -ENOMEM. cfg NULL = defaults. */
int sl_pool_init(struct sl_pool *p, uint16_t home, struct sl_shard *owner,
		 const struct sl_pool_config *cfg);
/* Cold, after every message is back. */
void sl_pool_destroy(struct sl_pool *p);

/* Owner thread only. NULL when the cap is reached. */
struct sl_msg *sl_pool_alloc_local(struct sl_pool *p, size_t len);
/*
 * Owner thread only: whether sl_pool_alloc_local(p, len) would find a message
 * now (a free one, or room under the cap to grow). For readers that stopped
 * on exhaustion and ask, each loop turn, whether to read on.
 */
bool sl_pool_room_local(const struct sl_pool *p, size_t len);
/*
 * Owner thread only: whether len's class could still give more than 1/share
 * of its cap (free messages plus room to grow). For a source of new messages
 * that stops there: the rest stays for the shard's readers. Backpressure is
 * otherwise mutual: with our pool full of sends queued to a peer whose pool
 * is full of replies queued to us, neither reads again.
 */
bool sl_pool_room_keeping_local(const struct sl_pool *p, size_t len, unsigned share);
/* Owner thread only: messages given back so far (a cheap "did anything come back?"). */
static inline uint64_t sl_pool_frees_local(const struct sl_pool *p)
{
	return p->st.frees_local + p->st.frees_remote;
}
/* Owner thread only: m belongs to p. */
void sl_pool_free_local(struct sl_pool *p, struct sl_msg *m);
/* Any thread: queue m for its home pool (cold). */
void sl_pool_free_stray(struct sl_pool *p, struct sl_msg *m);
/* Owner thread: take back stray frees. Count reclaimed. */
unsigned sl_pool_reclaim_local(struct sl_pool *p);
/* Owner thread (or a stopped owner): a snapshot of the counters. */
void sl_pool_stats(const struct sl_pool *p, struct sl_pool_stats *out);

/*
 * Any thread: messages carved and free per class, and refusals at the cap
 * (relaxed reads of single-writer fields; a snapshot for metrics).
 */
void sl_pool_occupancy(const struct sl_pool *p, unsigned total[SL_POOL_CLASSES],
		       unsigned nfree[SL_POOL_CLASSES], uint64_t *exhausted);

/* A heap message of at least len payload bytes (any thread). */
struct sl_msg *sl_msg_alloc_heap(size_t len);

#endif
