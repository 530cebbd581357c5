// SPDX-License-Identifier: Apache-2.0
#include <criterion/criterion.h>
#include <sodium.h>

#include "crypto/cipher.h"
#include "crypto_vectors.h"

#define FRAME_CAP 2048

static void setup(void)
{
	cr_assert(sl_aead_available());
}

TestSuite(cipher, .init = setup, .timeout = 30);

/* Same key if both seal a probe to the same bytes (the state has padding). */
static bool key_is(const struct sl_aead_key *k, const uint8_t raw[32])
{
	static const uint8_t probe[32] = { 1, 2, 3 };
	uint8_t a[48], b[48];

	cr_assert_eq(sl_aead_seal(k, 7, a, probe, 32, NULL, 0), 0);
	cr_assert_eq(sl_aead_seal_raw(SL_AEAD_AESGCM, raw, 7, b, probe, 32, NULL, 0), 0);
	return !memcmp(a, b, sizeof(a));
}

static void run_direction(json_t *frames, const uint8_t key[32], const char *dir)
{
	static uint8_t bufs[100][FRAME_CAP];
	struct sl_cipher_frame f[100];
	struct sl_cipher_enc e, eb;
	struct sl_cipher_dec d, db;
	size_t n = json_array_size(frames);

	cr_assert_eq(n, 100, "%s: frame count", dir);
	cr_assert_eq(sl_cipher_enc_init(&e, key), 0);
	cr_assert_eq(sl_cipher_enc_init(&eb, key), 0);
	cr_assert_eq(sl_cipher_dec_init(&d, key), 0);
	cr_assert_eq(sl_cipher_dec_init(&db, key), 0);
	cr_assert_eq(e.key.backend, sl_aead_backend());
	cr_assert_eq(d.cur.backend, sl_aead_backend());
	cr_assert_eq(e.target, e.key.backend, "a plain init never moves its key");

	for (size_t i = 0; i < n; i++) {
		json_t *fr = json_array_get(frames, i);
		struct tv_bytes pt = tv_hex(tv_str(fr, "payload"));
		struct tv_bytes wire = tv_hex(tv_str(fr, "wire"));
		struct tv_bytes k = tv_hex(tv_str(fr, "key"));
		uint8_t buf[FRAME_CAP];
		size_t wl, pl;
		uint64_t nonce;

		cr_assert_eq((uint64_t)json_integer_value(json_object_get(fr, "nonce")), i);
		cr_assert_lt(pt.len + SL_CIPHER_OVERHEAD, sizeof(buf));
		/* single, in place behind 8 bytes of headroom */
		memcpy(buf + SL_CIPHER_NONCE_LEN, pt.p, pt.len);
		cr_assert_eq(sl_cipher_seal(&e, buf, pt.len, sizeof(buf), &wl), 0);
		cr_assert_eq(wl, wire.len, "%s frame %zu length", dir, i);
		cr_assert_arr_eq(buf, wire.p, wl, "%s frame %zu", dir, i);
		cr_assert(key_is(&e.key, k.p), "%s frame %zu: key after rekey", dir, i);

		cr_assert_eq(sl_cipher_open(&d, buf, wl, &pl, &nonce), 0,
			     "%s frame %zu open", dir, i);
		cr_assert_eq(nonce, i);
		cr_assert_eq(pl, pt.len);
		cr_assert(!pl || !memcmp(buf + SL_CIPHER_NONCE_LEN, pt.p, pl));
		cr_assert(key_is(&d.cur, k.p));

		/* set up the batch copy */
		memcpy(bufs[i] + SL_CIPHER_NONCE_LEN, pt.p, pt.len);
		f[i] = (struct sl_cipher_frame){ .buf = bufs[i], .len = pt.len,
						 .cap = FRAME_CAP, .result = 1 };
		free(pt.p);
		free(wire.p);
		free(k.p);
	}

	/* batch seal of all 100 (three rekeys inside) gives the same bytes */
	cr_assert_eq(sl_cipher_seal_batch(&eb, f, 100), 100);
	for (size_t i = 0; i < n; i++) {
		struct tv_bytes wire = tv_hex(tv_str(json_array_get(frames, i), "wire"));

		cr_assert_eq(f[i].result, 0);
		cr_assert_eq(f[i].nonce, i);
		cr_assert_eq(f[i].len, wire.len);
		cr_assert_arr_eq(bufs[i], wire.p, wire.len, "%s batch frame %zu", dir, i);
		free(wire.p);
	}
	cr_assert_eq(sl_cipher_open_batch(&db, f, 100), 100);
	for (size_t i = 0; i < n; i++) {
		struct tv_bytes pt = tv_hex(tv_str(json_array_get(frames, i), "payload"));

		cr_assert_eq(f[i].result, 0);
		cr_assert_eq(f[i].len, pt.len);
		cr_assert(!pt.len || !memcmp(bufs[i] + 8, pt.p, pt.len));
		free(pt.p);
	}
	cr_assert_eq(db.epoch, 3);
	sl_cipher_enc_wipe(&e);
	sl_cipher_enc_wipe(&eb);
	sl_cipher_dec_wipe(&d);
	sl_cipher_dec_wipe(&db);
	cr_assert(sodium_is_zero((uint8_t *)&d, sizeof(d)));
}

/* Ockam's key direction: initiator -> responder with k2, the reverse with k1. */
TV_BACKEND_TEST(cipher, rekey32_vectors_both_directions)
{
	json_t *root = tv_json("ockam-transport-AESGCM-rekey32.json");
	uint8_t k1[32], k2[32];

	cr_assert_eq(json_integer_value(json_object_get(root, "rekey_interval")),
		     SL_REKEY_INTERVAL);
	tv_hex_fixed(k1, 32, tv_str(root, "k1"));
	tv_hex_fixed(k2, 32, tv_str(root, "k2"));
	run_direction(json_object_get(root, "initiator_to_responder"), k2, "i->r");
	run_direction(json_object_get(root, "responder_to_initiator"), k1, "r->i");
	json_decref(root);
}

/* ockam-wire-vectors.txt G8, keys from G7. */
TV_BACKEND_TEST(cipher, ockam_section_g8)
{
	struct tv_bytes k1 = tv_txt_hex("# G7.", "k1");
	struct tv_bytes k2 = tv_txt_hex("# G7.", "k2");
	struct tv_bytes pt = tv_txt_hex("# G8.", "sc_plaintext_payload");
	struct tv_bytes w0 = tv_txt_hex("# G8.", "initiator_to_responder_nonce0");
	struct tv_bytes wc = tv_txt_hex("# G8.", "responder_to_initiator_close_nonce0");
	struct tv_bytes rk = tv_txt_hex("# G8.", "rekey_k2");
	struct tv_bytes w32 = tv_txt_hex("# G8.", "initiator_close_nonce32");
	static const uint8_t close[] = { 0x82, 0x82, 0x02, 0x80, 0x40 };
	struct sl_cipher_enc e;
	struct sl_cipher_dec d;
	struct sl_aead_key k;
	uint8_t buf[256];
	size_t wl, pl;

	cr_assert_eq(sl_cipher_enc_init(&e, k2.p), 0);
	memcpy(buf + 8, pt.p, pt.len);
	cr_assert_eq(sl_cipher_seal(&e, buf, pt.len, sizeof(buf), &wl), 0);
	cr_assert_eq(wl, w0.len);
	cr_assert_arr_eq(buf, w0.p, wl);

	/* responder's Close under k1 decrypts to the padded Close message */
	cr_assert_eq(sl_cipher_dec_init(&d, k1.p), 0);
	memcpy(buf, wc.p, wc.len);
	cr_assert_eq(sl_cipher_open(&d, buf, wc.len, &pl, NULL), 0);
	cr_assert_eq(pl, sizeof(close));
	cr_assert_arr_eq(buf + 8, close, sizeof(close));

	cr_assert_eq(sl_aead_key_init(&k, k2.p), 0);
	cr_assert_eq(sl_cipher_rekey(&k), 0);
	cr_assert(key_is(&k, rk.p));

	/* nonces 1..31 then a Close at 32 under the rekeyed k2 */
	for (int i = 1; i < 32; i++)
		cr_assert_eq(sl_cipher_seal(&e, buf, 0, sizeof(buf), &wl), 0);
	memcpy(buf + 8, close, sizeof(close));
	cr_assert_eq(sl_cipher_seal(&e, buf, sizeof(close), sizeof(buf), &wl), 0);
	cr_assert_eq(wl, w32.len);
	cr_assert_arr_eq(buf, w32.p, wl);
	cr_assert(key_is(&e.key, rk.p));

	sl_aead_key_wipe(&k);
	sl_cipher_enc_wipe(&e);
	sl_cipher_dec_wipe(&d);
	free(k1.p);
	free(k2.p);
	free(pt.p);
	free(w0.p);
	free(wc.p);
	free(rk.p);
	free(w32.p);
}

/* ---- decryptor edge cases ---- */

#define NFRAMES 200
static uint8_t frames[NFRAMES][64];
static size_t frame_len[NFRAMES];
static const uint8_t test_key[32] = { 0x42, 1, 2, 3 };

static void make_frames(void)
{
	struct sl_cipher_enc e;

	cr_assert_eq(sl_cipher_enc_init(&e, test_key), 0);
	for (int i = 0; i < NFRAMES; i++) {
		memset(frames[i] + 8, i, 4);
		cr_assert_eq(sl_cipher_seal(&e, frames[i], 4, sizeof(frames[i]),
					    &frame_len[i]), 0);
	}
	sl_cipher_enc_wipe(&e);
}

/* Opens a copy of frame n (optionally forged), returns the result. */
static int deliver(struct sl_cipher_dec *d, unsigned n, bool forge)
{
	uint8_t buf[64];
	size_t pl;
	int ret;

	memcpy(buf, frames[n], frame_len[n]);
	if (forge)
		buf[10] ^= 0x20;
	ret = sl_cipher_open(d, buf, frame_len[n], &pl, NULL);
	if (!ret) {
		cr_assert_eq(pl, 4);
		cr_assert_eq(buf[8], (uint8_t)n);
	}
	return ret;
}

struct step {
	unsigned nonce;
	bool forge;
	int want;
};

static const struct {
	const char *what;
	struct step s[8];
	unsigned n;
} script[] = {
	{ "1: duplicate", { { 0, 0, 0 }, { 0, 0, -EALREADY } }, 2 },
	{ "2: reordered within the window", { { 5, 0, 0 }, { 3, 0, 0 }, { 4, 0, 0 }, { 3, 0, -EALREADY } }, 4 },
	{ "3: two intervals ahead, then in order", { { 64, 0, -ERANGE }, { 0, 0, 0 }, { 1, 0, 0 } }, 3 },
	{ "4: next interval rekeys, previous still opens", { { 32, 0, 0 }, { 31, 0, 0 }, { 1, 0, 0 }, { 0, 0, -ERANGE } }, 4 },
	{ "5: two rekeys, older interval refused", { { 40, 0, 0 }, { 70, 0, 0 }, { 35, 0, -ERANGE }, { 60, 0, 0 }, { 31, 0, -ERANGE } }, 5 },
	{ "6: far ahead from interval 0", { { 31, 0, 0 }, { 95, 0, -ERANGE }, { 63, 0, 0 } }, 3 },
	{ "7: forged then genuine", { { 3, 1, -EBADMSG }, { 3, 0, 0 }, { 3, 1, -EALREADY } }, 3 },
	{ "8: forged next-interval frame does not rekey", { { 33, 1, -EBADMSG }, { 1, 0, 0 }, { 33, 0, 0 }, { 2, 0, 0 }, { 0, 0, -ERANGE } }, 5 },
	{ "9: replay of the frame that rekeyed", { { 32, 0, 0 }, { 32, 0, -EALREADY }, { 33, 0, 0 } }, 3 },
	{ "10: jump to the edge of the next interval", { { 0, 0, 0 }, { 63, 0, 0 }, { 64, 0, 0 }, { 127, 0, 0 }, { 160, 0, -ERANGE }, { 128, 0, 0 } }, 6 },
};

TV_BACKEND_TEST(cipher, decryptor_script)
{
	make_frames();
	for (size_t i = 0; i < sizeof(script) / sizeof(script[0]); i++) {
		struct sl_cipher_dec d;

		cr_assert_eq(sl_cipher_dec_init(&d, test_key), 0);
		for (unsigned j = 0; j < script[i].n; j++) {
			const struct step *st = &script[i].s[j];
			struct sl_cipher_dec before = d;
			int ret = deliver(&d, st->nonce, st->forge);

			cr_assert_eq(ret, st->want, "%s: step %u (nonce %u) got %d",
				     script[i].what, j, st->nonce, ret);
			if (ret)
				cr_assert_eq(memcmp(&before, &d, SL_CIPHER_DEC_STATE_LEN), 0,
					     "%s: step %u changed state", script[i].what, j);
		}
		sl_cipher_dec_wipe(&d);
	}
}

TV_BACKEND_TEST(cipher, all_in_order_and_short_frames)
{
	struct sl_cipher_dec d;
	uint8_t buf[64] = { 0 };
	size_t pl;

	make_frames();
	cr_assert_eq(sl_cipher_dec_init(&d, test_key), 0);
	for (unsigned i = 0; i < NFRAMES; i++)
		cr_assert_eq(deliver(&d, i, false), 0, "frame %u", i);
	for (size_t l = 0; l < SL_CIPHER_OVERHEAD; l++)
		cr_assert_eq(sl_cipher_open(&d, buf, l, &pl, NULL), -EMSGSIZE);
	/* the reserved rekey nonce is never a frame */
	memset(buf, 0xff, 8);
	cr_assert_eq(sl_cipher_open(&d, buf, 24, &pl, NULL), -ERANGE);
	sl_cipher_dec_wipe(&d);
}

/* Random forgeries at every in-window nonce never change the state. */
TV_BACKEND_TEST(cipher, random_forgeries_leave_state)
{
	struct sl_cipher_dec d, before;
	uint8_t buf[64];
	size_t pl;

	make_frames();
	cr_assert_eq(sl_cipher_dec_init(&d, test_key), 0);
	for (unsigned i = 0; i < 40; i++)
		cr_assert_eq(deliver(&d, i, false), 0);
	before = d;
	for (unsigned i = 0; i < 2000; i++) {
		uint64_t n = 8 + i % 90;

		randombytes_buf(buf, sizeof(buf));
		for (int b = 0; b < 8; b++)
			buf[b] = (uint8_t)(n >> (56 - 8 * b));
		cr_assert_neq(sl_cipher_open(&d, buf, 24 + i % 40, &pl, NULL), 0);
		cr_assert_eq(memcmp(&before, &d, SL_CIPHER_DEC_STATE_LEN), 0);
	}
	for (unsigned i = 40; i < NFRAMES; i++)
		cr_assert_eq(deliver(&d, i, false), 0, "frame %u", i);
	sl_cipher_dec_wipe(&d);
}

TV_BACKEND_TEST(cipher, encryptor_nonce_overflow_and_capacity)
{
	struct sl_cipher_enc e;
	uint8_t buf[64];
	size_t wl;

	cr_assert_eq(sl_cipher_enc_init(&e, test_key), 0);
	cr_assert_eq(sl_cipher_seal(&e, buf, 10, 33, &wl), -ENOBUFS);
	cr_assert_eq(e.nonce, 0);
	cr_assert_eq(sl_cipher_seal(&e, buf, 10, 34, &wl), 0);
	cr_assert_eq(wl, 34);

	/* 2^64 - 1 is the rekey nonce, so 2^64 - 2 is the last frame */
	e.nonce = UINT64_MAX - 1;
	cr_assert_eq(sl_cipher_seal(&e, buf, 0, sizeof(buf), &wl), 0);
	cr_assert_eq(e.nonce, UINT64_MAX);
	cr_assert_eq(sl_cipher_seal(&e, buf, 0, sizeof(buf), &wl), -EOVERFLOW);
	cr_assert_eq(sl_cipher_seal(&e, buf, 0, sizeof(buf), &wl), -EOVERFLOW);
	cr_assert_eq(e.nonce, UINT64_MAX);
	sl_cipher_enc_wipe(&e);
}

/* A batch with a bad frame: it fails alone and consumes no nonce. */
TV_BACKEND_TEST(cipher, batch_with_bad_frame)
{
	static uint8_t b[40][64];
	struct sl_cipher_frame f[40];
	struct sl_cipher_dec d;
	struct sl_cipher_enc e;

	make_frames();
	cr_assert_eq(sl_cipher_enc_init(&e, test_key), 0);
	for (unsigned i = 0; i < 40; i++) {
		memset(b[i] + 8, i < 7 ? i : i - 1, 4);
		f[i] = (struct sl_cipher_frame){ .buf = b[i], .len = 4,
						 .cap = i == 7 ? 20 : 64 };
	}
	cr_assert_eq(sl_cipher_seal_batch(&e, f, 40), 39);
	cr_assert_eq(f[7].result, -ENOBUFS);
	for (unsigned i = 0; i < 40; i++) {
		unsigned n = i < 7 ? i : i - 1;

		if (i == 7)
			continue;
		cr_assert_eq(f[i].result, 0);
		cr_assert_eq(f[i].nonce, n);
		cr_assert_arr_eq(b[i], frames[n], frame_len[n], "frame %u", i);
	}
	f[7].len = 3;	/* too short to be a frame */
	cr_assert_eq(sl_cipher_dec_init(&d, test_key), 0);
	cr_assert_eq(sl_cipher_open_batch(&d, f, 40), 39);
	cr_assert_eq(f[7].result, -EMSGSIZE);
	sl_cipher_enc_wipe(&e);
	sl_cipher_dec_wipe(&d);
}

/*
 * Transport across backends: an encryptor on each backend gives the same
 * wire bytes through several rekeys, and each backend's decryptor opens the
 * other's frames (singles and batches, sizes 0..1500).
 */
Test(cipher, cross_backend_transport)
{
	enum { N = 300, CAP = 1600 };
	static uint8_t bs[N][CAP], bg[N][CAP];
	struct sl_cipher_frame fs[N], fg[N];
	struct sl_cipher_enc es, eg;
	struct sl_cipher_dec ds, dg;
	unsigned i;

	cr_assert(sl_aead_available());
	cr_assert_eq(sl_aead_select(SL_AEAD_BACKEND_SODIUM), 0);
	cr_assert_eq(sl_cipher_enc_init(&es, test_key), 0);
	cr_assert_eq(sl_cipher_dec_init(&ds, test_key), 0);
	cr_assert_eq(sl_aead_select(SL_AEAD_BACKEND_GCRYPT), 0);
	cr_assert_eq(sl_cipher_enc_init(&eg, test_key), 0);
	cr_assert_eq(sl_cipher_dec_init(&dg, test_key), 0);
	cr_assert_eq(es.key.backend, SL_AEAD_BACKEND_SODIUM);
	cr_assert_eq(dg.cur.backend, SL_AEAD_BACKEND_GCRYPT);

	for (i = 0; i < N; i++) {
		size_t len = (i * 53) % 1501;

		memset(bs[i] + 8, (int)i, len);
		memset(bg[i] + 8, (int)i, len);
		fs[i] = (struct sl_cipher_frame){ .buf = bs[i], .len = len, .cap = CAP };
		fg[i] = fs[i];
		fg[i].buf = bg[i];
	}
	/* the first 100 one by one, the rest as batches of 50 */
	for (i = 0; i < N; i++) {
		size_t wl;

		if (i >= 100) {
			cr_assert_eq(sl_cipher_seal_batch(&es, fs + i, 50), 50);
			cr_assert_eq(sl_cipher_seal_batch(&eg, fg + i, 50), 50);
			i += 49;
			continue;
		}
		cr_assert_eq(sl_cipher_seal(&es, bs[i], fs[i].len, CAP, &wl), 0);
		fs[i].len = wl;
		cr_assert_eq(sl_cipher_seal(&eg, bg[i], fg[i].len, CAP, &wl), 0);
		fg[i].len = wl;
	}
	for (i = 0; i < N; i++) {
		cr_assert_eq(fs[i].len, fg[i].len);
		cr_assert_arr_eq(bs[i], bg[i], fs[i].len, "frame %u differs", i);
	}
	/* gcrypt opens sodium's frames and vice versa */
	cr_assert_eq(sl_cipher_open_batch(&dg, fs, N), N);
	cr_assert_eq(sl_cipher_open_batch(&ds, fg, N), N);
	for (i = 0; i < N; i++) {
		cr_assert_eq(fs[i].len, (i * 53) % 1501);
		cr_assert_arr_eq(bs[i] + 8, bg[i] + 8, fs[i].len, "frame %u", i);
		cr_assert(!fs[i].len || (bs[i][8] == (uint8_t)i &&
					 bs[i][8 + fs[i].len - 1] == (uint8_t)i));
	}
	cr_assert_eq(ds.epoch, (N - 1) / SL_REKEY_INTERVAL);
	cr_assert_eq(dg.epoch, ds.epoch);
	sl_cipher_enc_wipe(&es);
	sl_cipher_enc_wipe(&eg);
	sl_cipher_dec_wipe(&ds);
	sl_cipher_dec_wipe(&dg);
	cr_assert(sodium_is_zero((uint8_t *)&dg, sizeof(dg)));
}

/*
 * Adaptive states: they start on libsodium and move to the default backend
 * after SL_CIPHER_UPGRADE_BYTES, in the middle of an interval and across
 * rekeys, singles and batches; the wire bytes equal a fixed-backend
 * encryptor's throughout and a decryptor of either kind opens them.
 */
TV_BACKEND_TEST(cipher, adaptive_moves_keep_the_bytes)
{
	enum { LEN = 16000, CAP = LEN + 64, N = 2 * SL_CIPHER_UPGRADE_BYTES / LEN + 40 };
	static uint8_t ba[CAP], bf[CAP];
	struct sl_cipher_frame fa, ff;
	struct sl_cipher_enc ea, ef;
	struct sl_cipher_dec da, df;
	unsigned i, moved_at = 0;

	cr_assert_eq(sl_cipher_enc_init_adaptive(&ea, test_key), 0);
	cr_assert_eq(sl_cipher_dec_init_adaptive(&da, test_key), 0);
	cr_assert_eq(sl_cipher_enc_init(&ef, test_key), 0);
	cr_assert_eq(sl_cipher_dec_init(&df, test_key), 0);
	cr_assert_eq(ea.key.backend, SL_AEAD_BACKEND_SODIUM);
	cr_assert_eq(da.cur.backend, SL_AEAD_BACKEND_SODIUM);
	cr_assert_eq(ea.target, backend);
	for (i = 0; i < N; i++) {
		size_t len = LEN - i % 7, wl, pl;

		memset(ba + 8, (int)i, len);
		memset(bf + 8, (int)i, len);
		if (i % 3) {
			cr_assert_eq(sl_cipher_seal(&ea, ba, len, CAP, &wl), 0);
		} else {
			fa = (struct sl_cipher_frame){ .buf = ba, .len = len, .cap = CAP };
			cr_assert_eq(sl_cipher_seal_batch(&ea, &fa, 1), 1);
			wl = fa.len;
		}
		cr_assert_eq(sl_cipher_seal(&ef, bf, len, CAP, &wl), 0);
		cr_assert_arr_eq(ba, bf, wl, "frame %u differs", i);
		/* the fixed decryptor opens the adaptive frame, and the reverse */
		ff = (struct sl_cipher_frame){ .buf = bf, .len = wl };
		cr_assert_eq(sl_cipher_open(&df, ba, wl, &pl, NULL), 0, "frame %u", i);
		cr_assert_eq(sl_cipher_open_batch(&da, &ff, 1), 1, "frame %u", i);
		cr_assert_eq(pl, len);
		cr_assert_arr_eq(ba + 8, bf + 8, len);
		if (!moved_at && ea.key.backend != SL_AEAD_BACKEND_SODIUM)
			moved_at = i;
	}
	cr_assert_eq(ea.key.backend, backend, "the encryptor moved");
	cr_assert_eq(da.cur.backend, backend, "the decryptor moved");
	if (backend != SL_AEAD_BACKEND_SODIUM)
		cr_assert(moved_at > 0 && moved_at <= SL_CIPHER_UPGRADE_BYTES / (LEN - 6) + 1,
			  "moved at frame %u", moved_at);
	sl_cipher_enc_wipe(&ea);
	sl_cipher_enc_wipe(&ef);
	sl_cipher_dec_wipe(&da);
	sl_cipher_dec_wipe(&df);
}

/*
 * A moved decryptor opens the first frame of each interval with its trial
 * state: a forged one is refused and changes no byte of the state, the real
 * one then opens, and the plaintext matches across several rekeys.
 */
TV_BACKEND_TEST(cipher, moved_decryptor_trial_state)
{
	enum { LEN = 48 * 1024, CAP = LEN + 64, N = SL_CIPHER_UPGRADE_BYTES / LEN + 4 * 32 };
	static uint8_t b[CAP], copy[CAP];
	struct sl_cipher_enc e;
	struct sl_cipher_dec d, before;
	size_t wl, pl;
	unsigned i, forged = 0;

	cr_assert_eq(sl_cipher_enc_init_adaptive(&e, test_key), 0);
	cr_assert_eq(sl_cipher_dec_init_adaptive(&d, test_key), 0);
	for (i = 0; i < N; i++) {
		memset(b + 8, (int)(i * 7), LEN);
		cr_assert_eq(sl_cipher_seal(&e, b, LEN, CAP, &wl), 0);
		if (i % 32 == 0 && d.cur.backend != SL_AEAD_BACKEND_SODIUM) {
			memcpy(copy, b, wl);
			copy[8 + i % LEN] ^= 0x40;
			before = d;
			cr_assert_eq(sl_cipher_open(&d, copy, wl, &pl, NULL), -EBADMSG, "frame %u", i);
			cr_assert_eq(memcmp(&before, &d, SL_CIPHER_DEC_STATE_LEN), 0);
			forged++;
		}
		cr_assert_eq(sl_cipher_open(&d, b, wl, &pl, NULL), 0, "frame %u", i);
		cr_assert_eq(pl, LEN);
		cr_assert_eq(b[8], (uint8_t)(i * 7));
		cr_assert_eq(b[8 + LEN - 1], (uint8_t)(i * 7));
	}
	cr_assert_eq(d.cur.backend, backend);
	if (backend != SL_AEAD_BACKEND_SODIUM) {
		cr_assert_not_null(d.trial, "a moved decryptor has its trial state");
		cr_assert_eq(d.trial->backend, backend);
		cr_assert(forged >= 3, "forged %u next-interval frames", forged);
	} else {
		cr_assert_null(d.trial, "libsodium states need no trial state");
	}
	sl_cipher_enc_wipe(&e);
	sl_cipher_dec_wipe(&d);
	cr_assert(sodium_is_zero((uint8_t *)&d, sizeof(d)));
}
