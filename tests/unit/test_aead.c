// SPDX-License-Identifier: Apache-2.0
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdlib.h>

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
TV_BACKEND_TEST(aead, nist_zero_key)
{
	uint8_t key[32] = { 0 }, pt[16] = { 0 }, out[32];
	struct tv_bytes c13 = tv_hex("530f8afbc74536b9a963b4f1c4cb738b");
	struct tv_bytes c14 = tv_hex("cea7403d4d606b6e074ec5d3baf39d18"
				     "d0d1c8a799996bf0265b98b5d48ab919");
	struct sl_aead_key k;

	cr_assert_eq(sl_aead_key_init(&k, key), 0);
	cr_assert_eq(k.backend, backend, "a key takes the default backend");
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
TV_BACKEND_TEST(aead, nonce_layout)
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

TV_BACKEND_TEST(aead, roundtrip_in_and_out_of_place)
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

TV_BACKEND_TEST(aead, batch_equals_single)
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

TV_BACKEND_TEST(aead, aesgcm_tamper_every_bit)
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

/* ---- the two backends against each other ---- */

static uint64_t rng_state = 0x5eed5eed12345678ull;

/* splitmix64: a fixed seed keeps the sample reproducible */
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void rnd_fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

/*
 * Seal with one backend, open with the other; ciphertext and tag must be
 * byte-identical, in place and out of place, across sizes 0..70000 (every
 * size up to 80, the block edges, and a random sample), random AD and
 * nonces, re-keying both every 16 sizes. Forgeries fail on both and wipe.
 * `other` against libsodium, the reference.
 */
static void cross_backend(enum sl_aead_backend other)
{
	enum { MAX = 70000, NRAND = 300 };
	static const size_t edge[] = { 255, 256, 257, 1023, 1024, 1025, 1400,
				       4095, 4096, 4097, 16383, 16384, 16385,
				       49151, 49152, 49153, 65535, 65536, 65537,
				       69999, 70000 };
	uint8_t *pt = malloc(MAX), *a = malloc(MAX + 16), *b = malloc(MAX + 16);
	uint8_t *io = malloc(MAX + 16), *back = malloc(MAX + 16);
	struct sl_aead_key ks, kg;
	uint8_t key[32], ad[40];
	size_t nsizes = 81 + sizeof(edge) / sizeof(edge[0]) + NRAND;

	cr_assert(sl_aead_available());
	cr_assert(pt && a && b && io && back);
	rnd_fill(key, 32);
	cr_assert_eq(sl_aead_key_init_backend(&ks, SL_AEAD_BACKEND_SODIUM, key), 0);
	cr_assert_eq(sl_aead_key_init_backend(&kg, other, key), 0);
	cr_assert_eq(ks.backend, SL_AEAD_BACKEND_SODIUM);
	cr_assert_eq(kg.backend, other);
	for (size_t i = 0; i < nsizes; i++) {
		size_t n = i <= 80 ? i :
			   i < 81 + sizeof(edge) / sizeof(edge[0]) ? edge[i - 81] :
			   (size_t)(rnd() % (MAX + 1));
		size_t adl = rnd() % (sizeof(ad) + 1);
		uint64_t nonce = rnd();
		size_t bit;

		if (i % 16 == 15) {
			rnd_fill(key, 32);
			cr_assert_eq(sl_aead_key_set(&ks, key), 0);
			cr_assert_eq(sl_aead_key_set(&kg, key), 0);
		}
		rnd_fill(pt, n);
		rnd_fill(ad, adl);
		cr_assert_eq(sl_aead_seal(&ks, nonce, a, pt, n, ad, adl), 0);
		cr_assert_eq(sl_aead_seal(&kg, nonce, b, pt, n, ad, adl), 0);
		cr_assert_arr_eq(a, b, n + 16, "size %zu ad %zu: backends differ", n, adl);
		memcpy(io, pt, n);
		cr_assert_eq(sl_aead_seal(&kg, nonce, io, io, n, ad, adl), 0);
		cr_assert_arr_eq(io, a, n + 16, "size %zu: in place differs", n);

		/* each opens the other's */
		cr_assert_eq(sl_aead_open(&kg, nonce, back, a, n + 16, ad, adl), 0,
			     "%s rejects sodium's, size %zu", sl_aead_backend_str(other), n);
		cr_assert(!n || !memcmp(back, pt, n));
		cr_assert_eq(sl_aead_open(&ks, nonce, back, b, n + 16, ad, adl), 0,
			     "sodium rejects %s's, size %zu", sl_aead_backend_str(other), n);
		cr_assert(!n || !memcmp(back, pt, n));
		cr_assert_eq(sl_aead_open(&kg, nonce, io, io, n + 16, ad, adl), 0);
		cr_assert(!n || !memcmp(io, pt, n));

		/* one flipped bit anywhere: both refuse and release nothing */
		bit = rnd() % ((n + 16) * 8);
		a[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		memset(back, 0xaa, n);
		cr_assert_eq(sl_aead_open(&kg, nonce, back, a, n + 16, ad, adl), -EBADMSG);
		cr_assert(!n || sodium_is_zero(back, n), "released plaintext");
		memset(back, 0xaa, n);
		cr_assert_eq(sl_aead_open(&ks, nonce, back, a, n + 16, ad, adl), -EBADMSG);
		cr_assert(!n || sodium_is_zero(back, n));
		memcpy(io, a, n + 16);
		cr_assert_eq(sl_aead_open(&kg, nonce, io, io, n + 16, ad, adl), -EBADMSG);
		cr_assert(!n || sodium_is_zero(io, n), "in place released plaintext");
	}
	sl_aead_key_wipe(&ks);
	sl_aead_key_wipe(&kg);
	cr_assert(sodium_is_zero((uint8_t *)&kg, sizeof(kg)));
	free(pt);
	free(a);
	free(b);
	free(io);
	free(back);
}

Test(aead, cross_backend_identical_gcrypt, .timeout = 60)
{
	cr_assert(sl_aead_backend_usable(SL_AEAD_BACKEND_GCRYPT));
	cross_backend(SL_AEAD_BACKEND_GCRYPT);
}

Test(aead, cross_backend_identical_ipsecmb, .timeout = 60)
{
	if (!sl_aead_backend_usable(SL_AEAD_BACKEND_IPSECMB))
		cr_skip_test("libipsec-mb is not in this build or cannot run here");
	cross_backend(SL_AEAD_BACKEND_IPSECMB);
}

/* Key life cycle: state first, key later, re-key in place, wipe twice. */
TV_BACKEND_TEST(aead, key_set_and_wipe)
{
	uint8_t k1[32], k2[32], pt[100], a[116], b[116];
	struct sl_aead_key k, ref;

	fill(k1, 32, 41);
	fill(k2, 32, 42);
	fill(pt, sizeof(pt), 43);
	cr_assert_eq(sl_aead_key_init(&k, NULL), 0);
	cr_assert_eq(k.backend, backend);
	cr_assert_eq(sl_aead_key_set(&k, k1), 0);
	cr_assert_eq(sl_aead_seal(&k, 9, a, pt, sizeof(pt), NULL, 0), 0);
	cr_assert_eq(sl_aead_seal_raw(SL_AEAD_AESGCM, k1, 9, b, pt, sizeof(pt), NULL, 0), 0);
	cr_assert_arr_eq(a, b, sizeof(a));
	/* re-keying the same state gives the new key's bytes */
	cr_assert_eq(sl_aead_key_set(&k, k2), 0);
	cr_assert_eq(sl_aead_key_init_backend(&ref, SL_AEAD_BACKEND_SODIUM, k2), 0);
	cr_assert_eq(sl_aead_seal(&k, 9, a, pt, sizeof(pt), NULL, 0), 0);
	cr_assert_eq(sl_aead_seal(&ref, 9, b, pt, sizeof(pt), NULL, 0), 0);
	cr_assert_arr_eq(a, b, sizeof(a));
	sl_aead_key_wipe(&k);
	cr_assert(sodium_is_zero((uint8_t *)&k, sizeof(k)));
	sl_aead_key_wipe(&k);	/* an all-zero key is "no key" */
	cr_assert_eq(sl_aead_seal(&k, 0, a, pt, 1, NULL, 0), -EINVAL);
	sl_aead_key_wipe(&ref);
}

Test(aead, backend_names_and_parse)
{
	enum sl_aead_backend b;

	cr_assert_eq(sl_aead_backend_parse("sodium", &b), 0);
	cr_assert_eq(b, SL_AEAD_BACKEND_SODIUM);
	cr_assert_eq(sl_aead_backend_parse("GCRYPT", &b), 0);
	cr_assert_eq(b, SL_AEAD_BACKEND_GCRYPT);
	cr_assert_eq(sl_aead_backend_parse("libgcrypt", &b), 0);
	cr_assert_eq(sl_aead_backend_parse("auto", &b), 0);
	cr_assert_eq(b, SL_AEAD_BACKEND_AUTO);
	cr_assert_eq(sl_aead_backend_parse("openssl", &b), -EINVAL);
	cr_assert_eq(sl_aead_backend_parse("ipsec-mb", &b), 0);
	cr_assert_eq(b, SL_AEAD_BACKEND_IPSECMB);
	cr_assert_eq(sl_aead_backend_parse("IPSECMB", &b), 0);
	cr_assert_eq(b, SL_AEAD_BACKEND_IPSECMB);
	cr_assert_str_eq(sl_aead_backend_str(SL_AEAD_BACKEND_GCRYPT), "gcrypt");
	cr_assert_str_eq(sl_aead_backend_str(SL_AEAD_BACKEND_SODIUM), "sodium");
	cr_assert_str_eq(sl_aead_backend_str(SL_AEAD_BACKEND_IPSECMB), "ipsec-mb");
}

/*
 * Nobody chose: keys take the reference, and crypto/ measures nothing (the
 * choice is the application's: tools/common/aead_pick.c). AUTO is refused here,
 * and a key made before a later change keeps its backend.
 */
Test(aead, default_is_the_reference_and_sticky)
{
	struct sl_aead_key k1, k2;
	uint8_t key[32] = { 1 }, pt[64] = { 0 }, a[80], b[80];
	enum sl_aead_backend first, other;

	cr_assert(sl_aead_available());
	cr_assert_eq(sl_aead_backend(), SL_AEAD_BACKEND_SODIUM);
	cr_assert_eq(sl_aead_select(SL_AEAD_BACKEND_AUTO), -EINVAL);
	cr_assert_eq(sl_aead_key_init(&k1, key), 0);
	first = (enum sl_aead_backend)k1.backend;
	cr_assert_eq(first, SL_AEAD_BACKEND_SODIUM);

	other = first == SL_AEAD_BACKEND_SODIUM ? SL_AEAD_BACKEND_GCRYPT
						: SL_AEAD_BACKEND_SODIUM;
	cr_assert_eq(sl_aead_select(other), 0);
	cr_assert_eq(sl_aead_key_init(&k2, key), 0);
	cr_assert_eq(k2.backend, other);
	cr_assert_eq(k1.backend, first, "a key keeps the backend it was made with");
	cr_assert_eq(sl_aead_seal(&k1, 3, a, pt, 64, NULL, 0), 0);
	cr_assert_eq(sl_aead_seal(&k2, 3, b, pt, 64, NULL, 0), 0);
	cr_assert_arr_eq(a, b, 80);
	sl_aead_key_wipe(&k1);
	sl_aead_key_wipe(&k2);
}
