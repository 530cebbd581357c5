// SPDX-License-Identifier: Apache-2.0
/* A node's named limits (limits.h): defaults, ranges, parsing, the stored text. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tools/common/limits.h"
#include "tools/common/text.h"

const struct sl_limit_def sl_limit_defs[SL_LIMITS] = {
	[SL_LIMIT_MAX_CONNECTIONS] = { "max-connections", 50000, 1, 1000000,
		"accepted TCP connections open at once, in total" },
	[SL_LIMIT_MAX_CONNECTIONS_PER_SOURCE] = { "max-connections-per-source", 1024, 1, 1000000,
		"accepted TCP connections open at once from one source address" },
	[SL_LIMIT_MAX_ROUTE_LENGTH] = { "max-route-length", 16, 1, 32,
		"onward route hops of a message arriving over TCP" },
	[SL_LIMIT_MAX_PENDING_HANDSHAKES] = { "max-pending-handshakes", 8192, 1, 1000000,
		"secure channel handshakes this node answers that have not finished, in total" },
	[SL_LIMIT_MAX_PENDING_HANDSHAKES_PER_CONNECTION] = {
		"max-pending-handshakes-per-connection", 256, 1, 1000000,
		"secure channel handshakes this node answers that have not finished, begun over one connection" },
	[SL_LIMIT_HANDSHAKE_TIMEOUT] = { "handshake-timeout", 10, 1, 3600,
		"seconds a handshake this node answers may take to finish" },
	[SL_LIMIT_MAX_RELAYS_PER_CONNECTION] = { "max-relays-per-connection", 256, 1, 1000000,
		"relays registered over one TCP connection" },
	[SL_LIMIT_MAX_RELAYS_PER_IDENTITY] = { "max-relays-per-identity", 256, 1, 1000000,
		"relays registered through secure channels by one identity" },
	[SL_LIMIT_IDLE_TIMEOUT] = { "idle-timeout", 30, 0, 86400,
		"seconds an accepted TCP connection may stay open before its first routed frame, 0 = no limit",
		/* the sweep's period is set from the shortest timeout when the shards start */
		.restart = true },
	[SL_LIMIT_IDLE_TIMEOUT_ANY] = { "idle-timeout-any", 0, 0, 86400,
		"seconds any accepted TCP connection may go without a byte from its peer, 0 = no limit",
		.restart = true },
	[SL_LIMIT_RELAY_FAIR_SHARE] = { "relay-fair-share", 110, 0, 1000,
		"percent of an equal share of a busy relay node's forwarding one relay-owning identity may take, 0 = off (100 and under: an equal share)" },
};

void sl_limits_default(struct sl_limits *l)
{
	for (int i = 0; i < SL_LIMITS; i++)
		l->v[i] = sl_limit_defs[i].def;
}

/* sl_err prints; the callers here return -EINVAL. */
#define fail(...) (sl_err(__VA_ARGS__), -EINVAL)

static int find(const char *name, size_t len)
{
	for (int i = 0; i < SL_LIMITS; i++)
		if (strlen(sl_limit_defs[i].name) == len && !strncmp(sl_limit_defs[i].name, name, len))
			return i;
	return -1;
}

static int unknown(const char *nv, size_t len)
{
	sl_err("--limit %.*s: no such limit; the limits are:", (int)len, nv);
	for (int i = 0; i < SL_LIMITS; i++)
		fprintf(stderr, "  %-38s %s (default %llu)\n", sl_limit_defs[i].name,
			sl_limit_defs[i].help, (unsigned long long)sl_limit_defs[i].def);
	return -EINVAL;
}

int sl_limits_set(struct sl_limits *l, const char *nv)
{
	const char *eq = strchr(nv, '=');
	const struct sl_limit_def *d;
	unsigned long long v = 0;
	const char *p;
	int k;

	if (!eq)
		return fail("--limit %s: use NAME=VALUE, e.g. --limit max-connections=20000", nv);
	k = find(nv, (size_t)(eq - nv));
	if (k < 0)
		return unknown(nv, (size_t)(eq - nv));
	d = &sl_limit_defs[k];
	p = eq + 1;
	if (!*p)
		goto bad;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		v = v * 10 + (unsigned long long)(*p - '0');
		if (v > d->max)
			goto bad;
	}
	if (v < d->min)
		goto bad;
	l->v[k] = v;
	return 0;
bad:
	return fail("--limit %s: %s (%s) is a number from %llu to %llu (default %llu)", nv,
		      d->name, d->help, (unsigned long long)d->min, (unsigned long long)d->max,
		      (unsigned long long)d->def);
}

int sl_limits_parse(struct sl_limits *l, const char *text, const char *what)
{
	const char *all = text;
	char item[128];

	sl_limits_default(l);
	while (*text) {
		size_t n = strcspn(text, ",");

		if (n >= sizeof(item))
			return fail("%s: a limit is too long: %.40s...", what, text);
		memcpy(item, text, n);
		item[n] = '\0';
		if (n && sl_limits_set(l, item))
			return fail("%s: bad limits \"%s\"", what, all);
		text += n;
		if (*text == ',')
			text++;
	}
	return 0;
}

int sl_limits_format(const struct sl_limits *l, char *buf, size_t cap)
{
	size_t off = 0;

	if (cap)
		buf[0] = '\0';
	for (int i = 0; i < SL_LIMITS; i++) {
		int n;

		if (l->v[i] == sl_limit_defs[i].def)
			continue;
		n = snprintf(buf + off, cap - off, "%s%s=%llu", off ? "," : "", sl_limit_defs[i].name,
			     (unsigned long long)l->v[i]);
		if (n < 0 || (size_t)n >= cap - off)
			return -ENAMETOOLONG;
		off += (size_t)n;
	}
	return 0;
}
