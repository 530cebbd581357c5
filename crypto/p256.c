// SPDX-License-Identifier: Apache-2.0
/* ECDSA P-256 / SHA-256 verification with libgcrypt (see p256.h). */
#include "crypto/p256.h"

#include <errno.h>
#include <string.h>

#include <gcrypt.h>
#include <sodium.h>

#include "crypto/aead.h"

#define COORD_LEN 32
#define SEC1_UNCOMPRESSED 0x04

/* The field prime p = 2^256 - 2^224 + 2^192 + 2^96 - 1, big-endian. */
static const uint8_t field_p[COORD_LEN] = {
	0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

/* memcmp orders big-endian numbers; a public key is public, so timing leaks nothing */
static bool reduced(const uint8_t c[COORD_LEN])
{
	return memcmp(c, field_p, COORD_LEN) < 0;
}

/*
 * One encoding per point, as Ockam's verifier (the p256 crate) requires: x and
 * y below p, checked here because libgcrypt documents nothing about
 * coordinates >= p (1.10 happens to refuse x + p too). 0 or -EBADMSG, -ENOMEM.
 */
static int key_check(const uint8_t pk[SL_P256_PK_LEN])
{
	gcry_mpi_point_t q = NULL;
	gcry_mpi_t x = NULL, y = NULL;
	gcry_ctx_t ec = NULL;
	int ret = -ENOMEM;

	if (pk[0] != SEC1_UNCOMPRESSED || !reduced(pk + 1) || !reduced(pk + 1 + COORD_LEN))
		return -EBADMSG;
	if (gcry_mpi_ec_new(&ec, NULL, "NIST P-256") ||
	    gcry_mpi_scan(&x, GCRYMPI_FMT_USG, pk + 1, COORD_LEN, NULL) ||
	    gcry_mpi_scan(&y, GCRYMPI_FMT_USG, pk + 1 + COORD_LEN, COORD_LEN, NULL))
		goto out;
	q = gcry_mpi_point_snatch_set(NULL, x, y, gcry_mpi_set_ui(NULL, 1));
	x = y = NULL;	/* q owns them now */
	ret = gcry_mpi_ec_curve_point(q, ec) ? 0 : -EBADMSG;
out:
	gcry_mpi_point_release(q);
	gcry_mpi_release(x);
	gcry_mpi_release(y);
	gcry_ctx_release(ec);
	return ret;
}

bool sl_p256_key_valid(const uint8_t pk[SL_P256_PK_LEN])
{
	return sl_aead_gcrypt_ready() && !key_check(pk);
}

int sl_p256_verify(const uint8_t pk[SL_P256_PK_LEN], const uint8_t sig[SL_P256_SIG_LEN],
		   const uint8_t *msg, size_t len)
{
	gcry_sexp_t key = NULL, s = NULL, data = NULL;
	uint8_t digest[crypto_hash_sha256_BYTES];
	gcry_error_t err;
	int ret;

	if (!sl_aead_gcrypt_ready())
		return -ENOTSUP;
	ret = key_check(pk);
	if (ret)
		return ret;
	/* ECDSA-SHA256: the curve's scalar is derived from SHA-256(msg) */
	crypto_hash_sha256(digest, msg, len);
	ret = -ENOMEM;
	if (gcry_sexp_build(&key, NULL, "(public-key (ecc (curve \"NIST P-256\") (q %b)))",
			    SL_P256_PK_LEN, pk) ||
	    gcry_sexp_build(&s, NULL, "(sig-val (ecdsa (r %b) (s %b)))", COORD_LEN, sig,
			    COORD_LEN, sig + COORD_LEN) ||
	    gcry_sexp_build(&data, NULL, "(data (flags raw) (value %b))", (int)sizeof(digest),
			    digest))
		goto out;
	/* any failure means "not verified"; only running out of memory is told apart */
	err = gcry_pk_verify(s, data, key);
	if (!err)
		ret = 0;
	else if (gcry_err_code(err) != GPG_ERR_ENOMEM)
		ret = -EKEYREJECTED;
out:
	gcry_sexp_release(data);
	gcry_sexp_release(s);
	gcry_sexp_release(key);
	return ret;
}
