// SPDX-License-Identifier: Apache-2.0
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/identity.h"

TestSuite(identity, .timeout = 10);

#define T0 1700000000ull

/*
 * The nth (0-based) hex value of `key` in ockam-wire-vectors.txt; keys may
 * repeat (section B has several change_history lines). malloc'd.
 */
static uint8_t *vector_n(const char *key, int nth, size_t *len)
{
	FILE *f = fopen(SL_VECTORS_DIR "/ockam-wire-vectors.txt", "r");
	size_t klen = strlen(key);
	static char line[8192];
	uint8_t *out = NULL;

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *p = line + klen;
		size_t n = 0;

		if (strncmp(line, key, klen) || *p != ' ' || nth--)
			continue;
		while (*p == ' ')
			p++;
		out = malloc(strlen(p) / 2 + 1);
		cr_assert_eq(sodium_hex2bin(out, strlen(p) / 2 + 1, p, strlen(p), " \n", &n, NULL), 0);
		*len = n;
		break;
	}
	fclose(f);
	cr_assert_not_null(out, "vector %s #%d missing", key, nth);
	return out;
}

static uint8_t *vector(const char *key, size_t *len)
{
	return vector_n(key, 0, len);
}

/* The text value (an identifier, "I" + hex) of `key`, nth occurrence. */
static void text_n(const char *key, int nth, char *out, size_t cap)
{
	FILE *f = fopen(SL_VECTORS_DIR "/ockam-wire-vectors.txt", "r");
	size_t klen = strlen(key);
	char line[512];

	cr_assert_not_null(f);
	cr_assert_geq(cap, 80);
	out[0] = 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) || line[klen] != ' ' || nth--)
			continue;
		sscanf(line + klen, " %79s", out);
		break;
	}
	fclose(f);
	cr_assert(out[0], "text %s missing", key);
}

static void init(void)
{
	cr_assert_geq(sodium_init(), 0);
}

/* Section B: three Ed25519 histories verify and hash to their identifiers. */
Test(identity, b_ed25519_histories, .init = init)
{
	static const struct {
		int nth_history;
		const char *id_key;
		int nth_id;
	} t[] = {
		{ 0, "identifier", 0 },
		{ 2, "computed_identifier", 0 },
		{ 3, "computed_identifier", 1 },
	};
	size_t i, n;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint8_t *h = vector_n("change_history", t[i].nth_history, &n);
		struct sl_identity *id = malloc(sizeof(*id));
		char want[80], got[SL_ID_TEXT_LEN + 1];
		uint8_t parsed[SL_ID_LEN];

		text_n(t[i].id_key, t[i].nth_id, want, sizeof(want));
		cr_assert_eq(sl_identity_decode(id, h, n), 0, "case %zu", i);
		cr_assert_eq(id->n, 1);
		cr_assert_eq(id->changes[0].key_type, SL_KEY_ED25519);
		sl_identity_id_format(id->id, got);
		cr_assert_str_eq(got, want);
		cr_assert_eq(sl_identity_id_parse(want, parsed), 0);
		cr_assert(!memcmp(parsed, id->id, SL_ID_LEN));
		cr_assert_eq(sl_identity_verify(id), 0, "case %zu", i);
		cr_assert_eq(id->history_len, n);
		free(id);
		free(h);
	}
}

Test(identity, b_first_history_times, .init = init)
{
	size_t n;
	uint8_t *h = vector_n("change_history", 0, &n);
	struct sl_identity *id = malloc(sizeof(*id));

	cr_assert_eq(sl_identity_decode(id, h, n), 0);
	cr_assert_eq(id->changes[0].valid_from, 1699539945);
	cr_assert_eq(id->changes[0].valid_until, 2014899945);
	cr_assert_not(id->changes[0].has_previous);
	cr_assert_not(id->changes[0].revoke_all_purpose_keys);
	free(id);
	free(h);
}

/* Section B: Ockam's P-256 identity (its orchestrator's) verifies; a flipped bit does not. */
Test(identity, b_p256_verifies, .init = init)
{
	size_t n;
	uint8_t *h = vector_n("change_history", 1, &n);
	struct sl_identity *id = malloc(sizeof(*id));
	char want[80], got[SL_ID_TEXT_LEN + 1];

	text_n("identifier", 1, want, sizeof(want));
	cr_assert_eq(sl_identity_decode(id, h, n), 0);
	cr_assert_eq(id->changes[0].key_type, SL_KEY_P256);
	cr_assert_eq(id->changes[0].sig_type, SL_KEY_P256);
	cr_assert_eq(id->changes[0].key_len, SL_P256_PK_LEN);
	cr_assert_eq(id->changes[0].key[0], 0x04, "SEC1 uncompressed");
	cr_assert(sl_p256_key_valid(id->changes[0].key));
	sl_identity_id_format(id->id, got);
	cr_assert_str_eq(got, want);
	cr_assert_eq(sl_identity_verify(id), 0);
	id->changes[0].sig[17] ^= 0x01;
	cr_assert_eq(sl_identity_verify(id), -EKEYREJECTED, "flipped r accepted");
	id->changes[0].sig[17] ^= 0x01;
	id->changes[0].sig[49] ^= 0x80;
	cr_assert_eq(sl_identity_verify(id), -EKEYREJECTED, "flipped s accepted");
	free(id);
	free(h);
}

static void static_pub(const char *key, uint8_t pub[32])
{
	size_t n;
	uint8_t *sk = vector(key, &n);

	cr_assert_eq(n, 32);
	crypto_scalarmult_base(pub, sk);
	free(sk);
}

struct side {
	const char *who;		/* "initiator" / "responder" */
	uint8_t seed_byte;
	const char *static_key;		/* section A key name */
	const char *payload;		/* G7 IdentityAndCredentials line */
};

static const struct side sides[] = {
	{ "initiator", 0x11, "initiator_static_sk", "msg3_payload(IdentityAndCredentials initiator)" },
	{ "responder", 0x22, "responder_static_sk", "msg2_payload(IdentityAndCredentials responder)" },
};

/* G7: the payloads decode and verify inside their validity, fail outside it. */
Test(identity, g7_payloads_verify_in_time, .init = init)
{
	size_t i, n;

	for (i = 0; i < 2; i++) {
		uint8_t *p = vector(sides[i].payload, &n);
		struct sl_idcreds *ic = malloc(sizeof(*ic));
		uint8_t pub[32], other[32];
		char key[64], want[80], got[SL_ID_TEXT_LEN + 1];
		const uint64_t exp = T0 + SL_PURPOSE_KEY_TTL;

		static_pub(sides[i].static_key, pub);
		static_pub(sides[1 - i].static_key, other);
		cr_assert_eq(sl_idcreds_decode(ic, p, n), 0, "%s", sides[i].who);
		cr_assert_eq(ic->n_credentials, 0);
		snprintf(key, sizeof(key), "%s_identifier", sides[i].who);
		text_n(key, 0, want, sizeof(want));
		sl_identity_id_format(ic->identity.id, got);
		cr_assert_str_eq(got, want);
		cr_assert_eq(ic->attestation.created_at, T0);
		cr_assert_eq(ic->attestation.expires_at, exp);

		cr_assert_eq(sl_idcreds_verify(ic, pub, T0), 0);
		cr_assert_eq(sl_idcreds_verify(ic, pub, T0 + 86400), 0);
		cr_assert_eq(sl_idcreds_verify(ic, pub, exp), 0, "last second");
		cr_assert_eq(sl_idcreds_verify(ic, pub, T0 - SL_CLOCK_SKEW), 0, "skew tolerated");
		cr_assert_eq(sl_idcreds_verify(ic, pub, exp + 1), -EKEYEXPIRED);
		cr_assert_eq(sl_idcreds_verify(ic, pub, T0 - SL_CLOCK_SKEW - 1), -EKEYEXPIRED);
		cr_assert_eq(sl_idcreds_verify(ic, pub, UINT64_MAX), -EKEYEXPIRED);
		cr_assert_eq(sl_idcreds_verify(ic, pub, 0), -EKEYEXPIRED);
		/* the attested key must be this peer's Noise static key */
		cr_assert_eq(sl_idcreds_verify(ic, other, T0), -EKEYREJECTED);
		/* known bytes (a handshake cache) skip signatures, never the key or the times */
		cr_assert_eq(sl_idcreds_check_known(ic, pub, T0), 0);
		cr_assert_eq(sl_idcreds_check_known(ic, pub, exp), 0);
		cr_assert_eq(sl_idcreds_check_known(ic, pub, exp + 1), -EKEYEXPIRED);
		cr_assert_eq(sl_idcreds_check_known(ic, pub, T0 - SL_CLOCK_SKEW - 1), -EKEYEXPIRED);
		cr_assert_eq(sl_idcreds_check_known(ic, other, T0), -EKEYREJECTED);
		free(ic);
		free(p);
	}
}

/* G7: the same bytes again from the seeds and t0 (Ed25519 signatures are deterministic). */
Test(identity, g7_recomputed_from_seeds, .init = init)
{
	size_t i, n, hl, al, pl;

	for (i = 0; i < 2; i++) {
		uint8_t seed[32], pub[32], hist[512], att[512], pay[1024];
		struct sl_identity *id = malloc(sizeof(*id));
		struct sl_identity_key key;
		char k[64];
		uint8_t *want;

		memset(seed, sides[i].seed_byte, sizeof(seed));
		static_pub(sides[i].static_key, pub);
		cr_assert_eq(sl_identity_create(&key, seed, T0, SL_IDENTITY_TTL, hist, sizeof(hist), &hl), 0);
		snprintf(k, sizeof(k), "%s_change_history", sides[i].who);
		want = vector(k, &n);
		cr_assert_eq(hl, n);
		cr_assert(!memcmp(hist, want, n), "%s history differs", sides[i].who);
		free(want);

		cr_assert_eq(sl_identity_decode(id, hist, hl), 0);
		cr_assert_eq(sl_attestation_create(id, &key, pub, T0, SL_PURPOSE_KEY_TTL, att,
						   sizeof(att), &al), 0);
		snprintf(k, sizeof(k), "%s_purpose_key_attestation", sides[i].who);
		want = vector(k, &n);
		cr_assert_eq(al, n);
		cr_assert(!memcmp(att, want, n), "%s attestation differs", sides[i].who);
		free(want);

		cr_assert_eq(sl_idcreds_encode(hist, hl, att, al, pay, sizeof(pay), &pl), 0);
		want = vector(sides[i].payload, &n);
		cr_assert_eq(pl, n);
		cr_assert(!memcmp(pay, want, n));
		free(want);
		cr_assert_eq(sl_idcreds_encode(hist, hl, att, al, pay, pl - 1, &pl), -E2BIG);
		sl_identity_key_wipe(&key);
		free(id);
	}
}

Test(identity, create_random_and_rotate, .init = init)
{
	struct sl_identity_key k1, k2, k3;
	struct sl_identity *id = malloc(sizeof(*id)), *id2 = malloc(sizeof(*id2));
	uint8_t h1[512], h2[1024], h3[1024], att[512], x[32];
	size_t l1, l2, l3, al;
	uint8_t zero[64] = { 0 };

	randombytes_buf(x, sizeof(x));
	cr_assert_eq(sl_identity_create(&k1, NULL, T0, SL_IDENTITY_TTL, h1, sizeof(h1), &l1), 0);
	cr_assert_eq(sl_identity_decode(id, h1, l1), 0);
	cr_assert_eq(sl_identity_verify(id), 0);

	cr_assert_eq(sl_identity_rotate(id, &k1, &k2, NULL, T0 + 10, SL_IDENTITY_TTL, h2,
					sizeof(h2), &l2), 0);
	cr_assert_eq(sl_identity_decode(id2, h2, l2), 0);
	cr_assert_eq(id2->n, 2);
	cr_assert(!memcmp(id2->id, id->id, SL_ID_LEN), "rotation keeps the identifier");
	cr_assert(id2->changes[1].has_previous_sig);
	cr_assert_eq(sl_identity_verify(id2), 0);
	/* a third change, then an attestation by the newest key */
	cr_assert_eq(sl_identity_rotate(id2, &k2, &k3, NULL, T0 + 20, SL_IDENTITY_TTL, h3,
					sizeof(h3), &l3), 0);
	cr_assert_eq(sl_identity_decode(id2, h3, l3), 0);
	cr_assert_eq(sl_identity_verify(id2), 0);
	cr_assert_eq(sl_attestation_create(id2, &k1, x, T0 + 30, SL_PURPOSE_KEY_TTL, att,
					   sizeof(att), &al), -EKEYREJECTED, "old key may not attest");
	cr_assert_eq(sl_attestation_create(id2, &k3, x, T0 + 30, SL_PURPOSE_KEY_TTL, att,
					   sizeof(att), &al), 0);
	{
		struct sl_attestation a;

		cr_assert_eq(sl_attestation_decode(&a, att, al), 0);
		cr_assert_eq(sl_attestation_verify(&a, id2, x, T0 + 40), 0);
		/* an attestation for the old history (different latest hash) is refused */
		cr_assert_eq(sl_attestation_verify(&a, id, x, T0 + 40), -EKEYREJECTED);
	}
	/* rotating with a key that is not the current one is refused */
	cr_assert_eq(sl_identity_rotate(id2, &k1, &k2, NULL, T0, SL_IDENTITY_TTL, h2, sizeof(h2),
					&l2), -EKEYREJECTED);
	/* expiry capped at the identity's validity, so a long ttl still verifies */
	cr_assert_eq(sl_identity_decode(id, h1, l1), 0);
	cr_assert_eq(sl_attestation_create(id, &k1, x, T0, UINT64_MAX, att, sizeof(att), &al), 0);
	{
		struct sl_attestation a;

		cr_assert_eq(sl_attestation_decode(&a, att, al), 0);
		cr_assert_eq(a.expires_at, T0 + SL_IDENTITY_TTL);
		cr_assert_eq(sl_attestation_verify(&a, id, x, T0), 0);
	}
	sl_identity_key_wipe(&k1);
	cr_assert(!memcmp(k1.sk, zero, sizeof(zero)), "wipe left key bytes");
	sl_identity_key_wipe(&k2);
	sl_identity_key_wipe(&k3);
	free(id);
	free(id2);
}

/* Flip each byte of the G7 payload: nothing may verify unless the flip is in ignored bytes. */
Test(identity, tamper_every_byte, .init = init)
{
	size_t n, i;
	uint8_t *p = vector(sides[0].payload, &n);
	struct sl_idcreds *ic = malloc(sizeof(*ic));
	uint8_t pub[32];

	static_pub(sides[0].static_key, pub);
	for (i = 0; i < n; i++) {
		int ret;

		p[i] ^= 0x01;
		ret = sl_idcreds_decode(ic, p, n);
		if (!ret)
			ret = sl_idcreds_verify(ic, pub, T0 + 1000);
		cr_assert_neq(ret, 0, "flip at byte %zu accepted", i);
		p[i] ^= 0x01;
	}
	cr_assert_eq(sl_idcreds_decode(ic, p, n), 0);
	cr_assert_eq(sl_idcreds_verify(ic, pub, T0 + 1000), 0);
	free(ic);
	free(p);
}

/* Chain rules of a history, by editing a decoded two-change history. */
Test(identity, chain_rules, .init = init)
{
	struct sl_identity_key k1, k2;
	struct sl_identity *id = malloc(sizeof(*id)), *bad = malloc(sizeof(*bad));
	uint8_t h1[512], h2[1024];
	size_t l1, l2;

	cr_assert_eq(sl_identity_create(&k1, NULL, T0, SL_IDENTITY_TTL, h1, sizeof(h1), &l1), 0);
	cr_assert_eq(sl_identity_decode(id, h1, l1), 0);
	cr_assert_eq(sl_identity_rotate(id, &k1, &k2, NULL, T0, SL_IDENTITY_TTL, h2, sizeof(h2),
					&l2), 0);
	cr_assert_eq(sl_identity_decode(id, h2, l2), 0);
	cr_assert_eq(sl_identity_verify(id), 0);

	memcpy(bad, id, sizeof(*bad));
	bad->changes[1].has_previous_sig = false;
	cr_assert_eq(sl_identity_verify(bad), -EKEYREJECTED, "previous_signature missing");
	memcpy(bad, id, sizeof(*bad));
	bad->changes[1].previous_sig[0] ^= 1;
	cr_assert_eq(sl_identity_verify(bad), -EKEYREJECTED, "previous_signature forged");
	memcpy(bad, id, sizeof(*bad));
	bad->changes[1].previous[0] ^= 1;
	cr_assert_eq(sl_identity_verify(bad), -EKEYREJECTED, "broken hash link");
	memcpy(bad, id, sizeof(*bad));
	bad->changes[1].valid_from = T0 - 1;
	cr_assert_eq(sl_identity_verify(bad), -EKEYREJECTED, "older than its predecessor");
	memcpy(bad, id, sizeof(*bad));
	bad->changes[0].has_previous = true;
	cr_assert_eq(sl_identity_verify(bad), -EKEYREJECTED, "first change with a previous");
	memcpy(bad, id, sizeof(*bad));
	bad->changes[1].version = 2;
	cr_assert_eq(sl_identity_verify(bad), -ENOTSUP, "unknown version");
	memcpy(bad, id, sizeof(*bad));
	bad->changes[1].sig_type = SL_KEY_P256;
	cr_assert_eq(sl_identity_verify(bad), -EKEYREJECTED, "signature of another key type");
	/* dropping the last change leaves a valid older history */
	memcpy(bad, id, sizeof(*bad));
	bad->n = 1;
	cr_assert_eq(sl_identity_verify(bad), 0);
	sl_identity_key_wipe(&k1);
	sl_identity_key_wipe(&k2);
	free(id);
	free(bad);
}

/* Attestation rules, on a decoded G7 attestation edited field by field. */
Test(identity, attestation_rules, .init = init)
{
	size_t n;
	uint8_t *p = vector(sides[1].payload, &n);
	struct sl_idcreds *ic = malloc(sizeof(*ic));
	struct sl_attestation a;
	uint8_t pub[32];

	static_pub(sides[1].static_key, pub);
	cr_assert_eq(sl_idcreds_decode(ic, p, n), 0);
	cr_assert_eq(sl_identity_verify(&ic->identity), 0);
#define CHECK(edit, want)                                                            \
	do {                                                                         \
		a = ic->attestation;                                                 \
		edit;                                                                \
		cr_assert_eq(sl_attestation_verify(&a, &ic->identity, pub, T0), want, #edit); \
	} while (0)
	CHECK((void)0, 0);
	CHECK(a.version = 2, -ENOTSUP);
	CHECK(a.data_type = 3, -ENOTSUP);
	CHECK(a.subject[5] ^= 1, -EKEYREJECTED);
	CHECK(a.latest[5] ^= 1, -EKEYREJECTED);
	CHECK(a.expires_at = T0 + SL_IDENTITY_TTL + 1, -EKEYEXPIRED);
	CHECK(a.created_at = T0 - 1, -EKEYEXPIRED);
	CHECK(a.sig[0] ^= 1, -EKEYREJECTED);
	CHECK(a.sig_type = SL_KEY_P256, -EKEYREJECTED);
	CHECK(a.key_type = 1, -EKEYREJECTED);
#undef CHECK
	/* time rules are checked against the signed values: edit after signing fails too */
	a = ic->attestation;
	a.created_at = T0 + 1000;
	cr_assert_eq(sl_attestation_verify(&a, &ic->identity, pub, T0), -EKEYEXPIRED);
	free(ic);
	free(p);
}

/* Accepted variations and malformed payloads. */
Test(identity, idcreds_credentials_and_garbage, .init = init)
{
	size_t n, i;
	uint8_t *p = vector(sides[0].payload, &n);
	uint8_t *q = malloc(n + 64);
	struct sl_idcreds *ic = malloc(sizeof(*ic));
	uint8_t pub[32];

	static_pub(sides[0].static_key, pub);
	/* credentials present: [[bytes, [0, [bytes64]]]] -- accepted and ignored */
	memcpy(q, p, n - 1);
	memcpy(q + n - 1, "\x81\x82\x41\x00\x82\x00\x81\x40", 8);
	cr_assert_eq(sl_idcreds_decode(ic, q, n + 7), 0);
	cr_assert_eq(ic->n_credentials, 1);
	cr_assert_eq(sl_idcreds_verify(ic, pub, T0), 0);
	/* credentials omitted (array of 2) */
	memcpy(q, p, n - 1);
	q[0] = 0x82;
	cr_assert_eq(sl_idcreds_decode(ic, q, n - 1), 0);
	/* trailing byte, and every truncation */
	memcpy(q, p, n);
	q[n] = 0;
	cr_assert_eq(sl_idcreds_decode(ic, q, n + 1), -EBADMSG);
	for (i = 0; i < n; i++) {
		uint8_t *cut = malloc(i ? i : 1);

		memcpy(cut, p, i);
		cr_assert_neq(sl_idcreds_decode(ic, cut, i), 0, "len %zu", i);
		free(cut);
	}
	/* an empty history */
	cr_assert_eq(sl_idcreds_decode(ic, (const uint8_t *)"\x83\x80\x80\x80", 4), -EBADMSG);
	free(q);
	free(ic);
	free(p);
}

Test(identity, too_many_changes, .init = init)
{
	size_t n, i, k = 0;
	uint8_t *h = vector_n("change_history", 0, &n);
	uint8_t *many = malloc(2 + (SL_IDENTITY_MAX_CHANGES + 1) * n);
	struct sl_identity *id = malloc(sizeof(*id));

	/* 17 copies of the one change (h without its 81 header) */
	many[k++] = 0x80 | (SL_IDENTITY_MAX_CHANGES + 1);
	for (i = 0; i <= SL_IDENTITY_MAX_CHANGES; i++) {
		memcpy(many + k, h + 1, n - 1);
		k += n - 1;
	}
	cr_assert_eq(sl_identity_decode(id, many, k), -E2BIG);
	/* and two copies decode but do not verify (no link, no previous signature) */
	many[0] = 0x82;
	cr_assert_eq(sl_identity_decode(id, many, 1 + 2 * (n - 1)), 0);
	cr_assert_eq(sl_identity_verify(id), -EKEYREJECTED);
	free(many);
	free(id);
	free(h);
}

Test(identity, id_text, .init = init)
{
	uint8_t id[SL_ID_LEN];

	cr_assert_eq(sl_identity_id_parse("I923829d0397a06fa862be5a87b7966959b8ef99ab6455b843ca9131a747b4819", id), 0);
	cr_assert_eq(sl_identity_id_parse("I923829D0397A06FA862BE5A87B7966959B8EF99AB6455B843CA9131A747B4819", id), 0);
	cr_assert_eq(sl_identity_id_parse("923829d0397a06fa862be5a87b7966959b8ef99ab6455b843ca9131a747b4819", id), -EINVAL);
	cr_assert_eq(sl_identity_id_parse("I923829d0397a06fa862be5a87b7966959b8ef99ab6455b843ca9131a747b481", id), -EINVAL);
	cr_assert_eq(sl_identity_id_parse("I923829d0397a06fa862be5a87b7966959b8ef99ab6455b843ca9131a747b481g", id), -EINVAL);
	cr_assert_eq(sl_identity_id_parse("", id), -EINVAL);
}

/*
 * P-256 vectors built outside Sluice (tests/vectors/make_p256_identity.py:
 * python3-cbor2 and OpenSSL through python3-cryptography), one line each:
 *   history NAME EXPECT HEX / identifier NAME I<hex> /
 *   attestation NAME HISTORY EXPECT X25519_PUB NOW HEX
 */
#define P256_FILE SL_VECTORS_DIR "/p256-identity.txt"
#define P256_MAX_TOKENS 7

struct p256_line {
	char *tok[P256_MAX_TOKENS];
	unsigned n;
};

/* The next line whose first token is kind (and second is name, if set); 0 at EOF. */
static int p256_next(FILE *f, const char *kind, const char *name, char **buf, size_t *cap,
		     struct p256_line *l)
{
	while (getline(buf, cap, f) > 0) {
		char *save = NULL, *t;

		if ((*buf)[0] == '#')
			continue;
		l->n = 0;
		for (t = strtok_r(*buf, " \n", &save); t && l->n < P256_MAX_TOKENS;
		     t = strtok_r(NULL, " \n", &save))
			l->tok[l->n++] = t;
		if (l->n >= 2 && !strcmp(l->tok[0], kind) && (!name || !strcmp(l->tok[1], name)))
			return 1;
	}
	return 0;
}

static uint8_t *unhex(const char *hex, size_t *len)
{
	size_t cap = strlen(hex) / 2 + 1;
	uint8_t *out = malloc(cap);

	cr_assert_not_null(out);
	cr_assert_eq(sodium_hex2bin(out, cap, hex, strlen(hex), NULL, len, NULL), 0, "bad hex");
	return out;
}

/* The bytes (and EXPECT) of history name, or of the identifier line's value. */
static uint8_t *p256_history(const char *name, char *expect, size_t cap, size_t *len)
{
	FILE *f = fopen(P256_FILE, "r");
	struct p256_line l;
	size_t bcap = 0;
	char *buf = NULL;
	uint8_t *out;

	cr_assert_not_null(f, "%s missing: run tests/vectors/make_p256_identity.py", P256_FILE);
	cr_assert(p256_next(f, "history", name, &buf, &bcap, &l), "history %s missing", name);
	cr_assert_eq(l.n, 4);
	if (expect)
		snprintf(expect, cap, "%s", l.tok[2]);
	out = unhex(l.tok[3], len);
	free(buf);
	fclose(f);
	return out;
}

static void p256_identifier(const char *name, char *out, size_t cap)
{
	FILE *f = fopen(P256_FILE, "r");
	struct p256_line l;
	size_t bcap = 0;
	char *buf = NULL;

	cr_assert_not_null(f);
	cr_assert(p256_next(f, "identifier", name, &buf, &bcap, &l), "identifier %s missing", name);
	cr_assert_eq(l.n, 3);
	snprintf(out, cap, "%s", l.tok[2]);
	free(buf);
	fclose(f);
}

/* Every history: decodes, verifies and hashes to Python's identifier, or fails as expected. */
Test(identity, p256_histories, .init = init)
{
	static const struct {
		const char *expect;
		int decode, verify;	/* verify only when decode is 0 */
		unsigned at_least;	/* so that a truncated file cannot pass */
	} map[] = {
		{ "valid", 0, 0, 5 },
		{ "bad_signature", 0, -EKEYREJECTED, 10 },
		{ "bad_encoding", -EBADMSG, 0, 6 },
		{ "bad_point", 0, -EBADMSG, 6 },
	};
	unsigned seen[sizeof(map) / sizeof(map[0])] = { 0 };
	struct sl_identity *id = malloc(sizeof(*id));
	FILE *f = fopen(P256_FILE, "r");
	struct p256_line l;
	size_t bcap = 0, i;
	char *buf = NULL;

	cr_assert_not_null(f);
	while (p256_next(f, "history", NULL, &buf, &bcap, &l)) {
		const char *name = l.tok[1];
		size_t n, k;
		uint8_t *h;
		int ret;

		cr_assert_eq(l.n, 4, "history %s: 4 fields", name);
		for (k = 0; k < sizeof(map) / sizeof(map[0]); k++)
			if (!strcmp(l.tok[2], map[k].expect))
				break;
		cr_assert_lt(k, sizeof(map) / sizeof(map[0]), "%s: unknown %s", name, l.tok[2]);
		seen[k]++;
		h = unhex(l.tok[3], &n);
		ret = sl_identity_decode(id, h, n);
		cr_assert_eq(ret, map[k].decode, "%s: decode %d", name, ret);
		if (!ret) {
			const struct sl_change *last = sl_identity_latest(id);

			ret = sl_identity_verify(id);
			cr_assert_eq(ret, map[k].verify, "%s: verify %d", name, ret);
			if (!strcmp(map[k].expect, "bad_point"))
				cr_assert_not(sl_p256_key_valid(last->key), "%s: key valid", name);
		}
		if (!strcmp(map[k].expect, "valid")) {
			char want[80], got[SL_ID_TEXT_LEN + 1];

			p256_identifier(name, want, sizeof(want));
			sl_identity_id_format(id->id, got);
			cr_assert_str_eq(got, want, "%s: identifier", name);
			cr_assert_eq(id->history_len, n);
		}
		free(h);
	}
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		cr_assert_geq(seen[i], map[i].at_least, "only %u %s histories", seen[i],
			      map[i].expect);
	free(buf);
	fclose(f);
	free(id);
}

/* Rotations across key types: the key types and the links are what Python wrote. */
Test(identity, p256_mixed_rotations, .init = init)
{
	static const struct {
		const char *name;
		uint8_t first, second;
	} t[] = {
		{ "p256_then_ed25519", SL_KEY_P256, SL_KEY_ED25519 },
		{ "ed25519_then_p256", SL_KEY_ED25519, SL_KEY_P256 },
		{ "p256_then_p256", SL_KEY_P256, SL_KEY_P256 },
	};
	struct sl_identity *id = malloc(sizeof(*id)), *bad = malloc(sizeof(*bad));
	size_t i, n;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint8_t *h = p256_history(t[i].name, NULL, 0, &n);
		const struct sl_change *c;

		cr_assert_eq(sl_identity_decode(id, h, n), 0, "%s", t[i].name);
		cr_assert_eq(id->n, 2);
		c = &id->changes[1];
		cr_assert_eq(id->changes[0].key_type, t[i].first, "%s", t[i].name);
		cr_assert_eq(c->key_type, t[i].second, "%s", t[i].name);
		cr_assert_eq(c->sig_type, t[i].second);
		cr_assert(c->has_previous_sig);
		cr_assert_eq(c->previous_sig_type, t[i].first, "signed by the key it replaces");
		cr_assert(!memcmp(c->previous, id->changes[0].hash, SL_ID_LEN));
		cr_assert_eq(sl_identity_verify(id), 0, "%s", t[i].name);
		/* the same rules as for Ed25519: previous_signature required and checked */
		memcpy(bad, id, sizeof(*bad));
		bad->changes[1].has_previous_sig = false;
		cr_assert_eq(sl_identity_verify(bad), -EKEYREJECTED, "%s", t[i].name);
		memcpy(bad, id, sizeof(*bad));
		bad->changes[1].previous_sig[3] ^= 0x10;
		cr_assert_eq(sl_identity_verify(bad), -EKEYREJECTED, "%s", t[i].name);
		memcpy(bad, id, sizeof(*bad));
		bad->changes[1].previous_sig_type ^= 1;
		cr_assert_eq(sl_identity_verify(bad), -EKEYREJECTED, "%s", t[i].name);
		free(h);
	}
	free(id);
	free(bad);
}

/* Flip each byte of a P-256 history: nothing verifies. */
Test(identity, p256_tamper_every_byte, .init = init)
{
	struct sl_identity *id = malloc(sizeof(*id));
	size_t n, i;
	uint8_t *h = p256_history("p256_then_ed25519", NULL, 0, &n);

	for (i = 0; i < n; i++) {
		int ret;

		h[i] ^= 0x01;
		ret = sl_identity_decode(id, h, n);
		if (!ret)
			ret = sl_identity_verify(id);
		cr_assert_neq(ret, 0, "flip at byte %zu accepted", i);
		h[i] ^= 0x01;
	}
	cr_assert_eq(sl_identity_decode(id, h, n), 0);
	cr_assert_eq(sl_identity_verify(id), 0);
	free(h);
	free(id);
}

/* Attestations of an X25519 key signed by P-256 (and Ed25519 after P-256) primary keys. */
Test(identity, p256_attestations, .init = init)
{
	struct sl_idcreds *ic = malloc(sizeof(*ic));
	FILE *f = fopen(P256_FILE, "r");
	unsigned valid = 0, bad = 0;
	struct p256_line l;
	size_t bcap = 0;
	char *buf = NULL;

	cr_assert_not_null(f);
	while (p256_next(f, "attestation", NULL, &buf, &bcap, &l)) {
		const char *name = l.tok[1];
		uint8_t *h, *att, x[32], pay[2048], other[32];
		size_t hl, al, xl, pl;
		struct sl_attestation a;
		uint64_t now;
		bool ok;

		cr_assert_eq(l.n, 7, "attestation %s: 7 fields", name);
		ok = !strcmp(l.tok[3], "valid");
		cr_assert(ok || !strcmp(l.tok[3], "bad_signature"), "%s: %s", name, l.tok[3]);
		cr_assert_eq(sodium_hex2bin(x, sizeof(x), l.tok[4], strlen(l.tok[4]), NULL, &xl,
					    NULL), 0);
		cr_assert_eq(xl, 32);
		now = strtoull(l.tok[5], NULL, 10);
		att = unhex(l.tok[6], &al);
		h = p256_history(l.tok[2], NULL, 0, &hl);

		cr_assert_eq(sl_identity_decode(&ic->identity, h, hl), 0, "%s", name);
		cr_assert_eq(sl_identity_verify(&ic->identity), 0, "%s", name);
		cr_assert_eq(sl_attestation_decode(&a, att, al), 0, "%s", name);
		cr_assert_eq(a.key_type, SL_PURPOSE_SECURE_CHANNEL);
		cr_assert_eq(sl_attestation_verify(&a, &ic->identity, x, now), ok ? 0 : -EKEYREJECTED,
			     "%s", name);
		/* the whole handshake payload, as a peer would send it */
		cr_assert_eq(sl_idcreds_encode(h, hl, att, al, pay, sizeof(pay), &pl), 0);
		cr_assert_eq(sl_idcreds_decode(ic, pay, pl), 0, "%s", name);
		cr_assert_eq(sl_idcreds_verify(ic, x, now), ok ? 0 : -EKEYREJECTED, "%s", name);
		if (ok) {
			memcpy(other, x, sizeof(other));
			other[0] ^= 1;
			cr_assert_eq(sl_idcreds_verify(ic, other, now), -EKEYREJECTED, "%s", name);
			cr_assert_eq(sl_idcreds_verify(ic, x, a.expires_at + 1), -EKEYEXPIRED);
			cr_assert_eq(sl_idcreds_check_known(ic, x, now), 0);
			a.sig[9] ^= 0x04;
			cr_assert_eq(sl_attestation_verify(&a, &ic->identity, x, now), -EKEYREJECTED,
				     "%s: flipped signature accepted", name);
			valid++;
		} else {
			bad++;
		}
		free(h);
		free(att);
	}
	cr_assert_geq(valid, 4);
	cr_assert_geq(bad, 5);
	free(buf);
	fclose(f);
	free(ic);
}
