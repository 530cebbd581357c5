/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where a running node's metrics come from: the engine's and the
 * transports' counters (relaxed reads of single-writer fields; no lock on
 * any shard's path) and a few cold lists (channels, relays). The runtime
 * fills one per process and publishes it; the HTTP endpoint and the
 * control API's "node.metrics" read it.
 */
#ifndef SL_METRICS_SRC_H
#define SL_METRICS_SRC_H

#include <stdbool.h>

#include "tools/common/metrics.h"

struct sl_node;
struct sl_net;
struct sl_relays;

struct sl_metrics_src {
	struct sl_node *node;
	struct sl_net *net;
	struct sl_relays *relays;	/* NULL when the node runs no relay service */
	int ready;			/* atomic: shards and listeners up, not draining */
};

/* The process's source (the runtime sets it before start, clears it at the end). */
void sl_metrics_src_set(struct sl_metrics_src *src);
struct sl_metrics_src *sl_metrics_src_get(void);

void sl_metrics_src_ready(struct sl_metrics_src *src, bool ready);
bool sl_metrics_src_is_ready(const struct sl_metrics_src *src);

/* Every sample now into out (emptied first). 0 or -ENOMEM. */
int sl_metrics_collect(const struct sl_metrics_src *src, struct sl_metrics *out);

#endif
