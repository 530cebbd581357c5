/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Noise XX handshake (-> e; <- e, ee, s, es; -> s, se) over X25519, SHA-256
 * and AESGCM or ChaChaPoly, parameterised by protocol name and by the split
 * direction so that one state machine passes the standard Noise vectors and
 * speaks Ockam's OCKAM_XX_25519_AES256_GCM_SHA256 (PROTOCOL.md 5).
 *
 * State machine, one call per arrow, anything else is -EPROTO:
 *   initiator: START -write_msg1-> WAIT_MSG2 -read_msg2-> SEND_MSG3
 *              -write_msg3-> DONE -split-> SPLIT
 *   responder: START -read_msg1-> SEND_MSG2 -write_msg2-> WAIT_MSG3
 *              -read_msg3-> DONE -split-> SPLIT
 *
 * Every call is all-or-nothing: on any error the handshake object is exactly
 * as it was before the call. In particular a message that fails to parse or
 * to authenticate does NOT kill the handshake; the caller decides. Sluice's
 * channel layer follows Ockam and aborts silently (sl_noise_free) on the
 * first bad message; the object would equally accept a genuine message
 * afterwards, which the tests rely on to prove no partial state was kept.
 *
 * Buffers: every call takes explicit lengths; handshake messages are at most
 * SL_NOISE_MAX_MSG bytes. read_msg2/read_msg3 decrypt IN PLACE: on success the
 * returned payload view points into msg; on failure the contents of msg are
 * unspecified (plaintext is never released). Writes must not overlap.
 */
#ifndef SL_CRYPTO_NOISE_H
#define SL_CRYPTO_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/aead.h"

#define SL_NOISE_OCKAM_NAME "OCKAM_XX_25519_AES256_GCM_SHA256"
#define SL_NOISE_KEYLEN 32
#define SL_NOISE_HASHLEN 32
#define SL_NOISE_MAX_MSG 65535
/* message size = overhead + payload length */
#define SL_NOISE_MSG1_OVERHEAD 32			/* e */
#define SL_NOISE_MSG2_OVERHEAD (32 + 48 + 16)	/* e, enc(s), tag */
#define SL_NOISE_MSG3_OVERHEAD (48 + 16)		/* enc(s), tag */

struct sl_noise;

enum sl_noise_role {
	SL_NOISE_INITIATOR,
	SL_NOISE_RESPONDER,
};

enum sl_noise_split {
	SL_NOISE_SPLIT_STANDARD,	/* initiator sends with k1 (Noise Split()) */
	SL_NOISE_SPLIT_OCKAM,		/* initiator sends with k2 (Ockam) */
};

enum sl_noise_state {
	SL_NOISE_START,
	SL_NOISE_WAIT_MSG2,
	SL_NOISE_SEND_MSG3,
	SL_NOISE_SEND_MSG2,
	SL_NOISE_WAIT_MSG3,
	SL_NOISE_DONE,
	SL_NOISE_SPLIT,
};

struct sl_noise_config {
	enum sl_noise_role role;
	enum sl_aead_cipher cipher;
	enum sl_noise_split split;
	/* any length: <= 32 is zero-padded into h, longer is hashed */
	const uint8_t *name;
	size_t name_len;
	const uint8_t *prologue;
	size_t prologue_len;
	const uint8_t *static_sk;	/* X25519 private key, 32 bytes; copied */
	/*
	 * Optional: the public key of static_sk, computed once by the owner of
	 * the key, saves one scalar multiplication per handshake. It must match
	 * static_sk (the peer would reject the handshake otherwise). NULL = derive.
	 */
	const uint8_t *static_pk;
	/* tests only: a fixed ephemeral private key; NULL = randombytes */
	const uint8_t *ephemeral_sk;
};

/* Transport keys from split(), already in this side's direction. */
struct sl_noise_keys {
	uint8_t send[SL_NOISE_KEYLEN];
	uint8_t recv[SL_NOISE_KEYLEN];
	uint8_t hash[SL_NOISE_HASHLEN];	/* handshake hash h, channel binding */
};

/* noise.c */
/* NULL on failure with errno EINVAL (bad config), ENOTSUP (no AES-NI), ENOMEM. */
struct sl_noise *sl_noise_new(const struct sl_noise_config *cfg);
/* Wipes every secret; NULL is fine. */
void sl_noise_free(struct sl_noise *hs);

enum sl_noise_state sl_noise_state(const struct sl_noise *hs);
bool sl_noise_is_done(const struct sl_noise *hs);
void sl_noise_local_static(const struct sl_noise *hs, uint8_t pub[SL_NOISE_KEYLEN]);
/* -EAGAIN until the peer's static key has been received and authenticated. */
int sl_noise_remote_static(const struct sl_noise *hs, uint8_t pub[SL_NOISE_KEYLEN]);

/* Initiator. *out_len = bytes written. -ENOBUFS if out_cap is too small. */
int sl_noise_write_msg1(struct sl_noise *hs, uint8_t *out, size_t out_cap,
			size_t *out_len, const uint8_t *payload,
			size_t payload_len);
int sl_noise_read_msg2(struct sl_noise *hs, uint8_t *msg, size_t len,
		       uint8_t remote_static[SL_NOISE_KEYLEN],
		       const uint8_t **payload, size_t *payload_len);
int sl_noise_write_msg3(struct sl_noise *hs, uint8_t *out, size_t out_cap,
			size_t *out_len, const uint8_t *payload,
			size_t payload_len);

/* Responder. msg1's payload is cleartext: the view points into msg. */
int sl_noise_read_msg1(struct sl_noise *hs, const uint8_t *msg, size_t len,
		       const uint8_t **payload, size_t *payload_len);
int sl_noise_write_msg2(struct sl_noise *hs, uint8_t *out, size_t out_cap,
			size_t *out_len, const uint8_t *payload,
			size_t payload_len);
int sl_noise_read_msg3(struct sl_noise *hs, uint8_t *msg, size_t len,
		       uint8_t remote_static[SL_NOISE_KEYLEN],
		       const uint8_t **payload, size_t *payload_len);

/*
 * Both sides, once DONE: transport keys in this side's direction and the
 * handshake hash. Afterwards the chaining key and all private keys are wiped
 * and only sl_noise_remote_static() and sl_noise_free() remain useful.
 */
int sl_noise_split(struct sl_noise *hs, struct sl_noise_keys *keys);

#endif /* SL_CRYPTO_NOISE_H */
