/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ockam transport cipher states, one per direction (PROTOCOL.md 5).
 *
 * Wire frame = u64be(nonce) || AES-256-GCM(k, 00000000||u64be(nonce),
 * plaintext, AD empty) || tag; SL_CIPHER_OVERHEAD = 24 bytes.
 * Rekey: before nonce n with n > 0 && n % 32 == 0 the key becomes the first
 * 32 bytes of AESGCM_k(nonce 2^64-1, 32 zero bytes, AD empty).
 *
 * Buffer contract (single and batch, all in place, no copies):
 *
 *   seal:   buf: [ 8 bytes headroom | plaintext (len) | >= 16 bytes tailroom ]
 *           buf points at the headroom, plaintext is at buf + 8 and cap is
 *           the total writable size from buf (cap >= len + 24, else -ENOBUFS).
 *           Afterwards buf[0 .. len + 24) is the wire frame.
 *   open:   buf: [ nonce (8) | ciphertext | tag (16) ], len = wire length.
 *           On success the plaintext is at buf + 8, length len - 24. On any
 *           failure no plaintext is released (ciphertext bytes may be wiped)
 *           and the decryptor state is unchanged: a forged, replayed or
 *           out-of-window frame is dropped, it never kills the channel.
 *
 * Errors: -ENOBUFS (seal: cap too small), -EMSGSIZE (frame too short or too
 * long), -EOVERFLOW (encryptor exhausted its nonces: rebuild the channel),
 * -ERANGE (nonce outside the previous/current/next interval), -EALREADY
 * (replayed nonce), -EBADMSG (authentication failed).
 *
 * Not thread-safe: each state belongs to the one worker owning the channel.
 * A state holds ONE precomputed AEAD key (the decryptor keeps its previous
 * and current keys raw as well, 32 bytes each, and opens the rare frame of
 * the previous or next interval with a one-shot that allocates nothing), so
 * an idle channel end costs one key per direction. States must be wiped
 * with their _wipe(), which also frees a libgcrypt handle or libipsec-mb
 * key; never struct-copy a live state (the copy would alias it).
 *
 * Backends: _init() puts the key on the process default backend for good.
 * _init_adaptive() starts on libsodium (512 bytes inline, no allocation)
 * and moves the key to the default backend once the state has carried
 * SL_CIPHER_UPGRADE_BYTES of plaintext: a libgcrypt handle is a ~2.5 KiB
 * heap context, a libipsec-mb key ~1 KiB, worth it only for a channel that
 * moves data (3x and 6x libsodium on large messages). The move is one allocation per busy state (two for a
 * decryptor: its trial state), on a frame that succeeds; the bytes on the
 * wire are the same either way.
 */
#ifndef SL_CRYPTO_CIPHER_H
#define SL_CRYPTO_CIPHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/aead.h"
#include "crypto/replay.h"

#define SL_CIPHER_NONCE_LEN 8
#define SL_CIPHER_OVERHEAD (SL_CIPHER_NONCE_LEN + SL_AEAD_TAGLEN)
#define SL_REKEY_INTERVAL 32
/* Plaintext an adaptive state carries before it moves to the default backend. */
#define SL_CIPHER_UPGRADE_BYTES (1u << 20)

struct sl_cipher_enc {
	struct sl_aead_key key;
	uint64_t nonce;		/* next nonce to send */
	uint64_t left;		/* bytes until the move to `target`; 0 = none due */
	uint32_t target;	/* enum sl_aead_backend the key moves to */
	uint8_t raw[SL_AEAD_KEYLEN];	/* key, raw: what a move re-expands */
};

struct sl_cipher_dec {
	struct sl_aead_key cur;		/* nonces [epoch*32, epoch*32 + 32) */
	uint64_t epoch;
	uint64_t left;			/* as in sl_cipher_enc */
	uint32_t target;
	bool has_prev;
	struct sl_replay replay;
	uint8_t cur_raw[SL_AEAD_KEYLEN];	/* cur, raw: becomes prev_raw on rekey */
	uint8_t prev_raw[SL_AEAD_KEYLEN];	/* the interval before, if has_prev */
	/*
	 * A second state of cur's backend, made when cur moves (busy states
	 * only): the first frame of each interval is tried with it, then it and
	 * cur swap, so a rekey costs a setkey rather than a one-shot libsodium
	 * open. NULL: the one-shot is used.
	 */
	struct sl_aead_key *trial;
};
/* The bytes of a decryptor that a rejected frame must leave unchanged: all of it. */
#define SL_CIPHER_DEC_STATE_LEN sizeof(struct sl_cipher_dec)

/*
 * One frame of a batch. seal: len = plaintext length in, wire length out.
 * open: len = wire length in, plaintext length out (plaintext at buf + 8).
 * nonce is set for every frame whose nonce was read or assigned.
 */
struct sl_cipher_frame {
	uint8_t *buf;
	size_t len;
	size_t cap;		/* seal only */
	uint64_t nonce;
	int result;		/* 0 or -errno */
};

/* cipher.c */
int sl_cipher_enc_init(struct sl_cipher_enc *e, const uint8_t key[SL_AEAD_KEYLEN]);
int sl_cipher_enc_init_adaptive(struct sl_cipher_enc *e, const uint8_t key[SL_AEAD_KEYLEN]);
void sl_cipher_enc_wipe(struct sl_cipher_enc *e);
int sl_cipher_dec_init(struct sl_cipher_dec *d, const uint8_t key[SL_AEAD_KEYLEN]);
int sl_cipher_dec_init_adaptive(struct sl_cipher_dec *d, const uint8_t key[SL_AEAD_KEYLEN]);
void sl_cipher_dec_wipe(struct sl_cipher_dec *d);

/* *wire_len = len + SL_CIPHER_OVERHEAD on success. */
int sl_cipher_seal(struct sl_cipher_enc *e, uint8_t *buf, size_t len,
		   size_t cap, size_t *wire_len);
/* *pt_len = len - SL_CIPHER_OVERHEAD on success; *nonce may be NULL. */
int sl_cipher_open(struct sl_cipher_dec *d, uint8_t *buf, size_t len,
		   size_t *pt_len, uint64_t *nonce);

/*
 * Seal frames in order with consecutive nonces. A frame that fails its own
 * checks gets its error and consumes no nonce; the others are still sealed.
 * Returns how many frames were sealed.
 */
unsigned sl_cipher_seal_batch(struct sl_cipher_enc *e, struct sl_cipher_frame *f,
			      unsigned n);
/* Open frames in order, each exactly as sl_cipher_open; returns successes. */
unsigned sl_cipher_open_batch(struct sl_cipher_dec *d, struct sl_cipher_frame *f,
			      unsigned n);

/* The rekey function itself, exposed for tests and tools: in place, no allocation. */
int sl_cipher_rekey(struct sl_aead_key *k);

#endif /* SL_CRYPTO_CIPHER_H */
