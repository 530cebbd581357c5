// SPDX-License-Identifier: Apache-2.0
/*
 * Per-shard timers: a binary min-heap of pointers to timers embedded in their
 * owners; each timer remembers its heap slot so cancel and re-arm are
 * O(log n) with no search.
 */
#include <errno.h>
#include <stdlib.h>

#include "engine/clock.h"
#include "engine/shard.h"
#include "engine/timer.h"

#define HEAP_INIT 256

int sl_timers_init(struct sl_shard *s)
{
	s->heap = calloc(HEAP_INIT, sizeof(*s->heap));
	if (!s->heap)
		return -ENOMEM;
	s->heapcap = HEAP_INIT;
	s->nheap = 0;
	return 0;
}

void sl_timers_destroy(struct sl_shard *s)
{
	for (unsigned i = 0; i < s->nheap; i++)
		s->heap[i]->armed = false;
	free(s->heap);
	s->heap = NULL;
	s->nheap = s->heapcap = 0;
}

static void place(struct sl_shard *s, unsigned i, struct sl_timer *t)
{
	s->heap[i] = t;
	t->slot = i;
}

static void sift_up(struct sl_shard *s, unsigned i)
{
	struct sl_timer *t = s->heap[i];

	while (i) {
		unsigned p = (i - 1) / 2;

		if (s->heap[p]->deadline <= t->deadline)
			break;
		place(s, i, s->heap[p]);
		i = p;
	}
	place(s, i, t);
}

static void sift_down(struct sl_shard *s, unsigned i)
{
	struct sl_timer *t = s->heap[i];

	for (;;) {
		unsigned c = 2 * i + 1;

		if (c >= s->nheap)
			break;
		if (c + 1 < s->nheap && s->heap[c + 1]->deadline < s->heap[c]->deadline)
			c++;
		if (t->deadline <= s->heap[c]->deadline)
			break;
		place(s, i, s->heap[c]);
		i = c;
	}
	place(s, i, t);
}

static void heap_remove(struct sl_shard *s, struct sl_timer *t)
{
	unsigned i = t->slot;
	struct sl_timer *last = s->heap[--s->nheap];

	t->armed = false;
	if (last == t)
		return;
	place(s, i, last);
	if (i && s->heap[(i - 1) / 2]->deadline > last->deadline)
		sift_up(s, i);
	else
		sift_down(s, i);
}

void sl_timer_arm(struct sl_shard *s, struct sl_timer *t, uint64_t delay_ns)
{
	if (t->armed)
		heap_remove(t->shard, t);
	if (s->nheap == s->heapcap) {
		/* Cold: timers belong to channels and connections, not to messages. */
		struct sl_timer **h = realloc(s->heap, 2 * s->heapcap * sizeof(*h));

		if (!h)
			abort();
		s->heap = h;
		s->heapcap *= 2;
	}
	t->shard = s;
	t->deadline = sl_now_ns() + delay_ns;
	t->armed = true;
	s->heap[s->nheap] = t;
	t->slot = s->nheap++;
	sift_up(s, t->slot);
}

void sl_timer_cancel(struct sl_timer *t)
{
	if (t->armed)
		heap_remove(t->shard, t);
}

unsigned sl_timers_run(struct sl_shard *s, uint64_t now)
{
	unsigned n = 0;

	/* Bounded: timers re-armed by their own fire() land at now + delay > now. */
	while (s->nheap && s->heap[0]->deadline <= now && n < 1024) {
		struct sl_timer *t = s->heap[0];

		heap_remove(s, t);
		n++;
		t->fire(t);
	}
	if (n)
		SL_STAT_ADD(s, timers_fired, n);
	return n;
}

uint64_t sl_timers_next(const struct sl_shard *s)
{
	return s->nheap ? s->heap[0]->deadline : UINT64_MAX;
}
