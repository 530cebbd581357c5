/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CLI's side of a node daemon: starting it (fork, setsid, stdio to its
 * node.log) and waiting until it answers, and stopping it. The daemon's own
 * side is daemon/daemon.h.
 */
#ifndef SL_NODE_SPAWN_H
#define SL_NODE_SPAWN_H

#include <sys/types.h>

#include "tools/cli/cli.h"
#include "tools/common/state.h"

/* How long `node create` / `node start` wait for the node to answer. */
#define SL_NODE_READY_MS 20000
/* How long `node stop` waits after SIGTERM before SIGKILL. */
#define SL_NODE_STOP_MS 10000

/*
 * Fork a daemon for node `name` (setsid, stdio to its node.log) and wait
 * until its control socket answers. The caller holds no state connection
 * across this call. 0 with *pid set, or -errno after printing why (the log's
 * last line included).
 */
int sl_node_spawn(const struct sl_cli *cli, const char *name, pid_t *pid);

/*
 * Stop the node's process: SIGTERM, wait up to SL_NODE_STOP_MS, then
 * SIGKILL. Marks it stopped in st and removes its socket. 0, or -errno.
 */
int sl_node_terminate(const struct sl_cli *cli, struct sl_state *st, const struct sl_node_rec *n);

#endif
