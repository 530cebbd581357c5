// SPDX-License-Identifier: Apache-2.0
#include "crypto/aead.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gcrypt.h>
#ifdef SL_HAVE_IPSECMB
#include <intel-ipsec-mb.h>
#endif

#define NONCE_LEN 12

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static bool sodium_ok;
static pthread_once_t gcrypt_once = PTHREAD_ONCE_INIT;
static bool gcrypt_ok;
#ifdef SL_HAVE_IPSECMB
/* Read-only after lib_init: the GCM calls take all their state as arguments. */
static IMB_MGR *imb;
#endif

/* The process-wide default: the reference until the application chooses. */
static _Atomic uint32_t default_backend = SL_AEAD_BACKEND_SODIUM;

static void nonce_be(uint8_t n[12], uint64_t v)
{
	int i;

	memset(n, 0, 4);
	for (i = 0; i < 8; i++)
		n[4 + i] = (uint8_t)(v >> (56 - 8 * i));
}

static void nonce_le(uint8_t n[12], uint64_t v)
{
	int i;

	memset(n, 0, 4);
	for (i = 0; i < 8; i++)
		n[4 + i] = (uint8_t)(v >> (8 * i));
}

/* ---- library set-up and the backend choice (cold) ---- */

static void gcrypt_init(void)
{
	/*
	 * libgcrypt wants its initialisation done once, before any other call,
	 * by the application; a library that finds it done must not redo it.
	 * No secure memory: our handles are opened without GCRY_CIPHER_SECURE
	 * and closing one wipes its context, so mlock()ed pages buy nothing and
	 * would only warn under RLIMIT_MEMLOCK.
	 */
	if (!gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P)) {
		if (!gcry_check_version(GCRYPT_VERSION))
			return;
		gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
		gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
	}
	gcrypt_ok = true;
}

bool sl_aead_gcrypt_ready(void)
{
	/* its own once: P-256 verification needs libgcrypt but no AEAD backend choice */
	pthread_once(&gcrypt_once, gcrypt_init);
	return gcrypt_ok;
}

static void lib_init(void)
{
	/* sodium_init() returns 1 if someone already ran it */
	sodium_ok = sodium_init() >= 0;

	if (!sl_aead_gcrypt_ready())
		return;
#ifdef SL_HAVE_IPSECMB
	/* The fastest code this CPU runs (AVX-512 VAES here); below AES-NI, not at all. */
	imb = alloc_mb_mgr(0);
	if (imb) {
		IMB_ARCH arch;

		init_mb_mgr_auto(imb, &arch);
		if (arch < IMB_ARCH_SSE) {
			free_mb_mgr(imb);
			imb = NULL;
		}
	}
#endif
}

bool sl_aead_available(void)
{
	pthread_once(&lib_once, lib_init);
	/* the wire protocol fixes AES-GCM and libsodium is the reference */
	return sodium_ok && crypto_aead_aes256gcm_is_available() != 0;
}

bool sl_aead_backend_usable(enum sl_aead_backend b)
{
	if (!sl_aead_available())
		return false;
	switch (b) {
	case SL_AEAD_BACKEND_AUTO:
	case SL_AEAD_BACKEND_SODIUM:
		return true;
	case SL_AEAD_BACKEND_GCRYPT:
		return gcrypt_ok;
	case SL_AEAD_BACKEND_IPSECMB:
#ifdef SL_HAVE_IPSECMB
		return imb != NULL;
#else
		return false;
#endif
	}
	return false;
}

const char *sl_aead_backend_str(enum sl_aead_backend b)
{
	switch (b) {
	case SL_AEAD_BACKEND_AUTO:
		return "auto";
	case SL_AEAD_BACKEND_SODIUM:
		return "sodium";
	case SL_AEAD_BACKEND_GCRYPT:
		return "gcrypt";
	case SL_AEAD_BACKEND_IPSECMB:
		return "ipsec-mb";
	}
	return "?";
}

int sl_aead_backend_parse(const char *s, enum sl_aead_backend *b)
{
	if (!strcasecmp(s, "auto"))
		*b = SL_AEAD_BACKEND_AUTO;
	else if (!strcasecmp(s, "sodium") || !strcasecmp(s, "libsodium"))
		*b = SL_AEAD_BACKEND_SODIUM;
	else if (!strcasecmp(s, "gcrypt") || !strcasecmp(s, "libgcrypt"))
		*b = SL_AEAD_BACKEND_GCRYPT;
	else if (!strcasecmp(s, "ipsec-mb") || !strcasecmp(s, "ipsecmb") ||
		 !strcasecmp(s, "libipsec-mb"))
		*b = SL_AEAD_BACKEND_IPSECMB;
	else
		return -EINVAL;
	return 0;
}

int sl_aead_select(enum sl_aead_backend b)
{
	/* AUTO is a measurement, and measuring is the caller's business (it has a clock) */
	if (b == SL_AEAD_BACKEND_AUTO)
		return -EINVAL;
	if (!sl_aead_backend_usable(b))
		return -ENOTSUP;
	atomic_store(&default_backend, (uint32_t)b);
	return 0;
}

enum sl_aead_backend sl_aead_backend(void)
{
	return (enum sl_aead_backend)atomic_load_explicit(&default_backend, memory_order_acquire);
}

const char *sl_aead_backend_name(void)
{
	return sl_aead_backend_str(sl_aead_backend());
}

/* ---- keys (cold) ---- */

int sl_aead_key_init_backend(struct sl_aead_key *k, enum sl_aead_backend b,
			     const uint8_t key[SL_AEAD_KEYLEN])
{
	gcry_cipher_hd_t h;
	int ret;

	/* libsodium leaves part of its state unwritten; keep copies deterministic */
	memset(k, 0, sizeof(*k));
	if (!sl_aead_available())
		return -ENOTSUP;
	if (b == SL_AEAD_BACKEND_AUTO)
		b = sl_aead_backend();
	switch (b) {
	case SL_AEAD_BACKEND_SODIUM:
		k->backend = b;
		if (key)
			crypto_aead_aes256gcm_beforenm(&k->u.sodium, key);
		return 0;
	case SL_AEAD_BACKEND_GCRYPT:
		if (!gcrypt_ok)
			return -ENOTSUP;
		/* the one allocation of a libgcrypt key; messages reuse the handle */
		if (gcry_cipher_open(&h, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_GCM, 0))
			return -ENOMEM;
		k->u.gcrypt = h;
		k->backend = b;
		if (key) {
			ret = sl_aead_key_set(k, key);
			if (ret) {
				sl_aead_key_wipe(k);
				return ret;
			}
		}
		return 0;
	case SL_AEAD_BACKEND_IPSECMB:
#ifdef SL_HAVE_IPSECMB
		if (!imb)
			return -ENOTSUP;
		/* the one allocation of such a key: expanded key and GHASH powers */
		if (posix_memalign((void **)&k->u.imb, 64, sizeof(*k->u.imb)))
			return -ENOMEM;
		memset(k->u.imb, 0, sizeof(*k->u.imb));
		k->backend = b;
		if (key)
			sl_aead_key_set(k, key);
		return 0;
#else
		return -ENOTSUP;
#endif
	case SL_AEAD_BACKEND_AUTO:
		break;
	}
	return -EINVAL;
}

int sl_aead_key_init(struct sl_aead_key *k, const uint8_t key[SL_AEAD_KEYLEN])
{
	return sl_aead_key_init_backend(k, SL_AEAD_BACKEND_AUTO, key);
}

int sl_aead_key_set(struct sl_aead_key *k, const uint8_t key[SL_AEAD_KEYLEN])
{
	switch (k->backend) {
	case SL_AEAD_BACKEND_SODIUM:
		crypto_aead_aes256gcm_beforenm(&k->u.sodium, key);
		return 0;
	case SL_AEAD_BACKEND_GCRYPT:
		/* replaces the key schedule and GHASH key in the same context */
		return gcry_cipher_setkey(k->u.gcrypt, key, SL_AEAD_KEYLEN) ? -EIO : 0;
#ifdef SL_HAVE_IPSECMB
	case SL_AEAD_BACKEND_IPSECMB:
		/* overwrites every byte of the expanded key and the GHASH powers */
		IMB_AES256_GCM_PRE(imb, key, k->u.imb);
		return 0;
#endif
	}
	return -EINVAL;
}

void sl_aead_key_wipe(struct sl_aead_key *k)
{
	/* gcry_cipher_close() wipes the context (key schedule, H) before freeing */
	if (k->backend == SL_AEAD_BACKEND_GCRYPT && k->u.gcrypt)
		gcry_cipher_close(k->u.gcrypt);
#ifdef SL_HAVE_IPSECMB
	if (k->backend == SL_AEAD_BACKEND_IPSECMB && k->u.imb) {
		sodium_memzero(k->u.imb, sizeof(*k->u.imb));
		free(k->u.imb);
	}
#endif
	sodium_memzero(k, sizeof(*k));
}

/* ---- messages (hot) ---- */

static int sodium_seal(const struct sl_aead_key *k, const uint8_t n[NONCE_LEN],
		       uint8_t *out, const uint8_t *in, size_t len,
		       const uint8_t *ad, size_t ad_len)
{
	/* detached form: out == in works and the tag lands right after. */
	crypto_aead_aes256gcm_encrypt_detached_afternm(out, out + len, NULL, in,
						       len, ad, ad_len, NULL, n,
						       &k->u.sodium);
	return 0;
}

static int sodium_open(const struct sl_aead_key *k, const uint8_t n[NONCE_LEN],
		       uint8_t *out, const uint8_t *in, size_t mlen,
		       const uint8_t *ad, size_t ad_len)
{
	if (crypto_aead_aes256gcm_decrypt_detached_afternm(out, NULL, in, mlen,
							   in + mlen, ad, ad_len,
							   n, &k->u.sodium)) {
		/* never hand out unauthenticated plaintext, whatever the backend did */
		sodium_memzero(out, mlen);
		return -EBADMSG;
	}
	return 0;
}

/*
 * libgcrypt: the handle keeps the key; each message sets the IV, which also
 * resets the GHASH and tag state left by the previous message (or by a
 * failed one). A NULL input asks libgcrypt to work in place.
 */
static int gcrypt_seal(const struct sl_aead_key *k, const uint8_t n[NONCE_LEN],
		       uint8_t *out, const uint8_t *in, size_t len,
		       const uint8_t *ad, size_t ad_len)
{
	gcry_cipher_hd_t h = k->u.gcrypt;
	gcry_error_t err;

	err = gcry_cipher_setiv(h, n, NONCE_LEN);
	if (!err && ad_len)
		err = gcry_cipher_authenticate(h, ad, ad_len);
	if (!err && len)
		err = gcry_cipher_encrypt(h, out, len, in == out ? NULL : in,
					  in == out ? 0 : len);
	if (!err)
		err = gcry_cipher_gettag(h, out + len, SL_AEAD_TAGLEN);
	return err ? -EIO : 0;
}

static int gcrypt_open(const struct sl_aead_key *k, const uint8_t n[NONCE_LEN],
		       uint8_t *out, const uint8_t *in, size_t mlen,
		       const uint8_t *ad, size_t ad_len)
{
	gcry_cipher_hd_t h = k->u.gcrypt;
	gcry_error_t err;

	err = gcry_cipher_setiv(h, n, NONCE_LEN);
	if (!err && ad_len)
		err = gcry_cipher_authenticate(h, ad, ad_len);
	/* decrypting first keeps it one pass; the tag decides what is released */
	if (!err && mlen)
		err = gcry_cipher_decrypt(h, out, mlen, in == out ? NULL : in,
					  in == out ? 0 : mlen);
	/* in place, the tag after the ciphertext is still intact here */
	if (!err)
		err = gcry_cipher_checktag(h, in + mlen, SL_AEAD_TAGLEN);
	if (err) {
		sodium_memzero(out, mlen);
		return gcry_err_code(err) == GPG_ERR_CHECKSUM ? -EBADMSG : -EIO;
	}
	return 0;
}

#ifdef SL_HAVE_IPSECMB
/*
 * libipsec-mb: one call per message with the precomputed key. The per-message
 * context on the stack holds hash state and counter blocks, never the key.
 */
static int imb_seal(const struct sl_aead_key *k, const uint8_t n[NONCE_LEN],
		    uint8_t *out, const uint8_t *in, size_t len,
		    const uint8_t *ad, size_t ad_len)
{
	struct gcm_context_data ctx;

	IMB_AES256_GCM_ENC(imb, k->u.imb, &ctx, out, in, len, n, ad, ad_len, out + len,
			   SL_AEAD_TAGLEN);
	return 0;
}

_Static_assert(SL_AEAD_TAGLEN == crypto_verify_16_BYTES, "tags are compared with crypto_verify_16");

static int imb_open(const struct sl_aead_key *k, const uint8_t n[NONCE_LEN],
		    uint8_t *out, const uint8_t *in, size_t mlen,
		    const uint8_t *ad, size_t ad_len)
{
	struct gcm_context_data ctx;
	uint8_t tag[SL_AEAD_TAGLEN];

	/* in place, the tag after the ciphertext is still intact after this */
	IMB_AES256_GCM_DEC(imb, k->u.imb, &ctx, out, in, mlen, n, ad, ad_len, tag,
			   SL_AEAD_TAGLEN);
	/* libsodium's constant-time compare for 16-byte tags: a tenth of sodium_memcmp's cost */
	if (crypto_verify_16(tag, in + mlen)) {
		sodium_memzero(out, mlen);
		return -EBADMSG;
	}
	return 0;
}
#endif

static inline int seal_one(const struct sl_aead_key *k, uint64_t nonce,
			   uint8_t *out, const uint8_t *in, size_t len,
			   const uint8_t *ad, size_t ad_len)
{
	uint8_t n[NONCE_LEN];

	if (len > SL_AEAD_MAX_PLAINTEXT)
		return -EMSGSIZE;
	nonce_be(n, nonce);
	switch (k->backend) {
	case SL_AEAD_BACKEND_GCRYPT:
		return gcrypt_seal(k, n, out, in, len, ad, ad_len);
#ifdef SL_HAVE_IPSECMB
	case SL_AEAD_BACKEND_IPSECMB:
		return imb_seal(k, n, out, in, len, ad, ad_len);
#endif
	case SL_AEAD_BACKEND_SODIUM:
		return sodium_seal(k, n, out, in, len, ad, ad_len);
	}
	return -EINVAL;
}

static inline int open_one(const struct sl_aead_key *k, uint64_t nonce,
			   uint8_t *out, const uint8_t *in, size_t len,
			   const uint8_t *ad, size_t ad_len)
{
	uint8_t n[NONCE_LEN];
	size_t mlen;

	if (len < SL_AEAD_TAGLEN || len - SL_AEAD_TAGLEN > SL_AEAD_MAX_PLAINTEXT)
		return -EMSGSIZE;
	mlen = len - SL_AEAD_TAGLEN;
	nonce_be(n, nonce);
	switch (k->backend) {
	case SL_AEAD_BACKEND_GCRYPT:
		return gcrypt_open(k, n, out, in, mlen, ad, ad_len);
#ifdef SL_HAVE_IPSECMB
	case SL_AEAD_BACKEND_IPSECMB:
		return imb_open(k, n, out, in, mlen, ad, ad_len);
#endif
	case SL_AEAD_BACKEND_SODIUM:
		return sodium_open(k, n, out, in, mlen, ad, ad_len);
	}
	return -EINVAL;
}

int sl_aead_seal(const struct sl_aead_key *k, uint64_t nonce, uint8_t *out,
		 const uint8_t *in, size_t len, const uint8_t *ad,
		 size_t ad_len)
{
	return seal_one(k, nonce, out, in, len, ad, ad_len);
}

int sl_aead_open(const struct sl_aead_key *k, uint64_t nonce, uint8_t *out,
		 const uint8_t *in, size_t len, const uint8_t *ad,
		 size_t ad_len)
{
	return open_one(k, nonce, out, in, len, ad, ad_len);
}

unsigned sl_aead_seal_batch(const struct sl_aead_key *k, struct sl_aead_op *ops,
			    unsigned n)
{
	unsigned i, ok = 0;

	for (i = 0; i < n; i++) {
		ops[i].result = seal_one(k, ops[i].nonce, ops[i].out,
					 ops[i].in, ops[i].in_len,
					 ops[i].ad, ops[i].ad_len);
		ok += ops[i].result == 0;
	}
	return ok;
}

unsigned sl_aead_open_batch(const struct sl_aead_key *k, struct sl_aead_op *ops,
			    unsigned n)
{
	unsigned i, ok = 0;

	for (i = 0; i < n; i++) {
		ops[i].result = open_one(k, ops[i].nonce, ops[i].out,
					 ops[i].in, ops[i].in_len,
					 ops[i].ad, ops[i].ad_len);
		ok += ops[i].result == 0;
	}
	return ok;
}

int sl_aead_seal_raw(enum sl_aead_cipher c, const uint8_t key[SL_AEAD_KEYLEN],
		     uint64_t nonce, uint8_t *out, const uint8_t *in,
		     size_t len, const uint8_t *ad, size_t ad_len)
{
	uint8_t n[12];

	if (len > SL_AEAD_MAX_PLAINTEXT)
		return -EMSGSIZE;
	switch (c) {
	case SL_AEAD_AESGCM:
		if (!sl_aead_available())
			return -ENOTSUP;
		/* libsodium expands the key on the stack: no handle, no allocation */
		nonce_be(n, nonce);
		crypto_aead_aes256gcm_encrypt_detached(out, out + len, NULL, in, len, ad,
						       ad_len, NULL, n, key);
		return 0;
	case SL_AEAD_CHACHAPOLY:
		nonce_le(n, nonce);
		crypto_aead_chacha20poly1305_ietf_encrypt_detached(
			out, out + len, NULL, in, len, ad, ad_len, NULL, n, key);
		return 0;
	}
	return -EINVAL;
}

int sl_aead_open_raw(enum sl_aead_cipher c, const uint8_t key[SL_AEAD_KEYLEN],
		     uint64_t nonce, uint8_t *out, const uint8_t *in,
		     size_t len, const uint8_t *ad, size_t ad_len)
{
	uint8_t n[12];
	size_t mlen;

	if (len < SL_AEAD_TAGLEN || len - SL_AEAD_TAGLEN > SL_AEAD_MAX_PLAINTEXT)
		return -EMSGSIZE;
	mlen = len - SL_AEAD_TAGLEN;
	switch (c) {
	case SL_AEAD_AESGCM:
		if (!sl_aead_available())
			return -ENOTSUP;
		nonce_be(n, nonce);
		if (crypto_aead_aes256gcm_decrypt_detached(out, NULL, in, mlen, in + mlen,
							   ad, ad_len, n, key)) {
			sodium_memzero(out, mlen);
			return -EBADMSG;
		}
		return 0;
	case SL_AEAD_CHACHAPOLY:
		nonce_le(n, nonce);
		if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(
			    out, NULL, in, mlen, in + mlen, ad, ad_len, n, key)) {
			sodium_memzero(out, mlen);
			return -EBADMSG;
		}
		return 0;
	}
	return -EINVAL;
}
