// SPDX-License-Identifier: Apache-2.0
/*
 * SPSC rings. Single pushes and pops are ck_ring's own; the burst forms use
 * ck_ring's layout (free-running p_tail/c_head, capacity size - 1) so that a
 * burst of n costs one fence and one index store instead of n.
 *
 * ThreadSanitizer does not understand ck's fences (inline asm and volatile
 * accesses), so under TSan the index loads and stores become C11 atomics with
 * the same ordering; the fences then document the same pairing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ring.h"

#if defined(__SANITIZE_THREAD__)
#define LOAD_ACQ(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE_REL(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define FENCE_STORE()	do { } while (0)
#define FENCE_LOAD()	do { } while (0)
#define FENCE_RELEASE()	do { } while (0)
#else
#define LOAD_ACQ(p)	ck_pr_load_uint(p)
#define STORE_REL(p, v)	ck_pr_store_uint((p), (v))
#define FENCE_STORE()	ck_pr_fence_store()
#define FENCE_LOAD()	ck_pr_fence_load()
#define FENCE_RELEASE()	ck_pr_fence_release()
#endif

int sl_ring_init(struct sl_ring *r, unsigned size)
{
	if (size < 4 || (size & (size - 1)))
		return -EINVAL;
	r->slots = sl_cache_alloc(sizeof(*r->slots) * size);
	if (!r->slots)
		return -ENOMEM;
	memset(r->slots, 0, sizeof(*r->slots) * size);
	ck_ring_init(&r->ck, size);
	return 0;
}

void sl_ring_destroy(struct sl_ring *r)
{
	free(r->slots);
	r->slots = NULL;
}

bool sl_ring_push_spsc(struct sl_ring *r, void *p)
{
	struct sl_msg *m = p;

	return sl_ring_push_burst_spsc(r, &m, 1) == 1;
}

bool sl_ring_pop_spsc(struct sl_ring *r, void **p)
{
	struct sl_msg *m;

	if (!sl_ring_pop_burst_spsc(r, &m, 1))
		return false;
	*p = m;
	return true;
}

unsigned sl_ring_push_burst_spsc(struct sl_ring *r, struct sl_msg *const *v, unsigned n)
{
	ck_ring_t *ck = &r->ck;
	unsigned mask = ck->mask;
	unsigned prod = ck->p_tail;		/* only this thread writes p_tail */
	/* Acquire pairs with the consumer's release of c_head: slots it freed are ours. */
	unsigned cons = LOAD_ACQ(&ck->c_head);
	unsigned room = mask - (prod - cons);
	unsigned i;

	if (n > room)
		n = room;
	if (!n)
		return 0;
	for (i = 0; i < n; i++)
		r->slots[(prod + i) & mask].value = v[i];
	/* Slot writes become visible before the tail that publishes them. */
	FENCE_STORE();
	/* Ownership of v[0..n) passes to the consumer with this store. */
	STORE_REL(&ck->p_tail, prod + n);
	return n;
}

unsigned sl_ring_pop_burst_spsc(struct sl_ring *r, struct sl_msg **v, unsigned n)
{
	ck_ring_t *ck = &r->ck;
	unsigned mask = ck->mask;
	unsigned cons = ck->c_head;		/* only this thread writes c_head */
	unsigned prod = LOAD_ACQ(&ck->p_tail);
	unsigned avail = prod - cons;
	unsigned i;

	if (n > avail)
		n = avail;
	if (!n)
		return 0;
	/* Read slots only after the tail load that published them. */
	FENCE_LOAD();
	for (i = 0; i < n; i++)
		v[i] = r->slots[(cons + i) & mask].value;
	/* Finish reading the slots before the producer may overwrite them. */
	FENCE_RELEASE();
	STORE_REL(&ck->c_head, cons + n);
	return n;
}

unsigned sl_ring_count(const struct sl_ring *r)
{
	unsigned prod = LOAD_ACQ((unsigned *)&r->ck.p_tail);
	unsigned cons = LOAD_ACQ((unsigned *)&r->ck.c_head);

	return prod - cons;
}

unsigned sl_ring_capacity(const struct sl_ring *r)
{
	return r->ck.mask;
}
