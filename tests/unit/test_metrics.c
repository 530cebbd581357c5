// SPDX-License-Identifier: Apache-2.0
/* Metric families, their control-API codec and the Prometheus text (tools/common/metrics.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tools/common/metrics.h"

TestSuite(metrics, .timeout = 5);

Test(metrics, families_follow_the_naming_rules)
{
	for (unsigned i = 0; i < SL_M_FAMILIES; i++) {
		const struct sl_metric_family *f = &sl_metric_families[i];
		size_t n;

		cr_assert_not_null(f->name, "family %u has no entry", i);
		n = strlen(f->name);
		cr_expect_eq(strncmp(f->name, "sluice_", 7), 0, "%s", f->name);
		cr_expect_eq(f->kind == SL_METRIC_COUNTER, n > 6 && !strcmp(f->name + n - 6, "_total"),
			     "%s: counters, and only counters, end in _total", f->name);
		cr_expect(f->help && *f->help && !strchr(f->help, '\n'), "%s", f->name);
		cr_expect(!f->key2 || f->key1, "%s", f->name);
		cr_expect_eq(sl_metric_find(f->name, n), (int)i);
	}
	cr_expect_eq(sl_metric_find("sluice_nothing", 14), -1);
}

static void some(struct sl_metrics *m)
{
	cr_assert_eq(sl_metrics_add(m, SL_M_SHARDS, NULL, NULL, 2), 0);
	cr_assert_eq(sl_metrics_add(m, SL_M_POOL_MSGS, "1", "small", 64), 0);
	cr_assert_eq(sl_metrics_add(m, SL_M_DROPS, "bad_route", NULL, 7), 0);
	cr_assert_eq(sl_metrics_add(m, SL_M_POOL_MSGS, "0", "big", UINT64_MAX), 0);
}

Test(metrics, round_trip_over_the_control_api)
{
	struct sl_metrics m = { 0 }, got;
	struct sl_cbor_writer w;
	uint8_t *buf;
	size_t len;

	some(&m);
	buf = malloc(sl_metrics_encoded_max(&m));
	sl_cbor_writer_init(&w, buf, sl_metrics_encoded_max(&m));
	sl_metrics_encode(&w, &m);
	cr_assert_eq(sl_cbor_writer_finish(&w, &len), 0);
	cr_assert_eq(sl_metrics_decode(buf, len, &got), 0);
	cr_assert_eq(got.n, m.n);
	for (size_t i = 0; i < m.n; i++) {
		cr_expect_eq(got.v[i].fam, m.v[i].fam);
		cr_expect_str_eq(got.v[i].v1, m.v[i].v1);
		cr_expect_str_eq(got.v[i].v2, m.v[i].v2);
		cr_expect_eq(got.v[i].value, m.v[i].value);
	}
	sl_metrics_free(&got);
	/* Every truncation is refused, and leaves nothing behind. */
	for (size_t cut = 0; cut < len; cut++) {
		cr_expect_neq(sl_metrics_decode(buf, cut, &got), 0, "cut at %zu", cut);
		cr_expect_eq(got.n, 0);
	}
	free(buf);
	sl_metrics_free(&m);
}

Test(metrics, unknown_families_are_skipped)
{
	uint8_t buf[128];
	struct sl_cbor_writer w;
	struct sl_metrics got;
	size_t len;

	sl_cbor_writer_init(&w, buf, sizeof(buf));
	sl_cbor_put_array(&w, 2);
	sl_cbor_put_array(&w, 4);
	sl_cbor_put_text(&w, "sluice_future", 13);
	sl_cbor_put_text(&w, "", 0);
	sl_cbor_put_text(&w, "", 0);
	sl_cbor_put_uint(&w, 1);
	sl_cbor_put_array(&w, 4);
	sl_cbor_put_text(&w, "sluice_relays", 13);
	sl_cbor_put_text(&w, "", 0);
	sl_cbor_put_text(&w, "", 0);
	sl_cbor_put_uint(&w, 5);
	cr_assert_eq(sl_cbor_writer_finish(&w, &len), 0);
	cr_assert_eq(sl_metrics_decode(buf, len, &got), 0);
	cr_assert_eq(got.n, 1);
	cr_expect_eq(got.v[0].fam, SL_M_RELAYS);
	cr_expect_eq(got.v[0].value, 5);
	sl_metrics_free(&got);
}

Test(metrics, prometheus_text_groups_by_family_with_help_and_type)
{
	struct sl_metrics m = { 0 };
	size_t len;
	char *t;

	some(&m);
	cr_assert_eq(sl_metrics_add(&m, SL_M_INFO_AEAD, "a\"b\\c", NULL, 1), 0);
	t = sl_metrics_prometheus(&m, &len);
	cr_assert_not_null(t);
	cr_expect_eq(strlen(t), len);
	cr_expect_str_eq(t,
		"# HELP sluice_aead_backend_info The AES-256-GCM implementation the node picked at start (value 1)\n"
		"# TYPE sluice_aead_backend_info gauge\n"
		"sluice_aead_backend_info{backend=\"a\\\"b\\\\c\"} 1\n"
		"# HELP sluice_shards Shard threads\n"
		"# TYPE sluice_shards gauge\n"
		"sluice_shards 2\n"
		"# HELP sluice_drops_total Messages dropped, by reason\n"
		"# TYPE sluice_drops_total counter\n"
		"sluice_drops_total{reason=\"bad_route\"} 7\n"
		"# HELP sluice_pool_messages Messages carved in the shard's pool, by size class\n"
		"# TYPE sluice_pool_messages gauge\n"
		"sluice_pool_messages{shard=\"1\",class=\"small\"} 64\n"
		"sluice_pool_messages{shard=\"0\",class=\"big\"} 18446744073709551615\n");
	free(t);
	sl_metrics_free(&m);
}
