// SPDX-License-Identifier: Apache-2.0
/* The open-loop schedule: intended send times in closed form (load_sched.h). */
#include <math.h>

#include "tools/load/load_sched.h"

void sl_sched_init(struct sl_sched *s, uint64_t start_ns, double r0, double r1, uint64_t ramp_ns)
{
	s->start_ns = start_ns;
	s->r1 = r1;
	s->ramp_s = (double)ramp_ns / 1e9;
	s->r0 = s->ramp_s > 0 ? r0 : r1;
	s->next = 0;
	s->next_ns = start_ns;	/* send 0 is due at the start */
}

/* Sends due by t seconds after start (real-valued). */
static double count_at(const struct sl_sched *s, double t)
{
	double T = s->ramp_s;

	if (t <= 0)
		return 0;
	if (T > 0 && t <= T)
		return s->r0 * t + (s->r1 - s->r0) * t * t / (2 * T);
	if (T > 0)
		return s->r0 * T + (s->r1 - s->r0) * T / 2 + s->r1 * (t - T);
	return s->r1 * t;
}

uint64_t sl_sched_intended(const struct sl_sched *s, uint64_t k)
{
	double T = s->ramp_s, kk = (double)k, t;
	double in_ramp = T > 0 ? s->r0 * T + (s->r1 - s->r0) * T / 2 : 0;

	if (T > 0 && kk <= in_ramp) {
		double a = (s->r1 - s->r0) / T;	/* acceleration, sends/s^2 */

		if (fabs(a) < 1e-12)
			t = kk / s->r0;
		else	/* the root of r0 t + a t^2 / 2 = k that lies in [0, T] */
			t = (-s->r0 + sqrt(fmax(0, s->r0 * s->r0 + 2 * a * kk))) / a;
	} else {
		t = T + (kk - in_ramp) / s->r1;
	}
	/* t >= 0: adding a half and truncating rounds as llround does, without the libm call */
	return s->start_ns + (uint64_t)(t * 1e9 + 0.5);
}

uint64_t sl_sched_due(const struct sl_sched *s, uint64_t now)
{
	uint64_t k;

	if (now < s->start_ns)
		return 0;
	/* The real-valued count, then exact against the intended times (rounding). */
	k = (uint64_t)count_at(s, (double)(now - s->start_ns) / 1e9);
	while (sl_sched_intended(s, k + 1) <= now)
		k++;
	while (k > 0 && sl_sched_intended(s, k) > now)
		k--;
	return sl_sched_intended(s, k) <= now ? k + 1 : 0;
}

double sl_sched_rate_at(const struct sl_sched *s, uint64_t now)
{
	double t = now > s->start_ns ? (double)(now - s->start_ns) / 1e9 : 0;

	if (s->ramp_s > 0 && t < s->ramp_s)
		return s->r0 + (s->r1 - s->r0) * t / s->ramp_s;
	return s->r1;
}

bool sl_sched_take(struct sl_sched *s, uint64_t now, uint64_t *intended)
{
	if (s->next_ns > now)
		return false;
	*intended = s->next_ns;
	s->next++;
	s->next_ns = sl_sched_intended(s, s->next);
	return true;
}
