/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Single-producer single-consumer rings of pointers between two shards (one
 * ring per ordered pair), on top of Concurrency Kit's ck_ring. This module is
 * the only includer of ck_ring.h: every other file sees the contract in the
 * function names (`_spsc`: exactly one producer thread and one consumer thread
 * for the ring's whole life).
 *
 * A successful push hands ownership of the pointed-to object to the consumer.
 */
#ifndef SL_RING_H
#define SL_RING_H

#include <stdbool.h>
#include <stdlib.h>

#include <ck_ring.h>

#include "engine/msg.h"

#define SL_CACHELINE 64

/* Cache-line aligned memory; aligned_alloc wants a size that is a multiple of it. */
static inline void *sl_cache_alloc(size_t size)
{
	return aligned_alloc(SL_CACHELINE, (size + SL_CACHELINE - 1) & ~(size_t)(SL_CACHELINE - 1));
}

struct sl_ring {
	/* ck keeps producer and consumer indices on separate cache lines. */
	ck_ring_t ck;
	ck_ring_buffer_t *slots;
} __attribute__((aligned(SL_CACHELINE)));

/* size: a power of two >= 4; the ring holds size - 1 entries. 0 or -ENOMEM/-EINVAL. */
int sl_ring_init(struct sl_ring *r, unsigned size);
void sl_ring_destroy(struct sl_ring *r);

/* Producer side. true when p was handed over. */
bool sl_ring_push_spsc(struct sl_ring *r, void *p);
/* Consumer side. true when *p was taken. */
bool sl_ring_pop_spsc(struct sl_ring *r, void **p);

/* Producer: push up to n messages with one publishing fence; count moved. */
unsigned sl_ring_push_burst_spsc(struct sl_ring *r, struct sl_msg *const *v, unsigned n);
/* Consumer: pop up to n messages with one releasing store; count moved. */
unsigned sl_ring_pop_burst_spsc(struct sl_ring *r, struct sl_msg **v, unsigned n);

/* Entries visible now (a snapshot; exact only on the consumer or producer). */
unsigned sl_ring_count(const struct sl_ring *r);
static inline bool sl_ring_empty(const struct sl_ring *r)
{
	return sl_ring_count(r) == 0;
}
unsigned sl_ring_capacity(const struct sl_ring *r);

#endif
