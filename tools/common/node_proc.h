/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Node processes as the CLI, the daemon and the load harness see them:
 * whether a recorded node is alive, its status, the address to dial it at.
 * Starting and stopping one is the CLI's (cli/node_spawn.h).
 */
#ifndef SL_NODE_PROC_H
#define SL_NODE_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tools/common/state.h"

enum sl_node_status {
	SL_NODE_STOPPED,	/* not running, and it shut down cleanly (or never ran) */
	SL_NODE_RUNNING,	/* its process is alive and its control socket answers */
	SL_NODE_CRASHED,	/* recorded as running, but the process is gone or deaf */
};

const char *sl_node_status_name(enum sl_node_status s);

/* Is the process (pid, start time) of a record still the one that recorded it? */
bool sl_node_alive(int64_t pid, uint64_t pid_start);
/* Start time of pid (/proc/PID/stat field 22), 0 when gone or a zombie. */
uint64_t sl_proc_start_time(pid_t pid);

/* "127.0.0.1:4000": the address to dial for the node's TCP listener. */
int sl_node_dial_address(const struct sl_node_rec *n, char *buf, size_t cap);

#endif
