// SPDX-License-Identifier: Apache-2.0
/*
 * The default stateless services of PROTOCOL.md 9, one instance per shard so
 * that a request never leaves the shard it arrived on:
 *   echo       replies with the same payload
 *   uppercase  BARE string in, the same string uppercased (ASCII) out
 *   hop        forwards one hop (Ockam's step_forward)
 *   discard    consumes and counts, no reply: a sink for one-way load (Ockam's
 *              nodes have no such default service; the name is RFC 863's)
 * and the relay services (relay.c).
 */
#include <errno.h>
#include <stdlib.h>

#include "engine/bare.h"
#include "engine/relay.h"
#include "engine/router.h"
#include "engine/shard.h"

static void echo_handle(struct sl_worker *w, struct sl_msg *m)
{
	sl_reply(w, m);
}

static void uppercase_handle(struct sl_worker *w, struct sl_msg *m)
{
	const uint8_t *p;
	size_t n;

	/* In place: the reply is the same BARE string, same length. */
	if (sl_bare_get_bytes(m->data, m->len, &p, &n) < 0) {
		sl_shard_count_drop(w->shard);
		sl_router_drop(w->shard, m, "uppercase_not_bare");
		return;
	}
	for (uint8_t *q = (uint8_t *)p; q < p + n; q++)
		if (*q >= 'a' && *q <= 'z')
			*q = (uint8_t)(*q - 'a' + 'A');
	sl_reply(w, m);
}

static void discard_handle(struct sl_worker *w, struct sl_msg *m)
{
	SL_STAT_INC(w->shard, discarded);
	sl_msg_free(m);
}

static void hop_handle(struct sl_worker *w, struct sl_msg *m)
{
	sl_forward(w, m);
}

static const struct {
	const char *name;
	sl_handle_fn fn;
} services[] = {
	{ "echo", echo_handle },
	{ "uppercase", uppercase_handle },
	{ "hop", hop_handle },
	{ "discard", discard_handle },
};

#define NSERV (sizeof(services) / sizeof(services[0]))

static void service_stopped(struct sl_worker *w)
{
	free(w);
}

int sl_services_start(struct sl_node *n)
{
	for (unsigned i = 0; i < sl_node_shards(n); i++) {
		for (unsigned k = 0; k < NSERV; k++) {
			struct sl_worker *w = calloc(1, sizeof(*w));
			int ret;

			if (!w)
				return -ENOMEM;
			w->handle = services[k].fn;
			w->stopped = service_stopped;
			ret = sl_worker_start(sl_node_shard(n, i), w, services[k].name);
			if (ret) {
				free(w);
				return ret;
			}
		}
	}
	/* forwarding_service and static_forwarding_service (relay.c). */
	return sl_relay_services_start(n);
}
