// SPDX-License-Identifier: Apache-2.0
#include "crypto/cipher.h"

#include <errno.h>
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

/* dst = rekey(src); dst == src is the in-place rekey. dst is initialised. */
static int rekey_into(struct sl_aead_key *dst, const struct sl_aead_key *src)
{
	uint8_t out[SL_AEAD_KEYLEN + SL_AEAD_TAGLEN];
	int ret;

	ret = sl_aead_seal(src, UINT64_MAX, out, zeros, sizeof(zeros), NULL, 0);
	/* re-key the existing state: a libgcrypt handle is reused, not reopened */
	if (!ret)
		ret = sl_aead_key_set(dst, out);
	sodium_memzero(out, sizeof(out));
	return ret;
}

int sl_cipher_rekey(struct sl_aead_key *k)
{
	return rekey_into(k, k);
}

int sl_cipher_enc_init(struct sl_cipher_enc *e, const uint8_t key[SL_AEAD_KEYLEN])
{
	e->nonce = 0;
	return sl_aead_key_init(&e->key, key);
}

void sl_cipher_enc_wipe(struct sl_cipher_enc *e)
{
	sl_aead_key_wipe(&e->key);
	sodium_memzero(e, sizeof(*e));
}

int sl_cipher_dec_init(struct sl_cipher_dec *d, const uint8_t key[SL_AEAD_KEYLEN])
{
	int ret;

	sodium_memzero(d, sizeof(*d));
	sl_replay_init(&d->replay);
	ret = sl_aead_key_init(&d->cur, key);
	if (ret)
		goto err;
	/* all three slots on cur's backend, so keys can move between them */
	ret = sl_aead_key_init_backend(&d->prev, d->cur.backend, NULL);
	if (ret)
		goto err;
	ret = sl_aead_key_init_backend(&d->next, d->cur.backend, NULL);
	if (ret)
		goto err;
	return 0;
err:
	sl_cipher_dec_wipe(d);
	return ret;
}

void sl_cipher_dec_wipe(struct sl_cipher_dec *d)
{
	sl_aead_key_wipe(&d->cur);
	sl_aead_key_wipe(&d->prev);
	sl_aead_key_wipe(&d->next);
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
	if (e->nonce > 0 && e->nonce % IVAL == 0)
		return sl_cipher_rekey(&e->key);
	return 0;
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
		bool boundary = i < n && e->nonce % IVAL == 0 && e->nonce > 0;

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
	}
	return sealed;
}

/*
 * A next-interval frame authenticated: the trial key becomes current. The
 * keys move round (three struct moves, no handle is copied), and the slot
 * freed, two intervals old, is re-keyed to zeros so its key is gone now.
 */
static void rotate(struct sl_cipher_dec *d)
{
	struct sl_aead_key old = d->prev;

	d->prev = d->cur;
	d->cur = d->next;
	d->next = old;
	sodium_memzero(&old, sizeof(old));
	/* cannot fail on an initialised key; a stale scratch would only be overwritten */
	(void)sl_aead_key_set(&d->next, zeros);
	d->has_prev = true;
	d->epoch++;
}

int sl_cipher_open(struct sl_cipher_dec *d, uint8_t *buf, size_t len,
		   size_t *pt_len, uint64_t *nonce)
{
	const struct sl_aead_key *k;
	uint64_t n, start, age;
	bool is_next = false;
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
			k = &d->cur;
		else if (age < 2 * IVAL)
			is_next = true;
		else
			return -ERANGE;
	} else if (start - n <= IVAL && d->has_prev) {
		k = &d->prev;
	} else {
		return -ERANGE;
	}
	/* cheap reject before any AES work; the window moves only on success */
	if (!sl_replay_check(&d->replay, n))
		return d->replay.top - n >= SL_REPLAY_WINDOW ? -ERANGE : -EALREADY;

	if (is_next) {
		/* the trial key goes to the scratch slot: a forgery moves nothing */
		ret = rekey_into(&d->next, &d->cur);
		if (ret)
			return ret;
		k = &d->next;
	}
	ret = sl_aead_open(k, n, buf + SL_CIPHER_NONCE_LEN,
			   buf + SL_CIPHER_NONCE_LEN, len - SL_CIPHER_NONCE_LEN,
			   NULL, 0);
	if (ret)
		return ret;

	if (is_next)
		rotate(d);
	sl_replay_update(&d->replay, n);
	*pt_len = len - SL_CIPHER_OVERHEAD;
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
