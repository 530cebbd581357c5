/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The engine's clock. A shard reads CLOCK_MONOTONIC once per loop turn and
 * everything on that turn sees the same instant (timers, rate limits, ages),
 * so the hot path makes no clock syscall per message.
 */
#ifndef SL_CLOCK_H
#define SL_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in ns: the current turn's reading on a shard thread, a fresh one elsewhere. */
uint64_t sl_now_ns(void);
/* CLOCK_REALTIME in s (a fresh read). */
uint64_t sl_wall_s(void);

/* Fresh reads, for the shard loop and its waits. */
uint64_t sl_clock_mono_ns(void);
uint64_t sl_clock_real_ns(void);

#endif
