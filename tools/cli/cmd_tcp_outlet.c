// SPDX-License-Identifier: Apache-2.0
/*
 * `sluice tcp-outlet create|list|show|delete`: the portal end that dials a
 * TCP target for every inlet connection (PROTOCOL.md 8). Outlets are saved
 * in the state store and come back when their node restarts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli/cmd_portal.h"
#include "tools/cli/node_call.h"
#include "tools/cli/subcommands.h"
#include "tools/common/api_portal.h"

static const struct sl_opt create_opts[] = {
	{ "at", 0, "NODE", "the node that runs the outlet (default: the only running node)" },
	{ "from", 0, "ADDRESS", "its local address, e.g. /service/outlet (the default)" },
	{ "to", 0, "HOST:PORT", "the TCP target each connection dials, e.g. 127.0.0.1:9000 "
				"(a bare port means 127.0.0.1)" },
	{ NULL, 0, NULL, NULL },
};

static int outlet_create(const struct sl_cli *cli, const struct sl_cmd_spec *spec,
			 const struct sl_args *a)
{
	const char *from = sl_args_get(spec, a, "from"), *to = sl_args_get(spec, a, "to");
	char addr[SL_ADDR_BODY_MAX + 1], target[SL_ADDR_BODY_MAX + 1];
	struct sl_outlet_rec rec = { 0 };
	struct sl_portal_info v;
	struct sl_cbor_writer w;
	struct sl_node_rec node;
	uint8_t body[600];
	size_t len;

	if (!to)
		return sl_err("say which TCP target the outlet dials with --to HOST:PORT, e.g. "
			      "--to 127.0.0.1:9000");
	if (sl_portal_local_addr(from ? from : "/service/outlet", addr, sizeof(addr)))
		return -1;
	if (sl_portal_hostport(to, "--to", target, sizeof(target)))
		return -1;
	if (sl_node_pick_at(spec, a, &node))
		return -1;
	sl_cbor_writer_init(&w, body, sizeof(body));
	sl_api_put_text2(&w, addr, target);
	if (sl_cbor_writer_finish(&w, &len))
		return sl_err("the request does not fit");
	if (sl_portal_call(node.name, "tcp_outlet.create", body, len, &v))
		return -1;
	snprintf(rec.node, sizeof(rec.node), "%s", node.name);
	snprintf(rec.address, sizeof(rec.address), "%s", addr);
	snprintf(rec.to, sizeof(rec.to), "%s", target);
	if (sl_portal_save(&rec, NULL))
		return -1;
	if (cli->quiet)
		return 0;
	if (cli->output == SL_OUTPUT_JSON)
		sl_portal_print_json(&v, false, node.name, true);
	else if (cli->tty)
		printf("Created TCP outlet /service/%s at node %s -> %s\n", addr, node.name, target);
	else
		printf("/service/%s\n", addr);
	return 0;
}

static const struct sl_cmd_spec create_spec = {
	"tcp-outlet create", NULL,
	"Create a TCP outlet: inlets whose route ends at its address reach the target through it.",
	create_opts, 0, 0, outlet_create,
};
static const struct sl_cmd_spec list_spec = {
	"tcp-outlet list", NULL, "List the TCP outlets of a node.", sl_at_opts, 0, 0,
	sl_portal_list,
};
static const struct sl_cmd_spec show_spec = {
	"tcp-outlet show", "ADDRESS", "Show a TCP outlet: target, connections, bytes.",
	sl_at_opts, 1, 1, sl_portal_show,
};
static const struct sl_cmd_spec delete_spec = {
	"tcp-outlet delete", "ADDRESS", "Delete a TCP outlet (open connections stay).",
	sl_at_opts, 1, 1, sl_portal_delete,
};

const struct sl_noun sl_noun_tcp_outlet = {
	.name = "tcp-outlet",
	.summary = "Create, list, show and delete TCP outlets (portal ends that dial)",
	.about = "TCP outlets: the portal end that dials a target.",
	.verbs = SL_VERBS(&create_spec, &list_spec, &show_spec, &delete_spec),
};
