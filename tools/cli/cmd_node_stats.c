// SPDX-License-Identifier: Apache-2.0
/* `sluice node stats NAME`: the figures /metrics serves, asked over the control socket. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "tools/cli/list.h"
#include "tools/cli/node_call.h"
#include "tools/cli/subcommands.h"
#include "tools/common/metrics.h"
#include "tools/common/text.h"

#define STATS_TIMEOUT_MS 5000

static const struct sl_opt stats_opts[] = {
	{ NULL, 0, NULL, NULL },
};

/* "key=value,key=value" of a sample, "" when it has no labels. */
static void labels_text(const struct sl_metric *s, char *buf, size_t cap)
{
	const struct sl_metric_family *f = &sl_metric_families[s->fam];

	buf[0] = '\0';
	if (f->key1 && f->key2)
		snprintf(buf, cap, "%s=%s,%s=%s", f->key1, s->v1, f->key2, s->v2);
	else if (f->key1)
		snprintf(buf, cap, "%s=%s", f->key1, s->v1);
}

static void json_sample(const struct sl_metric *s)
{
	const struct sl_metric_family *f = &sl_metric_families[s->fam];

	fputs("{\"name\":", stdout);
	sl_json_str(stdout, f->name);
	fprintf(stdout, ",\"type\":\"%s\",\"labels\":{",
		f->kind == SL_METRIC_COUNTER ? "counter" : "gauge");
	if (f->key1) {
		sl_json_str(stdout, f->key1);
		putchar(':');
		sl_json_str(stdout, s->v1);
	}
	if (f->key2) {
		putchar(',');
		sl_json_str(stdout, f->key2);
		putchar(':');
		sl_json_str(stdout, s->v2);
	}
	printf("},\"value\":%" PRIu64 "}", s->value);
}

static int node_stats(const struct sl_cli *cli, const struct sl_cmd_spec *spec,
		      const struct sl_args *a)
{
	static const int widths[] = { 44, 28 };
	static const char *const heads[] = { "METRIC", "LABELS", "VALUE" };
	static const struct sl_table table = { 3, widths, heads, "\t" };
	const char *name = a->pos[0];
	struct sl_control_reply r;
	struct sl_metrics m;
	struct sl_list l;
	int ret;

	if (!sl_node_name_valid(name))
		return sl_err("'%s' is not a valid node name", name);
	if (sl_node_call_ok(name, "node.metrics", NULL, 0, STATS_TIMEOUT_MS, &r))
		return -1;
	ret = r.resp.body ? sl_metrics_decode(r.resp.body, r.resp.body_len, &m) : -EBADMSG;
	sl_control_reply_free(&r);
	if (ret)
		return sl_err("node %s sent metrics this sluice cannot read: is it a different version?",
			      name);
	if (!cli->quiet) {
		sl_list_begin(&l, cli, &table);
		for (size_t i = 0; i < m.n; i++) {
			char labels[2 * (SL_METRIC_LABEL_MAX + 16)], value[24];

			if (sl_list_row(&l) == SL_ROW_JSON) {
				json_sample(&m.v[i]);
				continue;
			}
			labels_text(&m.v[i], labels, sizeof(labels));
			snprintf(value, sizeof(value), "%" PRIu64, m.v[i].value);
			sl_list_cells(&l, (const char *const[]){
				sl_metric_families[m.v[i].fam].name, labels[0] ? labels : "-", value });
		}
		sl_list_end(&l, "Node %s sent no metrics", name);
	}
	sl_metrics_free(&m);
	return 0;
}

const struct sl_cmd_spec sl_node_stats_spec = {
	"node stats", "NAME",
	"Print a running node's counters and gauges: what its /metrics endpoint serves (see "
	"`node create --metrics`), one row per sample.",
	stats_opts, 1, 1, node_stats,
};
