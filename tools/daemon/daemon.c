// SPDX-License-Identifier: Apache-2.0
/* Running a node in this process (daemon.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine/log.h"
#include "tools/common/node_proc.h"
#include "tools/common/state.h"
#include "tools/common/text.h"
#include "tools/daemon/daemon.h"
#include "tools/daemon/nm_portal.h"
#include "tools/daemon/nm_secure.h"
#include "tools/daemon/node_manager.h"
#include "tools/daemon/relay_dir.h"
#include "tools/daemon/runtime.h"

struct run_ctx {
	struct sl_state *st;
	const char *name;
	char sock[PATH_MAX];
	const struct sl_daemon_hooks *hooks;
	const struct sl_node_rec *rec;
	struct sl_relay_dir *dir;	/* the relay fleet's directory, NULL when none */
};

static void run_started(struct sl_node *n, void *arg)
{
	const struct run_ctx *ctx = arg;

	ctx->hooks->started(n, ctx->hooks->arg);
}

static void run_reload(struct sl_node *n, void *arg)
{
	const struct run_ctx *ctx = arg;

	ctx->hooks->reload(n, ctx->hooks->arg);
}

static int run_setup(struct sl_node *n, uint16_t tcp_port, void *arg)
{
	struct run_ctx *ctx = arg;
	pid_t self = getpid();
	int ret;

	if (!sl_node_manager_start(n, ctx->name, tcp_port)) {
		ret = -errno;
		sl_log(SL_LOG_ERROR, "node=%s event=setup_failed what=node_manager err=\"%s\"",
		       ctx->name, strerror(errno));
		return ret;
	}
	ret = sl_state_node_running(ctx->st, ctx->name, self, sl_proc_start_time(self), tcp_port);
	if (ret) {
		sl_log(SL_LOG_ERROR, "node=%s event=setup_failed what=state_store err=\"%s\"",
		       ctx->name, strerror(-ret));
		return ret;
	}
	sl_log(SL_LOG_INFO, "node=%s event=recorded pid=%d tcp_port=%u", ctx->name, (int)self,
	       tcp_port);
	if (ctx->rec->relay_directory[0]) {
		char host[272], me[300];
		unsigned port;

		/* The fleet forwards to us at our listener as bound (a port 0 was just picked). */
		if (sl_hostport_split(ctx->rec->tcp_address, host, sizeof(host), &port))
			return -EINVAL;
		snprintf(me, sizeof(me), "%s:%u", host, tcp_port);
		ctx->dir = sl_relay_dir_start(n, ctx->rec->relay_directory, me);
		if (!ctx->dir) {
			ret = -errno;
			sl_log(SL_LOG_ERROR, "node=%s event=setup_failed what=relay_directory err=\"%s\"",
			       ctx->name, strerror(errno));
			return ret;
		}
	}
	/* Its secure channel listeners come back, then its inlets and outlets. */
	sl_nm_secure_restore(n, ctx->st, ctx->name);
	/* Inlets and outlets it had come back (after the port is recorded: /node/SELF resolves). */
	sl_nm_portal_restore(n, ctx->st, ctx->name);
	return 0;
}

static void run_teardown(struct sl_node *n, void *arg)
{
	struct run_ctx *ctx = arg;

	sl_relay_dir_stop(ctx->dir);
	ctx->dir = NULL;
	/* A clean shutdown: "stopped", not "crashed". */
	sl_state_node_stopped(ctx->st, ctx->name, getpid(), true);
	unlink(ctx->sock);
}

int sl_daemon_set_limits(const struct sl_limits *l)
{
	return sl_runtime_set_limits(l);
}

int sl_daemon_run(const char *name)
{
	return sl_daemon_run_with(name, NULL);
}

int sl_daemon_run_with(const char *name, const struct sl_daemon_hooks *h)
{
	struct run_ctx ctx = { .name = name };
	struct sl_runtime_config cfg = { 0 };
	struct sl_node_rec rec;
	char listen[300], host[272];
	unsigned asked_port;
	bool recorded_port = false;
	int ret, metrics_err = 0;

	ret = sl_state_open(NULL, &ctx.st);
	if (ret)
		return ret;
	ret = sl_state_node_get(ctx.st, name, &rec);
	if (ret) {
		sl_err("unknown node %s: create it with `sluice node create %s`", name, name);
		goto out;
	}
	if (rec.pid && rec.pid != getpid() && sl_node_alive(rec.pid, rec.pid_start)) {
		sl_err("node %s is already running (pid %lld): stop it first with `sluice node stop %s`",
		       name, (long long)rec.pid, name);
		ret = -EEXIST;
		goto out;
	}
	ret = sl_state_node_mkdir(name);
	if (!ret)
		ret = sl_state_node_file(name, "control.sock", ctx.sock, sizeof(ctx.sock));
	if (ret) {
		sl_err("cannot prepare the directory of node %s: %s", name, strerror(-ret));
		goto out;
	}
	/* Whatever is there is stale: its node is not alive (checked above). */
	unlink(ctx.sock);
	if (sl_hostport_split(rec.tcp_address, host, sizeof(host), &asked_port)) {
		sl_err("node %s has a malformed tcp listener address '%s': delete and re-create it",
		       name, rec.tcp_address);
		ret = -EINVAL;
		goto out;
	}
	/* A node asked for "any port" comes back on the port it had, if it is free. */
	if (!asked_port && rec.tcp_port) {
		snprintf(listen, sizeof(listen), "%s:%u", host, rec.tcp_port);
		recorded_port = true;
	} else {
		snprintf(listen, sizeof(listen), "%s", rec.tcp_address);
	}
	ctx.rec = &rec;
	cfg.name = name;
	cfg.shards = rec.shards;
	cfg.pin_shards = rec.pin_shards;
	cfg.spin_us = rec.spin_us;
	cfg.frame_timeout_ms = rec.frame_timeout_ms;
	if (sl_limits_parse(&cfg.limits, rec.limits, "the node's stored limits")) {
		ret = -EINVAL;
		goto out;
	}
	cfg.tcp_listen = listen;
	cfg.udp_listen = rec.udp_address[0] ? rec.udp_address : NULL;
	cfg.control_path = ctx.sock;
	cfg.metrics_listen = rec.metrics[0] ? rec.metrics : NULL;
	cfg.metrics_err = &metrics_err;
	cfg.setup = run_setup;
	cfg.teardown = run_teardown;
	cfg.arg = &ctx;
	if (h) {
		/* The hooks take their own argument: ctx stays the setup's. */
		ctx.hooks = h;
		cfg.started = h->started ? run_started : NULL;
		cfg.reload = h->reload ? run_reload : NULL;
		cfg.drain_timeout_ms = h->drain_timeout_ms;
	}
	ret = sl_runtime_run(&cfg);
	if (ret == -EADDRINUSE && recorded_port && !metrics_err) {
		sl_log(SL_LOG_WARN, "node=%s event=port_taken port=%u action=\"pick a free one\"", name,
		       rec.tcp_port);
		cfg.tcp_listen = rec.tcp_address;
		ret = sl_runtime_run(&cfg);
	}
	if (ret && metrics_err) {
		sl_err("node %s failed to start: its metrics address %s: %s%s", name, rec.metrics,
		       strerror(-ret), ret == -EADDRINUSE || ret == -EADDRNOTAVAIL ?
		       ": pick another with --metrics HOST:PORT" : "");
		sl_state_node_stopped(ctx.st, name, getpid(), false);
	} else if (ret) {
		sl_err("node %s failed to start: %s (tcp listener %s)%s", name, strerror(-ret),
		       cfg.tcp_listen, ret == -EADDRINUSE ?
		       ": pick another port with --tcp-listener-address" : "");
		sl_state_node_stopped(ctx.st, name, getpid(), false);
	}
out:
	sl_state_close(ctx.st);
	return ret;
}
