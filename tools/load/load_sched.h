/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The open-loop send schedule of `sluice load`: send k is due at a fixed
 * intended time, whatever happened to the sends before it. Latency is
 * measured from that intended time, not from when the send went out, so a
 * target (or a generator) that stalls shows as the delay of every send that
 * was due during the stall, as wrk2 does; measuring from the actual send
 * would hide it (coordinated omission).
 *
 * The rate goes linearly from r0 to r1 over the ramp, then stays at r1:
 *   N(t) = r0 t + (r1 - r0) t^2 / (2 T)     for t <= T (sends due by t)
 *   N(t) = N(T) + r1 (t - T)                after
 * and send k is due at N^-1(k), computed in closed form (no drift).
 *
 * Pure: times are passed in (monotonic ns), so it is tested with a fake clock.
 */
#ifndef SL_LOAD_SCHED_H
#define SL_LOAD_SCHED_H

#include <stdbool.h>
#include <stdint.h>

struct sl_sched {
	uint64_t start_ns;
	double r0, r1;		/* sends per second at start and after the ramp */
	double ramp_s;		/* 0: constant r1 */
	uint64_t next;		/* index of the next send */
	uint64_t next_ns;	/* its intended time: computed once, read on every check */
};

/* r1 > 0; r0 is used only with a ramp (ramp_ns > 0). */
void sl_sched_init(struct sl_sched *s, uint64_t start_ns, double r0, double r1, uint64_t ramp_ns);
/* Intended time of send k. */
uint64_t sl_sched_intended(const struct sl_sched *s, uint64_t k);
/* Sends due by now (intended time <= now). */
uint64_t sl_sched_due(const struct sl_sched *s, uint64_t now);
/* The rate asked at now, sends per second. */
double sl_sched_rate_at(const struct sl_sched *s, uint64_t now);

/*
 * The next send if it is due by now: true with *intended its intended time,
 * and the schedule moves on; false when it is not due yet. A sender that
 * cannot send (a full window) simply does not call this: the due sends wait
 * with their intended times kept.
 */
bool sl_sched_take(struct sl_sched *s, uint64_t now, uint64_t *intended);
/* Intended time of the next send (when to wake up). */
static inline uint64_t sl_sched_next_ns(const struct sl_sched *s)
{
	return s->next_ns;
}

#endif
