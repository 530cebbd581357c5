// SPDX-License-Identifier: Apache-2.0
/* A node's YAML configuration (node_config.h): one table of keys, checked with file:line errors. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "tools/common/node_config.h"
#include "tools/common/text.h"

#define FRAME_TIMEOUT_MAX_MS (3600u * 1000)

bool sl_listen_address_norm(const char *a, char *norm, size_t cap)
{
	unsigned char buf[16];
	char host[64];
	unsigned port;
	size_t hl;

	if (sl_hostport_split(a, host, sizeof(host), &port))
		return false;
	hl = strlen(host);
	if (!strcmp(host, "localhost"))
		strcpy(host, "127.0.0.1");
	if (inet_pton(AF_INET, host, buf) != 1) {
		/* "[v6]" */
		if (hl < 3 || host[0] != '[' || host[hl - 1] != ']')
			return false;
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, buf) != 1)
			return false;
		host[hl - 1] = ']';
	}
	return (size_t)snprintf(norm, cap, "%s:%u", host, port) < cap;
}

bool sl_metrics_address_norm(const char *a, char *norm, size_t cap)
{
	size_t n;

	/* A scraper is configured with the port: no "any free port" here. */
	return sl_listen_address_norm(a, norm, cap) && (n = strlen(norm)) > 2 &&
	       strcmp(norm + n - 2, ":0");
}

/* ---- reading ---- */

struct ctx {
	yaml_document_t *doc;
	struct sl_node_conf *c;
	char *err;
	size_t cap;
	void *cur;		/* the list entry being read */
};

static unsigned line_of(const yaml_node_t *n)
{
	return (unsigned)n->start_mark.line + 1;
}

/* "FILE:LINE: KEY: what" into the error buffer; returns -EINVAL. */
static int __attribute__((format(printf, 4, 5)))
fail(struct ctx *x, const yaml_node_t *at, const char *key, const char *fmt, ...)
{
	size_t off;
	va_list ap;

	off = (size_t)snprintf(x->err, x->cap, "%s:%u: %s%s", x->c->file, at ? line_of(at) : 1,
			       key ? key : "", key ? ": " : "");
	if (off < x->cap) {
		va_start(ap, fmt);
		vsnprintf(x->err + off, x->cap - off, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* A scalar's text, or NULL (after the error) when n is a list or a map. */
static const char *scalar(struct ctx *x, const yaml_node_t *n, const char *key)
{
	if (n->type != YAML_SCALAR_NODE) {
		fail(x, n, key, "a single value is expected here, not a %s",
		     n->type == YAML_MAPPING_NODE ? "map" : "list");
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}

static int text_into(struct ctx *x, const yaml_node_t *n, const char *key, char *out, size_t cap)
{
	const char *s = scalar(x, n, key);

	if (!s)
		return -EINVAL;
	if (!*s)
		return fail(x, n, key, "must not be empty");
	if (strlen(s) >= cap)
		return fail(x, n, key, "too long (at most %zu characters)", cap - 1);
	snprintf(out, cap, "%s", s);
	return 0;
}

/* A decimal number from lo to hi, digits only. */
static int number(struct ctx *x, const yaml_node_t *n, const char *key, uint64_t lo, uint64_t hi,
		  uint64_t *out)
{
	const char *s = scalar(x, n, key);
	uint64_t v = 0;

	if (!s)
		return -EINVAL;
	if (!*s)
		goto bad;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > hi)
			goto bad;
	}
	if (v < lo)
		goto bad;
	*out = v;
	return 0;
bad:
	return fail(x, n, key, "a number from %llu to %llu", (unsigned long long)lo,
		    (unsigned long long)hi);
}

static int boolean(struct ctx *x, const yaml_node_t *n, const char *key, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on" }, *const no[] = { "false", "no", "off" };
	const char *s = scalar(x, n, key);

	if (!s)
		return -EINVAL;
	for (unsigned i = 0; i < 3; i++) {
		if (!strcmp(s, yes[i]))
			return *out = true, 0;
		if (!strcmp(s, no[i]))
			return *out = false, 0;
	}
	return fail(x, n, key, "true or false");
}

static int duration(struct ctx *x, const yaml_node_t *n, const char *key, uint64_t max_ms,
		    uint64_t *out)
{
	const char *s = scalar(x, n, key);
	char hi[32];

	if (!s)
		return -EINVAL;
	if (!sl_parse_duration_ms(s, out) && *out <= max_ms)
		return 0;
	sl_format_duration_ms(max_ms, hi, sizeof(hi));
	return fail(x, n, key, "a duration from 1ms to %s, e.g. 30s or 2m", hi);
}

/* ---- the keys: one table for the top level, one per kind of list entry ---- */

typedef int (*parse_fn)(struct ctx *x, const yaml_node_t *v, const char *key);

struct key {
	const char *name;
	parse_fn parse;
	const char *help;	/* what it takes: a missing key's error says it */
};

static int unknown_key(struct ctx *x, const yaml_node_t *k, const char *prefix, const char *name,
		       const struct key *keys)
{
	char full[300];
	size_t off;

	snprintf(full, sizeof(full), "%s%s", prefix, name);
	fail(x, k, full, "unknown key; the keys here are:");
	off = strlen(x->err);
	for (const struct key *t = keys; t->name && off < x->cap; t++)
		off += (size_t)snprintf(x->err + off, x->cap - off, " %s%s", t->name,
					t[1].name ? "," : "");
	return -EINVAL;
}

/* Walk map m, each key through its row of keys[] (prefix names the map in errors). */
static int walk_map(struct ctx *x, const yaml_node_t *m, const char *prefix, const struct key *keys,
		    uint64_t *seen)
{
	if (m->type != YAML_MAPPING_NODE)
		return fail(x, m, prefix[0] ? prefix : NULL, "%s", prefix[0] ?
			    "a map of `key: value` lines is expected here" :
			    "the file must be a YAML map of `key: value` lines");
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(x->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(x->doc, p->value);
		const char *name = k ? scalar(x, k, prefix[0] ? prefix : "key") : NULL;
		const struct key *t;
		char full[300];
		int ret;

		if (!name || !v)
			return -EINVAL;
		for (t = keys; t->name && strcmp(t->name, name); t++)
			;
		if (!t->name)
			return unknown_key(x, k, prefix, name, keys);
		snprintf(full, sizeof(full), "%s%s", prefix, name);
		if (*seen & (1ull << (t - keys)))
			return fail(x, k, full, "given twice");
		*seen |= 1ull << (t - keys);
		ret = t->parse(x, v, full);
		if (ret)
			return ret;
	}
	return 0;
}

/* Node-level keys. */

static int p_name(struct ctx *x, const yaml_node_t *v, const char *key)
{
	char name[sizeof(x->c->rec.name)];

	if (text_into(x, v, key, name, sizeof(name)))
		return -EINVAL;
	if (!sl_node_name_valid(name))
		return fail(x, v, key, "up to %d letters, digits, '-', '_' or '.'", SL_NODE_NAME_MAX);
	memcpy(x->c->rec.name, name, sizeof(name));
	x->c->has_name = true;
	return 0;
}

static int p_tcp(struct ctx *x, const yaml_node_t *v, const char *key)
{
	const char *s = scalar(x, v, key);

	if (!s)
		return -EINVAL;
	if (!sl_listen_address_norm(s, x->c->rec.tcp_address, sizeof(x->c->rec.tcp_address)))
		return fail(x, v, key, "HOST:PORT with an IP address, e.g. 127.0.0.1:4000 (port 0 "
			    "picks a free one)");
	return 0;
}

static int p_udp(struct ctx *x, const yaml_node_t *v, const char *key)
{
	const char *s = scalar(x, v, key);
	char *a = x->c->rec.udp_address;

	if (!s)
		return -EINVAL;
	if (!sl_listen_address_norm(s, a, sizeof(x->c->rec.udp_address)) ||
	    !strcmp(strrchr(a, ':'), ":0"))
		return fail(x, v, key, "HOST:PORT with an IP address and a port from 1 to 65535, "
			    "e.g. 127.0.0.1:4100 (a UDP route names the port)");
	return 0;
}

static int p_identity(struct ctx *x, const yaml_node_t *v, const char *key)
{
	char *id = x->c->rec.identity;

	if (text_into(x, v, key, id, sizeof(x->c->rec.identity)))
		return -EINVAL;
	if (!sl_node_name_valid(id))
		return fail(x, v, key, "the name of an identity (`sluice identity list`)");
	return 0;
}

static int p_shards(struct ctx *x, const yaml_node_t *v, const char *key)
{
	uint64_t n = 0;

	if (number(x, v, key, 0, 64, &n))
		return -EINVAL;
	x->c->rec.shards = (unsigned)n;
	return 0;
}

static int p_pin(struct ctx *x, const yaml_node_t *v, const char *key)
{
	return boolean(x, v, key, &x->c->rec.pin_shards);
}

static int p_spin(struct ctx *x, const yaml_node_t *v, const char *key)
{
	uint64_t n = 0;

	if (number(x, v, key, 0, SL_NODE_SPIN_US_MAX, &n))
		return -EINVAL;
	x->c->rec.spin_us = (unsigned)n;
	return 0;
}

static int p_frame(struct ctx *x, const yaml_node_t *v, const char *key)
{
	return duration(x, v, key, FRAME_TIMEOUT_MAX_MS, &x->c->rec.frame_timeout_ms);
}

static int p_drain(struct ctx *x, const yaml_node_t *v, const char *key)
{
	const char *s = scalar(x, v, key);

	if (s && !strcmp(s, "0"))
		return x->c->drain_timeout_ms = 0, 0;	/* stop at once */
	return duration(x, v, key, SL_CONF_DRAIN_MS_MAX, &x->c->drain_timeout_ms);
}

static int p_metrics(struct ctx *x, const yaml_node_t *v, const char *key)
{
	const char *s = scalar(x, v, key);

	if (!s)
		return -EINVAL;
	if (!sl_metrics_address_norm(s, x->c->rec.metrics, sizeof(x->c->rec.metrics)))
		return fail(x, v, key, "HOST:PORT with an IP address and a port other than 0, e.g. "
			    "127.0.0.1:9464");
	return 0;
}

/* Checked as --relay-directory is: the other relay nodes dial this node's listener. */
static int p_relay_dir(struct ctx *x, const yaml_node_t *v, const char *key)
{
	const char *s = scalar(x, v, key), *why;
	char host[256];
	unsigned port;

	if (!s)
		return -EINVAL;
	if (sl_relay_dir_parse_url(s, host, sizeof(host), &port, &why) ||
	    strlen(s) >= sizeof(x->c->rec.relay_directory))
		return fail(x, v, key, "%s", why);
	snprintf(x->c->rec.relay_directory, sizeof(x->c->rec.relay_directory), "%s", s);
	return 0;
}

/* limits: the keys are the names in limits.c's one table, so a new limit has a key at once. */
static int p_limits(struct ctx *x, const yaml_node_t *m, const char *key)
{
	if (m->type != YAML_MAPPING_NODE)
		return fail(x, m, key, "a map of limit: value lines, e.g. max-connections: 20000");
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(x->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(x->doc, p->value);
		const char *name = k ? scalar(x, k, key) : NULL;
		char full[300];
		uint64_t n = 0;
		int i;

		if (!name || !v)
			return -EINVAL;
		for (i = 0; i < SL_LIMITS && strcmp(sl_limit_defs[i].name, name); i++)
			;
		snprintf(full, sizeof(full), "%s.%s", key, name);
		if (i == SL_LIMITS) {
			size_t off;

			fail(x, k, full, "no such limit; the limits are:");
			off = strlen(x->err);
			for (int j = 0; j < SL_LIMITS && off < x->cap; j++)
				off += (size_t)snprintf(x->err + off, x->cap - off, " %s%s",
							sl_limit_defs[j].name, j + 1 < SL_LIMITS ? "," : "");
			return -EINVAL;
		}
		if (number(x, v, full, sl_limit_defs[i].min, sl_limit_defs[i].max, &n))
			return -EINVAL;
		x->c->limits.v[i] = n;
	}
	if (sl_limits_format(&x->c->limits, x->c->rec.limits, sizeof(x->c->rec.limits)))
		return fail(x, m, key, "too many limits to record");
	return 0;
}

/* Lists of services: a map of NAME: {key: value...}, each entry's keys from its own table. */

struct list_kind {
	const struct key *keys;
	uint64_t required;	/* bits of keys that must be given */
	void *(*add)(struct sl_node_conf *c, const char *name);	/* NULL when full */
	size_t name_cap;
};

static int list(struct ctx *x, const yaml_node_t *m, const char *key, const struct list_kind *k)
{
	if (m->type != YAML_MAPPING_NODE)
		return fail(x, m, key, "a map of NAME: followed by that entry's keys, indented");
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = yaml_document_get_node(x->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(x->doc, p->value);
		const char *name = kn ? scalar(x, kn, key) : NULL;
		char prefix[300];
		uint64_t seen = 0;

		if (!name || !v)
			return -EINVAL;
		snprintf(prefix, sizeof(prefix), "%s.%s", key, name);
		if (!*name || strlen(name) >= k->name_cap)
			return fail(x, kn, prefix, "a name of 1 to %zu characters", k->name_cap - 1);
		if (!sl_printable_utf8((const uint8_t *)name, strlen(name)) || strchr(name, ' ') ||
		    strchr(name, '/'))
			return fail(x, kn, prefix, "a name without spaces, '/' or control characters");
		x->cur = k->add(x->c, name);
		if (!x->cur)
			return fail(x, kn, prefix, "at most %u entries", SL_CONF_ITEMS_MAX);
		if (v->type == YAML_SCALAR_NODE && !*v->data.scalar.value)
			return fail(x, v, prefix, "its keys are missing");
		strcat(prefix, ".");
		if (walk_map(x, v, prefix, k->keys, &seen))
			return -EINVAL;
		prefix[strlen(prefix) - 1] = '\0';
		for (unsigned b = 0; k->keys[b].name; b++)
			if ((k->required >> b & 1) && !(seen >> b & 1))
				return fail(x, v, prefix, "%s is missing (%s)", k->keys[b].name,
					    k->keys[b].help);
	}
	return 0;
}

#define FIELD(fn, type, field) \
	static int fn(struct ctx *x, const yaml_node_t *v, const char *key) \
	{ \
		return text_into(x, v, key, ((type *)x->cur)->field, sizeof(((type *)x->cur)->field)); \
	}

FIELD(relay_at, struct sl_conf_relay, at)
FIELD(outlet_to, struct sl_conf_outlet, to)
FIELD(inlet_to, struct sl_conf_inlet, to)
FIELD(inlet_via, struct sl_conf_inlet, via)
FIELD(listener_identity, struct sl_conf_listener, identity)

static int inlet_from(struct ctx *x, const yaml_node_t *v, const char *key)
{
	struct sl_conf_inlet *in = x->cur;
	const char *s = scalar(x, v, key);

	if (!s)
		return -EINVAL;
	if (!sl_listen_address_norm(s, in->from, sizeof(in->from)))
		return fail(x, v, key, "HOST:PORT with an IP address, e.g. 127.0.0.1:6000");
	return 0;
}

/* authorized: a list of identifiers "I" + 64 hex digits (or one). */
static int listener_authorized(struct ctx *x, const yaml_node_t *v, const char *key)
{
	struct sl_conf_listener *l = x->cur;
	yaml_node_item_t one[1], *it, *end;
	size_t off = 0;

	if (v->type == YAML_MAPPING_NODE)
		return fail(x, v, key, "a list of identifiers, e.g. [I0123...]");
	if (v->type == YAML_SEQUENCE_NODE) {
		it = v->data.sequence.items.start;
		end = v->data.sequence.items.top;
	} else {
		one[0] = (yaml_node_item_t)(v - x->doc->nodes.start + 1);
		it = one;
		end = one + 1;
	}
	if (end - it > 16)
		return fail(x, v, key, "at most 16 identifiers");
	for (; it < end; it++) {
		yaml_node_t *n = yaml_document_get_node(x->doc, *it);
		const char *s = n ? scalar(x, n, key) : NULL;
		uint8_t id[32];

		if (!s)
			return -EINVAL;
		if (s[0] != 'I' || strlen(s) != 65 || sl_hex_decode(s + 1, id, sizeof(id)) != 32)
			return fail(x, n, key, "'%s' is not an identifier: I and 64 hex digits "
				    "(`sluice identity show`)", s);
		off += (size_t)snprintf(l->authorized + off, sizeof(l->authorized) - off, "%s%s",
					off ? " " : "", s);
	}
	return 0;
}

static int relay_plain(struct ctx *x, const yaml_node_t *v, const char *key)
{
	return boolean(x, v, key, &((struct sl_conf_relay *)x->cur)->plain);
}

static const struct key relay_keys[] = {
	{ "at", relay_at, "the route to the relay node, e.g. /node/relay or /ip4/10.0.0.1/tcp/4000" },
	{ "plain", relay_plain, "true: register over plain TCP (relay create --plain; default false)" },
	{ NULL, NULL, NULL },
};
static const struct key outlet_keys[] = {
	{ "to", outlet_to, "HOST:PORT the outlet connects to, e.g. 127.0.0.1:5000" },
	{ NULL, NULL, NULL },
};
static const struct key inlet_keys[] = {
	{ "from", inlet_from, "HOST:PORT the inlet listens on, e.g. 127.0.0.1:6000" },
	{ "to", inlet_to, "the route to an outlet, e.g. /node/n2/service/outlet" },
	{ "via", inlet_via, "a relay name: the route goes through it (optional)" },
	{ NULL, NULL, NULL },
};
static const struct key listener_keys[] = {
	{ "identity", listener_identity, "the identity it presents (default: the node's own)" },
	{ "authorized", listener_authorized, "identifiers it accepts (default: any verified one)" },
	{ NULL, NULL, NULL },
};

#define ADDER(fn, arr, cnt, field) \
	static void *fn(struct sl_node_conf *c, const char *name) \
	{ \
		if (c->cnt >= SL_CONF_ITEMS_MAX) \
			return NULL; \
		snprintf(c->arr[c->cnt].field, sizeof(c->arr[c->cnt].field), "%s", name); \
		return &c->arr[c->cnt++]; \
	}

ADDER(add_relay, relays, nrelays, name)
ADDER(add_outlet, outlets, noutlets, address)
ADDER(add_inlet, inlets, ninlets, alias)
ADDER(add_listener, listeners, nlisteners, address)

static const struct list_kind relays_kind = { relay_keys, 1, add_relay, 256 };
static const struct list_kind outlets_kind = { outlet_keys, 1, add_outlet, 256 };
static const struct list_kind inlets_kind = { inlet_keys, 3, add_inlet, 256 };
static const struct list_kind listeners_kind = { listener_keys, 0, add_listener, 256 };

static int p_relays(struct ctx *x, const yaml_node_t *v, const char *key)
{
	return list(x, v, key, &relays_kind);
}

static int p_outlets(struct ctx *x, const yaml_node_t *v, const char *key)
{
	return list(x, v, key, &outlets_kind);
}

static int p_inlets(struct ctx *x, const yaml_node_t *v, const char *key)
{
	return list(x, v, key, &inlets_kind);
}

static int p_listeners(struct ctx *x, const yaml_node_t *v, const char *key)
{
	return list(x, v, key, &listeners_kind);
}

/* The top level. A new key is one row here and its parser (at most 64 rows). */
static const struct key top_keys[] = {
	{ "name", p_name, "the node's name (must match NAME on the command line, if given)" },
	{ "tcp-listener-address", p_tcp, "HOST:PORT (default " SL_NODE_TCP_LISTEN_DEFAULT ")" },
	{ "udp-listener-address", p_udp, "HOST:PORT with a port (default: none)" },
	{ "identity", p_identity, "identity name (default: the node's own)" },
	{ "shards", p_shards, "shard threads, 1 to 64 (default 0: one per CPU)" },
	{ "pin-shards", p_pin, "true or false (default false)" },
	{ "spin-us", p_spin, "0 to 1000 microseconds of busy-polling (default 50)" },
	{ "frame-timeout", p_frame, "duration, at most 1h (default 30s)" },
	{ "drain-timeout", p_drain, "duration SIGTERM lets flows finish, 0 = none (default 30s)" },
	{ "metrics", p_metrics, "HOST:PORT of /metrics, /healthz, /readyz (default: none)" },
	{ "relay-directory", p_relay_dir, "redis://HOST:PORT of a relay fleet's directory (default: none)" },
	{ "limits", p_limits, "map of limit: number (README, Limits)" },
	{ "secure-channel-listeners", p_listeners, "map of ADDRESS: {identity, authorized}" },
	{ "relays", p_relays, "map of NAME: {at, plain}" },
	{ "tcp-outlets", p_outlets, "map of ADDRESS: {to}" },
	{ "tcp-inlets", p_inlets, "map of ALIAS: {from, to, via}" },
	{ NULL, NULL, NULL },
};

static void defaults(struct sl_node_conf *c, const char *file)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->file, sizeof(c->file), "%s", file);
	snprintf(c->rec.tcp_address, sizeof(c->rec.tcp_address), "%s", SL_NODE_TCP_LISTEN_DEFAULT);
	c->rec.spin_us = SL_NODE_SPIN_US_DEFAULT;
	c->rec.frame_timeout_ms = SL_NODE_FRAME_TIMEOUT_MS_DEFAULT;
	c->drain_timeout_ms = SL_CONF_DRAIN_MS_DEFAULT;
	sl_limits_default(&c->limits);
}

int sl_node_conf_parse(const char *file, const uint8_t *p, size_t n, struct sl_node_conf *c,
		       char *err, size_t cap)
{
	struct ctx x = { .c = c, .err = err, .cap = cap };
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	uint64_t seen = 0;
	int ret;

	defaults(c, file);
	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, cap, "%s: out of memory", file);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, p, n);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, cap, "%s:%zu: YAML syntax: %s%s%s", file,
			 (size_t)parser.problem_mark.line + 1,
			 parser.problem ? parser.problem : "unreadable",
			 parser.context ? " " : "", parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		return -EINVAL;
	}
	x.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (!root)
		ret = 0;	/* an empty file: every default */
	else
		ret = walk_map(&x, root, "", top_keys, &seen);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return ret;
}

int sl_node_conf_load(const char *path, struct sl_node_conf *c, char *err, size_t cap)
{
	uint8_t *buf;
	size_t n = 0;
	ssize_t r;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, cap, "%s: cannot read it: %s", path, strerror(errno));
		return ret;
	}
	buf = malloc(SL_CONF_FILE_MAX + 1);
	if (!buf) {
		close(fd);
		snprintf(err, cap, "%s: out of memory", path);
		return -ENOMEM;
	}
	while ((r = read(fd, buf + n, SL_CONF_FILE_MAX + 1 - n)) > 0 && n + (size_t)r <= SL_CONF_FILE_MAX)
		n += (size_t)r;
	ret = r < 0 ? -errno : 0;
	close(fd);
	if (!ret && r > 0) {
		snprintf(err, cap, "%s: larger than %u bytes: is it the right file?", path,
			 SL_CONF_FILE_MAX);
		ret = -EFBIG;
	} else if (ret) {
		snprintf(err, cap, "%s: cannot read it: %s", path, strerror(-ret));
	} else {
		ret = sl_node_conf_parse(path, buf, n, c, err, cap);
	}
	free(buf);
	return ret;
}
