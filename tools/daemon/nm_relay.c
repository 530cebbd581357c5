// SPDX-License-Identifier: Apache-2.0
/*
 * Relays on the node-manager side (nm_relay.h). Control plane, on the node
 * manager's shard: may allocate. The CLI records relays in the state store;
 * the node reads them back only at start.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/log.h"
#include "engine/msg.h"
#include "engine/multiaddr.h"
#include "engine/node.h"
#include "engine/relay.h"
#include "engine/worker.h"
#include "tools/common/api_relay.h"
#include "tools/common/relay_at.h"
#include "tools/daemon/nm_relay.h"
#include "tools/daemon/node_manager.h"

#define HOSTED_MAX 1000
#define RESTORE_FIRST_NS (365ull * 24 * 3600 * 1000000000)	/* no first-attempt event */

static void put_info(struct sl_cbor_writer *w, const struct sl_relay_client_info *ci)
{
	char at[600];

	if (sl_multiaddr_from_route(&ci->at, at, sizeof(at)) < 0)
		sl_route_format(&ci->at, at, sizeof(at));
	sl_cbor_put_array(w, 9);
	sl_cbor_put_text(w, ci->name, strlen(ci->name));
	sl_cbor_put_text(w, ci->remote, strlen(ci->remote));
	sl_cbor_put_text(w, at, strlen(at));
	sl_cbor_put_text(w, sl_relay_client_state_name(ci->state),
			 strlen(sl_relay_client_state_name(ci->state)));
	sl_cbor_put_bool(w, ci->secure);
	sl_cbor_put_uint(w, ci->registrations);
	sl_cbor_put_uint(w, ci->pings);
	sl_cbor_put_uint(w, ci->pongs);
	sl_cbor_put_uint(w, ci->last_up_s);
}

static void respond_info(struct sl_worker *nm, struct sl_msg *m, struct sl_relay_client *c)
{
	struct sl_relay_client_info ci;
	struct sl_cbor_writer w;
	uint8_t buf[2048];
	size_t len;

	sl_relay_client_get_info(c, &ci);
	sl_cbor_writer_init(&w, buf, sizeof(buf));
	put_info(&w, &ci);
	if (sl_cbor_writer_finish(&w, &len)) {
		sl_nm_respond(nm, m, SL_API_INTERNAL, "the response does not fit its buffer", NULL, 0);
		return;
	}
	sl_nm_respond(nm, m, SL_API_OK, NULL, buf, len);
}

static struct sl_relays *relays(struct sl_worker *nm, struct sl_msg *m)
{
	struct sl_relays *rs = sl_relays_local(nm->shard);

	if (!rs)
		sl_nm_respond(nm, m, SL_API_INTERNAL, "this node runs no relay services", NULL, 0);
	return rs;
}

/* relay.create: answered when the first registration is done. */
struct create_req {
	struct sl_worker *nm;
	struct sl_msg *m;
	char at[600];
};

/*
 * The relay relay.delete is deleting now, on this (the node manager's) thread: a
 * create still waiting for it is answered, where a node stopping answers nobody.
 */
static _Thread_local const struct sl_relay_client *deleting;

static void create_event(void *ctx, struct sl_relay_client *c, int status)
{
	struct create_req *cr = ctx;
	char err[1024];

	if (status == -ECANCELED && c == deleting) {
		sl_nm_respond(cr->nm, cr->m, SL_API_CONFLICT,
			      "the relay was deleted (`relay delete`) before its first registration",
			      NULL, 0);
		free(cr);
		return;
	}
	if (status == -ECANCELED) {
		/* The node is stopping: nobody to answer. */
		sl_msg_free(cr->m);
		free(cr);
		return;
	}
	if (!status) {
		respond_info(cr->nm, cr->m, c);
	} else {
		snprintf(err, sizeof(err), "the relay node at %s did not register %s within %us: is it "
			 "running, does it run the relay services (`sluice node show`), and did none "
			 "of its limits refuse it (sluice_limit_rejections_total in its `sluice node "
			 "stats`)?", cr->at, "the relay", SL_RELAY_CREATE_TIMEOUT_MS / 1000);
		sl_nm_respond(cr->nm, cr->m, SL_API_TIMEOUT, err, NULL, 0);
		/* Nothing half made stays behind; the CLI records nothing. */
		sl_relay_client_delete(c);
	}
	free(cr);
}

static void relay_create(struct sl_worker *nm, struct sl_msg *m, const struct sl_api_request *req)
{
	struct sl_relay_client_opts o = {
		.secure = true,
		.first_timeout_ns = SL_RELAY_CREATE_TIMEOUT_MS * 1000000ull,
		.event = create_event,
	};
	struct sl_relays *rs = relays(nm, m);
	struct sl_api_relay_create c;
	struct create_req *cr;
	int ret;

	if (!rs)
		return;
	if (sl_api_relay_create_decode(req->body, req->body_len, &c)) {
		sl_nm_respond(nm, m, SL_API_BAD_REQUEST, "relay.create needs [name, route, ?authority]",
			      NULL, 0);
		return;
	}
	if (c.plain && c.has_authority) {
		sl_nm_respond(nm, m, SL_API_BAD_REQUEST, "a relay whose relay node must prove an "
			      "identity (a project) registers through a secure channel: not plain",
			      NULL, 0);
		return;
	}
	o.has_authority = c.has_authority;
	memcpy(o.authority, c.authority, sizeof(o.authority));
	o.secure = !c.plain;
	cr = calloc(1, sizeof(*cr));
	if (!cr) {
		sl_nm_respond(nm, m, SL_API_BUSY, "the node is out of memory", NULL, 0);
		return;
	}
	cr->nm = nm;
	cr->m = m;
	if (sl_multiaddr_from_route(&c.at, cr->at, sizeof(cr->at)) < 0)
		sl_route_format(&c.at, cr->at, sizeof(cr->at));
	o.ctx = cr;
	ret = sl_relay_client_create(rs, nm->shard, c.name, &c.at, &o, NULL);
	if (ret) {
		free(cr);
		if (ret == -EEXIST)
			sl_nm_respond(nm, m, SL_API_BAD_REQUEST, "this node has a relay of that name "
				      "already: see `sluice relay show NAME --at NODE`, or delete it first",
				      NULL, 0);
		else if (ret == -EINVAL)
			sl_nm_respond(nm, m, SL_API_BAD_REQUEST, "a relay name is 1 to 244 printable "
				      "ASCII characters without spaces or '/', and not `register`", NULL, 0);
		else
			sl_nm_respond(nm, m, SL_API_INTERNAL, "cannot start the relay client", NULL, 0);
	}
	/* else answered by create_event */
}

struct list_ctx {
	struct sl_cbor_writer w;
	size_t n;
};

static void list_one(void *arg, struct sl_relay_client *c)
{
	struct list_ctx *lc = arg;
	struct sl_relay_client_info ci;

	sl_relay_client_get_info(c, &ci);
	put_info(&lc->w, &ci);
}

static void count_one(void *arg, struct sl_relay_client *c)
{
	(*(size_t *)arg)++;
}

static void relay_list(struct sl_worker *nm, struct sl_msg *m, const struct sl_api_request *req)
{
	struct sl_relays *rs = relays(nm, m);
	struct list_ctx lc;
	size_t n = 0, cap, len;
	uint8_t *buf;

	if (!rs)
		return;
	sl_relay_client_each(rs, count_one, &n);
	cap = 16 + n * 2048;
	buf = malloc(cap);
	if (!buf) {
		sl_nm_respond(nm, m, SL_API_BUSY, "the node is out of memory", NULL, 0);
		return;
	}
	sl_cbor_writer_init(&lc.w, buf, cap);
	sl_cbor_put_array(&lc.w, n);
	sl_relay_client_each(rs, list_one, &lc);
	if (sl_cbor_writer_finish(&lc.w, &len))
		sl_nm_respond(nm, m, SL_API_INTERNAL, "the list does not fit its buffer", NULL, 0);
	else
		sl_nm_respond(nm, m, SL_API_OK, NULL, buf, len);
	free(buf);
}

static void relay_show_delete(struct sl_worker *nm, struct sl_msg *m,
			      const struct sl_api_request *req, bool del)
{
	char name[SL_RELAY_NAME_MAX + 1], err[400];
	struct sl_relays *rs = relays(nm, m);
	struct sl_relay_client *c;

	if (!rs)
		return;
	if (sl_api_relay_name_decode(req->body, req->body_len, name, sizeof(name))) {
		sl_nm_respond(nm, m, SL_API_BAD_REQUEST, "expected the relay's name", NULL, 0);
		return;
	}
	c = sl_relay_client_find(rs, name);
	if (!c) {
		snprintf(err, sizeof(err), "this node has no relay %s: see `sluice relay list --at NODE`",
			 name);
		sl_nm_respond(nm, m, SL_API_NOT_FOUND, err, NULL, 0);
		return;
	}
	if (!del) {
		respond_info(nm, m, c);
		return;
	}
	deleting = c;
	sl_relay_client_delete(c);
	deleting = NULL;
	sl_nm_respond(nm, m, SL_API_OK, NULL, NULL, 0);
}

struct hosted_ctx {
	struct sl_cbor_writer w;
};

static void hosted_one(void *arg, const struct sl_relay_info *ri)
{
	struct hosted_ctx *hc = arg;
	char route[600];

	if (sl_multiaddr_from_route(&ri->route, route, sizeof(route)) < 0)
		sl_route_format(&ri->route, route, sizeof(route));
	sl_cbor_put_array(&hc->w, 5);
	sl_cbor_put_text(&hc->w, ri->address, strlen(ri->address));
	sl_cbor_put_text(&hc->w, route, strlen(route));
	if (ri->owned)
		sl_cbor_put_bytes(&hc->w, ri->owner, sizeof(ri->owner));
	else
		sl_cbor_put_null(&hc->w);
	sl_cbor_put_uint(&hc->w, ri->shard);
	sl_cbor_put_uint(&hc->w, ri->forwarded);
}

static void relay_hosted(struct sl_worker *nm, struct sl_msg *m, const struct sl_api_request *req)
{
	struct sl_relays *rs = relays(nm, m);
	struct sl_relay_stats st;
	struct hosted_ctx hc;
	size_t cap = 64 + HOSTED_MAX * 900, len, n;
	uint8_t *buf;

	if (!rs)
		return;
	buf = malloc(cap);
	if (!buf) {
		sl_nm_respond(nm, m, SL_API_BUSY, "the node is out of memory", NULL, 0);
		return;
	}
	sl_relays_stats(rs, &st);
	n = st.active < HOSTED_MAX ? st.active : HOSTED_MAX;
	sl_cbor_writer_init(&hc.w, buf, cap);
	sl_cbor_put_array(&hc.w, 2);
	sl_cbor_put_array(&hc.w, 5);
	sl_cbor_put_uint(&hc.w, st.active);
	sl_cbor_put_uint(&hc.w, st.registered);
	sl_cbor_put_uint(&hc.w, st.replaced);
	sl_cbor_put_uint(&hc.w, st.rejected);
	sl_cbor_put_uint(&hc.w, st.expired);
	/*
	 * Relays may come and go between the count and the walk: reserve the
	 * array head for n and pad with nulls if fewer turn up.
	 */
	sl_cbor_put_array(&hc.w, n);
	n -= sl_relays_each(rs, n, hosted_one, &hc);
	while (n--)
		sl_cbor_put_null(&hc.w);
	if (sl_cbor_writer_finish(&hc.w, &len))
		sl_nm_respond(nm, m, SL_API_INTERNAL, "the list does not fit its buffer", NULL, 0);
	else
		sl_nm_respond(nm, m, SL_API_OK, NULL, buf, len);
	free(buf);
}

static void relay_show(struct sl_worker *nm, struct sl_msg *m, const struct sl_api_request *req)
{
	relay_show_delete(nm, m, req, false);
}

static void relay_delete(struct sl_worker *nm, struct sl_msg *m, const struct sl_api_request *req)
{
	relay_show_delete(nm, m, req, true);
}

const struct sl_nm_method sl_nm_relay_methods[] = {
	{ "relay.create", relay_create },
	{ "relay.list", relay_list },
	{ "relay.show", relay_show },
	{ "relay.delete", relay_delete },
	{ "relay.hosted", relay_hosted },
	{ NULL, NULL },
};

int sl_nm_relay_start(struct sl_node *n, const char *node_name)
{
	struct sl_shard *s = sl_node_shard(n, 0);
	struct sl_relays *rs = sl_relays_local(s);
	struct sl_relay_rec *v = NULL;
	struct sl_relay_at *at;
	struct sl_state *st;
	char err[512];
	size_t cnt = 0;
	int ret;

	if (!rs)
		return 0;
	ret = sl_state_open(NULL, &st);
	if (ret)
		return ret;
	ret = sl_state_relay_list(st, node_name, &v, &cnt);
	at = malloc(sizeof(*at));
	if (ret || !at)
		goto out;
	for (size_t i = 0; i < cnt; i++) {
		struct sl_relay_client_opts o = { .secure = !v[i].plain,
						  .first_timeout_ns = RESTORE_FIRST_NS };

		/* The relay node need not run now: the client retries until it does. */
		if (sl_relay_at_resolve(st, v[i].at, false, at, err, sizeof(err))) {
			sl_log(SL_LOG_WARN, "node=%s event=relay_not_restored name=%s err=\"%s\"",
			       node_name, v[i].name, err);
			continue;
		}
		o.has_authority = at->has_authority;
		memcpy(o.authority, at->authority, sizeof(o.authority));
		ret = sl_relay_client_create(rs, s, v[i].name, &at->route, &o, NULL);
		sl_log(ret ? SL_LOG_WARN : SL_LOG_INFO, "node=%s event=relay_restored name=%s at=%s err=%d",
		       node_name, v[i].name, v[i].at, ret);
	}
	ret = 0;
out:
	free(at);
	free(v);
	sl_state_close(st);
	return ret;
}
