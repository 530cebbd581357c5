// SPDX-License-Identifier: Apache-2.0
/*
 * `sluice load` against a route: the harness runs an engine of its own (no
 * node daemon), one generator per shard. Each generator is a worker at a
 * random address that replies come back to, and a timer that sends on the
 * schedule. With /secure/NAME in the route, each shard first makes its share
 * of the channels (up to HS_WINDOW handshakes in flight), then its messages
 * go round-robin over them: [channel, rest of the route...].
 *
 * A message's first 8 bytes are its sequence number in the generator's
 * window; the echo at the end of the route sends them back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "crypto/aead.h"
#include "crypto/identity.h"
#include "engine/log.h"
#include "engine/node.h"
#include "engine/pool.h"
#include "engine/router.h"
#include "engine/secure.h"
#include "engine/shard.h"
#include "engine/timer.h"
#include "engine/vault.h"
#include "engine/worker.h"
#include "tools/common/aead_pick.h"
#include "tools/common/identities.h"
#include "tools/common/state.h"
#include "tools/common/text.h"
#include "tools/load/load.h"
#include "transports/uring.h"

#define HS_WINDOW 64		/* set-up handshakes in flight per shard */
#define SEND_BURST 4096		/* sends per timer turn, then the shard does its I/O */
#define POOL_FULL_WAIT_NS 20000ull	/* the pool at its cap: look again after this */
/*
 * Sends stop while less than 1/RX_SHARE of the shard's pool is left: the rest
 * is for reading replies. Taking all of it could deadlock with the node (our
 * pool full of queued requests, its pool full of replies we cannot read) and,
 * short of that, starves the reader each time a send frees a message.
 */
#define RX_SHARE 4

struct egen {
	struct sl_worker w;		/* replies arrive here */
	struct sl_timer timer;
	struct sl_load_gen *g;
	struct sl_node *n;
	const struct sl_load_cfg *cfg;
	const struct sl_load_route_target *t;
	struct sl_route *routes;	/* onward route per channel (or the one route) */
	char (*chan)[SL_RANDOM_ADDR_LEN + 1];
	bool *dead;
	uint64_t *hs_t0;		/* set-up: when each handshake started */
	unsigned nroutes, want, hs_started, hs_done, live, rr;
	struct sl_route storm_to;	/* storm: to the listener */
	bool closing, pool_full;
};

/* One load run per process: the generators by shard id, for callbacks that get a shard. */
static struct egen *egens;
static struct sl_vault *run_vault;

static struct egen *egen_self(void)
{
	return &egens[sl_shard_id(sl_shard_self())];
}

static struct sl_secure_opts chan_opts(const struct egen *e)
{
	struct sl_secure_opts o = {
		.vault = run_vault,
		.authorized = (const uint8_t (*)[SL_ID_LEN])e->t->authorized,
		.n_authorized = e->t->n_authorized,
		.timeout_ms = (uint32_t)(e->cfg->timeout_ns / 1000000),
	};

	return o;
}

/* Set-up: this shard's share of the channels. */

static void hs_launch(struct egen *e);

static void hs_setup_done(void *arg, int err, const char *addr, const uint8_t *peer)
{
	struct egen *e = egen_self();
	unsigned i = (unsigned)(uintptr_t)arg;
	uint64_t now = sl_load_now_ns();

	(void)peer;
	e->hs_done++;
	if (err) {
		atomic_fetch_add_explicit(&e->g->c.hs_errors, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&e->g->c.errors[sl_load_err_kind(err)], 1, memory_order_relaxed);
	} else {
		struct sl_route *r = &e->routes[e->nroutes];

		memcpy(e->chan[e->nroutes], addr, SL_RANDOM_ADDR_LEN + 1);
		sl_route_init(r);
		sl_route_push_back(r, SL_ADDR_LOCAL, addr, SL_RANDOM_ADDR_LEN);
		sl_route_append(r, &e->t->rest);
		e->nroutes++;
		e->live++;
		atomic_fetch_add_explicit(&e->g->c.handshakes, 1, memory_order_relaxed);
		sl_hist_record(&e->g->hs_hist, (now - e->hs_t0[i]) / 1000);
	}
	if (e->hs_done == e->want)
		atomic_store_explicit(&e->g->ready, true, memory_order_release);
	else
		hs_launch(e);
}

static void hs_launch(struct egen *e)
{
	while (e->hs_started < e->want && e->hs_started - e->hs_done < HS_WINDOW) {
		struct sl_secure_opts o = chan_opts(e);
		unsigned i = e->hs_started++;
		int ret;

		e->hs_t0[i] = sl_load_now_ns();
		ret = sl_secure_create(e->w.shard, &e->storm_to, &o, hs_setup_done, (void *)(uintptr_t)i);
		if (ret) {
			e->hs_done++;
			atomic_fetch_add_explicit(&e->g->c.hs_errors, 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&e->g->c.errors[SL_LERR_OTHER], 1, memory_order_relaxed);
			if (e->hs_done == e->want)
				atomic_store_explicit(&e->g->ready, true, memory_order_release);
		}
	}
}

/* Replies. */

static bool send_one(struct egen *e, uint64_t now);

static void reply_handle(struct sl_worker *w, struct sl_msg *m)
{
	struct egen *e = w->ctx;
	uint64_t seq;

	if (e->cfg->mode == SL_LOAD_BULK) {
		sl_load_add(&e->g->c.received, 1);
		sl_load_add(&e->g->c.bytes_received, m->len);
	} else if (m->len >= sizeof(seq)) {
		memcpy(&seq, m->data, sizeof(seq));
		if (m->len != e->cfg->size)
			sl_load_gen_fail(e->g, seq, SL_LERR_OTHER);
		else
			sl_load_gen_reply(e->g, seq, sl_load_now_ns(), m->len);
	}
	sl_msg_free(m);
	/* closed loop: the next message goes as soon as one is answered */
	if (e->g->rate <= 0 && e->cfg->mode == SL_LOAD_RR) {
		uint64_t now = sl_load_now_ns();

		while (send_one(e, now))
			;
	}
}

/* Sending. */

static const struct sl_route *pick_route(struct egen *e)
{
	for (unsigned k = 0; k < e->nroutes; k++) {
		unsigned i = e->rr++;

		if (e->rr >= e->nroutes)
			e->rr = 0;
		if (!e->dead[i])
			return &e->routes[i];
	}
	return NULL;
}

static bool send_one(struct egen *e, uint64_t now)
{
	struct sl_load_gen *g = e->g;
	const struct sl_route *r;
	uint64_t seq, intended;
	struct sl_pool *pool = sl_shard_pool(e->w.shard);
	struct sl_msg *m = NULL;

	if (sl_pool_room_keeping_local(pool, e->cfg->size, RX_SHARE))
		m = sl_pool_alloc_local(pool, e->cfg->size);
	if (!m) {
		e->pool_full = true;
		/* only the readers' share is left: sends wait (their intended times kept) */
		return false;
	}
	if (!sl_load_gen_next(g, now, &seq, &intended)) {
		sl_msg_free(m);
		return false;
	}
	r = pick_route(e);
	if (!r) {
		sl_msg_free(m);
		sl_load_gen_fail(g, seq, SL_LERR_CLOSED);
		return true;
	}
	m->len = e->cfg->size;
	memset(m->data, 0, m->len);
	memcpy(m->data, &seq, sizeof(seq));
	sl_route_copy(&m->onward, r);
	sl_route_push_back(&m->ret, SL_ADDR_LOCAL, e->w.addr, e->w.addr_len);
	sl_send(e->w.shard, m);
	return true;
}

static void storm_done(void *arg, int err, const char *addr, const uint8_t *peer)
{
	struct egen *e = egen_self();
	uint64_t seq = (uint64_t)(uintptr_t)arg;

	(void)peer;
	if (err) {
		atomic_fetch_add_explicit(&e->g->c.hs_errors, 1, memory_order_relaxed);
		sl_load_gen_fail(e->g, seq, sl_load_err_kind(err));
		return;
	}
	atomic_fetch_add_explicit(&e->g->c.handshakes, 1, memory_order_relaxed);
	sl_load_gen_reply(e->g, seq, sl_load_now_ns(), 0);
	sl_secure_close(e->n, addr);
	/* closed loop: the next handshake at once */
	if (e->g->rate <= 0)
		sl_timer_arm(e->w.shard, &e->timer, 0);
}

static bool storm_one(struct egen *e, uint64_t now)
{
	struct sl_secure_opts o = chan_opts(e);
	uint64_t seq, intended;

	if (!sl_load_gen_next(e->g, now, &seq, &intended))
		return false;
	if (sl_secure_create(e->w.shard, &e->storm_to, &o, storm_done, (void *)(uintptr_t)seq))
		sl_load_gen_fail(e->g, seq, SL_LERR_OTHER);
	return true;
}

static void gen_fire(struct sl_timer *t)
{
	struct egen *e = (struct egen *)((char *)t - offsetof(struct egen, timer));
	struct sl_load_gen *g = e->g;
	uint64_t now = sl_load_now_ns(), wait;
	unsigned n = 0;

	e->pool_full = false;
	sl_load_gen_serve_snap(g);
	sl_load_gen_sweep(g, now);
	if (e->cfg->mode == SL_LOAD_HANDSHAKE) {
		while (n < HS_WINDOW && storm_one(e, now))
			n++;
	} else {
		while (n < SEND_BURST && send_one(e, now))
			n++;
	}
	if (sl_load_gen_idle(g, now)) {
		sl_load_gen_serve_snap(g);
		atomic_store_explicit(&g->drained, true, memory_order_release);
		return;
	}
	if (n == SEND_BURST)
		wait = 0;	/* behind: the shard does its I/O, then this goes on */
	else if (e->pool_full)
		wait = POOL_FULL_WAIT_NS;	/* backpressure: look again once some frames left */
	else
		wait = sl_load_gen_wait_ns(g, now);
	sl_timer_arm(e->w.shard, t, wait);
}

/* Control calls, on each shard. */

static void setup_call(struct sl_shard *s, void *arg)
{
	struct egen *e = &egens[sl_shard_id(s)];

	(void)arg;
	e->w.handle = reply_handle;
	e->w.ctx = e;
	if (sl_worker_start_random(s, &e->w)) {
		atomic_fetch_add(&e->g->c.errors[SL_LERR_OTHER], 1);
		atomic_store(&e->g->ready, true);
		return;
	}
	if (e->want && e->cfg->mode != SL_LOAD_HANDSHAKE) {
		hs_launch(e);
		return;
	}
	if (!e->t->listener[0]) {
		/* a plain route: prefix is the whole of it */
		sl_route_copy(&e->routes[0], &e->t->prefix);
		e->nroutes = e->live = 1;
	}
	atomic_store_explicit(&e->g->ready, true, memory_order_release);
}

static void run_call(struct sl_shard *s, void *arg)
{
	struct egen *e = &egens[sl_shard_id(s)];
	uint64_t start = *(const uint64_t *)arg, now = sl_load_now_ns();

	sl_load_gen_arm(e->g, start);
	e->timer.fire = gen_fire;
	sl_timer_arm(s, &e->timer, start > now ? start - now : 0);
}

static void on_stop(void *ctx, struct sl_shard *s, const uint8_t *addr, size_t len)
{
	struct egen *e = &egens[sl_shard_id(s)];

	(void)ctx;
	if (len != SL_RANDOM_ADDR_LEN || e->closing || !e->chan)
		return;
	for (unsigned i = 0; i < e->nroutes; i++) {
		if (!e->dead[i] && !memcmp(e->chan[i], addr, len)) {
			e->dead[i] = true;
			e->live--;
			atomic_fetch_add_explicit(&e->g->c.errors[SL_LERR_CLOSED], 1, memory_order_relaxed);
			return;
		}
	}
}

static void closing_call(struct sl_shard *s, void *arg)
{
	(void)arg;
	egens[sl_shard_id(s)].closing = true;
}

/* Set-up and tear-down of the engine, on the main thread (cold). */

static struct sl_vault *make_vault(const struct sl_load_route_target *t)
{
	struct sl_identity_key key;
	struct sl_vault *v;
	uint64_t now = (uint64_t)time(NULL);
	uint8_t hist[1024];
	size_t hl;
	int err;

	if (t->identity) {
		struct sl_state *st;

		if (sl_state_open(NULL, &st))
			return NULL;
		v = sl_identity_vault(st, t->identity, false, &err);
		sl_state_close(st);
		if (!v)
			sl_err(err == -ENOENT ? "no identity %s: see `sluice identity list`" :
				"cannot load identity %s: %s", t->identity, strerror(-err));
		return v;
	}
	/* a throwaway identity, never stored */
	if (sl_identity_create(&key, NULL, now, SL_IDENTITY_TTL, hist, sizeof(hist), &hl)) {
		sl_err("cannot make a throwaway identity");
		return NULL;
	}
	v = sl_vault_create("load", hist, hl, &key, now);
	sl_identity_key_wipe(&key);
	if (!v)
		sl_err("cannot make a throwaway identity");
	return v;
}

/* Wait for every shard's set-up; false when it took longer than the handshakes may. */
static bool wait_ready(struct sl_load_gen *g, unsigned n, uint64_t bound_ns)
{
	uint64_t until = sl_load_now_ns() + bound_ns;

	for (;;) {
		unsigned ready = 0;

		for (unsigned i = 0; i < n; i++)
			ready += atomic_load_explicit(&g[i].ready, memory_order_acquire);
		if (ready == n)
			return true;
		if (sl_load_now_ns() > until)
			return false;
		usleep(2000);
	}
}

int sl_load_run_engine(const struct sl_load_cfg *cfg, const struct sl_load_route_target *t,
		       struct sl_load_result *r)
{
	struct sl_node_config ncfg = { .name = "load", .shards = cfg->gens, .no_pin = true,
				       .spin_us = t->spin_us };
	struct sl_load_gen *g = NULL;
	struct sl_net_stats ns;
	struct sl_node *n = NULL;
	struct sl_net *net = NULL;
	struct rlimit nofile;
	unsigned conns = cfg->conns ? cfg->conns : 1;
	uint64_t start, t0;
	bool vault_given = false;
	int ret = -1;

	/* the harness's engine speaks only of trouble, unless asked (-v) */
	if (!t->verbose)
		sl_log_set_level(SL_LOG_WARN);
	if (!sl_aead_available())
		return sl_err("this CPU lacks AES-NI; Sluice needs hardware AES-256-GCM");
	if (!sl_uring_available())
		return sl_err("io_uring is not available here (a container's seccomp profile?)");
	if (sl_aead_pick("auto"))
		return sl_err("SLUICE_AEAD must be sodium, gcrypt, ipsec-mb or auto");
	if (!getrlimit(RLIMIT_NOFILE, &nofile) && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	if (t->listener[0]) {
		run_vault = make_vault(t);
		if (!run_vault)
			return -1;
	}
	n = sl_node_create(&ncfg);
	if (!n) {
		sl_err("cannot create the harness's engine: %s", strerror(errno));
		goto out;
	}
	net = sl_net_create(n, NULL);
	if (!net) {
		sl_err("cannot set up the harness's transports: %s", strerror(errno));
		goto out;
	}
	if (run_vault) {
		if (sl_secure_node_init(n, run_vault)) {
			sl_err("cannot set up secure channels in the harness");
			goto out;
		}
		vault_given = true;
	}
	sl_node_on_worker_stop(n, on_stop, NULL);
	g = calloc(cfg->gens, sizeof(*g));
	egens = calloc(cfg->gens, sizeof(*egens));
	if (!g || !egens)
		goto out_nomem;
	for (unsigned i = 0; i < cfg->gens; i++) {
		struct egen *e = &egens[i];
		/* open loop: room for a second of sends (at least 4096); closed: the concurrency */
		uint64_t win = cfg->rate > 0 ? (uint64_t)(cfg->rate / cfg->gens) : 0;

		if (cfg->concurrency)
			win = cfg->rate > 0 ? (win > cfg->concurrency ? cfg->concurrency : win) :
					      cfg->concurrency;
		if (win < 4096)
			win = 4096;
		if (win > (1u << 20))
			win = 1u << 20;
		if (cfg->concurrency && cfg->rate > 0)
			win = cfg->concurrency;	/* the cap asked for, exactly */
		if (sl_load_gen_init(&g[i], cfg, i, win))
			goto out_nomem;
		e->g = &g[i];
		e->n = n;
		e->cfg = cfg;
		e->t = t;
		e->want = t->listener[0] && cfg->mode != SL_LOAD_HANDSHAKE ?
			  conns / cfg->gens + (i < conns % cfg->gens) : 0;
		e->routes = calloc(e->want ? e->want : 1, sizeof(*e->routes));
		e->chan = calloc(e->want ? e->want : 1, sizeof(*e->chan));
		e->dead = calloc(e->want ? e->want : 1, sizeof(*e->dead));
		e->hs_t0 = calloc(e->want ? e->want : 1, sizeof(*e->hs_t0));
		if (!e->routes || !e->chan || !e->dead || !e->hs_t0)
			goto out_nomem;
		sl_route_copy(&e->storm_to, &t->prefix);
		if (t->listener[0])
			sl_route_push_back(&e->storm_to, SL_ADDR_LOCAL, t->listener, strlen(t->listener));
	}
	if (sl_node_start(n)) {
		sl_err("cannot start the harness's shards");
		goto out;
	}
	sl_net_stats(net, &ns);
	r->engine_drops = ns.drop_noconn;
	t0 = sl_load_now_ns();
	for (unsigned i = 0; i < cfg->gens; i++)
		while (sl_shard_call(n, i, setup_call, NULL))
			usleep(1000);
	if (!wait_ready(g, cfg->gens, cfg->timeout_ns * (conns / HS_WINDOW + 2))) {
		sl_err("the channels were not all made in time: is the listener there?");
		goto out_stop;
	}
	r->setup_s = (double)(sl_load_now_ns() - t0) / 1e9;
	for (unsigned i = 0; i < cfg->gens; i++)
		r->conns_made += egens[i].nroutes;
	if (t->verbose && t->listener[0])
		fprintf(stderr, "sluice: %u of %u channels made in %.2f s\n", r->conns_made, conns,
			r->setup_s);
	if (!r->conns_made && cfg->mode != SL_LOAD_HANDSHAKE) {
		sl_err("no channel could be made to %s: is a secure channel listener there, "
		       "and does --authorized name its identity?", t->text);
		r->failed = true;
		r->window_s = r->setup_s > 0 ? r->setup_s : 1e-9;
		ret = 0;
		goto out_stop;
	}

	/* One start time for every shard, a little ahead so each arms before it. */
	start = sl_load_now_ns() + 20000000;
	for (unsigned i = 0; i < cfg->gens; i++)
		while (sl_shard_call(n, i, run_call, &start))
			usleep(1000);
	r->window_s = sl_load_wait(g, cfg->gens, cfg, start, t->progress, &r->cpu_s);
	sl_load_stop_all(g, cfg->gens);
	/* Close our channels (an encrypted Close each) so the peer frees them too. */
	for (unsigned i = 0; i < cfg->gens; i++)
		while (sl_shard_call(n, i, closing_call, NULL))
			usleep(1000);
	usleep(20000);
	for (unsigned i = 0; i < cfg->gens; i++)
		for (unsigned k = 0; k < egens[i].nroutes; k++)
			if (t->listener[0])
				for (int tries = 0; sl_secure_close(n, egens[i].chan[k]) == -EAGAIN &&
						    tries < 100; tries++)
					usleep(1000);
	usleep(50000);
	sl_net_stats(net, &ns);
	r->engine_drops = ns.drop_noconn - r->engine_drops;
	ret = 0;
out_stop:
	sl_node_stop(n);
	sl_node_join(n);
	/* After join: the shards are gone, their histograms may be read. */
	if (!ret)
		sl_load_merge(r, g, cfg->gens);
	goto out;
out_nomem:
	sl_err("out of memory");
out:
	if (vault_given)
		sl_secure_node_fini(n);		/* frees run_vault with the node's vaults */
	else
		sl_vault_free(run_vault);
	run_vault = NULL;
	sl_net_destroy(net);
	if (n)
		sl_node_destroy(n);
	for (unsigned i = 0; g && egens && i < cfg->gens; i++) {
		sl_load_gen_fini(&g[i]);
		free(egens[i].routes);
		free(egens[i].chan);
		free(egens[i].dead);
		free(egens[i].hs_t0);
	}
	free(egens);
	egens = NULL;
	free(g);
	return ret;
}
