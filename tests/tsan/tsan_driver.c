// SPDX-License-Identifier: Apache-2.0
/*
 * ThreadSanitizer driver: the engine's cross-thread paths run hard from plain
 * threads, outside Criterion (whose forked workers and own threads TSan does not
 * follow well). Each part checks what it carried, so a lost or reordered item
 * fails the run even where TSan stays silent; a race TSan sees makes the
 * process exit 66 (its default exitcode).
 *   ring   one producer and one consumer thread, 1M items through a small ring
 *   route  a 2-shard node: messages injected from this thread cross shards both
 *          ways through uppercase (ring push, doorbell, pool return on free)
 *   call   4 threads at once run functions on both shards (the control queue)
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "engine/ring.h"
#include "tests/unit/sl_test_node.h"

#define RING_ITEMS 1000000u
#define ROUTE_MSGS 20000u
#define ROUTE_WINDOW 64u	/* in flight per direction: well under SL_CTL_MAX */
#define CALLERS 4
#define CALLS 2000u

static int failures;	/* in the part now running */

static void fail(const char *what)
{
	fprintf(stderr, "tsan_driver: FAIL %s\n", what);
	failures++;
}

/* Each part is one test case in the "Checks:" summary tools/count_tests.py reads. */
static unsigned parts_passed, parts_failed;

static void part_done(void)
{
	if (failures)
		parts_failed++;
	else
		parts_passed++;
	failures = 0;
}

/* ---- ring ---- */

static struct sl_ring ring;

static void *ring_producer(void *arg)
{
	for (uintptr_t i = 1; i <= RING_ITEMS; i++)
		while (!sl_ring_push_spsc(&ring, (void *)i))
			sched_yield();
	return NULL;
}

static void ring_part(void)
{
	pthread_t t;
	uintptr_t want = 1;
	void *p;

	if (sl_ring_init(&ring, 64)) {
		fail("ring init");
		return;
	}
	pthread_create(&t, NULL, ring_producer, NULL);
	while (want <= RING_ITEMS) {
		if (!sl_ring_pop_spsc(&ring, &p)) {
			sched_yield();
			continue;
		}
		if ((uintptr_t)p != want) {
			fail("ring: an item out of order");
			break;
		}
		want++;
	}
	pthread_join(t, NULL);
	sl_ring_destroy(&ring);
	printf("ring: %lu items in order\n", (unsigned long)(want - 1));
}

/* ---- route ---- */

/* Inject until the control queue takes it (inject frees m when it does not). */
static void inject(struct sl_node *n, unsigned shard, struct probe *reply_to, unsigned i)
{
	struct sl_route r;
	char text[32];

	route_from(&r, "uppercase", NULL);
	snprintf(text, sizeof(text), "hello %u", i);
	for (;;) {
		struct sl_msg *m = msg_bare(reply_to, &r, text);

		if (m && sl_node_inject(n, shard, m) == 0)
			return;
		sleep_ms(1);
	}
}

/* Sent on shard `from`, uppercased there, the reply crosses to the probe's shard. */
static unsigned route_one_way(struct sl_node *n, unsigned from, struct probe *p)
{
	unsigned sent = 0, got = 0;
	char want[32];

	while (got < ROUTE_MSGS) {
		while (sent < ROUTE_MSGS && sent - got < ROUTE_WINDOW)
			inject(n, from, p, sent++);
		struct sl_msg *m = probe_wait(p, 5000);

		if (!m) {
			fail("route: a reply did not come within 5 s");
			break;
		}
		snprintf(want, sizeof(want), "HELLO %u", got);
		if (strcmp(msg_text(m), want))
			fail("route: a reply out of order or altered");
		sl_msg_free(m);	/* from this thread: the pool's stray return */
		got++;
	}
	return got;
}

/* ---- call ---- */

struct call_ctx {
	struct sl_node *n;
	unsigned long count[2];	/* each touched only on its own shard's thread */
};

static void bump(struct sl_shard *s, void *arg)
{
	unsigned long *c = arg;

	(*c)++;
}

static void *caller(void *arg)
{
	struct call_ctx *c = arg;

	for (unsigned i = 0; i < CALLS; i++) {
		unsigned id = i & 1;

		while (call_on_shard(c->n, id, bump, &c->count[id]))
			sleep_ms(1);
	}
	return NULL;
}

int main(void)
{
	/* Small rings: a burst of replies fills them and waits in the sender's park. */
	struct sl_node_config cfg = { .name = "tsan", .shards = 2, .no_pin = true, .ring_size = 8 };
	struct sl_shard_stats st0, st1;
	struct call_ctx cc = { 0 };
	pthread_t t[CALLERS];
	struct probe p0, p1;
	struct sl_node *n;
	unsigned a, b;

	ring_part();
	part_done();

	n = sl_node_create(&cfg);
	if (!n || sl_services_start(n) || probe_start(&p0, n, 0, NULL) ||
	    probe_start(&p1, n, 1, NULL) || sl_node_start(n)) {
		fail("node start");
		printf("Checks: 3 | Passing: %u | Failing: %u\n", parts_passed, parts_failed + 2);
		return 1;
	}
	a = route_one_way(n, 0, &p1);
	b = route_one_way(n, 1, &p0);
	sl_node_stats(n, 0, &st0);
	sl_node_stats(n, 1, &st1);
	printf("route: %u replies 0->1, %u replies 1->0, %llu parked, %llu dropped\n", a, b,
	       (unsigned long long)(st0.ring_parked + st1.ring_parked),
	       (unsigned long long)(st0.drop_ring_full + st1.drop_ring_full));
	if (st0.drop_ring_full + st1.drop_ring_full)
		fail("route: a reply was dropped at a full ring");
	part_done();

	cc.n = n;
	for (int i = 0; i < CALLERS; i++)
		pthread_create(&t[i], NULL, caller, &cc);
	for (int i = 0; i < CALLERS; i++)
		pthread_join(t[i], NULL);
	/* Each call_on_shard waited for its function under a mutex: the counts are ours to read. */
	printf("call: %lu on shard 0, %lu on shard 1\n", cc.count[0], cc.count[1]);
	if (cc.count[0] + cc.count[1] != CALLERS * CALLS)
		fail("call: a function ran more or less often than called");
	part_done();

	sl_node_stop(n);
	sl_node_join(n);
	probe_drain(&p0);
	probe_drain(&p1);
	sl_worker_stop(&p0.w);
	sl_worker_stop(&p1.w);
	sl_node_destroy(n);
	printf("Checks: %u | Passing: %u | Failing: %u\n", parts_passed + parts_failed, parts_passed,
	       parts_failed);
	return parts_failed ? 1 : 0;
}
