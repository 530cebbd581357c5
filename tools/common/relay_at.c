// SPDX-License-Identifier: Apache-2.0
/* Relay locations and projects (relay_at.h). Cold, control plane. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/identity.h"
#include "engine/multiaddr.h"
#include "tools/common/node_proc.h"
#include "tools/common/relay_at.h"

#define SEGS_MAX 16

int sl_project_check(const struct sl_project_rec *p, char *err, size_t errlen)
{
	struct sl_route r;
	uint8_t id[32];
	char why[256];

	if (!sl_node_name_valid(p->name)) {
		snprintf(err, errlen, "'%s' is not a valid project name (1-64 of A-Z a-z 0-9 _ - .)",
			 p->name);
		return -EINVAL;
	}
	if (sl_multiaddr_to_route(p->route, NULL, &r, why, sizeof(why)) || sl_route_empty(&r)) {
		snprintf(err, errlen, "the relay route '%s' of project %s is not a plain multiaddr "
			 "such as /ip4/127.0.0.1/tcp/4000: %s", p->route, p->name, why);
		return -EINVAL;
	}
	if (p->identifier[0] && sl_identity_id_parse(p->identifier, id)) {
		snprintf(err, errlen, "'%s' is not an identifier (I followed by 64 hex digits): see "
			 "`sluice node show` on the relay node", p->identifier);
		return -EINVAL;
	}
	return 0;
}

int sl_project_resolve(struct sl_state *st, const char *name, struct sl_route *route,
		       bool *has_id, uint8_t id[32], char *err, size_t errlen)
{
	struct sl_project_rec p;
	int ret;

	ret = sl_state_project_get(st, name, &p);
	if (ret == -ENOENT) {
		snprintf(err, errlen, "unknown project %s: create it with `sluice project create %s "
			 "--relay /ip4/HOST/tcp/PORT --identity I...`, or give a node its file with "
			 "`sluice node create NODE --project FILE`", name, name);
		return ret;
	}
	if (ret) {
		snprintf(err, errlen, "cannot read the state store: %s", strerror(-ret));
		return ret;
	}
	if (sl_project_check(&p, err, errlen))
		return -EINVAL;
	sl_multiaddr_to_route(p.route, NULL, route, NULL, 0);
	*has_id = p.identifier[0] != 0;
	if (*has_id)
		sl_identity_id_parse(p.identifier, id);
	return 0;
}

/* Append the multiaddr text of a one-address route. */
static int append_text(char *buf, size_t cap, const struct sl_route *one, uint8_t type,
		       const char *body, size_t len)
{
	struct sl_route r;
	size_t used = strlen(buf);
	int n;

	sl_route_init(&r);
	if (!one) {
		sl_route_push_back(&r, type, body, len);
		one = &r;
	}
	n = sl_multiaddr_from_route(one, buf + used, cap - used);
	return n < 0 || (size_t)n >= cap - used ? -E2BIG : 0;
}

int sl_relay_at_resolve(struct sl_state *st, const char *text, bool need_running,
			struct sl_relay_at *at, char *err, size_t errlen)
{
	struct sl_ma_seg *segs = calloc(SEGS_MAX, sizeof(*segs));
	struct sl_node_rec rec;
	char dial[300];
	size_t n, i;
	int ret;

	if (!segs)
		return -ENOMEM;
	memset(at, 0, sizeof(*at));
	sl_route_init(&at->route);
	ret = sl_multiaddr_parse(text, segs, SEGS_MAX, &n, err, errlen);
	if (ret)
		goto out;
	ret = -EINVAL;
	for (i = 0; i < n; i++) {
		struct sl_ma_seg *g = &segs[i];
		size_t used = strlen(at->text);

		switch (g->kind) {
		case SL_MA_ADDR:
			if (sl_route_push_back(&at->route, g->type, g->text, g->len) ||
			    append_text(at->text, sizeof(at->text), NULL, g->type, g->text, g->len))
				goto too_long;
			break;
		case SL_MA_NODE:
			ret = sl_state_node_get(st, g->text, &rec);
			if (ret == -ENOENT) {
				snprintf(err, errlen, "unknown node %s in %s: see `sluice node list`",
					 g->text, text);
				goto out;
			}
			if (ret) {
				snprintf(err, errlen, "cannot read the state store: %s", strerror(-ret));
				goto out;
			}
			if ((need_running && (!rec.pid || !sl_node_alive(rec.pid, rec.pid_start))) ||
			    sl_node_dial_address(&rec, dial, sizeof(dial))) {
				snprintf(err, errlen, "node %s is not running: start it with `sluice node "
					 "start %s`", g->text, g->text);
				ret = -ECONNREFUSED;
				goto out;
			}
			if (sl_route_push_back(&at->route, SL_ADDR_TCP, dial, strlen(dial)) ||
			    append_text(at->text, sizeof(at->text), NULL, SL_ADDR_TCP, dial, strlen(dial)))
				goto too_long;
			break;
		case SL_MA_PROJECT:
			ret = -EINVAL;
			if (i) {
				snprintf(err, errlen, "/project/%s must begin the route %s", g->text, text);
				goto out;
			}
			ret = sl_project_resolve(st, g->text, &at->route, &at->has_authority,
						 at->authority, err, errlen);
			if (ret)
				goto out;
			snprintf(at->text + used, sizeof(at->text) - used, "/project/%s", g->text);
			break;
		case SL_MA_SECURE:
			snprintf(err, errlen, "%s: leave /secure/%s out, a relay is always registered "
				 "through its own secure channel to the relay node's `api` listener",
				 text, g->text);
			goto out;
		}
	}
	ret = 0;
	if (sl_route_empty(&at->route)) {
		snprintf(err, errlen, "the route %s is empty", text);
		ret = -EINVAL;
	}
	goto out;
too_long:
	snprintf(err, errlen, "the route %s is too long", text);
	ret = -E2BIG;
out:
	free(segs);
	return ret;
}

/* The string value of "key" in a small flat JSON object (our own files). */
static int json_field(const char *js, const char *key, char *out, size_t cap)
{
	char pat[64];
	const char *p;
	size_t n = 0;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	p = strstr(js, pat);
	if (!p)
		return -ENOENT;
	p += strlen(pat);
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p++ != ':')
		return -EINVAL;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p++ != '"')
		return -EINVAL;
	for (; *p && *p != '"'; p++) {
		char c = *p;

		if (c == '\\') {
			c = *++p;
			if (c != '"' && c != '\\' && c != '/')
				return -EINVAL;	/* our names and routes need no other escape */
		}
		if (n + 1 >= cap)
			return -E2BIG;
		out[n++] = c;
	}
	if (*p != '"')
		return -EINVAL;
	out[n] = 0;
	return 0;
}

int sl_project_read_file(const char *path, struct sl_project_rec *p, char *err, size_t errlen)
{
	char buf[8192];
	size_t n;
	FILE *f;

	memset(p, 0, sizeof(*p));
	f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "cannot read the project file %s: %s", path, strerror(errno));
		return -errno;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	if (json_field(buf, "name", p->name, sizeof(p->name)) ||
	    json_field(buf, "relay", p->route, sizeof(p->route))) {
		snprintf(err, errlen, "%s is not a project file: it needs \"name\" and \"relay\" "
			 "(write one with `sluice project create NAME --relay MULTIADDR --identity I...`)",
			 path);
		return -EINVAL;
	}
	if (json_field(buf, "identity", p->identifier, sizeof(p->identifier)) == -EINVAL) {
		snprintf(err, errlen, "the \"identity\" of %s is not a string", path);
		return -EINVAL;
	}
	return sl_project_check(p, err, errlen);
}

int sl_project_save(const struct sl_project_rec *p)
{
	struct sl_state *st;
	int ret = sl_state_open(NULL, &st);

	if (ret)
		return ret;
	ret = sl_state_project_put(st, p);
	sl_state_close(st);
	if (ret)
		return sl_err("cannot save project %s: %s", p->name, strerror(-ret));
	return 0;
}

int sl_project_import_file(const char *path, char *name, size_t cap)
{
	struct sl_project_rec p;
	char err[600];
	int ret;

	ret = sl_project_read_file(path, &p, err, sizeof(err));
	if (ret)
		return sl_err("%s", err);
	ret = sl_project_save(&p);
	if (ret)
		return ret;
	snprintf(name, cap, "%s", p.name);
	return 0;
}
