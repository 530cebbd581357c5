// SPDX-License-Identifier: Apache-2.0
/* `sluice secure-channel-listener create|list|delete`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli/node_call.h"
#include "tools/cli/subcommands.h"
#include "tools/common/api_secure.h"

#define CALL_MS 5000

static const struct sl_opt create_opts[] = {
	{ "at", 0, "NODE", "the node to listen on (default: the only running node)" },
	{ "identity", 0, "NAME", "the identity to present (default: the node's)" },
	{ "authorized", 0, "IDENTIFIER", "accept only this initiator identifier (repeatable; "
					 "default: any peer that proves an identity)" },
	{ NULL, 0, NULL, NULL },
};

/* Saved once the node runs it, so a restarted node starts exactly what was made. */
static void save(const char *node, const struct sl_api_scl_create *c)
{
	struct sl_listener_rec *rec = calloc(1, sizeof(*rec));
	char id[SL_ID_TEXT_LEN + 1];
	struct sl_state *st;
	size_t off = 0;
	int ret = -ENOMEM;

	if (!rec)
		goto out;
	snprintf(rec->node, sizeof(rec->node), "%s", node);
	snprintf(rec->kind, sizeof(rec->kind), "%s", SL_LISTENER_KIND_SECURE);
	snprintf(rec->address, sizeof(rec->address), "%s", c->addr);
	snprintf(rec->identity, sizeof(rec->identity), "%s", c->identity);
	for (unsigned i = 0; i < c->n_authorized; i++) {
		sl_identity_id_format(c->authorized[i], id);
		off += (size_t)snprintf(rec->authorized + off, sizeof(rec->authorized) - off, "%s%s",
					i ? " " : "", id);
	}
	ret = sl_state_open(NULL, &st);
	if (ret)
		goto out;
	ret = sl_state_listener_put(st, rec);
	sl_state_close(st);
out:
	if (ret)
		sl_err("listener %s works but could not be saved (it will not come back after a "
		       "restart of %s): %s", c->addr, node, strerror(-ret));
	free(rec);
}

static int scl_create(const struct sl_cli *cli, const struct sl_cmd_spec *spec,
		      const struct sl_args *a)
{
	const char *ident = sl_args_get(spec, a, "identity");
	struct sl_api_scl_create c = { 0 };
	uint8_t body[64 + SL_ADDR_BODY_MAX + SL_SECURE_MAX_AUTHORIZED * 40];
	struct sl_control_reply r;
	struct sl_cbor_writer w;
	struct sl_node_rec rec;
	size_t len;

	if (sl_authorized.err)
		return -1;
	snprintf(c.addr, sizeof(c.addr), "%s", sl_service_name(a->pos[0]));
	if (!c.addr[0] || strchr(c.addr, '/'))
		return sl_err("'%s' is not a local address: use a name such as `l` or `api2`", a->pos[0]);
	if (ident && !sl_node_name_valid(ident))
		return sl_err("'%s' is not an identity name: see `sluice identity list`", ident);
	snprintf(c.identity, sizeof(c.identity), "%s", ident ? ident : "");
	c.n_authorized = sl_authorized.n;
	memcpy(c.authorized, sl_authorized.id, sizeof(c.authorized));
	if (sl_node_pick_at(spec, a, &rec))
		return -1;
	sl_cbor_writer_init(&w, body, sizeof(body));
	sl_api_put_scl_create(&w, &c);
	if (sl_cbor_writer_finish(&w, &len))
		return sl_err("the request does not fit");
	if (sl_node_call_ok(rec.name, "secure_channel_listener.create", body, len, CALL_MS, &r))
		return -1;
	sl_control_reply_free(&r);
	save(rec.name, &c);
	if (cli->quiet)
		return 0;
	if (cli->output == SL_OUTPUT_JSON)
		printf("{\"address\":\"/service/%s\",\"at\":\"%s\"}\n", c.addr, rec.name);
	else if (cli->tty)
		printf("Created Secure Channel Listener at /node/%s/service/%s\n", rec.name, c.addr);
	else
		printf("/service/%s\n", c.addr);
	return 0;
}

static const struct sl_cmd_spec create_spec = {
	"secure-channel-listener create", "ADDRESS",
	"Start a secure channel listener at a local address of a node (every node has `api`).",
	create_opts, 1, 1, scl_create,
};

/* The authorized identifiers, `sep` between them, in JSON quotes when `json`. */
static void print_authorized(const struct sl_secure_listener_info *i, const char *sep, bool json)
{
	const char *q = json ? "\"" : "";
	char id[SL_ID_TEXT_LEN + 1];

	for (unsigned j = 0; j < i->n_authorized; j++) {
		sl_identity_id_format(i->authorized[j], id);
		printf("%s%s%s%s", j ? sep : "", q, id, q);
	}
}

static int list_item(struct sl_list *l, struct sl_cbor_reader *rd, const char *node, void *arg)
{
	struct sl_secure_listener_info i;
	char id[SL_ID_TEXT_LEN + 1];
	int ret = sl_api_scl_info_decode(rd, &i);

	if (ret)
		return ret;
	sl_identity_id_format(i.id, id);
	switch (sl_list_row(l)) {
	case SL_ROW_JSON:
		printf("{\"address\":\"/service/%s\",\"identity\":", i.addr);
		sl_json_str(stdout, i.identity);
		printf(",\"identifier\":\"%s\",\"authorized\":[", id);
		print_authorized(&i, ",", true);
		printf("]}");
		break;
	case SL_ROW_TABLE:
		printf("/service/%s  identity %s (%s)  authorized: %s", i.addr, i.identity, id,
		       i.n_authorized ? "" : "any verified identity");
		print_authorized(&i, ", ", false);
		putchar('\n');
		break;
	case SL_ROW_BARE:
		printf("/service/%s\n", i.addr);
		break;
	}
	return 0;
}

/* No line for an empty list: listeners are named by the user, `api` always among them. */
static int scl_list(const struct sl_cli *cli, const struct sl_cmd_spec *spec, const struct sl_args *a)
{
	return sl_node_list(cli, spec, a, "secure_channel_listener.list", CALL_MS, NULL, list_item,
			    NULL);
}

static const struct sl_cmd_spec list_spec = {
	"secure-channel-listener list", NULL, "List the secure channel listeners of a node.",
	sl_at_opts, 0, 0, scl_list,
};

/* Not to come back at the next start. 0, -ENOENT (it was not saved), or an error (said why). */
static int forget(const char *node, const char *addr)
{
	struct sl_state *st;
	int ret = sl_state_open(NULL, &st);

	if (ret)
		return ret;
	ret = sl_state_listener_delete(st, node, SL_LISTENER_KIND_SECURE, addr);
	sl_state_close(st);
	if (ret && ret != -ENOENT)
		return sl_err("listener %s is saved for node %s and could not be removed (it will "
			      "come back when %s restarts; delete it again then): %s", addr, node,
			      node, strerror(-ret));
	return ret;
}

static int scl_delete(const struct sl_cli *cli, const struct sl_cmd_spec *spec,
		      const struct sl_args *a)
{
	const char *addr = sl_service_name(a->pos[0]);
	char service[9 + SL_ADDR_BODY_MAX + 1];
	struct sl_control_reply r;
	struct sl_cbor_writer w;
	struct sl_node_rec rec;
	uint8_t body[300];
	size_t len;
	int ret;

	if (!*addr || strlen(addr) > SL_ADDR_BODY_MAX)
		return sl_err("'%s' is not a listener address", a->pos[0]);
	if (sl_node_pick_at(spec, a, &rec))
		return -1;
	sl_cbor_writer_init(&w, body, sizeof(body));
	sl_cbor_put_text(&w, addr, strlen(addr));
	sl_cbor_writer_finish(&w, &len);
	if (sl_node_call(rec.name, "secure_channel_listener.delete", body, len, CALL_MS, &r))
		return -1;
	/* Not running but saved (it failed to come back at start): forgetting it is the delete. */
	if (r.resp.status == SL_API_OK || r.resp.status == SL_API_NOT_FOUND)
		ret = forget(rec.name, addr);
	else
		ret = -ENOENT;
	if (ret == -ENOENT && r.resp.status == SL_API_OK)
		ret = 0;
	else if (ret == -ENOENT)
		ret = sl_err("node %s: %s", rec.name, r.resp.error[0] ? r.resp.error : "failed");
	sl_control_reply_free(&r);
	if (!ret) {
		snprintf(service, sizeof(service), "/service/%s", addr);
		sl_print_deleted(cli, "secure channel listener", service, rec.name);
	}
	return ret;
}

static const struct sl_cmd_spec delete_spec = {
	"secure-channel-listener delete", "ADDRESS", "Stop a secure channel listener.",
	sl_at_opts, 1, 1, scl_delete,
};

const struct sl_noun sl_noun_secure_channel_listener = {
	.name = "secure-channel-listener",
	.summary = "Create, list and delete secure channel listeners",
	.about = "Secure channel listeners: where peers open channels to a node.",
	.verbs = SL_VERBS(&create_spec, &list_spec, &delete_spec),
	.prepare = sl_authorized_collect,
};
