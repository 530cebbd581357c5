// SPDX-License-Identifier: Apache-2.0
/*
 * `sluice load`: an open-loop (or closed-loop) load generator for encrypted
 * channels, run from the harness's own engine; no node daemon needed. This
 * file reads the options and the target, runs it (load_engine.c or
 * load_tcp.c) and reports (load_report.c).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/multiaddr.h"
#include "engine/secure.h"
#include "tools/cli/node_call.h"
#include "tools/cli/subcommands.h"
#include "tools/common/node_proc.h"
#include "tools/common/metrics.h"
#include "tools/common/state.h"
#include "tools/load/load.h"

#define EXIT_GATE 3	/* a --max-* gate was exceeded */

static const struct sl_opt load_opts[] = {
	{ "to", 0, "ROUTE", "a route to an echoing service: /node/n2/service/echo, "
			    "/ip4/127.0.0.1/tcp/4000/secure/api/service/echo (channels made here)" },
	{ "tcp", 0, "HOST:PORT", "instead of --to: TCP connections to an echo server or a portal's inlet" },
	{ "channels", 0, "N", "with /secure/NAME in --to: N secure channels, messages round-robin over them" },
	{ "connections", 0, "N", "with --tcp: N connections (default 1)" },
	{ "identity", 0, "NAME", "the identity the channels present (default: a throwaway one)" },
	{ "authorized", 0, "IDENTIFIER", "accept only this peer identity (repeatable)" },
	{ "size", 's', "BYTES", "message size, at least 8 (default 64)" },
	{ "mode", 0, "MODE", "rr (request/response, default), bulk (one way: end a route at "
			     "/service/discard), http (--tcp: GET /)" },
	{ "rate", 'r', "R", "open loop: R messages/s over all connections (20k, 1M); A..B with --ramp" },
	{ "ramp", 0, "DURATION", "go from A to B messages/s over DURATION (--rate A..B)" },
	{ "concurrency", 'c', "C", "closed loop: C in flight (default 1); with --rate: at most C in flight" },
	{ "duration", 'd', "DURATION", "measured time after the warmup (default 10s; the ramp's length with --ramp)" },
	{ "warmup", 0, "DURATION", "run this long first without measuring (default 0)" },
	{ "count", 'n', "N", "stop after N measured messages (instead of --duration)" },
	{ "handshakes", 0, "N", "handshake storm: N channels made and closed (at --rate per s, or -c at once)" },
	{ "timeout", 't', "DURATION", "a message (or handshake) without an answer by then is an error (default 5s)" },
	{ "histogram", 0, "FILE", "write the latencies in HdrHistogram's percentile-distribution format (ms)" },
	{ "max-p99", 0, "DURATION", "exit 3 when the p99 latency is over DURATION (a CI gate)" },
	{ "max-error-rate", 0, "RATE", "exit 3 when errors / attempts is over RATE (0.01 or 1%)" },
	{ "shards", 0, "N", "generator threads (default 1: the harness uses at most one core)" },
	{ "spin-us", 0, "US", "how long the harness's shards busy-poll before sleeping (default 50)" },
	{ NULL, 0, NULL, NULL },
};
static const struct sl_cmd_spec load_spec = {
	"load", NULL,
	"Drive a route, secure channels or a TCP portal with messages on a schedule and report\n"
	"throughput, latency percentiles (from the intended send times: coordinated omission\n"
	"corrected), handshakes/s and errors by kind.\n\n"
	"Examples:\n"
	"  sluice load --to /node/n2/service/echo --rate 20k --duration 10s\n"
	"  sluice load --to /node/n2/secure/api/service/echo --channels 100 --rate 10k\n"
	"  sluice load --to /node/n2/secure/api/service/echo -c 16 --output json\n"
	"  sluice load --to /node/n2/secure/api --handshakes 2000 --rate 500\n"
	"  sluice load --to /node/n2/secure/api/service/discard --mode bulk --rate 1M\n"
	"  sluice load --to /node/n2/secure/api/service/echo --rate 1000..200000 --ramp 30s\n"
	"  sluice load --tcp 127.0.0.1:6000 --connections 8 --rate 10k --histogram h.hgrm\n"
	"  sluice load --to /node/n2/service/echo --rate 5k --max-p99 2ms --max-error-rate 0.1%",
	load_opts, 0, 0, NULL,	/* no verb: load_run parses against it */
};

/* "10s", "1.5s", "500ms", "250us", "2m", a bare number = seconds, into ns. */
static int parse_ns(const char *s, uint64_t *out)
{
	char *end;
	double v = strtod(s, &end), mul;

	if (end == s || v < 0 || !isfinite(v))
		return -EINVAL;
	if (!*end || !strcmp(end, "s"))
		mul = 1e9;
	else if (!strcmp(end, "ms"))
		mul = 1e6;
	else if (!strcmp(end, "us"))
		mul = 1e3;
	else if (!strcmp(end, "ns"))
		mul = 1;
	else if (!strcmp(end, "m"))
		mul = 60e9;
	else if (!strcmp(end, "h"))
		mul = 3600e9;
	else
		return -EINVAL;
	if (v * mul > 7 * 24 * 3600e9)
		return -ERANGE;
	*out = (uint64_t)llround(v * mul);
	return 0;
}

/* "20000", "20k", "1.5M" */
static int parse_num(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || v < 0 || !isfinite(v))
		return -EINVAL;
	if (*end == 'k' || *end == 'K')
		v *= 1e3, end++;
	else if (*end == 'M')
		v *= 1e6, end++;
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_uint(const char *s, const char *flag, unsigned long max, unsigned long *out)
{
	double v;

	if (parse_num(s, &v) || v != floor(v) || v > (double)max)
		return sl_err("--%s %s is not a whole number up to %lu", flag, s, max);
	*out = (unsigned long)v;
	return 0;
}

/* /node/NAME: the TCP listener of a local node, from the state store. */
static int resolve_node(struct sl_state **st, const char *name, const char *text, struct sl_route *r)
{
	int ret;

	if (!*st && (ret = sl_state_open(NULL, st)))
		return sl_err("cannot open the state store: %s", strerror(-ret));
	return sl_node_route_push(*st, name, text, r);
}

/* Split --to at its /secure/NAME: prefix (to the listener's node), listener, rest. */
static int parse_target(const char *text, struct sl_load_route_target *t)
{
	struct sl_ma_seg segs[SL_ROUTE_MAX_HOPS];
	struct sl_state *st = NULL;
	char err[512];
	size_t n;
	unsigned nodes = 0, addrs = 0;
	int ret = 0;

	sl_route_init(&t->prefix);
	sl_route_init(&t->rest);
	t->listener[0] = 0;
	if (sl_multiaddr_parse(text, segs, SL_ROUTE_MAX_HOPS, &n, err, sizeof(err)))
		return sl_err("--to: %s", err);
	for (size_t i = 0; i < n && !ret; i++) {
		struct sl_route *r = t->listener[0] ? &t->rest : &t->prefix;

		switch (segs[i].kind) {
		case SL_MA_ADDR:
			addrs++;
			if (sl_route_push_back(r, segs[i].type, segs[i].text, segs[i].len))
				ret = sl_err("the route %s is longer than %d hops", text, SL_ROUTE_MAX_HOPS);
			break;
		case SL_MA_NODE:
			nodes++;
			memcpy(t->node, segs[i].text, segs[i].len + 1);
			ret = resolve_node(&st, segs[i].text, text, r);
			break;
		case SL_MA_SECURE:
			if (t->listener[0])
				ret = sl_err("--to %s: the harness makes one layer of channels: use one "
					     "/secure/NAME", text);
			else
				memcpy(t->listener, segs[i].text, segs[i].len + 1);
			break;
		case SL_MA_PROJECT:
			ret = sl_err("--to %s: /project is not supported by `sluice load`: give the relay "
				     "node's route, e.g. /ip4/A/tcp/P/service/forward_to_X/secure/api/...",
				     text);
			break;
		}
	}
	if (st)
		sl_state_close(st);
	if (!ret && sl_route_empty(&t->prefix))
		ret = sl_err("--to %s: the route is empty", text);
	/* /node/NAME[/secure/X]/service/S: the service is that node's, whose count we may read */
	if (nodes != 1 || addrs != 1 || segs[0].kind != SL_MA_NODE ||
	    segs[n - 1].kind != SL_MA_ADDR || segs[n - 1].type != SL_ADDR_LOCAL)
		t->node[0] = 0;
	return ret;
}

/* The node's sluice_discarded_total, over its control socket. 0, or -1 (no figure). */
static int node_discarded(const char *name, uint64_t *out)
{
	struct sl_control_reply rep;
	struct sl_metrics m;
	int fam = sl_metric_find("sluice_discarded_total", strlen("sluice_discarded_total")), ret;

	if (sl_node_call(name, "node.metrics", NULL, 0, 5000, &rep))
		return -1;
	ret = rep.resp.status == 200 && rep.resp.body ?
	      sl_metrics_decode(rep.resp.body, rep.resp.body_len, &m) : -EBADMSG;
	sl_control_reply_free(&rep);
	if (ret)
		return -1;
	ret = -1;
	for (size_t i = 0; i < m.n; i++)
		if (m.v[i].fam == fam) {
			*out = m.v[i].value;
			ret = 0;
		}
	sl_metrics_free(&m);
	return ret;
}

/*
 * After a bulk run: the node may still be working through what the harness
 * sent. Read its count until it stops moving (at most ~3 s).
 */
static int node_discarded_settled(const char *name, uint64_t *out)
{
	uint64_t last = UINT64_MAX, now;

	for (int i = 0; i < 30; i++) {
		if (node_discarded(name, &now))
			return -1;
		if (now == last)
			break;
		last = now;
		usleep(100000);
	}
	*out = now;
	return 0;
}

static int load_main(const struct sl_cli *cli, const struct sl_args *a, int argc, char **argv)
{
	const struct sl_cmd_spec *spec = &load_spec;
	const char *to = sl_args_get(spec, a, "to"), *tcp = sl_args_get(spec, a, "tcp");
	const char *v, *mode = sl_args_get(spec, a, "mode"), *hfile = sl_args_get(spec, a, "histogram");
	struct sl_load_cfg cfg = { .size = 64, .duration_ns = 10000000000ull,
				   .timeout_ns = 5000000000ull, .gens = 1 };
	struct sl_load_route_target t = { .text = to, .spin_us = 50, .verbose = cli->verbose,
					  .progress = isatty(STDERR_FILENO) && !cli->quiet };
	struct sl_load_result r = { .cfg = &cfg, .max_error_rate = -1, .max_p99_us = -1 };
	uint8_t authorized[SL_SECURE_MAX_AUTHORIZED][32];
	uint64_t before = 0;
	unsigned long u;
	int ret;

	if (!to == !tcp)
		return sl_err("say what to load with --to ROUTE (e.g. --to /node/n2/service/echo) "
			      "or --tcp HOST:PORT (e.g. a portal's inlet), one of them");
	if ((v = sl_args_get(spec, a, "size"))) {
		if (parse_uint(v, "size", 16u << 20, &u) || u < 8)
			return u < 8 ? sl_err("--size must be at least 8 bytes (the sequence number)") : -1;
		cfg.size = (uint32_t)u;
	}
	if (mode && !strcmp(mode, "bulk"))
		cfg.mode = SL_LOAD_BULK;
	else if (mode && !strcmp(mode, "http"))
		cfg.http = true;
	else if (mode && strcmp(mode, "rr"))
		return sl_err("--mode %s: use rr, bulk or http", mode);
	if (cfg.http && !tcp)
		return sl_err("--mode http is for --tcp targets (an HTTP server behind a portal)");
	if ((v = sl_args_get(spec, a, "rate"))) {
		const char *dots = strstr(v, "..");

		if (dots) {
			char lo[64];

			if ((size_t)(dots - v) >= sizeof(lo))
				return sl_err("--rate %s: use A..B, e.g. 1000..200000", v);
			memcpy(lo, v, (size_t)(dots - v));
			lo[dots - v] = 0;
			if (parse_num(lo, &cfg.rate0) || parse_num(dots + 2, &cfg.rate) || cfg.rate <= 0)
				return sl_err("--rate %s: use A..B, e.g. 1000..200000", v);
			if (!sl_args_has(spec, a, "ramp"))
				return sl_err("--rate %s is a ramp: say over how long with --ramp 30s", v);
		} else if (parse_num(v, &cfg.rate) || cfg.rate <= 0) {
			return sl_err("--rate %s is not a rate: use messages per second, e.g. 20000, 20k or 1M", v);
		}
	}
	if ((v = sl_args_get(spec, a, "ramp"))) {
		if (parse_ns(v, &cfg.ramp_ns) || !cfg.ramp_ns)
			return sl_err("--ramp %s is not a duration: use e.g. 30s", v);
		if (!cfg.rate0 && !strstr(sl_args_get(spec, a, "rate") ?: "", ".."))
			return sl_err("--ramp needs --rate A..B, e.g. --rate 1000..200000 --ramp 30s");
		cfg.duration_ns = cfg.ramp_ns;
	}
	if ((v = sl_args_get(spec, a, "concurrency"))) {
		if (parse_uint(v, "concurrency", 1u << 20, &u) || !u)
			return u ? -1 : sl_err("--concurrency must be at least 1");
		cfg.concurrency = (unsigned)u;
	}
	if (cfg.rate <= 0 && !cfg.concurrency)
		cfg.concurrency = 1;
	if ((v = sl_args_get(spec, a, "duration")) &&
	    (parse_ns(v, &cfg.duration_ns) || !cfg.duration_ns))
		return sl_err("--duration %s is not a duration: use e.g. 10s, 500ms or 2m", v);
	if ((v = sl_args_get(spec, a, "warmup")) && parse_ns(v, &cfg.warmup_ns))
		return sl_err("--warmup %s is not a duration: use e.g. 2s", v);
	if ((v = sl_args_get(spec, a, "timeout")) && (parse_ns(v, &cfg.timeout_ns) || !cfg.timeout_ns))
		return sl_err("--timeout %s is not a duration: use e.g. 5s or 500ms", v);
	if ((v = sl_args_get(spec, a, "count"))) {
		if (parse_uint(v, "count", 1ul << 40, &u) || !u)
			return u ? -1 : sl_err("--count must be at least 1");
		cfg.count = u;
	}
	if ((v = sl_args_get(spec, a, "handshakes"))) {
		if (parse_uint(v, "handshakes", 1ul << 30, &u) || !u)
			return u ? -1 : sl_err("--handshakes must be at least 1");
		cfg.mode = SL_LOAD_HANDSHAKE;
		cfg.handshakes = cfg.count = u;
	}
	if ((v = sl_args_get(spec, a, "shards"))) {
		if (parse_uint(v, "shards", 64, &u) || !u)
			return u ? -1 : sl_err("--shards must be 1 to 64");
		cfg.gens = (unsigned)u;
	}
	if ((v = sl_args_get(spec, a, "spin-us"))) {
		if (parse_uint(v, "spin-us", 1000, &u))
			return -1;
		t.spin_us = (unsigned)u;
	}
	if ((v = sl_args_get(spec, a, "channels"))) {
		if (!to)
			return sl_err("--channels is for --to routes; with --tcp say --connections N");
		if (parse_uint(v, "channels", 1u << 20, &u) || !u)
			return u ? -1 : sl_err("--channels must be at least 1");
		cfg.conns = (unsigned)u;
	}
	if ((v = sl_args_get(spec, a, "connections"))) {
		if (!tcp)
			return sl_err("--connections is for --tcp; with --to routes say --channels N");
		if (parse_uint(v, "connections", 1u << 20, &u) || !u)
			return u ? -1 : sl_err("--connections must be at least 1");
		cfg.conns = (unsigned)u;
	}
	if ((v = sl_args_get(spec, a, "max-p99"))) {
		uint64_t ns;

		if (parse_ns(v, &ns))
			return sl_err("--max-p99 %s is not a duration: use e.g. 5ms or 250us", v);
		r.max_p99_us = (int64_t)(ns / 1000);
	}
	if ((v = sl_args_get(spec, a, "max-error-rate"))) {
		char *end;

		r.max_error_rate = strtod(v, &end);
		if (end == v || r.max_error_rate < 0 || (*end && strcmp(end, "%")))
			return sl_err("--max-error-rate %s: use a fraction (0.01) or a percentage (1%%)", v);
		if (*end == '%')
			r.max_error_rate /= 100;
	}
	if (cfg.conns && cfg.conns < cfg.gens)
		cfg.gens = cfg.conns;	/* a generator without a connection would idle */

	if (to) {
		t.identity = sl_args_get(spec, a, "identity");
		if (sl_collect_authorized(argc, argv, authorized, &t.n_authorized))
			return -1;
		t.authorized = authorized;
		if (parse_target(to, &t))
			return -1;
		if (!t.listener[0] && (cfg.conns || cfg.mode == SL_LOAD_HANDSHAKE || t.identity ||
				       t.n_authorized))
			return sl_err("--channels, --handshakes, --identity and --authorized need a /secure/NAME "
				      "in --to where the channels go, e.g. --to /node/n2/secure/api/service/echo");
		if (cfg.mode != SL_LOAD_HANDSHAKE && t.listener[0] && sl_route_empty(&t.rest))
			return sl_err("--to %s ends at the listener: add the service that echoes, e.g. "
				      "%s/service/echo (or use --handshakes N for a handshake storm)", to, to);
		if (t.listener[0] && !cfg.conns)
			cfg.conns = 1;
		if (cfg.mode == SL_LOAD_BULK && cfg.rate <= 0)
			return sl_err("--mode bulk on a route needs --rate R (the engine has no backpressure to a route)");
		if (cfg.mode == SL_LOAD_BULK && strstr(to, "/service/echo"))
			fprintf(stderr, "sluice: warning: echo replies to every message; for one way, "
				"end the route at /service/discard\n");
	} else if (cfg.mode == SL_LOAD_HANDSHAKE) {
		return sl_err("--handshakes needs a route with /secure/NAME in --to");
	} else if (sl_args_has(spec, a, "identity") || sl_args_has(spec, a, "authorized")) {
		return sl_err("--identity and --authorized are for secure channels (--to with /secure/NAME)");
	}
	if (tcp && !cfg.conns)
		cfg.conns = 1;
	if (cfg.rate > 0 && cfg.rate / cfg.gens < 0.001)
		return sl_err("--rate %g is too low", cfg.rate);

	r.hist = malloc(sizeof(*r.hist));
	r.hs_hist = malloc(sizeof(*r.hs_hist));
	r.lag = malloc(sizeof(*r.lag));
	if (!r.hist || !r.hs_hist || !r.lag) {
		ret = sl_err("out of memory");
		goto out;
	}
	sl_hist_init(r.hist);
	sl_hist_init(r.hs_hist);
	sl_hist_init(r.lag);
	r.target = to ? to : tcp;
	/* bulk to a node's service: its count before and after, so loss shows */
	if (to && cfg.mode == SL_LOAD_BULK && t.node[0] && !node_discarded(t.node, &before))
		r.node = t.node;
	ret = to ? sl_load_run_engine(&cfg, &t, &r) : sl_load_run_tcp(&cfg, tcp, t.progress, &r);
	if (ret)
		goto out;
	if (r.node && !node_discarded_settled(r.node, &r.node_discarded))
		r.node_discarded -= before;
	else
		r.node = NULL;
	/*
	 * A message the engine dropped because its connection failed also timed
	 * out in the window: count it once, as refused.
	 */
	if (r.engine_drops) {
		uint64_t tmo = atomic_load(&r.c.errors[SL_LERR_TIMEOUT]);
		uint64_t k = r.engine_drops < tmo ? r.engine_drops : tmo;

		atomic_fetch_sub(&r.c.errors[SL_LERR_TIMEOUT], k);
		atomic_fetch_add(&r.c.errors[SL_LERR_REFUSED], k);
	}
	sl_load_check_gates(&r);
	if (hfile && (ret = sl_load_write_histogram(&r, hfile))) {
		ret = sl_err("cannot write --histogram %s: %s", hfile, strerror(-ret));
		goto out;
	}
	if (cli->output == SL_OUTPUT_JSON)
		sl_load_print_json(&r);
	else if (!cli->quiet)
		sl_load_print_plain(&r);
	fflush(stdout);
	ret = r.failed ? -1 : r.gates_passed ? 0 : EXIT_GATE;
out:
	free(r.hist);
	free(r.hs_hist);
	free(r.lag);
	return ret;
}

static int load_run(const struct sl_cli *cli, int argc, char **argv)
{
	struct sl_args a;
	int ret;

	if (cli->help) {
		sl_cli_usage(stdout, &load_spec);
		return SL_EXIT_OK;
	}
	if (sl_cli_parse(&load_spec, argc, argv, &a))
		return SL_EXIT_USAGE;
	ret = load_main(cli, &a, argc, argv);
	if (ret == EXIT_GATE)
		return EXIT_GATE;
	return ret ? SL_EXIT_FAIL : SL_EXIT_OK;
}

/* One command, no verbs: `sluice load --to ROUTE ...`. */
const struct sl_noun sl_noun_load = {
	.name = "load",
	.summary = "Drive routes, secure channels or portals with load; latency, throughput",
	.run = load_run,
};
