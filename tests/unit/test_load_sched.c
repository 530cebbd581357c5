// SPDX-License-Identifier: Apache-2.0
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "tools/load/histogram.h"
#include "tools/load/load_sched.h"

TestSuite(load_sched, .timeout = 20);

#define MS 1000000ull
#define S 1000000000ull

Test(load_sched, constant_rate_intended_times)
{
	struct sl_sched s;
	static const double rates[] = { 1, 999, 2000, 20000, 1e6, 3.3e6 };

	for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
		sl_sched_init(&s, 5 * S, 0, rates[r], 0);
		cr_assert_eq(sl_sched_intended(&s, 0), 5 * S);
		for (uint64_t k = 1; k < 100000; k = k * 3 + 1) {
			double want = 5e9 + (double)k * 1e9 / rates[r];

			cr_assert(fabs((double)sl_sched_intended(&s, k) - want) <= 1, "rate %g k %lu",
				  rates[r], k);
		}
		/* 10 s at the rate: exactly rate*10 sends due, plus the one at t=0 */
		cr_assert_eq(sl_sched_due(&s, 15 * S), (uint64_t)(rates[r] * 10) + 1, "rate %g", rates[r]);
		cr_assert_eq(sl_sched_due(&s, 5 * S - 1), 0);
		cr_assert_eq(sl_sched_due(&s, 5 * S), 1);
	}
}

Test(load_sched, due_and_intended_agree)
{
	struct sl_sched s;

	sl_sched_init(&s, 0, 1000, 200000, 3 * S);
	for (uint64_t k = 0; k < 700000; k += 1237) {
		uint64_t t = sl_sched_intended(&s, k);

		cr_assert_eq(sl_sched_due(&s, t), k + 1, "k %lu", k);
		if (t)
			cr_assert_leq(sl_sched_due(&s, t - 1), k, "k %lu", k);
		cr_assert_gt(sl_sched_intended(&s, k + 1), t, "times strictly increase");
	}
}

Test(load_sched, ramp_counts)
{
	struct sl_sched s;
	uint64_t due;

	/* 1,000 -> 200,000/s over 30 s: (1000 + 200000) / 2 * 30 = 3,015,000 in the ramp */
	sl_sched_init(&s, 0, 1000, 200000, 30 * S);
	due = sl_sched_due(&s, 30 * S);
	cr_assert(llabs((long long)due - 3015000) <= 1, "due %lu", due);
	/* the first second: 1000 + 199000/30/2 = 4316.7 */
	due = sl_sched_due(&s, S);
	cr_assert(llabs((long long)due - 4317) <= 1, "due %lu", due);
	/* then flat at 200,000/s */
	due = sl_sched_due(&s, 31 * S) - sl_sched_due(&s, 30 * S);
	cr_assert(llabs((long long)due - 200000) <= 1, "due %lu", due);
	cr_assert(fabs(sl_sched_rate_at(&s, 15 * S) - 100500) < 1);
	cr_assert(fabs(sl_sched_rate_at(&s, 40 * S) - 200000) < 1e-6);
	/* a ramp down works the same */
	sl_sched_init(&s, 0, 10000, 1000, 10 * S);
	due = sl_sched_due(&s, 10 * S);
	cr_assert(llabs((long long)due - 55000) <= 1, "due %lu", due);
}

/*
 * The coordinated-omission case, on a fake clock: a generator asked for
 * 1,000/s against a target that answers in 1 ms; the generator (or the
 * path to the target: same effect) stalls for 200 ms at t = 1 s. The sends
 * due during the stall go out late, all at once, and their latency counts
 * from their intended times: ~200 samples between 1 and 200 ms. Measured
 * from the actual send, the stall would vanish.
 */
Test(load_sched, stall_shows_in_latency_from_intended_time)
{
	struct sl_sched s;
	struct sl_hist *from_intended = malloc(sizeof(*from_intended));
	struct sl_hist *from_actual = malloc(sizeof(*from_actual));
	uint64_t t, intended, taken = 0, late = 0;

	sl_hist_init(from_intended);
	sl_hist_init(from_actual);
	sl_sched_init(&s, 0, 0, 1000, 0);
	for (t = 0; t < 3 * S; t += 10000) {	/* the generator's loop, every 10 us */
		if (t >= 1 * S && t < 1 * S + 200 * MS)
			continue;		/* stalled */
		while (sl_sched_take(&s, t, &intended)) {
			uint64_t done = t + 1 * MS;	/* the target's answer */

			sl_hist_record(from_intended, (done - intended) / 1000);
			sl_hist_record(from_actual, (done - t) / 1000);
			late += t - intended > 5 * MS;
			taken++;
		}
	}
	cr_assert_eq(taken, 3000, "every due send is sent, none omitted: %lu", taken);
	cr_assert(late >= 195 && late <= 200, "late sends %lu", late);
	cr_assert_geq(from_intended->max, 200000, "max %lu us", from_intended->max);
	cr_assert_geq(sl_hist_percentile(from_intended, 99), 150000);
	cr_assert_geq(sl_hist_percentile(from_intended, 95), 40000);
	cr_assert_leq(sl_hist_percentile(from_intended, 50), 1020);
	/* the uncorrected measure hides it entirely */
	cr_assert_leq(from_actual->max, 1010);
	free(from_intended);
	free(from_actual);
}

/*
 * A window of one in flight (a target that answers one at a time, as a
 * closed loop would): while the target stalls for 200 ms the schedule
 * keeps its intended times, so the backlog's latencies include the wait.
 */
Test(load_sched, full_window_keeps_intended_times)
{
	struct sl_sched s;
	struct sl_hist *h = malloc(sizeof(*h));
	uint64_t t, intended, busy_until = 0, taken = 0;

	sl_hist_init(h);
	sl_sched_init(&s, 0, 0, 1000, 0);
	for (t = 0; t < 2 * S; t += 10000) {
		while (t >= busy_until && sl_sched_take(&s, t, &intended)) {
			/* 100 us per answer; the one sent at 500 ms takes 200 ms */
			uint64_t svc = intended == 500 * MS ? 200 * MS : 100000;

			busy_until = t + svc;
			sl_hist_record(h, (busy_until - intended) / 1000);
			taken++;
		}
	}
	cr_assert_eq(taken, 2000);
	cr_assert_geq(h->max, 200000);
	/* the ~200 sends queued behind the stall each waited part of it */
	cr_assert_geq(sl_hist_percentile(h, 95), 50000, "p95 %lu", sl_hist_percentile(h, 95));
	cr_assert_leq(sl_hist_percentile(h, 50), 200);
	free(h);
}
