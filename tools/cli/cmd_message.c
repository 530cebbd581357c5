// SPDX-License-Identifier: Apache-2.0
/* `sluice message send`: a message along a route from a node, and its first reply. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/bare.h"
#include "engine/msg.h"
#include "tools/cli/control.h"
#include "tools/cli/node_call.h"
#include "tools/cli/subcommands.h"
#include "tools/common/state.h"

#define DEFAULT_TIMEOUT_MS 10000
/* Beyond the reply timeout, how long the node may take to answer the CLI itself. */
#define CONTROL_SLACK_MS 5000
/* Largest message the CLI sends (the frame cap less room for the head). */
#define MESSAGE_MAX (SL_FRAME_MAX - 64 * 1024)

/* Print the reply: a BARE byte vector, as text when it is printable, else hex. */
static int print_reply(const struct sl_cli *cli, const uint8_t *p, size_t n, bool hex)
{
	const uint8_t *v = p;
	size_t vn = n;
	char *h;
	int ret;

	ret = sl_bare_get_bytes(p, n, &v, &vn);
	if (ret < 0 || (size_t)ret != n) {
		sl_verbose(cli, 1, "the reply is not one BARE byte vector: showing its raw bytes");
		v = p;
		vn = n;
		hex = true;
	}
	if (cli->quiet)
		return 0;
	if (!hex && sl_printable_utf8(v, vn)) {
		if (cli->output == SL_OUTPUT_JSON) {
			fputs("{\"reply\":", stdout);
			sl_json_strn(stdout, (const char *)v, vn);
			puts("}");
		} else {
			fwrite(v, 1, vn, stdout);
			putchar('\n');
		}
		return 0;
	}
	h = malloc(vn * 2 + 1);
	if (!h)
		return sl_err("out of memory");
	sl_hex_encode(v, vn, h);
	if (cli->output == SL_OUTPUT_JSON)
		printf("{\"reply\":\"%s\",\"encoding\":\"hex\"}\n", h);
	else
		printf("%s\n", h);
	free(h);
	return 0;
}

static const struct sl_opt send_opts[] = {
	{ "from", 0, "NODE", "the node that sends (default: the only running node)" },
	{ "to", 0, "ROUTE", "where to, as a multiaddr: /node/n2/service/uppercase, "
			    "/ip4/127.0.0.1/tcp/4000/service/echo, -/service/x (from stdin)" },
	{ "timeout", 't', "DURATION", "how long to wait for the reply: 10s (default), 500ms, 1m" },
	{ "hex", 0, NULL, "MESSAGE is hex bytes, and the reply is shown in hex" },
	{ NULL, 0, NULL, NULL },
};

static int message_send(const struct sl_cli *cli, const struct sl_cmd_spec *spec,
			const struct sl_args *a)
{
	const char *to = sl_args_get(spec, a, "to");
	const char *tmo = sl_args_get(spec, a, "timeout");
	bool hex = sl_args_has(spec, a, "hex");
	const char *msg = a->pos[0];
	struct sl_state *st;
	struct sl_control_reply reply;
	struct sl_cbor_reader rd;
	struct sl_api_send send;
	struct sl_node_rec from;
	uint8_t *raw = NULL, *payload = NULL, *body = NULL;
	const uint8_t *rp;
	size_t raw_len, plen, blen, rlen;
	char dur[32];
	struct sl_cbor_writer w;
	uint64_t timeout_ms = DEFAULT_TIMEOUT_MS;
	int ret;

	if (!to)
		return sl_err("say where the message goes with --to ROUTE, e.g. "
			      "--to /node/n2/service/echo");
	if (tmo && sl_parse_duration_ms(tmo, &timeout_ms))
		return sl_err("--timeout %s is not a duration: use e.g. 10s, 500ms or 1m (up to 24h)", tmo);

	/* The message as bytes, then as a BARE byte vector. */
	raw_len = strlen(msg);
	if (raw_len > MESSAGE_MAX)
		return sl_err("the message is %zu bytes, more than the %u a frame carries", raw_len,
			      MESSAGE_MAX);
	raw = malloc(raw_len / 2 + 1);
	payload = malloc(raw_len + 16);
	if (!raw || !payload) {
		ret = sl_err("out of memory");
		goto out_free;
	}
	if (hex) {
		ret = sl_hex_decode(msg, raw, raw_len / 2 + 1);
		if (ret < 0) {
			ret = sl_err("--hex: '%s' is not hex bytes: use pairs of digits 0-9a-f, e.g. 00ff41",
				     msg);
			goto out_free;
		}
		plen = sl_bare_put_bytes(payload, raw_len + 16, raw, (size_t)ret);
	} else {
		plen = sl_bare_put_bytes(payload, raw_len + 16, msg, raw_len);
	}

	ret = sl_state_open(NULL, &st);
	if (ret)
		goto out_free;
	ret = sl_node_pick(st, sl_args_get(spec, a, "from"), "--from", &from);
	if (ret)
		goto out_close;
	/* /node, /secure and /project resolve as in every other command. */
	ret = sl_node_route(st, from.name, to, (uint32_t)timeout_ms, &send.route);
	if (ret)
		goto out_close;
	send.payload = payload;
	send.len = plen;
	send.timeout_ms = (uint32_t)timeout_ms;
	if (cli->verbose) {
		char rt[1024];

		sl_route_format(&send.route, rt, sizeof(rt));
		sl_verbose(cli, 1, "from %s: %zu bytes to %s", from.name, plen, rt);
	}

	blen = plen + SL_ROUTE_BYTES * 2 + 64;
	body = malloc(blen);
	if (!body) {
		ret = sl_err("out of memory");
		goto out_close;
	}
	sl_cbor_writer_init(&w, body, blen);
	sl_api_put_send(&w, &send);
	if (sl_cbor_writer_finish(&w, &blen)) {
		ret = sl_err("the message does not fit a frame");
		goto out_close;
	}
	ret = sl_node_call(from.name, "message.send", body, blen, (int)(timeout_ms + CONTROL_SLACK_MS),
			   &reply);
	if (ret)
		goto out_close;
	sl_format_duration_ms(timeout_ms, dur, sizeof(dur));
	if (reply.resp.status == SL_API_TIMEOUT) {
		ret = sl_err("no reply from %s within %s (timeout): is there a service at the end "
			     "of the route?", to, dur);
	} else if (reply.resp.status != SL_API_OK) {
		ret = sl_err("node %s could not send the message: %s", from.name,
			     reply.resp.error[0] ? reply.resp.error : "no reason given");
	} else {
		sl_cbor_reader_init(&rd, reply.resp.body, reply.resp.body_len);
		if (!reply.resp.body || sl_cbor_get_bytes(&rd, &rp, &rlen))
			ret = sl_err("node %s answered with a malformed reply", from.name);
		else
			ret = print_reply(cli, rp, rlen, hex);
	}
	sl_control_reply_free(&reply);
out_close:
	sl_state_close(st);
out_free:
	free(body);
	free(payload);
	free(raw);
	return ret;
}

static const struct sl_cmd_spec send_spec = {
	"message send", "MESSAGE",
	"Send MESSAGE (as a BARE byte vector) along a route and print the first reply.",
	send_opts, 1, 1, message_send,
};

const struct sl_noun sl_noun_message = {
	.name = "message",
	.summary = "Send a message along a route and print the reply",
	.about = "Messages along routes, answered by services.",
	.verbs = SL_VERBS(&send_spec),
};
