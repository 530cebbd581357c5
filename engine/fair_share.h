/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A relay node's bandwidth fair share between the identities that own its
 * relays (fair_share.c): one identity with many greedy streams must not
 * take the node's forwarding from another.
 *
 * Bytes forwarded for an owner are counted node-wide in short epochs, on
 * the owner's slot (relay_limit.c gives each owning identity one). At the
 * end of an epoch in which the node was busy and two or more identities
 * wanted more than a trickle, each of those gets a cap for the next epoch:
 * the relay-fair-share percentage of an equal share of what the node
 * forwarded. A connection whose traffic is counted on a slot past its cap
 * stops being read until the epoch ends (backpressure, nothing dropped).
 * Uncontended, caps are off and a frame costs one atomic add (relaxed
 * order) and three relaxed loads.
 */
#ifndef SL_FAIR_SHARE_H
#define SL_FAIR_SHARE_H

#include <stdbool.h>
#include <stdint.h>

#define SL_SHARE_SLOTS 64		/* slot 0: nobody's (not counted) */
#define SL_SHARE_EPOCH_NS (20ull * 1000000)
/* A shard busy this many per mille of an epoch makes the node contended. */
#define SL_SHARE_BUSY_PERMILLE 500
/* After a contended epoch, caps stay on this many epochs (no flapping on one idle moment). */
#define SL_SHARE_HOLD_EPOCHS 10
#define SL_SHARE_NOCAP UINT64_MAX
/* Under 1/SL_SHARE_TRICKLE of an equal share an identity is a trickle, never capped. */
#define SL_SHARE_TRICKLE 8

struct sl_shard;
struct sl_node;

struct sl_share {
	uint64_t epoch_end;		/* monotonic ns; the thread that moves it rolls the epoch */
	int rolling;			/* the roller's try-lock: orders one roll before the next */
	uint64_t epoch_start;
	unsigned hold;			/* epochs of caps left (roller only) */
	unsigned log_next_s;		/* rate limit of the log line (roller only) */
	uint64_t *busy_seen;		/* per shard: busy ns at the epoch's start (roller only) */
	uint64_t bytes[SL_SHARE_SLOTS];	/* this epoch, relaxed */
	uint64_t cap[SL_SHARE_SLOTS];	/* relaxed */
};

/* Cold: 0 or -ENOMEM; free. */
int sl_share_init(struct sl_share *f, unsigned nshards);
void sl_share_free(struct sl_share *f);

/* Any shard thread: end the epoch if now is past it (one thread does the work). */
void sl_share_roll(struct sl_node *n, uint64_t now);
/* Whether traffic counted on slot must wait for the next epoch (rolls when due). */
bool sl_share_over(struct sl_shard *s, unsigned slot);
/* len bytes forwarded for slot (0: nobody's, nothing done). */
void sl_share_add(struct sl_shard *s, unsigned slot, uint32_t len);
/* When the current epoch ends (monotonic ns). */
uint64_t sl_share_epoch_end(const struct sl_node *n);

/*
 * The caps from one contended epoch's bytes and the caps it ran under
 * (pure; fair_share.c's policy), max-min fair: pct percent of what the
 * node moved is shared out; a trickle (under 1/SL_SHARE_TRICKLE of an
 * equal share) keeps its bytes uncapped; an identity that stayed well
 * under its cap wants pct percent of what it moved (room to grow); the
 * others want all, and get an equal level of what is left. Fewer than two
 * identities to share between: no caps. Returns how many were capped.
 */
unsigned sl_share_caps(const uint64_t *bytes, const uint64_t *prev, unsigned n, unsigned pct,
		       uint64_t *caps);

#endif
