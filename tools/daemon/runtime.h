/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node runtime as the daemon runs it: engine + transports + default
 * services, composed. `sluice node run NAME` (and the daemon `node create`
 * forks) calls sl_runtime_run(); it returns when the node is told to stop.
 */
#ifndef SL_RUNTIME_H
#define SL_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>

#include "tools/common/limits.h"

struct sl_node;

struct sl_net;

struct sl_runtime_config {
	const char *name;		/* node name, for logs */
	unsigned shards;		/* 0 = one per online CPU */
	/*
	 * Pin shard i to CPU i % ncpu. Off by default: two busy nodes on one
	 * host would often land their busy shards on the same CPU.
	 */
	bool pin_shards;
	/*
	 * Busy-poll this long after the last work before sleeping (0 = sleep at
	 * once): waking a sleeping shard costs more than a request/response
	 * flow's wait. The engine spins only while the shard is mostly idle.
	 */
	unsigned spin_us;
	/* A connection whose partial frame gets no byte for this long closes (0 = 30 s). */
	uint64_t frame_timeout_ms;
	struct sl_limits limits;	/* the node's limits (tools/common/limits.h) */
	const char *tcp_listen;		/* "127.0.0.1:0" picks a free port */
	const char *udp_listen;		/* NULL: no UDP listener (UDP hops still send) */
	const char *control_path;	/* Unix socket path for the CLI (created mode 0600) */
	/* HTTP /metrics, /healthz, /readyz on "HOST:PORT" (metrics_http.h); NULL = none. */
	const char *metrics_listen;
	int *metrics_err;		/* when not NULL: -errno if that listener failed, else 0 */
	/*
	 * Called once on the main thread after listeners are bound and before
	 * shards start: register the node-manager and other services, record the
	 * bound TCP port (tcp_port) in the node's state. Non-zero aborts start.
	 */
	int (*setup)(struct sl_node *n, uint16_t tcp_port, void *arg);
	/*
	 * Called once on the main thread after the shards started, before the
	 * node says it is ready (sd_notify READY=1): make the services a config
	 * file lists. May be NULL.
	 */
	void (*started)(struct sl_node *n, void *arg);
	/* On SIGHUP, on the main thread, the node running (NULL: SIGHUP is logged, ignored). */
	void (*reload)(struct sl_node *n, void *arg);
	/*
	 * SIGTERM drains this long (0: stops at once): no new TCP connection is
	 * taken, and the node stops once no portal connection is open and no
	 * message moved for SL_DRAIN_QUIET_MS, or at this deadline. SIGINT, or a
	 * second signal while draining, stops at once.
	 */
	uint64_t drain_timeout_ms;
	/* Called once on the main thread after all shards have stopped. */
	void (*teardown)(struct sl_node *n, void *arg);
	void *arg;
};

#define SL_DRAIN_QUIET_MS 500

/* Run until SIGTERM/SIGINT or sl_runtime_stop(). 0, or -errno on start failure. */
int sl_runtime_run(const struct sl_runtime_config *cfg);
/* Ask the running node to stop (any thread, async-signal-safe). */
void sl_runtime_stop(void);
/* New limits for the running node (a reload); what they bound from now on. 0 or -ENOENT. */
int sl_runtime_set_limits(const struct sl_limits *l);
/* The running node's transports (their counters), NULL when none runs. */
const struct sl_net *sl_runtime_net(void);

#endif
