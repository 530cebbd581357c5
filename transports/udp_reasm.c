// SPDX-License-Identifier: Apache-2.0
/*
 * UDP reassembly (udp_reasm.h). Tables are small fixed arrays searched
 * linearly (a shard hears from few UDP peers; the last peer is cached).
 * A partial message keeps the byte ranges it holds, merged, so reordered
 * parts fill in and a repeated part is recognised.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "transports/udp_reasm.h"

#define IV_MAX 16		/* disjoint ranges a partial message may hold */
#define WINDOW 64

struct peer {
	uint8_t key[SL_UDP_PEER_KEY_MAX];
	uint8_t klen;
	bool used, has_top;
	uint16_t top;		/* newest routing number delivered */
	uint64_t win;		/* bit i: top - i delivered */
	uint64_t heard_ns;
	unsigned nparts;
};

struct iv {
	uint32_t off, len;
};

struct partial {
	bool used, have_end;
	uint16_t rn;
	uint32_t peer;
	uint32_t end;		/* known once the last part came */
	uint8_t *buf;
	size_t cap;
	unsigned niv;
	struct iv iv[IV_MAX];
	uint64_t born_ns;
};

struct sl_udp_reasm {
	struct sl_udp_reasm_cfg cfg;
	struct peer *peers;
	struct partial *parts;
	uint8_t *out;		/* the last whole message's buffer, freed at the next call */
	uint32_t last_peer;
	struct sl_udp_reasm_stats st;
};

struct sl_udp_reasm *sl_udp_reasm_new(const struct sl_udp_reasm_cfg *cfg)
{
	struct sl_udp_reasm *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	if (cfg)
		r->cfg = *cfg;
	if (!r->cfg.max_peers)
		r->cfg.max_peers = 256;
	if (!r->cfg.max_partials)
		r->cfg.max_partials = 256;
	if (!r->cfg.per_peer)
		r->cfg.per_peer = 8;
	if (!r->cfg.max_bytes)
		r->cfg.max_bytes = 32u << 20;
	if (!r->cfg.max_msg)
		r->cfg.max_msg = 16u << 20;
	if (!r->cfg.timeout_ns)
		r->cfg.timeout_ns = 2000000000ull;
	r->peers = calloc(r->cfg.max_peers, sizeof(*r->peers));
	r->parts = calloc(r->cfg.max_partials, sizeof(*r->parts));
	if (!r->peers || !r->parts) {
		sl_udp_reasm_free(r);
		return NULL;
	}
	return r;
}

void sl_udp_reasm_free(struct sl_udp_reasm *r)
{
	if (!r)
		return;
	if (r->parts)
		for (unsigned i = 0; i < r->cfg.max_partials; i++)
			free(r->parts[i].buf);
	free(r->parts);
	free(r->peers);
	free(r->out);
	free(r);
}

static void part_drop(struct sl_udp_reasm *r, struct partial *pt)
{
	r->st.bytes -= pt->cap;
	r->st.partials--;
	r->peers[pt->peer].nparts--;
	free(pt->buf);
	memset(pt, 0, sizeof(*pt));
}

static void peer_drop_parts(struct sl_udp_reasm *r, uint32_t pi)
{
	for (unsigned i = 0; i < r->cfg.max_partials && r->peers[pi].nparts; i++)
		if (r->parts[i].used && r->parts[i].peer == pi) {
			part_drop(r, &r->parts[i]);
			r->st.evicted++;
		}
}

static uint32_t peer_get(struct sl_udp_reasm *r, const void *key, size_t klen)
{
	struct peer *pe = &r->peers[r->last_peer];
	uint32_t lru = 0, free_i = UINT32_MAX;

	if (pe->used && pe->klen == klen && !memcmp(pe->key, key, klen))
		return r->last_peer;
	for (uint32_t i = 0; i < r->cfg.max_peers; i++) {
		pe = &r->peers[i];
		if (!pe->used) {
			if (free_i == UINT32_MAX)
				free_i = i;
			continue;
		}
		if (pe->klen == klen && !memcmp(pe->key, key, klen))
			return r->last_peer = i;
		if (pe->heard_ns < r->peers[lru].heard_ns || !r->peers[lru].used)
			lru = i;
	}
	if (free_i == UINT32_MAX) {
		/* Full: the peer heard from least recently goes, with its partials. */
		free_i = lru;
		peer_drop_parts(r, free_i);
	}
	pe = &r->peers[free_i];
	memset(pe, 0, sizeof(*pe));
	pe->used = true;
	pe->klen = (uint8_t)klen;
	memcpy(pe->key, key, klen);
	return r->last_peer = free_i;
}

/* 0 when rn may still be delivered; -EALREADY, -ESTALE otherwise. */
static int window_check(struct sl_udp_reasm *r, uint32_t pi, uint16_t rn)
{
	struct peer *pe = &r->peers[pi];
	int d;

	if (!pe->has_top)
		return 0;
	d = sl_udp_rn_diff(rn, pe->top);
	if (d > 0)
		return 0;
	if (-d >= WINDOW) {
		if (-d <= SL_UDP_RESTART_GAP)
			return -ESTALE;
		/* Far behind: the peer restarted with a fresh random number. */
		peer_drop_parts(r, pi);
		pe->has_top = false;
		pe->win = 0;
		return 0;
	}
	return (pe->win >> -d) & 1 ? -EALREADY : 0;
}

static void window_mark(struct peer *pe, uint16_t rn)
{
	int d;

	if (!pe->has_top) {
		pe->has_top = true;
		pe->top = rn;
		pe->win = 1;
		return;
	}
	d = sl_udp_rn_diff(rn, pe->top);
	if (d > 0) {
		pe->win = d >= WINDOW ? 0 : pe->win << d;
		pe->win |= 1;
		pe->top = rn;
	} else {
		pe->win |= 1ull << -d;
	}
}

static struct partial *part_find(struct sl_udp_reasm *r, uint32_t pi, uint16_t rn)
{
	if (!r->peers[pi].nparts)
		return NULL;
	for (unsigned i = 0; i < r->cfg.max_partials; i++)
		if (r->parts[i].used && r->parts[i].peer == pi && r->parts[i].rn == rn)
			return &r->parts[i];
	return NULL;
}

static struct partial *part_new(struct sl_udp_reasm *r, uint32_t pi, uint16_t rn, uint64_t now)
{
	struct partial *pt = NULL, *oldest = NULL, *peer_oldest = NULL;
	bool peer_full = r->peers[pi].nparts >= r->cfg.per_peer;

	for (unsigned i = 0; i < r->cfg.max_partials; i++) {
		struct partial *q = &r->parts[i];

		if (!q->used) {
			if (!pt)
				pt = q;
			continue;
		}
		if (!oldest || q->born_ns < oldest->born_ns)
			oldest = q;
		if (peer_full && q->peer == pi &&
		    (!peer_oldest || sl_udp_rn_diff(q->rn, peer_oldest->rn) < 0))
			peer_oldest = q;
	}
	/* A newer message pushes out the peer's oldest partial (Ockam keeps one). */
	if (peer_oldest) {
		part_drop(r, peer_oldest);
		r->st.evicted++;
		pt = peer_oldest;
	} else if (!pt) {
		part_drop(r, oldest);
		r->st.evicted++;
		pt = oldest;
	}
	pt->used = true;
	pt->peer = pi;
	pt->rn = rn;
	pt->born_ns = now;
	r->peers[pi].nparts++;
	r->st.partials++;
	return pt;
}

/* Insert [o, o + n) into pt's ranges: 0, -EALREADY (held already), -EBADMSG (overlap, too many). */
static int ranges_add(struct partial *pt, uint32_t o, uint32_t n)
{
	uint32_t e = o + n;
	unsigned i = 0;

	while (i < pt->niv && pt->iv[i].off + pt->iv[i].len < o)
		i++;
	/* pt->iv[i] is the first range that ends at or after o. */
	if (i < pt->niv) {
		struct iv *v = &pt->iv[i];

		if (o >= v->off && e <= v->off + v->len)
			return -EALREADY;
		if (v->off < e && o < v->off + v->len)
			return -EBADMSG;
		if (i + 1 < pt->niv && pt->iv[i + 1].off < e)
			return -EBADMSG;
		if (v->off + v->len == o) {
			/* Extends v; maybe joins the next. */
			v->len += n;
			if (i + 1 < pt->niv && pt->iv[i + 1].off == e) {
				v->len += pt->iv[i + 1].len;
				memmove(&pt->iv[i + 1], &pt->iv[i + 2],
					(pt->niv - i - 2) * sizeof(pt->iv[0]));
				pt->niv--;
			}
			return 0;
		}
		if (v->off == e) {
			v->off = o;
			v->len += n;
			return 0;
		}
	}
	if (pt->niv == IV_MAX)
		return -EBADMSG;
	memmove(&pt->iv[i + 1], &pt->iv[i], (pt->niv - i) * sizeof(pt->iv[0]));
	pt->iv[i] = (struct iv){ o, n };
	pt->niv++;
	return 0;
}

static int part_fail(struct sl_udp_reasm *r, struct partial *pt, int err)
{
	part_drop(r, pt);
	if (err == -ENOBUFS)
		r->st.nomem++;
	else
		r->st.bad++;
	return err;
}

int sl_udp_reasm_add(struct sl_udp_reasm *r, const void *peer, size_t peer_len,
		     const struct sl_udp_part *p, uint64_t now_ns, const uint8_t **msg,
		     size_t *len)
{
	uint64_t end = (uint64_t)p->offset + p->len;
	struct partial *pt;
	uint32_t pi;
	int ret;

	free(r->out);
	r->out = NULL;
	if (peer_len > SL_UDP_PEER_KEY_MAX)
		peer_len = SL_UDP_PEER_KEY_MAX;
	pi = peer_get(r, peer, peer_len);
	r->peers[pi].heard_ns = now_ns;
	ret = window_check(r, pi, p->rn);
	if (ret) {
		if (ret == -EALREADY)
			r->st.dup++;
		else
			r->st.stale++;
		return ret;
	}
	pt = part_find(r, pi, p->rn);
	if (end > r->cfg.max_msg || end > UINT32_MAX) {
		if (pt)
			return part_fail(r, pt, -EBADMSG);
		r->st.bad++;
		return -EBADMSG;
	}
	if (!pt && p->offset == 0 && p->last) {
		/* The common case, a message in one datagram: no copy, no state. */
		window_mark(&r->peers[pi], p->rn);
		r->st.whole++;
		*msg = p->chunk;
		*len = p->len;
		return SL_UDP_WHOLE;
	}
	if (!pt)
		pt = part_new(r, pi, p->rn, now_ns);
	if ((pt->have_end && end > pt->end) || (p->len == 0 && !p->last))
		return part_fail(r, pt, -EBADMSG);
	if (p->last) {
		uint32_t held = pt->niv ? pt->iv[pt->niv - 1].off + pt->iv[pt->niv - 1].len : 0;

		if ((pt->have_end && end != pt->end) || held > end)
			return part_fail(r, pt, -EBADMSG);
	}
	if (p->len) {
		ret = ranges_add(pt, p->offset, (uint32_t)p->len);
		if (ret == -EALREADY) {
			r->st.dup++;
			return ret;
		}
		if (ret)
			return part_fail(r, pt, ret);
		if (end > pt->cap) {
			size_t cap = pt->cap * 2 > end ? pt->cap * 2 : end;
			uint8_t *b;

			if (cap > r->cfg.max_msg)
				cap = r->cfg.max_msg;
			if (r->st.bytes - pt->cap + cap > r->cfg.max_bytes ||
			    !(b = realloc(pt->buf, cap)))
				return part_fail(r, pt, -ENOBUFS);
			r->st.bytes += cap - pt->cap;
			pt->buf = b;
			pt->cap = cap;
		}
		memcpy(pt->buf + p->offset, p->chunk, p->len);
	}
	if (p->last) {
		pt->have_end = true;
		pt->end = (uint32_t)end;
	}
	if (!pt->have_end || pt->niv != 1 || pt->iv[0].off != 0 || pt->iv[0].len != pt->end)
		return SL_UDP_PENDING;
	window_mark(&r->peers[pi], p->rn);
	r->st.whole++;
	*msg = r->out = pt->buf;
	*len = pt->end;
	pt->buf = NULL;
	part_drop(r, pt);
	return SL_UDP_WHOLE;
}

unsigned sl_udp_reasm_expire(struct sl_udp_reasm *r, uint64_t now_ns)
{
	unsigned n = 0;

	for (unsigned i = 0; i < r->cfg.max_partials && r->st.partials; i++) {
		struct partial *pt = &r->parts[i];

		if (pt->used && now_ns - pt->born_ns >= r->cfg.timeout_ns) {
			part_drop(r, pt);
			r->st.expired++;
			n++;
		}
	}
	return n;
}

uint64_t sl_udp_reasm_next_deadline(const struct sl_udp_reasm *r)
{
	uint64_t t = UINT64_MAX;

	for (unsigned i = 0; i < r->cfg.max_partials && r->st.partials; i++)
		if (r->parts[i].used && r->parts[i].born_ns + r->cfg.timeout_ns < t)
			t = r->parts[i].born_ns + r->cfg.timeout_ns;
	return t;
}

void sl_udp_reasm_stats(const struct sl_udp_reasm *r, struct sl_udp_reasm_stats *out)
{
	*out = r->st;
}
