// SPDX-License-Identifier: Apache-2.0
/*
 * `sluice relay create|list|show|delete` (Ockam's older name: `forwarder`):
 * a node registers a name at a relay node, so others reach it through
 * /service/forward_to_NAME there. The node keeps the registration alive and
 * re-creates it when it restarts (the relay is saved in the state store).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/identity.h"
#include "engine/relay.h"
#include "tools/cli/list.h"
#include "tools/cli/node_call.h"
#include "tools/cli/subcommands.h"
#include "tools/common/api_relay.h"
#include "tools/common/relay_at.h"

#define CALL_SLACK_MS 5000

static const struct sl_opt create_opts[] = {
	{ "at", 0, "ROUTE", "the relay node: /node/NAME, /ip4/HOST/tcp/PORT or /project/NAME "
			    "(default /project/default)" },
	{ "to", 0, "NODE", "the node that registers and is reached through the relay "
			   "(default: the only running node)" },
	{ "plain", 0, NULL, "register over plain TCP, as Ockam does for a /node or /ip4 relay "
			    "node: relayed traffic skips the hop's secure channel (one seal and "
			    "one open less per message), but the relay has no owner (any plain "
			    "registration may take the name over) and the hop's link shows inner "
			    "routes; not with /project" },
	{ NULL, 0, NULL, NULL },
};
static const struct sl_opt at_opts[] = {
	{ "at", 0, "NODE", "the node that made the relays (default: the only running node)" },
	{ NULL, 0, NULL, NULL },
};
static const struct sl_opt list_opts[] = {
	{ "at", 0, "NODE", "the node that made the relays (default: the only running node)" },
	{ "hosted", 0, NULL, "list the relays this node serves as a relay node instead" },
	{ NULL, 0, NULL, NULL },
};
static const struct sl_opt delete_opts[] = {
	{ "at", 0, "NODE", "the node that made the relay (default: the only running node)" },
	{ "yes", 'y', NULL, "do not ask (kept for Ockam's command line; sluice never asks)" },
	{ NULL, 0, NULL, NULL },
};

struct relay_view {
	char name[SL_RELAY_NAME_MAX + 1];
	char remote[SL_ADDR_BODY_MAX + 1];
	char at[600];
	char state[16];
	bool secure;
	uint64_t registrations, pings, pongs, last_up_s;
};

static int get_text(struct sl_cbor_reader *rd, struct sl_cbor_array *a, char *out, size_t cap)
{
	const char *s;
	size_t n;

	if (sl_cbor_field(rd, a) || sl_cbor_get_text(rd, &s, &n) || n >= cap)
		return -EBADMSG;
	memcpy(out, s, n);
	out[n] = 0;
	return 0;
}

static int get_u64(struct sl_cbor_reader *rd, struct sl_cbor_array *a, uint64_t *v)
{
	return sl_cbor_field(rd, a) || sl_cbor_get_uint(rd, v) ? -EBADMSG : 0;
}

static int decode_view(struct sl_cbor_reader *rd, struct relay_view *v)
{
	struct sl_cbor_array a;

	memset(v, 0, sizeof(*v));
	if (sl_cbor_array_enter(rd, &a) || get_text(rd, &a, v->name, sizeof(v->name)) ||
	    get_text(rd, &a, v->remote, sizeof(v->remote)) || get_text(rd, &a, v->at, sizeof(v->at)) ||
	    get_text(rd, &a, v->state, sizeof(v->state)) || sl_cbor_field(rd, &a) ||
	    sl_cbor_get_bool(rd, &v->secure) || get_u64(rd, &a, &v->registrations) ||
	    get_u64(rd, &a, &v->pings) || get_u64(rd, &a, &v->pongs) ||
	    get_u64(rd, &a, &v->last_up_s) || sl_cbor_array_leave(rd, &a))
		return -EBADMSG;
	return 0;
}

static void print_view_json(const struct relay_view *v)
{
	printf("{\"name\":");
	sl_json_str(stdout, v->name);
	printf(",\"remote_address\":");
	sl_json_str(stdout, v->remote);
	printf(",\"address\":\"/service/%s\",\"at\":", v->remote);
	sl_json_str(stdout, v->at);
	printf(",\"state\":\"%s\",\"secure\":%s,\"registrations\":%llu,\"pings\":%llu,"
	       "\"pongs\":%llu,\"last_up\":%llu}", v->state, v->secure ? "true" : "false",
	       (unsigned long long)v->registrations, (unsigned long long)v->pings,
	       (unsigned long long)v->pongs, (unsigned long long)v->last_up_s);
}

static void print_view(const struct sl_cli *cli, const struct relay_view *v)
{
	if (cli->output == SL_OUTPUT_JSON) {
		print_view_json(v);
		putchar('\n');
		return;
	}
	printf("Relay %s\n  Address at the relay node: /service/%s\n  Relay node: %s\n"
	       "  State: %s%s\n  Registrations: %llu, pings %llu, pongs %llu\n", v->name,
	       v->remote[0] ? v->remote : "(not yet)", v->at, v->state,
	       v->secure ? " (through a secure channel)" : " (plain TCP, --plain)",
	       (unsigned long long)v->registrations, (unsigned long long)v->pings,
	       (unsigned long long)v->pongs);
}

static int relay_create(const struct sl_cli *cli, const struct sl_cmd_spec *spec,
			const struct sl_args *a)
{
	const char *name = a->npos ? a->pos[0] : "default";
	const char *at_text = sl_args_get(spec, a, "at");
	bool plain = sl_args_has(spec, a, "plain");
	struct sl_relay_rec rec = { 0 };
	struct sl_control_reply r;
	struct sl_node_rec node;
	struct sl_relay_at *at;
	struct sl_cbor_writer w;
	struct sl_cbor_reader rd;
	struct relay_view v;
	struct sl_state *st;
	uint8_t body[SL_ROUTE_BYTES + 512];
	char err[600];
	size_t len;
	int ret;

	if (!at_text)
		at_text = "/project/default";
	at = calloc(1, sizeof(*at));
	if (!at)
		return sl_err("out of memory");
	ret = sl_state_open(NULL, &st);
	if (ret)
		goto out_free;
	ret = sl_node_pick(st, sl_args_get(spec, a, "to"), "--to", &node);
	if (ret)
		goto out;
	ret = sl_relay_at_resolve(st, at_text, true, at, err, sizeof(err));
	if (ret) {
		ret = sl_err("%s", err);
		goto out;
	}
	if (plain && at->has_authority) {
		ret = sl_err("--plain: a relay at %s registers through a secure channel that proves "
			     "the project's identity; drop --plain, or give the relay node as "
			     "/node/NAME or /ip4/HOST/tcp/PORT", at_text);
		goto out;
	}
	sl_cbor_writer_init(&w, body, sizeof(body));
	sl_cbor_put_array(&w, 4);
	sl_cbor_put_text(&w, name, strlen(name));
	sl_route_encode(&w, &at->route);
	if (at->has_authority)
		sl_cbor_put_bytes(&w, at->authority, sizeof(at->authority));
	else
		sl_cbor_put_null(&w);
	sl_cbor_put_bool(&w, plain);
	if (sl_cbor_writer_finish(&w, &len)) {
		ret = sl_err("the route %s is too long", at_text);
		goto out;
	}
	sl_verbose(cli, 1, "node %s registers %s at %s%s", node.name, name, at->text,
		   plain ? " over plain TCP" : "");
	ret = sl_node_call(node.name, "relay.create", body, len,
			   SL_RELAY_CREATE_TIMEOUT_MS + CALL_SLACK_MS, &r);
	if (ret)
		goto out;
	if (r.resp.status != SL_API_OK) {
		ret = sl_err("node %s could not create relay %s: %s", node.name, name, r.resp.error);
		goto out_reply;
	}
	sl_cbor_reader_init(&rd, r.resp.body, r.resp.body_len);
	if (!r.resp.body || decode_view(&rd, &v)) {
		ret = sl_err("node %s answered with a malformed relay", node.name);
		goto out_reply;
	}
	/* Saved only once it worked, so a restarted node re-creates exactly what was made. */
	snprintf(rec.node, sizeof(rec.node), "%s", node.name);
	snprintf(rec.name, sizeof(rec.name), "%s", name);
	snprintf(rec.at, sizeof(rec.at), "%s", at->text);
	snprintf(rec.remote, sizeof(rec.remote), "%s", v.remote);
	rec.plain = plain;
	ret = sl_state_relay_put(st, &rec);
	if (ret)
		sl_err("relay %s works but could not be saved (it will not come back after a restart "
		       "of %s): %s", name, node.name, strerror(-ret));
	if (!cli->quiet) {
		if (cli->output == SL_OUTPUT_JSON) {
			print_view_json(&v);
			putchar('\n');
		} else {
			printf("/service/%s\n", v.remote);
		}
	}
	ret = 0;
out_reply:
	sl_control_reply_free(&r);
out:
	sl_state_close(st);
out_free:
	free(at);
	return ret;
}

static const struct sl_cmd_spec create_spec = {
	"relay create", "[NAME]",
	"Register NAME (default `default`) at a relay node; prints the relay's address there.",
	create_opts, 0, 1, relay_create,
};

static int print_hosted(const struct sl_cli *cli, const char *node, struct sl_cbor_reader *rd)
{
	struct sl_cbor_array top, stats, list;
	struct sl_list l;
	uint64_t s[5];

	if (sl_cbor_array_enter(rd, &top) || sl_cbor_field(rd, &top) ||
	    sl_cbor_array_enter(rd, &stats))
		return sl_err("node %s answered with a malformed list", node);
	for (int i = 0; i < 5; i++)
		if (get_u64(rd, &stats, &s[i]))
			return sl_err("node %s answered with a malformed list", node);
	if (sl_cbor_array_leave(rd, &stats) || sl_cbor_field(rd, &top) ||
	    sl_cbor_array_enter(rd, &list))
		return sl_err("node %s answered with a malformed list", node);
	if (cli->output == SL_OUTPUT_JSON)
		printf("{\"active\":%llu,\"registered\":%llu,\"replaced\":%llu,\"rejected\":%llu,"
		       "\"expired\":%llu,\"relays\":", (unsigned long long)s[0],
		       (unsigned long long)s[1], (unsigned long long)s[2], (unsigned long long)s[3],
		       (unsigned long long)s[4]);
	else if (!cli->quiet)
		printf("%llu relays (registered %llu, replaced %llu, rejected %llu, expired %llu)\n",
		       (unsigned long long)s[0], (unsigned long long)s[1], (unsigned long long)s[2],
		       (unsigned long long)s[3], (unsigned long long)s[4]);
	sl_list_begin(&l, cli, NULL);
	while (sl_cbor_array_next(rd, &list) > 0) {
		struct sl_cbor_array e;
		char addr[SL_ADDR_BODY_MAX + 1], route[600], owner[SL_ID_TEXT_LEN + 1] = "";
		uint64_t shard, fwd;
		const uint8_t *p;
		size_t n;

		if (sl_cbor_peek_null(rd)) {
			sl_cbor_skip(rd);
			continue;
		}
		if (sl_cbor_array_enter(rd, &e) || get_text(rd, &e, addr, sizeof(addr)) ||
		    get_text(rd, &e, route, sizeof(route)) || sl_cbor_field(rd, &e))
			return sl_err("node %s answered with a malformed list", node);
		if (sl_cbor_peek_null(rd)) {
			sl_cbor_skip(rd);
		} else {
			if (sl_cbor_get_bytes(rd, &p, &n) || n != SL_ID_LEN)
				return sl_err("node %s answered with a malformed list", node);
			sl_identity_id_format(p, owner);
		}
		if (get_u64(rd, &e, &shard) || get_u64(rd, &e, &fwd) || sl_cbor_array_leave(rd, &e))
			return sl_err("node %s answered with a malformed list", node);
		if (sl_list_row(&l) == SL_ROW_JSON) {
			printf("{\"address\":\"/service/%s\",\"route\":", addr);
			sl_json_str(stdout, route);
			printf(",\"owner\":");
			if (owner[0])
				sl_json_str(stdout, owner);
			else
				printf("null");
			printf(",\"shard\":%llu,\"forwarded\":%llu}", (unsigned long long)shard,
			       (unsigned long long)fwd);
		} else if (!cli->quiet) {
			printf("/service/%s -> %s%s%s\n", addr, route[0] ? route : "(this node)",
			       owner[0] ? "  owner " : "", owner);
		}
	}
	/* The list is the last member of the JSON object. */
	if (cli->output == SL_OUTPUT_JSON)
		puts("]}");
	return 0;
}

static int relay_list(const struct sl_cli *cli, const struct sl_cmd_spec *spec,
		      const struct sl_args *a)
{
	/* One table on a terminal and on a pipe: "/service/" pads with its address. */
	static const int widths[] = { 20, 9 + 32, 12 };
	static const struct sl_table table = { 4, widths, NULL, NULL };
	bool hosted = sl_args_has(spec, a, "hosted");
	char remote[9 + SL_ADDR_BODY_MAX + 1];
	struct sl_control_reply r;
	struct sl_cbor_reader rd;
	struct sl_cbor_array arr;
	struct sl_node_rec node;
	struct relay_view v;
	struct sl_list l;
	int ret;

	ret = sl_node_pick_at(spec, a, &node);
	if (ret)
		return ret;
	ret = sl_node_call(node.name, hosted ? "relay.hosted" : "relay.list", NULL, 0, 10000, &r);
	if (ret)
		return ret;
	if (r.resp.status != SL_API_OK) {
		ret = sl_err("node %s: %s", node.name, r.resp.error);
		goto out;
	}
	sl_cbor_reader_init(&rd, r.resp.body, r.resp.body_len);
	if (hosted) {
		ret = print_hosted(cli, node.name, &rd);
		goto out;
	}
	if (!r.resp.body || sl_cbor_array_enter(&rd, &arr)) {
		ret = sl_err("node %s answered with a malformed list", node.name);
		goto out;
	}
	sl_list_begin(&l, cli, &table);
	while (sl_cbor_array_next(&rd, &arr) > 0) {
		if (decode_view(&rd, &v)) {
			ret = sl_err("node %s answered with a malformed relay", node.name);
			goto out;
		}
		if (sl_list_row(&l) == SL_ROW_JSON) {
			print_view_json(&v);
		} else if (!cli->quiet) {
			snprintf(remote, sizeof(remote), "/service/%s",
				 v.remote[0] ? v.remote : "-");
			sl_list_cells(&l, (const char *const[]){ v.name, remote, v.state, v.at });
		}
	}
	if (cli->quiet)
		sl_list_end(&l, NULL);
	else
		sl_list_end(&l, "node %s has no relays: create one with `sluice relay create NAME "
			    "--at ROUTE --to %s`", node.name, node.name);
out:
	sl_control_reply_free(&r);
	return ret;
}

static const struct sl_cmd_spec list_spec = {
	"relay list", NULL, "List a node's relays: name, address at the relay node, state.",
	list_opts, 0, 0, relay_list,
};

static int name_call(const struct sl_cmd_spec *spec, const struct sl_args *a, const char *method,
		     struct sl_node_rec *node, struct sl_control_reply *r)
{
	const char *name = a->pos[0];
	struct sl_cbor_writer w;
	uint8_t body[300];
	size_t len;
	int ret;

	ret = sl_node_pick_at(spec, a, node);
	if (ret)
		return ret;
	sl_cbor_writer_init(&w, body, sizeof(body));
	sl_cbor_put_text(&w, name, strlen(name));
	if (sl_cbor_writer_finish(&w, &len))
		return sl_err("'%s' is too long for a relay name", name);
	ret = sl_node_call(node->name, method, body, len, 10000, r);
	if (ret)
		return ret;
	if (r->resp.status != SL_API_OK) {
		ret = sl_err("node %s: %s", node->name, r->resp.error);
		sl_control_reply_free(r);
		return ret;
	}
	return 0;
}

static int relay_show(const struct sl_cli *cli, const struct sl_cmd_spec *spec,
		      const struct sl_args *a)
{
	struct sl_control_reply r;
	struct sl_cbor_reader rd;
	struct sl_node_rec node;
	struct relay_view v;
	int ret;

	ret = name_call(spec, a, "relay.show", &node, &r);
	if (ret)
		return ret;
	sl_cbor_reader_init(&rd, r.resp.body, r.resp.body_len);
	if (!r.resp.body || decode_view(&rd, &v))
		ret = sl_err("node %s answered with a malformed relay", node.name);
	else if (!cli->quiet)
		print_view(cli, &v);
	sl_control_reply_free(&r);
	return ret;
}

static const struct sl_cmd_spec show_spec = {
	"relay show", "NAME", "Show one relay of a node.", at_opts, 1, 1, relay_show,
};

static int relay_delete(const struct sl_cli *cli, const struct sl_cmd_spec *spec,
			const struct sl_args *a)
{
	struct sl_control_reply r;
	struct sl_node_rec node;
	struct sl_state *st;
	int ret;

	ret = name_call(spec, a, "relay.delete", &node, &r);
	if (ret)
		return ret;
	sl_control_reply_free(&r);
	ret = sl_state_open(NULL, &st);
	if (ret)
		return ret;
	ret = sl_state_relay_delete(st, node.name, a->pos[0]);
	sl_state_close(st);
	if (ret && ret != -ENOENT)
		return sl_err("relay %s is gone from node %s but still saved: %s", a->pos[0], node.name,
			      strerror(-ret));
	if (!cli->quiet && cli->tty)
		printf("Relay %s deleted from node %s\n", a->pos[0], node.name);
	return 0;
}

static const struct sl_cmd_spec delete_spec = {
	"relay delete", "NAME", "Delete a relay: the node stops keeping it, and the relay node "
	"drops it when its channel closes.", delete_opts, 1, 1, relay_delete,
};

const struct sl_noun sl_noun_relay = {
	.name = "relay",
	.alias = "forwarder",
	.summary = "Create, list, show and delete relays (reach a node through a relay node)",
	.about = "Relays: reach a node through a relay node.",
	.verbs = SL_VERBS(&create_spec, &list_spec, &show_spec, &delete_spec),
};
