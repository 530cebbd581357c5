// SPDX-License-Identifier: Apache-2.0
/*
 * Per-shard io_uring: setup (cold), the provided receive buffer ring, the
 * doorbell (an eventfd read kept armed in the ring), and the poll/wait hooks
 * the shard loop calls. Completions are reaped in batches and dispatched by
 * the op class encoded in user_data to the class's handler; the users
 * (stream links, portal sockets) register their classes and this file names
 * none of them.
 */
#define SL_URING_INTERNAL
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "engine/clock.h"
#include "engine/log.h"
#include "transports/uring.h"

#define REAP_BATCH 256
#define BGID 0
/* Sleep at most this long while connections wait for messages (see io_wait). */
#define MEM_WAIT_POLL_NS 1000000ull

static const struct sl_net_config default_cfg = {
	.sq_entries = 1024,
	.buf_size = 64 * 1024,
	.buf_count = 64,
	.max_conns = 16384,
	.sendq_high = 4u << 20,
	.sendq_max = 64u << 20,
	.frame_timeout_ns = 30ull * 1000000000,
	.max_tcp_in = 50000,
	.max_tcp_in_per_source = 1024,
	.max_route_hops = 16,
};

void sl_net_log_rl(struct sl_ushard *u, const char *fmt, ...)
{
	char line[256];
	uint64_t now = sl_now_ns();
	va_list ap;

	/* One line per event, at most a few per second per shard under a storm. */
	if (now < u->log_next_ns)
		return;
	u->log_next_ns = now + 100000000ull;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	sl_log(SL_LOG_INFO, "node=%s shard=%u %s", sl_node_name(sl_shard_node(u->shard)),
	       sl_shard_id(u->shard), line);
}

struct io_uring_sqe *sl_uring_sqe(struct sl_ushard *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe) {
		/* SQ full: hand what we have to the kernel and take a fresh slot. */
		io_uring_submit(&u->ring);
		sqe = io_uring_get_sqe(&u->ring);
	}
	return sqe;
}

void sl_uring_cancel(struct sl_ushard *u, uint64_t ud)
{
	struct io_uring_sqe *sqe = sl_uring_sqe(u);

	if (!sqe)
		return;
	io_uring_prep_cancel64(sqe, ud, 0);
	io_uring_sqe_set_data64(sqe, UD(UOP_CANCEL, 0, 0));
}

static void arm_wake(struct sl_ushard *u)
{
	struct io_uring_sqe *sqe;

	if (u->efd_armed || u->efd < 0)
		return;
	sqe = sl_uring_sqe(u);
	if (!sqe)
		return;
	io_uring_prep_read(sqe, u->efd, &u->efd_buf, sizeof(u->efd_buf), 0);
	io_uring_sqe_set_data64(sqe, UD(UOP_WAKE, 0, 0));
	u->efd_armed = true;
}

/* Cold: SINGLE_ISSUER + DEFER_TASKRUN if the kernel has them, else COOP_TASKRUN, else plain. */
static int ring_init_cold(struct sl_ushard *u, unsigned entries)
{
	static const unsigned tries[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	int ret = -ENOSYS;

	for (unsigned i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		struct io_uring_params p;

		memset(&p, 0, sizeof(p));
		p.flags = tries[i] | IORING_SETUP_CQSIZE;
		p.cq_entries = entries * 4;	/* multishot ops post many CQEs per SQE */
		ret = io_uring_queue_init_params(entries, &u->ring, &p);
		if (!ret)
			return 0;
		if (ret != -EINVAL)
			break;
	}
	return ret;
}

void sl_uring_bufs_publish(struct sl_ushard *u)
{
	unsigned n = 0;

	while (u->in_ring < u->nbufs && u->nspare) {
		uint32_t bid = u->spare[--u->nspare];

		io_uring_buf_ring_add(u->br, sl_uring_buf(u, bid), u->bufsz, (unsigned short)bid,
				      (int)u->bmask, (int)n++);
		u->in_ring++;
	}
	/* Hands the buffers to the kernel in one release store of the ring's tail. */
	if (n)
		io_uring_buf_ring_advance(u->br, (int)n);
}

int sl_uring_bufring_cold(struct io_uring *ring, unsigned entries, unsigned short bgid,
			  struct io_uring_buf_ring **br)
{
	struct io_uring_buf_reg reg;
	void *mem;
	int ret;

	*br = NULL;
	if (posix_memalign(&mem, 4096, entries * sizeof(struct io_uring_buf)))
		return -ENOMEM;
	memset(mem, 0, entries * sizeof(struct io_uring_buf));
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)mem;
	reg.ring_entries = entries;
	reg.bgid = bgid;
	ret = io_uring_register_buf_ring(ring, &reg, 0);
	if (ret) {
		free(mem);
		return ret;
	}
	*br = mem;
	io_uring_buf_ring_init(*br);
	return 0;
}

/*
 * Cold: the shard's receive buffers (group BGID). count entries in the
 * ring, as many spares: the memory of a spare is touched only once a held
 * buffer makes room for it.
 */
static int bufring_init_cold(struct sl_ushard *u, unsigned count, unsigned size)
{
	unsigned total = count * 2;
	void *mem;
	int ret;

	u->nbufs = count;
	u->bufsz = size;
	u->bmask = (unsigned)io_uring_buf_ring_mask(count);
	if (posix_memalign(&mem, 4096, (size_t)total * size))
		return -ENOMEM;
	u->bufs = mem;
	u->spare = calloc(total, sizeof(*u->spare));
	u->bnext = calloc(total, sizeof(*u->bnext));
	u->blen = calloc(total, sizeof(*u->blen));
	if (!u->spare || !u->bnext || !u->blen)
		return -ENOMEM;
	ret = sl_uring_bufring_cold(&u->ring, count, BGID, &u->br);
	if (ret)
		return ret;
	/* Highest ids at the bottom of the stack: the ring starts with 0..count-1. */
	for (unsigned i = total; i > 0; i--)
		sl_uring_buf_put(u, i - 1);
	sl_uring_bufs_publish(u);
	return 0;
}

static void ushard_free_cold(struct sl_ushard *u)
{
	if (!u)
		return;
	if (u->ring_ok)
		io_uring_queue_exit(&u->ring);
	free(u->br);
	free(u->bufs);
	free(u->spare);
	free(u->bnext);
	free(u->blen);
	free(u);
}

/* A completion for a class nobody registered (never submitted): dropped. */
static void cqe_none(struct sl_ushard *u, struct io_uring_cqe *cqe)
{
	(void)u;
	(void)cqe;
}

/* Cold: stop the classes started on u, newest first. */
static void classes_stop(struct sl_ushard *u)
{
	struct sl_net *t = u->net;

	while (u->started) {
		const struct sl_uop_class *c = t->cls[t->order[--u->started]];

		if (c->shard_stop)
			c->shard_stop(u);
	}
}

static int io_shard_start(void *ctx, struct sl_shard *s)
{
	struct sl_net *t = ctx;
	struct sl_ushard *u;
	unsigned id = sl_shard_id(s);
	int ret = -ENOMEM;

	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->net = t;
	u->shard = s;
	u->efd = -1;
	u->st = &t->stats[id];
	for (unsigned i = 0; i < SL_UCLASS_MAX; i++)
		u->cqe_fn[i] = t->cls[i] ? t->cls[i]->cqe : cqe_none;
	ret = ring_init_cold(u, t->cfg.sq_entries);
	if (ret) {
		sl_log(SL_LOG_ERROR, "shard=%u event=io_uring_setup_failed err=%s", id, strerror(-ret));
		goto err_free;
	}
	u->ring_ok = true;
	ret = bufring_init_cold(u, t->cfg.buf_count, t->cfg.buf_size);
	if (ret) {
		sl_log(SL_LOG_ERROR, "shard=%u event=buf_ring_failed err=%s", id, strerror(-ret));
		goto err_free;
	}
	u->efd = t->efds[id];
	arm_wake(u);
	for (; u->started < t->ncls; u->started++) {
		unsigned k = t->order[u->started];

		if (!t->cls[k]->shard_start)
			continue;
		ret = t->cls[k]->shard_start(u, t->cls_ctx[k]);
		if (ret) {
			sl_log(SL_LOG_ERROR, "shard=%u event=class_start_failed class=%s err=%s", id,
			       t->cls[k]->name, strerror(-ret));
			goto err_stop;
		}
	}
	io_uring_submit(&u->ring);
	__atomic_store_n(&t->us[id], u, __ATOMIC_RELEASE);
	sl_shard_set_io(s, u);
	return 0;
err_stop:
	classes_stop(u);
err_free:
	ushard_free_cold(u);
	return ret;
}

static void io_shard_stop(void *ctx, struct sl_shard *s)
{
	struct sl_net *t = ctx;
	struct sl_ushard *u = sl_shard_io(s);

	if (!u)
		return;
	sl_shard_set_io(s, NULL);
	/* Connections first (their fds), then the ring: exiting it ends every op. */
	classes_stop(u);
	__atomic_store_n(&t->us[sl_shard_id(s)], NULL, __ATOMIC_RELEASE);
	ushard_free_cold(u);
}

static void on_wake(struct sl_ushard *u, struct io_uring_cqe *cqe)
{
	u->efd_armed = false;
	arm_wake(u);
}

static unsigned reap(struct sl_ushard *u)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&u->ring, head, cqe) {
		unsigned cls = UD_CLASS(cqe->user_data);

		if (cls)
			u->cqe_fn[cls](u, cqe);
		else if (UD_OP(cqe->user_data) == UOP_WAKE)
			on_wake(u, cqe);
		if (++n == REAP_BATCH)
			break;
	}
	if (n)
		io_uring_cq_advance(&u->ring, n);
	/* The buffers parsed in this batch go back to the kernel at once. */
	sl_uring_bufs_publish(u);
	return n;
}

/* Each class queues what is due (registration order: links before portals, as ever). */
static void flush_all(struct sl_ushard *u)
{
	struct sl_net *t = u->net;

	for (unsigned i = 0; i < u->started; i++) {
		const struct sl_uop_class *c = t->cls[t->order[i]];

		if (c->flush)
			c->flush(u);
	}
}

static unsigned io_poll(void *ctx, struct sl_shard *s)
{
	struct sl_ushard *u = sl_shard_io(s);
	unsigned n;

	flush_all(u);
	/* With DEFER_TASKRUN completions are only posted when we enter the kernel. */
	io_uring_submit_and_get_events(&u->ring);
	n = reap(u);
	if (n) {
		/* Replies produced while dispatching go out in this same turn. */
		flush_all(u);
		if (io_uring_sq_ready(&u->ring))
			io_uring_submit(&u->ring);
	}
	return n;
}

static void io_wait(void *ctx, struct sl_shard *s, uint64_t timeout_ns)
{
	struct sl_ushard *u = sl_shard_io(s);
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts;

	flush_all(u);
	arm_wake(u);
	if (io_uring_cq_ready(&u->ring))
		return;
	/*
	 * Readers waiting for messages resume when the pool gets some back; a
	 * message freed on another shard comes home on a return ring that rings
	 * no doorbell (a free is hot), so look again soon rather than sleep.
	 */
	if (u->poll_soon && timeout_ns > MEM_WAIT_POLL_NS)
		timeout_ns = MEM_WAIT_POLL_NS;
	if (timeout_ns == UINT64_MAX) {
		io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, NULL, NULL);
		return;
	}
	ts.tv_sec = (long long)(timeout_ns / 1000000000ull);
	ts.tv_nsec = (long long)(timeout_ns % 1000000000ull);
	io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
}

static void io_wake(void *ctx, struct sl_shard *s)
{
	struct sl_net *t = ctx;
	uint64_t one = 1;

	/* Valid for the net's whole life; a shard not yet waiting just finds it readable. */
	if (write(t->efds[sl_shard_id(s)], &one, sizeof(one)) < 0)
		return;	/* EAGAIN: the counter is already non-zero, the shard will wake */
}

static const struct sl_io_ops io_ops = {
	.name = "io_uring",
	.shard_start = io_shard_start,
	.shard_stop = io_shard_stop,
	.poll = io_poll,
	.wait = io_wait,
	.wake = io_wake,
};

struct sl_net *sl_uring_create_cold(struct sl_node *n, const struct sl_net_config *cfg)
{
	unsigned ns = sl_node_shards(n);
	struct sl_net *t;

	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->node = n;
	t->cfg = cfg ? *cfg : default_cfg;
	if (!t->cfg.sq_entries)
		t->cfg.sq_entries = default_cfg.sq_entries;
	if (!t->cfg.buf_size)
		t->cfg.buf_size = default_cfg.buf_size;
	if (!t->cfg.buf_count || (t->cfg.buf_count & (t->cfg.buf_count - 1)))
		t->cfg.buf_count = default_cfg.buf_count;
	if (!t->cfg.max_conns)
		t->cfg.max_conns = default_cfg.max_conns;
	if (!t->cfg.sendq_high)
		t->cfg.sendq_high = default_cfg.sendq_high;
	if (!t->cfg.sendq_max)
		t->cfg.sendq_max = default_cfg.sendq_max;
	if (!t->cfg.frame_timeout_ns)
		t->cfg.frame_timeout_ns = default_cfg.frame_timeout_ns;
	if (!t->cfg.max_tcp_in)
		t->cfg.max_tcp_in = default_cfg.max_tcp_in;
	if (!t->cfg.max_route_hops)
		t->cfg.max_route_hops = default_cfg.max_route_hops;
	if (!t->cfg.max_tcp_in_per_source)
		t->cfg.max_tcp_in_per_source = default_cfg.max_tcp_in_per_source;
	t->us = calloc(ns, sizeof(*t->us));
	t->stats = calloc(ns, sizeof(*t->stats));
	t->efds = malloc(ns * sizeof(*t->efds));
	t->tcp_in_src = calloc(SL_SRC_BUCKETS, sizeof(*t->tcp_in_src));
	if (!t->us || !t->stats || !t->efds || !t->tcp_in_src)
		goto err_free;
	sl_conn_limit_init(t);
	for (unsigned i = 0; i < ns; i++) {
		t->efds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (t->efds[i] < 0) {
			while (i--)
				close(t->efds[i]);
			goto err_free;
		}
	}
	sl_node_set_io(n, &io_ops, t);
	return t;
err_free:
	free(t->us);
	free(t->stats);
	free(t->tcp_in_src);
	free(t->efds);
	free(t);
	return NULL;
}

int sl_uring_class_add_cold(struct sl_net *t, unsigned id, const struct sl_uop_class *c,
			    void *ctx)
{
	if (!id || id >= SL_UCLASS_MAX || !c->cqe)
		return -EINVAL;
	if (t->cls[id])
		return -EEXIST;
	t->cls[id] = c;
	t->cls_ctx[id] = ctx;
	t->order[t->ncls++] = (uint8_t)id;
	return 0;
}

void sl_net_destroy(struct sl_net *t)
{
	if (!t)
		return;
	/* Newest class first, as on the shards. */
	for (unsigned i = t->ncls; i > 0; i--) {
		const struct sl_uop_class *c = t->cls[t->order[i - 1]];

		if (c->net_destroy)
			c->net_destroy(t->cls_ctx[t->order[i - 1]]);
	}
	for (unsigned i = 0; i < sl_node_shards(t->node); i++)
		close(t->efds[i]);
	free(t->efds);
	free(t->us);
	free(t->stats);
	free(t->tcp_in_src);
	free(t);
}

void sl_net_stats(const struct sl_net *t, struct sl_net_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < sl_node_shards(t->node); i++) {
		const uint64_t *src = (const uint64_t *)&t->stats[i];
		uint64_t *dst = (uint64_t *)out;

		for (size_t k = 0; k < sizeof(*out) / sizeof(uint64_t); k++)
			dst[k] += __atomic_load_n(&src[k], __ATOMIC_RELAXED);
	}
}

void sl_net_shard_stats(const struct sl_net *t, unsigned id, struct sl_net_stats *out)
{
	const uint64_t *src = (const uint64_t *)&t->stats[id];
	uint64_t *dst = (uint64_t *)out;

	for (size_t k = 0; k < sizeof(*out) / sizeof(uint64_t); k++)
		dst[k] = __atomic_load_n(&src[k], __ATOMIC_RELAXED);
}

bool sl_uring_available(void)
{
	struct io_uring r;

	if (io_uring_queue_init(4, &r, 0))
		return false;
	io_uring_queue_exit(&r);
	return true;
}
