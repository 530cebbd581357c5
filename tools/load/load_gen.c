// SPDX-License-Identifier: Apache-2.0
/*
 * A load generator's window and schedule, whatever the target: which send
 * may go now (open loop: the schedule, with intended times kept when the
 * window is full; closed loop: a free place among the concurrency), the
 * latency of each reply from its intended time, timeouts, and the
 * main thread's wait for the run to end.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/load/load.h"

/* Sends still due after the window (the generator fell behind) go out for this long. */
#define LATE_GRACE_NS 1000000000ull
#define MAX_WAIT_NS 1000000ull

uint64_t sl_load_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int sl_load_gen_init(struct sl_load_gen *g, const struct sl_load_cfg *cfg, unsigned id,
		     uint64_t window)
{
	uint64_t cap = 1;

	while (cap < window)
		cap <<= 1;
	g->win = calloc(cap, sizeof(*g->win));
	if (!g->win)
		return -ENOMEM;
	g->mask = cap - 1;
	g->id = id;
	g->cfg = cfg;
	sl_hist_init(&g->hist);
	sl_hist_init(&g->hs_hist);
	sl_hist_init(&g->lag);
	sl_hist_init(&g->snap);
	/* this generator's share of the rate, the concurrency and the count */
	g->rate = cfg->rate / cfg->gens;
	g->concurrency = cfg->concurrency / cfg->gens + (id < cfg->concurrency % cfg->gens);
	g->count = cfg->count / cfg->gens + (id < cfg->count % cfg->gens);
	return 0;
}

void sl_load_gen_fini(struct sl_load_gen *g)
{
	free(g->win);
	g->win = NULL;
}

void sl_load_gen_arm(struct sl_load_gen *g, uint64_t start_ns)
{
	const struct sl_load_cfg *cfg = g->cfg;

	g->start_ns = start_ns;
	g->measure_ns = start_ns + cfg->warmup_ns;
	g->end_ns = cfg->count ? UINT64_MAX : g->measure_ns + cfg->duration_ns;
	if (g->rate > 0)
		sl_sched_init(&g->sched, start_ns, cfg->rate0 / cfg->gens, g->rate, cfg->ramp_ns);
}

static bool count_reached(const struct sl_load_gen *g)
{
	return g->cfg->count && g->measured >= g->count;
}

bool sl_load_gen_sending_over(const struct sl_load_gen *g, uint64_t now)
{
	if (atomic_load_explicit(&g->stop, memory_order_relaxed) || count_reached(g))
		return true;
	if (g->rate > 0)
		return sl_sched_next_ns(&g->sched) >= g->end_ns ||
		       (g->end_ns != UINT64_MAX && now > g->end_ns + LATE_GRACE_NS);
	return now >= g->end_ns;
}

bool sl_load_gen_idle(const struct sl_load_gen *g, uint64_t now)
{
	return sl_load_gen_sending_over(g, now) && g->head == g->tail;
}

bool sl_load_gen_next(struct sl_load_gen *g, uint64_t now, uint64_t *seq, uint64_t *intended)
{
	bool bulk = g->cfg->mode == SL_LOAD_BULK;
	struct sl_load_slot *sl;
	uint64_t t;

	if (sl_load_gen_sending_over(g, now))
		return false;
	if (!bulk && g->head - g->tail > g->mask)
		return false;		/* window full: due sends wait, their intended times kept */
	if (g->rate > 0) {
		if (!sl_sched_take(&g->sched, now, &t))
			return false;
	} else {
		if (!bulk && g->head - g->tail >= g->concurrency)
			return false;
		t = now;
	}
	*intended = t;
	*seq = g->head;
	sl_load_add(&g->c.sent_all, 1);
	if (t >= g->measure_ns) {
		g->measured++;
		g->last_send_ns = now;
		sl_load_add(&g->c.sent, 1);
		sl_load_add(&g->c.bytes_sent, g->cfg->size);
		if (now >= g->end_ns)
			sl_load_add(&g->c.sent_late, 1);
		if (g->rate > 0)
			sl_hist_record(&g->lag, (now - t) / 1000);
	}
	if (bulk)
		return true;	/* one way: nothing to wait for */
	sl = &g->win[g->head & g->mask];
	sl->intended_ns = t;
	sl->sent_ns = now;
	sl->pending = true;
	sl->measured = t >= g->measure_ns;
	g->head++;
	sl_load_add(&g->c.inflight, 1);
	return true;
}

static void slide(struct sl_load_gen *g)
{
	while (g->tail < g->head && !g->win[g->tail & g->mask].pending)
		g->tail++;
}

static struct sl_load_slot *find(struct sl_load_gen *g, uint64_t seq)
{
	struct sl_load_slot *sl;

	if (seq < g->tail || seq >= g->head)
		return NULL;
	sl = &g->win[seq & g->mask];
	return sl->pending ? sl : NULL;
}

bool sl_load_gen_reply(struct sl_load_gen *g, uint64_t seq, uint64_t now, uint32_t len)
{
	struct sl_load_slot *sl = find(g, seq);

	if (!sl)
		return false;	/* late (timed out already), duplicated or forged */
	sl->pending = false;
	sl_load_add(&g->c.inflight, (uint64_t)-1);
	if (sl->measured) {
		sl_load_add(&g->c.received, 1);
		sl_load_add(&g->c.bytes_received, len);
		sl_hist_record(&g->hist, now > sl->intended_ns ? (now - sl->intended_ns) / 1000 : 0);
	}
	slide(g);
	return true;
}

void sl_load_gen_fail(struct sl_load_gen *g, uint64_t seq, enum sl_load_err kind)
{
	struct sl_load_slot *sl = find(g, seq);

	if (!sl)
		return;
	sl->pending = false;
	sl_load_add(&g->c.inflight, (uint64_t)-1);
	if (sl->measured)
		sl_load_add(&g->c.errors[kind], 1);
	slide(g);
}

void sl_load_gen_sweep(struct sl_load_gen *g, uint64_t now)
{
	/* A handshake reports its own timeout (the engine's); this is the backstop. */
	uint64_t tmo = g->cfg->timeout_ns + (g->cfg->mode == SL_LOAD_HANDSHAKE ? 2000000000ull : 0);

	while (g->tail < g->head) {
		struct sl_load_slot *sl = &g->win[g->tail & g->mask];

		if (sl->pending) {
			/* sends go out in seq order, so the oldest pending one is at the tail */
			if (now - sl->sent_ns < tmo)
				break;
			sl_load_gen_fail(g, g->tail, SL_LERR_TIMEOUT);
			continue;
		}
		g->tail++;
	}
}

uint64_t sl_load_gen_wait_ns(const struct sl_load_gen *g, uint64_t now)
{
	uint64_t t;

	if (g->rate <= 0 || sl_load_gen_sending_over(g, now))
		return MAX_WAIT_NS;
	if (g->head - g->tail > g->mask)
		return 20000;	/* window full: look again soon */
	t = sl_sched_next_ns(&g->sched);
	if (t <= now)
		return 0;
	return t - now < MAX_WAIT_NS ? t - now : MAX_WAIT_NS;
}

void sl_load_gen_serve_snap(struct sl_load_gen *g)
{
	if (!atomic_load_explicit(&g->snap_req, memory_order_acquire))
		return;
	memcpy(&g->snap, &g->hist, sizeof(g->snap));
	/* release: the copy is complete before the requester sees 0 */
	atomic_store_explicit(&g->snap_req, 0, memory_order_release);
}

enum sl_load_err sl_load_err_kind(int err)
{
	switch (err) {
	case -ETIMEDOUT:
		return SL_LERR_TIMEOUT;
	case -ECONNREFUSED:
	case -EHOSTUNREACH:
	case -ENETUNREACH:
		return SL_LERR_REFUSED;
	case -ECONNRESET:
	case -EPIPE:
	case -ECONNABORTED:
		return SL_LERR_CLOSED;
	case -EACCES:
	case -EKEYREJECTED:
	case -EKEYEXPIRED:
		return SL_LERR_AUTH;
	default:
		return SL_LERR_OTHER;
	}
}

/* The main thread's wait, with the progress line and Ctrl-C. */

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted++;
}

void sl_load_stop_all(struct sl_load_gen *g, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		atomic_store(&g[i].stop, true);
}

static double cpu_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double sl_load_wait(struct sl_load_gen *g, unsigned n, const struct sl_load_cfg *cfg,
		    uint64_t start_ns, bool progress, double *cpu_s)
{
	struct sigaction sa = { .sa_handler = on_sigint }, old_int, old_term;
	uint64_t measure_ns = start_ns + cfg->warmup_ns, stopped_at = 0, last_progress = 0;
	/* a hard bound: the window, the stragglers' timeout, and slack */
	uint64_t hard = cfg->count ? UINT64_MAX :
			measure_ns + cfg->duration_ns + LATE_GRACE_NS + cfg->timeout_ns + 5000000000ull;
	/* the process's CPU is read at the window's ends (to a tick), not over warmup or drain */
	uint64_t window_end = cfg->count ? UINT64_MAX : measure_ns + cfg->duration_ns;
	double cpu_start = cpu_now_s(), cpu_end = -1;
	bool cpu_started = false;
	struct timespec tick = { 0, 20 * 1000 * 1000 };
	double window;

	interrupted = 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	for (;;) {
		uint64_t now = sl_load_now_ns();
		unsigned drained = 0;

		if (!cpu_started && now >= measure_ns) {
			cpu_start = cpu_now_s();
			cpu_started = true;
		}
		if (cpu_end < 0 && now >= window_end)
			cpu_end = cpu_now_s();
		for (unsigned i = 0; i < n; i++)
			drained += atomic_load_explicit(&g[i].drained, memory_order_acquire);
		if (drained == n)
			break;
		if (interrupted && !stopped_at) {
			sl_load_stop_all(g, n);
			stopped_at = now;
		}
		if (interrupted > 1 || now > hard)
			break;		/* stragglers are left in flight */
		if (progress && now - last_progress >= 1000000000ull && now > start_ns) {
			double asked = 0;

			for (unsigned i = 0; i < n; i++)
				asked += g[i].rate > 0 ? sl_sched_rate_at(&g[i].sched, now) : 0;
			sl_load_progress(g, n, (double)(now - start_ns) / 1e9, asked);
			last_progress = now;
		}
		nanosleep(&tick, NULL);
	}
	if (cpu_end < 0)
		cpu_end = cpu_now_s();	/* by count, or stopped early: up to now */
	*cpu_s = cpu_end - cpu_start;
	if (progress)
		sl_load_progress_end();
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (stopped_at)
		window = stopped_at > measure_ns ? (double)(stopped_at - measure_ns) / 1e9 : 0;
	else if (cfg->count) {
		/* by count: from the warmup's end to the last measured send's intended time */
		uint64_t last = measure_ns;

		for (unsigned i = 0; i < n; i++)
			if (g[i].rate > 0 && g[i].sched.next &&
			    sl_sched_intended(&g[i].sched, g[i].sched.next - 1) > last)
				last = sl_sched_intended(&g[i].sched, g[i].sched.next - 1);
			else if (g[i].rate <= 0 && g[i].last_send_ns > last)
				last = g[i].last_send_ns;
		window = (double)(last - measure_ns) / 1e9;
	} else {
		window = (double)cfg->duration_ns / 1e9;
	}
	return window > 0 ? window : 1e-9;
}
