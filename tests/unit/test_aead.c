// SPDX-License-Identifier: Apache-2.0
#include <criterion/criterion.h>
#include <sodium.h>

#include "crypto/aead.h"
#include "crypto_vectors.h"

static const size_t sizes[] = { 0, 1, 15, 16, 17, 64, 1024, 1400, 16384, 49152 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))
#define MAXSZ 49152

static void setup(void)
{
	cr_assert(sl_aead_available(), "no AES-NI: the wire protocol needs AES-GCM");
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + seed);
}

TestSuite(aead, .init = setup, .timeout = 10);

/* NIST GCM spec test cases 13 and 14: zero key, zero IV (= our nonce 0). */
Test(aead, nist_zero_key)
{
	uint8_t key[32] = { 0 }, pt[16] = { 0 }, out[32];
	struct tv_bytes c13 = tv_hex("530f8afbc74536b9a963b4f1c4cb738b");
	struct tv_bytes c14 = tv_hex("cea7403d4d606b6e074ec5d3baf39d18"
				     "d0d1c8a799996bf0265b98b5d48ab919");
	struct sl_aead_key k;

	cr_assert_eq(sl_aead_key_init(&k, key), 0);
	cr_assert_eq(sl_aead_seal(&k, 0, out, pt, 0, NULL, 0), 0);
	cr_assert_arr_eq(out, c13.p, 16);
	cr_assert_eq(sl_aead_seal(&k, 0, out, pt, 16, NULL, 0), 0);
	cr_assert_arr_eq(out, c14.p, 32);
	cr_assert_eq(sl_aead_open(&k, 0, pt, out, 32, NULL, 0), 0);
	cr_assert(sodium_is_zero(pt, 16));
	sl_aead_key_wipe(&k);
	cr_assert(sodium_is_zero((uint8_t *)&k, sizeof(k)));
	free(c13.p);
	free(c14.p);
}

/* The 96-bit nonce is 0^32 || BE64 for AES-GCM and 0^32 || LE64 for ChaChaPoly. */
Test(aead, nonce_layout)
{
	uint8_t key[32], pt[40], a[56], b[56];
	uint8_t nbe[12] = { 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8 };
	uint8_t nle[12] = { 0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1 };
	unsigned long long clen;

	fill(key, 32, 7);
	fill(pt, 40, 9);
	cr_assert_eq(sl_aead_seal_raw(SL_AEAD_AESGCM, key, 0x0102030405060708ull,
				      a, pt, 40, (const uint8_t *)"ad", 2), 0);
	crypto_aead_aes256gcm_encrypt(b, &clen, pt, 40, (const uint8_t *)"ad", 2,
				      NULL, nbe, key);
	cr_assert_arr_eq(a, b, 56);
	cr_assert_eq(sl_aead_seal_raw(SL_AEAD_CHACHAPOLY, key,
				      0x0102030405060708ull, a, pt, 40,
				      (const uint8_t *)"ad", 2), 0);
	crypto_aead_chacha20poly1305_ietf_encrypt(b, &clen, pt, 40,
						  (const uint8_t *)"ad", 2,
						  NULL, nle, key);
	cr_assert_arr_eq(a, b, 56);
}

Test(aead, roundtrip_in_and_out_of_place)
{
	static uint8_t pt[MAXSZ], ct[MAXSZ + 16], io[MAXSZ + 16], back[MAXSZ + 16];
	uint8_t key[32], ad[13];
	struct sl_aead_key k;

	fill(key, 32, 1);
	fill(ad, sizeof(ad), 2);
	cr_assert_eq(sl_aead_key_init(&k, key), 0);
	for (size_t i = 0; i < NSIZES; i++) {
		size_t n = sizes[i];

		fill(pt, n, (unsigned)i);
		cr_assert_eq(sl_aead_seal(&k, i, ct, pt, n, ad, sizeof(ad)), 0);
		memcpy(io, pt, n);
		cr_assert_eq(sl_aead_seal(&k, i, io, io, n, ad, sizeof(ad)), 0);
		cr_assert_arr_eq(io, ct, n + 16, "in-place seal differs at %zu", n);
		/* the raw one-shot gives the same bytes */
		cr_assert_eq(sl_aead_seal_raw(SL_AEAD_AESGCM, key, i, back, pt, n,
					      ad, sizeof(ad)), 0);
		cr_assert_arr_eq(back, ct, n + 16);

		cr_assert_eq(sl_aead_open(&k, i, back, ct, n + 16, ad, sizeof(ad)), 0);
		cr_assert_arr_eq(back, pt, n);
		cr_assert_eq(sl_aead_open(&k, i, io, io, n + 16, ad, sizeof(ad)), 0);
		cr_assert_arr_eq(io, pt, n, "in-place open differs at %zu", n);
		/* wrong nonce, wrong AD */
		cr_assert_eq(sl_aead_open(&k, i + 1, back, ct, n + 16, ad,
					  sizeof(ad)), -EBADMSG);
		cr_assert_eq(sl_aead_open(&k, i, back, ct, n + 16, ad,
					  sizeof(ad) - 1), -EBADMSG);
	}
	cr_assert_eq(sl_aead_open(&k, 0, back, ct, 15, NULL, 0), -EMSGSIZE);
	sl_aead_key_wipe(&k);
}

Test(aead, batch_equals_single)
{
	enum { N = 24 };
	static uint8_t single[N][2048 + 16], batch[N][2048 + 16];
	struct sl_aead_op ops[N];
	struct sl_aead_key k;
	uint8_t key[32];
	size_t len[N];

	fill(key, 32, 3);
	cr_assert_eq(sl_aead_key_init(&k, key), 0);
	for (unsigned i = 0; i < N; i++) {
		len[i] = (i * 97) % 2048;
		fill(single[i], len[i], i);
		memcpy(batch[i], single[i], len[i]);
		cr_assert_eq(sl_aead_seal(&k, 1000 + i, single[i], single[i],
					  len[i], NULL, 0), 0);
		ops[i] = (struct sl_aead_op){ .nonce = 1000 + i, .in = batch[i],
					      .out = batch[i], .in_len = len[i],
					      .result = 1 };
	}
	cr_assert_eq(sl_aead_seal_batch(&k, ops, N), N);
	for (unsigned i = 0; i < N; i++) {
		cr_assert_eq(ops[i].result, 0);
		cr_assert_arr_eq(batch[i], single[i], len[i] + 16, "op %u", i);
		ops[i].in_len = len[i] + 16;
	}
	/* one forged op fails alone and is wiped; the rest open */
	batch[5][0] ^= 1;
	cr_assert_eq(sl_aead_open_batch(&k, ops, N), N - 1);
	for (unsigned i = 0; i < N; i++) {
		uint8_t ref[2048];

		fill(ref, len[i], i);
		if (i == 5) {
			cr_assert_eq(ops[i].result, -EBADMSG);
			cr_assert(len[i] == 0 || sodium_is_zero(batch[i], len[i]));
			continue;
		}
		cr_assert_eq(ops[i].result, 0);
		cr_assert_arr_eq(batch[i], ref, len[i]);
	}
	sl_aead_key_wipe(&k);
}

static void tamper_every_bit(enum sl_aead_cipher c)
{
	uint8_t key[32], pt[64], ct[80], t[80], out[64], ad[8];
	struct sl_aead_key k;

	fill(key, 32, 11);
	fill(pt, 64, 12);
	fill(ad, 8, 13);
	cr_assert_eq(sl_aead_seal_raw(c, key, 42, ct, pt, 64, ad, 8), 0);
	cr_assert_eq(sl_aead_key_init(&k, key), 0);
	for (size_t bit = 0; bit < 80 * 8; bit++) {
		memcpy(t, ct, 80);
		t[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		memset(out, 0xaa, sizeof(out));
		cr_assert_eq(sl_aead_open_raw(c, key, 42, out, t, 80, ad, 8),
			     -EBADMSG, "bit %zu accepted", bit);
		cr_assert(sodium_is_zero(out, 64), "plaintext left after bit %zu", bit);
		if (c == SL_AEAD_AESGCM)
			cr_assert_eq(sl_aead_open(&k, 42, out, t, 80, ad, 8),
				     -EBADMSG);
	}
	for (size_t bit = 0; bit < 8 * 8; bit++) {
		uint8_t a2[8];

		memcpy(a2, ad, 8);
		a2[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		cr_assert_eq(sl_aead_open_raw(c, key, 42, out, ct, 80, a2, 8),
			     -EBADMSG, "AD bit %zu accepted", bit);
	}
	cr_assert_eq(sl_aead_open_raw(c, key, 42, out, ct, 80, ad, 8), 0);
	cr_assert_arr_eq(out, pt, 64);
	sl_aead_key_wipe(&k);
}

Test(aead, aesgcm_tamper_every_bit)
{
	tamper_every_bit(SL_AEAD_AESGCM);
}

Test(aead, chachapoly_tamper_every_bit)
{
	tamper_every_bit(SL_AEAD_CHACHAPOLY);
}

Test(aead, chachapoly_roundtrip)
{
	static uint8_t pt[MAXSZ], ct[MAXSZ + 16];
	uint8_t key[32];

	fill(key, 32, 21);
	for (size_t i = 0; i < NSIZES; i++) {
		size_t n = sizes[i];

		fill(pt, n, (unsigned)i);
		memcpy(ct, pt, n);
		cr_assert_eq(sl_aead_seal_raw(SL_AEAD_CHACHAPOLY, key, i, ct, ct,
					      n, NULL, 0), 0);
		cr_assert_eq(sl_aead_open_raw(SL_AEAD_CHACHAPOLY, key, i, ct, ct,
					      n + 16, NULL, 0), 0);
		cr_assert_arr_eq(ct, pt, n);
	}
	cr_assert_eq(sl_aead_open_raw(SL_AEAD_CHACHAPOLY, key, 0, ct, ct, 3,
				      NULL, 0), -EMSGSIZE);
}
