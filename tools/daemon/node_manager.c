// SPDX-License-Identifier: Apache-2.0
/*
 * The node-manager service (node_manager.h, methods in api.h). One worker on
 * shard 0; every handler runs on that shard's thread, so its state needs no
 * lock. Control plane only: it may allocate.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/log.h"
#include "engine/multiaddr.h"
#include "engine/node.h"
#include "engine/router.h"
#include "engine/timer.h"
#include "engine/worker.h"
#include "tools/common/api.h"
#include "tools/common/metrics.h"
#include "tools/daemon/metrics_src.h"
#include "tools/daemon/nm_portal.h"
#include "tools/daemon/nm_relay.h"
#include "tools/daemon/nm_secure.h"
#include "tools/daemon/node_manager.h"
#include "tools/daemon/runtime.h"
#include "transports/uring.h"

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Requests in flight at once; more get 503 rather than unbounded memory. */
#define MAX_PENDING 1024
/* Time for the node.stop response to leave before the node stops. */
#define STOP_DELAY_NS (50ull * 1000 * 1000)

struct pending;

struct sl_node_manager {
	struct sl_worker w;
	struct sl_node *node;
	char name[SL_NODE_NAME_MAX + 1];
	uint16_t tcp_port;
	uint64_t started_ns;
	struct sl_timer stop_timer;
	struct pending *pending;	/* message.send requests waiting for a reply */
	unsigned npending;
	uint64_t requests, sends, replies, timeouts;
};

/* A message.send in flight: a temporary worker is the reply's address. */
struct pending {
	struct sl_worker w;
	struct sl_timer timer;
	struct sl_node_manager *nm;
	struct sl_msg *req;		/* the CLI's request, turned into the response later */
	struct pending *next, **pprev;
	uint32_t timeout_ms;
	char route[256];		/* for the timeout message */
};

/*
 * Turn request m into the response and send it back along m's return route.
 * body is one encoded CBOR item, or (as_bytes) raw bytes sent as a byte
 * string. A response that cannot be built is dropped: the CLI times out.
 */
static void respond(struct sl_node_manager *nm, struct sl_msg *m, uint16_t status,
		    const char *error, const uint8_t *body, size_t body_len, bool as_bytes)
{
	size_t need = 32 + (error ? strlen(error) : 0) + body_len, len;
	struct sl_cbor_writer w;

	if (sl_msg_reserve(&m, need)) {
		sl_msg_free(m);
		return;
	}
	sl_cbor_writer_init(&w, m->data, m->cap - sl_msg_headroom(m));
	sl_api_put_response(&w, status, error, body != NULL);
	if (body && as_bytes)
		sl_cbor_put_bytes(&w, body, body_len);
	else if (body)
		sl_cbor_put_raw(&w, body, body_len);
	if (sl_cbor_writer_finish(&w, &len)) {
		sl_msg_free(m);
		return;
	}
	m->len = (uint32_t)len;
	sl_reply(&nm->w, m);
}

void sl_nm_respond(struct sl_worker *w, struct sl_msg *m, uint16_t status, const char *error,
		   const uint8_t *body, size_t body_len)
{
	respond(w->ctx, m, status, error, body, body_len, false);
}

static void respond_err(struct sl_node_manager *nm, struct sl_msg *m, uint16_t status,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void respond_err(struct sl_node_manager *nm, struct sl_msg *m, uint16_t status,
			const char *fmt, ...)
{
	char error[SL_API_ERROR_MAX + 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(error, sizeof(error), fmt, ap);
	va_end(ap);
	respond(nm, m, status, error, NULL, 0, false);
}

/* node.status */

static void node_status(struct sl_worker *self, struct sl_msg *m, const struct sl_api_request *req)
{
	struct sl_node_manager *nm = self->ctx;
	struct sl_api_status st = { 0 };
	struct sl_shard_stats total;
	struct sl_cbor_writer w;
	uint8_t buf[512];
	size_t len;

	snprintf(st.name, sizeof(st.name), "%s", nm->name);
	st.tcp_port = nm->tcp_port;
	st.shards = sl_node_shards(nm->node);
	st.uptime_ms = (mono_ns() - nm->started_ns) / 1000000;
	st.pid = (uint64_t)getpid();
	sl_node_stats_total(nm->node, &total);
	st.stats.delivered = total.delivered;
	st.stats.to_transport = total.to_transport;
	st.stats.drop_unknown = total.drop_unknown;
	st.stats.drop_route = total.drop_route;
	st.stats.drop_other = total.drop_other;
	st.stats.control_requests = nm->requests;
	st.stats.sends = nm->sends;
	st.stats.replies = nm->replies;
	st.stats.timeouts = nm->timeouts;
	if (sl_runtime_net()) {
		struct sl_net_stats ns;

		sl_net_stats(sl_runtime_net(), &ns);
		st.stats.frame_timeouts = ns.frame_timeouts;
	}
	sl_cbor_writer_init(&w, buf, sizeof(buf));
	sl_api_put_status(&w, &st);
	if (sl_cbor_writer_finish(&w, &len)) {
		respond_err(nm, m, SL_API_INTERNAL, "status does not fit its buffer");
		return;
	}
	respond(nm, m, SL_API_OK, NULL, buf, len, false);
}

/* node.metrics: what /metrics serves, as samples (metrics.h). */

static void node_metrics(struct sl_worker *self, struct sl_msg *m, const struct sl_api_request *req)
{
	struct sl_node_manager *nm = self->ctx;
	struct sl_metrics_src *src = sl_metrics_src_get();
	struct sl_metrics ms = { 0 };
	struct sl_cbor_writer w;
	uint8_t *buf = NULL;
	size_t len, cap;

	if (!src) {
		respond_err(nm, m, SL_API_INTERNAL, "this node keeps no metrics source");
		return;
	}
	if (!sl_metrics_collect(src, &ms)) {
		cap = sl_metrics_encoded_max(&ms);
		buf = malloc(cap);
	}
	if (!buf) {
		sl_metrics_free(&ms);
		respond_err(nm, m, SL_API_BUSY, "the node is out of memory");
		return;
	}
	sl_cbor_writer_init(&w, buf, cap);
	sl_metrics_encode(&w, &ms);
	sl_metrics_free(&ms);
	if (sl_cbor_writer_finish(&w, &len))
		respond_err(nm, m, SL_API_INTERNAL, "the metrics do not fit their buffer");
	else
		respond(nm, m, SL_API_OK, NULL, buf, len, false);
	free(buf);
}

/* node.stop */

static void stop_fire(struct sl_timer *t)
{
	sl_runtime_stop();
}

static void node_stop(struct sl_worker *self, struct sl_msg *m, const struct sl_api_request *req)
{
	struct sl_node_manager *nm = self->ctx;

	respond(nm, m, SL_API_OK, NULL, NULL, 0, false);
	/* Stop a little later so the response leaves first. */
	nm->stop_timer.fire = stop_fire;
	sl_timer_arm(nm->w.shard, &nm->stop_timer, STOP_DELAY_NS);
}

/* message.send */

/*
 * Removed from its shard: by pending_finish, or by the node's destruction
 * with the request still open (then nm may be gone already: not touched).
 */
static void pending_stopped(struct sl_worker *w)
{
	struct pending *p = container_of(w, struct pending, w);

	sl_timer_cancel(&p->timer);
	sl_msg_free(p->req);
	free(p);
}

/* Answer the CLI (if not yet), unlink, and retire the temporary worker. */
static void pending_finish(struct pending *p)
{
	struct sl_node_manager *nm = p->nm;

	sl_timer_cancel(&p->timer);
	*p->pprev = p->next;
	if (p->next)
		p->next->pprev = p->pprev;
	nm->npending--;
	p->req = NULL;		/* answered */
	sl_worker_stop(&p->w);	/* frees p (pending_stopped) */
}

static void pending_reply(struct sl_worker *w, struct sl_msg *r)
{
	struct pending *p = w->ctx;
	struct sl_node_manager *nm = p->nm;

	/* Only the first reply counts; the worker is gone before a second one. */
	nm->replies++;
	respond(nm, p->req, SL_API_OK, NULL, r->data, r->len, true);
	sl_msg_free(r);
	pending_finish(p);
}

static void pending_timeout(struct sl_timer *t)
{
	struct pending *p = container_of(t, struct pending, timer);
	struct sl_node_manager *nm = p->nm;
	char dur[32];

	nm->timeouts++;
	if (p->timeout_ms % 1000)
		snprintf(dur, sizeof(dur), "%ums", p->timeout_ms);
	else
		snprintf(dur, sizeof(dur), "%us", p->timeout_ms / 1000);
	respond_err(nm, p->req, SL_API_TIMEOUT, "no reply from %s within %s", p->route, dur);
	pending_finish(p);
}

static void message_send(struct sl_worker *self, struct sl_msg *m, const struct sl_api_request *req)
{
	struct sl_node_manager *nm = self->ctx;
	struct sl_shard *s = nm->w.shard;
	struct sl_api_send send;
	struct sl_msg *out;
	struct pending *p;
	int ret;

	if (!req->body) {
		respond_err(nm, m, SL_API_BAD_REQUEST, "message.send needs [route, payload, timeout_ms]");
		return;
	}
	ret = sl_api_send_decode(req->body, req->body_len, &send);
	if (ret) {
		respond_err(nm, m, SL_API_BAD_REQUEST, ret == -E2BIG ?
			    "the route is longer than %d hops" : "malformed message.send request",
			    SL_ROUTE_MAX_HOPS);
		return;
	}
	if (nm->npending >= MAX_PENDING) {
		respond_err(nm, m, SL_API_BUSY, "%u messages are already waiting for replies: try again later",
			    nm->npending);
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		respond_err(nm, m, SL_API_BUSY, "the node is out of memory");
		return;
	}
	out = sl_msg_alloc(send.len);
	if (!out || sl_msg_set_payload(out, send.payload, send.len)) {
		if (out)
			sl_msg_free(out);
		free(p);
		respond_err(nm, m, SL_API_BUSY, "the node is out of message buffers: try again");
		return;
	}
	p->nm = nm;
	p->w.handle = pending_reply;
	p->w.stopped = pending_stopped;
	p->w.ctx = p;
	ret = sl_worker_start_random(s, &p->w);
	if (ret) {
		sl_msg_free(out);
		free(p);
		respond_err(nm, m, SL_API_INTERNAL, "cannot start a reply worker: %s", strerror(-ret));
		return;
	}
	sl_route_copy(&out->onward, &send.route);
	sl_route_init(&out->ret);
	sl_route_push_back(&out->ret, SL_ADDR_LOCAL, p->w.addr, p->w.addr_len);
	/* The route as the user wrote it if it has a multiaddr form, else as addresses. */
	ret = sl_multiaddr_from_route(&send.route, p->route, sizeof(p->route));
	if (ret < 0)
		ret = sl_route_format(&send.route, p->route, sizeof(p->route));
	if (ret >= (int)sizeof(p->route))
		memcpy(p->route + sizeof(p->route) - 4, "...", 4);
	p->timeout_ms = send.timeout_ms;
	p->req = m;	/* answered by pending_reply or pending_timeout; m is ours until then */
	p->timer.fire = pending_timeout;
	sl_timer_arm(s, &p->timer, (uint64_t)send.timeout_ms * 1000000);
	p->next = nm->pending;
	if (p->next)
		p->next->pprev = &p->next;
	p->pprev = &nm->pending;
	nm->pending = p;
	nm->npending++;
	nm->sends++;
	sl_send(s, out);	/* out is the router's now */
}

static const struct sl_nm_method node_methods[] = {
	{ "node.status", node_status },
	{ "node.stop", node_stop },
	{ "node.metrics", node_metrics },
	{ "message.send", message_send },
	{ NULL, NULL },
};

/* Every method the node serves; a new feature adds its nm_*.c table here. */
static const struct sl_nm_method *const method_tables[] = {
	node_methods, sl_nm_secure_methods, sl_nm_portal_methods, sl_nm_relay_methods,
};

static void nm_handle(struct sl_worker *w, struct sl_msg *m)
{
	struct sl_node_manager *nm = w->ctx;
	struct sl_api_request req;
	size_t i;

	nm->requests++;
	if (sl_route_empty(&m->ret)) {
		sl_msg_free(m);	/* nowhere to answer */
		return;
	}
	if (sl_api_request_decode(m->data, m->len, &req)) {
		respond_err(nm, m, SL_API_BAD_REQUEST, "malformed request: expected CBOR [method, ?body]");
		return;
	}
	for (i = 0; i < sizeof(method_tables) / sizeof(method_tables[0]); i++) {
		for (const struct sl_nm_method *t = method_tables[i]; t->method; t++) {
			if (!strcmp(t->method, req.method)) {
				t->fn(&nm->w, m, &req);
				return;
			}
		}
	}
	respond_err(nm, m, SL_API_NOT_FOUND, "this node does not know the method %s: is it an older sluice?",
		    req.method);
}

/* The node destroys its workers after its shards stopped: the manager goes with them. */
static void nm_stopped(struct sl_worker *w)
{
	struct sl_node_manager *nm = w->ctx;

	sl_timer_cancel(&nm->stop_timer);
	sl_nm_secure_stop(nm->node);
	free(nm);
}

struct sl_node_manager *sl_node_manager_start(struct sl_node *n, const char *name,
					      uint16_t tcp_port)
{
	struct sl_node_manager *nm = calloc(1, sizeof(*nm));
	int ret;

	if (!nm)
		return NULL;
	nm->node = n;
	snprintf(nm->name, sizeof(nm->name), "%s", name);
	nm->tcp_port = tcp_port;
	nm->started_ns = mono_ns();
	nm->w.handle = nm_handle;
	nm->w.stopped = nm_stopped;
	nm->w.ctx = nm;
	/* The node's identity and its `api` listener (PROTOCOL.md 9). */
	ret = sl_nm_secure_start(n, name);
	if (ret) {
		free(nm);
		errno = -ret;
		return NULL;
	}
	ret = sl_worker_start(sl_node_shard(n, 0), &nm->w, SL_NODE_MANAGER);
	if (ret) {
		sl_nm_secure_stop(n);
		free(nm);
		errno = -ret;
		return NULL;
	}
	/* Relays saved for this node register again (they retry until the relay node answers). */
	if (sl_nm_relay_start(n, name))
		sl_log(SL_LOG_WARN, "node=%s event=relays_not_restored: see the state store", name);
	return nm;
}
