// SPDX-License-Identifier: Apache-2.0
/*
 * Routes as (type, len, body) triples in a fixed buffer with room at both
 * ends. When one side runs out the triples are moved back to the centre, so
 * a long run of pushes on one side costs one memmove per half-buffer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/route.h"

#define TRIPLE(len) (2 + (size_t)(len))
/*
 * Where an empty route starts: near the struct's head fields rather than the
 * buffer's centre, so that a message's usual routes (a hop or two of 32-byte
 * addresses, one pushed in front) share cache lines with them instead of
 * touching three more per route on every hop. Room in front for one such
 * address and a short one; a longer run of pushes there recentres once.
 */
#define ROUTE_START 64

void sl_route_init(struct sl_route *r)
{
	r->head = ROUTE_START;
	r->tail = ROUTE_START;
	r->n = 0;
}

void sl_route_copy(struct sl_route *dst, const struct sl_route *src)
{
	if (dst == src)
		return;
	dst->head = src->head;
	dst->tail = src->tail;
	dst->n = src->n;
	memcpy(dst->buf + src->head, src->buf + src->head, src->tail - src->head);
}

static size_t used(const struct sl_route *r)
{
	return (size_t)(r->tail - r->head);
}

/* Move the triples so that `front` bytes are free before them and `back` after. */
static int make_room(struct sl_route *r, size_t front, size_t back, size_t hops)
{
	size_t u = used(r), spare, head;

	if (r->n + hops > SL_ROUTE_MAX_HOPS || u + front + back > SL_ROUTE_BYTES)
		return -E2BIG;
	if (r->head >= front && (size_t)(SL_ROUTE_BYTES - r->tail) >= back)
		return 0;
	/* centre what will be there, so both sides keep room afterwards */
	spare = SL_ROUTE_BYTES - u - front - back;
	head = front + spare / 2;
	memmove(r->buf + head, r->buf + r->head, u);
	r->head = (uint16_t)head;
	r->tail = (uint16_t)(head + u);
	return 0;
}

static void put_triple(uint8_t *at, uint8_t type, const void *body, size_t len)
{
	at[0] = type;
	at[1] = (uint8_t)len;
	if (len)
		memcpy(at + 2, body, len);
}

int sl_route_push_front(struct sl_route *r, uint8_t type, const void *body, size_t len)
{
	int ret;

	if (len > SL_ADDR_BODY_MAX)
		return -E2BIG;
	ret = make_room(r, TRIPLE(len), 0, 1);
	if (ret)
		return ret;
	r->head -= TRIPLE(len);
	put_triple(r->buf + r->head, type, body, len);
	r->n++;
	return 0;
}

int sl_route_push_back(struct sl_route *r, uint8_t type, const void *body, size_t len)
{
	int ret;

	if (len > SL_ADDR_BODY_MAX)
		return -E2BIG;
	ret = make_room(r, 0, TRIPLE(len), 1);
	if (ret)
		return ret;
	put_triple(r->buf + r->tail, type, body, len);
	r->tail += TRIPLE(len);
	r->n++;
	return 0;
}

/* dst = the triples (u bytes, n hops) ++ dst; they may not lie in dst. */
static int prepend_triples(struct sl_route *dst, const uint8_t *t, size_t u, size_t n)
{
	int ret = make_room(dst, u, 0, n);

	if (ret)
		return ret;
	dst->head -= u;
	memcpy(dst->buf + dst->head, t, u);
	dst->n += (uint8_t)n;
	return 0;
}

int sl_route_prepend(struct sl_route *dst, const struct sl_route *src)
{
	struct sl_route tmp;

	if (dst == src) {
		/* make_room would move src from under us */
		sl_route_copy(&tmp, src);
		src = &tmp;
	}
	return prepend_triples(dst, src->buf + src->head, used(src), src->n);
}

struct sl_route_packed *sl_route_pack(const struct sl_route *r)
{
	struct sl_route_packed *p = malloc(sizeof(*p) + used(r));

	if (!p)
		return NULL;
	p->used = (uint16_t)used(r);
	p->n = r->n;
	memcpy(p->buf, r->buf + r->head, used(r));
	return p;
}

int sl_route_set_triples(struct sl_route *dst, const uint8_t *t, size_t len, size_t n)
{
	sl_route_init(dst);
	/* after the start, where an append would put them: no recentring */
	if (dst->n + n > SL_ROUTE_MAX_HOPS || ROUTE_START + len > SL_ROUTE_BYTES)
		return prepend_triples(dst, t, len, n);
	memcpy(dst->buf + ROUTE_START, t, len);
	dst->tail = (uint16_t)(ROUTE_START + len);
	dst->n = (uint8_t)n;
	return 0;
}

void sl_route_unpack(struct sl_route *dst, const struct sl_route_packed *p)
{
	sl_route_set_triples(dst, p->buf, p->used, p->n);	/* fits: it came from a route */
}

int sl_route_prepend_packed(struct sl_route *dst, const struct sl_route_packed *p)
{
	return prepend_triples(dst, p->buf, p->used, p->n);
}

int sl_route_append(struct sl_route *dst, const struct sl_route *src)
{
	struct sl_route tmp;
	size_t u;
	int ret;

	if (dst == src) {
		sl_route_copy(&tmp, src);
		src = &tmp;
	}
	u = used(src);
	ret = make_room(dst, 0, u, src->n);
	if (ret)
		return ret;
	memcpy(dst->buf + dst->tail, src->buf + src->head, u);
	dst->tail += u;
	dst->n += src->n;
	return 0;
}

static void view(const struct sl_route *r, size_t off, struct sl_addr *out)
{
	out->type = r->buf[off];
	out->len = r->buf[off + 1];
	out->body = r->buf + off + 2;
}

bool sl_route_front(const struct sl_route *r, struct sl_addr *out)
{
	if (!r->n)
		return false;
	view(r, r->head, out);
	return true;
}

int sl_route_pop_front(struct sl_route *r)
{
	if (!r->n)
		return -ENOENT;
	r->head += TRIPLE(r->buf[r->head + 1]);
	if (!--r->n)
		sl_route_init(r);
	return 0;
}

int sl_route_pop_back(struct sl_route *r)
{
	size_t off = r->head, last = r->head;

	if (!r->n)
		return -ENOENT;
	/* triples only link forwards: walk to the last one (at most 32 steps) */
	while (off < r->tail) {
		last = off;
		off += TRIPLE(r->buf[off + 1]);
	}
	r->tail = (uint16_t)last;
	if (!--r->n)
		sl_route_init(r);
	return 0;
}

bool sl_route_next(const struct sl_route *r, size_t *it, struct sl_addr *out)
{
	size_t off = r->head + *it;

	if (off >= r->tail)
		return false;
	view(r, off, out);
	*it += TRIPLE(out->len);
	return true;
}

bool sl_addr_eq(const struct sl_addr *a, const struct sl_addr *b)
{
	return a->type == b->type && a->len == b->len &&
	       (!a->len || !memcmp(a->body, b->body, a->len));
}

bool sl_addr_is_local(const struct sl_addr *a, const char *name)
{
	size_t n = strlen(name);

	return a->type == SL_ADDR_LOCAL && a->len == n && (!n || !memcmp(a->body, name, n));
}

/* CBOR */

static size_t addr_encoded_len(size_t len)
{
	/* 82 <type> <bytes head> body; a type below 24 is one byte */
	return 2 + sl_cbor_head_len(len) + len;
}

size_t sl_route_encoded_len(const struct sl_route *r)
{
	size_t it = 0, n = sl_cbor_head_len(r->n);
	struct sl_addr a;

	while (sl_route_next(r, &it, &a))
		n += addr_encoded_len(a.len) + (a.type >= 24);
	return n;
}

size_t sl_route_encode_raw(uint8_t *p, const struct sl_route *r)
{
	uint8_t *start = p;
	struct sl_addr a;
	size_t it = 0;

	p += sl_cbor_head_write(p, SL_CBOR_ARRAY, r->n);
	while (sl_route_next(r, &it, &a)) {
		/* [type, body]: three heads and the body, per hop per message */
		*p++ = (uint8_t)(SL_CBOR_ARRAY << 5 | 2);
		p += sl_cbor_head_write(p, SL_CBOR_UINT, a.type);
		p += sl_cbor_head_write(p, SL_CBOR_BYTES, a.len);
		memcpy(p, a.body, a.len);
		p += a.len;
	}
	return (size_t)(p - start);
}

void sl_route_encode(struct sl_cbor_writer *w, const struct sl_route *r)
{
	size_t n = sl_route_encoded_len(r);
	uint8_t *p = sl_cbor_put_reserve(w, n);

	if (p)
		sl_route_encode_raw(p, r);
}

/* Address = [u8 type, bytes body, extra fields ignored]. */
static int addr_decode(struct sl_cbor_reader *rd, struct sl_route *r)
{
	const uint8_t *body;
	struct sl_cbor_array a;
	uint64_t type;
	size_t len;
	int ret;

	ret = sl_cbor_array_enter(rd, &a);
	if (!ret)
		ret = sl_cbor_field(rd, &a);
	if (!ret)
		ret = sl_cbor_get_uint_max(rd, 0xff, &type);
	if (!ret)
		ret = sl_cbor_field(rd, &a);
	if (!ret)
		ret = sl_cbor_get_bytes(rd, &body, &len);
	if (!ret)
		ret = sl_cbor_array_leave(rd, &a);
	if (ret)
		return ret;
	return sl_route_push_back(r, (uint8_t)type, body, len);
}

/* The general path: indefinite arrays, extra fields, and every malformed input. */
static int route_decode_any(struct sl_cbor_reader *rd, struct sl_route *r)
{
	struct sl_cbor_array a;
	int ret;

	sl_route_init(r);
	ret = sl_cbor_array_enter(rd, &a);
	if (ret)
		return ret;
	if (!a.indef && a.left > SL_ROUTE_MAX_HOPS)
		return -E2BIG;
	while ((ret = sl_cbor_array_next(rd, &a)) > 0) {
		ret = addr_decode(rd, r);
		if (ret)
			return ret;
	}
	if (ret)
		return ret;
	return sl_cbor_array_leave(rd, &a);
}

/*
 * The usual route, per route per message: a definite array of at most
 * SL_ROUTE_MAX_HOPS definite [type, body] pairs, read with the inline heads
 * and written straight after the last triple. false (nothing consumed, r
 * left for the general path to start over) at the first other form.
 */
static bool route_decode_fast(struct sl_cbor_reader *rd, struct sl_route *r)
{
	const uint8_t *save = rd->p;
	uint64_t n, k, type, blen;

	sl_route_init(r);
	if (sl_cbor_head_expect(rd, SL_CBOR_ARRAY, &n) || n > SL_ROUTE_MAX_HOPS)
		goto other;
	for (k = 0; k < n; k++) {
		uint8_t *at = r->buf + r->tail;

		if (sl_cbor_head_expect(rd, SL_CBOR_ARRAY, &type) || type != 2 ||
		    sl_cbor_head_expect(rd, SL_CBOR_UINT, &type) || type > 0xff ||
		    sl_cbor_head_expect(rd, SL_CBOR_BYTES, &blen) || blen > SL_ADDR_BODY_MAX ||
		    blen > (uint64_t)(rd->end - rd->p) || r->tail + TRIPLE(blen) > SL_ROUTE_BYTES)
			goto other;
		at[0] = (uint8_t)type;
		at[1] = (uint8_t)blen;
		memcpy(at + 2, rd->p, blen);
		rd->p += blen;
		r->tail += (uint16_t)TRIPLE(blen);
		r->n++;
	}
	return true;
other:
	rd->p = save;
	return false;
}

int sl_route_decode(struct sl_cbor_reader *rd, struct sl_route *r)
{
	if (route_decode_fast(rd, r))
		return 0;
	return route_decode_any(rd, r);
}

/* Text */

static bool printable(const struct sl_addr *a)
{
	size_t i;

	for (i = 0; i < a->len; i++)
		if (a->body[i] < 0x20 || a->body[i] > 0x7e)
			return false;
	return true;
}

/* snprintf-style append: *n counts what would have been written. */
static void emit(char *buf, size_t cap, size_t *n, const char *s, size_t len)
{
	if (*n < cap) {
		size_t room = cap - *n - 1;

		memcpy(buf + *n, s, len < room ? len : room);
	}
	*n += len;
}

static void terminate(char *buf, size_t cap, size_t n)
{
	if (cap)
		buf[n < cap ? n : cap - 1] = 0;
}

static void addr_emit(const struct sl_addr *a, char *buf, size_t cap, size_t *n)
{
	static const char hex[] = "0123456789abcdef";
	char tt[8];
	size_t i;

	emit(buf, cap, n, tt, (size_t)snprintf(tt, sizeof(tt), "%u#", a->type));
	if (printable(a)) {
		emit(buf, cap, n, (const char *)a->body, a->len);
		return;
	}
	/* a random or binary body: "0x" and hex, so it can be copied and read */
	emit(buf, cap, n, "0x", 2);
	for (i = 0; i < a->len; i++) {
		char h[2] = { hex[a->body[i] >> 4], hex[a->body[i] & 15] };

		emit(buf, cap, n, h, 2);
	}
}

int sl_addr_format(const struct sl_addr *a, char *buf, size_t cap)
{
	size_t n = 0;

	addr_emit(a, buf, cap, &n);
	terminate(buf, cap, n);
	return (int)n;
}

int sl_route_format(const struct sl_route *r, char *buf, size_t cap)
{
	struct sl_addr a;
	size_t it = 0, n = 0;

	while (sl_route_next(r, &it, &a)) {
		if (n)
			emit(buf, cap, &n, " => ", 4);
		addr_emit(&a, buf, cap, &n);
	}
	terminate(buf, cap, n);
	return (int)n;
}

int sl_addr_parse(const char *text, uint8_t *type, const char **body, size_t *len)
{
	const char *hash = strchr(text, '#');
	unsigned tt = 0;
	const char *p;

	if (hash) {
		if (hash == text || hash - text > 3)
			return -EINVAL;
		for (p = text; p < hash; p++) {
			if (*p < '0' || *p > '9')
				return -EINVAL;
			tt = tt * 10 + (unsigned)(*p - '0');
		}
		if (tt > 0xff)
			return -EINVAL;
		text = hash + 1;
	}
	if (!*text || strlen(text) > SL_ADDR_BODY_MAX)
		return -EINVAL;
	*type = (uint8_t)tt;
	*body = text;
	*len = strlen(text);
	return 0;
}
