/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `sluice load`: what its files share. cmd_load.c parses the options and runs
 * the phases; load_engine.c drives routes and secure channels from the
 * harness's own engine shards; load_tcp.c drives TCP connections (a portal's
 * inlet) from threads of its own; load_report.c prints the progress line,
 * the summary, the JSON and the histogram file.
 *
 * Each generator (an engine shard, or a TCP thread) owns one struct
 * sl_load_gen: its schedule, histogram and window are touched by its thread
 * only; its counters are relaxed atomics with that thread as the single
 * writer, so the progress line can read them; the histogram reaches others
 * as a copy (snap_req) or after the thread is joined.
 */
#ifndef SL_LOAD_H
#define SL_LOAD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/route.h"
#include "tools/load/histogram.h"
#include "tools/load/load_sched.h"

enum sl_load_err {
	SL_LERR_TIMEOUT,	/* no reply (or no handshake) within --timeout */
	SL_LERR_REFUSED,	/* connection refused, or dropped for a failed connection */
	SL_LERR_CLOSED,		/* connection or channel closed under a message */
	SL_LERR_AUTH,		/* handshake: identity refused or did not verify */
	SL_LERR_OTHER,		/* malformed reply, out of buffers, ... */
	SL_LERR_KINDS
};

enum sl_load_mode {
	SL_LOAD_RR,		/* request / response: latency per message */
	SL_LOAD_BULK,		/* one way: throughput only */
	SL_LOAD_HANDSHAKE,	/* handshake storm: latency per channel made */
};

struct sl_load_cfg {
	enum sl_load_mode mode;
	uint32_t size;			/* payload bytes per message */
	double rate;			/* messages (or handshakes) per second in all; 0 = closed loop */
	double rate0;			/* ramp start (with ramp_ns) */
	uint64_t ramp_ns;
	unsigned concurrency;		/* closed loop: in flight in all; open loop: cap (0 = default) */
	uint64_t duration_ns;		/* measured window, after warmup */
	uint64_t warmup_ns;
	uint64_t count;			/* stop after this many measured sends (0 = by duration) */
	uint64_t timeout_ns;		/* a message without a reply by then is an error */
	unsigned gens;			/* generators (shards or TCP threads) */
	unsigned conns;			/* channels or TCP connections in all (0/1 = one route) */
	uint64_t handshakes;		/* storm: how many */
	bool http;			/* --tcp: HTTP/1.1 GET requests, responses by Content-Length */
};

struct sl_load_counters {
	_Atomic uint64_t sent, received, bytes_sent, bytes_received;
	_Atomic uint64_t sent_late;	/* measured sends that went out after the window (not counted) */
	_Atomic uint64_t sent_all;	/* every send, the warmup's and the late ones too */
	_Atomic uint64_t errors[SL_LERR_KINDS];
	_Atomic uint64_t handshakes, hs_errors;	/* channels made (set-up phase and storm) */
	_Atomic uint64_t inflight;
};

/* One entry of a generator's window: a message sent and not yet answered. */
struct sl_load_slot {
	uint64_t intended_ns;		/* latency counts from here */
	uint64_t sent_ns;		/* the timeout counts from here */
	bool pending, measured;
};

struct sl_load_gen {
	unsigned id;
	const struct sl_load_cfg *cfg;
	struct sl_sched sched;		/* open loop */
	double rate;			/* this generator's share */
	unsigned concurrency;		/* this generator's share (closed loop) */
	uint64_t start_ns, measure_ns, end_ns;	/* run start, warmup end, window end */
	uint64_t count;			/* this generator's share of cfg->count */
	uint64_t measured;		/* measured sends so far */
	uint64_t last_send_ns;		/* of the last measured send */

	/* window: seq numbers [tail, head) are in flight or answered out of order */
	struct sl_load_slot *win;
	uint64_t mask, head, tail;

	struct sl_load_counters c;
	struct sl_hist hist;		/* messages (or handshakes in a storm) */
	struct sl_hist hs_hist;		/* set-up handshakes */
	struct sl_hist lag;		/* open loop: send time - intended time (the harness's own lag) */
	struct sl_hist snap;		/* copy for the progress line */
	_Atomic int snap_req;		/* 1: copy hist into snap, then 0 */
	_Atomic bool stop;		/* main: stop sending now (Ctrl-C) */
	_Atomic bool drained;		/* the generator is done: nothing left in flight */
	_Atomic bool ready;		/* set-up done (channels made) */
	void *priv;			/* the target's own state */
};

/*
 * A counter's single writer adds n: a relaxed load and store, no locked
 * read-modify-write (a reader sees the old value or the new one, never a mix).
 */
static inline void sl_load_add(_Atomic uint64_t *a, uint64_t n)
{
	atomic_store_explicit(a, atomic_load_explicit(a, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

/* A monotonic clock read (not the engine's per-turn cached one). */
uint64_t sl_load_now_ns(void);

/* load_gen.c: the window and the schedule, shared by every target */

/* Allocate the window (a power of two >= n). 0 or -ENOMEM. */
int sl_load_gen_init(struct sl_load_gen *g, const struct sl_load_cfg *cfg, unsigned id,
		     uint64_t window);
void sl_load_gen_fini(struct sl_load_gen *g);
/* Arm the run: schedule from start_ns, measured window [measure_ns, end_ns). */
void sl_load_gen_arm(struct sl_load_gen *g, uint64_t start_ns);
/*
 * The next send, if one may go now: true with *seq and *intended. Open
 * loop: the schedule says it is due and the window has room; closed loop:
 * fewer than the generator's concurrency in flight. False when stopping.
 */
bool sl_load_gen_next(struct sl_load_gen *g, uint64_t now, uint64_t *seq, uint64_t *intended);
/* A reply for seq arrived at now with len bytes: latency recorded. False if stale or unknown. */
bool sl_load_gen_reply(struct sl_load_gen *g, uint64_t seq, uint64_t now, uint32_t len);
/* Count the message seq as failed with kind (and free its slot). */
void sl_load_gen_fail(struct sl_load_gen *g, uint64_t seq, enum sl_load_err kind);
/* Expire what waited past the timeout; slide the window's tail. */
void sl_load_gen_sweep(struct sl_load_gen *g, uint64_t now);
/* No more sends will be made (window over, count reached or stop). */
bool sl_load_gen_sending_over(const struct sl_load_gen *g, uint64_t now);
/* Sending is over and nothing is in flight: the generator may set drained. */
bool sl_load_gen_idle(const struct sl_load_gen *g, uint64_t now);
/* How long to sleep before the next send is due (ns, capped at 1 ms for the sweep). */
uint64_t sl_load_gen_wait_ns(const struct sl_load_gen *g, uint64_t now);
/* On the generator's thread, each turn: serve a progress snapshot request. */
void sl_load_gen_serve_snap(struct sl_load_gen *g);
/* Error kind of a handshake's -errno. */
enum sl_load_err sl_load_err_kind(int err);

/* load_report.c */

struct sl_load_result {
	const struct sl_load_cfg *cfg;
	const char *target;		/* as the user gave it */
	unsigned conns_made;		/* channels or connections established */
	double window_s;		/* measured seconds */
	double setup_s;			/* time to make the channels / connections */
	double cpu_s;			/* harness process CPU over the measured window */
	uint64_t engine_drops;		/* the engine's drops for failed connections */
	struct sl_load_counters c;	/* summed (plain reads after the generators stopped) */
	struct sl_hist *hist, *hs_hist, *lag;	/* merged */
	bool gates_passed;
	bool failed;			/* reported, but the run could not be made (exit 1) */
	const char *node;		/* bulk: the node whose discard count was read, or NULL */
	uint64_t node_discarded;	/* its sluice_discarded_total over the run */
	double max_error_rate;		/* < 0: no gate */
	int64_t max_p99_us;		/* < 0: no gate */
};

/* Sum the generators' counters and histograms into r. */
void sl_load_merge(struct sl_load_result *r, struct sl_load_gen *g, unsigned n);
/* The progress line on stderr (a terminal): elapsed, rate, p99, errors. */
void sl_load_progress(struct sl_load_gen *g, unsigned n, double elapsed_s, double asked);
void sl_load_progress_end(void);
void sl_load_print_plain(const struct sl_load_result *r);
void sl_load_print_json(const struct sl_load_result *r);
/* HdrHistogram percentile distribution of r's latencies, values in ms. 0 or -errno. */
int sl_load_write_histogram(const struct sl_load_result *r, const char *path);
/* Apply --max-p99 / --max-error-rate: false (and says why on stderr) when one is exceeded. */
bool sl_load_check_gates(struct sl_load_result *r);
uint64_t sl_load_errors_total(const struct sl_load_counters *c);

/* load_engine.c: routes and secure channels through the harness's engine */

struct sl_load_route_target {
	const char *text;		/* --to, for messages */
	/* the route, split at its /secure/NAME (if any) */
	struct sl_route prefix;		/* to the listener's node */
	char listener[SL_ADDR_BODY_MAX + 1];	/* "" = no channel */
	struct sl_route rest;		/* after the listener (through each channel) */
	const char *identity;		/* --identity NAME, NULL = a throwaway one */
	uint8_t (*authorized)[32];
	unsigned n_authorized;
	unsigned spin_us;
	int verbose;
	bool progress;
	/* /node/NAME when the route is that node's service and no more ("" otherwise) */
	char node[SL_ADDR_BODY_MAX + 1];
};

struct sl_load_result;
/* Run the whole load against a route target; fills r. 0 or -1 (printed). */
int sl_load_run_engine(const struct sl_load_cfg *cfg, const struct sl_load_route_target *t,
		       struct sl_load_result *r);

/* load_tcp.c: TCP connections to HOST:PORT (a portal's inlet, or any echo server) */
int sl_load_run_tcp(const struct sl_load_cfg *cfg, const char *hostport, bool progress,
		    struct sl_load_result *r);

/* load_gen.c: the main thread's wait, shared by both runs */

/*
 * Wait until every generator is drained (or Ctrl-C twice, or the hard
 * deadline), printing progress; returns the measured window in seconds and
 * in *cpu_s the process's CPU over that window (not the warmup or the drain).
 */
double sl_load_wait(struct sl_load_gen *g, unsigned n, const struct sl_load_cfg *cfg,
		    uint64_t start_ns, bool progress, double *cpu_s);
/* Ask every generator to stop at once (the Ctrl-C path). */
void sl_load_stop_all(struct sl_load_gen *g, unsigned n);

#endif
