// SPDX-License-Identifier: Apache-2.0
/* What `tcp-inlet` and `tcp-outlet` share (cmd_portal.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli/cmd_portal.h"
#include "tools/cli/node_call.h"
#include "tools/common/api_portal.h"

#define CALL_MS 10000

int sl_portal_local_addr(const char *text, char *out, size_t cap)
{
	const char *s = sl_service_name(text);

	if (!*s || strchr(s, '/') || strlen(s) >= cap)
		return sl_err("'%s' is not a local address: use e.g. /service/outlet or outlet", text);
	snprintf(out, cap, "%s", s);
	return 0;
}

int sl_portal_hostport(const char *text, const char *flag, char *out, size_t cap)
{
	const char *colon = strrchr(text, ':');
	char *end;
	unsigned long port;

	if (!colon) {
		port = strtoul(text, &end, 10);
		if (*text && !*end && port <= 65535 && snprintf(out, cap, "127.0.0.1:%lu", port) < (int)cap)
			return 0;
	} else if (colon != text && colon[1]) {
		port = strtoul(colon + 1, &end, 10);
		if (!*end && port <= 65535 && strlen(text) < cap) {
			snprintf(out, cap, "%s", text);
			return 0;
		}
	}
	return sl_err("%s %s is not HOST:PORT: use e.g. 127.0.0.1:6000", flag, text);
}

void sl_portal_bound(const char *bind, unsigned port, char *out, size_t cap)
{
	const char *colon = strrchr(bind, ':');

	snprintf(out, cap, "%.*s:%u", colon ? (int)(colon - bind) : 0, bind, port);
}

int sl_portal_call(const char *node, const char *method, const uint8_t *body, size_t len,
		   struct sl_portal_info *v)
{
	struct sl_control_reply r;
	struct sl_cbor_reader rd;
	int ret;

	if (sl_node_call_ok(node, method, body, len, CALL_MS, &r))
		return -1;
	if (v) {
		sl_cbor_reader_init(&rd, r.resp.body, r.resp.body_len);
		ret = !r.resp.body || sl_api_get_portal(&rd, v) ?
		      sl_err("node %s answered with a malformed reply", node) : 0;
	} else {
		ret = 0;
	}
	sl_control_reply_free(&r);
	return ret;
}

int sl_portal_save(const struct sl_outlet_rec *o, const struct sl_inlet_rec *i)
{
	struct sl_state *st;
	int ret = sl_state_open(NULL, &st);

	if (ret)
		return ret;
	ret = o ? sl_state_outlet_put(st, o) : sl_state_inlet_put(st, i);
	sl_state_close(st);
	if (ret)
		return sl_err("the node runs it, but saving it in the state store failed (%s): it will "
			      "not come back when the node restarts", strerror(-ret));
	return 0;
}

void sl_portal_print_json(const struct sl_portal_info *v, bool inlet, const char *node, bool nl)
{
	fputs(inlet ? "{\"alias\":" : "{\"address\":", stdout);
	if (!inlet)
		fputs("\"/service/", stdout), fputs(v->name, stdout), fputc('"', stdout);
	else
		sl_json_str(stdout, v->name);
	fputs(",\"at\":", stdout);
	sl_json_str(stdout, node);
	if (inlet) {
		char b[300];

		sl_portal_bound(v->bind, v->port, b, sizeof(b));
		fputs(",\"bind_address\":", stdout);
		sl_json_str(stdout, b);
		fputs(",\"to\":", stdout);
		sl_json_str(stdout, v->route);
	} else {
		fputs(",\"to\":", stdout);
		sl_json_str(stdout, v->bind);
	}
	printf(",\"connections\":%llu,\"connections_total\":%llu,\"bytes_in\":%llu,\"bytes_out\":%llu}",
	       (unsigned long long)v->conns, (unsigned long long)v->total,
	       (unsigned long long)v->bytes_in, (unsigned long long)v->bytes_out);
	if (nl)
		putchar('\n');
}

static void print_plain(const struct sl_cli *cli, const struct sl_portal_info *v, bool inlet)
{
	char b[300];

	if (!cli->tty) {
		if (inlet) {
			sl_portal_bound(v->bind, v->port, b, sizeof(b));
			printf("%s\t%s\t%s\n", v->name, b, v->route);
		} else {
			printf("/service/%s\t%s\n", v->name, v->bind);
		}
		return;
	}
	if (inlet) {
		sl_portal_bound(v->bind, v->port, b, sizeof(b));
		printf("Inlet %s\n  listening on  %s\n  to            %s\n", v->name, b, v->route);
	} else {
		printf("Outlet /service/%s\n  target        %s\n", v->name, v->bind);
	}
	printf("  connections   %llu open, %llu total\n  bytes         %llu in, %llu out\n",
	       (unsigned long long)v->conns, (unsigned long long)v->total,
	       (unsigned long long)v->bytes_in, (unsigned long long)v->bytes_out);
}

/* The verbs are the same for both ends; the spec's noun says which. */
static bool is_inlet(const struct sl_cmd_spec *spec)
{
	return !strncmp(spec->path, "tcp-inlet ", 10);
}

static int list_item(struct sl_list *l, struct sl_cbor_reader *rd, const char *node, void *arg)
{
	const bool *inlet = arg;
	struct sl_portal_info v;
	int ret = sl_api_get_portal(rd, &v);

	if (ret)
		return ret;
	if (sl_list_row(l) == SL_ROW_JSON)
		sl_portal_print_json(&v, *inlet, node, false);
	else
		print_plain(l->cli, &v, *inlet);
	return 0;
}

int sl_portal_list(const struct sl_cli *cli, const struct sl_cmd_spec *spec,
		   const struct sl_args *a)
{
	bool inlet = is_inlet(spec);

	return sl_node_list(cli, spec, a, inlet ? "tcp_inlet.list" : "tcp_outlet.list", CALL_MS,
			    inlet ? "TCP inlets" : "TCP outlets", list_item, &inlet);
}

static int name_body(const char *text, bool inlet, uint8_t *body, size_t cap, size_t *len,
		     char *name, size_t ncap)
{
	struct sl_cbor_writer w;

	if (inlet) {
		if (!*text || strlen(text) >= ncap)
			return sl_err("'%s' is not an inlet alias: see `sluice tcp-inlet list`", text);
		snprintf(name, ncap, "%s", text);
	} else if (sl_portal_local_addr(text, name, ncap)) {
		return -1;
	}
	sl_cbor_writer_init(&w, body, cap);
	sl_cbor_put_text(&w, name, strlen(name));
	return sl_cbor_writer_finish(&w, len) ? sl_err("the name is too long") : 0;
}

int sl_portal_show(const struct sl_cli *cli, const struct sl_cmd_spec *spec,
		   const struct sl_args *a)
{
	bool inlet = is_inlet(spec);
	char name[SL_ADDR_BODY_MAX + 1];
	struct sl_portal_info v;
	struct sl_node_rec node;
	uint8_t body[300];
	size_t len;

	if (name_body(a->pos[0], inlet, body, sizeof(body), &len, name, sizeof(name)) ||
	    sl_node_pick_at(spec, a, &node) ||
	    sl_portal_call(node.name, inlet ? "tcp_inlet.show" : "tcp_outlet.show", body, len, &v))
		return -1;
	if (cli->quiet)
		return 0;
	if (cli->output == SL_OUTPUT_JSON)
		sl_portal_print_json(&v, inlet, node.name, true);
	else
		print_plain(cli, &v, inlet);
	return 0;
}

int sl_portal_delete(const struct sl_cli *cli, const struct sl_cmd_spec *spec,
		     const struct sl_args *a)
{
	char name[SL_ADDR_BODY_MAX + 1], addr[9 + SL_ADDR_BODY_MAX + 1];
	bool inlet = is_inlet(spec);
	struct sl_node_rec node;
	struct sl_state *st;
	uint8_t body[300];
	size_t len;
	int ret;

	if (name_body(a->pos[0], inlet, body, sizeof(body), &len, name, sizeof(name)) ||
	    sl_node_pick_at(spec, a, &node) ||
	    sl_portal_call(node.name, inlet ? "tcp_inlet.delete" : "tcp_outlet.delete", body, len, NULL))
		return -1;
	ret = sl_state_open(NULL, &st);
	if (ret)
		return ret;
	ret = inlet ? sl_state_inlet_delete(st, node.name, name) : sl_state_outlet_delete(st, node.name, name);
	sl_state_close(st);
	if (ret && ret != -ENOENT)
		return sl_err("deleted at the node, but not from the state store (%s): it may come back "
			      "when the node restarts", strerror(-ret));
	snprintf(addr, sizeof(addr), "%s%s", inlet ? "" : "/service/", name);
	sl_print_deleted(cli, inlet ? "TCP inlet" : "TCP outlet", addr, node.name);
	return 0;
}
