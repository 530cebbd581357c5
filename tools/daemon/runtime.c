// SPDX-License-Identifier: Apache-2.0
/*
 * The node runtime: engine + io_uring transports + default services, run
 * until SIGTERM/SIGINT or sl_runtime_stop(); SIGHUP reloads, SIGTERM drains.
 * systemd hears of each step (sd_notify; nothing without NOTIFY_SOCKET).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "crypto/aead.h"
#include "engine/log.h"
#include "engine/node.h"
#include "engine/portal.h"
#include "engine/relay.h"
#include "tools/common/aead_pick.h"
#include "tools/daemon/metrics_http.h"
#include "tools/daemon/metrics_src.h"
#include "tools/daemon/runtime.h"
#include "transports/portal.h"
#include "transports/uring.h"

static volatile sig_atomic_t stop_requested;
/* Set before the shards start, cleared after they stopped: read on the shards. */
static const struct sl_net *running_net;
static struct sl_node *running_node;	/* the same span */

const struct sl_net *sl_runtime_net(void)
{
	return running_net;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * The limits the transports enforce, at start and on a reload (SIGHUP). A
 * limit added to limits.c has its config key at once; it is enforced, and
 * changes on a reload, once it is mapped here or in node_limits below.
 */
static void net_limits(const struct sl_limits *l, struct sl_net_config *c)
{
	c->max_tcp_in = (unsigned)l->v[SL_LIMIT_MAX_CONNECTIONS];
	c->max_tcp_in_per_source = (unsigned)l->v[SL_LIMIT_MAX_CONNECTIONS_PER_SOURCE];
	c->max_route_hops = (unsigned)l->v[SL_LIMIT_MAX_ROUTE_LENGTH];
	/* At start only (limits.c marks them restart): the sweep's period follows them. */
	c->idle_timeout_ns = l->v[SL_LIMIT_IDLE_TIMEOUT] * 1000000000ull;
	c->idle_any_timeout_ns = l->v[SL_LIMIT_IDLE_TIMEOUT_ANY] * 1000000000ull;
}

/* The limits the engine enforces (handshakes, relays): at start and on a reload. */
static void node_limits(const struct sl_limits *l, struct sl_node_limits *c)
{
	c->max_pending_hs = (unsigned)l->v[SL_LIMIT_MAX_PENDING_HANDSHAKES];
	c->max_pending_hs_conn = (unsigned)l->v[SL_LIMIT_MAX_PENDING_HANDSHAKES_PER_CONNECTION];
	c->hs_timeout_ms = (unsigned)l->v[SL_LIMIT_HANDSHAKE_TIMEOUT] * 1000;
	c->max_relays_conn = (unsigned)l->v[SL_LIMIT_MAX_RELAYS_PER_CONNECTION];
	c->max_relays_identity = (unsigned)l->v[SL_LIMIT_MAX_RELAYS_PER_IDENTITY];
	/* The engine's 0 is "its default": off has a value of its own. */
	c->relay_fair_share = l->v[SL_LIMIT_RELAY_FAIR_SHARE] ?
			      (unsigned)l->v[SL_LIMIT_RELAY_FAIR_SHARE] : SL_FAIR_SHARE_OFF;
}

int sl_runtime_set_limits(const struct sl_limits *l)
{
	struct sl_net_config c = { 0 };
	struct sl_node_limits nl;

	if (!running_net)
		return -ENOENT;
	net_limits(l, &c);
	sl_net_set_limits((struct sl_net *)running_net, &c);
	node_limits(l, &nl);
	sl_node_set_limits(running_node, &nl);
	return 0;
}

/* Portal connections open now, inlets' and outlets' (any thread: snapshots). */
static uint64_t portal_conns(struct sl_portals *P)
{
	size_t n = sl_portal_inlet_list(P, NULL, 0) + sl_portal_outlet_list(P, NULL, 0);
	struct sl_portal_info *v = calloc(n ? n : 1, sizeof(*v));
	uint64_t open = 0;
	size_t k;

	if (!v)
		return 1;	/* unknown: keep draining */
	k = sl_portal_inlet_list(P, v, n);
	k = (k < n ? k : n);
	k += sl_portal_outlet_list(P, v + k, n - k);
	for (size_t i = 0; i < k && i < n; i++)
		open += v[i].conns;
	free(v);
	return open;
}

static uint64_t frames_moved(const struct sl_net *net)
{
	struct sl_net_stats s;

	sl_net_stats(net, &s);
	return s.rx_frames + s.tx_frames;
}

/*
 * SIGTERM with a drain deadline: take no new connection, and wait for the
 * portal connections to end and the relayed messages to stop (quiet for
 * SL_DRAIN_QUIET_MS), or for the deadline, or for a second signal.
 */
static void drain(const struct sl_runtime_config *cfg, struct sl_net *net, struct sl_portals *P,
		  const sigset_t *sigs)
{
	const struct timespec tick = { .tv_sec = 0, .tv_nsec = 50 * 1000 * 1000 };
	uint64_t start = now_ms(), quiet_since = start, moved = frames_moved(net), open;

	sl_net_stop_accepting(net);
	sl_log(SL_LOG_INFO, "node=%s event=draining timeout_ms=%llu portal_connections=%llu",
	       cfg->name, (unsigned long long)cfg->drain_timeout_ms,
	       (unsigned long long)portal_conns(P));
	for (;;) {
		uint64_t t = now_ms(), m = frames_moved(net);
		int sig;

		if (m != moved) {
			moved = m;
			quiet_since = t;
		}
		open = portal_conns(P);
		if (!open && t - quiet_since >= SL_DRAIN_QUIET_MS) {
			sl_log(SL_LOG_INFO, "node=%s event=drained ms=%llu", cfg->name,
			       (unsigned long long)(t - start));
			return;
		}
		if (t - start >= cfg->drain_timeout_ms) {
			sl_log(SL_LOG_WARN, "node=%s event=drain_deadline ms=%llu portal_connections=%llu "
			       "action=\"closing them\"", cfg->name, (unsigned long long)(t - start),
			       (unsigned long long)open);
			return;
		}
		sig = sigtimedwait(sigs, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT) {
			sl_log(SL_LOG_INFO, "node=%s event=drain_cut sig=%d portal_connections=%llu",
			       cfg->name, sig, (unsigned long long)open);
			return;
		}
	}
}

static void reload(const struct sl_runtime_config *cfg, struct sl_node *n)
{
	if (!cfg->reload) {
		sl_log(SL_LOG_INFO, "node=%s event=reload result=ignored reason=\"no config file: "
		       "run it with `sluice node run NAME --config FILE`\"", cfg->name);
		return;
	}
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)now_ms() * 1000);
	cfg->reload(n, cfg->arg);
	sd_notify(0, "READY=1\nSTATUS=running");
}

void sl_runtime_stop(void)
{
	/* Async-signal-safe: a flag the main thread polls between sigtimedwait()s. */
	stop_requested = 1;
}

int sl_runtime_run(const struct sl_runtime_config *cfg)
{
	struct sl_node_config ncfg = {
		.name = cfg->name,
		.shards = cfg->shards,
		.no_pin = !cfg->pin_shards,
		.spin_us = cfg->spin_us,
	};
	struct sl_net_config ncfg_net = {
		.frame_timeout_ns = cfg->frame_timeout_ms * 1000000,
	};
	struct timespec tick = { .tv_sec = 0, .tv_nsec = 100 * 1000 * 1000 };
	struct sl_net *net = NULL;
	struct sl_portals *portals = NULL;
	struct sl_metrics_http *http = NULL;
	struct sl_metrics_src src = { 0 };
	struct sl_node *n;
	sigset_t sigs, old;
	uint16_t port = 0;
	int ret;

	net_limits(&cfg->limits, &ncfg_net);
	node_limits(&cfg->limits, &ncfg.limits);
	stop_requested = 0;
	/*
	 * Block the stop signals before any thread exists, so only this thread
	 * takes them (synchronously, with sigtimedwait).
	 */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, &old);

	/* The wire protocol fixes AES-256-GCM: without AES-NI there is no fast, safe one. */
	if (!sl_aead_available()) {
		ret = -ENOTSUP;
		sl_log(SL_LOG_ERROR, "node=%s event=no_aesni err=\"this CPU lacks AES-NI; "
		       "Sluice needs hardware AES-256-GCM\"", cfg->name);
		goto out_sigmask;
	}
	/* A relay node holds a socket per registered node: use the whole fd allowance. */
	struct rlimit nofile;

	if (!getrlimit(RLIMIT_NOFILE, &nofile) && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	/* Pick the AEAD backend before any key exists (SLUICE_AEAD overrides "auto"). */
	ret = sl_aead_pick("auto");
	if (ret) {
		sl_log(SL_LOG_ERROR, "node=%s event=aead_failed err=\"SLUICE_AEAD must be "
		       "sodium, gcrypt, ipsec-mb (where built and usable) or auto\"", cfg->name);
		goto out_sigmask;
	}
	sl_log(SL_LOG_INFO, "node=%s event=aead backend=%s", cfg->name, sl_aead_backend_name());

	n = sl_node_create(&ncfg);
	if (!n) {
		ret = -errno;
		sl_log(SL_LOG_ERROR, "node=%s event=create_failed err=%s", cfg->name, strerror(-ret));
		goto out_sigmask;
	}
	net = sl_net_create(n, &ncfg_net);
	if (!net) {
		ret = -errno;
		sl_log(SL_LOG_ERROR, "node=%s event=transport_failed err=%s", cfg->name, strerror(-ret));
		goto out_destroy_node;
	}
	portals = sl_net_portals(net);
	if (!portals) {
		ret = -errno;
		sl_log(SL_LOG_ERROR, "node=%s event=portals_failed err=%s", cfg->name, strerror(-ret));
		goto out_destroy_net;
	}
	if (cfg->tcp_listen) {
		ret = sl_net_listen_tcp(net, cfg->tcp_listen, &port);
		if (ret) {
			sl_log(SL_LOG_ERROR, "node=%s event=listen_failed addr=%s err=%s: is the port in use?",
			       cfg->name, cfg->tcp_listen, strerror(-ret));
			goto out_destroy_net;
		}
	}
	if (cfg->udp_listen) {
		ret = sl_net_listen_udp(net, cfg->udp_listen, NULL);
		if (ret) {
			sl_log(SL_LOG_ERROR, "node=%s event=listen_failed transport=udp addr=%s err=%s: "
			       "is the port in use?", cfg->name, cfg->udp_listen, strerror(-ret));
			goto out_destroy_net;
		}
	}
	if (cfg->control_path) {
		ret = sl_net_listen_uds(net, cfg->control_path);
		if (ret) {
			sl_log(SL_LOG_ERROR, "node=%s event=listen_failed path=%s err=%s",
			       cfg->name, cfg->control_path, strerror(-ret));
			goto out_destroy_net;
		}
	}
	ret = sl_services_start(n);
	if (ret)
		goto out_destroy_net;
	/* What metrics read; the shards are not running yet, so shard 0's table is ours to read. */
	src.node = n;
	src.net = net;
	src.relays = sl_relays_local(sl_node_shard(n, 0));
	sl_metrics_src_set(&src);
	if (cfg->metrics_listen) {
		uint16_t mport = 0;

		http = sl_metrics_http_start(cfg->metrics_listen, &src, &mport);
		if (!http) {
			ret = -errno;
			if (cfg->metrics_err)
				*cfg->metrics_err = ret;
			sl_log(SL_LOG_ERROR, "node=%s event=listen_failed what=metrics addr=%s err=\"%s\"",
			       cfg->name, cfg->metrics_listen, strerror(-ret));
			goto out_destroy_net;
		}
		sl_log(SL_LOG_INFO, "node=%s event=metrics_listening addr=%s port=%u", cfg->name,
		       cfg->metrics_listen, mport);
	}
	if (cfg->setup) {
		ret = cfg->setup(n, port, cfg->arg);
		if (ret) {
			sl_log(SL_LOG_ERROR, "node=%s event=setup_failed err=%d", cfg->name, ret);
			goto out_destroy_net;
		}
	}
	running_node = n;
	running_net = net;
	ret = sl_node_start(n);
	if (ret)
		goto out_teardown;
	char limits[512];

	if (sl_limits_format(&cfg->limits, limits, sizeof(limits)))
		snprintf(limits, sizeof(limits), "?");
	sl_log(SL_LOG_INFO, "node=%s event=started shards=%u pin_shards=%d spin_us=%u "
	       "frame_timeout_ms=%llu limits=%s tcp_port=%u", cfg->name, sl_node_shards(n),
	       cfg->pin_shards, cfg->spin_us, (unsigned long long)cfg->frame_timeout_ms,
	       limits[0] ? limits : "defaults", port);
	/* Ready before `started` tells `node create` it may return: its caller may scrape at once. */
	sl_metrics_src_ready(&src, true);
	if (cfg->started)
		cfg->started(n, cfg->arg);
	sd_notify(0, "READY=1\nSTATUS=running");

	int stop_sig = 0;

	while (!stop_requested) {
		int sig = sigtimedwait(&sigs, NULL, &tick);

		if (sig == SIGHUP) {
			reload(cfg, n);
		} else if (sig == SIGTERM || sig == SIGINT) {
			sl_log(SL_LOG_INFO, "node=%s event=signal sig=%d", cfg->name, sig);
			stop_sig = sig;
			break;
		}
	}
	sd_notify(0, "STOPPING=1\nSTATUS=stopping");
	/* Draining: /readyz says so before the shards go. */
	sl_metrics_src_ready(&src, false);
	/* SIGTERM drains (systemd, `node stop`); SIGINT (Ctrl-C at a terminal) stops at once. */
	if (stop_sig == SIGTERM && cfg->drain_timeout_ms)
		drain(cfg, net, portals, &sigs);
	sl_node_stop(n);
	sl_node_join(n);
	sl_log(SL_LOG_INFO, "node=%s event=stopped", cfg->name);
	ret = 0;
out_teardown:
	if (cfg->teardown)
		cfg->teardown(n, cfg->arg);
out_destroy_net:
	/* The endpoint reads the node and the net: it goes first. */
	sl_metrics_http_stop(http);
	sl_metrics_src_set(NULL);
	/* After join: every shard closed its connections; now the listeners go. */
	sl_portals_destroy(portals);
	running_net = NULL;
	running_node = NULL;
	sl_net_destroy(net);
out_destroy_node:
	sl_node_destroy(n);
out_sigmask:
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}
