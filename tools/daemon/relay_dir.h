/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The relay fleet's directory in Redis (engine/relay_fleet.h is the engine's
 * side): key `sluice:relay:<name>`, value `<HOST:PORT of the owner's TCP
 * listener> <this process's random id>`, with a TTL the owner refreshes.
 *
 * One thread of its own with a blocking hiredis connection and a queue: the
 * shards only enqueue (a registration, a deregistration, a lookup) and never
 * wait on Redis. Writes are compare-and-set Lua scripts, so a node never
 * overwrites the newer entry of another: a refresh that finds another
 * owner's value drops our relay of that name (takeover), a deregistration
 * deletes only our own entry. A registration itself always writes: the
 * newest registration of a name in the fleet wins, as on one node.
 */
#ifndef SL_RELAY_DIR_H
#define SL_RELAY_DIR_H

#include <stddef.h>

struct sl_node;
struct sl_relay_dir;

#define SL_RELAY_DIR_TTL_MS 10000	/* a dead node's names go after this */
#define SL_RELAY_DIR_KEY "sluice:relay:"

/*
 * Cold, before the node starts (after its relay services): join the fleet
 * whose directory is at url; self is our TCP listener "HOST:PORT". The first
 * connection is made on the directory's thread: a Redis down at start is
 * retried like one lost later. NULL on failure (errno set).
 */
struct sl_relay_dir *sl_relay_dir_start(struct sl_node *n, const char *url, const char *self);
/* Cold, after the shards stopped: delete our entries (best effort), stop the thread, free. */
void sl_relay_dir_stop(struct sl_relay_dir *d);

#endif
