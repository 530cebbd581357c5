// SPDX-License-Identifier: Apache-2.0
#include "crypto/aead.h"

#include <errno.h>
#include <string.h>

static void nonce_be(uint8_t n[12], uint64_t v)
{
	int i;

	memset(n, 0, 4);
	for (i = 0; i < 8; i++)
		n[4 + i] = (uint8_t)(v >> (56 - 8 * i));
}

static void nonce_le(uint8_t n[12], uint64_t v)
{
	int i;

	memset(n, 0, 4);
	for (i = 0; i < 8; i++)
		n[4 + i] = (uint8_t)(v >> (8 * i));
}

bool sl_aead_available(void)
{
	/* sodium_init() is idempotent and thread-safe; it returns 1 if already done. */
	if (sodium_init() < 0)
		return false;
	return crypto_aead_aes256gcm_is_available() != 0;
}

int sl_aead_key_init(struct sl_aead_key *k, const uint8_t key[SL_AEAD_KEYLEN])
{
	if (!crypto_aead_aes256gcm_is_available())
		return -ENOTSUP;
	/* the backend leaves part of the state unwritten; keep copies deterministic */
	memset(k, 0, sizeof(*k));
	crypto_aead_aes256gcm_beforenm(&k->u.sodium, key);
	return 0;
}

void sl_aead_key_wipe(struct sl_aead_key *k)
{
	sodium_memzero(k, sizeof(*k));
}

int sl_aead_seal(const struct sl_aead_key *k, uint64_t nonce, uint8_t *out,
		 const uint8_t *in, size_t len, const uint8_t *ad,
		 size_t ad_len)
{
	uint8_t n[12];

	if (len > SL_AEAD_MAX_PLAINTEXT)
		return -EMSGSIZE;
	nonce_be(n, nonce);
	/* detached form: out == in works and the tag lands right after. */
	crypto_aead_aes256gcm_encrypt_detached_afternm(out, out + len, NULL, in,
						       len, ad, ad_len, NULL, n,
						       &k->u.sodium);
	return 0;
}

int sl_aead_open(const struct sl_aead_key *k, uint64_t nonce, uint8_t *out,
		 const uint8_t *in, size_t len, const uint8_t *ad,
		 size_t ad_len)
{
	uint8_t n[12];
	size_t mlen;

	if (len < SL_AEAD_TAGLEN || len - SL_AEAD_TAGLEN > SL_AEAD_MAX_PLAINTEXT)
		return -EMSGSIZE;
	mlen = len - SL_AEAD_TAGLEN;
	nonce_be(n, nonce);
	if (crypto_aead_aes256gcm_decrypt_detached_afternm(out, NULL, in, mlen,
							   in + mlen, ad, ad_len,
							   n, &k->u.sodium)) {
		/* never hand out unauthenticated plaintext, whatever the backend did */
		sodium_memzero(out, mlen);
		return -EBADMSG;
	}
	return 0;
}

unsigned sl_aead_seal_batch(const struct sl_aead_key *k, struct sl_aead_op *ops,
			    unsigned n)
{
	unsigned i, ok = 0;

	for (i = 0; i < n; i++) {
		ops[i].result = sl_aead_seal(k, ops[i].nonce, ops[i].out,
					     ops[i].in, ops[i].in_len,
					     ops[i].ad, ops[i].ad_len);
		ok += ops[i].result == 0;
	}
	return ok;
}

unsigned sl_aead_open_batch(const struct sl_aead_key *k, struct sl_aead_op *ops,
			    unsigned n)
{
	unsigned i, ok = 0;

	for (i = 0; i < n; i++) {
		ops[i].result = sl_aead_open(k, ops[i].nonce, ops[i].out,
					     ops[i].in, ops[i].in_len,
					     ops[i].ad, ops[i].ad_len);
		ok += ops[i].result == 0;
	}
	return ok;
}

int sl_aead_seal_raw(enum sl_aead_cipher c, const uint8_t key[SL_AEAD_KEYLEN],
		     uint64_t nonce, uint8_t *out, const uint8_t *in,
		     size_t len, const uint8_t *ad, size_t ad_len)
{
	struct sl_aead_key k;
	uint8_t n[12];
	int ret;

	switch (c) {
	case SL_AEAD_AESGCM:
		ret = sl_aead_key_init(&k, key);
		if (!ret)
			ret = sl_aead_seal(&k, nonce, out, in, len, ad, ad_len);
		sl_aead_key_wipe(&k);
		return ret;
	case SL_AEAD_CHACHAPOLY:
		if (len > SL_AEAD_MAX_PLAINTEXT)
			return -EMSGSIZE;
		nonce_le(n, nonce);
		crypto_aead_chacha20poly1305_ietf_encrypt_detached(
			out, out + len, NULL, in, len, ad, ad_len, NULL, n, key);
		return 0;
	}
	return -EINVAL;
}

int sl_aead_open_raw(enum sl_aead_cipher c, const uint8_t key[SL_AEAD_KEYLEN],
		     uint64_t nonce, uint8_t *out, const uint8_t *in,
		     size_t len, const uint8_t *ad, size_t ad_len)
{
	struct sl_aead_key k;
	uint8_t n[12];
	size_t mlen;
	int ret;

	switch (c) {
	case SL_AEAD_AESGCM:
		ret = sl_aead_key_init(&k, key);
		if (!ret)
			ret = sl_aead_open(&k, nonce, out, in, len, ad, ad_len);
		sl_aead_key_wipe(&k);
		return ret;
	case SL_AEAD_CHACHAPOLY:
		if (len < SL_AEAD_TAGLEN ||
		    len - SL_AEAD_TAGLEN > SL_AEAD_MAX_PLAINTEXT)
			return -EMSGSIZE;
		mlen = len - SL_AEAD_TAGLEN;
		nonce_le(n, nonce);
		if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(
			    out, NULL, in, mlen, in + mlen, ad, ad_len, n, key)) {
			sodium_memzero(out, mlen);
			return -EBADMSG;
		}
		return 0;
	}
	return -EINVAL;
}
