// SPDX-License-Identifier: Apache-2.0
#include <criterion/criterion.h>
#include <stdlib.h>

#include "engine/shard.h"
#include "engine/timer.h"
#include "tests/unit/sl_test_node.h"

TestSuite(timer, .timeout = 10);

struct rec {
	struct sl_timer t;
	int id;
	int *log;
	int *nlog;
};

static void rec_fire(struct sl_timer *t)
{
	struct rec *r = (struct rec *)t;

	r->log[(*r->nlog)++] = r->id;
}

Test(timer, heap_fires_in_deadline_order)
{
	struct sl_shard *s = calloc(1, sizeof(*s));
	enum { N = 2000 };
	struct rec *r = calloc(N, sizeof(*r));
	int *log = calloc(N, sizeof(int)), nlog = 0;

	cr_assert_eq(sl_timers_init(s), 0);
	srand(7);
	for (int i = 0; i < N; i++) {
		r[i].t.fire = rec_fire;
		r[i].id = i;
		r[i].log = log;
		r[i].nlog = &nlog;
		sl_timer_arm(s, &r[i].t, (uint64_t)(rand() % 100000) * 1000 + 1000000000ull);
	}
	/* Cancel every third, re-arm every fifth (heap positions move). */
	for (int i = 0; i < N; i += 3)
		sl_timer_cancel(&r[i].t);
	for (int i = 1; i < N; i += 5)
		if (i % 3)
			sl_timer_arm(s, &r[i].t, (uint64_t)(rand() % 100000) * 1000 + 1000000000ull);
	cr_assert_eq(sl_timers_run(s, 0), 0, "nothing is due at time 0");
	while (sl_timers_run(s, UINT64_MAX))
		;
	for (int i = 1; i < nlog; i++)
		cr_assert_leq(r[log[i - 1]].t.deadline, r[log[i]].t.deadline, "out of order at %d", i);
	for (int i = 0; i < nlog; i++)
		cr_assert_neq(log[i] % 3, 0, "a cancelled timer fired");
	cr_assert_eq(nlog, N - (N + 2) / 3);
	cr_assert_eq(sl_timers_next(s), UINT64_MAX);
	sl_timers_destroy(s);
	free(r);
	free(log);
	free(s);
}

static int fired_log[8];
static int fired_n;
static struct rec shard_recs[3];

static void arm_three(struct sl_shard *s, void *arg)
{
	static const int ms[3] = { 60, 20, 40 };

	for (int i = 0; i < 3; i++) {
		shard_recs[i].t.fire = rec_fire;
		shard_recs[i].id = i;
		shard_recs[i].log = fired_log;
		shard_recs[i].nlog = &fired_n;
		sl_timer_arm(s, &shard_recs[i].t, (uint64_t)ms[i] * 1000000);
	}
	sl_timer_cancel(&shard_recs[2].t);
}

static void read_n(struct sl_shard *s, void *arg)
{
	*(int *)arg = fired_n;
}

Test(timer, fire_on_a_sleeping_shard)
{
	struct sl_node_config cfg = { .shards = 1, .no_pin = true };
	struct sl_node *n = sl_node_create(&cfg);
	int got = 0;

	cr_assert_not_null(n);
	cr_assert_eq(sl_node_start(n), 0);
	cr_assert_eq(call_on_shard(n, 0, arm_three, NULL), 0);
	for (int i = 0; i < 100 && got < 2; i++) {
		sleep_ms(10);
		call_on_shard(n, 0, read_n, &got);
	}
	sleep_ms(50);
	call_on_shard(n, 0, read_n, &got);
	cr_assert_eq(got, 2);
	cr_assert_eq(fired_log[0], 1);
	cr_assert_eq(fired_log[1], 0);
	sl_node_stop(n);
	sl_node_join(n);
	sl_node_destroy(n);
}

static void nop(struct sl_shard *s, void *arg)
{
	(void)s;
	(void)arg;
}

static double cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * A shard that busy-polls after work (spin_us) still goes to sleep once the
 * work stops: over 300 ms of quiet the process uses a few ms of CPU, not 300.
 */
Test(timer, a_spinning_shard_sleeps_when_idle)
{
	struct sl_node_config cfg = { .shards = 2, .no_pin = true, .spin_us = 1000 };
	struct sl_node *n = sl_node_create(&cfg);
	struct sl_shard_stats st0, st1;
	double c0, c1;

	cr_assert_not_null(n);
	cr_assert_eq(sl_node_start(n), 0);
	for (int i = 0; i < 200; i++)
		cr_assert_eq(call_on_shard(n, (unsigned)i % 2, nop, NULL), 0);
	sleep_ms(20);
	sl_node_stats_total(n, &st0);
	c0 = cpu_ms();
	sleep_ms(300);
	c1 = cpu_ms();
	sl_node_stats_total(n, &st1);
	cr_assert_lt(c1 - c0, 60.0, "idle shards used %.1f ms of CPU in 300 ms", c1 - c0);
	cr_assert_geq(st0.sleeps, 2, "each shard slept after its spin");
	sl_node_stop(n);
	sl_node_join(n);
	sl_node_destroy(n);
}
