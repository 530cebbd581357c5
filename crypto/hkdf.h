/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HKDF-SHA256 (RFC 5869) built from libsodium's HMAC-SHA256, which is all
 * libsodium 1.0.18 offers, and Noise's HKDF(ck, ikm, n) on top of it.
 */
#ifndef SL_CRYPTO_HKDF_H
#define SL_CRYPTO_HKDF_H

#include <stddef.h>
#include <stdint.h>

#define SL_HKDF_HASHLEN 32
#define SL_HKDF_MAX_OKM (255 * SL_HKDF_HASHLEN)

/* PRK = HMAC(salt, ikm). A NULL/empty salt means HASHLEN zero bytes. */
void sl_hkdf_extract(uint8_t prk[SL_HKDF_HASHLEN], const uint8_t *salt,
		     size_t salt_len, const uint8_t *ikm, size_t ikm_len);

/* OKM = T(1) || T(2) || ... truncated to okm_len; -EINVAL if > 255 blocks. */
int sl_hkdf_expand(uint8_t *okm, size_t okm_len,
		   const uint8_t prk[SL_HKDF_HASHLEN], const uint8_t *info,
		   size_t info_len);

/* Extract then expand. */
int sl_hkdf(uint8_t *okm, size_t okm_len, const uint8_t *salt, size_t salt_len,
	    const uint8_t *ikm, size_t ikm_len, const uint8_t *info,
	    size_t info_len);

/*
 * Noise HKDF(chaining_key, input_key_material, num_outputs): RFC 5869 with
 * salt = ck and empty info. out3 may be NULL for two outputs. The outputs
 * may alias ck (MixKey overwrites ck with out1).
 */
void sl_hkdf_noise(uint8_t out1[SL_HKDF_HASHLEN], uint8_t out2[SL_HKDF_HASHLEN],
		   uint8_t *out3, const uint8_t ck[SL_HKDF_HASHLEN],
		   const uint8_t *ikm, size_t ikm_len);

#endif /* SL_CRYPTO_HKDF_H */
