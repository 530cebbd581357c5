// SPDX-License-Identifier: Apache-2.0
/*
 * Portals on the node-manager side (nm_portal.h). Control plane: handlers run
 * on the node manager's shard and may allocate.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/log.h"
#include "engine/msg.h"
#include "engine/multiaddr.h"
#include "engine/node.h"
#include "engine/portal.h"
#include "engine/worker.h"
#include "tools/api_portal.h"
#include "tools/api_secure.h"
#include "tools/daemon.h"
#include "tools/nm_portal.h"
#include "tools/node_manager.h"
#include "tools/state.h"

#define LIST_MAX 1024

static void respond_err(struct sl_worker *nm, struct sl_msg *m, uint16_t status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void respond_err(struct sl_worker *nm, struct sl_msg *m, uint16_t status, const char *fmt, ...)
{
	char error[SL_API_ERROR_MAX + 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(error, sizeof(error), fmt, ap);
	va_end(ap);
	sl_nm_respond(nm, m, status, error, NULL, 0);
}

static struct sl_portals *portals(struct sl_worker *nm, struct sl_msg *m)
{
	struct sl_portals *P = sl_portals_get(sl_shard_node(nm->shard));

	if (!P)
		respond_err(nm, m, SL_API_INTERNAL, "this node runs without portals");
	return P;
}

static void respond_portal(struct sl_worker *nm, struct sl_msg *m, const struct sl_portal_info *v)
{
	struct sl_cbor_writer w;
	uint8_t buf[2048];
	size_t len;

	sl_cbor_writer_init(&w, buf, sizeof(buf));
	sl_api_put_portal(&w, v);
	if (sl_cbor_writer_finish(&w, &len)) {
		respond_err(nm, m, SL_API_INTERNAL, "the answer does not fit its buffer");
		return;
	}
	sl_nm_respond(nm, m, SL_API_OK, NULL, buf, len);
}

static void respond_list(struct sl_worker *nm, struct sl_msg *m, bool inlets)
{
	struct sl_portals *P = portals(nm, m);
	struct sl_portal_info *v;
	struct sl_cbor_writer w;
	size_t n, len, cap;
	uint8_t *buf;

	if (!P)
		return;
	v = calloc(LIST_MAX, sizeof(*v));
	n = v ? (inlets ? sl_portal_inlet_list(P, v, LIST_MAX) : sl_portal_outlet_list(P, v, LIST_MAX)) : 0;
	if (n > LIST_MAX)
		n = LIST_MAX;
	cap = 16 + n * 1400;
	buf = malloc(cap);
	if (!v || !buf) {
		free(v);
		free(buf);
		respond_err(nm, m, SL_API_BUSY, "the node is out of memory");
		return;
	}
	sl_cbor_writer_init(&w, buf, cap);
	sl_cbor_put_array(&w, n);
	for (size_t i = 0; i < n; i++)
		sl_api_put_portal(&w, &v[i]);
	if (sl_cbor_writer_finish(&w, &len))
		respond_err(nm, m, SL_API_INTERNAL, "the list does not fit its buffer");
	else
		sl_nm_respond(nm, m, SL_API_OK, NULL, buf, len);
	free(buf);
	free(v);
}

/* tcp_outlet.* */

static void outlet_create(struct sl_worker *nm, struct sl_msg *m, const struct sl_api_request *req)
{
	char addr[SL_ADDR_BODY_MAX + 1], target[SL_ADDR_BODY_MAX + 1];
	struct sl_portals *P = portals(nm, m);
	struct sl_portal_info v;
	int ret;

	if (!P)
		return;
	if (!req->body || sl_api_text2_decode(req->body, req->body_len, addr, sizeof(addr), target,
					      sizeof(target))) {
		respond_err(nm, m, SL_API_BAD_REQUEST, "tcp_outlet.create needs [address, target]");
		return;
	}
	ret = sl_portal_outlet_create(P, addr, target);
	if (ret == -EEXIST) {
		respond_err(nm, m, SL_API_BAD_REQUEST, "the address %s is already taken on this node: "
			    "pick another with --from, or delete the outlet there first", addr);
		return;
	}
	if (ret || sl_portal_outlet_get(P, addr, &v)) {
		respond_err(nm, m, SL_API_INTERNAL, "cannot create the outlet: %s", strerror(-ret));
		return;
	}
	sl_log(SL_LOG_INFO, "node=%s event=outlet_created address=%s target=%s",
	       sl_node_name(sl_shard_node(nm->shard)), addr, target);
	respond_portal(nm, m, &v);
}

static void outlet_show(struct sl_worker *nm, struct sl_msg *m, const struct sl_api_request *req)
{
	char addr[SL_ADDR_BODY_MAX + 1];
	struct sl_portals *P = portals(nm, m);
	struct sl_portal_info v;

	if (!P)
		return;
	if (!req->body || sl_api_text_decode(req->body, req->body_len, addr, sizeof(addr))) {
		respond_err(nm, m, SL_API_BAD_REQUEST, "%s needs the outlet's address", req->method);
		return;
	}
	if (sl_portal_outlet_get(P, addr, &v)) {
		respond_err(nm, m, SL_API_NOT_FOUND, "no outlet at %s: see `sluice tcp-outlet list`", addr);
		return;
	}
	if (!strcmp(req->method, "tcp_outlet.delete")) {
		sl_portal_outlet_delete(P, addr);
		sl_nm_respond(nm, m, SL_API_OK, NULL, NULL, 0);
		return;
	}
	respond_portal(nm, m, &v);
}

static void outlet_list(struct sl_worker *nm, struct sl_msg *m, const struct sl_api_request *req)
{
	respond_list(nm, m, false);
}

/* tcp_inlet.* */

static void inlet_create(struct sl_worker *nm, struct sl_msg *m, const struct sl_api_request *req)
{
	struct sl_portals *P = portals(nm, m);
	struct sl_api_inlet_create c;
	struct sl_portal_info v;
	uint16_t port = 0;
	int ret;

	if (!P)
		return;
	if (!req->body || sl_api_inlet_create_decode(req->body, req->body_len, &c)) {
		respond_err(nm, m, SL_API_BAD_REQUEST, "tcp_inlet.create needs [alias, bind, to, route]");
		return;
	}
	ret = sl_portal_inlet_create(P, c.alias, c.bind, &c.route, c.to, &port);
	if (ret == -EEXIST) {
		respond_err(nm, m, SL_API_BAD_REQUEST, "there is already an inlet named %s: pick "
			    "another --alias, or delete it first", c.alias);
		return;
	}
	if (ret == -EADDRINUSE) {
		respond_err(nm, m, SL_API_BAD_REQUEST, "%s is already in use: pick another --from "
			    "address", c.bind);
		return;
	}
	if (ret || sl_portal_inlet_get(P, c.alias, &v)) {
		respond_err(nm, m, SL_API_BAD_REQUEST, "cannot listen on %s: %s", c.bind, strerror(-ret));
		return;
	}
	sl_log(SL_LOG_INFO, "node=%s event=inlet_created alias=%s bind=%s port=%u to=%s",
	       sl_node_name(sl_shard_node(nm->shard)), c.alias, c.bind, port, c.to);
	respond_portal(nm, m, &v);
}

static void inlet_show(struct sl_worker *nm, struct sl_msg *m, const struct sl_api_request *req)
{
	char alias[SL_ADDR_BODY_MAX + 1];
	struct sl_portals *P = portals(nm, m);
	struct sl_portal_info v;

	if (!P)
		return;
	if (!req->body || sl_api_text_decode(req->body, req->body_len, alias, sizeof(alias))) {
		respond_err(nm, m, SL_API_BAD_REQUEST, "%s needs the inlet's alias", req->method);
		return;
	}
	if (sl_portal_inlet_get(P, alias, &v)) {
		respond_err(nm, m, SL_API_NOT_FOUND, "no inlet named %s: see `sluice tcp-inlet list`", alias);
		return;
	}
	if (!strcmp(req->method, "tcp_inlet.delete")) {
		sl_portal_inlet_delete(P, alias);
		sl_nm_respond(nm, m, SL_API_OK, NULL, NULL, 0);
		return;
	}
	respond_portal(nm, m, &v);
}

static void inlet_list(struct sl_worker *nm, struct sl_msg *m, const struct sl_api_request *req)
{
	respond_list(nm, m, true);
}

static const struct {
	const char *method;
	void (*fn)(struct sl_worker *nm, struct sl_msg *m, const struct sl_api_request *req);
} methods[] = {
	{ "tcp_outlet.create", outlet_create },
	{ "tcp_outlet.list", outlet_list },
	{ "tcp_outlet.show", outlet_show },
	{ "tcp_outlet.delete", outlet_show },
	{ "tcp_inlet.create", inlet_create },
	{ "tcp_inlet.list", inlet_list },
	{ "tcp_inlet.show", inlet_show },
	{ "tcp_inlet.delete", inlet_show },
};

bool sl_nm_portal_method(struct sl_worker *nm, struct sl_msg *m, const struct sl_api_request *req)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (!strcmp(methods[i].method, req->method)) {
			methods[i].fn(nm, m, req);
			return true;
		}
	}
	return false;
}

/* Restore */

struct restore_ctx {
	struct sl_state *st;
};

/* /node/NAME: that node's TCP listener, as recorded (it need not run yet). */
static int restore_node(void *arg, const char *name, struct sl_route *route)
{
	struct restore_ctx *ctx = arg;
	struct sl_node_rec rec;
	char dial[300];

	if (sl_state_node_get(ctx->st, name, &rec) || sl_node_dial_address(&rec, dial, sizeof(dial)))
		return -ENOENT;
	return sl_route_push_back(route, SL_ADDR_TCP, dial, strlen(dial));
}

void sl_nm_portal_restore(struct sl_node *n, struct sl_state *st, const char *name)
{
	struct restore_ctx ctx = { .st = st };
	struct sl_ma_resolver res = { .arg = &ctx, .node = restore_node };
	struct sl_portals *P = sl_portals_get(n);
	struct sl_outlet_rec *outs = NULL;
	struct sl_inlet_rec *ins = NULL;
	size_t nout = 0, nin = 0;
	char err[512];

	if (!P)
		return;
	if (!sl_state_outlet_list(st, name, &outs, &nout)) {
		for (size_t i = 0; i < nout; i++) {
			int ret = sl_portal_outlet_create(P, outs[i].address, outs[i].to);

			sl_log(ret ? SL_LOG_WARN : SL_LOG_INFO,
			       "node=%s event=outlet_restored address=%s target=%s err=\"%s\"", name,
			       outs[i].address, outs[i].to, ret ? strerror(-ret) : "");
		}
	}
	if (!sl_state_inlet_list(st, name, &ins, &nin)) {
		for (size_t i = 0; i < nin; i++) {
			struct sl_route route;
			uint16_t port;
			int ret;

			ret = sl_multiaddr_to_route(ins[i].to, &res, &route, err, sizeof(err));
			if (ret) {
				sl_log(SL_LOG_WARN, "node=%s event=inlet_not_restored alias=%s to=%s "
				       "reason=\"%s\"", name, ins[i].alias, ins[i].to, err);
				continue;
			}
			ret = sl_portal_inlet_create(P, ins[i].alias, ins[i].from, &route, ins[i].to, &port);
			sl_log(ret ? SL_LOG_WARN : SL_LOG_INFO,
			       "node=%s event=inlet_restored alias=%s bind=%s to=%s err=\"%s\"", name,
			       ins[i].alias, ins[i].from, ins[i].to, ret ? strerror(-ret) : "");
		}
	}
	free(outs);
	free(ins);
}
