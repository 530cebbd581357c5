// SPDX-License-Identifier: Apache-2.0
/* A node's YAML config: every key read, defaults, and an error naming file, line and key. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tools/common/node_config.h"

TestSuite(node_config, .timeout = 5);

static struct sl_node_conf *c;
static char err[SL_CONF_ERR_MAX];

static void setup(void)
{
	c = malloc(sizeof(*c));
	cr_assert(c);
}

static void teardown(void)
{
	free(c);
}

static int parse(const char *text)
{
	err[0] = '\0';
	return sl_node_conf_parse("n.yaml", (const uint8_t *)text, strlen(text), c, err, sizeof(err));
}

Test(node_config, every_key, .init = setup, .fini = teardown)
{
	const char *id = "I0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char text[2048];

	snprintf(text, sizeof(text),
		 "name: relay1\n"
		 "tcp-listener-address: localhost:4000\n"
		 "udp-listener-address: 127.0.0.1:4100\n"
		 "identity: ops\n"
		 "shards: 4\n"
		 "pin-shards: true\n"
		 "spin-us: 0\n"
		 "frame-timeout: 5s\n"
		 "drain-timeout: 1m\n"
		 "metrics: 127.0.0.1:9464\n"
		 "limits:\n  max-connections: 20000\n  max-route-length: 8\n"
		 "secure-channel-listeners:\n  api2:\n    identity: ops\n    authorized: [%s, %s]\n"
		 "relays:\n  r1:\n    at: /node/hub\n"
		 "tcp-outlets:\n  outlet:\n    to: 127.0.0.1:5000\n"
		 "tcp-inlets:\n  web:\n    from: 127.0.0.1:6000\n    to: /node/b/service/outlet\n"
		 "    via: r1\n", id, id);
	cr_assert_eq(parse(text), 0, "%s", err);
	cr_expect(c->has_name);
	cr_expect_str_eq(c->rec.name, "relay1");
	cr_expect_str_eq(c->rec.tcp_address, "127.0.0.1:4000");
	cr_expect_str_eq(c->rec.udp_address, "127.0.0.1:4100");
	cr_expect_str_eq(c->rec.identity, "ops");
	cr_expect_eq(c->rec.shards, 4);
	cr_expect(c->rec.pin_shards);
	cr_expect_eq(c->rec.spin_us, 0);
	cr_expect_eq(c->rec.frame_timeout_ms, 5000);
	cr_expect_eq(c->drain_timeout_ms, 60000);
	cr_expect_str_eq(c->rec.metrics, "127.0.0.1:9464");
	cr_expect_eq(c->limits.v[SL_LIMIT_MAX_CONNECTIONS], 20000);
	cr_expect_str_eq(c->rec.limits, "max-connections=20000,max-route-length=8");
	cr_assert_eq(c->nlisteners, 1);
	cr_expect_str_eq(c->listeners[0].address, "api2");
	cr_expect_eq(strlen(c->listeners[0].authorized), 2 * 65 + 1);
	cr_assert_eq(c->nrelays, 1);
	cr_expect_str_eq(c->relays[0].at, "/node/hub");
	cr_assert_eq(c->noutlets, 1);
	cr_expect_str_eq(c->outlets[0].to, "127.0.0.1:5000");
	cr_assert_eq(c->ninlets, 1);
	cr_expect_str_eq(c->inlets[0].via, "r1");
}

Test(node_config, defaults_for_an_empty_file, .init = setup, .fini = teardown)
{
	cr_assert_eq(parse(""), 0, "%s", err);
	cr_expect_not(c->has_name);
	cr_expect_str_eq(c->rec.tcp_address, SL_NODE_TCP_LISTEN_DEFAULT);
	cr_expect_eq(c->rec.spin_us, SL_NODE_SPIN_US_DEFAULT);
	cr_expect_eq(c->drain_timeout_ms, SL_CONF_DRAIN_MS_DEFAULT);
	cr_expect_str_empty(c->rec.limits);
	cr_expect_eq(parse("drain-timeout: 0\n"), 0, "%s", err);
	cr_expect_eq(c->drain_timeout_ms, 0);
}

/* The limit keys are limits.c's names: every one of them is a key. */
Test(node_config, every_limit_is_a_key, .init = setup, .fini = teardown)
{
	for (int i = 0; i < SL_LIMITS; i++) {
		char text[256];

		snprintf(text, sizeof(text), "limits:\n  %s: %llu\n", sl_limit_defs[i].name,
			 (unsigned long long)sl_limit_defs[i].min);
		cr_expect_eq(parse(text), 0, "%s: %s", sl_limit_defs[i].name, err);
		cr_expect_eq(c->limits.v[i], sl_limit_defs[i].min);
	}
}

Test(node_config, errors_name_file_line_and_key, .init = setup, .fini = teardown)
{
	static const struct {
		const char *text, *err;
	} bad[] = {
		{ "nam: x\n", "n.yaml:1: nam: unknown key; the keys here are: name, " },
		{ "name: x\n\nlimits:\n  max-connections: 0\n",
		  "n.yaml:4: limits.max-connections: a number from 1 to 1000000" },
		{ "limits:\n  max-connections: -5\n", "n.yaml:2: limits.max-connections: a number" },
		{ "limits:\n  nope: 5\n", "n.yaml:2: limits.nope: no such limit; the limits are: " },
		{ "limits: 5\n", "n.yaml:1: limits: a map of limit: value lines" },
		{ "name: [a, b\n", "n.yaml:2: YAML syntax: " },
		{ "name: a\nname: b\n", "n.yaml:2: name: given twice" },
		{ "name: no/slash\n", "n.yaml:1: name: up to " },
		{ "tcp-listener-address: example.com:80\n", "n.yaml:1: tcp-listener-address: HOST:PORT" },
		{ "udp-listener-address: 127.0.0.1:0\n", "n.yaml:1: udp-listener-address: HOST:PORT" },
		{ "metrics: 127.0.0.1:0\n", "n.yaml:1: metrics: HOST:PORT" },
		{ "shards: 65\n", "n.yaml:1: shards: a number from 0 to 64" },
		{ "pin-shards: maybe\n", "n.yaml:1: pin-shards: true or false" },
		{ "spin-us: 1001\n", "n.yaml:1: spin-us: a number from 0 to 1000" },
		{ "frame-timeout: soon\n", "n.yaml:1: frame-timeout: a duration" },
		{ "drain-timeout: 2h\n", "n.yaml:1: drain-timeout: a duration from 1ms to 1h" },
		{ "relays:\n  r1:\n    to: x\n", "n.yaml:3: relays.r1.to: unknown key; the keys here are: at" },
		{ "relays:\n  r1: {}\n", "n.yaml:2: relays.r1: at is missing" },
		{ "relays:\n  r1:\n", "n.yaml:2: relays.r1: its keys are missing" },
		{ "relays: [r1]\n", "n.yaml:1: relays: a map of NAME:" },
		{ "tcp-inlets:\n  w:\n    from: 1.2.3.4\n    to: /x\n", "n.yaml:3: tcp-inlets.w.from: HOST:PORT" },
		{ "tcp-outlets:\n  o:\n    to: [a]\n", "n.yaml:3: tcp-outlets.o.to: a single value" },
		{ "tcp-outlets:\n  o:\n    to: \"\"\n", "n.yaml:3: tcp-outlets.o.to: must not be empty" },
		{ "secure-channel-listeners:\n  l:\n    authorized: Iabc\n",
		  "n.yaml:3: secure-channel-listeners.l.authorized: 'Iabc' is not an identifier" },
		{ "- a\n- b\n", "n.yaml:1: the file must be a YAML map" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(parse(bad[i].text), -EINVAL, "accepted: %s", bad[i].text);
		cr_expect(!strncmp(err, bad[i].err, strlen(bad[i].err)), "for %s\n got: %s\nwant: %s",
			  bad[i].text, err, bad[i].err);
	}
}

Test(node_config, load_names_a_missing_file, .init = setup, .fini = teardown)
{
	cr_expect_eq(sl_node_conf_load("/nonexistent/n.yaml", c, err, sizeof(err)), -ENOENT);
	cr_expect(strstr(err, "/nonexistent/n.yaml: cannot read it"), "%s", err);
}
