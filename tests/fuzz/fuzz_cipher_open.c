// SPDX-License-Identifier: Apache-2.0
/*
 * A decryptor on the AES-GCM backend named by the first input byte (even:
 * libsodium, odd: libgcrypt) fed a program of frames:
 *   op 0 n:     the genuine frame with nonce n (0..255, sealed at start-up)
 *   op 1 n b:   the genuine frame n with bit b flipped
 *   op 2 l ...: l raw bytes as a frame
 * Invariants: a rejected frame leaves the decryptor's state byte-for-byte
 * unchanged (SL_CIPHER_DEC_STATE_LEN: all of it);
 * an accepted frame is genuine and its plaintext is right; no frame is
 * accepted twice.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cipher.h"

#define NF 256
#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

static const uint8_t key[32] = { 9, 8, 7 };
static uint8_t frames[NF][64];
static size_t flen[NF];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sl_cipher_enc e;

	/* sealed by the reference; the gcrypt runs must open the same bytes */
	if (!sl_aead_available() || sl_aead_select(SL_AEAD_BACKEND_SODIUM) ||
	    sl_cipher_enc_init(&e, key))
		abort();
	for (int i = 0; i < NF; i++) {
		memset(frames[i] + 8, i, 8);
		if (sl_cipher_seal(&e, frames[i], 8, sizeof(frames[i]), &flen[i]))
			abort();
	}
	sl_cipher_enc_wipe(&e);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool seen[NF];
	struct sl_cipher_dec d, before;
	const uint8_t *p = data, *end = data + size;
	uint8_t buf[300];

	if (p == end)
		return 0;
	/* a non-AUTO choice is a store, cheap enough to make per input */
	CHECK(!sl_aead_select(*p++ & 1 ? SL_AEAD_BACKEND_GCRYPT
				       : SL_AEAD_BACKEND_SODIUM));
	memset(seen, 0, sizeof(seen));
	CHECK(!sl_cipher_dec_init(&d, key));
	while (p < end) {
		uint8_t op = *p++ % 3;
		size_t len, pl;
		int genuine = -1, ret;
		uint64_t n;

		if (op == 0 || op == 1) {
			if (end - p < (op == 0 ? 1 : 2))
				break;
			genuine = *p++;
			len = flen[genuine];
			memcpy(buf, frames[genuine], len);
			if (op == 1) {
				unsigned bit = *p++ % (len * 8);

				buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
				genuine = -1;
			}
		} else {
			if (end - p < 1)
				break;
			len = *p++;
			if ((size_t)(end - p) < len)
				len = (size_t)(end - p);
			memcpy(buf, p, len);
			p += len;
		}
		before = d;
		ret = sl_cipher_open(&d, buf, len, &pl, &n);
		if (ret) {
			CHECK(!memcmp(&before, &d, SL_CIPHER_DEC_STATE_LEN));
			continue;
		}
		/* only untouched genuine frames authenticate */
		CHECK(n < NF && len == flen[n] && pl == 8);
		CHECK(buf[8] == (uint8_t)n && buf[15] == (uint8_t)n);
		CHECK(!seen[n]);
		seen[n] = true;
	}
	sl_cipher_dec_wipe(&d);
	return 0;
}
