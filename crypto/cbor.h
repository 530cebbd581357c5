/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CBOR as minicbor writes it (PROTOCOL.md 2), in crypto/ because identities
 * decode it and crypto/ may depend on libsodium and libc only; engine/ uses
 * the same code for routes and frames.
 *
 * Writer: definite lengths only, integers in shortest form. Errors are sticky:
 * once a put does not fit, w->err is -E2BIG, nothing more is written and the
 * caller checks once at the end (sl_cbor_writer_finish()).
 *
 * Reader: a (p, end) cursor that never reads past end. Every error is
 * -EBADMSG and leaves the cursor somewhere inside [start, end]: callers give
 * up on the item. Deliberate choices:
 *  - non-shortest integer and length encodings are accepted (tolerant);
 *  - indefinite-length ARRAYS and MAPS are accepted; indefinite-length byte
 *    and text STRINGS are rejected (minicbor never writes them and accepting
 *    them would force a copy to join the chunks);
 *  - tags: the typed getters reject them (no field of the protocol is
 *    tagged), sl_cbor_skip() skips a tag together with its item, so a tagged
 *    value in a field we ignore does not break decoding;
 *  - floats and other simple values can only be skipped;
 *  - nesting is bounded by SL_CBOR_MAX_DEPTH, and a definite count larger
 *    than the bytes left is rejected at once (every item takes at least one
 *    byte), so no loop runs longer than the input.
 *
 * Struct conventions (PROTOCOL.md 2): a struct is an array whose length is
 * the highest present index + 1; an absent optional field in the middle is
 * null. An enum variant is [index, [fields...]]; a unit variant is 82 idx 80.
 */
#ifndef SL_CRYPTO_CBOR_H
#define SL_CRYPTO_CBOR_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_CBOR_MAX_DEPTH 16

enum {
	SL_CBOR_UINT = 0,
	SL_CBOR_NEGINT = 1,
	SL_CBOR_BYTES = 2,
	SL_CBOR_TEXT = 3,
	SL_CBOR_ARRAY = 4,
	SL_CBOR_MAP = 5,
	SL_CBOR_TAG = 6,
	SL_CBOR_SIMPLE = 7,	/* false, true, null, undefined, floats, break */
};

struct sl_cbor_writer {
	uint8_t *start;
	uint8_t *p;		/* next byte to write */
	uint8_t *end;
	int err;		/* 0 or -E2BIG, sticky */
};

void sl_cbor_writer_init(struct sl_cbor_writer *w, uint8_t *buf, size_t cap);
/* Bytes written so far. */
static inline size_t sl_cbor_writer_len(const struct sl_cbor_writer *w)
{
	return (size_t)(w->p - w->start);
}
/* 0 with *len = bytes written, or the sticky error. */
int sl_cbor_writer_finish(const struct sl_cbor_writer *w, size_t *len);

void sl_cbor_put_uint(struct sl_cbor_writer *w, uint64_t v);
void sl_cbor_put_int(struct sl_cbor_writer *w, int64_t v);
void sl_cbor_put_bytes(struct sl_cbor_writer *w, const void *p, size_t n);
/*
 * Header of a byte string of n bytes only: the n bytes themselves are already
 * in place after it, or the caller writes them (sl_cbor_put_reserve()).
 */
void sl_cbor_put_bytes_hdr(struct sl_cbor_writer *w, size_t n);
/* Reserve n raw bytes; returns where to write them, NULL on overflow. */
uint8_t *sl_cbor_put_reserve(struct sl_cbor_writer *w, size_t n);
/* Copy already-encoded CBOR. */
void sl_cbor_put_raw(struct sl_cbor_writer *w, const void *p, size_t n);
void sl_cbor_put_text(struct sl_cbor_writer *w, const char *s, size_t n);
void sl_cbor_put_null(struct sl_cbor_writer *w);
void sl_cbor_put_bool(struct sl_cbor_writer *w, bool v);
/* Array header; a struct with n fields present up to index n-1 is an array of n. */
void sl_cbor_put_array(struct sl_cbor_writer *w, uint64_t n);
/* Enum variant header 82 idx <array nfields>; a unit variant is nfields = 0. */
void sl_cbor_put_enum(struct sl_cbor_writer *w, uint64_t idx, uint64_t nfields);

/*
 * Heads, inline: a route's addresses are written and read per message, a
 * handful of heads each, and a call per head was most of their cost.
 */
#define SL_CBOR_AI_INDEF 31

/* Bytes a major-type head carrying value v takes (1, 2, 3, 5 or 9). */
static inline size_t sl_cbor_head_len(uint64_t v)
{
	if (v < 24)
		return 1;
	if (v <= 0xff)
		return 2;
	if (v <= 0xffff)
		return 3;
	if (v <= 0xffffffff)
		return 5;
	return 9;
}

/* Write the head (major, v) at p, which has sl_cbor_head_len(v) bytes; returns that. */
static inline size_t sl_cbor_head_write(uint8_t *p, unsigned major, uint64_t v)
{
	size_t n = sl_cbor_head_len(v);

	major <<= 5;
	if (n == 1) {
		p[0] = (uint8_t)(major | v);
		return 1;
	}
	/* ai 24..27: 1, 2, 4 or 8 bytes of argument, big-endian */
	p[0] = (uint8_t)(major | (n == 2 ? 24 : n == 3 ? 25 : n == 5 ? 26 : 27));
	for (size_t i = n - 1; i >= 1; i--, v >>= 8)
		p[i] = (uint8_t)v;
	return n;
}

struct sl_cbor_reader {
	const uint8_t *start;
	const uint8_t *p;	/* next byte to read */
	const uint8_t *end;
};

void sl_cbor_reader_init(struct sl_cbor_reader *rd, const uint8_t *p, size_t len);
static inline bool sl_cbor_at_end(const struct sl_cbor_reader *rd)
{
	return rd->p >= rd->end;
}
static inline size_t sl_cbor_offset(const struct sl_cbor_reader *rd)
{
	return (size_t)(rd->p - rd->start);
}

/*
 * One head: major type, additional info and the argument, consumed. For ai
 * 31 (an indefinite length or break) *v is 0; ai 28..30 are reserved
 * (-EBADMSG, nothing consumed).
 */
static inline int sl_cbor_head_read(struct sl_cbor_reader *rd, unsigned *major, unsigned *ai,
				    uint64_t *v)
{
	const uint8_t *p = rd->p;
	size_t n;
	uint64_t x = 0;

	if (p >= rd->end)
		return -EBADMSG;
	*major = *p >> 5;
	*ai = *p & 0x1f;
	p++;
	if (*ai < 24) {
		x = *ai;
		n = 0;
	} else if (*ai <= 27) {
		n = (size_t)1 << (*ai - 24);
	} else if (*ai == SL_CBOR_AI_INDEF) {
		n = 0;
	} else {
		return -EBADMSG;
	}
	if ((size_t)(rd->end - p) < n)
		return -EBADMSG;
	while (n--)
		x = x << 8 | *p++;
	*v = x;
	rd->p = p;
	return 0;
}

/* A definite head of major type want, consumed; else -EBADMSG and nothing consumed. */
static inline int sl_cbor_head_expect(struct sl_cbor_reader *rd, unsigned want, uint64_t *v)
{
	const uint8_t *save = rd->p;
	unsigned major, ai;
	int ret;

	ret = sl_cbor_head_read(rd, &major, &ai, v);
	if (ret)
		return ret;
	if (major != want || ai == SL_CBOR_AI_INDEF) {
		rd->p = save;
		return -EBADMSG;
	}
	return 0;
}

/* Major type of the next item (SL_CBOR_*), or -EBADMSG at end of input. */
int sl_cbor_peek_type(const struct sl_cbor_reader *rd);
/* True when the next item is null (f6); consumes nothing. */
bool sl_cbor_peek_null(const struct sl_cbor_reader *rd);

int sl_cbor_get_uint(struct sl_cbor_reader *rd, uint64_t *v);
/* An unsigned integer that must be <= max. */
int sl_cbor_get_uint_max(struct sl_cbor_reader *rd, uint64_t max, uint64_t *v);
/* Unsigned or negative integer that fits int64_t. */
int sl_cbor_get_int(struct sl_cbor_reader *rd, int64_t *v);
/* Views into the input. */
int sl_cbor_get_bytes(struct sl_cbor_reader *rd, const uint8_t **p, size_t *n);
int sl_cbor_get_text(struct sl_cbor_reader *rd, const char **s, size_t *n);
/* A byte string of exactly n bytes, copied to out. */
int sl_cbor_get_bytes_n(struct sl_cbor_reader *rd, void *out, size_t n);
int sl_cbor_get_bool(struct sl_cbor_reader *rd, bool *v);
int sl_cbor_get_null(struct sl_cbor_reader *rd);
/* Skip one whole item (nested arrays, maps, tags included), depth-bounded. */
int sl_cbor_skip(struct sl_cbor_reader *rd);

/*
 * Arrays, definite or indefinite:
 *
 *	struct sl_cbor_array a;
 *	ret = sl_cbor_array_enter(rd, &a);
 *	while ((ret = sl_cbor_array_next(rd, &a)) > 0)
 *		... read one element ...
 *	if (!ret) ret = sl_cbor_array_leave(rd, &a);
 */
struct sl_cbor_array {
	uint64_t left;		/* definite: elements not yet taken */
	bool indef;
};

/* Reads the header. For a definite array, a->left is its length. */
int sl_cbor_array_enter(struct sl_cbor_reader *rd, struct sl_cbor_array *a);
/* 1 when another element follows (and counts it taken), 0 at the end, or -EBADMSG. */
int sl_cbor_array_next(struct sl_cbor_reader *rd, struct sl_cbor_array *a);
/* Skip the elements not taken (extra trailing struct fields) and the break. */
int sl_cbor_array_leave(struct sl_cbor_reader *rd, struct sl_cbor_array *a);

/*
 * Struct fields. sl_cbor_field(): 0 when the next (required) field is there,
 * -EBADMSG when the struct ended early. sl_cbor_field_opt(): *present is
 * false when the struct ended or the field is null (which is consumed), true
 * when a non-null value is next.
 */
int sl_cbor_field(struct sl_cbor_reader *rd, struct sl_cbor_array *a);
int sl_cbor_field_opt(struct sl_cbor_reader *rd, struct sl_cbor_array *a, bool *present);

/*
 * Enum variant [idx, [fields...]]: reads both headers; the caller reads the
 * fields through `fields` (sl_cbor_field...) and then calls
 * sl_cbor_enum_leave(), which skips what it did not take. A unit variant has
 * an empty field array.
 */
int sl_cbor_enum_enter(struct sl_cbor_reader *rd, struct sl_cbor_array *outer,
		       uint64_t *idx, struct sl_cbor_array *fields);
int sl_cbor_enum_leave(struct sl_cbor_reader *rd, struct sl_cbor_array *outer,
		       struct sl_cbor_array *fields);

#endif /* SL_CRYPTO_CBOR_H */
