// SPDX-License-Identifier: Apache-2.0
#include <criterion/criterion.h>

#include "crypto/replay.h"

TestSuite(replay, .timeout = 10);

Test(replay, rejects_duplicate_nonce)
{
	struct sl_replay w = { 0 };

	cr_assert(sl_replay_check(&w, 0));
	sl_replay_update(&w, 0);
	cr_assert_not(sl_replay_check(&w, 0), "duplicate nonce accepted");
}

/* A check without an update (failed decrypt) must not consume the nonce. */
Test(replay, check_alone_changes_nothing)
{
	struct sl_replay w = { 0 }, before;

	sl_replay_update(&w, 40);
	before = w;
	cr_assert(sl_replay_check(&w, 41));
	cr_assert(sl_replay_check(&w, 39));
	cr_assert_eq(memcmp(&w, &before, sizeof(w)), 0);
	cr_assert(sl_replay_check(&w, 41));
}

/*
 * Numbered edge cases: a sequence of accepted nonces, then a probe and the
 * expected verdict.
 */
static const struct {
	const char *what;
	uint64_t seen[6];
	unsigned nseen;
	uint64_t probe;
	bool fresh;
} cases[] = {
	{ "1: empty window accepts 0", { 0 }, 0, 0, true },
	{ "2: empty window accepts a large first nonce", { 0 }, 0, 1000, true },
	{ "3: next in order", { 0 }, 1, 1, true },
	{ "4: duplicate of top", { 5 }, 1, 5, false },
	{ "5: 31 behind, unseen", { 31 }, 1, 0, true },
	{ "6: 32 behind is outside the window", { 32 }, 1, 0, false },
	{ "7: reordered, unseen gap", { 10, 12 }, 2, 11, true },
	{ "8: reordered, seen below top", { 10, 12 }, 2, 10, false },
	{ "9: late arrival filled in", { 10, 12, 11 }, 3, 11, false },
	{ "10: big jump clears the bitmap", { 3, 100 }, 2, 69, true },
	{ "11: big jump, below new window", { 3, 100 }, 2, 68, false },
	{ "12: jump of exactly 32 drops the old nonce", { 0, 32 }, 2, 0, false },
	{ "12b: jump of 32, oldest slot unseen", { 0, 32 }, 2, 1, true },
	{ "13: jump of exactly 31 keeps the old bit", { 0, 31 }, 2, 0, false },
	{ "14: jump of 31, neighbour unseen", { 1, 32 }, 2, 2, true },
	{ "15: top of u64 range", { UINT64_MAX - 1 }, 1, UINT64_MAX, true },
	{ "16: top of u64 range, duplicate", { UINT64_MAX - 2, UINT64_MAX - 1 }, 2,
	  UINT64_MAX - 2, false },
	{ "17: window full, every slot seen", { 0, 1, 2, 3, 4, 5 }, 6, 3, false },
	{ "18: far behind after a huge jump", { 0, 1ull << 40 }, 2, 0, false },
};

Test(replay, table)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sl_replay w;

		sl_replay_init(&w);
		for (unsigned j = 0; j < cases[i].nseen; j++) {
			cr_assert(sl_replay_check(&w, cases[i].seen[j]),
				  "%s: setup nonce %u refused", cases[i].what, j);
			sl_replay_update(&w, cases[i].seen[j]);
		}
		cr_assert_eq(sl_replay_check(&w, cases[i].probe), cases[i].fresh,
			     "%s", cases[i].what);
	}
}

/* Every nonce of a shuffled stream within the window is accepted exactly once. */
Test(replay, reordered_stream_exactly_once)
{
	struct sl_replay w = { 0 };
	unsigned accepted = 0;

	for (uint64_t base = 0; base < 4096; base += 16) {
		/* reverse each block of 16: reordering well within the window */
		for (int i = 15; i >= 0; i--) {
			uint64_t n = base + (uint64_t)i;

			cr_assert(sl_replay_check(&w, n), "nonce %lu refused",
				  (unsigned long)n);
			sl_replay_update(&w, n);
			accepted++;
			cr_assert_not(sl_replay_check(&w, n));
		}
	}
	cr_assert_eq(accepted, 4096);
	for (uint64_t n = 4096 - 32; n < 4096; n++)
		cr_assert_not(sl_replay_check(&w, n));
}
