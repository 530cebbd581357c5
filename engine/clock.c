// SPDX-License-Identifier: Apache-2.0
/* The engine's clock (clock.h): fresh reads, and the shard turn's cached one. */
#include <time.h>

#include "engine/clock.h"
#include "engine/shard.h"

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t sl_clock_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t sl_clock_real_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

uint64_t sl_now_ns(void)
{
	struct sl_shard *s = sl_shard_self();

	return s ? s->now_ns : clock_ns(CLOCK_MONOTONIC);
}

uint64_t sl_wall_s(void)
{
	return clock_ns(CLOCK_REALTIME) / 1000000000ull;
}
