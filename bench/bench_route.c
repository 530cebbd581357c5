// SPDX-License-Identifier: Apache-2.0
/*
 * bench_route: two in-process nodes over loopback TCP, one shard each, each
 * pinned to its own CPU.
 *
 *   rtt        64-byte request/response through n1 -> n2 -> uppercase -> n1,
 *              one in flight; p50/p99/p99.9 in microseconds.
 *   throughput one-way messages/s through one TCP hop (n1 generator -> n2
 *              sink), 64 B and 16 KiB payloads, credit-based (the sink acks
 *              every ACK_SMALL/ACK_BIG messages) so nothing is dropped.
 *
 * Usage: bench_route [--json] [--seconds S] [--spin US]
 * (--spin: shards busy-poll this long before sleeping; trades CPU for latency.)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/bare.h"
#include "engine/node.h"
#include "engine/router.h"
#include "engine/timer.h"
#include "engine/worker.h"
#include "transports/uring.h"

#define ACK_SMALL 1024u	/* sink acks every this many 64 B messages */
#define ACK_BIG 64u		/* ... and 16 KiB ones (the big pool class holds 512) */
#define RTT_MAX 2000000u

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct bnode {
	struct sl_node *n;
	struct sl_net *net;
	uint16_t port;
	char addr[64];
};

static unsigned spin_us;

static void bnode_up(struct bnode *b, const char *name, unsigned cpu)
{
	struct sl_node_config cfg = { .name = name, .shards = 1, .cpu_base = cpu, .spin_us = spin_us };

	memset(b, 0, sizeof(*b));
	b->n = sl_node_create(&cfg);
	b->net = b->n ? sl_net_create(b->n, NULL) : NULL;
	if (!b->net || sl_net_listen_tcp(b->net, "127.0.0.1:0", &b->port) ||
	    sl_services_start(b->n)) {
		fprintf(stderr, "bench_route: cannot set up node %s (is io_uring available?)\n", name);
		exit(1);
	}
	snprintf(b->addr, sizeof(b->addr), "127.0.0.1:%u", b->port);
}

static void bnode_down(struct bnode *b)
{
	sl_node_stop(b->n);
	sl_node_join(b->n);
	sl_net_destroy(b->net);
	sl_node_destroy(b->n);
}

/* ---- rtt ---- */

struct pinger {
	struct sl_worker w;
	const char *peer;	/* n2's host:port */
	uint64_t t0, deadline;
	uint64_t *lat;
	unsigned n, warm;
	int done;
};

static void ping_send(struct pinger *p, struct sl_msg *m)
{
	static const char body[63] = "the quick brown fox jumps over the lazy dog, 64 bytes in all..";

	m->data = m->buf + SL_MSG_HEADROOM;
	m->len = (uint32_t)sl_bare_put_bytes(m->data, 64, body, sizeof(body));
	sl_route_init(&m->onward);
	sl_route_init(&m->ret);
	sl_route_push_back(&m->onward, SL_ADDR_TCP, p->peer, strlen(p->peer));
	sl_route_push_back(&m->onward, SL_ADDR_LOCAL, "uppercase", 9);
	sl_route_push_back(&m->ret, SL_ADDR_LOCAL, p->w.addr, p->w.addr_len);
	p->t0 = mono_ns();
	sl_send(p->w.shard, m);
}

static void ping_handle(struct sl_worker *w, struct sl_msg *m)
{
	struct pinger *p = w->ctx;
	uint64_t now = mono_ns();

	if (p->warm)
		p->warm--;
	else if (p->n < RTT_MAX)
		p->lat[p->n++] = now - p->t0;
	if (now >= p->deadline || p->n == RTT_MAX) {
		sl_msg_free(m);
		__atomic_store_n(&p->done, 1, __ATOMIC_RELEASE);
		return;
	}
	ping_send(p, m);	/* the reply's buffer carries the next request */
}

static void ping_start(struct sl_shard *s, void *arg)
{
	struct pinger *p = arg;

	p->w.handle = ping_handle;
	p->w.ctx = p;
	sl_worker_start(s, &p->w, "pinger");
	ping_send(p, sl_msg_alloc(64));
}

static void ping_stop(struct sl_shard *s, void *arg)
{
	sl_worker_stop(arg);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct rtt_result {
	unsigned samples;
	double p50, p99, p999;
};

static void run_rtt(struct bnode *n1, struct bnode *n2, double seconds, struct rtt_result *r)
{
	struct pinger p = { .peer = n2->addr, .warm = 2000 };

	p.lat = malloc(RTT_MAX * sizeof(*p.lat));
	p.deadline = mono_ns() + (uint64_t)(seconds * 1e9);
	sl_shard_call(n1->n, 0, ping_start, &p);
	while (!__atomic_load_n(&p.done, __ATOMIC_ACQUIRE)) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	sl_shard_call(n1->n, 0, ping_stop, &p.w);
	{
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	qsort(p.lat, p.n, sizeof(*p.lat), cmp_u64);
	r->samples = p.n;
	r->p50 = p.n ? p.lat[p.n / 2] / 1e3 : 0;
	r->p99 = p.n ? p.lat[(size_t)(p.n * 0.99)] / 1e3 : 0;
	r->p999 = p.n ? p.lat[(size_t)(p.n * 0.999)] / 1e3 : 0;
	free(p.lat);
}

/* ---- throughput ---- */

struct sink {
	struct sl_worker w;
	uint64_t ack_every;
	uint64_t count;		/* read by the main thread */
	uint64_t bytes;
};

static void sink_handle(struct sl_worker *w, struct sl_msg *m)
{
	struct sink *k = w->ctx;
	uint64_t c = k->count + 1;

	__atomic_store_n(&k->count, c, __ATOMIC_RELAXED);
	__atomic_store_n(&k->bytes, k->bytes + m->len, __ATOMIC_RELAXED);
	if (c % k->ack_every == 0) {
		m->len = 0;
		sl_reply(w, m);	/* one credit grant per ack_every messages */
		return;
	}
	sl_msg_free(m);
}

struct gen {
	struct sl_worker w;
	struct sl_timer t;
	const char *peer;
	size_t size;
	int64_t credit;
	int64_t ack_every;
	int stop;
	uint64_t sent;
};

static void gen_fire(struct sl_timer *t)
{
	struct gen *g = (struct gen *)((char *)t - offsetof(struct gen, t));
	struct sl_shard *s = g->w.shard;

	if (__atomic_load_n(&g->stop, __ATOMIC_ACQUIRE))
		return;
	for (unsigned i = 0; i < 256 && g->credit > 0; i++) {
		struct sl_msg *m = sl_msg_alloc(g->size);

		if (!m)
			break;	/* pool at its cap: the transport is behind, try next turn */
		memset(m->data, 'x', g->size);
		m->len = (uint32_t)g->size;
		sl_route_push_back(&m->onward, SL_ADDR_TCP, g->peer, strlen(g->peer));
		sl_route_push_back(&m->onward, SL_ADDR_LOCAL, "sink", 4);
		sl_route_push_back(&m->ret, SL_ADDR_LOCAL, g->w.addr, g->w.addr_len);
		sl_send(s, m);
		g->credit--;
		g->sent++;
	}
	sl_timer_arm(s, &g->t, 0);
}

static void gen_handle(struct sl_worker *w, struct sl_msg *m)
{
	struct gen *g = w->ctx;

	g->credit += g->ack_every;
	sl_msg_free(m);
}

static void gen_start(struct sl_shard *s, void *arg)
{
	struct gen *g = arg;

	g->w.handle = gen_handle;
	g->w.ctx = g;
	g->t.fire = gen_fire;
	sl_worker_start(s, &g->w, "gen");
	sl_timer_arm(s, &g->t, 0);
}

static void gen_stop(struct sl_shard *s, void *arg)
{
	struct gen *g = arg;

	sl_timer_cancel(&g->t);
	sl_worker_stop(&g->w);
}

static void sink_start(struct sl_shard *s, void *arg)
{
	struct sink *k = arg;

	k->w.handle = sink_handle;
	k->w.ctx = k;
	sl_worker_start(s, &k->w, "sink");
}

static void sink_stop(struct sl_shard *s, void *arg)
{
	sl_worker_stop(arg);
}

struct tput_result {
	size_t size;
	double msgs_per_s;
	double gbit_per_s;
	double frames_per_sendmsg;
};

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };

	nanosleep(&ts, NULL);
}

static void run_tput(struct bnode *n1, struct bnode *n2, size_t size, double seconds,
		     struct tput_result *r)
{
	struct sink k = { 0 };
	struct gen g = { .peer = n2->addr, .size = size };
	struct sl_net_stats a, b;
	uint64_t c0, c1, t0, t1;

	/* Window: enough in flight to fill the pipe, within the pools' caps. */
	k.ack_every = size <= 2048 ? ACK_SMALL : ACK_BIG;
	g.ack_every = (int64_t)k.ack_every;
	g.credit = size <= 2048 ? 32 * ACK_SMALL : 4 * ACK_BIG;
	sl_shard_call(n2->n, 0, sink_start, &k);
	sleep_s(0.02);
	sl_shard_call(n1->n, 0, gen_start, &g);
	sleep_s(0.3);	/* warm-up: connection, pools, caches */
	sl_net_stats(n1->net, &a);
	c0 = __atomic_load_n(&k.count, __ATOMIC_RELAXED);
	t0 = mono_ns();
	sleep_s(seconds);
	c1 = __atomic_load_n(&k.count, __ATOMIC_RELAXED);
	t1 = mono_ns();
	sl_net_stats(n1->net, &b);
	__atomic_store_n(&g.stop, 1, __ATOMIC_RELEASE);
	sleep_s(0.1);
	sl_shard_call(n1->n, 0, gen_stop, &g);
	sleep_s(0.2);
	sl_shard_call(n2->n, 0, sink_stop, &k.w);
	sleep_s(0.05);
	r->size = size;
	r->msgs_per_s = (double)(c1 - c0) / ((double)(t1 - t0) / 1e9);
	r->gbit_per_s = r->msgs_per_s * (double)size * 8 / 1e9;
	r->frames_per_sendmsg = b.sendmsg_calls > a.sendmsg_calls ?
		(double)(b.tx_frames - a.tx_frames) / (double)(b.sendmsg_calls - a.sendmsg_calls) : 0;
}

int main(int argc, char **argv)
{
	struct rtt_result rtt;
	struct tput_result tp[2];
	struct bnode n1, n2;
	double secs = 3;
	bool json = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			secs = atof(argv[++i]);
		else if (!strcmp(argv[i], "--spin") && i + 1 < argc)
			spin_us = (unsigned)atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: %s [--json] [--seconds S] [--spin US]\n", argv[0]);
			return 2;
		}
	}
	if (!getenv("SLUICE_LOG"))
		setenv("SLUICE_LOG", "warn", 1);
	bnode_up(&n1, "n1", 0);
	bnode_up(&n2, "n2", 1);
	if (sl_node_start(n1.n) || sl_node_start(n2.n)) {
		fprintf(stderr, "bench_route: cannot start the nodes\n");
		return 1;
	}
	run_rtt(&n1, &n2, secs, &rtt);
	run_tput(&n1, &n2, 64, secs, &tp[0]);
	run_tput(&n1, &n2, 16384, secs, &tp[1]);
	bnode_down(&n1);
	bnode_down(&n2);

	if (json) {
		printf("{\"spin_us\":%u,\"rtt_64B_us\":{\"samples\":%u,\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f},"
		       "\"throughput\":[", spin_us, rtt.samples, rtt.p50, rtt.p99, rtt.p999);
		for (int i = 0; i < 2; i++)
			printf("%s{\"size\":%zu,\"msgs_per_s\":%.0f,\"gbit_per_s\":%.2f,"
			       "\"frames_per_sendmsg\":%.1f}", i ? "," : "", tp[i].size,
			       tp[i].msgs_per_s, tp[i].gbit_per_s, tp[i].frames_per_sendmsg);
		printf("]}\n");
		return 0;
	}
	printf("bench_route: two nodes, one shard each (CPU 0, CPU 1), loopback TCP, %.0f s per run, spin %u us\n\n",
	       secs, spin_us);
	printf("| path | samples | p50 us | p99 us | p99.9 us |\n|---|---|---|---|---|\n");
	printf("| 64 B request/response n1 -> n2 -> uppercase | %u | %.1f | %.1f | %.1f |\n\n",
	       rtt.samples, rtt.p50, rtt.p99, rtt.p999);
	printf("| one TCP hop, one way | msgs/s | Gbit/s | frames/sendmsg |\n|---|---|---|---|\n");
	for (int i = 0; i < 2; i++)
		printf("| %zu B | %.0f | %.2f | %.1f |\n", tp[i].size, tp[i].msgs_per_s,
		       tp[i].gbit_per_s, tp[i].frames_per_sendmsg);
	return 0;
}
