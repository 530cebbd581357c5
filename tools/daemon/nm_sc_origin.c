// SPDX-License-Identifier: Apache-2.0
/*
 * How the channels this node manager made were made (secure_channel.create):
 * the route to the listener and the peer it proved. An inlet given such a
 * channel's address (`... | tcp-inlet create --to -/service/outlet`) is made
 * as the equivalent /secure route to that same peer, so that it makes new
 * channels when this one dies instead of failing for good (nm_portal.c).
 * Node manager's shard only; bounded: entries of closed channels go first.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tools/daemon/nm_secure.h"

#define ORIGINS_MAX 256

struct origin {
	struct origin *next;
	const struct sl_node *node;
	char enc[SL_RANDOM_ADDR_LEN + 1];
	struct sl_route to;
	uint8_t peer[SL_ID_LEN];
	bool any_peer;		/* made without --authorized */
};

/* One node per daemon; the lock only guards against library use with more. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct origin *origins;
static unsigned norigins;

static bool channel_open(struct sl_node *n, const char *enc)
{
	struct sl_secure_info *si = malloc(sizeof(*si));
	bool open = si && !sl_secure_find(n, enc, si);

	free(si);
	return open;
}

void sl_nm_sc_origin_add(struct sl_node *n, const char *enc, const struct sl_route *to,
			 const uint8_t peer[SL_ID_LEN], bool any_peer)
{
	struct origin *o = calloc(1, sizeof(*o)), **pp;

	if (!o)
		return;	/* an inlet through it then keeps its fixed route */
	o->node = n;
	memcpy(o->enc, enc, SL_RANDOM_ADDR_LEN);
	sl_route_copy(&o->to, to);
	memcpy(o->peer, peer, SL_ID_LEN);
	o->any_peer = any_peer;
	pthread_mutex_lock(&lock);
	/* Prune: the channels that closed, then the oldest while over the cap. */
	for (pp = &origins; *pp;) {
		struct origin *x = *pp;

		if (x->node == n && !channel_open(n, x->enc)) {
			*pp = x->next;
			free(x);
			norigins--;
		} else {
			pp = &x->next;
		}
	}
	o->next = origins;
	origins = o;
	if (++norigins > ORIGINS_MAX) {
		for (pp = &origins; (*pp)->next; pp = &(*pp)->next)
			;
		free(*pp);
		*pp = NULL;
		norigins--;
	}
	pthread_mutex_unlock(&lock);
}

int sl_nm_sc_origin(const struct sl_node *n, const char *enc, size_t len, struct sl_route *to,
		    uint8_t peer[SL_ID_LEN], bool *any_peer)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&lock);
	for (struct origin *o = origins; o; o = o->next) {
		if (o->node == n && len == SL_RANDOM_ADDR_LEN && !memcmp(o->enc, enc, len)) {
			sl_route_copy(to, &o->to);
			memcpy(peer, o->peer, SL_ID_LEN);
			*any_peer = o->any_peer;
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&lock);
	return ret;
}

void sl_nm_sc_origins_clear(const struct sl_node *n)
{
	pthread_mutex_lock(&lock);
	for (struct origin **pp = &origins; *pp;) {
		struct origin *x = *pp;

		if (x->node == n) {
			*pp = x->next;
			free(x);
			norigins--;
		} else {
			pp = &x->next;
		}
	}
	pthread_mutex_unlock(&lock);
}
