// SPDX-License-Identifier: Apache-2.0
/*
 * The per-core loop (DPDK l3fwd's shape): take a burst from each source,
 * process it to completion, poll the transports; sleep in the transport's
 * wait only when a turn found nothing, after announcing it so that producers
 * ring the doorbell. And the shard itself: its cold life cycle, accessors,
 * control calls and doorbell (node.c drives the life cycle for all shards).
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/clock.h"
#include "engine/log.h"
#include "engine/router.h"
#include "engine/shard.h"
#include "engine/timer.h"

/* How long a shard with parked messages sleeps at most: a drained ring rings no doorbell. */
#define PARK_RETRY_NS 50000ull
/* The window over which a shard measures how busy it is (see shard_main). */
#define SPIN_WINDOW_NS 2000000ull
/* Bytes routed in one window above which a flow is bulk, not request/response (~1 Gbit/s). */
#define SPIN_BULK_BYTES (256u * 1024)

static __thread struct sl_shard *tls_self;

struct sl_shard *sl_shard_self(void)
{
	return tls_self;
}

unsigned sl_shard_id(const struct sl_shard *s)
{
	return s->id;
}

struct sl_node *sl_shard_node(const struct sl_shard *s)
{
	return s->node;
}

void *sl_shard_io(const struct sl_shard *s)
{
	/* Acquire pairs with the release below: another shard may ring our doorbell early. */
	return __atomic_load_n((void **)&s->io, __ATOMIC_ACQUIRE);
}

void sl_shard_set_io(struct sl_shard *s, void *io)
{
	__atomic_store_n(&s->io, io, __ATOMIC_RELEASE);
}

struct sl_pool *sl_shard_pool(struct sl_shard *s)
{
	return &s->pool;
}

int sl_shard_init_cold(struct sl_node *n, struct sl_shard *s, unsigned id)
{
	int ret;

	s->node = n;
	s->id = id;
	pthread_mutex_init(&s->ctl_lock, NULL);
	pthread_mutex_init(&s->idle_lock, NULL);
	pthread_cond_init(&s->idle_cond, NULL);
	ret = sl_pool_init(&s->pool, (uint16_t)id, s, &n->pool_cfg);
	if (ret)
		return ret;
	s->in = sl_cache_alloc(sizeof(*s->in) * n->nshards);
	s->back = sl_cache_alloc(sizeof(*s->back) * n->nshards);
	s->park = calloc(n->nshards, sizeof(*s->park));
	if (!s->in || !s->back || !s->park)
		return -ENOMEM;
	memset(s->in, 0, sizeof(*s->in) * n->nshards);
	memset(s->back, 0, sizeof(*s->back) * n->nshards);
	for (unsigned i = 0; i < n->nshards; i++) {
		if (i == id)
			continue;
		ret = sl_ring_init(&s->in[i], n->ring_size);
		if (!ret)
			ret = sl_ring_init(&s->back[i], n->ring_size);
		if (ret)
			return ret;
	}
	ret = sl_worker_table_init(s);
	if (ret)
		return ret;
	return sl_timers_init(s);
}

void sl_shard_destroy_cold(struct sl_node *n, struct sl_shard *s)
{
	struct sl_msg *m;

	if (!s->node)
		return;
	/* Messages still in rings: nobody will take them now; free into their pools. */
	for (unsigned i = 0; s->in && i < n->nshards; i++) {
		if (i == s->id)
			continue;
		if (s->in[i].slots)
			while (sl_ring_pop_burst_spsc(&s->in[i], &m, 1))
				sl_pool_free_stray(m->pool ? m->pool : &s->pool, m);
		if (s->back && s->back[i].slots)
			while (sl_ring_pop_burst_spsc(&s->back[i], &m, 1))
				sl_pool_free_stray(m->pool, m);
	}
	while ((m = s->defer_head)) {
		s->defer_head = m->next;
		sl_msg_free(m);
	}
	sl_router_free_parked(s);
	free(s->park);
	s->park = NULL;
	for (unsigned i = 0; i < s->nctl; i++)
		sl_msg_free(s->ctl[i].msg);
	s->nctl = 0;
	for (unsigned i = 0; s->in && i < n->nshards; i++) {
		sl_ring_destroy(&s->in[i]);
		if (s->back)
			sl_ring_destroy(&s->back[i]);
	}
	free(s->in);
	free(s->back);
	sl_worker_table_destroy(s);
	sl_timers_destroy(s);
}

void sl_shard_destroy_pool_cold(struct sl_shard *s)
{
	if (!s->node)
		return;
	sl_pool_destroy(&s->pool);
	pthread_mutex_destroy(&s->ctl_lock);
	pthread_mutex_destroy(&s->idle_lock);
	pthread_cond_destroy(&s->idle_cond);
}

bool sl_shard_return_msg(struct sl_shard *self, struct sl_msg *m)
{
	struct sl_shard *home = m->pool->shard;

	if (!home || home->node != self->node || home == self)
		return false;
	/* Ownership goes home with the push; the home shard frees it locally. */
	return sl_ring_push_spsc(&home->back[self->id], m);
}

static unsigned run_ctl(struct sl_shard *s)
{
	struct sl_ctl batch[SL_CTL_MAX];
	unsigned n;

	if (!__atomic_load_n(&s->ctl_pending, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&s->ctl_lock);
	n = s->nctl;
	memcpy(batch, s->ctl, n * sizeof(batch[0]));
	s->nctl = 0;
	__atomic_store_n(&s->ctl_pending, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&s->ctl_lock);
	for (unsigned i = 0; i < n; i++) {
		if (batch[i].msg)
			sl_send(s, batch[i].msg);	/* ownership: the injector gave it to us */
		else
			batch[i].fn(s, batch[i].arg);
		SL_STAT_INC(s, calls);
	}
	return n;
}

unsigned sl_shard_reclaim_local(struct sl_shard *s)
{
	struct sl_msg *v[SL_BURST];
	unsigned total = 0;

	for (unsigned src = 0; src < s->node->nshards; src++) {
		unsigned n;

		if (src == s->id)
			continue;
		n = sl_ring_pop_burst_spsc(&s->back[src], v, SL_BURST);
		/* Our own messages, home again: back on our free lists. */
		for (unsigned i = 0; i < n; i++) {
			sl_pool_free_local(&s->pool, v[i]);
			s->pool.st.frees_local--;
			s->pool.st.frees_remote++;
		}
		total += n;
	}
	return total + sl_pool_reclaim_local(&s->pool);
}

static unsigned drain_rings(struct sl_shard *s)
{
	struct sl_msg *v[SL_BURST];
	unsigned total = 0;

	for (unsigned src = 0; src < s->node->nshards; src++) {
		unsigned n;

		if (src == s->id)
			continue;
		n = sl_ring_pop_burst_spsc(&s->in[src], v, SL_BURST);
		if (n)
			SL_STAT_ADD(s, ring_in, n);
		/* Ownership of each v[i] came to us with the pop. */
		for (unsigned i = 0; i < n; i++)
			sl_send_local_or_drop(s, v[i]);
		total += n;
	}
	return total + sl_shard_reclaim_local(s);
}

static bool rings_pending(struct sl_shard *s)
{
	if (__atomic_load_n(&s->ctl_pending, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&s->stop, __ATOMIC_ACQUIRE))
		return true;
	for (unsigned src = 0; src < s->node->nshards; src++)
		if (src != s->id && (!sl_ring_empty(&s->in[src]) || !sl_ring_empty(&s->back[src])))
			return true;
	return false;
}

static void idle_wait(struct sl_shard *s, uint64_t timeout_ns)
{
	struct timespec ts;
	uint64_t until;

	pthread_mutex_lock(&s->idle_lock);
	if (!s->idle_kick) {
		if (timeout_ns == UINT64_MAX || timeout_ns > 100000000ull)
			timeout_ns = 100000000ull;
		until = sl_clock_real_ns() + timeout_ns;
		ts.tv_sec = (time_t)(until / 1000000000ull);
		ts.tv_nsec = (long)(until % 1000000000ull);
		pthread_cond_timedwait(&s->idle_cond, &s->idle_lock, &ts);
	}
	s->idle_kick = 0;
	pthread_mutex_unlock(&s->idle_lock);
}

static void pin_cold(struct sl_shard *s)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;

	if (!s->node->pin || ncpu <= 0)
		return;
	CPU_ZERO(&set);
	CPU_SET((s->node->cpu_base + s->id) % (unsigned)ncpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
		sl_log(SL_LOG_DEBUG, "node=%s shard=%u event=pin_failed", s->node->name, s->id);
}

static void *shard_main(void *arg)
{
	struct sl_shard *s = arg;
	struct sl_node *n = s->node;
	const struct sl_io_ops *io = n->io_ops;
	uint64_t spin_ns = (uint64_t)n->spin_us * 1000, idle_since = 0;
	uint64_t win_start = 0, busy_ns = 0, last_ns = 0, win_bytes = 0;
	bool was_busy = false, spin_ok = true;
	int ret = 0;

	tls_self = s;
	s->now_ns = sl_clock_mono_ns();
	pin_cold(s);
	if (io && io->shard_start)
		ret = io->shard_start(n->io_ctx, s);
	pthread_mutex_lock(&n->start_lock);
	if (ret && !n->start_err)
		n->start_err = ret;
	n->nstarted++;
	pthread_cond_broadcast(&n->start_cond);
	pthread_mutex_unlock(&n->start_lock);
	if (ret)
		goto out;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		unsigned work = 0;
		uint64_t next;

		s->now_ns = sl_clock_mono_ns();
		/*
		 * Spinning pays only for a request/response flow, where each
		 * wake-up costs more than the wait: a shard busy half the time or
		 * more shares its core with the work, and one moving bulk bytes
		 * (a relay forwarding a transfer, say) would burn a core to save
		 * wake-ups nobody waits on. Both sleep at once.
		 */
		if (was_busy) {
			busy_ns += s->now_ns - last_ns;
			__atomic_store_n(&s->busy_ns, s->busy_ns + (s->now_ns - last_ns),
					 __ATOMIC_RELAXED);
		}
		last_ns = s->now_ns;
		if (s->now_ns - win_start >= SPIN_WINDOW_NS) {
			spin_ok = busy_ns * 2 < s->now_ns - win_start &&
				  s->st.bytes - win_bytes < SPIN_BULK_BYTES;
			win_start = s->now_ns;
			win_bytes = s->st.bytes;
			busy_ns = 0;
		}
		/* Parked first: what waited goes before anything new takes the room. */
		if (s->nparked)
			work += sl_router_flush_parked(s);
		work += run_ctl(s);
		work += drain_rings(s);
		work += sl_router_run_deferred(s);
		work += sl_timers_run(s, s->now_ns);
		if (io)
			work += io->poll(n->io_ctx, s);
		was_busy = work != 0;
		if (work) {
			idle_since = 0;
			continue;
		}
		if (spin_ns && spin_ok) {
			if (!idle_since)
				idle_since = s->now_ns;
			if (s->now_ns - idle_since < spin_ns) {
				/* a thread woken on this core runs now, not after our slice */
				sched_yield();
				continue;
			}
		}
		/* Announce sleep, then look once more: a producer either sees the flag or we see its push. */
		__atomic_store_n(&s->sleeping, 1, __ATOMIC_RELAXED);
		/* Pairs with the fence in sl_shard_kick (store `sleeping`, then load the rings). */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (!rings_pending(s) && !s->defer_head) {
			next = sl_timers_next(s);
			if (next != UINT64_MAX)
				next = next > s->now_ns ? next - s->now_ns : 0;
			if (s->nparked && next > PARK_RETRY_NS)
				next = PARK_RETRY_NS;
			SL_STAT_INC(s, sleeps);
			if (io)
				io->wait(n->io_ctx, s, next);
			else
				idle_wait(s, next);
		}
		__atomic_store_n(&s->sleeping, 0, __ATOMIC_RELAXED);
		idle_since = 0;
	}
	/* Final drains so nothing sent to us before stop is left in a ring. */
	s->now_ns = sl_clock_mono_ns();
	run_ctl(s);
	drain_rings(s);
	sl_router_run_deferred(s);
	sl_router_flush_parked(s);
	if (io && io->shard_stop)
		io->shard_stop(n->io_ctx, s);
out:
	tls_self = NULL;
	return NULL;
}

int sl_shard_spawn_cold(struct sl_shard *s)
{
	int ret = -pthread_create(&s->thread, NULL, shard_main, s);

	if (!ret)
		s->started = true;
	return ret;
}

void sl_shard_stop(struct sl_shard *s)
{
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	sl_shard_kick(s);
}

void sl_shard_join_cold(struct sl_shard *s)
{
	if (!s->started)
		return;
	pthread_join(s->thread, NULL);
	s->started = false;
}

/* Control calls: from any thread, run on the shard's own (run_ctl). */

void sl_shard_kick(struct sl_shard *dst)
{
	struct sl_node *n = dst->node;

	/*
	 * Full fence: our ring push must be visible before we read `sleeping`;
	 * pairs with the fence between the consumer's store of `sleeping` and its
	 * last look at its rings (shard.c), so one of the two sees the other.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&dst->sleeping, __ATOMIC_RELAXED))
		return;
	if (n->io_ops && n->io_ops->wake) {
		n->io_ops->wake(n->io_ctx, dst);
	} else {
		pthread_mutex_lock(&dst->idle_lock);
		dst->idle_kick = 1;
		pthread_cond_signal(&dst->idle_cond);
		pthread_mutex_unlock(&dst->idle_lock);
	}
	{
		struct sl_shard *self = sl_shard_self();

		if (self)
			SL_STAT_INC(self, wakeups);
	}
}

int sl_shard_ctl_push(struct sl_shard *s, const struct sl_ctl *c)
{
	pthread_mutex_lock(&s->ctl_lock);
	if (s->nctl == SL_CTL_MAX) {
		pthread_mutex_unlock(&s->ctl_lock);
		return -EAGAIN;
	}
	s->ctl[s->nctl++] = *c;
	__atomic_store_n(&s->ctl_pending, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&s->ctl_lock);
	sl_shard_kick(s);
	return 0;
}

int sl_shard_call(struct sl_node *n, unsigned id, void (*fn)(struct sl_shard *s, void *arg), void *arg)
{
	struct sl_ctl c = { .fn = fn, .arg = arg };

	if (id >= n->nshards || !fn)
		return -EINVAL;
	return sl_shard_ctl_push(&n->shards[id], &c);
}

void sl_shard_count_drop(struct sl_shard *s)
{
	SL_STAT_INC(s, drop_other);
}
