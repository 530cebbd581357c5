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
#include "tools/common/api_portal.h"
#include "tools/common/api_secure.h"
#include "tools/common/node_proc.h"
#include "tools/common/relay_at.h"
#include "tools/common/state.h"
#include "tools/daemon/nm_portal.h"
#include "tools/daemon/nm_secure.h"
#include "tools/daemon/node_manager.h"

#define LIST_MAX 1024
#define SEGS_MAX (SL_ROUTE_MAX_HOPS + SL_PORTAL_HOPS_MAX)

static int plan_err(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int plan_err(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return ret;
}

/*
 * An inlet's route text -> what the inlet does with it (portal.h): plain
 * segments and /node/NAME (its recorded listener: it need not run now) are
 * addresses; each /secure/NAME and /project/NAME ends a hop, a channel the
 * inlet makes itself. The node does this, not the CLI, so that the inlet
 * can make its channels again, and a restarted node can bring it back.
 */
static int inlet_plan(struct sl_state *st, const char *text, struct sl_portal_route *r,
		      char *err, size_t errlen)
{
	struct sl_ma_seg *segs = malloc(SEGS_MAX * sizeof(*segs));
	struct sl_route *cur = &r->tail;
	struct sl_node_rec rec;
	char dial[300];
	size_t n;
	int ret;

	memset(r, 0, sizeof(*r));
	sl_route_init(cur);
	if (!segs)
		return plan_err(err, errlen, -ENOMEM, "the node is out of memory");
	ret = sl_multiaddr_parse(text, segs, SEGS_MAX, &n, err, errlen);
	for (size_t i = 0; i < n && !ret; i++) {
		const struct sl_ma_seg *g = &segs[i];
		struct sl_portal_hop *h = &r->hop[r->nhops];
		struct sl_route proute;

		switch (g->kind) {
		case SL_MA_ADDR:
			ret = sl_route_push_back(cur, g->type, g->text, g->len);
			break;
		case SL_MA_NODE:
			if (sl_state_node_get(st, g->text, &rec) ||
			    sl_node_dial_address(&rec, dial, sizeof(dial)))
				ret = plan_err(err, errlen, -ENOENT, "unknown node %s in %s: see "
					       "`sluice node list`", g->text, text);
			else
				ret = sl_route_push_back(cur, SL_ADDR_TCP, dial, strlen(dial));
			break;
		case SL_MA_PROJECT:
		case SL_MA_SECURE:
			if (r->nhops == SL_PORTAL_HOPS_MAX) {
				ret = plan_err(err, errlen, -ERANGE, "%s makes more than %d secure "
					       "channels", text, SL_PORTAL_HOPS_MAX);
				break;
			}
			sl_route_copy(&h->to, cur);
			if (g->kind == SL_MA_PROJECT) {
				/* err says what is wrong with the project */
				ret = sl_project_resolve(st, g->text, &proute, &h->has_id, h->id, err,
							 errlen);
				if (!ret)
					ret = sl_route_append(&h->to, &proute);
			}
			if (!ret)
				ret = sl_route_push_back(&h->to, SL_ADDR_LOCAL,
							 g->kind == SL_MA_PROJECT ? SL_SECURE_LISTENER : g->text,
							 g->kind == SL_MA_PROJECT ? strlen(SL_SECURE_LISTENER) : g->len);
			r->nhops++;
			sl_route_init(cur);	/* what follows goes through the channel */
			break;
		}
		if (ret == -E2BIG)
			plan_err(err, errlen, ret, "the route %s is longer than %d hops", text,
				 SL_ROUTE_MAX_HOPS);
	}
	free(segs);
	if (ret)
		return ret;
	if (sl_route_empty(cur))
		return plan_err(err, errlen, -EINVAL, r->nhops ?
				"the route %s ends at a secure channel: add the outlet's address, "
				"e.g. %s/service/outlet" : "the route %s is empty%s", text,
				r->nhops ? text : "");
	return 0;
}

/*
 * A route whose first hop is a channel this node made (secure_channel.create,
 * the seed's `... | tcp-inlet create --to -/service/outlet`) would die with
 * that channel. Made instead as the equivalent /secure route, with the
 * channel's route to its listener and the peer it proved pinned, the inlet
 * makes its own channels to that same peer and makes new ones when they
 * break (portal_chan.c). True when r was so rewritten; then text is that
 * route as text (what the inlet is saved and restored as), or "" when the
 * channel was made with --authorized, which a /secure route cannot say.
 */
static bool inlet_heals(struct sl_node *n, struct sl_portal_route *r, char *text, size_t cap)
{
	struct sl_portal_hop *h = &r->hop[0];
	struct sl_route to;
	struct sl_addr f, l = { 0 }, a;
	bool any_peer;
	size_t it = 0, k = 0, len;
	int ret;

	*text = 0;
	if (r->nhops || !sl_route_front(&r->tail, &f) || f.type != SL_ADDR_LOCAL ||
	    sl_nm_sc_origin(n, (const char *)f.body, f.len, &h->to, h->id, &any_peer))
		return false;
	sl_route_pop_front(&r->tail);
	if (sl_route_empty(&r->tail)) {
		/* The channel itself is no outlet: leave it as it was, for the usual error. */
		sl_route_push_front(&r->tail, f.type, f.body, f.len);
		return false;
	}
	h->has_id = true;
	r->nhops = 1;
	/* As text: the way to the listener, /secure/LISTENER, then the rest. */
	sl_route_init(&to);
	while (sl_route_next(&h->to, &it, &a)) {
		if (k++)
			sl_route_push_back(&to, l.type, l.body, l.len);
		l = a;
	}
	if (!any_peer || !k || l.type != SL_ADDR_LOCAL)
		return true;
	ret = sl_multiaddr_from_route(&to, text, cap);
	len = ret < 0 ? 0 : (size_t)ret;
	ret = ret < 0 ? ret : snprintf(text + len, cap - len, "/secure/%.*s", (int)l.len, l.body);
	if (ret >= 0 && len + (size_t)ret < cap)
		len += (size_t)ret;
	else
		ret = -1;
	if (ret < 0 || sl_multiaddr_from_route(&r->tail, text + len, cap - len) < 0)
		*text = 0;
	return true;
}

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

static bool is_inlet(const struct sl_api_request *req)
{
	return !strncmp(req->method, "tcp_inlet.", 10);
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

/* tcp_inlet.* */

static void inlet_create(struct sl_worker *nm, struct sl_msg *m, const struct sl_api_request *req)
{
	struct sl_portals *P = portals(nm, m);
	struct sl_portal_route *route = NULL;
	struct sl_api_inlet_create c;
	struct sl_state *st = NULL;
	struct sl_portal_info v;
	uint16_t port = 0;
	bool heals;
	char err[512], text[512];
	int ret;

	if (!P)
		return;
	if (!req->body || sl_api_inlet_create_decode(req->body, req->body_len, &c)) {
		respond_err(nm, m, SL_API_BAD_REQUEST, "tcp_inlet.create needs [alias, bind, to, route]");
		return;
	}
	route = calloc(1, sizeof(*route));
	if (!route) {
		respond_err(nm, m, SL_API_BUSY, "the node is out of memory");
		return;
	}
	if (sl_route_empty(&c.route)) {
		/* The CLI left the route to us: it makes channels (inlet_plan). */
		ret = sl_state_open(NULL, &st);
		if (ret) {
			respond_err(nm, m, SL_API_INTERNAL, "cannot read the state store: %s",
				    strerror(-ret));
			goto out;
		}
		ret = inlet_plan(st, c.to, route, err, sizeof(err));
		sl_state_close(st);
		if (ret) {
			respond_err(nm, m, SL_API_BAD_REQUEST, "%s", err);
			goto out;
		}
	} else {
		sl_route_copy(&route->tail, &c.route);
	}
	heals = inlet_heals(sl_shard_node(nm->shard), route, text, sizeof(text));
	ret = sl_portal_inlet_create(P, c.alias, c.bind, route, *text ? text : c.to, &port);
	if (ret == -EEXIST) {
		respond_err(nm, m, SL_API_BAD_REQUEST, "there is already an inlet named %s: pick "
			    "another --alias, or delete it first", c.alias);
		goto out;
	}
	if (ret == -EADDRINUSE) {
		respond_err(nm, m, SL_API_BAD_REQUEST, "%s is already in use: pick another --from "
			    "address", c.bind);
		goto out;
	}
	if (ret || sl_portal_inlet_get(P, c.alias, &v)) {
		respond_err(nm, m, SL_API_BAD_REQUEST, "cannot listen on %s: %s", c.bind, strerror(-ret));
		goto out;
	}
	sl_log(SL_LOG_INFO, "node=%s event=inlet_created alias=%s bind=%s port=%u to=%s channels=%u%s",
	       sl_node_name(sl_shard_node(nm->shard)), c.alias, c.bind, port, c.to, route->nhops,
	       heals ? " remakes=given_channel" : "");
	respond_portal(nm, m, &v);
out:
	free(route);
}

/* tcp_*.show and tcp_*.delete, for both ends: the method's noun says which. */
static void portal_show(struct sl_worker *nm, struct sl_msg *m, const struct sl_api_request *req)
{
	bool inlet = is_inlet(req), del = !strcmp(strchr(req->method, '.'), ".delete");
	struct sl_portals *P = portals(nm, m);
	char name[SL_ADDR_BODY_MAX + 1];
	struct sl_portal_info v;

	if (!P)
		return;
	if (!req->body || sl_api_text_decode(req->body, req->body_len, name, sizeof(name))) {
		respond_err(nm, m, SL_API_BAD_REQUEST, "%s needs the %s", req->method,
			    inlet ? "inlet's alias" : "outlet's address");
		return;
	}
	if (inlet ? sl_portal_inlet_get(P, name, &v) : sl_portal_outlet_get(P, name, &v)) {
		if (inlet)
			respond_err(nm, m, SL_API_NOT_FOUND,
				    "no inlet named %s: see `sluice tcp-inlet list`", name);
		else
			respond_err(nm, m, SL_API_NOT_FOUND,
				    "no outlet at %s: see `sluice tcp-outlet list`", name);
		return;
	}
	if (del) {
		if (inlet)
			sl_portal_inlet_delete(P, name);
		else
			sl_portal_outlet_delete(P, name);
		sl_nm_respond(nm, m, SL_API_OK, NULL, NULL, 0);
		return;
	}
	respond_portal(nm, m, &v);
}

static void portal_list(struct sl_worker *nm, struct sl_msg *m, const struct sl_api_request *req)
{
	respond_list(nm, m, is_inlet(req));
}

const struct sl_nm_method sl_nm_portal_methods[] = {
	{ "tcp_outlet.create", outlet_create },
	{ "tcp_outlet.list", portal_list },
	{ "tcp_outlet.show", portal_show },
	{ "tcp_outlet.delete", portal_show },
	{ "tcp_inlet.create", inlet_create },
	{ "tcp_inlet.list", portal_list },
	{ "tcp_inlet.show", portal_show },
	{ "tcp_inlet.delete", portal_show },
	{ NULL, NULL },
};

/* Restore */

void sl_nm_portal_restore(struct sl_node *n, struct sl_state *st, const char *name)
{
	struct sl_portals *P = sl_portals_get(n);
	struct sl_portal_route *route = malloc(sizeof(*route));
	struct sl_outlet_rec *outs = NULL;
	struct sl_inlet_rec *ins = NULL;
	size_t nout = 0, nin = 0;
	char err[512];

	if (!P || !route) {
		free(route);
		return;
	}
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
			uint16_t port;
			int ret;

			/* The channels it makes come with its first clients, once the node runs. */
			ret = inlet_plan(st, ins[i].to, route, err, sizeof(err));
			if (ret) {
				sl_log(SL_LOG_WARN, "node=%s event=inlet_not_restored alias=%s to=%s "
				       "reason=\"%s\"", name, ins[i].alias, ins[i].to, err);
				continue;
			}
			ret = sl_portal_inlet_create(P, ins[i].alias, ins[i].from, route, ins[i].to, &port);
			sl_log(ret ? SL_LOG_WARN : SL_LOG_INFO,
			       "node=%s event=inlet_restored alias=%s bind=%s to=%s channels=%u err=\"%s\"",
			       name, ins[i].alias, ins[i].from, ins[i].to, route->nhops,
			       ret ? strerror(-ret) : "");
		}
	}
	free(route);
	free(outs);
	free(ins);
}
