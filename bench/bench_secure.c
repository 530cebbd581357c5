// SPDX-License-Identifier: Apache-2.0
/*
 * bench_secure: secure channels between two in-process nodes over loopback
 * TCP (one shard each, pinned to different CPUs).
 *
 *   handshakes/s   full Ockam handshakes (XX + identities + attestations,
 *                  both sides on this machine), 256 in flight, each channel
 *                  closed when established
 *   messages/s     through one channel, 64 B, 1 KiB, 16 KiB payloads: a pump
 *                  on node A sends to [encryptor, sink], a sink on node B
 *                  counts; a window bounds what is in flight
 *   CPU            process CPU time per handshake / per message (both nodes),
 *                  which a shared machine disturbs far less than the rates
 *   RSS/channel    resident memory growth for 10,000 established channels
 *                  (both ends live in this process: per channel = both ends)
 *
 * Usage: bench_secure [--json] [--seconds S] [--channels N] [--handshakes N]
 *                     [--aead auto|sodium|gcrypt|ipsec-mb] [--sizes 64,1024,16384]
 * (--sizes picks which message sizes run, so a profile can look at one size
 * alone; the table leaves out the others, the JSON reports them as 0.)
 */
#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/aead.h"
#include "crypto/identity.h"
#include "engine/node.h"
#include "engine/router.h"
#include "engine/secure.h"
#include "engine/timer.h"
#include "engine/vault.h"
#include "engine/worker.h"
#include "tools/common/aead_pick.h"
#include "transports/uring.h"

struct bnode {
	struct sl_node *n;
	struct sl_net *net;
	uint16_t port;
	struct sl_worker sink;
};

/* Written by the sink's shard per message: a cache line of its own, or every seal and
 * open that reads a global the linker put beside it (the AEAD backend's handle) pays for
 * the line moving between cores (-14% at 64 B when it did). */
static struct {
	_Alignas(64) _Atomic uint64_t n;
	char pad[64 - sizeof(uint64_t)];
} sunk;

static void sink_handle(struct sl_worker *w, struct sl_msg *m)
{
	atomic_fetch_add_explicit(&sunk.n, 1, memory_order_relaxed);
	sl_msg_free(m);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of the whole process: both nodes' shards live here. */
static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU per operation of the last run_*(), us: robust where wall rates are not (shared machine). */
static double last_cpu_us;

static long rss_bytes(void)
{
	long size, res;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &size, &res) != 2)
		res = 0;
	fclose(f);
	return res * sysconf(_SC_PAGESIZE);
}

static struct sl_vault *make_vault(const char *name)
{
	struct sl_identity_key key;
	uint8_t hist[1024];
	size_t hl;
	struct sl_vault *v;
	uint64_t now = (uint64_t)time(NULL);

	if (sl_identity_create(&key, NULL, now, SL_IDENTITY_TTL, hist, sizeof(hist), &hl))
		return NULL;
	v = sl_vault_create(name, hist, hl, &key, now);
	sl_identity_key_wipe(&key);
	return v;
}

static void bnode_up(struct bnode *b, const char *name, unsigned cpu)
{
	struct sl_node_config cfg = { .name = name, .shards = 1, .cpu_base = cpu };
	struct sl_vault *v;

	memset(b, 0, sizeof(*b));
	b->n = sl_node_create(&cfg);
	if (!b->n || !(b->net = sl_net_create(b->n, NULL)) ||
	    sl_net_listen_tcp(b->net, "127.0.0.1:0", &b->port) || sl_services_start(b->n)) {
		fprintf(stderr, "bench_secure: cannot set up node %s\n", name);
		exit(1);
	}
	v = make_vault(name);
	if (!v || sl_secure_node_init(b->n, v)) {
		fprintf(stderr, "bench_secure: cannot make the identity of %s\n", name);
		exit(1);
	}
	b->sink.handle = sink_handle;
	if (sl_worker_start(sl_node_shard(b->n, 0), &b->sink, "sink") || sl_node_start(b->n)) {
		fprintf(stderr, "bench_secure: cannot start node %s\n", name);
		exit(1);
	}
}

static void bnode_down(struct bnode *b)
{
	sl_node_stop(b->n);
	sl_node_join(b->n);
	sl_secure_node_fini(b->n);
	sl_net_destroy(b->net);
	sl_node_destroy(b->n);
}

/* Handshakes: a window of creates on node A's shard, refilled from each done(). */

struct hs_run {
	struct sl_node *n;
	struct sl_route to;
	unsigned target, window;
	bool keep;
	unsigned started;
	_Atomic unsigned done, errors;
	char (*addrs)[SL_RANDOM_ADDR_LEN + 1];
};

static void hs_launch(struct hs_run *r, struct sl_shard *s);

static void hs_done(void *arg, int err, const char *addr, const uint8_t *peer)
{
	struct hs_run *r = arg;
	unsigned k = atomic_load_explicit(&r->done, memory_order_relaxed);

	if (err)
		atomic_fetch_add(&r->errors, 1);
	else if (r->keep)
		memcpy(r->addrs[k], addr, SL_RANDOM_ADDR_LEN + 1);
	else
		sl_secure_close(r->n, addr);
	atomic_store_explicit(&r->done, k + 1, memory_order_release);
	hs_launch(r, sl_shard_self());
}

static void hs_launch(struct hs_run *r, struct sl_shard *s)
{
	struct sl_secure_opts o = { 0 };

	while (r->started < r->target &&
	       r->started - atomic_load_explicit(&r->done, memory_order_relaxed) < r->window) {
		r->started++;
		if (sl_secure_create(s, &r->to, &o, hs_done, r)) {
			atomic_fetch_add(&r->errors, 1);
			atomic_fetch_add(&r->done, 1);
		}
	}
}

static void hs_start_call(struct sl_shard *s, void *arg)
{
	hs_launch(arg, s);
}

static double run_handshakes(struct bnode *a, struct bnode *b, unsigned n, bool keep,
			     char (*addrs)[SL_RANDOM_ADDR_LEN + 1])
{
	struct hs_run *r = calloc(1, sizeof(*r));
	char hp[32];
	double t0, t1, c0;
	unsigned errors;

	r->n = a->n;
	r->target = n;
	r->window = 256;
	r->keep = keep;
	r->addrs = addrs;
	snprintf(hp, sizeof(hp), "127.0.0.1:%u", b->port);
	sl_route_init(&r->to);
	sl_route_push_back(&r->to, SL_ADDR_TCP, hp, strlen(hp));
	sl_route_push_back(&r->to, SL_ADDR_LOCAL, "api", 3);
	t0 = now_s();
	c0 = cpu_s();
	sl_shard_call(a->n, 0, hs_start_call, r);
	while (atomic_load_explicit(&r->done, memory_order_acquire) < n)
		usleep(1000);
	t1 = now_s();
	last_cpu_us = (cpu_s() - c0) * 1e6 / n;
	errors = atomic_load(&r->errors);
	if (errors)
		fprintf(stderr, "bench_secure: %u of %u handshakes failed\n", errors, n);
	free(r);
	return n / (t1 - t0);
}

/* Messages: a pump on A's shard, re-armed by a zero timer. */

struct pump {
	struct sl_timer timer;
	struct sl_route to;
	size_t size;
	uint64_t sent, window;
	_Atomic bool stop;
};

static struct pump pump;

static void pump_fire(struct sl_timer *t)
{
	struct sl_shard *s = t->shard;

	for (unsigned i = 0; i < 256; i++) {
		struct sl_msg *m;

		if (pump.sent - atomic_load_explicit(&sunk.n, memory_order_relaxed) >= pump.window)
			break;
		m = sl_msg_alloc(pump.size);
		if (!m)
			break;		/* pool at its cap: the window is too wide for it */
		m->len = (uint32_t)pump.size;
		sl_route_copy(&m->onward, &pump.to);
		sl_send(s, m);
		pump.sent++;
	}
	if (!atomic_load(&pump.stop))
		sl_timer_arm(s, t, 0);
}

static void pump_start_call(struct sl_shard *s, void *arg)
{
	pump.timer.fire = pump_fire;
	sl_timer_arm(s, &pump.timer, 0);
}

static _Atomic bool pump_stopped;

static void pump_stop_call(struct sl_shard *s, void *arg)
{
	sl_timer_cancel(&pump.timer);
	atomic_store(&pump_stopped, true);
}

static double run_messages(struct bnode *a, const char *chan, size_t size, double seconds)
{
	uint64_t r0, r1;
	double t0, t1, c0;

	memset(&pump, 0, sizeof(pump));
	pump.size = size;
	pump.window = size <= 1024 ? 4096 : 256;
	sl_route_init(&pump.to);
	sl_route_push_back(&pump.to, SL_ADDR_LOCAL, chan, SL_RANDOM_ADDR_LEN);
	sl_route_push_back(&pump.to, SL_ADDR_LOCAL, "sink", 4);
	pump.sent = atomic_load(&sunk.n);
	sl_shard_call(a->n, 0, pump_start_call, NULL);
	usleep(200000);		/* warm up */
	r0 = atomic_load(&sunk.n);
	t0 = now_s();
	c0 = cpu_s();
	usleep((useconds_t)(seconds * 1e6));
	r1 = atomic_load(&sunk.n);
	t1 = now_s();
	/* includes the pump's own work and its spinning on a full window */
	last_cpu_us = (cpu_s() - c0) * 1e6 / (double)(r1 - r0 ? r1 - r0 : 1);
	atomic_store(&pump.stop, true);
	atomic_store(&pump_stopped, false);
	while (sl_shard_call(a->n, 0, pump_stop_call, NULL))
		usleep(1000);	/* control queue full: it will have room */
	/*
	 * The next run's memset must not clear a timer still in the shard's
	 * heap (it fired a NULL fire() now and then): wait for the cancel.
	 */
	while (!atomic_load(&pump_stopped))
		usleep(1000);
	/* drain what is in flight */
	for (int i = 0; i < 200 && atomic_load(&sunk.n) != pump.sent; i++)
		usleep(10000);
	return (double)(r1 - r0) / (t1 - t0);
}

/* Is size in the comma-separated list (NULL: every size)? */
static bool size_wanted(const char *list, size_t size)
{
	char *end;

	while (list && *list) {
		if (strtoul(list, &end, 10) == size)
			return true;
		list = *end == ',' ? end + 1 : end + strlen(end);
	}
	return !list;
}

int main(int argc, char **argv)
{
	unsigned channels = 10000, handshakes = 4000;
	static const size_t sizes[] = { 64, 1024, 16384 };
	char (*addrs)[SL_RANDOM_ADDR_LEN + 1];
	double seconds = 2, hs_rate, hs_cpu, keep_rate, rates[3], msg_cpu[3] = { 0 };
	struct bnode a, b;
	bool json = false;
	const char *aead = "auto", *only = NULL;
	enum sl_aead_backend be;
	long rss0, rss1;
	size_t heap0, heap1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--channels") && i + 1 < argc)
			channels = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--handshakes") && i + 1 < argc)
			handshakes = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--aead") && i + 1 < argc)
			aead = argv[++i];
		else if (!strcmp(argv[i], "--sizes") && i + 1 < argc)
			only = argv[++i];
		else {
			fprintf(stderr, "usage: bench_secure [--json] [--seconds S] [--channels N] "
					"[--handshakes N] [--aead auto|sodium|gcrypt|ipsec-mb] [--sizes 64,1024,16384]\n");
			return 2;
		}
	}
	if (!sl_aead_available()) {
		fprintf(stderr, "bench_secure: AES-GCM needs AES-NI, which this CPU lacks\n");
		return 1;
	}
	if (sl_aead_backend_parse(aead, &be) || sl_aead_pick_backend(be)) {
		fprintf(stderr, "bench_secure: --aead %s: use auto, sodium, gcrypt or ipsec-mb (if usable here)\n",
			aead);
		return 2;
	}
	if (!sl_uring_available()) {
		fprintf(stderr, "bench_secure: io_uring is not available here\n");
		return 1;
	}
	bnode_up(&a, "a", 0);
	bnode_up(&b, "b", 1);
	addrs = calloc(channels + 1, sizeof(*addrs));

	/* Warm up (pools, connections), then the handshake rate. */
	run_handshakes(&a, &b, 500, false, NULL);
	heap0 = mallinfo2().uordblks;
	hs_rate = run_handshakes(&a, &b, handshakes, false, NULL);
	hs_cpu = last_cpu_us;
	usleep(300000);		/* Closes land */
	if (getenv("BENCH_SECURE_DEBUG"))
		fprintf(stderr, "heap growth per open+close handshake: %.0f\n",
			(double)(mallinfo2().uordblks - heap0) / handshakes);

	rss0 = rss_bytes();
	heap0 = mallinfo2().uordblks;
	keep_rate = run_handshakes(&a, &b, channels, true, addrs);
	usleep(300000);
	rss1 = rss_bytes();
	heap1 = mallinfo2().uordblks;
	if (getenv("BENCH_SECURE_DEBUG"))
		fprintf(stderr, "heap in use per channel (main arena only): %.0f\n",
			(double)(heap1 - heap0) / channels);

	for (int i = 0; i < 3; i++) {
		struct sl_net_stats s0, s1;

		sl_net_stats(a.net, &s0);
		rates[i] = size_wanted(only, sizes[i]) ?
			   run_messages(&a, addrs[0], sizes[i], seconds) : 0;
		msg_cpu[i] = rates[i] ? last_cpu_us : 0;
		sl_net_stats(a.net, &s1);
		/* TCP batching on the sending node: frames per sendmsg */
		if (rates[i] && getenv("BENCH_SECURE_DEBUG"))
			fprintf(stderr, "%zu B: %.1f frames per sendmsg\n", sizes[i],
				(double)(s1.tx_frames - s0.tx_frames) /
					(double)(s1.sendmsg_calls - s0.sendmsg_calls + 1));
	}

	if (json) {
		printf("{\"aead\":\"%s\",\"handshakes_per_s\":%.0f,\"handshakes_per_s_kept\":%.0f,"
		       "\"channels\":%u,\"rss_per_channel_bytes\":%.0f,"
		       "\"messages_per_s\":{\"64\":%.0f,\"1024\":%.0f,\"16384\":%.0f},"
		       "\"mbit_per_s\":{\"64\":%.0f,\"1024\":%.0f,\"16384\":%.0f},"
		       "\"cpu_us_per_handshake\":%.1f,"
		       "\"cpu_us_per_message\":{\"64\":%.3f,\"1024\":%.3f,\"16384\":%.3f}}\n",
		       sl_aead_backend_name(), hs_rate, keep_rate, channels, (double)(rss1 - rss0) / channels,
		       rates[0], rates[1], rates[2], rates[0] * 64 * 8 / 1e6,
		       rates[1] * 1024 * 8 / 1e6, rates[2] * 16384 * 8 / 1e6, hs_cpu,
		       msg_cpu[0], msg_cpu[1], msg_cpu[2]);
	} else {
		printf("AEAD backend                             %10s\n", sl_aead_backend_name());
		printf("handshakes/s (open+close, 256 in flight)  %10.0f\n", hs_rate);
		printf("  CPU per handshake (both sides)          %10.1f us\n", hs_cpu);
		printf("handshakes/s (kept, %u channels)       %10.0f\n", channels, keep_rate);
		printf("RSS per established channel (both ends)  %10.0f bytes\n",
		       (double)(rss1 - rss0) / channels);
		for (int i = 0; i < 3; i++) {
			if (!size_wanted(only, sizes[i]))
				continue;	/* not run: no row */
			printf("messages/s at %5zu B                     %10.0f  (%.0f Mbit/s, %.3f CPU-us/msg)\n",
			       sizes[i], rates[i], rates[i] * (double)sizes[i] * 8 / 1e6, msg_cpu[i]);
		}
	}
	/* the numbers survive whatever the teardown does (stdout is a pipe: buffered) */
	fflush(stdout);
	bnode_down(&a);
	bnode_down(&b);
	free(addrs);
	return 0;
}
