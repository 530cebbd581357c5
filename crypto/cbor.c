// SPDX-License-Identifier: Apache-2.0
/* CBOR writer and bounded reader (see cbor.h for the choices made). */
#include <errno.h>
#include <string.h>

#include "crypto/cbor.h"

#define AI_INDEF SL_CBOR_AI_INDEF
#define BREAK 0xff

/* Writer */

void sl_cbor_writer_init(struct sl_cbor_writer *w, uint8_t *buf, size_t cap)
{
	w->start = buf;
	w->p = buf;
	w->end = buf + cap;
	w->err = 0;
}

int sl_cbor_writer_finish(const struct sl_cbor_writer *w, size_t *len)
{
	if (w->err)
		return w->err;
	if (len)
		*len = sl_cbor_writer_len(w);
	return 0;
}

uint8_t *sl_cbor_put_reserve(struct sl_cbor_writer *w, size_t n)
{
	uint8_t *at;

	if (w->err)
		return NULL;
	if ((size_t)(w->end - w->p) < n) {
		w->err = -E2BIG;
		return NULL;
	}
	at = w->p;
	w->p += n;
	return at;
}

static void put_head(struct sl_cbor_writer *w, unsigned major, uint64_t v)
{
	uint8_t *p = sl_cbor_put_reserve(w, sl_cbor_head_len(v));

	if (p)
		sl_cbor_head_write(p, major, v);
}

void sl_cbor_put_uint(struct sl_cbor_writer *w, uint64_t v)
{
	put_head(w, SL_CBOR_UINT, v);
}

void sl_cbor_put_int(struct sl_cbor_writer *w, int64_t v)
{
	if (v >= 0)
		put_head(w, SL_CBOR_UINT, (uint64_t)v);
	else
		put_head(w, SL_CBOR_NEGINT, (uint64_t)(-1 - v));
}

void sl_cbor_put_raw(struct sl_cbor_writer *w, const void *p, size_t n)
{
	uint8_t *at = sl_cbor_put_reserve(w, n);

	if (at && n)
		memcpy(at, p, n);
}

void sl_cbor_put_bytes_hdr(struct sl_cbor_writer *w, size_t n)
{
	put_head(w, SL_CBOR_BYTES, n);
}

void sl_cbor_put_bytes(struct sl_cbor_writer *w, const void *p, size_t n)
{
	put_head(w, SL_CBOR_BYTES, n);
	sl_cbor_put_raw(w, p, n);
}

void sl_cbor_put_text(struct sl_cbor_writer *w, const char *s, size_t n)
{
	put_head(w, SL_CBOR_TEXT, n);
	sl_cbor_put_raw(w, s, n);
}

void sl_cbor_put_null(struct sl_cbor_writer *w)
{
	put_head(w, SL_CBOR_SIMPLE, 22);
}

void sl_cbor_put_bool(struct sl_cbor_writer *w, bool v)
{
	put_head(w, SL_CBOR_SIMPLE, v ? 21 : 20);
}

void sl_cbor_put_array(struct sl_cbor_writer *w, uint64_t n)
{
	put_head(w, SL_CBOR_ARRAY, n);
}

void sl_cbor_put_enum(struct sl_cbor_writer *w, uint64_t idx, uint64_t nfields)
{
	put_head(w, SL_CBOR_ARRAY, 2);
	put_head(w, SL_CBOR_UINT, idx);
	put_head(w, SL_CBOR_ARRAY, nfields);
}

/* Reader */

void sl_cbor_reader_init(struct sl_cbor_reader *rd, const uint8_t *p, size_t len)
{
	rd->start = p;
	rd->p = p;
	rd->end = p + len;
}

static size_t left(const struct sl_cbor_reader *rd)
{
	return (size_t)(rd->end - rd->p);
}

int sl_cbor_peek_type(const struct sl_cbor_reader *rd)
{
	if (rd->p >= rd->end)
		return -EBADMSG;
	return *rd->p >> 5;
}

bool sl_cbor_peek_null(const struct sl_cbor_reader *rd)
{
	return rd->p < rd->end && *rd->p == 0xf6;
}

int sl_cbor_get_uint(struct sl_cbor_reader *rd, uint64_t *v)
{
	return sl_cbor_head_expect(rd, SL_CBOR_UINT, v);
}

int sl_cbor_get_uint_max(struct sl_cbor_reader *rd, uint64_t max, uint64_t *v)
{
	const uint8_t *save = rd->p;
	uint64_t x;
	int ret;

	ret = sl_cbor_head_expect(rd, SL_CBOR_UINT, &x);
	if (ret)
		return ret;
	if (x > max) {
		rd->p = save;
		return -EBADMSG;
	}
	*v = x;
	return 0;
}

int sl_cbor_get_int(struct sl_cbor_reader *rd, int64_t *v)
{
	const uint8_t *save = rd->p;
	unsigned major, ai;
	uint64_t x;
	int ret;

	ret = sl_cbor_head_read(rd, &major, &ai, &x);
	if (ret)
		return ret;
	if ((major != SL_CBOR_UINT && major != SL_CBOR_NEGINT) || ai == AI_INDEF ||
	    x > INT64_MAX) {
		rd->p = save;
		return -EBADMSG;
	}
	*v = major == SL_CBOR_UINT ? (int64_t)x : -1 - (int64_t)x;
	return 0;
}

static int get_string(struct sl_cbor_reader *rd, unsigned major, const uint8_t **p, size_t *n)
{
	const uint8_t *save = rd->p;
	uint64_t len;
	int ret;

	ret = sl_cbor_head_expect(rd, major, &len);
	if (ret)
		return ret;
	if (len > left(rd)) {
		rd->p = save;
		return -EBADMSG;
	}
	*p = rd->p;
	*n = (size_t)len;
	rd->p += len;
	return 0;
}

int sl_cbor_get_bytes(struct sl_cbor_reader *rd, const uint8_t **p, size_t *n)
{
	return get_string(rd, SL_CBOR_BYTES, p, n);
}

int sl_cbor_get_text(struct sl_cbor_reader *rd, const char **s, size_t *n)
{
	const uint8_t *p;
	int ret;

	ret = get_string(rd, SL_CBOR_TEXT, &p, n);
	if (!ret)
		*s = (const char *)p;
	return ret;
}

int sl_cbor_get_bytes_n(struct sl_cbor_reader *rd, void *out, size_t n)
{
	const uint8_t *save = rd->p;
	const uint8_t *p;
	size_t len;
	int ret;

	ret = sl_cbor_get_bytes(rd, &p, &len);
	if (ret)
		return ret;
	if (len != n) {
		rd->p = save;
		return -EBADMSG;
	}
	memcpy(out, p, n);
	return 0;
}

int sl_cbor_get_bool(struct sl_cbor_reader *rd, bool *v)
{
	if (rd->p >= rd->end || (*rd->p != 0xf4 && *rd->p != 0xf5))
		return -EBADMSG;
	*v = *rd->p++ == 0xf5;
	return 0;
}

int sl_cbor_get_null(struct sl_cbor_reader *rd)
{
	if (!sl_cbor_peek_null(rd))
		return -EBADMSG;
	rd->p++;
	return 0;
}

static bool at_break(const struct sl_cbor_reader *rd)
{
	return rd->p < rd->end && *rd->p == BREAK;
}

static int skip(struct sl_cbor_reader *rd, unsigned depth)
{
	unsigned major, ai;
	uint64_t v, i;
	int ret;

	if (depth > SL_CBOR_MAX_DEPTH)
		return -EBADMSG;
	ret = sl_cbor_head_read(rd, &major, &ai, &v);
	if (ret)
		return ret;
	switch (major) {
	case SL_CBOR_UINT:
	case SL_CBOR_NEGINT:
		return ai == AI_INDEF ? -EBADMSG : 0;
	case SL_CBOR_BYTES:
	case SL_CBOR_TEXT:
		if (ai == AI_INDEF || v > left(rd))
			return -EBADMSG;
		rd->p += v;
		return 0;
	case SL_CBOR_ARRAY:
	case SL_CBOR_MAP:
		if (ai == AI_INDEF) {
			/* each pass consumes at least one byte: bounded by the input */
			while (!at_break(rd)) {
				ret = skip(rd, depth + 1);
				if (!ret && major == SL_CBOR_MAP)
					ret = skip(rd, depth + 1);
				if (ret)
					return ret;
			}
			rd->p++;
			return 0;
		}
		/* every item takes a byte: a count beyond the input is a lie */
		if (v > left(rd) || (major == SL_CBOR_MAP && v > left(rd) / 2))
			return -EBADMSG;
		if (major == SL_CBOR_MAP)
			v *= 2;
		for (i = 0; i < v; i++) {
			ret = skip(rd, depth + 1);
			if (ret)
				return ret;
		}
		return 0;
	case SL_CBOR_TAG:
		if (ai == AI_INDEF)
			return -EBADMSG;
		return skip(rd, depth + 1);
	default:
		/* simple values and floats: the head was the whole item; a stray break is not */
		return ai == AI_INDEF ? -EBADMSG : 0;
	}
}

int sl_cbor_skip(struct sl_cbor_reader *rd)
{
	return skip(rd, 0);
}

int sl_cbor_array_enter(struct sl_cbor_reader *rd, struct sl_cbor_array *a)
{
	const uint8_t *save = rd->p;
	unsigned major, ai;
	uint64_t v;
	int ret;

	ret = sl_cbor_head_read(rd, &major, &ai, &v);
	if (ret)
		return ret;
	if (major != SL_CBOR_ARRAY || (ai != AI_INDEF && v > left(rd))) {
		rd->p = save;
		return -EBADMSG;
	}
	a->indef = ai == AI_INDEF;
	a->left = a->indef ? 0 : v;
	return 0;
}

int sl_cbor_array_next(struct sl_cbor_reader *rd, struct sl_cbor_array *a)
{
	if (a->indef) {
		if (rd->p >= rd->end)
			return -EBADMSG;
		return *rd->p != BREAK;
	}
	if (!a->left)
		return 0;
	a->left--;
	return 1;
}

int sl_cbor_array_leave(struct sl_cbor_reader *rd, struct sl_cbor_array *a)
{
	int ret;

	while ((ret = sl_cbor_array_next(rd, a)) > 0) {
		/* extra fields were nested one level down already */
		ret = skip(rd, 1);
		if (ret)
			return ret;
	}
	if (ret)
		return ret;
	if (a->indef)
		rd->p++;	/* the break that array_next saw */
	return 0;
}

int sl_cbor_field(struct sl_cbor_reader *rd, struct sl_cbor_array *a)
{
	int ret = sl_cbor_array_next(rd, a);

	if (ret < 0)
		return ret;
	return ret ? 0 : -EBADMSG;
}

int sl_cbor_field_opt(struct sl_cbor_reader *rd, struct sl_cbor_array *a, bool *present)
{
	int ret = sl_cbor_array_next(rd, a);

	*present = false;
	if (ret <= 0)
		return ret;
	if (sl_cbor_peek_null(rd)) {
		rd->p++;
		return 0;
	}
	if (rd->p >= rd->end)
		return -EBADMSG;
	*present = true;
	return 0;
}

int sl_cbor_enum_enter(struct sl_cbor_reader *rd, struct sl_cbor_array *outer,
		       uint64_t *idx, struct sl_cbor_array *fields)
{
	int ret;

	ret = sl_cbor_array_enter(rd, outer);
	if (!ret)
		ret = sl_cbor_field(rd, outer);
	if (!ret)
		ret = sl_cbor_get_uint(rd, idx);
	if (!ret)
		ret = sl_cbor_field(rd, outer);
	if (!ret)
		ret = sl_cbor_array_enter(rd, fields);
	return ret;
}

int sl_cbor_enum_leave(struct sl_cbor_reader *rd, struct sl_cbor_array *outer,
		       struct sl_cbor_array *fields)
{
	int ret = sl_cbor_array_leave(rd, fields);

	return ret ? ret : sl_cbor_array_leave(rd, outer);
}
