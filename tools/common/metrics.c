// SPDX-License-Identifier: Apache-2.0
/* The metric families, samples, their control-API codec and Prometheus text (metrics.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/common/metrics.h"

#define C SL_METRIC_COUNTER
#define G SL_METRIC_GAUGE

const struct sl_metric_family sl_metric_families[SL_M_FAMILIES] = {
	[SL_M_INFO_AEAD] = { "sluice_aead_backend_info", G, "backend", NULL,
		"The AES-256-GCM implementation the node picked at start (value 1)" },
	[SL_M_READY] = { "sluice_ready", G, NULL, NULL,
		"1 while shards and listeners are up, 0 while starting or draining" },
	[SL_M_SHARDS] = { "sluice_shards", G, NULL, NULL, "Shard threads" },
	[SL_M_MSG_IN] = { "sluice_messages_in_total", C, NULL, NULL,
		"Frames received on TCP and Unix-socket connections" },
	[SL_M_MSG_OUT] = { "sluice_messages_out_total", C, NULL, NULL,
		"Frames sent on TCP and Unix-socket connections" },
	[SL_M_BYTES_IN] = { "sluice_bytes_in_total", C, NULL, NULL,
		"Bytes received on TCP and Unix-socket connections" },
	[SL_M_BYTES_OUT] = { "sluice_bytes_out_total", C, NULL, NULL,
		"Bytes sent on TCP and Unix-socket connections" },
	[SL_M_DELIVERED] = { "sluice_messages_delivered_total", C, NULL, NULL,
		"Messages handed to a worker of this node" },
	[SL_M_DISCARDED] = { "sluice_discarded_total", C, NULL, NULL,
		"Messages the discard service consumed (one-way load; no reply)" },
	[SL_M_DROPS] = { "sluice_drops_total", C, "reason", NULL,
		"Messages dropped, by reason" },
	[SL_M_SHARD_MSG_IN] = { "sluice_shard_messages_in_total", C, "shard", NULL,
		"Frames received, per shard" },
	[SL_M_SHARD_MSG_OUT] = { "sluice_shard_messages_out_total", C, "shard", NULL,
		"Frames sent, per shard" },
	[SL_M_SHARD_BYTES_IN] = { "sluice_shard_bytes_in_total", C, "shard", NULL,
		"Bytes received, per shard" },
	[SL_M_SHARD_BYTES_OUT] = { "sluice_shard_bytes_out_total", C, "shard", NULL,
		"Bytes sent, per shard" },
	[SL_M_SHARD_DELIVERED] = { "sluice_shard_messages_delivered_total", C, "shard", NULL,
		"Messages handed to a worker, per shard" },
	[SL_M_SHARD_DROPS] = { "sluice_shard_drops_total", C, "shard", NULL,
		"Messages dropped for any reason, per shard" },
	[SL_M_TCP_CONNS] = { "sluice_tcp_connections", G, NULL, NULL,
		"TCP connections held now (accepted or dialled, connecting or open)" },
	[SL_M_CONNS_ACCEPTED] = { "sluice_connections_accepted_total", C, NULL, NULL,
		"TCP and Unix-socket connections accepted by the node's listeners" },
	[SL_M_CONNS_CONNECTED] = { "sluice_connections_connected_total", C, NULL, NULL,
		"Outgoing TCP connections established" },
	[SL_M_CONNS_CLOSED] = { "sluice_connections_closed_total", C, NULL, NULL,
		"TCP and Unix-socket connections closed" },
	[SL_M_FRAME_TIMEOUTS] = { "sluice_frame_timeouts_total", C, NULL, NULL,
		"Connections closed because a partial frame sat idle for the frame timeout" },
	[SL_M_LIMIT_REJECTIONS] = { "sluice_limit_rejections_total", C, "limit", NULL,
		"Connections or messages refused because a node limit (--limit) was reached" },
	[SL_M_UDP_DGRAMS_IN] = { "sluice_udp_datagrams_in_total", C, NULL, NULL,
		"UDP datagrams received (messages_in counts the messages they carry)" },
	[SL_M_UDP_DGRAMS_OUT] = { "sluice_udp_datagrams_out_total", C, NULL, NULL,
		"UDP datagrams sent" },
	[SL_M_UDP_DROPS] = { "sluice_udp_drops_total", C, NULL, NULL,
		"UDP datagrams dropped (bad, duplicate, late or unsendable) and messages lost" },
	[SL_M_SECURE_CHANNELS] = { "sluice_secure_channels", G, NULL, NULL,
		"Secure channels established and open now" },
	[SL_M_HS_PENDING] = { "sluice_secure_handshakes_pending", G, NULL, NULL,
		"Secure channel handshakes in flight" },
	[SL_M_HS_OK] = { "sluice_secure_handshakes_ok_total", C, NULL, NULL,
		"Secure channel handshakes that established a channel" },
	[SL_M_HS_FAILED] = { "sluice_secure_handshakes_failed_total", C, "reason", NULL,
		"Secure channel handshakes that failed, by reason" },
	[SL_M_RELAYS] = { "sluice_relays", G, NULL, NULL, "Relays registered now" },
	[SL_M_RELAY_REGISTERED] = { "sluice_relay_registrations_total", C, NULL, NULL,
		"Relay registrations that created or replaced a relay" },
	[SL_M_RELAY_REJECTED] = { "sluice_relay_rejections_total", C, NULL, NULL,
		"Relay registrations refused (name held by another identity, bad request)" },
	[SL_M_RELAY_EXPIRED] = { "sluice_relay_expirations_total", C, NULL, NULL,
		"Relays removed because their registering connection went away" },
	[SL_M_FLEET_DIR_UP] = { "sluice_relay_directory_up", G, NULL, NULL,
		"1 while the relay fleet's directory (Redis) answers, 0 while it does not" },
	[SL_M_FLEET_LOOKUPS] = { "sluice_relay_directory_lookups_total", C, "result", NULL,
		"Directory lookups of relay names held by no relay here, by result (ok, miss, error)" },
	[SL_M_FLEET_FORWARDS] = { "sluice_relay_fleet_forwards_total", C, NULL, NULL,
		"Messages forwarded to the relay node that owns their name" },
	[SL_M_FLEET_DROPS] = { "sluice_relay_fleet_drops_total", C, "reason", NULL,
		"Messages for a relay name of the fleet dropped, by reason" },
	[SL_M_FLEET_WRITE_ERRORS] = { "sluice_relay_directory_write_errors_total", C, NULL, NULL,
		"Directory writes (registration, refresh, deregistration) that failed" },
	[SL_M_FLEET_TAKEOVERS] = { "sluice_relay_directory_takeovers_total", C, NULL, NULL,
		"Relay names of this node taken over by a newer registration on another node" },
	[SL_M_POOL_MSGS] = { "sluice_pool_messages", G, "shard", "class",
		"Messages carved in the shard's pool, by size class" },
	[SL_M_POOL_FREE] = { "sluice_pool_messages_free", G, "shard", "class",
		"Messages free in the shard's pool, by size class" },
	[SL_M_POOL_EXHAUSTED] = { "sluice_pool_exhausted_total", C, "shard", NULL,
		"Allocations refused because a pool class was at its cap" },
	[SL_M_RING_USED] = { "sluice_ring_messages", G, "shard", NULL,
		"Messages waiting in the rings into the shard from other shards" },
	[SL_M_RING_CAP] = { "sluice_ring_capacity", G, "shard", NULL,
		"Entries the rings into the shard hold in all" },
	[SL_M_RING_PARKED] = { "sluice_ring_parked", G, "shard", NULL,
		"Messages the shard holds for other shards whose rings are full" },
	[SL_M_CREDIT_STALLS] = { "sluice_portal_credit_stalls_total", C, "shard", NULL,
		"Times a portal connection stopped reading: the peer's credit window was used up" },
	[SL_M_READ_PAUSES] = { "sluice_read_pauses_total", C, "shard", NULL,
		"Times a connection stopped reading for backpressure (queue, pool or ring full)" },
};

#undef C
#undef G

int sl_metrics_add(struct sl_metrics *m, enum sl_metric_id fam, const char *v1, const char *v2,
		   uint64_t value)
{
	struct sl_metric *s;

	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 128;
		struct sl_metric *v = realloc(m->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		m->v = v;
		m->cap = cap;
	}
	s = &m->v[m->n++];
	s->fam = (uint16_t)fam;
	snprintf(s->v1, sizeof(s->v1), "%s", v1 ? v1 : "");
	snprintf(s->v2, sizeof(s->v2), "%s", v2 ? v2 : "");
	s->value = value;
	return 0;
}

void sl_metrics_free(struct sl_metrics *m)
{
	free(m->v);
	memset(m, 0, sizeof(*m));
}

int sl_metric_find(const char *name, size_t len)
{
	for (int i = 0; i < SL_M_FAMILIES; i++)
		if (strlen(sl_metric_families[i].name) == len &&
		    !memcmp(sl_metric_families[i].name, name, len))
			return i;
	return -1;
}

size_t sl_metrics_encoded_max(const struct sl_metrics *m)
{
	/* Per sample: headers, the name (< 64), two labels, a uint. */
	return 16 + m->n * (16 + 64 + 2 * (SL_METRIC_LABEL_MAX + 1) + 9);
}

void sl_metrics_encode(struct sl_cbor_writer *w, const struct sl_metrics *m)
{
	sl_cbor_put_array(w, m->n);
	for (size_t i = 0; i < m->n; i++) {
		const struct sl_metric *s = &m->v[i];
		const char *name = sl_metric_families[s->fam].name;

		sl_cbor_put_array(w, 4);
		sl_cbor_put_text(w, name, strlen(name));
		sl_cbor_put_text(w, s->v1, strlen(s->v1));
		sl_cbor_put_text(w, s->v2, strlen(s->v2));
		sl_cbor_put_uint(w, s->value);
	}
}

static int get_label(struct sl_cbor_reader *rd, struct sl_cbor_array *a, char *out)
{
	const char *p;
	size_t n;
	int ret = sl_cbor_field(rd, a);

	if (!ret)
		ret = sl_cbor_get_text(rd, &p, &n);
	if (!ret && n > SL_METRIC_LABEL_MAX)
		ret = -EBADMSG;
	if (!ret) {
		memcpy(out, p, n);
		out[n] = '\0';
	}
	return ret;
}

int sl_metrics_decode(const uint8_t *p, size_t n, struct sl_metrics *out)
{
	struct sl_cbor_reader rd;
	struct sl_cbor_array top, a;
	int ret;

	memset(out, 0, sizeof(*out));
	sl_cbor_reader_init(&rd, p, n);
	ret = sl_cbor_array_enter(&rd, &top);
	while (!ret && (ret = sl_cbor_array_next(&rd, &top)) > 0) {
		struct sl_metric s = { 0 };
		const char *name;
		size_t len;
		int fam = -1;

		ret = sl_cbor_array_enter(&rd, &a);
		if (!ret)
			ret = sl_cbor_field(&rd, &a);
		if (!ret)
			ret = sl_cbor_get_text(&rd, &name, &len);
		if (!ret)
			fam = sl_metric_find(name, len);
		if (!ret)
			ret = get_label(&rd, &a, s.v1);
		if (!ret)
			ret = get_label(&rd, &a, s.v2);
		if (!ret)
			ret = sl_cbor_field(&rd, &a);
		if (!ret)
			ret = sl_cbor_get_uint(&rd, &s.value);
		if (!ret)
			ret = sl_cbor_array_leave(&rd, &a);
		if (!ret && fam >= 0)
			ret = sl_metrics_add(out, (enum sl_metric_id)fam, s.v1, s.v2, s.value);
	}
	if (!ret)
		ret = sl_cbor_array_leave(&rd, &top);
	if (!ret && !sl_cbor_at_end(&rd))
		ret = -EBADMSG;
	if (ret) {
		sl_metrics_free(out);
		return ret == -ENOMEM ? ret : -EBADMSG;
	}
	return 0;
}

/* A label value in the exposition: backslash, quote and newline escaped. */
static void put_label(FILE *f, const char *key, const char *v)
{
	fprintf(f, "%s=\"", key);
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
	fputc('"', f);
}

char *sl_metrics_prometheus(const struct sl_metrics *m, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	if (!f)
		return NULL;
	for (unsigned fam = 0; fam < SL_M_FAMILIES; fam++) {
		const struct sl_metric_family *mf = &sl_metric_families[fam];
		bool head = false;

		for (size_t i = 0; i < m->n; i++) {
			const struct sl_metric *s = &m->v[i];

			if (s->fam != fam)
				continue;
			if (!head) {
				fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", mf->name, mf->help, mf->name,
					mf->kind == SL_METRIC_COUNTER ? "counter" : "gauge");
				head = true;
			}
			fputs(mf->name, f);
			if (mf->key1) {
				fputc('{', f);
				put_label(f, mf->key1, s->v1);
				if (mf->key2) {
					fputc(',', f);
					put_label(f, mf->key2, s->v2);
				}
				fputc('}', f);
			}
			fprintf(f, " %" PRIu64 "\n", s->value);
		}
	}
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}
