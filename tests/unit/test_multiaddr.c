// SPDX-License-Identifier: Apache-2.0
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "engine/multiaddr.h"

TestSuite(multiaddr, .timeout = 10);

static int node_cb(void *arg, const char *name, struct sl_route *r)
{
	if (strcmp(name, "n1"))
		return -ENOENT;
	return sl_route_push_back(r, SL_ADDR_TCP, "127.0.0.1:4001", 14);
}

/* Replace the way to the listener by the channel's encryptor, as a node would. */
static int secure_cb(void *arg, const char *name, struct sl_route *r)
{
	char *log = arg;
	char buf[128];

	sl_route_format(r, buf, sizeof(buf));
	strcat(log, buf);
	strcat(log, "|");
	strcat(log, name);
	sl_route_init(r);
	return sl_route_push_back(r, SL_ADDR_LOCAL, "enc", 3);
}

static int project_cb(void *arg, const char *name, struct sl_route *r)
{
	return sl_route_push_back(r, SL_ADDR_TCP, "relay.example.com:4000", 22);
}

static const struct sl_ma_resolver *resolver(char *log)
{
	static struct sl_ma_resolver res = { NULL, node_cb, secure_cb, project_cb };

	log[0] = 0;
	res.arg = log;
	return &res;
}

Test(multiaddr, to_route_table)
{
	static const struct {
		const char *text, *route;
	} t[] = {
		{ "/service/uppercase", "0#uppercase" },
		{ "/worker/abc", "0#abc" },
		{ "/ip4/127.0.0.1/tcp/4000", "1#127.0.0.1:4000" },
		{ "/ip6/::1/tcp/4000", "1#[::1]:4000" },
		{ "/ip6/fe80::1:2/tcp/65535", "1#[fe80::1:2]:65535" },
		{ "/dnsaddr/relay.example.com/tcp/1", "1#relay.example.com:1" },
		{ "/ip4/127.0.0.1/udp/4000", "2#127.0.0.1:4000" },
		{ "/ip6/::1/udp/4000", "2#[::1]:4000" },
		{ "/ip4/127.0.0.1/udp/4000/ip4/127.0.0.1/tcp/4001/service/echo",
		  "2#127.0.0.1:4000 => 1#127.0.0.1:4001 => 0#echo" },
		{ "/ip4/10.0.0.1/tcp/4000/service/hop/service/echo",
		  "1#10.0.0.1:4000 => 0#hop => 0#echo" },
		{ "/node/n1/service/echo", "1#127.0.0.1:4001 => 0#echo" },
		{ "/node/n1/secure/api/service/echo", "0#enc => 0#echo" },
		{ "/project/p/service/forward_to_x", "1#relay.example.com:4000 => 0#forward_to_x" },
		{ "/service/0123456789abcdef0123456789abcdef", "0#0123456789abcdef0123456789abcdef" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sl_route r;
		char err[256], log[256], buf[256];

		cr_assert_eq(sl_multiaddr_to_route(t[i].text, resolver(log), &r, err, sizeof(err)),
			     0, "%s: %s", t[i].text, err);
		sl_route_format(&r, buf, sizeof(buf));
		cr_assert_str_eq(buf, t[i].route, "%s", t[i].text);
	}
}

Test(multiaddr, secure_sees_route_so_far)
{
	char err[256], log[256];
	struct sl_route r;

	cr_assert_eq(sl_multiaddr_to_route("/node/n1/secure/api/service/echo", resolver(log),
					   &r, err, sizeof(err)), 0);
	cr_assert_str_eq(log, "1#127.0.0.1:4001|api");
}

Test(multiaddr, errors_say_what_was_wrong)
{
	static const struct {
		const char *text, *needle;
		int ret;
	} t[] = {
		{ "/foo/bar", "unknown protocol 'foo' in /foo/bar: expected /service, /worker, /node, "
			      "/ip4, /ip6, /dnsaddr, /secure or /project", -EINVAL },
		{ "service/x", "must start with '/'", -EINVAL },
		{ "", "must start with '/'", -EINVAL },
		{ "/service", "/service needs a value", -EINVAL },
		{ "/service/", "/service needs a value", -EINVAL },
		{ "/service/a//service/b", "empty component", -EINVAL },
		{ "/service/a/", "empty component", -EINVAL },
		{ "/ip4/1.2.3/tcp/80", "invalid ip4 address '1.2.3'", -EINVAL },
		{ "/ip4/1.2.3.4", "expected /tcp/PORT or /udp/PORT after /ip4/1.2.3.4", -EINVAL },
		{ "/ip4/1.2.3.4/quic/80", "expected /tcp/PORT or /udp/PORT", -EINVAL },
		{ "/ip4/1.2.3.4/udp/0", "invalid port '0'", -EINVAL },
		{ "/dnsaddr/h.example/udp/80", "/udp needs /ip4 or /ip6", -EINVAL },
		{ "/ip4/1.2.3.4/tcp/0", "invalid port '0'", -EINVAL },
		{ "/ip4/1.2.3.4/tcp/65536", "invalid port '65536'", -EINVAL },
		{ "/ip4/1.2.3.4/tcp/8x", "invalid port '8x'", -EINVAL },
		{ "/ip4/1.2.3.4/tcp", "invalid port ''", -EINVAL },
		{ "/ip6/1.2.3.4/tcp/1", "invalid ip6 address", -EINVAL },
		{ "/dnsaddr/a b/tcp/1", "invalid dnsaddr address 'a b'", -EINVAL },
		{ "/node/nope", "cannot resolve /node/nope", -ENOENT },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sl_route r;
		char err[256], log[256];
		int ret = sl_multiaddr_to_route(t[i].text, resolver(log), &r, err, sizeof(err));

		cr_assert_eq(ret, t[i].ret, "%s: %d", t[i].text, ret);
		cr_assert_not_null(strstr(err, t[i].needle), "%s: got '%s'", t[i].text, err);
	}
}

Test(multiaddr, missing_resolvers_and_limits)
{
	char err[256], name[300], text[400];
	struct sl_route r;
	size_t i;

	cr_assert_eq(sl_multiaddr_to_route("/secure/api", NULL, &r, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "/secure/api"));
	cr_assert_eq(sl_multiaddr_to_route("/node/n1", NULL, &r, NULL, 0), -EINVAL);
	memset(name, 'a', 256);
	name[256] = 0;
	snprintf(text, sizeof(text), "/service/%s", name);
	cr_assert_eq(sl_multiaddr_to_route(text, NULL, &r, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "longer than 255"), "%s", err);
	name[255] = 0;
	snprintf(text, sizeof(text), "/service/%s", name);
	cr_assert_eq(sl_multiaddr_to_route(text, NULL, &r, err, sizeof(err)), 0);
	text[0] = 0;
	for (i = 0; i < 33; i++)
		strcat(text, "/service/a");
	cr_assert_eq(sl_multiaddr_to_route(text, NULL, &r, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "too many segments"));
}

Test(multiaddr, parse_segments)
{
	struct sl_ma_seg segs[8];
	char err[128];
	size_t n;

	cr_assert_eq(sl_multiaddr_parse("/node/n1/secure/api/project/p/ip6/::1/tcp/9/worker/w",
					segs, 8, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 5);
	cr_assert_eq(segs[0].kind, SL_MA_NODE);
	cr_assert_str_eq(segs[0].text, "n1");
	cr_assert_eq(segs[1].kind, SL_MA_SECURE);
	cr_assert_str_eq(segs[1].text, "api");
	cr_assert_eq(segs[2].kind, SL_MA_PROJECT);
	cr_assert_eq(segs[3].kind, SL_MA_ADDR);
	cr_assert_eq(segs[3].type, SL_ADDR_TCP);
	cr_assert_str_eq(segs[3].text, "[::1]:9");
	cr_assert_eq(segs[3].len, 7);
	cr_assert_eq(segs[4].type, SL_ADDR_LOCAL);
	cr_assert_eq(sl_multiaddr_parse("/service/a/service/b", segs, 1, &n, err, sizeof(err)),
		     -EINVAL);
}

Test(multiaddr, from_route)
{
	static const struct {
		const char *route[3];
		const char *text;
	} t[] = {
		{ { "0#uppercase" }, "/service/uppercase" },
		{ { "1#127.0.0.1:4000", "0#echo" }, "/ip4/127.0.0.1/tcp/4000/service/echo" },
		{ { "1#[::1]:4000" }, "/ip6/::1/tcp/4000" },
		{ { "2#127.0.0.1:4000", "0#echo" }, "/ip4/127.0.0.1/udp/4000/service/echo" },
		{ { "2#[::1]:4000" }, "/ip6/::1/udp/4000" },
		{ { "2#relay.example.com:4000" }, NULL },
		{ { "1#relay.example.com:4000" }, "/dnsaddr/relay.example.com/tcp/4000" },
		{ { "5#/tmp/s" }, NULL },
		{ { "0#a/b" }, NULL },
		{ { "1#nohostport" }, NULL },
		{ { "1#h:99999" }, NULL },
		{ { "1#[zz]:1" }, NULL },
	};
	size_t i, k;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sl_route r, back;
		char buf[256], err[128];
		int n;

		sl_route_init(&r);
		for (k = 0; k < 3 && t[i].route[k]; k++) {
			const char *body;
			uint8_t type;
			size_t len;

			cr_assert_eq(sl_addr_parse(t[i].route[k], &type, &body, &len), 0);
			sl_route_push_back(&r, type, body, len);
		}
		n = sl_multiaddr_from_route(&r, buf, sizeof(buf));
		if (!t[i].text) {
			cr_assert_eq(n, -EINVAL, "case %zu", i);
			continue;
		}
		cr_assert_str_eq(buf, t[i].text);
		cr_assert_eq((size_t)n, strlen(t[i].text));
		/* and back */
		cr_assert_eq(sl_multiaddr_to_route(buf, NULL, &back, err, sizeof(err)), 0);
		cr_assert_eq(back.n, r.n);
	}
}
