// SPDX-License-Identifier: Apache-2.0
#include "crypto/replay.h"

#include <string.h>

void sl_replay_init(struct sl_replay *w)
{
	memset(w, 0, sizeof(*w));
}

bool sl_replay_check(const struct sl_replay *w, uint64_t n)
{
	uint64_t age;

	if (!w->any || n > w->top)
		return true;
	age = w->top - n;
	if (age >= SL_REPLAY_WINDOW)
		return false;
	return !((w->bitmap >> age) & 1);
}

void sl_replay_update(struct sl_replay *w, uint64_t n)
{
	uint64_t shift;

	if (!w->any) {
		w->any = true;
		w->top = n;
		w->bitmap = 1;
		return;
	}
	if (n > w->top) {
		shift = n - w->top;
		/* shifting a 32-bit value by >= 32 is undefined, hence the branch */
		w->bitmap = shift >= SL_REPLAY_WINDOW ? 0 : w->bitmap << shift;
		w->bitmap |= 1;
		w->top = n;
		return;
	}
	/* callers only update after a successful check; stay safe if not */
	if (w->top - n < SL_REPLAY_WINDOW)
		w->bitmap |= (uint32_t)1 << (w->top - n);
}
