/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ECDSA over NIST P-256 with SHA-256, verification only (libgcrypt). Keys
 * are SEC1 uncompressed points (0x04 || x || y, 65 bytes), signatures r || s
 * (32 bytes each, big-endian), as Ockam's identities carry them
 * (PROTOCOL.md 7). Public data only: nothing here is secret.
 */
#ifndef SL_CRYPTO_P256_H
#define SL_CRYPTO_P256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_P256_PK_LEN 65
#define SL_P256_SIG_LEN 64

/*
 * pk is 0x04 || x || y with x, y reduced modulo p (one encoding per point)
 * and the point on the curve (P-256 has cofactor 1: then it has order n).
 * false also when libgcrypt cannot run.
 */
bool sl_p256_key_valid(const uint8_t pk[SL_P256_PK_LEN]);

/*
 * sig is an ECDSA-SHA256 signature by pk of msg (msg is hashed here, once).
 * 0; -EBADMSG pk is not a valid key (sl_p256_key_valid); -EKEYREJECTED the
 * signature does not verify (r or s out of [1, n-1] included); -ENOTSUP
 * libgcrypt is not usable; -ENOMEM.
 */
int sl_p256_verify(const uint8_t pk[SL_P256_PK_LEN], const uint8_t sig[SL_P256_SIG_LEN],
		   const uint8_t *msg, size_t len);

#endif /* SL_CRYPTO_P256_H */
