// SPDX-License-Identifier: Apache-2.0
/* Identities, purpose-key attestations, IdentityAndCredentials (see identity.h). */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "crypto/identity.h"

#define DATA_MAX 256	/* our ChangeData and attestation data are ~120 bytes */

void sl_identity_key_wipe(struct sl_identity_key *key)
{
	sodium_memzero(key, sizeof(*key));
}

void sl_identity_id_format(const uint8_t id[SL_ID_LEN], char out[SL_ID_TEXT_LEN + 1])
{
	out[0] = 'I';
	sodium_bin2hex(out + 1, 2 * SL_ID_LEN + 1, id, SL_ID_LEN);
}

int sl_identity_id_parse(const char *text, uint8_t id[SL_ID_LEN])
{
	size_t n;

	if (text[0] != 'I' || strlen(text) != SL_ID_TEXT_LEN)
		return -EINVAL;
	if (sodium_hex2bin(id, SL_ID_LEN, text + 1, 2 * SL_ID_LEN, NULL, &n, NULL) ||
	    n != SL_ID_LEN)
		return -EINVAL;
	return 0;
}

/* Encoding */

static void put_enum_bytes(struct sl_cbor_writer *w, unsigned variant, const void *p, size_t n)
{
	sl_cbor_put_enum(w, variant, 1);
	sl_cbor_put_bytes(w, p, n);
}

/* VersionedData [1, type, bytes inner] into out. */
static int versioned(uint64_t type, const uint8_t *inner, size_t n, uint8_t *out, size_t cap,
		     size_t *len)
{
	struct sl_cbor_writer w;

	sl_cbor_writer_init(&w, out, cap);
	sl_cbor_put_array(&w, 3);
	sl_cbor_put_uint(&w, 1);
	sl_cbor_put_uint(&w, type);
	sl_cbor_put_bytes(&w, inner, n);
	return sl_cbor_writer_finish(&w, len);
}

static void keypair(struct sl_identity_key *key, const uint8_t *seed)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];

	if (seed)
		crypto_sign_seed_keypair(pk, key->sk, seed);
	else
		crypto_sign_keypair(pk, key->sk);
}

static const uint8_t *public_of(const struct sl_identity_key *key)
{
	return key->sk + crypto_sign_SEEDBYTES;
}

/*
 * One Change for key, linked to prev (NULL for the first), signed by key and,
 * when prev_key is set, by prev_key too. Appended to w.
 */
static int put_change(struct sl_cbor_writer *w, const struct sl_identity_key *key,
		      const uint8_t *prev, const struct sl_identity_key *prev_key,
		      uint64_t now, uint64_t ttl)
{
	uint8_t inner[DATA_MAX], data[DATA_MAX], hash[SL_ID_LEN], sig[SL_SIG_LEN];
	struct sl_cbor_writer cw;
	size_t ilen, dlen;
	int ret;

	if (ttl > UINT64_MAX - now)
		return -EINVAL;
	sl_cbor_writer_init(&cw, inner, sizeof(inner));
	sl_cbor_put_array(&cw, 5);
	if (prev)
		sl_cbor_put_bytes(&cw, prev, SL_ID_LEN);
	else
		sl_cbor_put_null(&cw);
	put_enum_bytes(&cw, SL_KEY_ED25519, public_of(key), SL_ED25519_PK_LEN);
	sl_cbor_put_bool(&cw, false);
	sl_cbor_put_uint(&cw, now);
	sl_cbor_put_uint(&cw, now + ttl);
	ret = sl_cbor_writer_finish(&cw, &ilen);
	if (!ret)
		ret = versioned(SL_DATA_CHANGE, inner, ilen, data, sizeof(data), &dlen);
	if (ret)
		return ret;
	crypto_hash_sha256(hash, data, dlen);

	sl_cbor_put_array(w, prev_key ? 3 : 2);
	sl_cbor_put_bytes(w, data, dlen);
	crypto_sign_detached(sig, NULL, hash, sizeof(hash), key->sk);
	put_enum_bytes(w, SL_KEY_ED25519, sig, sizeof(sig));
	if (prev_key) {
		crypto_sign_detached(sig, NULL, hash, sizeof(hash), prev_key->sk);
		put_enum_bytes(w, SL_KEY_ED25519, sig, sizeof(sig));
	}
	return w->err;
}

int sl_identity_create(struct sl_identity_key *key, const uint8_t *seed, uint64_t now,
		       uint64_t ttl, uint8_t *out, size_t cap, size_t *out_len)
{
	struct sl_cbor_writer w;
	int ret;

	keypair(key, seed);
	sl_cbor_writer_init(&w, out, cap);
	sl_cbor_put_array(&w, 1);
	ret = put_change(&w, key, NULL, NULL, now, ttl);
	if (!ret)
		ret = sl_cbor_writer_finish(&w, out_len);
	if (ret)
		sl_identity_key_wipe(key);
	return ret;
}

int sl_identity_rotate(const struct sl_identity *id, const struct sl_identity_key *old,
		       struct sl_identity_key *new_key, const uint8_t *seed, uint64_t now,
		       uint64_t ttl, uint8_t *out, size_t cap, size_t *out_len)
{
	const struct sl_change *last = sl_identity_latest(id);
	struct sl_cbor_writer w;
	unsigned i;
	int ret;

	if (id->n >= SL_IDENTITY_MAX_CHANGES)
		return -E2BIG;
	/* a rotation must be signed by the key it replaces */
	if (last->key_type != SL_KEY_ED25519 ||
	    sodium_memcmp(last->key, public_of(old), SL_ED25519_PK_LEN))
		return -EKEYREJECTED;
	keypair(new_key, seed);
	sl_cbor_writer_init(&w, out, cap);
	sl_cbor_put_array(&w, id->n + 1);
	for (i = 0; i < id->n; i++)
		sl_cbor_put_raw(&w, id->changes[i].raw, id->changes[i].raw_len);
	ret = put_change(&w, new_key, last->hash, old, now, ttl);
	if (!ret)
		ret = sl_cbor_writer_finish(&w, out_len);
	if (ret)
		sl_identity_key_wipe(new_key);
	return ret;
}

/* Decoding */

/* Enum [variant, [bytes]] with the byte length each variant must have. */
static int get_enum_bytes(struct sl_cbor_reader *rd, const size_t *lens, size_t nvariants,
			  uint8_t *variant, uint8_t *out, uint8_t *out_len)
{
	struct sl_cbor_array outer, fields;
	const uint8_t *p;
	uint64_t idx;
	size_t n;
	int ret;

	ret = sl_cbor_enum_enter(rd, &outer, &idx, &fields);
	if (!ret && idx >= nvariants)
		ret = -EBADMSG;
	if (!ret)
		ret = sl_cbor_field(rd, &fields);
	if (!ret)
		ret = sl_cbor_get_bytes(rd, &p, &n);
	if (!ret && n != lens[idx])
		ret = -EBADMSG;
	if (!ret)
		ret = sl_cbor_enum_leave(rd, &outer, &fields);
	if (ret)
		return ret;
	*variant = (uint8_t)idx;
	memcpy(out, p, n);
	if (out_len)
		*out_len = (uint8_t)n;
	return 0;
}

static const size_t key_lens[] = { SL_ED25519_PK_LEN, SL_P256_PK_LEN };
static const size_t sig_lens[] = { SL_SIG_LEN, SL_SIG_LEN };

/*
 * VersionedData [u8 version, u8 data_type, bytes data]: the inner bytes of
 * the signed data, and a reader over them.
 */
static int get_versioned(const uint8_t *p, size_t n, uint64_t *version, uint64_t *type,
			 struct sl_cbor_reader *inner)
{
	struct sl_cbor_reader rd;
	struct sl_cbor_array a;
	const uint8_t *d;
	size_t dn;
	int ret;

	sl_cbor_reader_init(&rd, p, n);
	ret = sl_cbor_array_enter(&rd, &a);
	if (!ret)
		ret = sl_cbor_field(&rd, &a);
	if (!ret)
		ret = sl_cbor_get_uint_max(&rd, 0xff, version);
	if (!ret)
		ret = sl_cbor_field(&rd, &a);
	if (!ret)
		ret = sl_cbor_get_uint_max(&rd, 0xff, type);
	if (!ret)
		ret = sl_cbor_field(&rd, &a);
	if (!ret)
		ret = sl_cbor_get_bytes(&rd, &d, &dn);
	if (!ret)
		ret = sl_cbor_array_leave(&rd, &a);
	if (!ret && !sl_cbor_at_end(&rd))
		ret = -EBADMSG;
	if (!ret)
		sl_cbor_reader_init(inner, d, dn);
	return ret;
}

/* ChangeData [?bytes32 previous, PrimaryPublicKey, bool, u64 from, u64 until]. */
static int get_change_data(struct sl_cbor_reader *rd, struct sl_change *c)
{
	struct sl_cbor_array a;
	int ret;

	ret = sl_cbor_array_enter(rd, &a);
	if (!ret)
		ret = sl_cbor_field_opt(rd, &a, &c->has_previous);
	if (!ret && c->has_previous)
		ret = sl_cbor_get_bytes_n(rd, c->previous, SL_ID_LEN);
	if (!ret)
		ret = sl_cbor_field(rd, &a);
	if (!ret)
		ret = get_enum_bytes(rd, key_lens, 2, &c->key_type, c->key, &c->key_len);
	if (!ret)
		ret = sl_cbor_field(rd, &a);
	if (!ret)
		ret = sl_cbor_get_bool(rd, &c->revoke_all_purpose_keys);
	if (!ret)
		ret = sl_cbor_field(rd, &a);
	if (!ret)
		ret = sl_cbor_get_uint(rd, &c->valid_from);
	if (!ret)
		ret = sl_cbor_field(rd, &a);
	if (!ret)
		ret = sl_cbor_get_uint(rd, &c->valid_until);
	if (!ret)
		ret = sl_cbor_array_leave(rd, &a);
	if (!ret && !sl_cbor_at_end(rd))
		ret = -EBADMSG;
	return ret;
}

/* Change [bytes data, ChangeSignature, ?ChangeSignature previous_signature]. */
static int get_change(struct sl_cbor_reader *rd, struct sl_change *c)
{
	struct sl_cbor_reader inner;
	struct sl_cbor_array a;
	int ret;

	memset(c, 0, sizeof(*c));
	c->raw = rd->p;
	ret = sl_cbor_array_enter(rd, &a);
	if (!ret)
		ret = sl_cbor_field(rd, &a);
	if (!ret)
		ret = sl_cbor_get_bytes(rd, &c->data, &c->data_len);
	if (!ret)
		ret = sl_cbor_field(rd, &a);
	if (!ret)
		ret = get_enum_bytes(rd, sig_lens, 2, &c->sig_type, c->sig, NULL);
	if (!ret)
		ret = sl_cbor_field_opt(rd, &a, &c->has_previous_sig);
	if (!ret && c->has_previous_sig)
		ret = get_enum_bytes(rd, sig_lens, 2, &c->previous_sig_type, c->previous_sig, NULL);
	if (!ret)
		ret = sl_cbor_array_leave(rd, &a);
	if (ret)
		return ret;
	c->raw_len = (size_t)(rd->p - c->raw);
	crypto_hash_sha256(c->hash, c->data, c->data_len);
	ret = get_versioned(c->data, c->data_len, &c->version, &c->data_type, &inner);
	return ret ? ret : get_change_data(&inner, c);
}

int sl_identity_decode_cbor(struct sl_identity *id, struct sl_cbor_reader *rd)
{
	struct sl_cbor_array a;
	int ret;

	id->n = 0;
	id->history = rd->p;
	ret = sl_cbor_array_enter(rd, &a);
	if (ret)
		return ret;
	while ((ret = sl_cbor_array_next(rd, &a)) > 0) {
		if (id->n == SL_IDENTITY_MAX_CHANGES)
			return -E2BIG;
		ret = get_change(rd, &id->changes[id->n]);
		if (ret)
			return ret;
		id->n++;
	}
	if (!ret)
		ret = sl_cbor_array_leave(rd, &a);
	if (!ret && !id->n)
		ret = -EBADMSG;	/* an identity has at least its first change */
	if (ret)
		return ret;
	id->history_len = (size_t)(rd->p - id->history);
	memcpy(id->id, id->changes[0].hash, SL_ID_LEN);
	return 0;
}

int sl_identity_decode(struct sl_identity *id, const uint8_t *p, size_t len)
{
	struct sl_cbor_reader rd;
	int ret;

	sl_cbor_reader_init(&rd, p, len);
	ret = sl_identity_decode_cbor(id, &rd);
	if (!ret && !sl_cbor_at_end(&rd))
		ret = -EBADMSG;
	return ret;
}

/* Verification */

/* A signature of sig_type by a key of key_type over the 32-byte hash. */
static int verify_sig(uint8_t key_type, const uint8_t *key, uint8_t sig_type,
		      const uint8_t *sig, const uint8_t hash[SL_ID_LEN])
{
	if (key_type != sig_type)
		return -EKEYREJECTED;
	/* ECDSA-SHA256 of the 32-byte hash, so hashed once more: what Ockam's P-256 signs */
	if (key_type == SL_KEY_P256)
		return sl_p256_verify(key, sig, hash, SL_ID_LEN);
	if (key_type != SL_KEY_ED25519)
		return -ENOTSUP;
	if (crypto_sign_verify_detached(sig, hash, SL_ID_LEN, key))
		return -EKEYREJECTED;
	return 0;
}

int sl_identity_verify(const struct sl_identity *id)
{
	unsigned i;
	int ret;

	if (!id->n)
		return -EBADMSG;
	for (i = 0; i < id->n; i++) {
		const struct sl_change *c = &id->changes[i];
		const struct sl_change *prev = i ? &id->changes[i - 1] : NULL;

		if (c->version != 1 || c->data_type != SL_DATA_CHANGE)
			return -ENOTSUP;
		if (!prev) {
			if (c->has_previous)
				return -EKEYREJECTED;
		} else {
			/* linked to its predecessor, not older than it, endorsed by its key */
			if (!c->has_previous || sodium_memcmp(c->previous, prev->hash, SL_ID_LEN) ||
			    c->valid_from < prev->valid_from || !c->has_previous_sig)
				return -EKEYREJECTED;
			ret = verify_sig(prev->key_type, prev->key, c->previous_sig_type,
					 c->previous_sig, c->hash);
			if (ret)
				return ret;
		}
		ret = verify_sig(c->key_type, c->key, c->sig_type, c->sig, c->hash);
		if (ret)
			return ret;
	}
	return 0;
}

/* Purpose-key attestations */

int sl_attestation_create(const struct sl_identity *id, const struct sl_identity_key *key,
			  const uint8_t x25519_pk[32], uint64_t now, uint64_t ttl,
			  uint8_t *out, size_t cap, size_t *out_len)
{
	const struct sl_change *last = sl_identity_latest(id);
	uint8_t inner[DATA_MAX], data[DATA_MAX], hash[SL_ID_LEN], sig[SL_SIG_LEN];
	struct sl_cbor_writer w;
	uint64_t expires;
	size_t ilen, dlen;
	int ret;

	if (last->key_type != SL_KEY_ED25519 ||
	    sodium_memcmp(last->key, public_of(key), SL_ED25519_PK_LEN))
		return -EKEYREJECTED;
	expires = ttl > UINT64_MAX - now ? UINT64_MAX : now + ttl;
	if (expires > last->valid_until)
		expires = last->valid_until;
	sl_cbor_writer_init(&w, inner, sizeof(inner));
	sl_cbor_put_array(&w, 5);
	sl_cbor_put_bytes(&w, id->id, SL_ID_LEN);
	sl_cbor_put_bytes(&w, last->hash, SL_ID_LEN);
	put_enum_bytes(&w, SL_PURPOSE_SECURE_CHANNEL, x25519_pk, 32);
	sl_cbor_put_uint(&w, now);
	sl_cbor_put_uint(&w, expires);
	ret = sl_cbor_writer_finish(&w, &ilen);
	if (!ret)
		ret = versioned(SL_DATA_PURPOSE_KEY, inner, ilen, data, sizeof(data), &dlen);
	if (ret)
		return ret;
	crypto_hash_sha256(hash, data, dlen);
	crypto_sign_detached(sig, NULL, hash, sizeof(hash), key->sk);
	sl_cbor_writer_init(&w, out, cap);
	sl_cbor_put_array(&w, 2);
	sl_cbor_put_bytes(&w, data, dlen);
	put_enum_bytes(&w, SL_KEY_ED25519, sig, sizeof(sig));
	return sl_cbor_writer_finish(&w, out_len);
}

/* [bytes32 subject, bytes32 latest, PurposePublicKey, u64 created, u64 expires] */
static int get_attestation_data(struct sl_cbor_reader *rd, struct sl_attestation *a)
{
	static const size_t purpose_lens[] = { 32 };
	struct sl_cbor_array arr;
	int ret;

	ret = sl_cbor_array_enter(rd, &arr);
	if (!ret)
		ret = sl_cbor_field(rd, &arr);
	if (!ret)
		ret = sl_cbor_get_bytes_n(rd, a->subject, SL_ID_LEN);
	if (!ret)
		ret = sl_cbor_field(rd, &arr);
	if (!ret)
		ret = sl_cbor_get_bytes_n(rd, a->latest, SL_ID_LEN);
	if (!ret)
		ret = sl_cbor_field(rd, &arr);
	/* variant 1 (a credential-signing key) has no use in a secure channel */
	if (!ret)
		ret = get_enum_bytes(rd, purpose_lens, 1, &a->key_type, a->key, NULL);
	if (!ret)
		ret = sl_cbor_field(rd, &arr);
	if (!ret)
		ret = sl_cbor_get_uint(rd, &a->created_at);
	if (!ret)
		ret = sl_cbor_field(rd, &arr);
	if (!ret)
		ret = sl_cbor_get_uint(rd, &a->expires_at);
	if (!ret)
		ret = sl_cbor_array_leave(rd, &arr);
	if (!ret && !sl_cbor_at_end(rd))
		ret = -EBADMSG;
	return ret;
}

int sl_attestation_decode_cbor(struct sl_attestation *a, struct sl_cbor_reader *rd)
{
	struct sl_cbor_reader inner;
	struct sl_cbor_array arr;
	int ret;

	memset(a, 0, sizeof(*a));
	a->raw = rd->p;
	ret = sl_cbor_array_enter(rd, &arr);
	if (!ret)
		ret = sl_cbor_field(rd, &arr);
	if (!ret)
		ret = sl_cbor_get_bytes(rd, &a->data, &a->data_len);
	if (!ret)
		ret = sl_cbor_field(rd, &arr);
	if (!ret)
		ret = get_enum_bytes(rd, sig_lens, 2, &a->sig_type, a->sig, NULL);
	if (!ret)
		ret = sl_cbor_array_leave(rd, &arr);
	if (ret)
		return ret;
	a->raw_len = (size_t)(rd->p - a->raw);
	ret = get_versioned(a->data, a->data_len, &a->version, &a->data_type, &inner);
	return ret ? ret : get_attestation_data(&inner, a);
}

int sl_attestation_decode(struct sl_attestation *a, const uint8_t *p, size_t len)
{
	struct sl_cbor_reader rd;
	int ret;

	sl_cbor_reader_init(&rd, p, len);
	ret = sl_attestation_decode_cbor(a, &rd);
	if (!ret && !sl_cbor_at_end(&rd))
		ret = -EBADMSG;
	return ret;
}

/* sig false: every rule but the signature, for bytes that verified before. */
static int attestation_check(const struct sl_attestation *a, const struct sl_identity *id,
			     const uint8_t remote_static[32], uint64_t now, bool sig)
{
	const struct sl_change *last = sl_identity_latest(id);
	uint8_t hash[SL_ID_LEN];
	int ret;

	if (a->version != 1 || a->data_type != SL_DATA_PURPOSE_KEY)
		return -ENOTSUP;
	if (sodium_memcmp(a->subject, id->id, SL_ID_LEN) ||
	    sodium_memcmp(a->latest, last->hash, SL_ID_LEN))
		return -EKEYREJECTED;
	if (a->expires_at > last->valid_until || a->created_at < last->valid_from)
		return -EKEYEXPIRED;
	/* written this way round so that now + skew cannot overflow */
	if ((a->created_at > now && a->created_at - now > SL_CLOCK_SKEW) || a->expires_at < now)
		return -EKEYEXPIRED;
	if (sig) {
		crypto_hash_sha256(hash, a->data, a->data_len);
		ret = verify_sig(last->key_type, last->key, a->sig_type, a->sig, hash);
		if (ret)
			return ret;
	}
	if (a->key_type != SL_PURPOSE_SECURE_CHANNEL || sodium_memcmp(a->key, remote_static, 32))
		return -EKEYREJECTED;
	return 0;
}

int sl_attestation_verify(const struct sl_attestation *a, const struct sl_identity *id,
			  const uint8_t remote_static[32], uint64_t now)
{
	return attestation_check(a, id, remote_static, now, true);
}

/* IdentityAndCredentials */

int sl_idcreds_encode(const uint8_t *history, size_t history_len, const uint8_t *attestation,
		      size_t attestation_len, uint8_t *out, size_t cap, size_t *out_len)
{
	struct sl_cbor_writer w;

	sl_cbor_writer_init(&w, out, cap);
	sl_cbor_put_array(&w, 3);
	sl_cbor_put_raw(&w, history, history_len);
	sl_cbor_put_raw(&w, attestation, attestation_len);
	sl_cbor_put_array(&w, 0);
	return sl_cbor_writer_finish(&w, out_len);
}

int sl_idcreds_decode(struct sl_idcreds *ic, const uint8_t *p, size_t len)
{
	struct sl_cbor_reader rd;
	struct sl_cbor_array a, creds;
	bool present;
	int ret;

	ic->n_credentials = 0;
	sl_cbor_reader_init(&rd, p, len);
	ret = sl_cbor_array_enter(&rd, &a);
	if (!ret)
		ret = sl_cbor_field(&rd, &a);
	if (!ret)
		ret = sl_identity_decode_cbor(&ic->identity, &rd);
	if (!ret)
		ret = sl_cbor_field(&rd, &a);
	if (!ret)
		ret = sl_attestation_decode_cbor(&ic->attestation, &rd);
	/* credentials: counted and skipped; without an authority they prove nothing */
	if (!ret)
		ret = sl_cbor_field_opt(&rd, &a, &present);
	if (!ret && present) {
		ret = sl_cbor_array_enter(&rd, &creds);
		while (!ret && (ret = sl_cbor_array_next(&rd, &creds)) > 0) {
			ret = sl_cbor_skip(&rd);
			ic->n_credentials++;
		}
		if (!ret)
			ret = sl_cbor_array_leave(&rd, &creds);
	}
	if (!ret)
		ret = sl_cbor_array_leave(&rd, &a);
	if (!ret && !sl_cbor_at_end(&rd))
		ret = -EBADMSG;
	return ret;
}

int sl_idcreds_verify(const struct sl_idcreds *ic, const uint8_t remote_static[32], uint64_t now)
{
	int ret = sl_identity_verify(&ic->identity);

	return ret ? ret : sl_attestation_verify(&ic->attestation, &ic->identity,
						 remote_static, now);
}

int sl_idcreds_check_known(const struct sl_idcreds *ic, const uint8_t remote_static[32],
			   uint64_t now)
{
	/* the history's rules are about its bytes alone: they held when they verified */
	return attestation_check(&ic->attestation, &ic->identity, remote_static, now, false);
}
