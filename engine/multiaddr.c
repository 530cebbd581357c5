// SPDX-License-Identifier: Apache-2.0
/* Multiaddr text <-> routes (see multiaddr.h). */
#include <arpa/inet.h>	/* inet_pton only: address syntax, no sockets */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "engine/multiaddr.h"

#define EXPECTED "expected /service, /worker, /node, /ip4, /ip6, /dnsaddr, /secure or /project"

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* The next "/component": [*s, *s + len) without the slash; advances p. */
struct comp {
	const char *s;
	size_t len;
};

static bool next_comp(const char **p, struct comp *c)
{
	const char *q;

	if (**p != '/')
		return false;
	c->s = *p + 1;
	q = strchr(c->s, '/');
	c->len = q ? (size_t)(q - c->s) : strlen(c->s);
	*p = c->s + c->len;
	return true;
}

static bool comp_is(const struct comp *c, const char *word)
{
	return c->len == strlen(word) && !memcmp(c->s, word, c->len);
}

static bool valid_port(const struct comp *c)
{
	unsigned v = 0;
	size_t i;

	if (!c->len || c->len > 5)
		return false;
	for (i = 0; i < c->len; i++) {
		if (c->s[i] < '0' || c->s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(c->s[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

static bool valid_ip(int af, const struct comp *c)
{
	char tmp[64];
	uint8_t bin[16];

	if (c->len >= sizeof(tmp))
		return false;
	memcpy(tmp, c->s, c->len);
	tmp[c->len] = 0;
	return inet_pton(af, tmp, bin) == 1;
}

static bool valid_host(const struct comp *c)
{
	size_t i;

	for (i = 0; i < c->len; i++) {
		char ch = c->s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_'))
			return false;
	}
	return c->len > 0;
}

static int set_seg(struct sl_ma_seg *seg, enum sl_ma_kind kind, uint8_t type,
		   const char *a, size_t alen, const char *b, size_t blen,
		   const char *c, size_t clen)
{
	size_t n = alen + blen + clen;

	if (n > SL_ADDR_BODY_MAX)
		return -E2BIG;
	seg->kind = kind;
	seg->type = type;
	seg->len = (uint8_t)n;
	memcpy(seg->text, a, alen);
	memcpy(seg->text + alen, b, blen);
	memcpy(seg->text + alen + blen, c, clen);
	seg->text[n] = 0;
	return 0;
}

/* /ip4/A/tcp/P and friends: the address component is read, "/tcp/P" or "/udp/P" follows. */
static int parse_tcp(const char *text, const char **p, const struct comp *proto,
		     const struct comp *host, struct sl_ma_seg *seg, char *err, size_t errlen)
{
	struct comp tcp, port = { "", 0 };
	uint8_t type = SL_ADDR_TCP;
	bool ok;
	int ret;

	if (comp_is(proto, "ip4"))
		ok = valid_ip(AF_INET, host);
	else if (comp_is(proto, "ip6"))
		ok = valid_ip(AF_INET6, host);
	else
		ok = valid_host(host);
	if (!ok)
		return fail(err, errlen, "invalid %.*s address '%.*s' in %s", (int)proto->len,
			    proto->s, (int)host->len, host->s, text);
	if (!next_comp(p, &tcp) || !(comp_is(&tcp, "tcp") || comp_is(&tcp, "udp")))
		return fail(err, errlen, "expected /tcp/PORT or /udp/PORT after /%.*s/%.*s in %s",
			    (int)proto->len, proto->s, (int)host->len, host->s, text);
	if (comp_is(&tcp, "udp")) {
		/* A UDP hop names an address: no name lookup on the send path. */
		if (comp_is(proto, "dnsaddr"))
			return fail(err, errlen, "/udp needs /ip4 or /ip6, not /dnsaddr, in %s",
				    text);
		type = SL_ADDR_UDP;
	}
	if (!next_comp(p, &port) || !valid_port(&port))
		return fail(err, errlen, "invalid port '%.*s' in %s: expected 1 to 65535",
			    (int)port.len, port.s, text);
	if (comp_is(proto, "ip6"))
		ret = set_seg(seg, SL_MA_ADDR, type, "[", 1, host->s, host->len, "]:", 2);
	else
		ret = set_seg(seg, SL_MA_ADDR, type, host->s, host->len, ":", 1, "", 0);
	if (ret)
		return fail(err, errlen, "address too long in %s", text);
	/* the port follows the separator set_seg wrote last */
	if (seg->len + port.len > SL_ADDR_BODY_MAX)
		return fail(err, errlen, "address too long in %s", text);
	memcpy(seg->text + seg->len, port.s, port.len);
	seg->len += (uint8_t)port.len;
	seg->text[seg->len] = 0;
	return 0;
}

int sl_multiaddr_parse(const char *text, struct sl_ma_seg *segs, size_t max, size_t *n,
		       char *err, size_t errlen)
{
	const char *p = text;
	struct comp proto, val;
	size_t k = 0;
	int ret;

	*n = 0;
	if (*p != '/')
		return fail(err, errlen, "multiaddr '%s' must start with '/', e.g. /service/echo", text);
	while (*p) {
		struct sl_ma_seg *seg;
		enum sl_ma_kind kind;

		next_comp(&p, &proto);
		if (!proto.len)
			return fail(err, errlen, "empty component in %s", text);
		if (!next_comp(&p, &val) || !val.len)
			return fail(err, errlen, "/%.*s needs a value in %s, e.g. /%.*s/NAME",
				    (int)proto.len, proto.s, text, (int)proto.len, proto.s);
		if (k == max)
			return fail(err, errlen, "too many segments in %s (at most %zu)", text, max);
		seg = &segs[k];

		if (comp_is(&proto, "ip4") || comp_is(&proto, "ip6") ||
		    comp_is(&proto, "dnsaddr")) {
			ret = parse_tcp(text, &p, &proto, &val, seg, err, errlen);
			if (ret)
				return ret;
			k++;
			continue;
		}
		if (comp_is(&proto, "service") || comp_is(&proto, "worker"))
			kind = SL_MA_ADDR;
		else if (comp_is(&proto, "node"))
			kind = SL_MA_NODE;
		else if (comp_is(&proto, "secure"))
			kind = SL_MA_SECURE;
		else if (comp_is(&proto, "project"))
			kind = SL_MA_PROJECT;
		else
			return fail(err, errlen, "unknown protocol '%.*s' in %s: " EXPECTED,
				    (int)proto.len, proto.s, text);
		if (set_seg(seg, kind, SL_ADDR_LOCAL, val.s, val.len, "", 0, "", 0))
			return fail(err, errlen, "name '%.*s...' is longer than %d bytes in %s",
				    16, val.s, SL_ADDR_BODY_MAX, text);
		k++;
	}
	*n = k;
	return 0;
}

int sl_multiaddr_to_route(const char *text, const struct sl_ma_resolver *res,
			  struct sl_route *route, char *err, size_t errlen)
{
	static const struct sl_ma_resolver none = { 0 };
	struct sl_ma_seg segs[SL_ROUTE_MAX_HOPS];
	size_t n, i;
	int ret;

	sl_route_init(route);
	if (!res)
		res = &none;
	ret = sl_multiaddr_parse(text, segs, SL_ROUTE_MAX_HOPS, &n, err, errlen);
	if (ret)
		return ret;
	for (i = 0; i < n; i++) {
		const struct sl_ma_seg *s = &segs[i];
		int (*cb)(void *, const char *, struct sl_route *) = NULL;
		const char *what = NULL;

		switch (s->kind) {
		case SL_MA_ADDR:
			ret = sl_route_push_back(route, s->type, s->text, s->len);
			if (ret) {
				fail(err, errlen, "route of %s is too long (at most %d hops)",
				     text, SL_ROUTE_MAX_HOPS);
				return ret;
			}
			continue;
		case SL_MA_NODE:
			cb = res->node;
			what = "node";
			break;
		case SL_MA_SECURE:
			cb = res->secure;
			what = "secure";
			break;
		case SL_MA_PROJECT:
			cb = res->project;
			what = "project";
			break;
		}
		if (!cb)
			return fail(err, errlen, "/%s/%s in %s cannot be used here: it needs a node to resolve it",
				    what, s->text, text);
		ret = cb(res->arg, s->text, route);
		if (ret) {
			fail(err, errlen, "cannot resolve /%s/%s in %s: %s", what, s->text, text,
			     strerror(ret < 0 ? -ret : ret));
			return ret < 0 ? ret : -EINVAL;
		}
	}
	return 0;
}

/* Route -> text */

static bool plain(const struct sl_addr *a)
{
	size_t i;

	if (!a->len)
		return false;
	for (i = 0; i < a->len; i++)
		if (a->body[i] <= 0x20 || a->body[i] > 0x7e || a->body[i] == '/')
			return false;
	return true;
}

static void emit(char *buf, size_t cap, size_t *n, const void *s, size_t len)
{
	if (*n < cap) {
		size_t room = cap - *n - 1;

		memcpy(buf + *n, s, len < room ? len : room);
	}
	*n += len;
}

static int tcp_from(const struct sl_addr *a, char *buf, size_t cap, size_t *n)
{
	const char *b = (const char *)a->body;
	const char *colon = NULL;
	struct comp host, port;
	size_t i;

	for (i = 0; i < a->len; i++)
		if (b[i] == ':')
			colon = b + i;
	if (!colon)
		return -EINVAL;
	host.s = b;
	host.len = (size_t)(colon - b);
	port.s = colon + 1;
	port.len = a->len - host.len - 1;
	if (!valid_port(&port))
		return -EINVAL;
	if (host.len >= 2 && host.s[0] == '[' && host.s[host.len - 1] == ']') {
		host.s++;
		host.len -= 2;
		if (!valid_ip(AF_INET6, &host))
			return -EINVAL;
		emit(buf, cap, n, "/ip6/", 5);
	} else if (valid_ip(AF_INET, &host)) {
		emit(buf, cap, n, "/ip4/", 5);
	} else if (a->type == SL_ADDR_TCP && valid_host(&host)) {
		emit(buf, cap, n, "/dnsaddr/", 9);
	} else {
		return -EINVAL;
	}
	emit(buf, cap, n, host.s, host.len);
	emit(buf, cap, n, a->type == SL_ADDR_UDP ? "/udp/" : "/tcp/", 5);
	emit(buf, cap, n, port.s, port.len);
	return 0;
}

int sl_multiaddr_from_route(const struct sl_route *route, char *buf, size_t cap)
{
	struct sl_addr a;
	size_t it = 0, n = 0;

	while (sl_route_next(route, &it, &a)) {
		if (!plain(&a))
			goto bad;
		if (a.type == SL_ADDR_LOCAL) {
			emit(buf, cap, &n, "/service/", 9);
			emit(buf, cap, &n, a.body, a.len);
		} else if ((a.type != SL_ADDR_TCP && a.type != SL_ADDR_UDP) ||
			   tcp_from(&a, buf, cap, &n)) {
			goto bad;
		}
	}
	if (cap)
		buf[n < cap ? n : cap - 1] = 0;
	return (int)n;
bad:
	if (cap)
		buf[0] = 0;
	return -EINVAL;
}
