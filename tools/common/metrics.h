/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A node's metrics as samples: the daemon collects them (daemon/metrics_src.c),
 * serves them as Prometheus text (daemon/metrics_http.c) and answers the
 * control API's "node.metrics" with them; `sluice node stats` decodes and
 * prints them. The families (names, types, help, label keys) are one table,
 * metrics.c, so both sides and the README name the same things.
 *
 * "node.metrics" response body: [[text family, text label1, text label2,
 * uint value]...], "" for a label the family does not have. Families this
 * side does not know are skipped (a newer node).
 */
#ifndef SL_METRICS_H
#define SL_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/cbor.h"

enum sl_metric_kind { SL_METRIC_COUNTER, SL_METRIC_GAUGE };

struct sl_metric_family {
	const char *name;	/* sluice_..., counters end in _total */
	enum sl_metric_kind kind;
	const char *key1, *key2; /* label keys, NULL when none */
	const char *help;
};

/* Family ids, in the order of the table (and of the exposition). */
enum sl_metric_id {
	SL_M_INFO_AEAD,
	SL_M_READY,
	SL_M_SHARDS,
	SL_M_MSG_IN,
	SL_M_MSG_OUT,
	SL_M_BYTES_IN,
	SL_M_BYTES_OUT,
	SL_M_DELIVERED,
	SL_M_DISCARDED,
	SL_M_DROPS,
	SL_M_SHARD_MSG_IN,
	SL_M_SHARD_MSG_OUT,
	SL_M_SHARD_BYTES_IN,
	SL_M_SHARD_BYTES_OUT,
	SL_M_SHARD_DELIVERED,
	SL_M_SHARD_DROPS,
	SL_M_TCP_CONNS,
	SL_M_CONNS_ACCEPTED,
	SL_M_CONNS_CONNECTED,
	SL_M_CONNS_CLOSED,
	SL_M_FRAME_TIMEOUTS,
	SL_M_LIMIT_REJECTIONS,
	SL_M_UDP_DGRAMS_IN,
	SL_M_UDP_DGRAMS_OUT,
	SL_M_UDP_DROPS,
	SL_M_SECURE_CHANNELS,
	SL_M_HS_PENDING,
	SL_M_HS_OK,
	SL_M_HS_FAILED,
	SL_M_RELAYS,
	SL_M_RELAY_REGISTERED,
	SL_M_RELAY_REJECTED,
	SL_M_RELAY_EXPIRED,
	SL_M_FLEET_DIR_UP,
	SL_M_FLEET_LOOKUPS,
	SL_M_FLEET_FORWARDS,
	SL_M_FLEET_DROPS,
	SL_M_FLEET_WRITE_ERRORS,
	SL_M_FLEET_TAKEOVERS,
	SL_M_POOL_MSGS,
	SL_M_POOL_FREE,
	SL_M_POOL_EXHAUSTED,
	SL_M_RING_USED,
	SL_M_RING_CAP,
	SL_M_RING_PARKED,
	SL_M_CREDIT_STALLS,
	SL_M_READ_PAUSES,
	SL_M_FAMILIES
};

extern const struct sl_metric_family sl_metric_families[SL_M_FAMILIES];

#define SL_METRIC_LABEL_MAX 47	/* the longest limit name fits */

struct sl_metric {
	uint16_t fam;				/* enum sl_metric_id */
	char v1[SL_METRIC_LABEL_MAX + 1];	/* label values, "" when the family has none */
	char v2[SL_METRIC_LABEL_MAX + 1];
	uint64_t value;
};

struct sl_metrics {
	struct sl_metric *v;
	size_t n, cap;
};

/* Append a sample (v1, v2 NULL when unused). 0 or -ENOMEM. */
int sl_metrics_add(struct sl_metrics *m, enum sl_metric_id fam, const char *v1, const char *v2,
		   uint64_t value);
void sl_metrics_free(struct sl_metrics *m);
/* The family named name, or -1. */
int sl_metric_find(const char *name, size_t len);

/* The "node.metrics" body. Bytes a buffer needs for it. */
size_t sl_metrics_encoded_max(const struct sl_metrics *m);
void sl_metrics_encode(struct sl_cbor_writer *w, const struct sl_metrics *m);
/* 0 or -EBADMSG / -ENOMEM; out is empty on failure. */
int sl_metrics_decode(const uint8_t *p, size_t n, struct sl_metrics *out);

/*
 * Prometheus text exposition format 0.0.4: per family with samples, HELP
 * and TYPE, then its samples. A malloc'd NUL-terminated string (*len bytes),
 * or NULL when out of memory.
 */
char *sl_metrics_prometheus(const struct sl_metrics *m, size_t *len);

#endif
