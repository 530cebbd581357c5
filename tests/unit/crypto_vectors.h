/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers shared by the crypto unit tests: hex and the two vector formats
 * (JSON via jansson, and the "key value" lines of ockam-wire-vectors.txt).
 * Header-only on purpose: tests/CMakeLists.txt builds one file per test.
 */
#ifndef SL_TESTS_CRYPTO_VECTORS_H
#define SL_TESTS_CRYPTO_VECTORS_H

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "crypto/aead.h"

#ifndef SL_VECTORS_DIR
#error "SL_VECTORS_DIR must point at tests/vectors"
#endif

struct tv_bytes {
	uint8_t *p;
	size_t len;
};

static inline int tv_nibble(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes hex; the buffer always has at least one byte so it is never NULL. */
static inline struct tv_bytes tv_hex(const char *s)
{
	size_t n = strlen(s), i;
	struct tv_bytes b;

	cr_assert(n % 2 == 0, "odd hex length %zu", n);
	b.len = n / 2;
	b.p = malloc(b.len + 1);
	cr_assert(b.p);
	for (i = 0; i < b.len; i++) {
		int hi = tv_nibble(s[2 * i]), lo = tv_nibble(s[2 * i + 1]);

		cr_assert(hi >= 0 && lo >= 0, "bad hex at %zu", 2 * i);
		b.p[i] = (uint8_t)(hi << 4 | lo);
	}
	return b;
}

static inline void tv_hex_fixed(uint8_t *out, size_t len, const char *s)
{
	struct tv_bytes b = tv_hex(s);

	cr_assert_eq(b.len, len, "expected %zu bytes, got %zu", len, b.len);
	memcpy(out, b.p, len);
	free(b.p);
}

static inline json_t *tv_json(const char *file)
{
	char path[512];
	json_error_t err;
	json_t *root;

	snprintf(path, sizeof(path), "%s/%s", SL_VECTORS_DIR, file);
	root = json_load_file(path, 0, &err);
	cr_assert(root, "%s: %s (line %d)", path, err.text, err.line);
	return root;
}

static inline const char *tv_str(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	cr_assert(json_is_string(v), "missing string field %s", key);
	return json_string_value(v);
}

/*
 * Value of the first line "key value" or "key(comment) value" that follows
 * the first line starting with `marker` in ockam-wire-vectors.txt.
 * Returns a malloc'd string.
 */
static inline char *tv_txt(const char *marker, const char *key)
{
	char path[512], line[8192];
	bool in = false;
	size_t kl = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "%s/ockam-wire-vectors.txt", SL_VECTORS_DIR);
	f = fopen(path, "r");
	cr_assert(f, "cannot open %s", path);
	while (fgets(line, sizeof(line), f)) {
		char *end, *sp;

		if (!in) {
			in = !strncmp(line, marker, strlen(marker));
			continue;
		}
		if (strncmp(line, key, kl) || (line[kl] != ' ' && line[kl] != '('))
			continue;
		end = line + strlen(line);
		while (end > line && isspace((unsigned char)end[-1]))
			*--end = '\0';
		sp = strrchr(line, ' ');
		cr_assert(sp, "no value for %s", key);
		fclose(f);
		return strdup(sp + 1);
	}
	fclose(f);
	cr_assert_fail("%s not found after %s", key, marker);
	return NULL;
}

static inline struct tv_bytes tv_txt_hex(const char *marker, const char *key)
{
	char *s = tv_txt(marker, key);
	struct tv_bytes b = tv_hex(s);

	free(s);
	return b;
}

/*
 * Every AES-GCM vector runs against every AEAD backend. TV_BACKEND_TEST
 * defines three Criterion tests, <name>_sodium, <name>_gcrypt and
 * <name>_ipsecmb (skipped where libipsec-mb is not built in or cannot run),
 * so a failure names its backend; each selects its backend as the process default (every
 * Criterion test runs in its own process) and then runs the body, which sees
 * it as `backend`. Extra arguments go to Test() (.timeout, ...).
 */
static inline void tv_use_backend(enum sl_aead_backend b)
{
	cr_assert(sl_aead_available(), "no AES-NI: the wire protocol needs AES-GCM");
	cr_assert(sl_aead_backend_usable(b), "AEAD backend %s did not initialise",
		  sl_aead_backend_str(b));
	cr_assert_eq(sl_aead_select(b), 0);
	cr_assert_eq(sl_aead_backend(), b);
}

#define TV_BACKEND_TEST(suite, name, ...)					\
	static void tv_body_##suite##_##name(enum sl_aead_backend backend);	\
	Test(suite, name##_sodium, ##__VA_ARGS__)				\
	{									\
		tv_use_backend(SL_AEAD_BACKEND_SODIUM);				\
		tv_body_##suite##_##name(SL_AEAD_BACKEND_SODIUM);		\
	}									\
	Test(suite, name##_gcrypt, ##__VA_ARGS__)				\
	{									\
		tv_use_backend(SL_AEAD_BACKEND_GCRYPT);				\
		tv_body_##suite##_##name(SL_AEAD_BACKEND_GCRYPT);		\
	}									\
	Test(suite, name##_ipsecmb, ##__VA_ARGS__)				\
	{									\
		if (!sl_aead_backend_usable(SL_AEAD_BACKEND_IPSECMB))		\
			cr_skip_test("libipsec-mb: not in this build or CPU");	\
		tv_use_backend(SL_AEAD_BACKEND_IPSECMB);			\
		tv_body_##suite##_##name(SL_AEAD_BACKEND_IPSECMB);		\
	}									\
	static void tv_body_##suite##_##name(enum sl_aead_backend backend)

#endif /* SL_TESTS_CRYPTO_VECTORS_H */
