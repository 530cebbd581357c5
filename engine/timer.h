/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Timers, per shard, fired on the shard's thread (timer.c). A timer is
 * embedded in its owner's struct; arming an armed timer re-arms it. The heap
 * holds pointers, so arm and cancel allocate nothing (but the rare growth).
 */
#ifndef SL_TIMER_H
#define SL_TIMER_H

#include <stdbool.h>
#include <stdint.h>

struct sl_shard;

struct sl_timer {
	uint64_t deadline;			/* monotonic ns */
	void (*fire)(struct sl_timer *t);
	struct sl_shard *shard;
	uint32_t slot;				/* engine-private position in the shard's heap */
	bool armed;
};

/* On s's thread: fire t after delay_ns (from this turn's sl_now_ns()). */
void sl_timer_arm(struct sl_shard *s, struct sl_timer *t, uint64_t delay_ns);
void sl_timer_cancel(struct sl_timer *t);

/* The shard's heap: for the shard's life cycle and loop (node.c, shard.c). */
int sl_timers_init(struct sl_shard *s);
void sl_timers_destroy(struct sl_shard *s);
/* Fire every timer due by now (bounded per turn). Count fired. */
unsigned sl_timers_run(struct sl_shard *s, uint64_t now);
/* Deadline of the earliest armed timer, UINT64_MAX when none. */
uint64_t sl_timers_next(const struct sl_shard *s);

#endif
