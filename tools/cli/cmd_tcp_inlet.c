// SPDX-License-Identifier: Apache-2.0
/*
 * `sluice tcp-inlet create|list|show|delete`: the portal end that listens
 * for TCP clients and carries each connection along a route to an outlet
 * (PROTOCOL.md 8). Inlets are saved in the state store and come back when
 * their node restarts.
 *
 * A route with /secure/NAME or /project/NAME goes to the node as text: the
 * inlet makes those channels itself, and again when they break (portal.h).
 * Other routes are resolved here, where a node that is not running can be
 * named in the error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "engine/multiaddr.h"
#include "tools/cli/cmd_portal.h"
#include "tools/cli/node_call.h"
#include "tools/cli/subcommands.h"
#include "tools/common/api_portal.h"

#define ROUTE_TIMEOUT_MS 10000

static const struct sl_opt create_opts[] = {
	{ "at", 0, "NODE", "the node that runs the inlet (default: the only running node)" },
	{ "from", 0, "HOST:PORT", "where it listens, e.g. 127.0.0.1:6000 (default 127.0.0.1:0, "
				  "any free port)" },
	{ "to", 0, "ROUTE", "the route to the outlet: /node/n2/service/outlet, "
			    "-/service/outlet (a channel address from stdin), "
			    "/node/n2/secure/api/service/outlet (the inlet makes the channel, "
			    "and makes it again when it breaks), or an outlet's name "
			    "(default: outlet, through relay --via)" },
	{ "via", 0, "RELAY", "reach the outlet through relay RELAY (default: default): the "
			     "route becomes AT/service/forward_to_RELAY/secure/api/service/OUTLET, "
			     "AT where RELAY was created here (`relay create --at`), else "
			     "/project/default" },
	{ "alias", 0, "NAME", "its name for show and delete (default: a random one)" },
	{ NULL, 0, NULL, NULL },
};

/* Where relay `name` was registered from this state store, else the default project. */
static void relay_at_text(struct sl_state *st, const char *name, char *at, size_t cap)
{
	struct sl_node_rec *nodes = NULL;
	size_t nn = 0;

	snprintf(at, cap, "/project/default");
	if (sl_state_node_list(st, &nodes, &nn))
		return;
	for (size_t i = 0; i < nn; i++) {
		struct sl_relay_rec *v = NULL;
		size_t n = 0;

		if (sl_state_relay_list(st, nodes[i].name, &v, &n))
			continue;
		for (size_t j = 0; j < n; j++)
			if (!strcmp(v[j].name, name))
				snprintf(at, cap, "%s", v[j].at);
		free(v);
	}
	free(nodes);
}

/*
 * --to and --via -> the route text, as Ockam composes it: a whole route
 * stands alone; an outlet's name (`outlet`, or `/service/outlet` with
 * --via) goes behind relay --via (default `default`). 0 or -1 (printed).
 */
static int inlet_route_text(struct sl_state *st, const char *to, const char *via, char *out,
			    size_t cap)
{
	const char *svc = "outlet";
	char at[512];

	if (to && strchr(to, '/')) {
		if (!via) {
			snprintf(out, cap, "%s", to);
			return 0;
		}
		if (strncmp(to, "/service/", 9) || !to[9] || strchr(to + 9, '/'))
			return sl_err("--via %s goes with an outlet's name in --to (e.g. --to outlet), "
				      "not with a route: give --to %s alone", via, to);
		svc = to + 9;
	} else if (to) {
		svc = to;
	}
	if (!via)
		via = "default";
	if (!*via || strchr(via, '/'))
		return sl_err("--via %s is not a relay name: use the name given to `sluice relay create`",
			      via);
	if (!*svc)
		return sl_err("--to is empty: give an outlet's name or a route");
	relay_at_text(st, via, at, sizeof(at));
	if (snprintf(out, cap, "%s/service/forward_to_%s/secure/api/service/%s", at, via, svc) >=
	    (int)cap)
		return sl_err("the route through relay %s is too long", via);
	return 0;
}

/* Does the route make secure channels (then the node resolves it)? */
static bool route_makes_channels(const char *text)
{
	struct sl_ma_seg *segs = malloc(SL_ROUTE_MAX_HOPS * 2 * sizeof(*segs));
	bool yes = false;
	size_t n = 0;

	if (segs && !sl_multiaddr_parse(text, segs, SL_ROUTE_MAX_HOPS * 2, &n, NULL, 0))
		for (size_t i = 0; i < n; i++)
			yes |= segs[i].kind == SL_MA_SECURE || segs[i].kind == SL_MA_PROJECT;
	free(segs);
	return yes;
}

static int inlet_create(const struct sl_cli *cli, const struct sl_cmd_spec *spec,
			const struct sl_args *a)
{
	const char *from = sl_args_get(spec, a, "from"), *to = sl_args_get(spec, a, "to");
	const char *via = sl_args_get(spec, a, "via"), *alias = sl_args_get(spec, a, "alias");
	struct sl_api_inlet_create *c = calloc(1, sizeof(*c));
	size_t blen = SL_ROUTE_BYTES * 2 + 2048, len;
	uint8_t *body = malloc(blen);
	struct sl_inlet_rec rec = { 0 };
	struct sl_portal_info v;
	struct sl_cbor_writer w;
	struct sl_node_rec node;
	struct sl_state *st = NULL;
	int ret = -1;

	if (!c || !body) {
		ret = sl_err("out of memory");
		goto out;
	}
	if (sl_portal_hostport(from ? from : "127.0.0.1:0", "--from", c->bind, sizeof(c->bind)))
		goto out;
	if (alias) {
		if (!*alias || strlen(alias) >= sizeof(c->alias) || strchr(alias, '/')) {
			ret = sl_err("--alias '%s' is not a name: use letters, digits, - and _", alias);
			goto out;
		}
		snprintf(c->alias, sizeof(c->alias), "%s", alias);
	} else {
		uint8_t rnd[8];

		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			ret = sl_err("no randomness for an alias: give one with --alias");
			goto out;
		}
		sl_hex_encode(rnd, sizeof(rnd), c->alias);
	}
	ret = sl_state_open(NULL, &st);
	if (ret)
		goto out;
	ret = -1;
	if (sl_node_pick(st, sl_args_get(spec, a, "at"), "--at", &node))
		goto out;
	if (inlet_route_text(st, to, via, c->to, sizeof(c->to)))
		goto out;
	/* An empty route leaves the text to the node. */
	if (!route_makes_channels(c->to) &&
	    sl_node_route(st, node.name, c->to, ROUTE_TIMEOUT_MS, &c->route))
		goto out;
	sl_state_close(st);
	st = NULL;
	sl_cbor_writer_init(&w, body, blen);
	sl_api_put_inlet_create(&w, c);
	if (sl_cbor_writer_finish(&w, &len)) {
		ret = sl_err("the request does not fit");
		goto out;
	}
	if (sl_portal_call(node.name, "tcp_inlet.create", body, len, &v))
		goto out;
	snprintf(rec.node, sizeof(rec.node), "%s", node.name);
	snprintf(rec.alias, sizeof(rec.alias), "%s", c->alias);
	/* The port it bound: a restarted node comes back on the same one. */
	sl_portal_bound(c->bind, v.port, rec.from, sizeof(rec.from));
	/* The node's text: a given channel's address becomes the route it remakes (nm_portal.c). */
	snprintf(rec.to, sizeof(rec.to), "%s", *v.route ? v.route : c->to);
	snprintf(rec.via, sizeof(rec.via), "%s", via ? via : "");
	if (sl_portal_save(NULL, &rec))
		goto out;
	ret = 0;
	if (cli->quiet)
		goto out;
	if (cli->output == SL_OUTPUT_JSON)
		sl_portal_print_json(&v, true, node.name, true);
	else if (cli->tty)
		printf("Created TCP inlet %s at node %s: listening on %s, to %s\n", c->alias, node.name,
		       rec.from, c->to);
	else
		printf("%s\n", rec.from);
out:
	if (st)
		sl_state_close(st);
	free(body);
	free(c);
	return ret;
}

static const struct sl_cmd_spec create_spec = {
	"tcp-inlet create", NULL,
	"Create a TCP inlet: each client connection travels along the route to a TCP outlet.",
	create_opts, 0, 0, inlet_create,
};
static const struct sl_cmd_spec list_spec = {
	"tcp-inlet list", NULL, "List the TCP inlets of a node.", sl_at_opts, 0, 0,
	sl_portal_list,
};
static const struct sl_cmd_spec show_spec = {
	"tcp-inlet show", "ALIAS", "Show a TCP inlet: address, route, connections, bytes.",
	sl_at_opts, 1, 1, sl_portal_show,
};
static const struct sl_cmd_spec delete_spec = {
	"tcp-inlet delete", "ALIAS", "Delete a TCP inlet (open connections stay).",
	sl_at_opts, 1, 1, sl_portal_delete,
};

const struct sl_noun sl_noun_tcp_inlet = {
	.name = "tcp-inlet",
	.summary = "Create, list, show and delete TCP inlets (portal ends that listen)",
	.about = "TCP inlets: the portal end that listens for clients.",
	.verbs = SL_VERBS(&create_spec, &list_spec, &show_spec, &delete_spec),
};
