// SPDX-License-Identifier: Apache-2.0
/*
 * Noise XX. Each public step works on a stack copy of the handshake and
 * commits it only when the whole message succeeded, so a failure anywhere
 * leaves the caller's object untouched; the copy is wiped at the one exit.
 */
#include "crypto/noise.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/hkdf.h"

#define KEYLEN SL_NOISE_KEYLEN
#define HASHLEN SL_NOISE_HASHLEN
#define TAGLEN SL_AEAD_TAGLEN

struct sl_noise {
	enum sl_noise_state state;
	enum sl_noise_role role;
	enum sl_aead_cipher cipher;
	enum sl_noise_split split;

	/* SymmetricState + CipherState */
	uint8_t ck[HASHLEN];
	uint8_t h[HASHLEN];
	uint8_t k[KEYLEN];
	uint64_t n;
	bool has_k;

	uint8_t s_sk[KEYLEN], s_pk[KEYLEN];
	uint8_t e_sk[KEYLEN], e_pk[KEYLEN];
	uint8_t re[KEYLEN], rs[KEYLEN];
	bool has_rs;
};

static void mix_hash(struct sl_noise *hs, const uint8_t *data, size_t len)
{
	crypto_hash_sha256_state st;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, hs->h, HASHLEN);
	crypto_hash_sha256_update(&st, data, len);
	crypto_hash_sha256_final(&st, hs->h);
}

static void mix_key(struct sl_noise *hs, const uint8_t ikm[KEYLEN])
{
	/* HASHLEN == 32, so temp_k needs no truncation */
	sl_hkdf_noise(hs->ck, hs->k, NULL, hs->ck, ikm, KEYLEN);
	hs->n = 0;
	hs->has_k = true;
}

/* DH then MixKey; a low-order peer key gives all-zero output and is refused. */
static int mix_dh(struct sl_noise *hs, const uint8_t sk[KEYLEN],
		  const uint8_t pk[KEYLEN])
{
	uint8_t shared[KEYLEN];
	int ret = 0;

	if (crypto_scalarmult(shared, sk, pk) || sodium_is_zero(shared, KEYLEN)) {
		ret = -EBADMSG;
		goto out;
	}
	mix_key(hs, shared);
out:
	sodium_memzero(shared, sizeof(shared));
	return ret;
}

/* out gets len (+ TAGLEN once a key is set) bytes; out and in must not overlap. */
static int encrypt_and_hash(struct sl_noise *hs, uint8_t *out,
			    const uint8_t *in, size_t len)
{
	int ret;

	if (!hs->has_k) {
		if (len)
			memcpy(out, in, len);
		mix_hash(hs, out, len);
		return 0;
	}
	ret = sl_aead_seal_raw(hs->cipher, hs->k, hs->n, out, in, len, hs->h,
			       HASHLEN);
	if (ret)
		return ret;
	hs->n++;
	mix_hash(hs, out, len + TAGLEN);
	return 0;
}

/* In place: buf holds ciphertext || tag, plaintext is left at buf. */
static int decrypt_and_hash(struct sl_noise *hs, uint8_t *buf, size_t len)
{
	uint8_t h_next[HASHLEN];
	crypto_hash_sha256_state st;
	int ret;

	if (!hs->has_k) {
		mix_hash(hs, buf, len);
		return 0;
	}
	if (len < TAGLEN)
		return -EBADMSG;
	/* MixHash covers the ciphertext, which in-place decryption destroys */
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, hs->h, HASHLEN);
	crypto_hash_sha256_update(&st, buf, len);
	crypto_hash_sha256_final(&st, h_next);
	ret = sl_aead_open_raw(hs->cipher, hs->k, hs->n, buf, buf, len, hs->h,
			       HASHLEN);
	if (ret)
		return -EBADMSG;
	hs->n++;
	memcpy(hs->h, h_next, HASHLEN);
	return 0;
}

struct sl_noise *sl_noise_new(const struct sl_noise_config *cfg)
{
	struct sl_noise *hs;

	if (!cfg || !cfg->static_sk || !cfg->name || !cfg->name_len ||
	    (cfg->prologue_len && !cfg->prologue) ||
	    (cfg->role != SL_NOISE_INITIATOR && cfg->role != SL_NOISE_RESPONDER) ||
	    (cfg->cipher != SL_AEAD_AESGCM && cfg->cipher != SL_AEAD_CHACHAPOLY) ||
	    (cfg->split != SL_NOISE_SPLIT_STANDARD &&
	     cfg->split != SL_NOISE_SPLIT_OCKAM)) {
		errno = EINVAL;
		return NULL;
	}
	if (sodium_init() < 0) {
		errno = ENOTSUP;
		return NULL;
	}
	if (cfg->cipher == SL_AEAD_AESGCM && !crypto_aead_aes256gcm_is_available()) {
		errno = ENOTSUP;
		return NULL;
	}
	hs = calloc(1, sizeof(*hs));
	if (!hs) {
		errno = ENOMEM;
		return NULL;
	}
	hs->role = cfg->role;
	hs->cipher = cfg->cipher;
	hs->split = cfg->split;
	hs->state = SL_NOISE_START;

	/* InitializeSymmetric(protocol_name) */
	if (cfg->name_len <= HASHLEN)
		memcpy(hs->h, cfg->name, cfg->name_len);	/* rest stays zero */
	else
		crypto_hash_sha256(hs->h, cfg->name, cfg->name_len);
	memcpy(hs->ck, hs->h, HASHLEN);
	mix_hash(hs, cfg->prologue ? cfg->prologue : (const uint8_t *)"",
		 cfg->prologue_len);

	memcpy(hs->s_sk, cfg->static_sk, KEYLEN);
	if (cfg->static_pk)
		memcpy(hs->s_pk, cfg->static_pk, KEYLEN);
	else
		crypto_scalarmult_base(hs->s_pk, hs->s_sk);
	/* e is generated up front; Noise only needs it fresh and secret */
	if (cfg->ephemeral_sk)
		memcpy(hs->e_sk, cfg->ephemeral_sk, KEYLEN);
	else
		randombytes_buf(hs->e_sk, KEYLEN);
	crypto_scalarmult_base(hs->e_pk, hs->e_sk);
	return hs;
}

void sl_noise_free(struct sl_noise *hs)
{
	if (!hs)
		return;
	sodium_memzero(hs, sizeof(*hs));
	free(hs);
}

enum sl_noise_state sl_noise_state(const struct sl_noise *hs)
{
	return hs->state;
}

bool sl_noise_is_done(const struct sl_noise *hs)
{
	return hs->state == SL_NOISE_DONE;
}

void sl_noise_local_static(const struct sl_noise *hs, uint8_t pub[KEYLEN])
{
	memcpy(pub, hs->s_pk, KEYLEN);
}

int sl_noise_remote_static(const struct sl_noise *hs, uint8_t pub[KEYLEN])
{
	if (!hs->has_rs)
		return -EAGAIN;
	memcpy(pub, hs->rs, KEYLEN);
	return 0;
}

/* Common checks of a write: state, size, capacity. */
static int write_check(const struct sl_noise *hs, enum sl_noise_state want,
		       size_t overhead, const uint8_t *out, size_t out_cap,
		       const size_t *out_len, const uint8_t *payload,
		       size_t payload_len)
{
	if (hs->state != want)
		return -EPROTO;
	if (!out || !out_len || (payload_len && !payload))
		return -EINVAL;
	if (payload_len > SL_NOISE_MAX_MSG - overhead)
		return -EMSGSIZE;
	if (out_cap < overhead + payload_len)
		return -ENOBUFS;
	return 0;
}

static int read_check(const struct sl_noise *hs, enum sl_noise_state want,
		      size_t overhead, const uint8_t *msg, size_t len,
		      const uint8_t *const *payload, const size_t *payload_len)
{
	if (hs->state != want)
		return -EPROTO;
	if (!msg || !payload || !payload_len)
		return -EINVAL;
	if (len < overhead || len > SL_NOISE_MAX_MSG)
		return -EMSGSIZE;
	return 0;
}

int sl_noise_write_msg1(struct sl_noise *hs, uint8_t *out, size_t out_cap,
			size_t *out_len, const uint8_t *payload,
			size_t payload_len)
{
	struct sl_noise t;
	int ret;

	if (hs->role != SL_NOISE_INITIATOR)
		return -EPROTO;
	ret = write_check(hs, SL_NOISE_START, SL_NOISE_MSG1_OVERHEAD, out,
			  out_cap, out_len, payload, payload_len);
	if (ret)
		return ret;
	t = *hs;

	/* e */
	memcpy(out, t.e_pk, KEYLEN);
	mix_hash(&t, t.e_pk, KEYLEN);
	/* payload (no key yet: cleartext, but hashed) */
	ret = encrypt_and_hash(&t, out + KEYLEN, payload, payload_len);
	if (ret)
		goto out;

	t.state = SL_NOISE_WAIT_MSG2;
	*out_len = SL_NOISE_MSG1_OVERHEAD + payload_len;
	*hs = t;
out:
	sodium_memzero(&t, sizeof(t));
	return ret;
}

int sl_noise_read_msg1(struct sl_noise *hs, const uint8_t *msg, size_t len,
		       const uint8_t **payload, size_t *payload_len)
{
	struct sl_noise t;
	int ret;

	if (hs->role != SL_NOISE_RESPONDER)
		return -EPROTO;
	ret = read_check(hs, SL_NOISE_START, SL_NOISE_MSG1_OVERHEAD, msg, len,
			 payload, payload_len);
	if (ret)
		return ret;
	t = *hs;

	/* e */
	memcpy(t.re, msg, KEYLEN);
	mix_hash(&t, t.re, KEYLEN);
	/* payload: cleartext, no key yet */
	mix_hash(&t, msg + KEYLEN, len - KEYLEN);

	t.state = SL_NOISE_SEND_MSG2;
	*payload = msg + KEYLEN;
	*payload_len = len - KEYLEN;
	*hs = t;
	sodium_memzero(&t, sizeof(t));
	return 0;
}

int sl_noise_write_msg2(struct sl_noise *hs, uint8_t *out, size_t out_cap,
			size_t *out_len, const uint8_t *payload,
			size_t payload_len)
{
	struct sl_noise t;
	uint8_t *p = out;
	int ret;

	if (hs->role != SL_NOISE_RESPONDER)
		return -EPROTO;
	ret = write_check(hs, SL_NOISE_SEND_MSG2, SL_NOISE_MSG2_OVERHEAD, out,
			  out_cap, out_len, payload, payload_len);
	if (ret)
		return ret;
	t = *hs;

	/* e */
	memcpy(p, t.e_pk, KEYLEN);
	mix_hash(&t, t.e_pk, KEYLEN);
	p += KEYLEN;
	/* ee */
	ret = mix_dh(&t, t.e_sk, t.re);
	if (ret)
		goto out;
	/* s */
	ret = encrypt_and_hash(&t, p, t.s_pk, KEYLEN);
	if (ret)
		goto out;
	p += KEYLEN + TAGLEN;
	/* es */
	ret = mix_dh(&t, t.s_sk, t.re);
	if (ret)
		goto out;
	ret = encrypt_and_hash(&t, p, payload, payload_len);
	if (ret)
		goto out;

	t.state = SL_NOISE_WAIT_MSG3;
	*out_len = SL_NOISE_MSG2_OVERHEAD + payload_len;
	*hs = t;
out:
	sodium_memzero(&t, sizeof(t));
	return ret;
}

int sl_noise_read_msg2(struct sl_noise *hs, uint8_t *msg, size_t len,
		       uint8_t remote_static[KEYLEN], const uint8_t **payload,
		       size_t *payload_len)
{
	struct sl_noise t;
	uint8_t *p = msg;
	int ret;

	if (hs->role != SL_NOISE_INITIATOR)
		return -EPROTO;
	ret = read_check(hs, SL_NOISE_WAIT_MSG2, SL_NOISE_MSG2_OVERHEAD, msg,
			 len, payload, payload_len);
	if (ret)
		return ret;
	t = *hs;

	/* e */
	memcpy(t.re, p, KEYLEN);
	mix_hash(&t, t.re, KEYLEN);
	p += KEYLEN;
	/* ee */
	ret = mix_dh(&t, t.e_sk, t.re);
	if (ret)
		goto out;
	/* s */
	ret = decrypt_and_hash(&t, p, KEYLEN + TAGLEN);
	if (ret)
		goto out;
	memcpy(t.rs, p, KEYLEN);
	t.has_rs = true;
	p += KEYLEN + TAGLEN;
	/* es */
	ret = mix_dh(&t, t.e_sk, t.rs);
	if (ret)
		goto out;
	ret = decrypt_and_hash(&t, p, len - (size_t)(p - msg));
	if (ret)
		goto out;

	t.state = SL_NOISE_SEND_MSG3;
	if (remote_static)
		memcpy(remote_static, t.rs, KEYLEN);
	*payload = p;
	*payload_len = len - SL_NOISE_MSG2_OVERHEAD;
	*hs = t;
out:
	sodium_memzero(&t, sizeof(t));
	return ret;
}

int sl_noise_write_msg3(struct sl_noise *hs, uint8_t *out, size_t out_cap,
			size_t *out_len, const uint8_t *payload,
			size_t payload_len)
{
	struct sl_noise t;
	uint8_t *p = out;
	int ret;

	if (hs->role != SL_NOISE_INITIATOR)
		return -EPROTO;
	ret = write_check(hs, SL_NOISE_SEND_MSG3, SL_NOISE_MSG3_OVERHEAD, out,
			  out_cap, out_len, payload, payload_len);
	if (ret)
		return ret;
	t = *hs;

	/* s */
	ret = encrypt_and_hash(&t, p, t.s_pk, KEYLEN);
	if (ret)
		goto out;
	p += KEYLEN + TAGLEN;
	/* se */
	ret = mix_dh(&t, t.s_sk, t.re);
	if (ret)
		goto out;
	ret = encrypt_and_hash(&t, p, payload, payload_len);
	if (ret)
		goto out;

	t.state = SL_NOISE_DONE;
	*out_len = SL_NOISE_MSG3_OVERHEAD + payload_len;
	*hs = t;
out:
	sodium_memzero(&t, sizeof(t));
	return ret;
}

int sl_noise_read_msg3(struct sl_noise *hs, uint8_t *msg, size_t len,
		       uint8_t remote_static[KEYLEN], const uint8_t **payload,
		       size_t *payload_len)
{
	struct sl_noise t;
	uint8_t *p = msg;
	int ret;

	if (hs->role != SL_NOISE_RESPONDER)
		return -EPROTO;
	ret = read_check(hs, SL_NOISE_WAIT_MSG3, SL_NOISE_MSG3_OVERHEAD, msg,
			 len, payload, payload_len);
	if (ret)
		return ret;
	t = *hs;

	/* s */
	ret = decrypt_and_hash(&t, p, KEYLEN + TAGLEN);
	if (ret)
		goto out;
	memcpy(t.rs, p, KEYLEN);
	t.has_rs = true;
	p += KEYLEN + TAGLEN;
	/* se */
	ret = mix_dh(&t, t.e_sk, t.rs);
	if (ret)
		goto out;
	ret = decrypt_and_hash(&t, p, len - (size_t)(p - msg));
	if (ret)
		goto out;

	t.state = SL_NOISE_DONE;
	if (remote_static)
		memcpy(remote_static, t.rs, KEYLEN);
	*payload = p;
	*payload_len = len - SL_NOISE_MSG3_OVERHEAD;
	*hs = t;
out:
	sodium_memzero(&t, sizeof(t));
	return ret;
}

int sl_noise_split(struct sl_noise *hs, struct sl_noise_keys *keys)
{
	uint8_t k1[KEYLEN], k2[KEYLEN];
	bool send_k1;

	if (hs->state != SL_NOISE_DONE)
		return -EPROTO;
	if (!keys)
		return -EINVAL;

	sl_hkdf_noise(k1, k2, NULL, hs->ck, NULL, 0);
	/* Noise: the initiator sends with k1. Ockam reversed it; keep theirs. */
	send_k1 = (hs->role == SL_NOISE_INITIATOR) ==
		  (hs->split == SL_NOISE_SPLIT_STANDARD);
	memcpy(keys->send, send_k1 ? k1 : k2, KEYLEN);
	memcpy(keys->recv, send_k1 ? k2 : k1, KEYLEN);
	memcpy(keys->hash, hs->h, HASHLEN);

	hs->state = SL_NOISE_SPLIT;
	sodium_memzero(hs->ck, sizeof(hs->ck));
	sodium_memzero(hs->k, sizeof(hs->k));
	sodium_memzero(hs->s_sk, sizeof(hs->s_sk));
	sodium_memzero(hs->e_sk, sizeof(hs->e_sk));
	hs->has_k = false;
	sodium_memzero(k1, sizeof(k1));
	sodium_memzero(k2, sizeof(k2));
	return 0;
}
