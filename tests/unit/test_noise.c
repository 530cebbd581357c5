// SPDX-License-Identifier: Apache-2.0
#include <criterion/criterion.h>
#include <sodium.h>

#include "crypto/noise.h"
#include "crypto_vectors.h"

#define MAXMSG (SL_NOISE_MAX_MSG + 64)

struct party {
	const uint8_t *name;
	size_t name_len;
	enum sl_aead_cipher cipher;
	enum sl_noise_split split;
	struct tv_bytes prologue;
	uint8_t s[32], e[32];
};

static struct sl_noise *mk(const struct party *p, enum sl_noise_role role)
{
	struct sl_noise_config cfg = {
		.role = role,
		.cipher = p->cipher,
		.split = p->split,
		.name = p->name,
		.name_len = p->name_len,
		.prologue = p->prologue.p,
		.prologue_len = p->prologue.len,
		.static_sk = p->s,
		.ephemeral_sk = p->e,
	};
	struct sl_noise *hs = sl_noise_new(&cfg);

	cr_assert(hs, "sl_noise_new: errno %d", errno);
	return hs;
}

static void setup(void)
{
	cr_assert(sodium_init() >= 0);
	cr_assert(sl_aead_available());
}

TestSuite(noise, .init = setup, .timeout = 30);

/*
 * Every test here runs once per AES-GCM backend (TV_BACKEND_TEST): the
 * handshake's AEAD and the transport messages of the vectors go through the
 * selected one; ChaChaPoly vectors are libsodium either way.
 *
 * One JSON vector: messages 0-2 are the handshake, later ones transport
 * messages, sent by the initiator when i is even, under Noise's Split().
 */
static void run_json_vector(json_t *v, size_t idx)
{
	/* noise-c's entries say "name", the others "protocol_name" */
	const char *name = json_object_get(v, "protocol_name") ?
			   tv_str(v, "protocol_name") : tv_str(v, "name");
	json_t *msgs = json_object_get(v, "messages"), *psk;
	struct party pi = { 0 }, pr = { 0 };
	struct sl_noise *ini, *res;
	struct sl_noise_keys ik, rk;
	uint8_t buf[MAXMSG], pub[32], rpub[32];
	const uint8_t *pl;
	size_t len, pl_len, i;
	uint64_t n_send[2] = { 0, 0 };

	psk = json_object_get(v, "init_psks");
	cr_assert(!psk || json_array_size(psk) == 0, "#%zu: PSKs not supported", idx);
	pi.name = pr.name = (const uint8_t *)name;
	pi.name_len = pr.name_len = strlen(name);
	pi.cipher = pr.cipher = strstr(name, "ChaChaPoly") ? SL_AEAD_CHACHAPOLY
							    : SL_AEAD_AESGCM;
	pi.split = pr.split = SL_NOISE_SPLIT_STANDARD;
	pi.prologue = tv_hex(tv_str(v, "init_prologue"));
	pr.prologue = tv_hex(tv_str(v, "resp_prologue"));
	tv_hex_fixed(pi.s, 32, tv_str(v, "init_static"));
	tv_hex_fixed(pi.e, 32, tv_str(v, "init_ephemeral"));
	tv_hex_fixed(pr.s, 32, tv_str(v, "resp_static"));
	tv_hex_fixed(pr.e, 32, tv_str(v, "resp_ephemeral"));
	ini = mk(&pi, SL_NOISE_INITIATOR);
	res = mk(&pr, SL_NOISE_RESPONDER);
	cr_assert_geq(json_array_size(msgs), 3);

	for (i = 0; i < json_array_size(msgs); i++) {
		json_t *m = json_array_get(msgs, i);
		struct tv_bytes p = tv_hex(tv_str(m, "payload"));
		struct tv_bytes c = tv_hex(tv_str(m, "ciphertext"));
		bool from_ini = i % 2 == 0;

		switch (i) {
		case 0:
			cr_assert_eq(sl_noise_write_msg1(ini, buf, sizeof(buf), &len,
							 p.p, p.len), 0);
			cr_assert_eq(len, c.len, "#%zu msg0 length", idx);
			cr_assert_arr_eq(buf, c.p, len, "#%zu msg0", idx);
			cr_assert_eq(sl_noise_read_msg1(res, buf, len, &pl, &pl_len), 0);
			break;
		case 1:
			cr_assert_eq(sl_noise_write_msg2(res, buf, sizeof(buf), &len,
							 p.p, p.len), 0);
			cr_assert_eq(len, c.len, "#%zu msg1 length", idx);
			cr_assert_arr_eq(buf, c.p, len, "#%zu msg1", idx);
			cr_assert_eq(sl_noise_read_msg2(ini, buf, len, rpub, &pl,
							&pl_len), 0);
			sl_noise_local_static(res, pub);
			cr_assert_arr_eq(rpub, pub, 32);
			break;
		case 2:
			cr_assert_eq(sl_noise_write_msg3(ini, buf, sizeof(buf), &len,
							 p.p, p.len), 0);
			cr_assert_eq(len, c.len, "#%zu msg2 length", idx);
			cr_assert_arr_eq(buf, c.p, len, "#%zu msg2", idx);
			cr_assert_eq(sl_noise_read_msg3(res, buf, len, rpub, &pl,
							&pl_len), 0);
			sl_noise_local_static(ini, pub);
			cr_assert_arr_eq(rpub, pub, 32);
			cr_assert_eq(sl_noise_split(ini, &ik), 0);
			cr_assert_eq(sl_noise_split(res, &rk), 0);
			cr_assert_arr_eq(ik.send, rk.recv, 32);
			cr_assert_arr_eq(ik.recv, rk.send, 32);
			cr_assert_arr_eq(ik.hash, rk.hash, 32);
			if (json_object_get(v, "handshake_hash")) {
				struct tv_bytes h = tv_hex(tv_str(v, "handshake_hash"));

				cr_assert_arr_eq(ik.hash, h.p, 32, "#%zu hash", idx);
				free(h.p);
			}
			break;
		default: {
			const uint8_t *sk = from_ini ? ik.send : rk.send;
			const uint8_t *rkey = from_ini ? rk.recv : ik.recv;
			uint64_t n = n_send[!from_ini]++;

			cr_assert_eq(sl_aead_seal_raw(pi.cipher, sk, n, buf, p.p,
						      p.len, NULL, 0), 0);
			cr_assert_eq(p.len + 16, c.len);
			cr_assert_arr_eq(buf, c.p, c.len, "#%zu transport %zu", idx, i);
			cr_assert_eq(sl_aead_open_raw(pi.cipher, rkey, n, buf, buf,
						      c.len, NULL, 0), 0);
			pl = buf;
			pl_len = p.len;
			break;
		}
		}
		cr_assert_eq(pl_len, p.len, "#%zu msg%zu payload length", idx, i);
		cr_assert(p.len == 0 || !memcmp(pl, p.p, p.len),
			  "#%zu msg%zu payload", idx, i);
		free(p.p);
		free(c.p);
	}
	sl_noise_free(ini);
	sl_noise_free(res);
	free(pi.prologue.p);
	free(pr.prologue.p);
}

static void run_json_file(const char *file, size_t expect)
{
	json_t *root = tv_json(file), *vs = json_object_get(root, "vectors");

	cr_assert_eq(json_array_size(vs), expect, "%s: vector count", file);
	for (size_t i = 0; i < json_array_size(vs); i++)
		run_json_vector(json_array_get(vs, i), i);
	json_decref(root);
}

TV_BACKEND_TEST(noise, upstream_vectors)
{
	run_json_file("XX-25519-SHA256-upstream-subset.json", 6);
}

/*
 * Generated with dissononce, whose transport messages use Noise's Split()
 * (initiator sends with k1); Ockam's reversed direction is checked in G7
 * and in test_cipher.c.
 */
TV_BACKEND_TEST(noise, ockam_name_vectors)
{
	run_json_file("ockam-name-XX-25519-AESGCM-SHA256.json", 3);
}

/* Keys of ockam-wire-vectors.txt section A, reused by G7. */
static void load_a_keys(struct party *pi, struct party *pr)
{
	struct tv_bytes b;

	b = tv_txt_hex("## A.", "initiator_static_sk");
	memcpy(pi->s, b.p, 32);
	free(b.p);
	b = tv_txt_hex("## A.", "initiator_ephemeral_sk");
	memcpy(pi->e, b.p, 32);
	free(b.p);
	b = tv_txt_hex("## A.", "responder_static_sk");
	memcpy(pr->s, b.p, 32);
	free(b.p);
	b = tv_txt_hex("## A.", "responder_ephemeral_sk");
	memcpy(pr->e, b.p, 32);
	free(b.p);
}

/* Full handshake; payloads may be empty; the three messages are returned. */
static void handshake(struct party *pi, struct party *pr,
		      struct tv_bytes pay[3], struct tv_bytes out[3],
		      struct sl_noise_keys *ik, struct sl_noise_keys *rk)
{
	struct sl_noise *ini = mk(pi, SL_NOISE_INITIATOR);
	struct sl_noise *res = mk(pr, SL_NOISE_RESPONDER);
	static uint8_t buf[MAXMSG];
	const uint8_t *pl;
	size_t len, pl_len;

	cr_assert_eq(sl_noise_write_msg1(ini, buf, sizeof(buf), &len, pay[0].p,
					 pay[0].len), 0);
	out[0].p = malloc(len + 1);
	memcpy(out[0].p, buf, out[0].len = len);
	cr_assert_eq(sl_noise_read_msg1(res, buf, len, &pl, &pl_len), 0);
	cr_assert_eq(pl_len, pay[0].len);

	cr_assert_eq(sl_noise_write_msg2(res, buf, sizeof(buf), &len, pay[1].p,
					 pay[1].len), 0);
	out[1].p = malloc(len + 1);
	memcpy(out[1].p, buf, out[1].len = len);
	cr_assert_eq(sl_noise_read_msg2(ini, buf, len, NULL, &pl, &pl_len), 0);
	cr_assert_eq(pl_len, pay[1].len);
	cr_assert(!pl_len || !memcmp(pl, pay[1].p, pl_len));

	cr_assert_eq(sl_noise_write_msg3(ini, buf, sizeof(buf), &len, pay[2].p,
					 pay[2].len), 0);
	out[2].p = malloc(len + 1);
	memcpy(out[2].p, buf, out[2].len = len);
	cr_assert_eq(sl_noise_read_msg3(res, buf, len, NULL, &pl, &pl_len), 0);
	cr_assert_eq(pl_len, pay[2].len);
	cr_assert(!pl_len || !memcmp(pl, pay[2].p, pl_len));

	cr_assert_eq(sl_noise_split(ini, ik), 0);
	cr_assert_eq(sl_noise_split(res, rk), 0);
	cr_assert_arr_eq(ik->send, rk->recv, 32);
	cr_assert_arr_eq(ik->recv, rk->send, 32);
	sl_noise_free(ini);
	sl_noise_free(res);
}

static void check_msgs(const char *marker, struct tv_bytes out[3])
{
	static const char *keys[3] = { "msg1", "msg2", "msg3" };

	for (int i = 0; i < 3; i++) {
		struct tv_bytes want = tv_txt_hex(marker, keys[i]);

		cr_assert_eq(out[i].len, want.len, "%s %s length", marker, keys[i]);
		cr_assert_arr_eq(out[i].p, want.p, want.len, "%s %s", marker, keys[i]);
		free(want.p);
		free(out[i].p);
	}
}

/*
 * Section A: Ockam's own copy of the cacophony keys with the padded name
 * "Noise_XX_25519_AESGCM_SHA256\0\0\0\0". Noise pads names shorter than
 * HASHLEN with zeros, so the padded and unpadded names must agree.
 */
TV_BACKEND_TEST(noise, ockam_section_a)
{
	static const char padded[32] = "Noise_XX_25519_AESGCM_SHA256\0\0\0\0";
	struct party pi = { 0 }, pr = { 0 };
	struct tv_bytes pay[3] = { 0 }, out[3];
	struct sl_noise_keys ik, rk, ik2, rk2;

	load_a_keys(&pi, &pr);
	for (int unpadded = 0; unpadded < 2; unpadded++) {
		pi.name = pr.name = (const uint8_t *)padded;
		pi.name_len = pr.name_len = unpadded ? 28 : 32;
		pi.cipher = pr.cipher = SL_AEAD_AESGCM;

		memset(pay, 0, sizeof(pay));
		handshake(&pi, &pr, pay, out, unpadded ? &ik2 : &ik,
			  unpadded ? &rk2 : &rk);
		check_msgs("# case 1", out);

		pay[0] = tv_txt_hex("# case 2", "msg1_payload");
		pay[1] = tv_txt_hex("# case 2", "msg2_payload");
		pay[2] = tv_txt_hex("# case 2", "msg3_payload");
		handshake(&pi, &pr, pay, out, unpadded ? &ik2 : &ik,
			  unpadded ? &rk2 : &rk);
		check_msgs("# case 2", out);
		for (int i = 0; i < 3; i++)
			free(pay[i].p);
	}
	cr_assert_arr_eq(ik.hash, ik2.hash, 32);

	/* h0 = SHA256(padded name): what MixHash(empty prologue) leaves in h */
	{
		struct tv_bytes h0 = tv_txt_hex("## A.", "h0");
		uint8_t h[32];

		crypto_hash_sha256(h, (const uint8_t *)padded, 32);
		cr_assert_arr_eq(h, h0.p, 32);
		free(h0.p);
	}
}

/* G7: Ockam's name, identity payloads (opaque here), Ockam's split. */
TV_BACKEND_TEST(noise, ockam_section_g7)
{
	struct party pi = { 0 }, pr = { 0 };
	struct tv_bytes pay[3] = { 0 }, out[3], want;
	struct sl_noise_keys ik, rk;

	load_a_keys(&pi, &pr);
	pi.name = pr.name = (const uint8_t *)SL_NOISE_OCKAM_NAME;
	pi.name_len = pr.name_len = strlen(SL_NOISE_OCKAM_NAME);
	cr_assert_eq(pi.name_len, 32);
	pi.cipher = pr.cipher = SL_AEAD_AESGCM;
	pi.split = pr.split = SL_NOISE_SPLIT_OCKAM;
	pay[1] = tv_txt_hex("# G7.", "msg2_payload");
	pay[2] = tv_txt_hex("# G7.", "msg3_payload");
	handshake(&pi, &pr, pay, out, &ik, &rk);
	check_msgs("# G7.", out);

	want = tv_txt_hex("# G7.", "final_h");
	cr_assert_arr_eq(ik.hash, want.p, 32);
	free(want.p);
	/* the initiator encrypts with k2, the responder with k1 */
	want = tv_txt_hex("# G7.", "k1");
	cr_assert_arr_eq(rk.send, want.p, 32);
	cr_assert_arr_eq(ik.recv, want.p, 32);
	free(want.p);
	want = tv_txt_hex("# G7.", "k2");
	cr_assert_arr_eq(ik.send, want.p, 32);
	cr_assert_arr_eq(rk.recv, want.p, 32);
	free(want.p);
	free(pay[1].p);
	free(pay[2].p);
}

/* Names longer than HASHLEN are hashed: h = SHA256(name). */
TV_BACKEND_TEST(noise, long_name_is_hashed)
{
	static const char name[] = "Noise_XX_25519_AESGCM_SHA256_but_much_longer_than_32";
	struct party pi = { 0 }, pr = { 0 };
	struct tv_bytes pay[3] = { 0 }, out[3];
	struct sl_noise_keys ik, rk;

	load_a_keys(&pi, &pr);
	pi.name = pr.name = (const uint8_t *)name;
	pi.name_len = pr.name_len = strlen(name);
	handshake(&pi, &pr, pay, out, &ik, &rk);
	for (int i = 0; i < 3; i++)
		free(out[i].p);
}

/* ---- state machine ---- */

struct probe {
	uint8_t buf[MAXMSG];
	uint8_t m2[256], m3[256];
	size_t m2_len, m3_len;
};

/*
 * Every call other than the expected one must fail with -EPROTO and leave
 * the state as it was. `pr` holds valid msg2/msg3 bytes so the wrong-state
 * reads fail for the right reason.
 */
static void wrong_calls(struct sl_noise *hs, struct probe *pr, int allowed)
{
	enum sl_noise_state before = sl_noise_state(hs);
	struct sl_noise_keys keys;
	const uint8_t *pl;
	size_t len, pl_len;
	uint8_t tmp[256];

	memset(tmp, 0, sizeof(tmp));
	if (allowed != 1)
		cr_assert_eq(sl_noise_write_msg1(hs, pr->buf, MAXMSG, &len, NULL, 0),
			     -EPROTO, "write_msg1 in state %d", before);
	if (allowed != 2)
		cr_assert_eq(sl_noise_read_msg1(hs, tmp, 32, &pl, &pl_len), -EPROTO,
			     "read_msg1 in state %d", before);
	if (allowed != 3)
		cr_assert_eq(sl_noise_write_msg2(hs, pr->buf, MAXMSG, &len, NULL, 0),
			     -EPROTO, "write_msg2 in state %d", before);
	if (allowed != 4) {
		memcpy(tmp, pr->m2, pr->m2_len);
		cr_assert_eq(sl_noise_read_msg2(hs, tmp, pr->m2_len, NULL, &pl,
						&pl_len), -EPROTO,
			     "read_msg2 in state %d", before);
	}
	if (allowed != 5)
		cr_assert_eq(sl_noise_write_msg3(hs, pr->buf, MAXMSG, &len, NULL, 0),
			     -EPROTO, "write_msg3 in state %d", before);
	if (allowed != 6) {
		memcpy(tmp, pr->m3, pr->m3_len);
		cr_assert_eq(sl_noise_read_msg3(hs, tmp, pr->m3_len, NULL, &pl,
						&pl_len), -EPROTO,
			     "read_msg3 in state %d", before);
	}
	if (allowed != 7)
		cr_assert_eq(sl_noise_split(hs, &keys), -EPROTO,
			     "split in state %d", before);
	cr_assert_eq(sl_noise_state(hs), before);
}

static void ockam_parties(struct party *pi, struct party *pr)
{
	memset(pi, 0, sizeof(*pi));
	memset(pr, 0, sizeof(*pr));
	load_a_keys(pi, pr);
	pi->name = pr->name = (const uint8_t *)SL_NOISE_OCKAM_NAME;
	pi->name_len = pr->name_len = 32;
	pi->split = pr->split = SL_NOISE_SPLIT_OCKAM;
}

/*
 * Walk the ockam-name vector #0 handshake with every wrong call in every
 * state in between; the bytes must still match the vector at the end.
 */
TV_BACKEND_TEST(noise, every_wrong_call_rejected_state_unchanged)
{
	json_t *root = tv_json("ockam-name-XX-25519-AESGCM-SHA256.json");
	json_t *msgs = json_object_get(json_array_get(json_object_get(root, "vectors"), 0),
				       "messages");
	struct tv_bytes want[3];
	struct party pi, pr;
	struct sl_noise *ini, *res;
	static struct probe p;
	struct sl_noise_keys ik, rk;
	const uint8_t *pl;
	size_t len, pl_len;
	uint8_t buf[256];

	for (int i = 0; i < 3; i++)
		want[i] = tv_hex(tv_str(json_array_get(msgs, i), "ciphertext"));
	memcpy(p.m2, want[1].p, p.m2_len = want[1].len);
	memcpy(p.m3, want[2].p, p.m3_len = want[2].len);
	ockam_parties(&pi, &pr);
	ini = mk(&pi, SL_NOISE_INITIATOR);
	res = mk(&pr, SL_NOISE_RESPONDER);

	wrong_calls(ini, &p, 1);
	wrong_calls(res, &p, 2);
	cr_assert_eq(sl_noise_write_msg1(ini, buf, sizeof(buf), &len, NULL, 0), 0);
	cr_assert_arr_eq(buf, want[0].p, len);
	wrong_calls(ini, &p, 4);
	cr_assert_eq(sl_noise_read_msg1(res, buf, len, &pl, &pl_len), 0);
	wrong_calls(res, &p, 3);

	cr_assert_eq(sl_noise_write_msg2(res, buf, sizeof(buf), &len, NULL, 0), 0);
	cr_assert_arr_eq(buf, want[1].p, len);
	wrong_calls(res, &p, 6);
	cr_assert_eq(sl_noise_read_msg2(ini, buf, len, NULL, &pl, &pl_len), 0);
	wrong_calls(ini, &p, 5);

	cr_assert_eq(sl_noise_write_msg3(ini, buf, sizeof(buf), &len, NULL, 0), 0);
	cr_assert_arr_eq(buf, want[2].p, len);
	wrong_calls(ini, &p, 7);
	cr_assert_eq(sl_noise_read_msg3(res, buf, len, NULL, &pl, &pl_len), 0);
	wrong_calls(res, &p, 7);
	cr_assert(sl_noise_is_done(ini) && sl_noise_is_done(res));

	cr_assert_eq(sl_noise_split(ini, &ik), 0);
	cr_assert_eq(sl_noise_split(res, &rk), 0);
	wrong_calls(ini, &p, 0);
	wrong_calls(res, &p, 0);
	cr_assert_eq(sl_noise_state(ini), SL_NOISE_SPLIT);
	cr_assert_arr_eq(ik.send, rk.recv, 32);
	sl_noise_free(ini);
	sl_noise_free(res);
	for (int i = 0; i < 3; i++)
		free(want[i].p);
	json_decref(root);
}

/* Flip every bit of msg2 and of msg3: each read fails, then the real one works. */
TV_BACKEND_TEST(noise, tamper_every_bit_of_msg2_and_msg3)
{
	static const uint8_t pay2[] = "responder identity", pay3[] = "initiator identity";
	struct party pi, pr;
	struct sl_noise *ini, *res;
	uint8_t m1[64], m2[256], m3[256], t[256];
	const uint8_t *pl;
	size_t l1, l2, l3, pl_len;
	uint8_t rs[32] = { 0 };

	ockam_parties(&pi, &pr);
	ini = mk(&pi, SL_NOISE_INITIATOR);
	res = mk(&pr, SL_NOISE_RESPONDER);
	cr_assert_eq(sl_noise_write_msg1(ini, m1, sizeof(m1), &l1, NULL, 0), 0);
	cr_assert_eq(sl_noise_read_msg1(res, m1, l1, &pl, &pl_len), 0);
	cr_assert_eq(sl_noise_write_msg2(res, m2, sizeof(m2), &l2, pay2,
					 sizeof(pay2)), 0);

	for (size_t bit = 0; bit < l2 * 8; bit++) {
		memcpy(t, m2, l2);
		t[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		cr_assert_eq(sl_noise_read_msg2(ini, t, l2, rs, &pl, &pl_len),
			     -EBADMSG, "msg2 bit %zu accepted", bit);
		cr_assert_eq(sl_noise_state(ini), SL_NOISE_WAIT_MSG2);
		cr_assert_eq(sl_noise_remote_static(ini, rs), -EAGAIN);
	}
	/* every truncation and one extra byte */
	for (size_t l = 0; l < l2; l++) {
		memcpy(t, m2, l2);
		cr_assert_neq(sl_noise_read_msg2(ini, t, l, rs, &pl, &pl_len), 0,
			      "msg2 truncated to %zu accepted", l);
	}
	memcpy(t, m2, l2);
	t[l2] = 0;
	cr_assert_eq(sl_noise_read_msg2(ini, t, l2 + 1, rs, &pl, &pl_len), -EBADMSG);

	memcpy(t, m2, l2);
	cr_assert_eq(sl_noise_read_msg2(ini, t, l2, rs, &pl, &pl_len), 0);
	cr_assert_eq(pl_len, sizeof(pay2));
	cr_assert_arr_eq(pl, pay2, sizeof(pay2));
	cr_assert_eq(sl_noise_write_msg3(ini, m3, sizeof(m3), &l3, pay3,
					 sizeof(pay3)), 0);

	for (size_t bit = 0; bit < l3 * 8; bit++) {
		memcpy(t, m3, l3);
		t[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		cr_assert_eq(sl_noise_read_msg3(res, t, l3, rs, &pl, &pl_len),
			     -EBADMSG, "msg3 bit %zu accepted", bit);
		cr_assert_eq(sl_noise_state(res), SL_NOISE_WAIT_MSG3);
		cr_assert_eq(sl_noise_remote_static(res, rs), -EAGAIN);
	}
	for (size_t l = 0; l < l3; l++) {
		memcpy(t, m3, l3);
		cr_assert_neq(sl_noise_read_msg3(res, t, l, rs, &pl, &pl_len), 0);
	}
	memcpy(t, m3, l3);
	cr_assert_eq(sl_noise_read_msg3(res, t, l3, rs, &pl, &pl_len), 0);
	cr_assert_arr_eq(pl, pay3, sizeof(pay3));
	cr_assert(sl_noise_is_done(res));
	sl_noise_free(ini);
	sl_noise_free(res);
}

/* An all-zero (low-order) ephemeral gives an all-zero DH: refused, no state change. */
TV_BACKEND_TEST(noise, low_order_points_rejected)
{
	struct party pi, pr;
	struct sl_noise *ini, *res;
	uint8_t m1[32] = { 0 }, m2[256];
	const uint8_t *pl;
	size_t l, pl_len;

	ockam_parties(&pi, &pr);
	res = mk(&pr, SL_NOISE_RESPONDER);
	cr_assert_eq(sl_noise_read_msg1(res, m1, 32, &pl, &pl_len), 0);
	cr_assert_eq(sl_noise_write_msg2(res, m2, sizeof(m2), &l, NULL, 0), -EBADMSG);
	cr_assert_eq(sl_noise_state(res), SL_NOISE_SEND_MSG2);
	sl_noise_free(res);

	ini = mk(&pi, SL_NOISE_INITIATOR);
	cr_assert_eq(sl_noise_write_msg1(ini, m1, sizeof(m1), &l, NULL, 0), 0);
	memset(m2, 0, sizeof(m2));
	cr_assert_eq(sl_noise_read_msg2(ini, m2, SL_NOISE_MSG2_OVERHEAD, NULL, &pl,
					&pl_len), -EBADMSG);
	cr_assert_eq(sl_noise_state(ini), SL_NOISE_WAIT_MSG2);
	sl_noise_free(ini);
}

TV_BACKEND_TEST(noise, buffer_and_size_checks)
{
	static uint8_t big[SL_NOISE_MAX_MSG + 2], out[SL_NOISE_MAX_MSG + 2];
	struct party pi, pr;
	struct sl_noise *ini, *res;
	const uint8_t *pl;
	size_t l, pl_len;
	struct sl_noise_config bad = { 0 };

	cr_assert_null(sl_noise_new(&bad));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(sl_noise_new(NULL));

	ockam_parties(&pi, &pr);
	ini = mk(&pi, SL_NOISE_INITIATOR);
	res = mk(&pr, SL_NOISE_RESPONDER);
	cr_assert_eq(sl_noise_write_msg1(ini, out, 31, &l, NULL, 0), -ENOBUFS);
	cr_assert_eq(sl_noise_write_msg1(ini, out, sizeof(out), &l, big,
					 SL_NOISE_MAX_MSG - 31), -EMSGSIZE);
	cr_assert_eq(sl_noise_write_msg1(ini, out, 40, &l, big, 9), -ENOBUFS);
	cr_assert_eq(sl_noise_state(ini), SL_NOISE_START);
	cr_assert_eq(sl_noise_write_msg1(ini, out, sizeof(out), &l, NULL, 0), 0);
	cr_assert_eq(sl_noise_read_msg1(res, out, 31, &pl, &pl_len), -EMSGSIZE);
	cr_assert_eq(sl_noise_read_msg1(res, big, SL_NOISE_MAX_MSG + 1, &pl,
					&pl_len), -EMSGSIZE);
	cr_assert_eq(sl_noise_read_msg1(res, out, l, &pl, &pl_len), 0);

	/* the largest msg2 the protocol allows goes through, one more byte does not */
	cr_assert_eq(sl_noise_write_msg2(res, out, sizeof(out), &l, big,
					 SL_NOISE_MAX_MSG - SL_NOISE_MSG2_OVERHEAD + 1),
		     -EMSGSIZE);
	cr_assert_eq(sl_noise_write_msg2(res, out, SL_NOISE_MAX_MSG - 1, &l, big,
					 SL_NOISE_MAX_MSG - SL_NOISE_MSG2_OVERHEAD),
		     -ENOBUFS);
	cr_assert_eq(sl_noise_write_msg2(res, out, sizeof(out), &l, big,
					 SL_NOISE_MAX_MSG - SL_NOISE_MSG2_OVERHEAD), 0);
	cr_assert_eq(l, SL_NOISE_MAX_MSG);
	cr_assert_eq(sl_noise_read_msg2(ini, out, l, NULL, &pl, &pl_len), 0);
	cr_assert_eq(pl_len, SL_NOISE_MAX_MSG - SL_NOISE_MSG2_OVERHEAD);
	sl_noise_free(ini);
	sl_noise_free(res);
}

/* Random ephemerals: two handshakes never share keys, and both sides agree. */
TV_BACKEND_TEST(noise, random_ephemerals)
{
	struct party pi, pr;
	struct tv_bytes pay[3] = { 0 }, out[3], out2[3];
	struct sl_noise_keys ik, rk, ik2, rk2;

	ockam_parties(&pi, &pr);
	/* handshake() passes p->e; zero it and rely on NULL below */
	{
		struct sl_noise_config ci = {
			.role = SL_NOISE_INITIATOR, .cipher = SL_AEAD_AESGCM,
			.split = SL_NOISE_SPLIT_OCKAM, .name = pi.name,
			.name_len = 32, .static_sk = pi.s,
		};
		struct sl_noise *a = sl_noise_new(&ci), *b = sl_noise_new(&ci);
		uint8_t m1[32], m1b[32];
		size_t l;

		cr_assert(a && b);
		sl_noise_write_msg1(a, m1, 32, &l, NULL, 0);
		sl_noise_write_msg1(b, m1b, 32, &l, NULL, 0);
		cr_assert(memcmp(m1, m1b, 32), "two random ephemerals are equal");
		sl_noise_free(a);
		sl_noise_free(b);
	}
	handshake(&pi, &pr, pay, out, &ik, &rk);
	randombytes_buf(pi.e, 32);
	handshake(&pi, &pr, pay, out2, &ik2, &rk2);
	cr_assert(memcmp(ik.send, ik2.send, 32));
	for (int i = 0; i < 3; i++) {
		free(out[i].p);
		free(out2[i].p);
	}
}

/* A cached static public key gives byte-identical messages. */
TV_BACKEND_TEST(noise, cached_static_pk_same_bytes)
{
	struct party pi, pr;
	struct sl_noise *ini, *a, *b;
	uint8_t pub[32], m1[64], ma[256], mb[256];
	const uint8_t *pl;
	size_t l1, la, lb, pl_len;
	struct sl_noise_config cfg = { 0 };

	ockam_parties(&pi, &pr);
	ini = mk(&pi, SL_NOISE_INITIATOR);
	a = mk(&pr, SL_NOISE_RESPONDER);
	crypto_scalarmult_base(pub, pr.s);
	cfg = (struct sl_noise_config){
		.role = SL_NOISE_RESPONDER, .cipher = SL_AEAD_AESGCM,
		.split = SL_NOISE_SPLIT_OCKAM, .name = pr.name, .name_len = 32,
		.static_sk = pr.s, .static_pk = pub, .ephemeral_sk = pr.e,
	};
	b = sl_noise_new(&cfg);
	cr_assert(b);
	cr_assert_eq(sl_noise_write_msg1(ini, m1, sizeof(m1), &l1, NULL, 0), 0);
	cr_assert_eq(sl_noise_read_msg1(a, m1, l1, &pl, &pl_len), 0);
	cr_assert_eq(sl_noise_read_msg1(b, m1, l1, &pl, &pl_len), 0);
	cr_assert_eq(sl_noise_write_msg2(a, ma, sizeof(ma), &la, NULL, 0), 0);
	cr_assert_eq(sl_noise_write_msg2(b, mb, sizeof(mb), &lb, NULL, 0), 0);
	cr_assert_eq(la, lb);
	cr_assert_arr_eq(ma, mb, la);
	sl_noise_free(ini);
	sl_noise_free(a);
	sl_noise_free(b);
}
