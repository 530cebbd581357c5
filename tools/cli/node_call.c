// SPDX-License-Identifier: Apache-2.0
/* Control calls and route resolution shared by the CLI's commands (node_call.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cbor.h"
#include "engine/multiaddr.h"
#include "tools/cli/node_call.h"
#include "tools/common/api_secure.h"
#include "tools/common/node_proc.h"
#include "tools/common/relay_at.h"

/* Beyond a handshake's own timeout, how long the node may take to answer the CLI. */
#define CONTROL_SLACK_MS 5000

const struct sl_opt sl_at_opts[] = {
	{ "at", 0, "NODE", "the node (default: the only running node)" },
	{ NULL, 0, NULL, NULL },
};

const char *sl_service_name(const char *addr)
{
	return strncmp(addr, "/service/", 9) ? addr : addr + 9;
}

int sl_node_pick(struct sl_state *st, const char *name, const char *flag, struct sl_node_rec *rec)
{
	struct sl_node_rec *recs;
	size_t n, i, running = 0;
	int ret;

	if (name) {
		/* Ockam takes a node as NAME or /node/NAME alike (`relay create --to /node/b`). */
		if (!strncmp(name, "/node/", 6))
			name = name + 6;
		if (!sl_node_name_valid(name))
			return sl_err("'%s' is not a node name: see `sluice node list`", name);
		ret = sl_state_node_get(st, name, rec);
		if (ret == -ENOENT)
			return sl_err("unknown node %s: see `sluice node list`, or create it with "
				      "`sluice node create %s`", name, name);
		if (ret)
			return sl_err("cannot read the state store: %s", strerror(-ret));
		if (!rec->pid || !sl_node_alive(rec->pid, rec->pid_start))
			return sl_err("node %s is not running: start it with `sluice node start %s`",
				      name, name);
		return 0;
	}
	ret = sl_state_node_list(st, &recs, &n);
	if (ret)
		return sl_err("cannot read the state store: %s", strerror(-ret));
	for (i = 0; i < n; i++) {
		if (recs[i].pid && sl_node_alive(recs[i].pid, recs[i].pid_start)) {
			*rec = recs[i];
			running++;
		}
	}
	free(recs);
	if (running == 1)
		return 0;
	return sl_err(running ? "several nodes are running: say which one with %s NODE" :
			      "no node is running: create one with `sluice node create n1`, then use %s n1",
		      flag);
}

int sl_node_call(const char *node, const char *method, const uint8_t *body, size_t len,
		 int timeout_ms, struct sl_control_reply *r)
{
	char sock[PATH_MAX];
	int ret;

	ret = sl_state_node_file(node, "control.sock", sock, sizeof(sock));
	if (ret)
		return sl_err("node %s: %s", node, strerror(-ret));
	ret = sl_control_call(sock, method, body, len, timeout_ms, r);
	if (ret == -ENOENT || ret == -ECONNREFUSED)
		return sl_err("node %s is not running: start it with `sluice node start %s`", node, node);
	if (ret == -ETIMEDOUT)
		return sl_err("node %s did not answer the CLI: see `sluice node show %s` and its log",
			      node, node);
	if (ret == -ECONNRESET)
		return sl_err("node %s closed the connection before it answered (was it stopped?): "
			      "see `sluice node show %s`", node, node);
	if (ret)
		return sl_err("talking to node %s failed: %s", node, strerror(-ret));
	if (r->resp.status == SL_API_NOT_FOUND && !strncmp(r->resp.error, "this node does not know", 23)) {
		sl_err("node %s: %s (restart it with this sluice: `sluice node stop %s && sluice node "
		       "start %s`)", node, r->resp.error, node, node);
		sl_control_reply_free(r);
		return -1;
	}
	return 0;
}

int sl_node_pick_at(const struct sl_cmd_spec *spec, const struct sl_args *a,
		    struct sl_node_rec *rec)
{
	struct sl_state *st;
	int ret = sl_state_open(NULL, &st);

	if (ret)
		return ret;
	ret = sl_node_pick(st, sl_args_get(spec, a, "at"), "--at", rec);
	sl_state_close(st);
	return ret;
}

int sl_node_call_ok(const char *node, const char *method, const uint8_t *body, size_t len,
		    int timeout_ms, struct sl_control_reply *r)
{
	if (sl_node_call(node, method, body, len, timeout_ms, r))
		return -1;
	if (r->resp.status != SL_API_OK) {
		sl_err("node %s: %s", node, r->resp.error[0] ? r->resp.error : "failed");
		sl_control_reply_free(r);
		return -1;
	}
	return 0;
}

int sl_node_list(const struct sl_cli *cli, const struct sl_cmd_spec *spec, const struct sl_args *a,
		 const char *method, int timeout_ms, const char *empty,
		 int (*item)(struct sl_list *l, struct sl_cbor_reader *rd, const char *node,
			     void *arg),
		 void *arg)
{
	struct sl_control_reply r;
	struct sl_cbor_reader rd;
	struct sl_cbor_array arr;
	struct sl_node_rec rec;
	const char *node = rec.name;
	struct sl_list l;
	int ret;

	if (sl_node_pick_at(spec, a, &rec) || sl_node_call(node, method, NULL, 0, timeout_ms, &r))
		return -1;
	if (r.resp.status != SL_API_OK || !r.resp.body) {
		ret = sl_err("node %s: %s", node, r.resp.error[0] ? r.resp.error : "malformed reply");
		goto out;
	}
	sl_cbor_reader_init(&rd, r.resp.body, r.resp.body_len);
	ret = sl_cbor_array_enter(&rd, &arr);
	sl_list_begin(&l, cli, NULL);
	/* What came before a malformed element stays printed, and the JSON closed. */
	while (!ret && (ret = sl_cbor_array_next(&rd, &arr)) > 0)
		ret = item(&l, &rd, node, arg);
	if (empty)
		sl_list_end(&l, "No %s at node %s", empty, node);
	else
		sl_list_end(&l, NULL);
	if (ret)
		ret = sl_err("node %s answered with a malformed list", node);
out:
	sl_control_reply_free(&r);
	return ret;
}

int sl_node_secure_create(const char *from, const char *to_text, const struct sl_route *to,
			  const char *identity, const uint8_t (*authorized)[32], unsigned n_authorized,
			  uint32_t timeout_ms, char addr[33], uint8_t peer[32])
{
	struct sl_api_sc_create *c = calloc(1, sizeof(*c));
	size_t blen = SL_ROUTE_BYTES * 2 + 64 * SL_SECURE_MAX_AUTHORIZED, len;
	uint8_t *body = malloc(blen);
	struct sl_control_reply r;
	struct sl_cbor_reader rd;
	struct sl_cbor_array a;
	struct sl_cbor_writer w;
	const char *s;
	char dur[32];
	int ret;

	if (!c || !body) {
		ret = sl_err("out of memory");
		goto out;
	}
	sl_route_copy(&c->to, to);
	snprintf(c->identity, sizeof(c->identity), "%s", identity ? identity : "");
	c->n_authorized = n_authorized;
	if (n_authorized)
		memcpy(c->authorized, authorized, n_authorized * 32);
	c->timeout_ms = timeout_ms;
	sl_cbor_writer_init(&w, body, blen);
	sl_api_put_sc_create(&w, c);
	if (sl_cbor_writer_finish(&w, &len)) {
		ret = sl_err("the route %s is too long", to_text);
		goto out;
	}
	ret = sl_node_call(from, "secure_channel.create", body, len,
			   (int)(timeout_ms + CONTROL_SLACK_MS), &r);
	if (ret)
		goto out;
	sl_format_duration_ms(timeout_ms, dur, sizeof(dur));
	if (r.resp.status == SL_API_TIMEOUT) {
		ret = sl_err("secure channel from %s to %s: no answer to the handshake within %s (timeout): "
			     "is there a secure channel listener at the end of the route? "
			     "(see `sluice secure-channel-listener list --at NODE`)", from, to_text, dur);
	} else if (r.resp.status == SL_API_FORBIDDEN) {
		ret = sl_err("secure channel from %s to %s refused: %s", from, to_text, r.resp.error);
	} else if (r.resp.status != SL_API_OK) {
		ret = sl_err("node %s could not create the secure channel to %s: %s", from, to_text,
			     r.resp.error[0] ? r.resp.error : "no reason given");
	} else {
		size_t n;

		sl_cbor_reader_init(&rd, r.resp.body, r.resp.body_len);
		ret = !r.resp.body || sl_cbor_array_enter(&rd, &a) || sl_cbor_field(&rd, &a) ||
		      sl_cbor_get_text(&rd, &s, &n) || n != 32 || sl_cbor_field(&rd, &a) ||
		      sl_cbor_get_bytes_n(&rd, peer, 32);
		if (ret) {
			ret = sl_err("node %s answered with a malformed reply", from);
		} else {
			memcpy(addr, s, 32);
			addr[32] = 0;
		}
	}
	sl_control_reply_free(&r);
out:
	free(body);
	free(c);
	return ret;
}

struct resolve_ctx {
	struct sl_state *st;
	const char *from;
	const char *text;
	uint32_t timeout_ms;
	bool printed;		/* the resolver printed its own error */
};

int sl_node_route_push(struct sl_state *st, const char *name, const char *text,
		       struct sl_route *route)
{
	struct sl_node_rec rec;
	char dial[300];
	int ret;

	ret = sl_state_node_get(st, name, &rec);
	if (ret == -ENOENT)
		return sl_err("unknown node %s in %s: see `sluice node list`", name, text);
	if (ret)
		return sl_err("cannot read the state store: %s", strerror(-ret));
	if (!rec.pid || !sl_node_alive(rec.pid, rec.pid_start) ||
	    sl_node_dial_address(&rec, dial, sizeof(dial)))
		return sl_err("node %s is not running: start it with `sluice node start %s`", name, name);
	if (sl_route_push_back(route, SL_ADDR_TCP, dial, strlen(dial)))
		return sl_err("the route %s is longer than %d hops", text, SL_ROUTE_MAX_HOPS);
	return 0;
}

static int resolve_node(void *arg, const char *name, struct sl_route *route)
{
	struct resolve_ctx *ctx = arg;

	/* Every failure of sl_node_route_push is printed. */
	ctx->printed = sl_node_route_push(ctx->st, name, ctx->text, route) != 0;
	return ctx->printed ? -1 : 0;
}

static int resolve_secure(void *arg, const char *name, struct sl_route *route)
{
	struct resolve_ctx *ctx = arg;
	uint8_t peer[32];
	char addr[33];

	ctx->printed = true;
	if (sl_route_push_back(route, SL_ADDR_LOCAL, name, strlen(name)))
		return sl_err("the route %s is longer than %d hops", ctx->text, SL_ROUTE_MAX_HOPS);
	if (sl_node_secure_create(ctx->from, ctx->text, route, NULL, NULL, 0, ctx->timeout_ms,
				  addr, peer))
		return -1;
	/* The rest of the multiaddr continues through the channel. */
	sl_route_init(route);
	sl_route_push_back(route, SL_ADDR_LOCAL, addr, 32);
	ctx->printed = false;
	return 0;
}

/*
 * /project/NAME: a secure channel from `from` to the project's relay node,
 * which must prove the project's identity; the rest continues through it.
 */
static int resolve_project(void *arg, const char *name, struct sl_route *route)
{
	struct resolve_ctx *ctx = arg;
	uint8_t id[32], peer[32];
	char addr[33], err[600];
	bool has_id;

	ctx->printed = true;
	if (sl_project_resolve(ctx->st, name, route, &has_id, id, err, sizeof(err)))
		return sl_err("%s", err);
	if (sl_route_push_back(route, SL_ADDR_LOCAL, "api", 3))
		return sl_err("the route %s is longer than %d hops", ctx->text, SL_ROUTE_MAX_HOPS);
	if (sl_node_secure_create(ctx->from, ctx->text, route, NULL,
				  has_id ? (const uint8_t (*)[32])id : NULL, has_id ? 1 : 0,
				  ctx->timeout_ms, addr, peer))
		return -1;
	sl_route_init(route);
	sl_route_push_back(route, SL_ADDR_LOCAL, addr, 32);
	ctx->printed = false;
	return 0;
}

int sl_node_route(struct sl_state *st, const char *from, const char *text, uint32_t timeout_ms,
		  struct sl_route *route)
{
	struct resolve_ctx ctx = { .st = st, .from = from, .text = text, .timeout_ms = timeout_ms };
	struct sl_ma_resolver res = { .arg = &ctx, .node = resolve_node, .secure = resolve_secure,
				      .project = resolve_project };
	char err[512];

	if (sl_multiaddr_to_route(text, &res, route, err, sizeof(err)))
		return ctx.printed ? -1 : sl_err("%s", err);
	if (sl_route_empty(route))
		return sl_err("the route %s is empty", text);
	return 0;
}

struct sl_authorized sl_authorized;

int sl_collect_authorized(int argc, char **argv, uint8_t (*ids)[SL_ID_LEN], unsigned *n)
{
	*n = 0;
	for (int i = 0; i < argc; i++) {
		const char *v = NULL;

		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--authorized") && i + 1 < argc)
			v = argv[++i];
		else if (!strncmp(argv[i], "--authorized=", 13))
			v = argv[i] + 13;
		if (!v)
			continue;
		if (*n >= SL_SECURE_MAX_AUTHORIZED)
			return sl_err("at most %d --authorized identifiers", SL_SECURE_MAX_AUTHORIZED);
		if (sl_identity_id_parse(v, ids[*n]))
			return sl_err("--authorized %s is not an identifier: use I followed by 64 hex digits, "
				      "as `sluice identity show NAME` prints it", v);
		(*n)++;
	}
	return 0;
}

void sl_authorized_collect(int argc, char **argv)
{
	sl_authorized.err = sl_collect_authorized(argc, argv, sl_authorized.id, &sl_authorized.n);
}
