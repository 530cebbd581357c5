/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Identities (PROTOCOL.md 7): change histories, identifiers, purpose-key
 * attestations for the secure-channel static key, and the
 * IdentityAndCredentials payload of handshake messages 2 and 3.
 *
 * Keys: Ed25519 is created, signed and verified (libsodium). ECDSA P-256
 * (which Ockam's Orchestrator uses) is verified only (libgcrypt, p256.h):
 * its changes, previous_signatures and attestations, mixed with Ed25519 in
 * one history as the keys rotate. Every signature is over a 32-byte SHA-256
 * hash; a P-256 signature is ECDSA-SHA256 of that hash (hashed again).
 *
 * Decoded structures hold views into the buffer they were decoded from
 * (raw encodings, signed data): keep that buffer alive and unchanged while
 * using them. Fixed-size fields are copied.
 *
 * Time is passed in (seconds since the epoch); nothing here reads a clock.
 *
 * Secrets: struct sl_identity_key is caller-owned memory; wipe it with
 * sl_identity_key_wipe() when done. Errors are codes only, never carrying
 * key material:
 *   -EBADMSG       malformed encoding; from verify: a P-256 key that is not a
 *                  point on the curve in canonical SEC1 uncompressed form
 *   -EKEYREJECTED  a signature, hash link, subject or attested key does not match
 *   -EKEYEXPIRED   a time rule failed (not yet valid, expired)
 *   -ENOTSUP       unknown version or key type; P-256 without a usable libgcrypt
 *   -ENOMEM        libgcrypt ran out of memory verifying a P-256 signature
 *   -E2BIG         output buffer too small, or more than SL_IDENTITY_MAX_CHANGES changes
 */
#ifndef SL_CRYPTO_IDENTITY_H
#define SL_CRYPTO_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/cbor.h"
#include "crypto/p256.h"

#define SL_ID_LEN 32			/* identifier and change hash: SHA-256 */
#define SL_ID_TEXT_LEN (1 + 2 * SL_ID_LEN)	/* "I" + 64 hex, without the NUL */
#define SL_IDENTITY_TTL 315360000ull	/* 10 years: attestations_valid_until - from */
#define SL_PURPOSE_KEY_TTL 157680000ull	/* 5 years for secure-channel purpose keys */
#define SL_IDENTITY_MAX_CHANGES 16	/* key rotations are rare; bound the work */
#define SL_CLOCK_SKEW 60		/* created_at may be this far in the future */

#define SL_ED25519_PK_LEN 32
#define SL_SIG_LEN 64

enum {
	SL_KEY_ED25519 = 0,	/* PrimaryPublicKey / ChangeSignature variant 0 */
	SL_KEY_P256 = 1,	/* variant 1: SEC1 uncompressed key, r||s signature */
};

enum {
	SL_DATA_CHANGE = 1,		/* VersionedData data_type of ChangeData */
	SL_DATA_PURPOSE_KEY = 2,	/* ... of PurposeKeyAttestationData */
	SL_DATA_CREDENTIAL = 3,
};

#define SL_PURPOSE_SECURE_CHANNEL 0	/* PurposePublicKey variant: X25519 static key */

/* An Ed25519 secret key (libsodium layout: seed || public key). Secret. */
struct sl_identity_key {
	uint8_t sk[64];
};

struct sl_change {
	const uint8_t *raw;		/* the whole encoded Change */
	size_t raw_len;
	const uint8_t *data;		/* VersionedData bytes: hashed and signed */
	size_t data_len;
	uint8_t hash[SL_ID_LEN];	/* SHA-256(data) */
	uint64_t version, data_type;
	bool has_previous;
	uint8_t previous[SL_ID_LEN];	/* previous_change_hash */
	uint8_t key_type;		/* SL_KEY_* */
	uint8_t key_len;
	uint8_t key[SL_P256_PK_LEN];
	bool revoke_all_purpose_keys;
	uint64_t valid_from, valid_until;	/* attestations_valid_from / _until */
	uint8_t sig_type;
	uint8_t sig[SL_SIG_LEN];
	bool has_previous_sig;
	uint8_t previous_sig_type;
	uint8_t previous_sig[SL_SIG_LEN];
};

/* A decoded change history; verified only after sl_identity_verify(). */
struct sl_identity {
	uint8_t id[SL_ID_LEN];		/* identifier = changes[0].hash */
	unsigned n;
	struct sl_change changes[SL_IDENTITY_MAX_CHANGES];
	const uint8_t *history;		/* the encoded ChangeHistory */
	size_t history_len;
};

void sl_identity_key_wipe(struct sl_identity_key *key);

/* "I" + lowercase hex, NUL-terminated. */
void sl_identity_id_format(const uint8_t id[SL_ID_LEN], char out[SL_ID_TEXT_LEN + 1]);
/* Parse "I<64 hex>" (either case). 0 or -EINVAL. */
int sl_identity_id_parse(const char *text, uint8_t id[SL_ID_LEN]);

/*
 * New identity: an Ed25519 key from seed (NULL: random), one change valid
 * for attestations from now to now + ttl. key receives the secret; out the
 * encoded ChangeHistory. 0 or -E2BIG.
 */
int sl_identity_create(struct sl_identity_key *key, const uint8_t *seed, uint64_t now,
		       uint64_t ttl, uint8_t *out, size_t cap, size_t *out_len);

/*
 * Rotate: append a change with a new key (from seed or random) to the
 * verified history id, signed by the new key and, as previous_signature, by
 * old (the current primary key). out receives the whole new history.
 */
int sl_identity_rotate(const struct sl_identity *id, const struct sl_identity_key *old,
		       struct sl_identity_key *new_key, const uint8_t *seed, uint64_t now,
		       uint64_t ttl, uint8_t *out, size_t cap, size_t *out_len);

/* Decode a ChangeHistory: a whole buffer, or the next item of a reader. */
int sl_identity_decode(struct sl_identity *id, const uint8_t *p, size_t len);
int sl_identity_decode_cbor(struct sl_identity *id, struct sl_cbor_reader *rd);

/*
 * Verify the chain: version 1, first change without previous hash, every
 * later one linked to its predecessor's hash, valid_from not decreasing,
 * every change signed by its own key and each later one also by the
 * previous key (previous_signature).
 */
int sl_identity_verify(const struct sl_identity *id);

static inline const struct sl_change *sl_identity_latest(const struct sl_identity *id)
{
	return &id->changes[id->n - 1];
}

/* PurposeKeyAttestation = [bytes VersionedData(2, data), signature]. */
struct sl_attestation {
	const uint8_t *raw;		/* the whole encoded attestation */
	size_t raw_len;
	const uint8_t *data;		/* VersionedData bytes: signed */
	size_t data_len;
	uint64_t version, data_type;
	uint8_t subject[SL_ID_LEN];
	uint8_t latest[SL_ID_LEN];	/* subject_latest_change_hash */
	uint8_t key_type;		/* SL_PURPOSE_SECURE_CHANNEL */
	uint8_t key[32];
	uint64_t created_at, expires_at;
	uint8_t sig_type;
	uint8_t sig[SL_SIG_LEN];
};

/*
 * Attest the secure-channel X25519 public key x25519_pk for the verified
 * identity id, signed by its current primary key. expires_at = now + ttl,
 * capped at the identity's attestations_valid_until so that it verifies.
 */
int sl_attestation_create(const struct sl_identity *id, const struct sl_identity_key *key,
			  const uint8_t x25519_pk[32], uint64_t now, uint64_t ttl,
			  uint8_t *out, size_t cap, size_t *out_len);
int sl_attestation_decode(struct sl_attestation *a, const uint8_t *p, size_t len);
int sl_attestation_decode_cbor(struct sl_attestation *a, struct sl_cbor_reader *rd);
/*
 * The checks of PROTOCOL.md 7 against the (already verified) identity id at
 * time now; remote_static is the peer's Noise static key.
 */
int sl_attestation_verify(const struct sl_attestation *a, const struct sl_identity *id,
			  const uint8_t remote_static[32], uint64_t now);

/* IdentityAndCredentials = [change_history, purpose_key_attestation, [credentials...]]. */
struct sl_idcreds {
	struct sl_identity identity;
	struct sl_attestation attestation;
	unsigned n_credentials;		/* accepted and ignored (no authority) */
};

/* Concatenate an encoded history and attestation, with no credentials. */
int sl_idcreds_encode(const uint8_t *history, size_t history_len, const uint8_t *attestation,
		      size_t attestation_len, uint8_t *out, size_t cap, size_t *out_len);
int sl_idcreds_decode(struct sl_idcreds *ic, const uint8_t *p, size_t len);
/* Everything a handshake checks: the history, then the attestation. */
int sl_idcreds_verify(const struct sl_idcreds *ic, const uint8_t remote_static[32], uint64_t now);
/*
 * sl_idcreds_verify() for encoded bytes that passed it before (a caller's
 * cache, keyed by a hash of ALL the bytes): signatures and the history's
 * rules depend on the bytes alone, so only what depends on this handshake
 * is checked again: the attested key is remote_static, and the times at now.
 */
int sl_idcreds_check_known(const struct sl_idcreds *ic, const uint8_t remote_static[32],
			   uint64_t now);

#endif /* SL_CRYPTO_IDENTITY_H */
