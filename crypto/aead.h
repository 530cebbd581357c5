/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AEAD for the handshake and the transport: AES-256-GCM with a precomputed
 * key schedule (the wire protocol fixes AES-GCM), plus ChaCha20-Poly1305-IETF
 * one-shots so the Noise core can be checked against the standard vectors.
 *
 * Nonces are 64-bit counters; the 96-bit nonce is 32 zero bits followed by the
 * counter, BIG-endian for AESGCM and LITTLE-endian for ChaChaPoly (Noise spec).
 *
 * Three AES-256-GCM backends behind struct sl_aead_key, same bytes on the
 * wire: libsodium (the reference and the fallback), libgcrypt (VAES/VPCLMUL
 * on CPUs that have them, ~3x libsodium 1.0.18 on 16-48 KiB messages here,
 * see PERF.md) and, on x86-64 builds that found it, Intel's multi-buffer
 * crypto library (libipsec-mb: VAES with AVX-512 registers, ~2.4x libgcrypt
 * on 48 KiB here). Open always verifies the tag before any plaintext is
 * released: on failure the output buffer is wiped.
 *
 * Backend choice: one process-wide default, libsodium until the application
 * calls sl_aead_select() (at start, before any key is initialised). Which
 * backend is policy and lives in the composition root (tools/common/aead_pick.h:
 * SLUICE_AEAD, the config value, a self-measurement); this file reads no
 * clock and no environment. Every key remembers the backend it was made
 * with, so changing the default later affects only keys made later. ChaChaPoly
 * (standard Noise vectors only) is always libsodium.
 *
 * Threads: the functions here may be called from any thread, but one key
 * must not be used by two threads at once (a libgcrypt handle carries
 * per-message state). A key belongs to one channel on one shard.
 */
#ifndef SL_CRYPTO_AEAD_H
#define SL_CRYPTO_AEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#define SL_AEAD_KEYLEN 32
#define SL_AEAD_TAGLEN 16
/* libsodium's AES-GCM limit, rounded down; far above any Ockam message. */
#define SL_AEAD_MAX_PLAINTEXT ((size_t)1 << 32)

enum sl_aead_cipher {
	SL_AEAD_AESGCM,
	SL_AEAD_CHACHAPOLY,
};

enum sl_aead_backend {
	SL_AEAD_BACKEND_AUTO,	/* "the default" here; the caller's self-measurement in tools/ */
	SL_AEAD_BACKEND_SODIUM,
	SL_AEAD_BACKEND_GCRYPT,
	SL_AEAD_BACKEND_IPSECMB,
};
#define SL_AEAD_NBACKENDS 4

/* The libraries' key states, kept opaque so callers need not include their headers */
struct gcry_cipher_handle;
struct gcm_key_data;

/*
 * Precomputed AES-256-GCM key. Hot and visible so it can live inline in the
 * cipher states; never put it in message memory. A libgcrypt or libipsec-mb
 * key points to state allocated once at init, so a struct copy ALIASES it:
 * never copy a live key (move it, and then only one of the two copies may be
 * used or wiped). backend sits first so that such a key touches one cache line.
 * All-zero bytes are a valid "no key" state that sl_aead_key_wipe() accepts.
 */
struct sl_aead_key {
	uint32_t backend;	/* enum sl_aead_backend; 0 = none */
	union {
		crypto_aead_aes256gcm_state sodium;
		struct gcry_cipher_handle *gcrypt;
		struct gcm_key_data *imb;	/* expanded key and GHASH powers */
	} u;
};

/*
 * One message of a batch. seal: in_len bytes of plaintext at in, out gets
 * in_len + SL_AEAD_TAGLEN bytes. open: in_len bytes of ciphertext || tag,
 * out gets in_len - SL_AEAD_TAGLEN bytes. out may equal in (in place), other
 * overlaps are not allowed. result is 0 or -errno after the call.
 */
struct sl_aead_op {
	uint64_t nonce;
	const uint8_t *in;
	uint8_t *out;
	size_t in_len;
	const uint8_t *ad;
	size_t ad_len;
	int result;
};

/* aead.c */
/*
 * sodium_init(), libgcrypt's one-time initialisation and the AES-NI check;
 * false means refuse to run. Thread-safe, idempotent, chooses no backend.
 */
bool sl_aead_available(void);
/* Whether backend b initialised here (libsodium always can be selected). */
bool sl_aead_backend_usable(enum sl_aead_backend b);
/*
 * libgcrypt's one-time initialisation alone (skipped if the application did
 * it first), for the other libgcrypt user in crypto/ (P-256 verification).
 * true if libgcrypt is usable. Thread-safe, idempotent.
 */
bool sl_aead_gcrypt_ready(void);

/*
 * Sets the default for keys made from now on: 0, -ENOTSUP if b cannot run
 * here, -EINVAL for AUTO (a measurement: tools/common/aead_pick.h makes it).
 */
int sl_aead_select(enum sl_aead_backend b);
/* The current default and its name. */
enum sl_aead_backend sl_aead_backend(void);
const char *sl_aead_backend_name(void);
const char *sl_aead_backend_str(enum sl_aead_backend b);
int sl_aead_backend_parse(const char *s, enum sl_aead_backend *b);

/*
 * Init with the default backend, or with a given one. key may be NULL: the
 * backend state is made now (libgcrypt, libipsec-mb: it is allocated) and
 * the key is set later with sl_aead_key_set(). *k is
 * overwritten: wipe a live key first or its handle leaks. Cold.
 */
int sl_aead_key_init(struct sl_aead_key *k, const uint8_t key[SL_AEAD_KEYLEN]);
int sl_aead_key_init_backend(struct sl_aead_key *k, enum sl_aead_backend b,
			     const uint8_t key[SL_AEAD_KEYLEN]);
/* Re-key an initialised key in place, same backend; no allocation (rekey). */
int sl_aead_key_set(struct sl_aead_key *k, const uint8_t key[SL_AEAD_KEYLEN]);
/* Closes the backend state and zeroes all of *k; safe on all-zero keys. */
void sl_aead_key_wipe(struct sl_aead_key *k);

/* out: len + 16 bytes. out == in allowed. */
int sl_aead_seal(const struct sl_aead_key *k, uint64_t nonce, uint8_t *out,
		 const uint8_t *in, size_t len, const uint8_t *ad,
		 size_t ad_len);
/* in: ciphertext || tag, len >= 16; out: len - 16 bytes. -EBADMSG on forgery. */
int sl_aead_open(const struct sl_aead_key *k, uint64_t nonce, uint8_t *out,
		 const uint8_t *in, size_t len, const uint8_t *ad,
		 size_t ad_len);

/* Each op independently; returns how many succeeded. */
unsigned sl_aead_seal_batch(const struct sl_aead_key *k, struct sl_aead_op *ops,
			    unsigned n);
unsigned sl_aead_open_batch(const struct sl_aead_key *k, struct sl_aead_op *ops,
			    unsigned n);

/*
 * One-shot with a raw key, for the handshake (a handful of uses per key, so
 * precomputing buys nothing), for the decryptor's rare out-of-interval
 * frames, and for ChaChaPoly. Always libsodium, whatever the default: it
 * expands the key on the stack, so a call allocates nothing (a libgcrypt
 * handle per call would cost a malloc and a free, twice per handshake side).
 * Same bytes as the precomputed keys; same buffer rules as above.
 */
int sl_aead_seal_raw(enum sl_aead_cipher c, const uint8_t key[SL_AEAD_KEYLEN],
		     uint64_t nonce, uint8_t *out, const uint8_t *in,
		     size_t len, const uint8_t *ad, size_t ad_len);
int sl_aead_open_raw(enum sl_aead_cipher c, const uint8_t key[SL_AEAD_KEYLEN],
		     uint64_t nonce, uint8_t *out, const uint8_t *in,
		     size_t len, const uint8_t *ad, size_t ad_len);

#endif /* SL_CRYPTO_AEAD_H */
