// SPDX-License-Identifier: Apache-2.0
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#include "engine/ring.h"

TestSuite(ring, .timeout = 20);

#define P(i) ((struct sl_msg *)(uintptr_t)(i))

Test(ring, rejects_bad_size)
{
	struct sl_ring r;

	cr_assert_eq(sl_ring_init(&r, 0), -EINVAL);
	cr_assert_eq(sl_ring_init(&r, 100), -EINVAL);
	cr_assert_eq(sl_ring_init(&r, 2), -EINVAL);
}

Test(ring, holds_size_minus_one_in_order)
{
	struct sl_ring r;
	void *p;

	cr_assert_eq(sl_ring_init(&r, 8), 0);
	cr_assert_eq(sl_ring_capacity(&r), 7);
	cr_assert(sl_ring_empty(&r));
	for (uintptr_t i = 1; i <= 7; i++)
		cr_assert(sl_ring_push_spsc(&r, (void *)i), "push %lu", (unsigned long)i);
	cr_assert_not(sl_ring_push_spsc(&r, (void *)99), "push into a full ring succeeded");
	cr_assert_eq(sl_ring_count(&r), 7);
	for (uintptr_t i = 1; i <= 7; i++) {
		cr_assert(sl_ring_pop_spsc(&r, &p));
		cr_assert_eq((uintptr_t)p, i);
	}
	cr_assert_not(sl_ring_pop_spsc(&r, &p), "pop from an empty ring succeeded");
	sl_ring_destroy(&r);
}

Test(ring, burst_is_partial_when_nearly_full_and_wraps)
{
	struct sl_msg *in[16], *out[16];
	struct sl_ring r;

	for (unsigned i = 0; i < 16; i++)
		in[i] = P(i + 1);
	cr_assert_eq(sl_ring_init(&r, 16), 0);
	/* Move the indices near the wrap point first. */
	for (unsigned k = 0; k < 5; k++) {
		cr_assert_eq(sl_ring_push_burst_spsc(&r, in, 11), 11);
		cr_assert_eq(sl_ring_pop_burst_spsc(&r, out, 16), 11);
		for (unsigned i = 0; i < 11; i++)
			cr_assert_eq(out[i], in[i]);
	}
	cr_assert_eq(sl_ring_push_burst_spsc(&r, in, 10), 10);
	cr_assert_eq(sl_ring_push_burst_spsc(&r, in + 10, 6), 5, "burst must stop at capacity");
	cr_assert_eq(sl_ring_pop_burst_spsc(&r, out, 3), 3);
	cr_assert_eq(out[0], P(1));
	cr_assert_eq(sl_ring_pop_burst_spsc(&r, out, 16), 12);
	cr_assert_eq(out[11], P(15));
	cr_assert_eq(sl_ring_pop_burst_spsc(&r, out, 16), 0);
	sl_ring_destroy(&r);
}

#define STRESS_N 2000000u

static void *producer(void *arg)
{
	struct sl_ring *r = arg;
	struct sl_msg *v[32];
	uintptr_t next = 1;

	while (next <= STRESS_N) {
		unsigned n = 0;

		/* Vary burst sizes so partial bursts and wraps happen. */
		for (unsigned want = (unsigned)(next % 32) + 1; n < want && next + n <= STRESS_N; n++)
			v[n] = P(next + n);
		next += sl_ring_push_burst_spsc(r, v, n);
	}
	return NULL;
}

Test(ring, spsc_threads_see_every_item_once_in_order)
{
	struct sl_ring r;
	struct sl_msg *v[64];
	pthread_t t;
	uintptr_t expect = 1;

	cr_assert_eq(sl_ring_init(&r, 1024), 0);
	cr_assert_eq(pthread_create(&t, NULL, producer, &r), 0);
	while (expect <= STRESS_N) {
		unsigned n = sl_ring_pop_burst_spsc(&r, v, (unsigned)(expect % 64) + 1);

		for (unsigned i = 0; i < n; i++, expect++)
			cr_assert_eq((uintptr_t)v[i], expect, "item %lu out of order", (unsigned long)expect);
	}
	pthread_join(t, NULL);
	cr_assert(sl_ring_empty(&r));
	sl_ring_destroy(&r);
}
