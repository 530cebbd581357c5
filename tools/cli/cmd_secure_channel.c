// SPDX-License-Identifier: Apache-2.0
/* `sluice secure-channel create|list|show|delete`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/multiaddr.h"
#include "tools/cli/node_call.h"
#include "tools/cli/subcommands.h"
#include "tools/common/api_secure.h"

#define DEFAULT_TIMEOUT_MS 10000
#define CALL_MS 5000

static void print_info_json(const struct sl_secure_info *i)
{
	char self[SL_ID_TEXT_LEN + 1], peer[SL_ID_TEXT_LEN + 1];

	sl_identity_id_format(i->self, self);
	sl_identity_id_format(i->peer, peer);
	printf("{\"address\":\"/service/%s\",\"decryptor\":\"/service/%s\",\"identifier\":\"%s\","
	       "\"peer\":\"%s\",\"role\":\"%s\",\"route\":", i->addr, i->decryptor, self, peer,
	       i->initiator ? "initiator" : "responder");
	sl_json_str(stdout, i->route);
	printf(",\"created_at\":%llu,\"sent\":%llu,\"received\":%llu,\"shard\":%u}",
	       (unsigned long long)i->created_s, (unsigned long long)i->sent,
	       (unsigned long long)i->received, i->shard);
}

static void print_info_plain(const struct sl_secure_info *i)
{
	char peer[SL_ID_TEXT_LEN + 1];

	sl_identity_id_format(i->peer, peer);
	printf("Secure Channel /service/%s\n  Role:     %s\n  Peer:     %s\n  Route:    %s\n"
	       "  Messages: %llu sent, %llu received\n", i->addr,
	       i->initiator ? "initiator" : "responder", peer, i->route,
	       (unsigned long long)i->sent, (unsigned long long)i->received);
}

/* create */

static const struct sl_opt create_opts[] = {
	{ "from", 0, "NODE", "the node that initiates (default: the only running node)" },
	{ "to", 0, "ROUTE", "route to a secure channel listener: /node/n2/service/api, "
			    "/ip4/127.0.0.1/tcp/4000/service/api" },
	{ "identity", 0, "NAME", "the identity to present (default: the node's)" },
	{ "authorized", 0, "IDENTIFIER", "accept only this responder identifier (repeatable)" },
	{ "timeout", 't', "DURATION", "how long the handshake may take: 10s (default), 500ms, 1m" },
	{ NULL, 0, NULL, NULL },
};

static int sc_create(const struct sl_cli *cli, const struct sl_cmd_spec *spec,
		     const struct sl_args *a)
{
	const char *to = sl_args_get(spec, a, "to"), *tmo = sl_args_get(spec, a, "timeout");
	const char *ident = sl_args_get(spec, a, "identity");
	char addr[33], peer_text[SL_ID_TEXT_LEN + 1], ma[1024];
	uint64_t timeout_ms = DEFAULT_TIMEOUT_MS;
	struct sl_node_rec from;
	struct sl_route route;
	struct sl_state *st;
	uint8_t peer[32];
	int ret;

	if (sl_authorized.err)
		return -1;
	if (!to)
		return sl_err("say where the listener is with --to ROUTE, e.g. --to /node/n2/service/api");
	if (tmo && sl_parse_duration_ms(tmo, &timeout_ms))
		return sl_err("--timeout %s is not a duration: use e.g. 10s, 500ms or 1m (up to 24h)", tmo);
	if (ident && !sl_node_name_valid(ident))
		return sl_err("'%s' is not an identity name: see `sluice identity list`", ident);
	ret = sl_state_open(NULL, &st);
	if (ret)
		return ret;
	ret = sl_node_pick(st, sl_args_get(spec, a, "from"), "--from", &from);
	if (!ret)
		ret = sl_node_route(st, from.name, to, (uint32_t)timeout_ms, &route);
	sl_state_close(st);
	if (ret)
		return ret;
	ret = sl_node_secure_create(from.name, to, &route, ident,
				    (const uint8_t (*)[32])sl_authorized.id, sl_authorized.n,
				    (uint32_t)timeout_ms, addr, peer);
	if (ret)
		return ret;
	if (cli->quiet)
		return 0;
	sl_identity_id_format(peer, peer_text);
	if (sl_multiaddr_from_route(&route, ma, sizeof(ma)) < 0)
		sl_route_format(&route, ma, sizeof(ma));
	if (cli->output == SL_OUTPUT_JSON) {
		printf("{\"address\":\"/service/%s\",\"from\":\"/node/%s\",\"to\":", addr, from.name);
		sl_json_str(stdout, to);
		printf(",\"route\":");
		sl_json_str(stdout, ma);
		printf(",\"peer\":\"%s\"}\n", peer_text);
	} else if (cli->tty) {
		printf("Created Secure Channel: From /node/%s To %s (%s) At /service/%s\n", from.name, to,
		       ma, addr);
	} else {
		printf("/service/%s\n", addr);
	}
	return 0;
}

static const struct sl_cmd_spec create_spec = {
	"secure-channel create", NULL,
	"Create a secure channel (Noise XX with identities) from a node to a listener.\n"
	"Plain output on a pipe is the channel's address, so it composes:\n"
	"  sluice secure-channel create --from n1 --to /node/n2/service/api |\n"
	"    sluice message send hi --from n1 --to -/service/uppercase",
	create_opts, 0, 0, sc_create,
};

/* list / show / delete */


static int list_item(struct sl_list *l, struct sl_cbor_reader *rd, const char *node, void *arg)
{
	struct sl_secure_info i;
	int ret = sl_api_sc_info_decode(rd, &i);

	if (ret)
		return ret;
	switch (sl_list_row(l)) {
	case SL_ROW_JSON:
		print_info_json(&i);
		break;
	case SL_ROW_TABLE:
		print_info_plain(&i);
		break;
	case SL_ROW_BARE:
		printf("/service/%s\n", i.addr);
		break;
	}
	return 0;
}

static int sc_list(const struct sl_cli *cli, const struct sl_cmd_spec *spec, const struct sl_args *a)
{
	return sl_node_list(cli, spec, a, "secure_channel.list", CALL_MS, "secure channels",
			    list_item, NULL);
}

static const struct sl_cmd_spec list_spec = {
	"secure-channel list", NULL, "List the secure channels of a node.", sl_at_opts, 0, 0,
	sc_list,
};

static int addr_call(const struct sl_cmd_spec *spec, const struct sl_args *a, const char *method,
		     struct sl_node_rec *rec, struct sl_control_reply *r)
{
	const char *addr = sl_service_name(a->pos[0]);
	uint8_t body[300];
	struct sl_cbor_writer w;
	size_t len;

	if (!*addr || strlen(addr) > SL_ADDR_BODY_MAX)
		return sl_err("'%s' is not a channel address: use /service/<hex> as "
			      "`sluice secure-channel list` prints it", a->pos[0]);
	if (sl_node_pick_at(spec, a, rec))
		return -1;
	sl_cbor_writer_init(&w, body, sizeof(body));
	sl_cbor_put_text(&w, addr, strlen(addr));
	if (sl_cbor_writer_finish(&w, &len))
		return sl_err("address too long");
	return sl_node_call_ok(rec->name, method, body, len, CALL_MS, r);
}

static int sc_show(const struct sl_cli *cli, const struct sl_cmd_spec *spec, const struct sl_args *a)
{
	struct sl_control_reply r;
	struct sl_secure_info i;
	struct sl_node_rec rec;
	struct sl_cbor_reader rd;
	int ret;

	if (addr_call(spec, a, "secure_channel.show", &rec, &r))
		return -1;
	sl_cbor_reader_init(&rd, r.resp.body, r.resp.body_len);
	ret = r.resp.body ? sl_api_sc_info_decode(&rd, &i) : -EBADMSG;
	sl_control_reply_free(&r);
	if (ret)
		return sl_err("node %s answered with a malformed reply", rec.name);
	if (cli->quiet)
		return 0;
	if (cli->output == SL_OUTPUT_JSON) {
		print_info_json(&i);
		putchar('\n');
	} else {
		print_info_plain(&i);
	}
	return 0;
}

static const struct sl_cmd_spec show_spec = {
	"secure-channel show", "ADDRESS", "Show one secure channel (/service/<hex> or <hex>).",
	sl_at_opts, 1, 1, sc_show,
};

static int sc_delete(const struct sl_cli *cli, const struct sl_cmd_spec *spec, const struct sl_args *a)
{
	char addr[9 + SL_ADDR_BODY_MAX + 1];
	struct sl_control_reply r;
	struct sl_node_rec rec;

	if (addr_call(spec, a, "secure_channel.delete", &rec, &r))
		return -1;
	sl_control_reply_free(&r);
	snprintf(addr, sizeof(addr), "/service/%s", sl_service_name(a->pos[0]));
	sl_print_deleted(cli, "secure channel", addr, rec.name);
	return 0;
}

static const struct sl_cmd_spec delete_spec = {
	"secure-channel delete", "ADDRESS",
	"Close a secure channel: the peer is told (an encrypted Close) and both ends go.",
	sl_at_opts, 1, 1, sc_delete,
};

const struct sl_noun sl_noun_secure_channel = {
	.name = "secure-channel",
	.summary = "Create, list, show and delete end-to-end encrypted channels",
	.about = "Secure channels: end-to-end encrypted, mutually authenticated.",
	.verbs = SL_VERBS(&create_spec, &list_spec, &show_spec, &delete_spec),
	.prepare = sl_authorized_collect,
};
