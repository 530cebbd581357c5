// SPDX-License-Identifier: Apache-2.0
/*
 * `sluice node run [NAME] [--config FILE]`: a node in the foreground, for
 * systemd. With a config file (common/node_config.h) the file is the source
 * of truth for the run: its settings are written onto the node's record in
 * the store and its services (listeners, relays, outlets, inlets) replace the
 * stored ones, made through the same verbs the CLI runs, so `node show`,
 * `relay list` and the rest work on the node as on any other. SIGHUP reads
 * the file again and applies what can change while the node runs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/log.h"
#include "tools/cli/cmd_node.h"
#include "tools/cli/node_limits.h"
#include "tools/cli/subcommands.h"
#include "tools/common/node_config.h"
#include "tools/common/node_proc.h"
#include "tools/common/text.h"
#include "tools/daemon/daemon.h"

static const struct sl_opt run_opts[] = {
	{ "config", 0, "FILE", "take the node's settings and services from this YAML file (README, "
			       "Running as a service); SIGHUP reads it again" },
	{ "drain-timeout", 0, "DURATION", "on SIGTERM, let portal connections and relayed flows "
					  "finish this long before exiting (default: 30s with "
					  "--config, else 0: at once)" },
	{ "tcp-listener-address", 0, "HOST:PORT",
	  "TCP listener address if the node is new (default " SL_NODE_TCP_LISTEN_DEFAULT ")" },
	{ "udp-listener-address", 0, "HOST:PORT",
	  "UDP listener address if the node is new (default: none; the port must be given)" },
	{ "identity", 0, "NAME", "the identity the node uses, if the node is new" },
	{ "shards", 0, "N", "shard threads if the node is new (default: one per CPU)" },
	{ "pin-shards", 0, NULL, "if the node is new, pin shard i to CPU i % ncpu; for a node "
				 "that has the machine to itself" },
	{ "spin-us", 0, "N", "if the node is new, microseconds (0 to 1000, default 50) a shard "
			     "busy-polls before it sleeps: lower request/response latency for CPU while "
			     "such a flow runs; bulk flows and idle nodes are unaffected (0 = least CPU)" },
	{ "frame-timeout", 0, "DURATION", "if the node is new, close a connection that sent part of a frame and then "
					  "nothing for this long (default 30s; e.g. 5s, 2m; at most 1h)" },
	{ "metrics", 0, "HOST:PORT", "serve Prometheus metrics (/metrics), /healthz and /readyz over "
				     "HTTP here, e.g. 127.0.0.1:9464; kept with the node (\"\" = none)" },
	{ "limit", 0, "NAME=VALUE...", LIMIT_HELP "; for a node that exists, kept for this and "
				       "later starts" },
	{ "relay-directory", 0, "URL", "if the node is new: " RELAY_DIR_HELP },
	{ NULL, 0, NULL, NULL },
};

/* Record one of a node's settings that may change from run to run (`what` names it in errors). */
static int set_node_text(const char *name, const char *what, const char *value,
			 int (*set)(struct sl_state *, const char *, const char *))
{
	struct sl_state *st;
	int ret = sl_state_open(NULL, &st);

	if (ret)
		return ret;
	ret = set(st, name, value);
	sl_state_close(st);
	if (ret)
		sl_err("cannot record the %s of node %s: %s", what, name, strerror(-ret));
	return ret;
}

/* Without --config: the stored record, created from the options if new. */
static int run_flags(const struct sl_cmd_spec *spec, const struct sl_args *a, const char *name)
{
	const char *spin = sl_args_get(spec, a, "spin-us");
	const char *metrics = sl_args_get(spec, a, "metrics");
	struct sl_node_rec rec;
	struct sl_state *st;
	unsigned spin_us;
	int ret;

	ret = sl_state_open(NULL, &st);
	if (ret)
		return ret;
	ret = sl_state_node_get(st, name, &rec);
	sl_state_close(st);
	if (ret == -ENOENT) {
		ret = sl_node_new_record(spec, a, name, &rec);
		if (!ret)
			ret = sl_node_add_record(&rec);
		return ret;
	}
	if (ret)
		return ret;
	if (sl_args_has(spec, a, "tcp-listener-address"))
		fprintf(stderr, "sluice: node %s exists: ignoring --tcp-listener-address, it "
			"listens on %s as created\n", name, rec.tcp_address);
	if (sl_args_has(spec, a, "pin-shards") && !rec.pin_shards)
		fprintf(stderr, "sluice: node %s exists: ignoring --pin-shards, its shards stay "
			"unpinned as created\n", name);
	if (sl_args_has(spec, a, "relay-directory"))
		fprintf(stderr, "sluice: node %s exists: ignoring --relay-directory, its directory "
			"stays %s as created\n", name,
			rec.relay_directory[0] ? rec.relay_directory : "none");
	if (spin && (!sl_node_parse_uint(spin, SL_NODE_SPIN_US_MAX, &spin_us) ||
		     spin_us != rec.spin_us))
		fprintf(stderr, "sluice: node %s exists: ignoring --spin-us %s, its shards spin "
			"%u us as created\n", name, spin, rec.spin_us);
	/* The metrics address may change from run to run: it is kept for the next start. */
	if (metrics) {
		char norm[sizeof(rec.metrics)];

		ret = sl_node_check_metrics(metrics, norm, sizeof(norm));
		if (!ret && strcmp(norm, rec.metrics))
			ret = set_node_text(name, "metrics address", norm, sl_state_node_set_metrics);
	}
	/* So may the limits: those given replace theirs, the others stay as stored. */
	if (!ret && a->nrep) {
		char lim[sizeof(rec.limits)];

		ret = sl_node_apply_limits(a, rec.limits, lim, sizeof(lim));
		if (!ret && strcmp(lim, rec.limits))
			ret = set_node_text(name, "limits", lim, sl_state_node_set_limits);
	}
	return ret;
}

/* ---- a config file's run ---- */

struct conf_run {
	char name[SL_NODE_NAME_MAX + 1];
	char path[512];
	struct sl_node_conf *cur;	/* what runs now */
};

/* One verb of the CLI on this node, in this process (its errors go to the log). */
static int verb(const struct sl_noun *noun, const char *const *argv)
{
	const struct sl_cli cli = { .quiet = true };
	char *v[24];
	int n = 0;

	while (argv[n] && n < 23) {
		v[n] = (char *)argv[n];
		n++;
	}
	v[n] = NULL;
	return sl_cli_run_noun(&cli, noun, n, v);
}

/*
 * One kind of service a config lists: how to find an entry's name, and the
 * verbs that make and remove one. Entries are compared whole: a changed one
 * is removed and made again.
 */
struct svc_kind {
	const char *what;		/* for the log: "relay" */
	const struct sl_noun *noun;
	size_t size;			/* of one entry; its name is its first field */
	void *(*items)(struct sl_node_conf *c, unsigned **n);
	int (*create)(const char *node, const void *item);
};

static int relay_create(const char *node, const void *item)
{
	const struct sl_conf_relay *r = item;

	return verb(&sl_noun_relay, (const char *const[]){ "create", r->name, "--at", r->at,
							    "--to", node,
							    r->plain ? "--plain" : NULL, NULL });
}

static int outlet_create(const char *node, const void *item)
{
	const struct sl_conf_outlet *o = item;

	return verb(&sl_noun_tcp_outlet, (const char *const[]){ "create", "--at", node, "--from",
								 o->address, "--to", o->to, NULL });
}

static int inlet_create(const char *node, const void *item)
{
	const struct sl_conf_inlet *in = item;
	const char *argv[16] = { "create", "--at", node, "--alias", in->alias, "--from", in->from,
				 "--to", in->to };
	int n = 9;

	if (in->via[0]) {
		argv[n++] = "--via";
		argv[n++] = in->via;
	}
	argv[n] = NULL;
	return verb(&sl_noun_tcp_inlet, argv);
}

static int listener_create(const char *node, const void *item)
{
	const struct sl_conf_listener *l = item;
	const char *argv[24] = { "create", l->address, "--at", node };
	char ids[sizeof(l->authorized)];
	int n = 4;

	if (l->identity[0]) {
		argv[n++] = "--identity";
		argv[n++] = l->identity;
	}
	snprintf(ids, sizeof(ids), "%s", l->authorized);
	for (char *save = NULL, *id = strtok_r(ids, " ", &save); id && n < 22;
	     id = strtok_r(NULL, " ", &save)) {
		argv[n++] = "--authorized";
		argv[n++] = id;
	}
	argv[n] = NULL;
	return verb(&sl_noun_secure_channel_listener, argv);
}

#define ITEMS(fn, arr, cnt) \
	static void *fn(struct sl_node_conf *c, unsigned **n) \
	{ \
		*n = &c->cnt; \
		return c->arr; \
	}

ITEMS(relays, relays, nrelays)
ITEMS(outlets, outlets, noutlets)
ITEMS(inlets, inlets, ninlets)
ITEMS(listeners, listeners, nlisteners)

/* In the order a node needs them: listeners and outlets before what routes to them. */
static const struct svc_kind kinds[] = {
	{ "secure_channel_listener", &sl_noun_secure_channel_listener,
	  sizeof(struct sl_conf_listener), listeners, listener_create },
	{ "tcp_outlet", &sl_noun_tcp_outlet, sizeof(struct sl_conf_outlet), outlets, outlet_create },
	{ "relay", &sl_noun_relay, sizeof(struct sl_conf_relay), relays, relay_create },
	{ "tcp_inlet", &sl_noun_tcp_inlet, sizeof(struct sl_conf_inlet), inlets, inlet_create },
};

static const void *find(const struct svc_kind *k, struct sl_node_conf *c, const char *name)
{
	unsigned *n;
	const char *v = k->items(c, &n);

	for (unsigned i = 0; i < *n; i++)
		if (!strcmp(v + i * k->size, name))
			return v + i * k->size;
	return NULL;
}

/*
 * Make `now` of kind k what runs, from `was` (NULL: nothing ran). An entry
 * that could not be made is dropped from `now`, so the next reload tries
 * it again. The count of changes.
 */
static unsigned apply_kind(const char *node, const struct svc_kind *k, struct sl_node_conf *was,
			   struct sl_node_conf *now)
{
	unsigned *n, changes = 0;
	char *v = k->items(now, &n);

	if (was) {
		unsigned *wn;
		const char *wv = k->items(was, &wn);

		for (unsigned i = 0; i < *wn; i++) {
			const char *item = wv + i * k->size;
			const char *next = find(k, now, item);
			int ret;

			if (next && !memcmp(next, item, k->size))
				continue;
			ret = verb(k->noun, (const char *const[]){ "delete", item, "--at", node, NULL });
			sl_log(ret ? SL_LOG_WARN : SL_LOG_INFO, "node=%s event=config what=%s name=%s "
			       "action=%s result=%s", node, k->what, item, next ? "replace" : "remove",
			       ret ? "failed" : "ok");
			changes++;
		}
	}
	for (unsigned i = 0; i < *n;) {
		char *item = v + i * k->size;
		const void *old = was ? find(k, was, item) : NULL;
		int ret;

		if (old && !memcmp(old, item, k->size)) {
			i++;
			continue;
		}
		ret = k->create(node, item);
		/*
		 * A replaced entry's old self may let go of what it held after its
		 * delete was answered (an inlet's port and an outlet's address go on
		 * their shards; a secure channel listener's delete waits for its
		 * shards): try again for up to a second.
		 */
		for (int tries = 0; ret && old && tries < 20; tries++) {
			nanosleep(&(struct timespec){ .tv_nsec = 50 * 1000 * 1000 }, NULL);
			ret = k->create(node, item);
		}
		sl_log(ret ? SL_LOG_ERROR : SL_LOG_INFO, "node=%s event=config what=%s name=%s "
		       "action=create result=%s", node, k->what, item, ret ? "failed" : "ok");
		changes++;
		if (!ret) {
			i++;
			continue;
		}
		memmove(item, item + k->size, (size_t)(*n - i - 1) * k->size);
		(*n)--;
	}
	return changes;
}

/* At start: what the file lists, made on the running node. */
static void conf_started(struct sl_node *node, void *arg)
{
	struct conf_run *r = arg;

	(void)node;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		apply_kind(r->name, &kinds[k], NULL, r->cur);
}

/* A setting that only a restart changes: say so when the file changed it. */
static unsigned restart_note(const char *node, const char *key, const char *was, const char *now)
{
	if (!strcmp(was, now))
		return 0;
	sl_log(SL_LOG_WARN, "node=%s event=config what=%s was=\"%s\" now=\"%s\" "
	       "result=needs_restart action=\"kept '%s' until the node restarts\"", node, key, was,
	       now, was);
	return 1;
}

static unsigned restart_notes(const char *node, const struct sl_node_conf *a,
			      const struct sl_node_conf *b)
{
	char x[32], y[32];
	unsigned n = 0;

	n += restart_note(node, "tcp-listener-address", a->rec.tcp_address, b->rec.tcp_address);
	n += restart_note(node, "udp-listener-address", a->rec.udp_address, b->rec.udp_address);
	n += restart_note(node, "identity", a->rec.identity, b->rec.identity);
	n += restart_note(node, "metrics", a->rec.metrics, b->rec.metrics);
	n += restart_note(node, "relay-directory", a->rec.relay_directory, b->rec.relay_directory);
	n += restart_note(node, "pin-shards", a->rec.pin_shards ? "true" : "false",
			  b->rec.pin_shards ? "true" : "false");
	snprintf(x, sizeof(x), "%u", a->rec.shards);
	snprintf(y, sizeof(y), "%u", b->rec.shards);
	n += restart_note(node, "shards", x, y);
	snprintf(x, sizeof(x), "%u", a->rec.spin_us);
	snprintf(y, sizeof(y), "%u", b->rec.spin_us);
	n += restart_note(node, "spin-us", x, y);
	sl_format_duration_ms(a->rec.frame_timeout_ms, x, sizeof(x));
	sl_format_duration_ms(b->rec.frame_timeout_ms, y, sizeof(y));
	n += restart_note(node, "frame-timeout", x, y);
	sl_format_duration_ms(a->drain_timeout_ms, x, sizeof(x));
	sl_format_duration_ms(b->drain_timeout_ms, y, sizeof(y));
	n += restart_note(node, "drain-timeout", x, y);
	return n;
}

/*
 * The limits change at once, on the transports and in the store (node show),
 * but for those limits.c marks restart: they keep their value in b until then
 * (counted in *restart).
 */
static unsigned reload_limits(const char *node, const struct sl_node_conf *a,
			      struct sl_node_conf *b, unsigned *restart)
{
	char text[sizeof(b->rec.limits)], was[24], want[24], key[64];
	struct sl_state *st;
	unsigned n = 0;
	int ret;

	for (int i = 0; i < SL_LIMITS; i++) {
		if (a->limits.v[i] == b->limits.v[i])
			continue;
		if (sl_limit_defs[i].restart) {
			snprintf(key, sizeof(key), "limits.%s", sl_limit_defs[i].name);
			snprintf(was, sizeof(was), "%llu", (unsigned long long)a->limits.v[i]);
			snprintf(want, sizeof(want), "%llu", (unsigned long long)b->limits.v[i]);
			*restart += restart_note(node, key, was, want);
			b->limits.v[i] = a->limits.v[i];
			continue;
		}
		n++;
		sl_log(SL_LOG_INFO, "node=%s event=config what=limits.%s was=%llu now=%llu "
		       "result=ok", node, sl_limit_defs[i].name,
		       (unsigned long long)a->limits.v[i], (unsigned long long)b->limits.v[i]);
	}
	if (!n)
		return 0;
	sl_daemon_set_limits(&b->limits);
	ret = sl_limits_format(&b->limits, text, sizeof(text));
	if (!ret)
		ret = sl_state_open(NULL, &st);
	if (!ret) {
		ret = sl_state_node_set_limits(st, node, text);
		sl_state_close(st);
	}
	if (ret)
		sl_log(SL_LOG_WARN, "node=%s event=config what=limits result=not_recorded err=\"%s\"",
		       node, strerror(-ret));
	return n;
}

/* SIGHUP: read the file again; a file that does not check out changes nothing. */
static void conf_reload(struct sl_node *node, void *arg)
{
	struct conf_run *r = arg;
	struct sl_node_conf *next = malloc(sizeof(*next));
	char err[SL_CONF_ERR_MAX];
	unsigned changes = 0, restart;

	(void)node;
	if (!next) {
		sl_log(SL_LOG_ERROR, "node=%s event=reload result=refused err=\"out of memory\"",
		       r->name);
		return;
	}
	if (sl_node_conf_load(r->path, next, err, sizeof(err))) {
		sl_log(SL_LOG_ERROR, "node=%s event=reload result=refused err=\"%s\" "
		       "action=\"nothing changed: fix the file and send SIGHUP again\"", r->name, err);
		free(next);
		return;
	}
	if (next->has_name && strcmp(next->rec.name, r->name)) {
		sl_log(SL_LOG_ERROR, "node=%s event=reload result=refused err=\"%s: name: %s, but this "
		       "node is %s\" action=\"nothing changed\"", r->name, r->path, next->rec.name,
		       r->name);
		free(next);
		return;
	}
	restart = restart_notes(r->name, r->cur, next);
	changes += reload_limits(r->name, r->cur, next, &restart);
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		changes += apply_kind(r->name, &kinds[k], r->cur, next);
	sl_log(SL_LOG_INFO, "node=%s event=reload result=ok changes=%u needs_restart=%u", r->name,
	       changes, restart);
	/* What needs a restart keeps running as it was: the next reload compares with that. */
	next->rec = r->cur->rec;
	next->drain_timeout_ms = r->cur->drain_timeout_ms;
	snprintf(next->rec.limits, sizeof(next->rec.limits), "%s", r->cur->rec.limits);
	sl_limits_format(&next->limits, next->rec.limits, sizeof(next->rec.limits));
	free(r->cur);
	r->cur = next;
}

/* The file's settings onto the node's record, and its stored services cleared. */
static int conf_record(struct sl_node_conf *c, const char *name)
{
	struct sl_node_rec old;
	struct sl_state *st;
	int ret;

	snprintf(c->rec.name, sizeof(c->rec.name), "%s", name);
	ret = sl_state_open(NULL, &st);
	if (ret)
		return ret;
	ret = sl_state_node_get(st, name, &old);
	if (!ret && old.pid && sl_node_alive(old.pid, old.pid_start)) {
		ret = sl_err("node %s is already running (pid %lld): stop it first with `sluice node "
			     "stop %s`", name, (long long)old.pid, name);
		goto out;
	}
	if (ret == -ENOENT)
		ret = sl_state_node_add(st, &c->rec);
	else if (!ret)
		ret = sl_state_node_configure(st, &c->rec);
	if (ret) {
		sl_err("cannot record node %s: %s", name, strerror(-ret));
		goto out;
	}
	/* The file is the source of truth: what the store kept from other runs goes. */
	ret = sl_state_services_clear(st, name);
	if (ret)
		sl_err("cannot clear the stored services of node %s: %s", name, strerror(-ret));
out:
	sl_state_close(st);
	return ret;
}

static int run_config(const struct sl_cmd_spec *spec, const struct sl_args *a, const char *name,
		      uint64_t drain_ms, bool drain_given)
{
	static const char *const node_flags[] = { "tcp-listener-address", "udp-listener-address",
		"identity", "shards", "pin-shards", "spin-us", "frame-timeout", "metrics",
		"relay-directory" };
	struct conf_run r = { 0 };
	struct sl_daemon_hooks h = { conf_started, conf_reload, 0, &r };
	char err[SL_CONF_ERR_MAX];
	int ret;

	for (size_t i = 0; i < sizeof(node_flags) / sizeof(node_flags[0]); i++)
		if (sl_args_has(spec, a, node_flags[i]))
			return sl_err("--%s with --config: put it in the file (%s: ...)", node_flags[i],
				      node_flags[i]);
	if (a->nrep)
		return sl_err("--limit with --config: put it in the file (limits: ...)");
	snprintf(r.path, sizeof(r.path), "%s", sl_args_get(spec, a, "config"));
	r.cur = malloc(sizeof(*r.cur));
	if (!r.cur)
		return sl_err("out of memory");
	ret = sl_node_conf_load(r.path, r.cur, err, sizeof(err));
	if (ret) {
		sl_err("%s", err);
		goto out;
	}
	if (!name && !r.cur->has_name) {
		ret = sl_err("%s names no node: give NAME (`sluice node run NAME --config %s`) or "
			     "a `name:` line", r.path, r.path);
		goto out;
	}
	if (name && r.cur->has_name && strcmp(name, r.cur->rec.name)) {
		ret = sl_err("%s: name: %s, but the command line says %s: make them the same",
			     r.path, r.cur->rec.name, name);
		goto out;
	}
	if (r.cur->rec.relay_directory[0] && sl_node_listener_is_wildcard(r.cur->rec.tcp_address)) {
		ret = sl_err("%s: relay-directory needs a tcp-listener-address the other relay nodes "
			     "can reach, not %s: give the node's own address", r.path,
			     r.cur->rec.tcp_address);
		goto out;
	}
	snprintf(r.name, sizeof(r.name), "%s", name ? name : r.cur->rec.name);
	ret = sl_node_check_name(r.name);
	if (!ret)
		ret = conf_record(r.cur, r.name);
	if (ret)
		goto out;
	h.drain_timeout_ms = drain_given ? drain_ms : r.cur->drain_timeout_ms;
	ret = sl_daemon_run_with(r.name, &h);
out:
	free(r.cur);
	return ret;
}

static int node_run(const struct sl_cli *cli, const struct sl_cmd_spec *spec,
		    const struct sl_args *a)
{
	const char *name = a->npos ? a->pos[0] : NULL;
	const char *drain = sl_args_get(spec, a, "drain-timeout");
	struct sl_daemon_hooks h = { 0 };
	uint64_t drain_ms = 0;
	int ret;

	(void)cli;
	if (drain && strcmp(drain, "0") &&
	    (sl_parse_duration_ms(drain, &drain_ms) || drain_ms > SL_CONF_DRAIN_MS_MAX))
		return sl_err("--drain-timeout %s: use a duration up to 1h, e.g. 30s (0 = stop at "
			      "once)", drain);
	if (sl_args_has(spec, a, "config"))
		return run_config(spec, a, name, drain_ms, drain != NULL);
	if (!name)
		return sl_err("say which node to run: `sluice node run NAME` (or --config FILE with "
			      "a `name:` line)");
	if (sl_node_check_name(name))
		return -EINVAL;
	ret = run_flags(spec, a, name);
	if (ret)
		return ret;
	h.drain_timeout_ms = drain_ms;
	return sl_daemon_run_with(name, &h);
}

const struct sl_cmd_spec sl_node_run_spec = {
	"node run", "[NAME]",
	"Run a node in the foreground (for systemd) until SIGTERM or SIGINT; creates it if new. "
	"With --config FILE, SIGHUP reloads the file and SIGTERM drains (--drain-timeout).",
	run_opts, 0, 1, node_run,
};
