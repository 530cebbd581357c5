// SPDX-License-Identifier: Apache-2.0
#include <criterion/criterion.h>
#include <sodium.h>

#include "crypto/hkdf.h"
#include "crypto_vectors.h"

/* RFC 5869 appendix A, test cases 1-3 (SHA-256). */
static const struct {
	const char *ikm, *salt, *info, *prk, *okm;
} rfc5869[] = {
	{
		"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
		"000102030405060708090a0b0c",
		"f0f1f2f3f4f5f6f7f8f9",
		"077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
		"3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
		"34007208d5b887185865",
	},
	{
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
		"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
		"404142434445464748494a4b4c4d4e4f",
		"606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
		"808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
		"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
		"b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
		"d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeef"
		"f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
		"06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
		"b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
		"59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
		"cc30c58179ec3e87c14c01d5c1f3434f1d87",
	},
	{
		"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
		"",
		"",
		"19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
		"8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
		"9d201395faa4b61a96c8",
	},
};

TestSuite(hkdf, .timeout = 10);

Test(hkdf, rfc5869_cases)
{
	size_t i;

	cr_assert(sodium_init() >= 0);
	for (i = 0; i < sizeof(rfc5869) / sizeof(rfc5869[0]); i++) {
		struct tv_bytes ikm = tv_hex(rfc5869[i].ikm);
		struct tv_bytes salt = tv_hex(rfc5869[i].salt);
		struct tv_bytes info = tv_hex(rfc5869[i].info);
		struct tv_bytes prk = tv_hex(rfc5869[i].prk);
		struct tv_bytes okm = tv_hex(rfc5869[i].okm);
		uint8_t got_prk[32], got[128];

		sl_hkdf_extract(got_prk, salt.p, salt.len, ikm.p, ikm.len);
		cr_assert_arr_eq(got_prk, prk.p, 32, "case %zu: PRK", i + 1);
		cr_assert_eq(sl_hkdf_expand(got, okm.len, got_prk, info.p,
					    info.len), 0);
		cr_assert_arr_eq(got, okm.p, okm.len, "case %zu: OKM", i + 1);
		memset(got, 0, sizeof(got));
		cr_assert_eq(sl_hkdf(got, okm.len, salt.p, salt.len, ikm.p,
				     ikm.len, info.p, info.len), 0);
		cr_assert_arr_eq(got, okm.p, okm.len, "case %zu: one-shot", i + 1);
		free(ikm.p);
		free(salt.p);
		free(info.p);
		free(prk.p);
		free(okm.p);
	}
}

Test(hkdf, expand_length_limit)
{
	static uint8_t big[SL_HKDF_MAX_OKM + 1];
	uint8_t prk[32] = { 1 };

	cr_assert_eq(sl_hkdf_expand(big, SL_HKDF_MAX_OKM, prk, NULL, 0), 0);
	cr_assert_eq(sl_hkdf_expand(big, SL_HKDF_MAX_OKM + 1, prk, NULL, 0),
		     -EINVAL);
}

/* Noise's HKDF is RFC 5869 with salt = ck and empty info, in 32-byte slices. */
Test(hkdf, noise_matches_rfc)
{
	uint8_t ck[32], ikm[32], o1[32], o2[32], o3[32], ref[96];

	for (int i = 0; i < 32; i++) {
		ck[i] = (uint8_t)i;
		ikm[i] = (uint8_t)(0xa0 + i);
	}
	sl_hkdf_noise(o1, o2, o3, ck, ikm, sizeof(ikm));
	cr_assert_eq(sl_hkdf(ref, 96, ck, 32, ikm, 32, NULL, 0), 0);
	cr_assert_arr_eq(o1, ref, 32);
	cr_assert_arr_eq(o2, ref + 32, 32);
	cr_assert_arr_eq(o3, ref + 64, 32);

	/* two outputs, out1 aliasing ck as MixKey does */
	sl_hkdf_noise(ck, o2, NULL, ck, ikm, sizeof(ikm));
	cr_assert_arr_eq(ck, ref, 32);
	cr_assert_arr_eq(o2, ref + 32, 32);
}
