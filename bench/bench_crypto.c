// SPDX-License-Identifier: Apache-2.0
/*
 * How fast is the crypto layer on this machine? AES-256-GCM seal/open with a
 * precomputed key (single calls vs batches of 32) on both AEAD backends side
 * by side, and which one the start-up self-measurement picks; the Ockam
 * transport cipher (framing + rekey) and full Ockam XX handshakes with both
 * sides in this process, per backend; X25519. About ten seconds in total;
 * --json for machines.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crypto/aead.h"
#include "crypto/cipher.h"
#include "crypto/noise.h"
#include "tools/common/aead_pick.h"

#define RUN_NS 200000000ull	/* per measurement */
#define BATCH 32
#define MAXSZ 49152

struct result {
	char name[48];
	const char *backend;	/* AES-GCM backend, "-" if none is involved */
	size_t size;
	double ops;	/* per second */
};

static struct result results[96];
static unsigned nresults;
static volatile uint8_t sink;
static const char *cur_backend = "-";

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void record(const char *name, size_t size, uint64_t ops, uint64_t ns)
{
	struct result *r = &results[nresults++];

	snprintf(r->name, sizeof(r->name), "%s", name);
	r->backend = cur_backend;
	r->size = size;
	r->ops = (double)ops * 1e9 / (double)ns;
}

/* Runs the body (variadic: it may hold commas) `per` ops at a time for RUN_NS. */
#define MEASURE(name, size, per, ...)					\
	do {								\
		uint64_t t0_ = now_ns(), t_, n_ops_ = 0;		\
		do {							\
			__VA_ARGS__;					\
			n_ops_ += (per);				\
			t_ = now_ns();					\
		} while (t_ - t0_ < RUN_NS);				\
		record(name, size, n_ops_, t_ - t0_);			\
	} while (0)

/* room for the 8-byte nonce and the tag around the largest message */
static uint8_t pt[BATCH][MAXSZ + 64], ct[BATCH][MAXSZ + 64], out[BATCH][MAXSZ + 64];

static const struct result *find(const char *name, const char *backend, size_t size)
{
	for (unsigned i = 0; i < nresults; i++)
		if (!strcmp(results[i].name, name) && !strcmp(results[i].backend, backend) &&
		    results[i].size == size)
			return &results[i];
	return NULL;
}

/* Sets the default backend: the transport and the handshake use it. */
static void use_backend(enum sl_aead_backend b)
{
	if (sl_aead_select(b))
		abort();
	cur_backend = sl_aead_backend_str(b);
}

static void bench_aead(size_t sz)
{
	struct sl_aead_op ops[BATCH];
	struct sl_aead_key k;
	uint8_t key[32];
	uint64_t n = 0;
	unsigned i;

	randombytes_buf(key, sizeof(key));
	if (sl_aead_key_init(&k, key))
		abort();
	for (i = 0; i < BATCH; i++) {
		randombytes_buf(pt[i], sz);
		sl_aead_seal(&k, i, ct[i], pt[i], sz, NULL, 0);
	}

	MEASURE("aead_seal", sz, 1, sl_aead_seal(&k, n++, out[0], pt[0], sz, NULL, 0));
	MEASURE("aead_seal_batch32", sz, BATCH, {
		for (i = 0; i < BATCH; i++)
			ops[i] = (struct sl_aead_op){ .nonce = n++, .in = pt[i],
						      .out = out[i], .in_len = sz };
		sl_aead_seal_batch(&k, ops, BATCH);
	});
	MEASURE("aead_open", sz, 1, {
		if (sl_aead_open(&k, 0, out[0], ct[0], sz + 16, NULL, 0))
			abort();
	});
	MEASURE("aead_open_batch32", sz, BATCH, {
		for (i = 0; i < BATCH; i++)
			ops[i] = (struct sl_aead_op){ .nonce = i, .in = ct[i],
						      .out = out[i], .in_len = sz + 16 };
		if (sl_aead_open_batch(&k, ops, BATCH) != BATCH)
			abort();
	});
	sl_aead_key_wipe(&k);
}

/* The transport as the engine uses it: in place, framing and rekey included. */
static void bench_transport(size_t sz)
{
	struct sl_cipher_frame f[BATCH];
	struct sl_cipher_enc e;
	uint8_t key[32];
	size_t wl;
	unsigned i;

	randombytes_buf(key, sizeof(key));
	if (sl_cipher_enc_init(&e, key))
		abort();
	MEASURE("transport_seal", sz, 1, {
		if (sl_cipher_seal(&e, out[0], sz, sizeof(out[0]), &wl))
			abort();
	});
	MEASURE("transport_seal_batch32", sz, BATCH, {
		for (i = 0; i < BATCH; i++)
			f[i] = (struct sl_cipher_frame){ .buf = out[i], .len = sz,
							 .cap = sizeof(out[i]) };
		if (sl_cipher_seal_batch(&e, f, BATCH) != BATCH)
			abort();
	});
	sl_cipher_enc_wipe(&e);
}

static void bench_x25519(void)
{
	uint8_t sk[32], pk[32], shared[32];

	cur_backend = "-";
	randombytes_buf(sk, sizeof(sk));
	crypto_scalarmult_base(pk, sk);
	MEASURE("x25519", 0, 1, {
		if (crypto_scalarmult(shared, sk, pk))
			abort();
		sink ^= shared[0];
	});
}

static void handshake_once(const uint8_t *isk, const uint8_t *ipk,
			   const uint8_t *rsk, const uint8_t *rpk,
			   const uint8_t *payload, size_t plen)
{
	struct sl_noise_config ci = {
		.role = SL_NOISE_INITIATOR, .cipher = SL_AEAD_AESGCM,
		.split = SL_NOISE_SPLIT_OCKAM,
		.name = (const uint8_t *)SL_NOISE_OCKAM_NAME, .name_len = 32,
		.static_sk = isk, .static_pk = ipk,
	};
	struct sl_noise_config cr = ci;
	struct sl_noise *i, *r;
	struct sl_noise_keys ki, kr;
	uint8_t m[1024];
	const uint8_t *pl;
	size_t l, pll;

	cr.role = SL_NOISE_RESPONDER;
	cr.static_sk = rsk;
	cr.static_pk = rpk;
	i = sl_noise_new(&ci);
	r = sl_noise_new(&cr);
	if (!i || !r ||
	    sl_noise_write_msg1(i, m, sizeof(m), &l, NULL, 0) ||
	    sl_noise_read_msg1(r, m, l, &pl, &pll) ||
	    sl_noise_write_msg2(r, m, sizeof(m), &l, payload, plen) ||
	    sl_noise_read_msg2(i, m, l, NULL, &pl, &pll) ||
	    sl_noise_write_msg3(i, m, sizeof(m), &l, payload, plen) ||
	    sl_noise_read_msg3(r, m, l, NULL, &pl, &pll) ||
	    sl_noise_split(i, &ki) || sl_noise_split(r, &kr))
		abort();
	sink ^= ki.send[0] ^ kr.recv[0];
	sodium_memzero(&ki, sizeof(ki));
	sodium_memzero(&kr, sizeof(kr));
	sl_noise_free(i);
	sl_noise_free(r);
}

static void bench_handshake(void)
{
	/* a placeholder of the size of an IdentityAndCredentials blob (G7) */
	uint8_t isk[32], rsk[32], ipk[32], rpk[32], payload[400];

	randombytes_buf(isk, sizeof(isk));
	randombytes_buf(rsk, sizeof(rsk));
	crypto_scalarmult_base(ipk, isk);
	crypto_scalarmult_base(rpk, rsk);
	memset(payload, 0x5a, sizeof(payload));
	/* a node knows its static public key; per handshake: 1 keygen + 3 DH per side */
	MEASURE("xx_handshake_both_sides", sizeof(payload), 1,
		handshake_once(isk, ipk, rsk, rpk, payload, sizeof(payload)));
}

/* libipsec-mb last: it is measured only where the build has it and the CPU runs it */
static const enum sl_aead_backend backends[] = { SL_AEAD_BACKEND_SODIUM,
						  SL_AEAD_BACKEND_GCRYPT,
						  SL_AEAD_BACKEND_IPSECMB };
static unsigned nb = sizeof(backends) / sizeof(backends[0]);

static void side_by_side(const size_t *sizes, unsigned nsizes)
{
	static const char *ops[] = { "aead_seal", "aead_open", "aead_seal_batch32",
				     "aead_open_batch32" };
	unsigned i, j, b;

	printf("\nAES-256-GCM side by side, GB/s (one core); ratios against libsodium\n");
	printf("%-20s %7s", "operation", "bytes");
	for (b = 0; b < nb; b++)
		printf(" %10s", sl_aead_backend_str(backends[b]));
	for (b = 1; b < nb; b++)
		printf(" %8s", sl_aead_backend_str(backends[b]));
	printf("\n");
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		for (j = 0; j < nsizes; j++) {
			const struct result *r[sizeof(backends) / sizeof(backends[0])];

			for (b = 0; b < nb; b++)
				if (!(r[b] = find(ops[i], sl_aead_backend_str(backends[b]), sizes[j])))
					break;
			if (b < nb)
				continue;
			printf("%-20s %7zu", ops[i], sizes[j]);
			for (b = 0; b < nb; b++)
				printf(" %10.2f", r[b]->ops * (double)sizes[j] / 1e9);
			for (b = 1; b < nb; b++)
				printf(" %7.2fx", r[b]->ops / r[0]->ops);
			printf("\n");
		}
}

int main(int argc, char **argv)
{
	bool json = argc > 1 && !strcmp(argv[1], "--json");
	static const size_t sizes[] = { 64, 1024, 16384, 49152 };
	struct sl_aead_measurement m;
	unsigned i, b;

	if (!sl_aead_available()) {
		fprintf(stderr, "bench_crypto: this CPU has no AES-NI; libsodium's "
				"AES-256-GCM is unavailable and Sluice refuses to run\n");
		return 1;
	}
	if (!sl_aead_backend_usable(SL_AEAD_BACKEND_GCRYPT)) {
		fprintf(stderr, "bench_crypto: libgcrypt did not initialise\n");
		return 1;
	}
	if (!sl_aead_backend_usable(SL_AEAD_BACKEND_IPSECMB))
		nb--;
	/* what a node would pick at start (SLUICE_AEAD aside) */
	if (sl_aead_pick_measure(&m))
		abort();
	/* backends alternate per size so a noisy neighbour hits both alike */
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (b = 0; b < nb; b++) {
			use_backend(backends[b]);
			bench_aead(sizes[i]);
		}
	for (b = 0; b < nb; b++) {
		use_backend(backends[b]);
		bench_transport(1024);
		bench_transport(49152);
	}
	bench_x25519();
	for (b = 0; b < nb; b++) {
		use_backend(backends[b]);
		bench_handshake();
	}

	if (json) {
		printf("{\"bench\":\"crypto\",\"auto\":{\"pick\":\"%s\","
		       "\"elapsed_ms\":%.1f,\"sodium_48k_gbps\":%.2f,"
		       "\"gcrypt_48k_gbps\":%.2f,\"ipsecmb_48k_gbps\":%.2f,"
		       "\"sodium_64b_mps\":%.2f,\"gcrypt_64b_mps\":%.2f,"
		       "\"ipsecmb_64b_mps\":%.2f},\"results\":[",
		       sl_aead_backend_str(m.pick), m.elapsed_ms,
		       m.bulk_gbps[SL_AEAD_BACKEND_SODIUM],
		       m.bulk_gbps[SL_AEAD_BACKEND_GCRYPT],
		       m.bulk_gbps[SL_AEAD_BACKEND_IPSECMB],
		       m.small_mps[SL_AEAD_BACKEND_SODIUM],
		       m.small_mps[SL_AEAD_BACKEND_GCRYPT],
		       m.small_mps[SL_AEAD_BACKEND_IPSECMB]);
		for (i = 0; i < nresults; i++)
			printf("%s{\"name\":\"%s\",\"backend\":\"%s\",\"size\":%zu,"
			       "\"ops_per_s\":%.0f,\"bytes_per_s\":%.0f}", i ? "," : "",
			       results[i].name, results[i].backend, results[i].size,
			       results[i].ops, results[i].ops * (double)results[i].size);
		printf("]}\n");
		return 0;
	}
	printf("%-26s %-7s %7s %14s %10s\n", "operation", "aead", "bytes", "ops/s",
	       "GB/s");
	for (i = 0; i < nresults; i++)
		printf("%-26s %-7s %7zu %14.0f %10.2f\n", results[i].name,
		       results[i].backend, results[i].size, results[i].ops,
		       results[i].ops * (double)results[i].size / 1e9);
	side_by_side(sizes, sizeof(sizes) / sizeof(sizes[0]));
	printf("\nauto picks %s: 48 KiB seals sodium %.2f / gcrypt %.2f / ipsec-mb %.2f GB/s, "
	       "64 B seals sodium %.2f / gcrypt %.2f / ipsec-mb %.2f M/s (0: not here), "
	       "measured in %.1f ms\n",
	       sl_aead_backend_str(m.pick), m.bulk_gbps[SL_AEAD_BACKEND_SODIUM],
	       m.bulk_gbps[SL_AEAD_BACKEND_GCRYPT], m.bulk_gbps[SL_AEAD_BACKEND_IPSECMB],
	       m.small_mps[SL_AEAD_BACKEND_SODIUM], m.small_mps[SL_AEAD_BACKEND_GCRYPT],
	       m.small_mps[SL_AEAD_BACKEND_IPSECMB], m.elapsed_ms);
	return 0;
}
