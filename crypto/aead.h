/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AEAD for the handshake and the transport: AES-256-GCM with a precomputed
 * key schedule (the wire protocol fixes AES-GCM), plus ChaCha20-Poly1305-IETF
 * one-shots so the Noise core can be checked against the standard vectors.
 *
 * Nonces are 64-bit counters; the 96-bit nonce is 32 zero bits followed by the
 * counter, BIG-endian for AESGCM and LITTLE-endian for ChaChaPoly (Noise spec).
 *
 * Backend contract: everything behind struct sl_aead_key may be replaced
 * (e.g. by libgcrypt) without touching callers; the bytes on the wire are the
 * same. Open always verifies the tag before any plaintext is released: on
 * failure the output buffer is wiped.
 */
#ifndef SL_CRYPTO_AEAD_H
#define SL_CRYPTO_AEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#define SL_AEAD_KEYLEN 32
#define SL_AEAD_TAGLEN 16
/* libsodium's AES-GCM limit, rounded down; far above any Ockam message. */
#define SL_AEAD_MAX_PLAINTEXT ((size_t)1 << 32)

enum sl_aead_cipher {
	SL_AEAD_AESGCM,
	SL_AEAD_CHACHAPOLY,
};

/*
 * Precomputed AES-256-GCM key. Hot and visible so it can live inline in the
 * cipher states; never copy it around, never put it in message memory.
 */
struct sl_aead_key {
	union {
		crypto_aead_aes256gcm_state sodium;
		/* a second backend's state goes here, same alignment rules */
	} u;
};

/*
 * One message of a batch. seal: in_len bytes of plaintext at in, out gets
 * in_len + SL_AEAD_TAGLEN bytes. open: in_len bytes of ciphertext || tag,
 * out gets in_len - SL_AEAD_TAGLEN bytes. out may equal in (in place), other
 * overlaps are not allowed. result is 0 or -errno after the call.
 */
struct sl_aead_op {
	uint64_t nonce;
	const uint8_t *in;
	uint8_t *out;
	size_t in_len;
	const uint8_t *ad;
	size_t ad_len;
	int result;
};

/* aead.c */
/* sodium_init() and the AES-NI check; false means refuse to run. */
bool sl_aead_available(void);

int sl_aead_key_init(struct sl_aead_key *k, const uint8_t key[SL_AEAD_KEYLEN]);
void sl_aead_key_wipe(struct sl_aead_key *k);

/* out: len + 16 bytes. out == in allowed. */
int sl_aead_seal(const struct sl_aead_key *k, uint64_t nonce, uint8_t *out,
		 const uint8_t *in, size_t len, const uint8_t *ad,
		 size_t ad_len);
/* in: ciphertext || tag, len >= 16; out: len - 16 bytes. -EBADMSG on forgery. */
int sl_aead_open(const struct sl_aead_key *k, uint64_t nonce, uint8_t *out,
		 const uint8_t *in, size_t len, const uint8_t *ad,
		 size_t ad_len);

/* Each op independently; returns how many succeeded. */
unsigned sl_aead_seal_batch(const struct sl_aead_key *k, struct sl_aead_op *ops,
			    unsigned n);
unsigned sl_aead_open_batch(const struct sl_aead_key *k, struct sl_aead_op *ops,
			    unsigned n);

/*
 * One-shot with a raw key, for the handshake (a handful of uses per key, so
 * precomputing buys nothing) and for ChaChaPoly. Same buffer rules as above.
 */
int sl_aead_seal_raw(enum sl_aead_cipher c, const uint8_t key[SL_AEAD_KEYLEN],
		     uint64_t nonce, uint8_t *out, const uint8_t *in,
		     size_t len, const uint8_t *ad, size_t ad_len);
int sl_aead_open_raw(enum sl_aead_cipher c, const uint8_t key[SL_AEAD_KEYLEN],
		     uint64_t nonce, uint8_t *out, const uint8_t *in,
		     size_t len, const uint8_t *ad, size_t ad_len);

#endif /* SL_CRYPTO_AEAD_H */
