/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Node processes: running a node in this process (`node run`, and the
 * daemon `node create` / `node start` fork), starting the daemon and waiting
 * until it answers, telling whether a recorded node is alive, stopping it.
 */
#ifndef SL_DAEMON_H
#define SL_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "tools/cli.h"
#include "tools/state.h"

/* How long `node create` / `node start` wait for the node to answer. */
#define SL_DAEMON_READY_MS 20000
/* How long `node stop` waits after SIGTERM before SIGKILL. */
#define SL_DAEMON_STOP_MS 10000

enum sl_node_status {
	SL_NODE_STOPPED,	/* not running, and it shut down cleanly (or never ran) */
	SL_NODE_RUNNING,	/* its process is alive and its control socket answers */
	SL_NODE_CRASHED,	/* recorded as running, but the process is gone or deaf */
};

const char *sl_node_status_name(enum sl_node_status s);

/*
 * Run node `name` (its record must exist) in this process until it stops.
 * Records pid and port while it runs; a clean shutdown marks it stopped.
 * 0, or -errno after printing what was wrong.
 */
int sl_daemon_run(const char *name);

/*
 * Fork a daemon for node `name` (setsid, stdio to its node.log) and wait
 * until its control socket answers. The caller holds no state connection
 * across this call. 0 with *pid set, or -errno after printing why (the log's
 * last line included).
 */
int sl_daemon_spawn(const struct sl_cli *cli, const char *name, pid_t *pid);

/*
 * Stop the node's process: SIGTERM, wait up to SL_DAEMON_STOP_MS, then
 * SIGKILL. Marks it stopped in st and removes its socket. 0, or -errno.
 */
int sl_daemon_stop(const struct sl_cli *cli, struct sl_state *st, const struct sl_node_rec *n);

/* Is the process (pid, start time) of a record still the one that recorded it? */
bool sl_daemon_alive(int64_t pid, uint64_t pid_start);
/* Start time of pid (/proc/PID/stat field 22), 0 when gone or a zombie. */
uint64_t sl_proc_start_time(pid_t pid);

/* Split "host:port" / "[v6]:port" at the last ':' (host into host[cap]). 0 or -EINVAL. */
int sl_hostport_split(const char *addr, char *host, size_t cap, unsigned *port);
/* "127.0.0.1:4000": the address to dial for the node's TCP listener. */
int sl_node_dial_address(const struct sl_node_rec *n, char *buf, size_t cap);

#endif
