/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Replay window over received transport nonces (PROTOCOL.md 5): a nonce is
 * fresh if it is above the highest seen, or at most 31 below it and not yet
 * seen. Check before decrypting, update only after the decrypt succeeded, so
 * a forged frame can never move the window.
 */
#ifndef SL_CRYPTO_REPLAY_H
#define SL_CRYPTO_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#define SL_REPLAY_WINDOW 32

/* Zero-initialised = nothing seen yet. */
struct sl_replay {
	uint64_t top;		/* highest nonce accepted so far */
	uint32_t bitmap;	/* bit i: nonce top - i was accepted */
	bool any;		/* false until the first accepted nonce */
};

/* replay.c */
void sl_replay_init(struct sl_replay *w);
bool sl_replay_check(const struct sl_replay *w, uint64_t n);
void sl_replay_update(struct sl_replay *w, uint64_t n);

#endif /* SL_CRYPTO_REPLAY_H */
