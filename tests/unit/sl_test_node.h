/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test helpers for in-process nodes: a probe worker that collects what it
 * receives for the test thread, and helpers to build and inject messages.
 * Header-only (static) so each test executable stays one .c file.
 */
#ifndef SL_TEST_NODE_H
#define SL_TEST_NODE_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/bare.h"
#include "engine/node.h"
#include "engine/worker.h"

struct probe {
	struct sl_worker w;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct sl_msg *head, *tail;
	unsigned count;
};

static void probe_handle(struct sl_worker *w, struct sl_msg *m)
{
	struct probe *p = w->ctx;

	pthread_mutex_lock(&p->lock);
	m->next = NULL;
	if (p->tail)
		p->tail->next = m;
	else
		p->head = m;
	p->tail = m;
	p->count++;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* Before sl_node_start (or from the shard's own thread). */
static inline int probe_start(struct probe *p, struct sl_node *n, unsigned shard, const char *addr)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->w.handle = probe_handle;
	p->w.ctx = p;
	if (addr)
		return sl_worker_start(sl_node_shard(n, shard), &p->w, addr);
	return sl_worker_start_random(sl_node_shard(n, shard), &p->w);
}

/* Wait up to ms for a message; NULL on timeout. The caller frees it. */
static inline struct sl_msg *probe_wait(struct probe *p, unsigned ms)
{
	struct timespec ts;
	struct sl_msg *m;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&p->lock);
	while (!p->head)
		if (pthread_cond_timedwait(&p->cond, &p->lock, &ts))
			break;
	m = p->head;
	if (m) {
		p->head = m->next;
		if (!p->head)
			p->tail = NULL;
		m->next = NULL;
	}
	pthread_mutex_unlock(&p->lock);
	return m;
}

static inline void probe_drain(struct probe *p)
{
	struct sl_msg *m;

	while ((m = probe_wait(p, 0)))
		sl_msg_free(m);
}

/* Route from text addresses, e.g. route_from(&r, "1#127.0.0.1:4000", "uppercase", NULL). */
static inline int route_from(struct sl_route *r, ...)
{
	const char *a;
	va_list ap;
	int ret = 0;

	sl_route_init(r);
	va_start(ap, r);
	while ((a = va_arg(ap, const char *))) {
		uint8_t type;
		const char *body;
		size_t len;

		ret = sl_addr_parse(a, &type, &body, &len);
		if (!ret)
			ret = sl_route_push_back(r, type, body, len);
		if (ret)
			break;
	}
	va_end(ap);
	return ret;
}

/* A message with a BARE string payload, return route [probe]. */
static inline struct sl_msg *msg_bare(struct probe *p, const struct sl_route *onward, const char *s)
{
	struct sl_msg *m = sl_msg_alloc(strlen(s) + 16);

	if (!m)
		return NULL;
	m->len = (uint32_t)sl_bare_put_bytes(m->data, strlen(s) + 16, s, strlen(s));
	sl_route_copy(&m->onward, onward);
	sl_route_push_front(&m->ret, SL_ADDR_LOCAL, p->w.addr, p->w.addr_len);
	return m;
}

/* The BARE string payload of m as a C string (static buffer: tests only). */
static inline const char *msg_text(const struct sl_msg *m)
{
	static __thread char buf[4096];
	const uint8_t *p;
	size_t n;

	if (sl_bare_get_bytes(m->data, m->len, &p, &n) < 0 || n >= sizeof(buf))
		return "<malformed>";
	memcpy(buf, p, n);
	buf[n] = 0;
	return buf;
}

struct call_sync {
	void (*fn)(struct sl_shard *s, void *arg);
	void *arg;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

static void call_sync_tramp(struct sl_shard *s, void *arg)
{
	struct call_sync *c = arg;

	c->fn(s, c->arg);
	pthread_mutex_lock(&c->lock);
	c->done = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* Run fn(shard, arg) on shard id's thread and wait for it. 0 or -errno. */
static inline int call_on_shard(struct sl_node *n, unsigned id,
				void (*fn)(struct sl_shard *s, void *arg), void *arg)
{
	struct call_sync c = { .fn = fn, .arg = arg, .done = false };
	int ret;

	pthread_mutex_init(&c.lock, NULL);
	pthread_cond_init(&c.cond, NULL);
	ret = sl_shard_call(n, id, call_sync_tramp, &c);
	if (!ret) {
		pthread_mutex_lock(&c.lock);
		while (!c.done)
			pthread_cond_wait(&c.cond, &c.lock);
		pthread_mutex_unlock(&c.lock);
	}
	pthread_mutex_destroy(&c.lock);
	pthread_cond_destroy(&c.cond);
	return ret;
}

static inline void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

#endif
