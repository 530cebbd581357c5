/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node daemon's entry: running a node in this process until it stops
 * (`node run`, and the child that `node create` / `node start` fork; the
 * CLI's side of that fork is cli/node_spawn.h).
 */
#ifndef SL_DAEMON_H
#define SL_DAEMON_H

#include <stdint.h>

/*
 * Run node `name` (its record must exist) in this process until it stops.
 * Records pid and port while it runs; a clean shutdown marks it stopped.
 * 0, or -errno after printing what was wrong.
 */
int sl_daemon_run(const char *name);

struct sl_node;

/* What `node run --config` adds to a run (runtime.h has the contracts). */
struct sl_daemon_hooks {
	void (*started)(struct sl_node *n, void *arg);
	void (*reload)(struct sl_node *n, void *arg);
	uint64_t drain_timeout_ms;	/* SIGTERM drains this long (0: stops at once) */
	void *arg;
};

/* sl_daemon_run with hooks (NULL: none). */
int sl_daemon_run_with(const char *name, const struct sl_daemon_hooks *h);

struct sl_limits;

/* From a reload hook: new limits for the node running here. 0 or -ENOENT. */
int sl_daemon_set_limits(const struct sl_limits *l);

#endif
