/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A shard: one pinned thread running the per-core loop, owning a message
 * pool, an address table of the workers it hosts, a timer heap, its rings
 * from every other shard and its transports' per-shard state.
 *
 * The loop, per turn: control calls, rings from other shards (bursts of
 * SL_BURST), return rings, timers, then the I/O poll hook. A turn without work
 * (after spin_us of them) announces sleep and waits in the transport's wait.
 *
 * The struct is engine-private: the shard's own files (shard.c, node.c,
 * router.c, worker.c, timer.c, pool.c, clock.c) and services that post
 * control calls read it; transports use the accessors labelled for them.
 */
#ifndef SL_SHARD_H
#define SL_SHARD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/fair_share.h"
#include "engine/node.h"
#include "engine/pool.h"
#include "engine/ring.h"
#include "engine/worker.h"

#define SL_BURST 64		/* messages taken from a ring per turn */
#define SL_CTL_MAX 256		/* pending sl_shard_call()s per shard */
#define SL_SEND_DEPTH 16	/* nested local deliveries before deferring */
/* Parked messages (all destinations) at which readers stop reading, and past which we drop. */
#define SL_PARK_PAUSE(n) ((n)->ring_size)
#define SL_PARK_MAX(n) (8u * (n)->ring_size)

struct sl_ctl {
	void (*fn)(struct sl_shard *s, void *arg);
	void *arg;
	struct sl_msg *msg;	/* sl_node_inject: route this instead */
};

struct sl_shard {
	/* Read by other threads: the doorbell flag on its own line. */
	int sleeping __attribute__((aligned(SL_CACHELINE)));
	int stop;
	int ctl_pending;

	struct sl_node *node __attribute__((aligned(SL_CACHELINE)));
	unsigned id;
	pthread_t thread;
	bool started;

	struct sl_pool pool;
	struct sl_ring *in;	/* in[src]: messages from shard src (consumer: this shard) */
	struct sl_ring *back;	/* back[src]: our pool's messages freed on shard src */

	/* Workers hosted here: chained hash on the address. */
	struct sl_worker **wtab;
	unsigned wmask;
	unsigned nworkers;

	/* Timer min-heap. */
	struct sl_timer **heap;
	unsigned nheap, heapcap;

	/* Local deliveries deferred when handlers nest too deep. */
	struct sl_msg *defer_head, *defer_tail;
	unsigned depth;

	/*
	 * Messages for another shard whose ring from us was full (router.c):
	 * one FIFO per destination, moved into the ring first on every turn.
	 * nparked counts all of them; 0 keeps the send path to one test.
	 */
	struct sl_park { struct sl_msg *head, *tail; } *park;
	unsigned nparked;

	/* Control calls from any thread (cold; a lock is fine here). */
	pthread_mutex_t ctl_lock;
	struct sl_ctl ctl[SL_CTL_MAX];
	unsigned nctl;

	/* Fallback sleep when no io ops are registered. */
	pthread_mutex_t idle_lock;
	pthread_cond_t idle_cond;
	int idle_kick;

	void *io;		/* the transports' per-shard state */
	uint64_t busy_ns;	/* time in turns that did work, all told (relaxed; fair_share.c) */
	uint64_t now_ns;

	/* Rate limit of drop logs: one line per second, with a suppressed count. */
	uint64_t log_next_ns;
	uint64_t log_suppressed;

	struct sl_shard_stats st;
};

#define SL_NAMES_MAX 1024	/* node-wide named services (power of 2) */
#define SL_ADDR_TYPES 8

/*
 * A node-wide name: written on the control path only, read lock-free by every
 * shard. Slots are never moved or reused for another name: a slot's name is
 * written before `used` is published (release), so a reader that sees `used`
 * (acquire) sees the name; `mask` (shards hosting it) changes atomically.
 */
struct sl_name {
	int used;
	uint8_t len;
	char name[SL_ADDR_BODY_MAX + 1];
	uint64_t mask;
};

struct sl_node {
	char name[64];
	unsigned nshards;
	bool pin;
	unsigned cpu_base;
	unsigned spin_us;
	unsigned ring_size;
	struct sl_pool_config pool_cfg;
	struct sl_node_limits limits;
	struct sl_shard *shards;

	const struct sl_io_ops *io_ops;
	void *io_ctx;
	const struct sl_transport_ops *tops[SL_ADDR_TYPES];
	void *tctx[SL_ADDR_TYPES];

	pthread_mutex_t names_lock;	/* writers only */
	struct sl_name *names;

	/* Start handshake with the shard threads (cold). */
	pthread_mutex_t start_lock;
	pthread_cond_t start_cond;
	unsigned nstarted;
	int start_err;
	int running;

	/* sl_node_on_worker_stop(): set before start, read-only after. */
	struct {
		void (*fn)(void *ctx, struct sl_shard *s, const uint8_t *addr, size_t len);
		void *ctx;
	} stop_hooks[SL_STOP_HOOKS];
	unsigned nstop_hooks;

	void *slot[SL_NODE_SLOTS];	/* node_slot.c */
	struct sl_share share;		/* fair_share.c: the relay bandwidth share by owner */
};

/* node.c: the name table. */
int sl_name_add(struct sl_node *n, const char *name, size_t len, unsigned shard);
void sl_name_del(struct sl_node *n, const char *name, size_t len, unsigned shard);
/* Shards hosting name (0 when none). Lock-free. */
uint64_t sl_name_lookup(const struct sl_node *n, const uint8_t *name, size_t len);

/* Single-writer counters read by other threads: relaxed, no lock prefix. */
#define SL_STAT_ADD(s, field, n) \
	__atomic_store_n(&(s)->st.field, (s)->st.field + (n), __ATOMIC_RELAXED)
#define SL_STAT_INC(s, field) SL_STAT_ADD(s, field, 1)

/* shard.c: life cycle (cold, on the control thread; node.c drives it). */
int sl_shard_init_cold(struct sl_node *n, struct sl_shard *s, unsigned id);
/* Frees what init made but the pool (its messages may sit in other shards' rings). */
void sl_shard_destroy_cold(struct sl_node *n, struct sl_shard *s);
void sl_shard_destroy_pool_cold(struct sl_shard *s);
/* Spawn s's thread (signals blocked by the caller). 0 or -errno. */
int sl_shard_spawn_cold(struct sl_shard *s);
/* Ask s's loop to end (any thread). */
void sl_shard_stop(struct sl_shard *s);
void sl_shard_join_cold(struct sl_shard *s);

/* shard.c: ring shard dst's doorbell if it sleeps (after a push to it). */
void sl_shard_kick(struct sl_shard *dst);
/* shard.c: queue a control call (or an injected message) for s. 0 or -EAGAIN. */
int sl_shard_ctl_push(struct sl_shard *s, const struct sl_ctl *c);

/* shard.c: for transports. */
void *sl_shard_io(const struct sl_shard *s);
void sl_shard_set_io(struct sl_shard *s, void *io);
struct sl_pool *sl_shard_pool(struct sl_shard *s);

/* shard.c: take back our messages freed on other shards (owner thread). Count. */
unsigned sl_shard_reclaim_local(struct sl_shard *s);
/* shard.c: hand a foreign message back toward its home shard. false: caller uses the stray list. */
bool sl_shard_return_msg(struct sl_shard *self, struct sl_msg *m);

/* worker.c: the shard's address table. */
int sl_worker_table_init(struct sl_shard *s);
void sl_worker_table_destroy(struct sl_shard *s);
struct sl_worker *sl_worker_lookup_local(struct sl_shard *s, const uint8_t *addr, size_t len);
uint32_t sl_addr_hash(const uint8_t *p, size_t len);
bool sl_addr_is_random(const uint8_t *p, size_t len);
/* The shard a random address maps to. */
unsigned sl_random_addr_shard(const struct sl_node *n, const uint8_t *p, size_t len);
/*
 * Addresses homed by hash, like random ones but named: relay workers
 * (SL_HASHED_PREFIX...) live on the shard their hash picks, so any number of
 * them need no entry in the node-wide name table and the router finds them in
 * O(1). True with *shard set for such an address.
 */
bool sl_addr_hashed_shard(const struct sl_node *n, const uint8_t *p, size_t len, unsigned *shard);

/* The shard's router and timers: engine/router.h, engine/timer.h. */

#endif
