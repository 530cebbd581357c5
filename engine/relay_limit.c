// SPDX-License-Identifier: Apache-2.0
/*
 * The node's limits on relays (max_relays_conn, max_relays_identity), so one
 * registrant cannot fill the directory. Registration is a control-path event
 * under rs->lock; no message pays for these.
 *
 * Per connection: the relays whose route rides one connection are the ones
 * watching its address (relay.c watches the first hop of a forward route
 * and, for a channel, the connection under it), so they are counted on the
 * watch chain of that address: no other index, and a chain holds at most
 * the limit's worth of one address.
 *
 * Per identity: the relays owned by one secure-channel peer, counted in a
 * table by identifier. A name's owner taking it over (a new route for the
 * same relay) adds nothing and is never refused by it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/relay_int.h"

#define OWNERS_INIT 256

int sl_relay_limit_init(struct sl_relays *rs)
{
	rs->owners = calloc(OWNERS_INIT, sizeof(*rs->owners));
	if (!rs->owners)
		return -ENOMEM;
	rs->omask = OWNERS_INIT - 1;
	return 0;
}

void sl_relay_limit_free(struct sl_relays *rs)
{
	for (unsigned b = 0; rs->owners && b <= rs->omask; b++) {
		struct relay_owner *o, *next;

		for (o = rs->owners[b]; o; o = next) {
			next = o->next;
			free(o);
		}
	}
	free(rs->owners);
	rs->owners = NULL;
}

static uint32_t owner_hash(const uint8_t id[32])
{
	return sl_addr_hash(id, 32);
}

static struct relay_owner **owner_find(struct sl_relays *rs, const uint8_t id[32])
{
	struct relay_owner **pp = &rs->owners[owner_hash(id) & rs->omask];

	for (; *pp; pp = &(*pp)->next)
		if (!memcmp((*pp)->id, id, 32))
			return pp;
	return pp;
}

/* Cold; a failed grow keeps the old table (longer chains, still correct). */
static void owners_grow(struct sl_relays *rs)
{
	unsigned cap = (rs->omask + 1) * 2;
	struct relay_owner **t = calloc(cap, sizeof(*t));

	if (!t)
		return;
	for (unsigned b = 0; b <= rs->omask; b++) {
		struct relay_owner *o, *next;

		for (o = rs->owners[b]; o; o = next) {
			next = o->next;
			o->next = t[owner_hash(o->id) & (cap - 1)];
			t[owner_hash(o->id) & (cap - 1)] = o;
		}
	}
	free(rs->owners);
	rs->owners = t;
	rs->omask = cap - 1;
}

/*
 * An owner's fair-share slot: a free one, or once all are given (63 owning
 * identities), one by hash, shared (those owners then share one share).
 */
static void slot_take(struct sl_relays *rs, struct relay_owner *o)
{
	uint64_t free_ = ~rs->slots_used & ~1ull;

	o->slot_own = free_ != 0;
	if (!free_) {
		o->slot = (uint8_t)(1 + owner_hash(o->id) % (SL_SHARE_SLOTS - 1));
		return;
	}
	rs->slots_used |= free_ & -free_;
	o->slot = (uint8_t)__builtin_ctzll(free_);
}

void sl_relay_owner_add(struct sl_relays *rs, struct relay *r)
{
	struct relay_owner **pp = owner_find(rs, r->owner);

	if (*pp) {
		(*pp)->n++;
		r->share = (*pp)->slot;
		return;
	}
	/* Out of memory: the owner goes uncounted, which only makes the limit later. */
	*pp = calloc(1, sizeof(**pp));
	if (!*pp)
		return;
	memcpy((*pp)->id, r->owner, 32);
	(*pp)->n = 1;
	slot_take(rs, *pp);
	r->share = (*pp)->slot;
	if (++rs->nowners > 2 * (rs->omask + 1))
		owners_grow(rs);
}

void sl_relay_owner_del(struct sl_relays *rs, const struct relay *r)
{
	struct relay_owner **pp = owner_find(rs, r->owner), *o = *pp;

	if (!o || --o->n)
		return;
	if (o->slot_own)
		rs->slots_used &= ~(1ull << o->slot);
	*pp = o->next;
	free(o);
	rs->nowners--;
}

/* Relays other than skip whose route rides local address a. Stops counting at max. */
static unsigned on_conn(struct sl_relays *rs, const struct relay *skip, const struct sl_addr *a,
			unsigned max)
{
	uint32_t h = sl_addr_hash(a->body, a->len);
	unsigned n = 0;

	for (struct relay_watch *x = rs->watch[h & rs->wmask]; x && n < max; x = x->wnext)
		if (x->whash == h && x->wlen == a->len && x->r != skip &&
		    !memcmp(x->waddr, a->body, a->len))
			n++;
	return n;
}

const char *sl_relay_limit_check(struct sl_relays *rs, const struct relay *r,
				 const uint8_t *peer, const struct sl_addr *conn)
{
	unsigned per_identity = SL_NODE_LIMIT(rs->node, max_relays_identity);
	unsigned per_conn = SL_NODE_LIMIT(rs->node, max_relays_conn);

	/* A takeover by the name's owner adds no relay to its identity. */
	if (peer && !(r && r->owned && !memcmp(r->owner, peer, 32))) {
		struct relay_owner *o = *owner_find(rs, peer);

		if (o && o->n >= per_identity)
			return "max-relays-per-identity";
	}
	/* The relay's own watches are being replaced: it does not count against its new route. */
	if (conn && conn->type == SL_ADDR_LOCAL && conn->len &&
	    on_conn(rs, r, conn, per_conn) >= per_conn)
		return "max-relays-per-connection";
	return NULL;
}
