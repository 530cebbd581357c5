// SPDX-License-Identifier: Apache-2.0
#include "crypto/cipher.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define IVAL SL_REKEY_INTERVAL
/* Nonce 2^64-1 is the rekey nonce: never used for a frame. */
#define NONCE_MAX (UINT64_MAX - 1)

static void put_be64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static const uint8_t zeros[SL_AEAD_KEYLEN];

/* raw = rekey(k): the first 32 bytes of AESGCM_k(2^64-1, 32 zero bytes). */
static int derive(const struct sl_aead_key *k, uint8_t raw[SL_AEAD_KEYLEN])
{
	uint8_t out[SL_AEAD_KEYLEN + SL_AEAD_TAGLEN];
	int ret;

	ret = sl_aead_seal(k, UINT64_MAX, out, zeros, sizeof(zeros), NULL, 0);
	if (!ret)
		memcpy(raw, out, SL_AEAD_KEYLEN);
	sodium_memzero(out, sizeof(out));
	return ret;
}

int sl_cipher_rekey(struct sl_aead_key *k)
{
	uint8_t raw[SL_AEAD_KEYLEN];
	int ret;

	ret = derive(k, raw);
	/* re-key the existing state: a libgcrypt handle or libipsec-mb key is reused */
	if (!ret)
		ret = sl_aead_key_set(k, raw);
	sodium_memzero(raw, sizeof(raw));
	return ret;
}

/* Count bytes carried; true when the key is due to move to `target`. */
static bool carried(uint64_t *left, uint32_t target, const struct sl_aead_key *k, size_t len)
{
	if (target == k->backend)
		return false;
	*left = *left > len ? *left - len : 0;
	return !*left;
}

/*
 * Move k to backend `target`, re-expanding raw. Cold: once per busy state.
 * On failure the key stays where it is and no move is tried again.
 */
static void move_key(struct sl_aead_key *k, uint32_t *target, const uint8_t raw[SL_AEAD_KEYLEN])
{
	struct sl_aead_key nk;

	if (sl_aead_key_init_backend(&nk, (enum sl_aead_backend)*target, raw)) {
		*target = k->backend;
		return;
	}
	sl_aead_key_wipe(k);
	/* a move, not a copy: nk is not used again */
	*k = nk;
	sodium_memzero(&nk, sizeof(nk));
}

/* The backend an adaptive state moves to; libsodium's own states never move. */
static enum sl_aead_backend start_backend(bool adaptive, uint32_t *target, uint64_t *left)
{
	enum sl_aead_backend def = sl_aead_backend();

	*target = def;
	*left = 0;
	if (!adaptive || def == SL_AEAD_BACKEND_SODIUM)
		return def;
	*left = SL_CIPHER_UPGRADE_BYTES;
	return SL_AEAD_BACKEND_SODIUM;
}

static int enc_init(struct sl_cipher_enc *e, const uint8_t key[SL_AEAD_KEYLEN], bool adaptive)
{
	enum sl_aead_backend b;
	int ret;

	sodium_memzero(e, sizeof(*e));
	b = start_backend(adaptive, &e->target, &e->left);
	memcpy(e->raw, key, SL_AEAD_KEYLEN);
	ret = sl_aead_key_init_backend(&e->key, b, key);
	if (ret)
		sl_cipher_enc_wipe(e);
	return ret;
}

int sl_cipher_enc_init(struct sl_cipher_enc *e, const uint8_t key[SL_AEAD_KEYLEN])
{
	return enc_init(e, key, false);
}

int sl_cipher_enc_init_adaptive(struct sl_cipher_enc *e, const uint8_t key[SL_AEAD_KEYLEN])
{
	return enc_init(e, key, true);
}

void sl_cipher_enc_wipe(struct sl_cipher_enc *e)
{
	sl_aead_key_wipe(&e->key);
	sodium_memzero(e, sizeof(*e));
}

static int dec_init(struct sl_cipher_dec *d, const uint8_t key[SL_AEAD_KEYLEN], bool adaptive)
{
	enum sl_aead_backend b;
	int ret;

	sodium_memzero(d, sizeof(*d));
	sl_replay_init(&d->replay);
	b = start_backend(adaptive, &d->target, &d->left);
	memcpy(d->cur_raw, key, SL_AEAD_KEYLEN);
	ret = sl_aead_key_init_backend(&d->cur, b, key);
	if (ret)
		sl_cipher_dec_wipe(d);
	return ret;
}

int sl_cipher_dec_init(struct sl_cipher_dec *d, const uint8_t key[SL_AEAD_KEYLEN])
{
	return dec_init(d, key, false);
}

int sl_cipher_dec_init_adaptive(struct sl_cipher_dec *d, const uint8_t key[SL_AEAD_KEYLEN])
{
	return dec_init(d, key, true);
}

void sl_cipher_dec_wipe(struct sl_cipher_dec *d)
{
	sl_aead_key_wipe(&d->cur);
	if (d->trial) {
		sl_aead_key_wipe(d->trial);
		free(d->trial);
	}
	sodium_memzero(d, sizeof(*d));
}

static int seal_check(const struct sl_cipher_enc *e, size_t len, size_t cap)
{
	if (len > SL_AEAD_MAX_PLAINTEXT)
		return -EMSGSIZE;
	if (cap < len + SL_CIPHER_OVERHEAD)
		return -ENOBUFS;
	if (e->nonce > NONCE_MAX)
		return -EOVERFLOW;
	return 0;
}

/* Advance to the key of e->nonce; only ever at an interval boundary. */
static int seal_prepare(struct sl_cipher_enc *e)
{
	uint8_t raw[SL_AEAD_KEYLEN];
	int ret;

	if (e->nonce == 0 || e->nonce % IVAL)
		return 0;
	ret = derive(&e->key, raw);
	if (!ret)
		ret = sl_aead_key_set(&e->key, raw);
	if (!ret)
		memcpy(e->raw, raw, SL_AEAD_KEYLEN);
	sodium_memzero(raw, sizeof(raw));
	return ret;
}

int sl_cipher_seal(struct sl_cipher_enc *e, uint8_t *buf, size_t len,
		   size_t cap, size_t *wire_len)
{
	int ret;

	ret = seal_check(e, len, cap);
	if (ret)
		return ret;
	ret = seal_prepare(e);
	if (ret)
		return ret;
	put_be64(buf, e->nonce);
	ret = sl_aead_seal(&e->key, e->nonce, buf + SL_CIPHER_NONCE_LEN,
			   buf + SL_CIPHER_NONCE_LEN, len, NULL, 0);
	if (ret)
		return ret;
	e->nonce++;
	*wire_len = len + SL_CIPHER_OVERHEAD;
	if (carried(&e->left, e->target, &e->key, len))
		move_key(&e->key, &e->target, e->raw);
	return 0;
}

unsigned sl_cipher_seal_batch(struct sl_cipher_enc *e, struct sl_cipher_frame *f,
			      unsigned n)
{
	/* one run never crosses a rekey, so it never exceeds one interval */
	struct sl_aead_op ops[IVAL];
	unsigned idx[IVAL];
	unsigned i, j, run = 0, sealed = 0;
	int ret;

	for (i = 0; i <= n; i++) {
		/* a rekey or a move of the key (the flush uses the old one) */
		bool boundary = i < n && ((e->nonce % IVAL == 0 && e->nonce > 0) ||
					  (!e->left && e->target != e->key.backend));

		/* flush before a rekey or at the end; the key is fixed within a run */
		if (run && (i == n || boundary || run == IVAL)) {
			sl_aead_seal_batch(&e->key, ops, run);
			for (j = 0; j < run; j++) {
				struct sl_cipher_frame *fr = &f[idx[j]];

				fr->result = ops[j].result;
				if (!fr->result) {
					fr->len += SL_CIPHER_OVERHEAD;
					sealed++;
				}
			}
			run = 0;
		}
		if (i == n)
			break;
		if (!e->left && e->target != e->key.backend)
			move_key(&e->key, &e->target, e->raw);

		ret = seal_check(e, f[i].len, f[i].cap);
		if (!ret)
			ret = seal_prepare(e);
		if (ret) {
			f[i].result = ret;
			continue;
		}
		f[i].nonce = e->nonce;
		put_be64(f[i].buf, e->nonce);
		ops[run] = (struct sl_aead_op){
			.nonce = e->nonce,
			.in = f[i].buf + SL_CIPHER_NONCE_LEN,
			.out = f[i].buf + SL_CIPHER_NONCE_LEN,
			.in_len = f[i].len,
		};
		idx[run++] = i;
		e->nonce++;
		/* due now means: flush before the next frame, then move */
		carried(&e->left, e->target, &e->key, f[i].len);
	}
	return sealed;
}

/* cur now holds `next`: the raws and the epoch follow. */
static void advance(struct sl_cipher_dec *d, const uint8_t next[SL_AEAD_KEYLEN])
{
	memcpy(d->prev_raw, d->cur_raw, SL_AEAD_KEYLEN);
	memcpy(d->cur_raw, next, SL_AEAD_KEYLEN);
	d->has_prev = true;
	d->epoch++;
}

/*
 * A next-interval frame authenticated with `next`: it becomes current and
 * the current key becomes the previous one, kept raw. 0, or -errno with the
 * state as it was (the caller wipes the plaintext).
 */
static int rotate(struct sl_cipher_dec *d, const uint8_t next[SL_AEAD_KEYLEN])
{
	int ret;

	/* re-keys the one state in place: no allocation */
	ret = sl_aead_key_set(&d->cur, next);
	if (ret) {
		(void)sl_aead_key_set(&d->cur, d->cur_raw);
		return ret;
	}
	advance(d, next);
	return 0;
}

/*
 * Move cur as move_key does, and make the trial state on the new backend.
 * Cold: once per busy state. Without a trial state the one-shot still works.
 */
static void dec_move(struct sl_cipher_dec *d)
{
	struct sl_aead_key *t;

	move_key(&d->cur, &d->target, d->cur_raw);
	if (d->trial || d->cur.backend == SL_AEAD_BACKEND_SODIUM)
		return;
	t = malloc(sizeof(*t));
	if (t && sl_aead_key_init_backend(t, (enum sl_aead_backend)d->cur.backend, NULL)) {
		free(t);
		t = NULL;
	}
	d->trial = t;
}

/*
 * Open a next-interval frame with key `next` and, when it authenticates, make
 * `next` current. The trial state (or a one-shot) does the trial: a forgery
 * leaves cur, the raws and the epoch as they were.
 */
static int open_next(struct sl_cipher_dec *d, const uint8_t next[SL_AEAD_KEYLEN], uint64_t n,
		     uint8_t *ct, size_t ct_len)
{
	struct sl_aead_key tmp;
	int ret;

	if (!d->trial)
		goto one_shot;
	ret = sl_aead_key_set(d->trial, next);
	if (ret)
		goto one_shot;
	ret = sl_aead_open(d->trial, n, ct, ct, ct_len, NULL, 0);
	if (ret)
		return ret;
	/* a move of handles, not a copy: each stays owned by exactly one slot */
	tmp = d->cur;
	d->cur = *d->trial;
	*d->trial = tmp;
	sodium_memzero(&tmp, sizeof(tmp));
	advance(d, next);
	return 0;

one_shot:
	ret = sl_aead_open_raw(SL_AEAD_AESGCM, next, n, ct, ct, ct_len, NULL, 0);
	if (!ret) {
		ret = rotate(d, next);
		if (ret)
			sodium_memzero(ct, ct_len - SL_AEAD_TAGLEN);
	}
	return ret;
}

enum which { CUR, PREV, NEXT };

int sl_cipher_open(struct sl_cipher_dec *d, uint8_t *buf, size_t len,
		   size_t *pt_len, uint64_t *nonce)
{
	uint8_t next[SL_AEAD_KEYLEN];
	uint64_t n, start, age;
	uint8_t *ct = buf + SL_CIPHER_NONCE_LEN;
	size_t ct_len = len - SL_CIPHER_NONCE_LEN;
	enum which w;
	int ret;

	if (len < SL_CIPHER_OVERHEAD ||
	    len - SL_CIPHER_OVERHEAD > SL_AEAD_MAX_PLAINTEXT)
		return -EMSGSIZE;
	n = get_be64(buf);
	if (nonce)
		*nonce = n;
	if (n > NONCE_MAX)
		return -ERANGE;

	/* epoch <= (2^64 - 1) / 32, so start cannot overflow */
	start = d->epoch * IVAL;
	if (n >= start) {
		age = n - start;
		if (age < IVAL)
			w = CUR;
		else if (age < 2 * IVAL)
			w = NEXT;
		else
			return -ERANGE;
	} else if (start - n <= IVAL && d->has_prev) {
		w = PREV;
	} else {
		return -ERANGE;
	}
	/* cheap reject before any AES work; the window moves only on success */
	if (!sl_replay_check(&d->replay, n))
		return d->replay.top - n >= SL_REPLAY_WINDOW ? -ERANGE : -EALREADY;

	switch (w) {
	case CUR:
		ret = sl_aead_open(&d->cur, n, ct, ct, ct_len, NULL, 0);
		break;
	case PREV:
		/* rare (reordering across a rekey): a one-shot, nothing kept */
		ret = sl_aead_open_raw(SL_AEAD_AESGCM, d->prev_raw, n, ct, ct, ct_len, NULL, 0);
		break;
	default:
		/* the trial key lives on the stack and in the trial state: a forgery moves nothing */
		ret = derive(&d->cur, next);
		if (!ret)
			ret = open_next(d, next, n, ct, ct_len);
		sodium_memzero(next, sizeof(next));
		break;
	}
	if (ret)
		return ret;

	sl_replay_update(&d->replay, n);
	*pt_len = len - SL_CIPHER_OVERHEAD;
	if (carried(&d->left, d->target, &d->cur, *pt_len))
		dec_move(d);
	return 0;
}

unsigned sl_cipher_open_batch(struct sl_cipher_dec *d, struct sl_cipher_frame *f,
			      unsigned n)
{
	unsigned i, ok = 0;
	size_t pt_len;

	for (i = 0; i < n; i++) {
		f[i].result = sl_cipher_open(d, f[i].buf, f[i].len, &pt_len,
					     &f[i].nonce);
		if (!f[i].result) {
			f[i].len = pt_len;
			ok++;
		}
	}
	return ok;
}
