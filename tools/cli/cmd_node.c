// SPDX-License-Identifier: Apache-2.0
/* `sluice node ...`: create, run, list, show, start, stop, delete (stats: cmd_node_stats.c). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/cli/cmd_node.h"
#include "tools/cli/control.h"
#include "tools/cli/list.h"
#include "tools/cli/node_spawn.h"
#include "tools/cli/subcommands.h"
#include "tools/common/node_config.h"
#include "tools/common/node_proc.h"
#include "tools/common/relay_at.h"
#include "tools/cli/node_limits.h"
#include "tools/common/state.h"
#include "tools/common/text.h"
#include "tools/daemon/daemon.h"

/* How long list/show wait for a node's control socket. */
#define STATUS_TIMEOUT_MS 2000

int sl_node_check_name(const char *name)
{
	if (sl_node_name_valid(name))
		return 0;
	return sl_err("'%s' is not a valid node name: use up to %d letters, digits, '-', '_' or '.'",
		      name, SL_NODE_NAME_MAX);
}

/* Open the store, look the node up; errors printed. */
static int open_node(const char *name, struct sl_state **st, struct sl_node_rec *rec)
{
	int ret;

	if (sl_node_check_name(name))
		return -EINVAL;
	ret = sl_state_open(NULL, st);
	if (ret)
		return ret;
	ret = sl_state_node_get(*st, name, rec);
	if (ret == -ENOENT)
		sl_err("unknown node %s: see `sluice node list`, or create it with `sluice node create %s`",
		       name, name);
	if (ret) {
		sl_state_close(*st);
		*st = NULL;
	}
	return ret;
}

/* Show one node: what list and show print per node. */
struct node_view {
	struct sl_node_rec rec;
	enum sl_node_status status;
	bool alive;			/* the recorded process exists */
	char dial[300];			/* 127.0.0.1:PORT, "" when it never ran */
	bool have_status;
	struct sl_api_status live;	/* from the node itself, when it answered */
};

static void view_node(struct node_view *v)
{
	struct sl_control_reply r;
	char sock[PATH_MAX];

	v->alive = v->rec.pid && sl_node_alive(v->rec.pid, v->rec.pid_start);
	/*
	 * Recorded as running: crashed unless its control socket answers, or
	 * the user had asked it to stop (it died on the way out).
	 */
	if (!v->rec.pid || (!v->alive && v->rec.stopped))
		v->status = SL_NODE_STOPPED;
	else
		v->status = SL_NODE_CRASHED;
	if (sl_node_dial_address(&v->rec, v->dial, sizeof(v->dial)))
		v->dial[0] = '\0';
	v->have_status = false;
	if (!v->alive)
		return;
	if (sl_state_node_file(v->rec.name, "control.sock", sock, sizeof(sock)) ||
	    sl_control_call(sock, "node.status", NULL, 0, STATUS_TIMEOUT_MS, &r))
		return;
	if (r.resp.status == SL_API_OK) {
		v->status = SL_NODE_RUNNING;
		if (r.resp.body && !sl_api_status_decode(r.resp.body, r.resp.body_len, &v->live))
			v->have_status = true;
	}
	sl_control_reply_free(&r);
}

static void json_node(FILE *f, const struct node_view *v, bool full)
{
	char sock[PATH_MAX], log[PATH_MAX];

	fputs("{\"name\":", f);
	sl_json_str(f, v->rec.name);
	fprintf(f, ",\"status\":\"%s\"", sl_node_status_name(v->status));
	if (v->alive)
		fprintf(f, ",\"pid\":%lld", (long long)v->rec.pid);
	else
		fputs(",\"pid\":null", f);
	fprintf(f, ",\"tcp_port\":%u,\"tcp_address\":", v->rec.tcp_port);
	sl_json_str(f, v->dial[0] ? v->dial : v->rec.tcp_address);
	if (full) {
		fputs(",\"tcp_listener_address\":", f);
		sl_json_str(f, v->rec.tcp_address);
		fputs(",\"udp_listener_address\":", f);
		if (v->rec.udp_address[0])
			sl_json_str(f, v->rec.udp_address);
		else
			fputs("null", f);
		fprintf(f, ",\"pin_shards\":%s,\"spin_us\":%u,\"frame_timeout_ms\":%llu",
			v->rec.pin_shards ? "true" : "false", v->rec.spin_us,
			(unsigned long long)v->rec.frame_timeout_ms);
		fputs(",\"metrics\":", f);
		if (v->rec.metrics[0])
			sl_json_str(f, v->rec.metrics);
		else
			fputs("null", f);
		sl_node_json_limits(f, &v->rec);
		fputs(",\"relay_directory\":", f);
		if (v->rec.relay_directory[0])
			sl_json_str(f, v->rec.relay_directory);
		else
			fputs("null", f);
		if (v->rec.tcp_port)
			fprintf(f, ",\"route\":\"/node/%s\"", v->rec.name);
		if (!sl_state_node_file(v->rec.name, "control.sock", sock, sizeof(sock))) {
			fputs(",\"control_socket\":", f);
			sl_json_str(f, sock);
		}
		if (!sl_state_node_file(v->rec.name, "node.log", log, sizeof(log))) {
			fputs(",\"log\":", f);
			sl_json_str(f, log);
		}
		fprintf(f, ",\"created_at\":%lld,\"started_at\":%lld", (long long)v->rec.created_at,
			(long long)v->rec.started_at);
		if (v->have_status) {
			const struct sl_api_status *s = &v->live;

			fprintf(f, ",\"shards\":%u,\"uptime_ms\":%llu,\"stats\":{\"delivered\":%llu,"
				"\"to_transport\":%llu,\"drop_unknown\":%llu,\"drop_route\":%llu,"
				"\"drop_other\":%llu,\"control_requests\":%llu,\"sends\":%llu,"
				"\"replies\":%llu,\"timeouts\":%llu,\"frame_timeouts\":%llu}",
				s->shards, (unsigned long long)s->uptime_ms,
				(unsigned long long)s->stats.delivered,
				(unsigned long long)s->stats.to_transport,
				(unsigned long long)s->stats.drop_unknown,
				(unsigned long long)s->stats.drop_route,
				(unsigned long long)s->stats.drop_other,
				(unsigned long long)s->stats.control_requests,
				(unsigned long long)s->stats.sends,
				(unsigned long long)s->stats.replies,
				(unsigned long long)s->stats.timeouts,
				(unsigned long long)s->stats.frame_timeouts);
		}
	}
	fputc('}', f);
}

/* What create and start print once the node answers. */
static int print_started(const struct sl_cli *cli, const char *name, const char *verb)
{
	struct sl_state *st;
	struct node_view v;
	int ret;

	if (cli->quiet)
		return 0;
	ret = open_node(name, &st, &v.rec);
	if (ret)
		return ret;
	sl_state_close(st);
	view_node(&v);
	if (cli->output == SL_OUTPUT_JSON) {
		json_node(stdout, &v, true);
		putchar('\n');
	} else if (cli->tty) {
		printf("Node %s %s: listening on %s (pid %lld); reach it at /node/%s\n", name, verb,
		       v.dial, (long long)v.rec.pid, name);
	} else {
		printf("%s\n", name);
	}
	return 0;
}

/* node create */

static const struct sl_opt create_opts[] = {
	{ "tcp-listener-address", 0, "HOST:PORT",
	  "TCP listener address (default " SL_NODE_TCP_LISTEN_DEFAULT ": a free port)" },
	{ "udp-listener-address", 0, "HOST:PORT",
	  "also listen for UDP datagrams here (default: none), e.g. 127.0.0.1:4100; others reach "
	  "the node at /ip4/HOST/udp/PORT. The port must be given (not 0)" },
	{ "foreground", 'f', NULL, "run in this process instead of as a daemon (like `node run`)" },
	{ "identity", 0, "NAME", "the identity the node uses (default: the node's own)" },
	{ "shards", 0, "N", "shard threads (default: one per CPU)" },
	{ "pin-shards", 0, NULL, "pin shard i to CPU i % ncpu (default: unpinned, the kernel "
				 "places them); for a node that has the machine to itself" },
	{ "spin-us", 0, "N", "microseconds (0 to 1000, default 50) a shard busy-polls after its last "
			     "work before it sleeps: lower request/response latency for CPU while such a "
			     "flow runs; bulk flows and idle nodes are unaffected (0 = least CPU)" },
	{ "frame-timeout", 0, "DURATION", "close a connection that sent part of a frame and then "
					  "nothing for this long (default 30s; e.g. 5s, 2m; at most 1h)" },
	{ "project", 0, "FILE", "a project file (`sluice project create`): /project/NAME routes "
				"reach its relay node" },
	{ "metrics", 0, "HOST:PORT", "serve Prometheus metrics (/metrics), /healthz and /readyz over "
				     "HTTP here, e.g. 127.0.0.1:9464 (default: none)" },
	{ "limit", 0, "NAME=VALUE...", LIMIT_HELP },
	{ "relay-directory", 0, "URL", RELAY_DIR_HELP },
	{ NULL, 0, NULL, NULL },
};

#define FRAME_TIMEOUT_MAX_MS (3600u * 1000)

/* A decimal number from 0 to max, digits only: "-1", "+5" and " 5" are not. */
bool sl_node_parse_uint(const char *s, unsigned max, unsigned *out)
{
	unsigned long v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return false;
	}
	*out = (unsigned)v;
	return true;
}

/* --metrics: an IP literal and a port ("" = none). The normal form into norm. */
int sl_node_check_metrics(const char *a, char *norm, size_t cap)
{
	if (!*a) {
		norm[0] = '\0';
		return 0;
	}
	if (sl_metrics_address_norm(a, norm, cap))
		return 0;
	return sl_err("--metrics %s: use HOST:PORT with an IP address and a port other than 0, e.g. "
		      "127.0.0.1:9464 (keep it on 127.0.0.1 unless a firewall guards it)", a);
}

bool sl_node_listener_is_wildcard(const char *tcp_address)
{
	return !strncmp(tcp_address, "0.0.0.0:", 8) || !strncmp(tcp_address, "[::]:", 5);
}

/* --relay-directory: Redis's URL; the fleet reaches this node at its TCP listener's host. */
static int check_relay_directory(const char *url, struct sl_node_rec *rec)
{
	char host[256];
	unsigned port;
	const char *why;

	if (sl_relay_dir_parse_url(url, host, sizeof(host), &port, &why) ||
	    strlen(url) >= sizeof(rec->relay_directory))
		return sl_err("--relay-directory %s: %s", url, why);
	if (sl_node_listener_is_wildcard(rec->tcp_address))
		return sl_err("--relay-directory needs a TCP listener address the other relay nodes "
			      "can reach, not %s: give --tcp-listener-address HOST:PORT with the "
			      "node's own address", rec->tcp_address);
	snprintf(rec->relay_directory, sizeof(rec->relay_directory), "%s", url);
	return 0;
}

/* Build a new record from create's (or run's) options. */
int sl_node_new_record(const struct sl_cmd_spec *spec, const struct sl_args *a, const char *name,
		      struct sl_node_rec *rec)
{
	const char *addr = sl_args_get(spec, a, "tcp-listener-address");
	const char *shards = sl_args_get(spec, a, "shards");
	const char *spin = sl_args_get(spec, a, "spin-us");
	const char *ident = sl_args_get(spec, a, "identity");
	const char *ft = sl_args_get(spec, a, "frame-timeout");
	const char *metrics = sl_args_get(spec, a, "metrics");
	const char *udp = sl_args_get(spec, a, "udp-listener-address");
	const char *rdir = sl_args_get(spec, a, "relay-directory");

	memset(rec, 0, sizeof(*rec));
	if (sl_node_check_name(name))
		return -EINVAL;
	snprintf(rec->name, sizeof(rec->name), "%s", name);
	if (!addr)
		addr = SL_NODE_TCP_LISTEN_DEFAULT;
	if (!sl_listen_address_norm(addr, rec->tcp_address, sizeof(rec->tcp_address)))
		return sl_err("'%s' is not a TCP listener address: use HOST:PORT, e.g. 127.0.0.1:4000 "
			      "(port 0 picks a free one)", addr);
	if (udp && (!sl_listen_address_norm(udp, rec->udp_address, sizeof(rec->udp_address)) ||
		    !strcmp(strrchr(rec->udp_address, ':'), ":0")))
		return sl_err("'%s' is not a UDP listener address: use HOST:PORT with a port from 1 "
			      "to 65535, e.g. 127.0.0.1:4100 (a UDP route names the port)", udp);
	if (shards && !sl_node_parse_uint(shards, 64, &rec->shards))
		return sl_err("--shards %s: use a number of shard threads from 1 to 64 "
			      "(0 = one per CPU)", shards);
	rec->pin_shards = sl_args_has(spec, a, "pin-shards");
	rec->spin_us = SL_NODE_SPIN_US_DEFAULT;
	if (spin && !sl_node_parse_uint(spin, SL_NODE_SPIN_US_MAX, &rec->spin_us))
		return sl_err("--spin-us %s: use a number of microseconds from 0 to %u (0 = sleep at "
			      "once; default %u)", spin, SL_NODE_SPIN_US_MAX, SL_NODE_SPIN_US_DEFAULT);
	rec->frame_timeout_ms = SL_NODE_FRAME_TIMEOUT_MS_DEFAULT;
	if (ft && (sl_parse_duration_ms(ft, &rec->frame_timeout_ms) ||
		   rec->frame_timeout_ms > FRAME_TIMEOUT_MAX_MS))
		return sl_err("--frame-timeout %s: use a duration from 1ms to 1h, e.g. 30s or 2m "
			      "(default 30s)", ft);
	if (ident) {
		if (!sl_node_name_valid(ident))
			return sl_err("'%s' is not a valid identity name", ident);
		snprintf(rec->identity, sizeof(rec->identity), "%s", ident);
	}
	if (metrics && sl_node_check_metrics(metrics, rec->metrics, sizeof(rec->metrics)))
		return -EINVAL;
	if (sl_node_apply_limits(a, "", rec->limits, sizeof(rec->limits)))
		return -EINVAL;
	if (rdir && check_relay_directory(rdir, rec))
		return -EINVAL;
	rec->created_at = (int64_t)time(NULL);
	return 0;
}

int sl_node_add_record(const struct sl_node_rec *rec)
{
	struct sl_state *st;
	int ret = sl_state_open(NULL, &st);

	if (ret)
		return ret;
	ret = sl_state_node_add(st, rec);
	if (ret == -EEXIST)
		sl_err("node %s already exists: start it with `sluice node start %s`, or delete it "
		       "with `sluice node delete %s`", rec->name, rec->name, rec->name);
	sl_state_close(st);
	return ret;
}

static void forget_record(const char *name)
{
	struct sl_state *st;

	if (sl_state_open(NULL, &st))
		return;
	sl_state_node_delete(st, name);
	sl_state_close(st);
}

static int node_create(const struct sl_cli *cli, const struct sl_cmd_spec *spec,
		       const struct sl_args *a)
{
	const char *name = a->pos[0];
	const char *project = sl_args_get(spec, a, "project");
	char pname[SL_NODE_NAME_MAX + 1];
	struct sl_node_rec rec;
	pid_t pid;
	int ret;

	ret = sl_node_new_record(spec, a, name, &rec);
	/* Projects are shared by every node here, as in Ockam: record it first. */
	if (!ret && project)
		ret = sl_project_import_file(project, pname, sizeof(pname));
	if (!ret)
		ret = sl_node_add_record(&rec);
	if (ret)
		return ret;
	if (sl_args_has(spec, a, "foreground"))
		return sl_daemon_run(name);
	ret = sl_node_spawn(cli, name, &pid);
	if (ret) {
		/* Leave nothing half-made: the name stays free to try again. */
		forget_record(name);
		return ret;
	}
	return print_started(cli, name, "created");
}

static const struct sl_cmd_spec create_spec = {
	"node create", "NAME", "Create a node and start it in the background.", create_opts, 1, 1,
	node_create,
};

/* node list */

static const struct sl_opt no_opts[] = {
	{ NULL, 0, NULL, NULL },
};

static int node_list(const struct sl_cli *cli, const struct sl_cmd_spec *spec,
		     const struct sl_args *a)
{
	static const int widths[] = { 20, 8, 8 };
	static const char *const heads[] = { "NAME", "STATUS", "PID", "TCP" };
	static const struct sl_table table = { 4, widths, heads, "\t" };
	struct sl_node_rec *recs;
	struct sl_state *st;
	struct sl_list l;
	size_t n, i;
	int ret;

	ret = sl_state_open(NULL, &st);
	if (ret)
		return ret;
	ret = sl_state_node_list(st, &recs, &n);
	sl_state_close(st);
	if (ret)
		return sl_err("cannot read the node list: %s", strerror(-ret));
	if (cli->quiet)
		goto out;
	sl_list_begin(&l, cli, &table);
	for (i = 0; i < n; i++) {
		struct node_view v = { .rec = recs[i] };
		char pid[24] = "-";

		view_node(&v);
		if (v.alive)
			snprintf(pid, sizeof(pid), "%lld", (long long)v.rec.pid);
		const char *tcp = v.dial[0] ? v.dial : v.rec.tcp_address;

		if (sl_list_row(&l) == SL_ROW_JSON)
			json_node(stdout, &v, false);
		else
			sl_list_cells(&l, (const char *const[]){
				v.rec.name, sl_node_status_name(v.status), pid, tcp });
	}
	sl_list_end(&l, "No nodes: create one with `sluice node create n1`");
out:
	free(recs);
	return 0;
}

static const struct sl_cmd_spec list_spec = {
	"node list", NULL, "List the nodes with their status (running, stopped, crashed), pid and port.",
	no_opts, 0, 0, node_list,
};

/* node show */

static void fmt_time(int64_t t, char *buf, size_t cap)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (!t || !localtime_r(&tt, &tm))
		snprintf(buf, cap, "-");
	else
		strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm);
}

static int node_show(const struct sl_cli *cli, const struct sl_cmd_spec *spec,
		     const struct sl_args *a)
{
	char sock[PATH_MAX], log[PATH_MAX], created[32], started[32], ft[32];
	struct sl_state *st;
	struct node_view v;
	int ret;

	ret = open_node(a->pos[0], &st, &v.rec);
	if (ret)
		return ret;
	sl_state_close(st);
	view_node(&v);
	if (cli->quiet)
		return 0;
	if (cli->output == SL_OUTPUT_JSON) {
		json_node(stdout, &v, true);
		putchar('\n');
		return 0;
	}
	sl_state_node_file(v.rec.name, "control.sock", sock, sizeof(sock));
	sl_state_node_file(v.rec.name, "node.log", log, sizeof(log));
	fmt_time(v.rec.created_at, created, sizeof(created));
	fmt_time(v.rec.started_at, started, sizeof(started));
	printf("Node:       %s\n", v.rec.name);
	printf("Status:     %s\n", sl_node_status_name(v.status));
	if (v.alive)
		printf("Pid:        %lld\n", (long long)v.rec.pid);
	printf("TCP:        %s%s\n", v.dial[0] ? v.dial : v.rec.tcp_address,
	       v.dial[0] ? "" : " (not started yet)");
	if (v.dial[0])
		printf("Route:      /node/%s  (/ip4/%.*s/tcp/%u)\n", v.rec.name,
		       (int)(strrchr(v.dial, ':') - v.dial), v.dial, v.rec.tcp_port);
	if (v.rec.udp_address[0]) {
		const char *c = strrchr(v.rec.udp_address, ':');

		printf("UDP:        %s  (/ip%c/%.*s/udp/%s)\n", v.rec.udp_address,
		       v.rec.udp_address[0] == '[' ? '6' : '4',
		       (int)(c - v.rec.udp_address) - (v.rec.udp_address[0] == '[' ? 2 : 0),
		       v.rec.udp_address + (v.rec.udp_address[0] == '[' ? 1 : 0), c + 1);
	}
	printf("Pin shards: %s\n", v.rec.pin_shards ? "yes (shard i on CPU i % ncpu)" :
	       "no (the kernel places the shard threads)");
	printf("Spin:       %u us\n", v.rec.spin_us);
	sl_format_duration_ms(v.rec.frame_timeout_ms, ft, sizeof(ft));
	printf("Frame timeout: %s (a partial frame idle this long closes its connection)\n", ft);
	if (v.rec.metrics[0])
		printf("Metrics:    http://%s/metrics  (/healthz, /readyz)\n", v.rec.metrics);
	else
		printf("Metrics:    none (`sluice node stats %s`; --metrics HOST:PORT to serve them)\n",
		       v.rec.name);
	sl_node_print_limits(&v.rec);
	if (v.rec.relay_directory[0])
		printf("Relay directory: %s  (a relay fleet)\n", v.rec.relay_directory);
	printf("Control:    %s\n", sock);
	printf("Log:        %s\n", log);
	printf("Created:    %s\n", created);
	printf("Started:    %s\n", started);
	if (v.have_status) {
		printf("Shards:     %u\n", v.live.shards);
		printf("Uptime:     %llus\n", (unsigned long long)(v.live.uptime_ms / 1000));
		printf("Messages:   %llu delivered, %llu to transports, %llu dropped\n",
		       (unsigned long long)v.live.stats.delivered,
		       (unsigned long long)v.live.stats.to_transport,
		       (unsigned long long)(v.live.stats.drop_unknown + v.live.stats.drop_route +
					    v.live.stats.drop_other));
		printf("Frame timeouts: %llu connections closed\n",
		       (unsigned long long)v.live.stats.frame_timeouts);
	}
	if (v.status == SL_NODE_CRASHED)
		printf("\nIt stopped without being asked to: see its log, then `sluice node start %s`\n",
		       v.rec.name);
	return 0;
}

static const struct sl_cmd_spec show_spec = {
	"node show", "NAME", "Show a node: status, addresses, files, and its own counters if it runs.",
	no_opts, 1, 1, node_show,
};

/* node start */

static int node_start(const struct sl_cli *cli, const struct sl_cmd_spec *spec,
		      const struct sl_args *a)
{
	const char *name = a->pos[0];
	struct sl_state *st;
	struct node_view v;
	pid_t pid;
	int ret;

	ret = open_node(name, &st, &v.rec);
	if (ret)
		return ret;
	ret = sl_state_writable(st);
	if (ret) {
		sl_state_close(st);
		return ret;
	}
	view_node(&v);
	if (v.status == SL_NODE_RUNNING) {
		sl_state_close(st);
		return sl_err("node %s is already running (pid %lld): stop it first with "
			      "`sluice node stop %s`", name, (long long)v.rec.pid, name);
	}
	/* Alive but deaf: its process is in the way of the new one. */
	if (v.alive)
		ret = sl_node_terminate(cli, st, &v.rec);
	sl_state_close(st);
	if (ret)
		return ret;
	ret = sl_node_spawn(cli, name, &pid);
	if (ret)
		return ret;
	return print_started(cli, name, "started");
}

static const struct sl_cmd_spec start_spec = {
	"node start", "NAME", "Start a stopped (or crashed) node again, on its port if still free.",
	no_opts, 1, 1, node_start,
};

/* node stop */

static int node_stop(const struct sl_cli *cli, const struct sl_cmd_spec *spec,
		     const struct sl_args *a)
{
	const char *name = a->pos[0];
	struct sl_node_rec rec;
	struct sl_state *st;
	bool was_alive;
	int ret;

	ret = open_node(name, &st, &rec);
	if (ret)
		return ret;
	was_alive = rec.pid && sl_node_alive(rec.pid, rec.pid_start);
	ret = sl_node_terminate(cli, st, &rec);
	sl_state_close(st);
	if (ret || cli->quiet)
		return ret;
	if (cli->output == SL_OUTPUT_JSON) {
		printf("{\"name\":");
		sl_json_str(stdout, name);
		printf(",\"status\":\"stopped\",\"was_running\":%s}\n", was_alive ? "true" : "false");
	} else if (cli->tty) {
		printf(was_alive ? "Node %s stopped\n" : "Node %s was not running\n", name);
	} else {
		printf("%s\n", name);
	}
	return 0;
}

static const struct sl_cmd_spec stop_spec = {
	"node stop", "NAME", "Stop a node: SIGTERM, then SIGKILL if it has not exited within 10s.",
	no_opts, 1, 1, node_stop,
};

/* node delete */

static const struct sl_opt delete_opts[] = {
	{ "all", 'a', NULL, "delete every node" },
	{ "yes", 'y', NULL, "do not ask for confirmation (with --all)" },
	{ NULL, 0, NULL, NULL },
};

static bool confirm(const char *question)
{
	char line[16];

	/* Without a terminal there is nobody to ask: scripts mean what they say. */
	if (!isatty(STDIN_FILENO))
		return true;
	fprintf(stderr, "%s [y/N] ", question);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	return line[0] == 'y' || line[0] == 'Y';
}

static int delete_one(const struct sl_cli *cli, struct sl_state *st, const struct sl_node_rec *rec)
{
	int ret = sl_node_terminate(cli, st, rec);

	if (ret)
		return ret;
	ret = sl_state_node_delete(st, rec->name);
	if (ret && ret != -ENOENT)
		return sl_err("cannot delete node %s from the state store: %s", rec->name,
			      strerror(-ret));
	ret = sl_state_node_rmdir(rec->name);
	if (ret)
		sl_err("node %s is deleted, but its directory could not be removed: %s", rec->name,
		       strerror(-ret));
	return 0;
}

static int node_delete(const struct sl_cli *cli, const struct sl_cmd_spec *spec,
		       const struct sl_args *a)
{
	bool all = sl_args_has(spec, a, "all");
	struct sl_node_rec *recs = NULL, one[SL_CLI_MAX_POS];
	struct sl_node_rec **done = NULL;
	size_t n = 0, i, ndone = 0;
	struct sl_state *st;
	int ret, err = 0;

	if (all == (a->npos > 0))
		return sl_err("say which nodes to delete: `sluice node delete NAME` or "
			      "`sluice node delete --all`");
	for (i = 0; i < a->npos; i++)
		if (sl_node_check_name(a->pos[i]))
			return -EINVAL;
	ret = sl_state_open(NULL, &st);
	if (ret)
		return ret;
	if (all) {
		ret = sl_state_node_list(st, &recs, &n);
		if (ret) {
			sl_state_close(st);
			return sl_err("cannot read the node list: %s", strerror(-ret));
		}
		if (n && !sl_args_has(spec, a, "yes")) {
			char q[64];

			snprintf(q, sizeof(q), "Delete all %zu nodes?", n);
			if (!confirm(q)) {
				free(recs);
				sl_state_close(st);
				return sl_err("nothing deleted");
			}
		}
	} else {
		for (i = 0; i < a->npos; i++) {
			ret = sl_state_node_get(st, a->pos[i], &one[n]);
			if (ret == -ENOENT) {
				sl_err("unknown node %s: see `sluice node list`", a->pos[i]);
				err = ret;
				continue;
			}
			if (ret) {
				err = ret;
				continue;
			}
			n++;
		}
	}
	done = calloc(n ? n : 1, sizeof(*done));
	for (i = 0; done && i < n; i++) {
		struct sl_node_rec *r = all ? &recs[i] : &one[i];

		ret = delete_one(cli, st, r);
		if (ret)
			err = ret;
		else
			done[ndone++] = r;
	}
	sl_state_close(st);
	if (!done)
		err = -ENOMEM;
	if (!cli->quiet && done) {
		if (cli->output == SL_OUTPUT_JSON) {
			printf("{\"deleted\":[");
			for (i = 0; i < ndone; i++) {
				if (i)
					putchar(',');
				sl_json_str(stdout, done[i]->name);
			}
			printf("]}\n");
		} else {
			for (i = 0; i < ndone; i++)
				printf(cli->tty ? "Node %s deleted\n" : "%s\n", done[i]->name);
			if (all && !n && cli->tty)
				printf("No nodes to delete\n");
		}
	}
	free(done);
	free(recs);
	return err;
}

static const struct sl_cmd_spec delete_spec = {
	"node delete", "[NAME...]",
	"Stop nodes and delete them with their state (no process is left behind).",
	delete_opts, 0, SL_CLI_MAX_POS, node_delete,
};

const struct sl_noun sl_noun_node = {
	.name = "node",
	.summary = "Create, run, list, show, stats, stop, start and delete nodes",
	.about = "Nodes: each a daemon with a TCP listener, the default services and a control "
		 "socket.",
	.verbs = SL_VERBS(&create_spec, &sl_node_run_spec, &list_spec, &show_spec, &sl_node_stats_spec,
			  &start_spec, &stop_spec, &delete_spec),
};
