// SPDX-License-Identifier: Apache-2.0
#include "crypto/hkdf.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

void sl_hkdf_extract(uint8_t prk[SL_HKDF_HASHLEN], const uint8_t *salt,
		     size_t salt_len, const uint8_t *ikm, size_t ikm_len)
{
	static const uint8_t zero_salt[SL_HKDF_HASHLEN];
	crypto_auth_hmacsha256_state st;

	if (!salt || !salt_len) {
		salt = zero_salt;
		salt_len = sizeof(zero_salt);
	}
	crypto_auth_hmacsha256_init(&st, salt, salt_len);
	crypto_auth_hmacsha256_update(&st, ikm, ikm_len);
	crypto_auth_hmacsha256_final(&st, prk);
	sodium_memzero(&st, sizeof(st));
}

int sl_hkdf_expand(uint8_t *okm, size_t okm_len,
		   const uint8_t prk[SL_HKDF_HASHLEN], const uint8_t *info,
		   size_t info_len)
{
	crypto_auth_hmacsha256_state st;
	uint8_t t[SL_HKDF_HASHLEN];
	size_t done = 0, take;
	uint8_t ctr = 0;

	if (okm_len > SL_HKDF_MAX_OKM)
		return -EINVAL;

	while (done < okm_len) {
		crypto_auth_hmacsha256_init(&st, prk, SL_HKDF_HASHLEN);
		/* T(0) is empty; T(i) chains on the previous block. */
		if (ctr)
			crypto_auth_hmacsha256_update(&st, t, sizeof(t));
		if (info_len)
			crypto_auth_hmacsha256_update(&st, info, info_len);
		ctr++;
		crypto_auth_hmacsha256_update(&st, &ctr, 1);
		crypto_auth_hmacsha256_final(&st, t);
		take = okm_len - done < sizeof(t) ? okm_len - done : sizeof(t);
		memcpy(okm + done, t, take);
		done += take;
	}
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(t, sizeof(t));
	return 0;
}

int sl_hkdf(uint8_t *okm, size_t okm_len, const uint8_t *salt, size_t salt_len,
	    const uint8_t *ikm, size_t ikm_len, const uint8_t *info,
	    size_t info_len)
{
	uint8_t prk[SL_HKDF_HASHLEN];
	int ret;

	sl_hkdf_extract(prk, salt, salt_len, ikm, ikm_len);
	ret = sl_hkdf_expand(okm, okm_len, prk, info, info_len);
	sodium_memzero(prk, sizeof(prk));
	return ret;
}

void sl_hkdf_noise(uint8_t out1[SL_HKDF_HASHLEN], uint8_t out2[SL_HKDF_HASHLEN],
		   uint8_t *out3, const uint8_t ck[SL_HKDF_HASHLEN],
		   const uint8_t *ikm, size_t ikm_len)
{
	uint8_t okm[3 * SL_HKDF_HASHLEN];
	size_t n = out3 ? 3 : 2;

	/* Noise's salt is always a full ck, so extract never sees an empty one. */
	sl_hkdf(okm, n * SL_HKDF_HASHLEN, ck, SL_HKDF_HASHLEN, ikm, ikm_len,
		NULL, 0);
	memcpy(out1, okm, SL_HKDF_HASHLEN);
	memcpy(out2, okm + SL_HKDF_HASHLEN, SL_HKDF_HASHLEN);
	if (out3)
		memcpy(out3, okm + 2 * SL_HKDF_HASHLEN, SL_HKDF_HASHLEN);
	sodium_memzero(okm, sizeof(okm));
}
