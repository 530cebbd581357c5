// SPDX-License-Identifier: Apache-2.0
/*
 * Feature slots on the node (node.h). A slot is written on the control path
 * and read from any thread, shards included: release on write and acquire on
 * read, so whoever sees the pointer sees the state it points at.
 */
#include "engine/shard.h"

void *sl_node_slot(const struct sl_node *n, enum sl_node_slot k)
{
	/* acquire: pairs with the release in sl_node_slot_swap. */
	return __atomic_load_n(&n->slot[k], __ATOMIC_ACQUIRE);
}

bool sl_node_slot_swap(struct sl_node *n, enum sl_node_slot k, void *old, void *v)
{
	/* release: the state behind v is written before v is seen. */
	return __atomic_compare_exchange_n(&n->slot[k], &old, v, false, __ATOMIC_ACQ_REL,
					   __ATOMIC_ACQUIRE);
}
