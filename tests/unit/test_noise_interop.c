// SPDX-License-Identifier: Apache-2.0
/*
 * Live interop: Sluice's Noise core and transport cipher against an
 * independent implementation (Debian's python3-dissononce plus a Python
 * re-implementation of Ockam's framing and rekey), both roles, Ockam's
 * protocol name and split, 150 transport frames each way across rekeys.
 * The peer runs as a child process speaking hex lines over pipes. Each
 * test runs once per AES-GCM backend (TV_BACKEND_TEST).
 */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto/cipher.h"
#include "crypto/noise.h"
#include "crypto_vectors.h"

#define PYTHON "/usr/bin/python3"
#define SCRIPT SL_VECTORS_DIR "/../integration/noise_interop.py"
#define LINE_MAX_HEX 140000
#define NFRAMES 150

struct peer {
	pid_t pid;
	FILE *to;
	FILE *from;
};

static char line[LINE_MAX_HEX];
static uint8_t bin[LINE_MAX_HEX / 2];

static bool have_dissononce(void)
{
	return access(PYTHON, X_OK) == 0 &&
	       system(PYTHON " -c 'import dissononce, cryptography' >/dev/null 2>&1") == 0;
}

static void peer_start(struct peer *p, const char *role)
{
	int to[2], from[2];

	cr_assert_eq(pipe(to), 0);
	cr_assert_eq(pipe(from), 0);
	p->pid = fork();
	cr_assert_geq(p->pid, 0);
	if (p->pid == 0) {
		dup2(to[0], 0);
		dup2(from[1], 1);
		close(to[0]);
		close(to[1]);
		close(from[0]);
		close(from[1]);
		execl(PYTHON, "python3", SCRIPT, role, (char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	p->to = fdopen(to[1], "w");
	p->from = fdopen(from[0], "r");
	cr_assert(p->to && p->from);
}

static int peer_wait(struct peer *p)
{
	int status = 0;

	fclose(p->to);
	fclose(p->from);
	cr_assert_eq(waitpid(p->pid, &status, 0), p->pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void send_hex(struct peer *p, const uint8_t *b, size_t len)
{
	static char hex[LINE_MAX_HEX + 1];

	cr_assert_lt(len * 2, sizeof(hex));
	sodium_bin2hex(hex, sizeof(hex), b, len);
	fprintf(p->to, "%s\n", hex);
	fflush(p->to);
}

static char *recv_line(struct peer *p)
{
	size_t l;

	cr_assert(fgets(line, sizeof(line), p->from), "peer closed its output");
	l = strlen(line);
	while (l && (line[l - 1] == '\n' || line[l - 1] == '\r'))
		line[--l] = '\0';
	return line;
}

static size_t recv_hex(struct peer *p)
{
	const char *hex = recv_line(p);
	size_t len;

	cr_assert_eq(sodium_hex2bin(bin, sizeof(bin), hex, strlen(hex), NULL,
				    &len, NULL), 0, "bad hex from peer");
	return len;
}

static struct sl_noise *new_side(enum sl_noise_role role)
{
	uint8_t sk[32];
	struct sl_noise_config cfg = {
		.role = role,
		.cipher = SL_AEAD_AESGCM,
		.split = SL_NOISE_SPLIT_OCKAM,
		.name = (const uint8_t *)SL_NOISE_OCKAM_NAME,
		.name_len = strlen(SL_NOISE_OCKAM_NAME),
		.static_sk = sk,
	};
	struct sl_noise *hs;

	randombytes_buf(sk, sizeof(sk));
	hs = sl_noise_new(&cfg);
	sodium_memzero(sk, sizeof(sk));
	cr_assert(hs);
	return hs;
}

static void check_summary(struct peer *p, struct sl_noise *hs,
			  const struct sl_noise_keys *k)
{
	char hash_hex[65], rs_hex[65], want_rs[65];
	uint8_t pub[32];

	cr_assert_eq(sscanf(recv_line(p), "hash %64s rs %64s", hash_hex, rs_hex), 2,
		     "bad summary line");
	sodium_bin2hex(want_rs, sizeof(want_rs), k->hash, 32);
	cr_assert_str_eq(hash_hex, want_rs, "handshake hashes differ");
	sl_noise_local_static(hs, pub);
	sodium_bin2hex(want_rs, sizeof(want_rs), pub, 32);
	cr_assert_str_eq(rs_hex, want_rs, "peer saw another static key");
}

static size_t payload_of(unsigned i, uint8_t *out)
{
	/* sizes walk 0..1199 so frames of many shapes cross the rekeys */
	size_t len = (i * 37) % 1200;

	for (size_t j = 0; j < len; j++)
		out[j] = (uint8_t)(i + j);
	return len;
}

/* Frames 0..69 one by one, the rest in batches of 10; every reply checked. */
static void transport(struct peer *p, const struct sl_noise_keys *k)
{
	static uint8_t bufs[10][1300];
	struct sl_cipher_frame f[10];
	struct sl_cipher_enc enc;
	struct sl_cipher_dec dec;
	uint8_t want[1300 + 5];
	unsigned i = 0, j, nb;

	cr_assert_eq(sl_cipher_enc_init(&enc, k->send), 0);
	cr_assert_eq(sl_cipher_dec_init(&dec, k->recv), 0);
	cr_assert_eq(enc.key.backend, sl_aead_backend());
	cr_assert_eq(dec.cur.backend, sl_aead_backend());
	while (i < NFRAMES) {
		nb = i < 70 ? 1 : 10;
		for (j = 0; j < nb; j++) {
			f[j] = (struct sl_cipher_frame){
				.buf = bufs[j],
				.len = payload_of(i + j, bufs[j] + 8),
				.cap = sizeof(bufs[j]),
			};
		}
		if (nb == 1)
			cr_assert_eq(sl_cipher_seal(&enc, f[0].buf, f[0].len, f[0].cap,
						    &f[0].len), 0);
		else
			cr_assert_eq(sl_cipher_seal_batch(&enc, f, nb), nb);
		for (j = 0; j < nb; j++)
			send_hex(p, f[j].buf, f[j].len);
		for (j = 0; j < nb; j++) {
			size_t len = recv_hex(p);

			cr_assert_leq(len, sizeof(bufs[j]));
			memcpy(bufs[j], bin, len);
			f[j] = (struct sl_cipher_frame){ .buf = bufs[j], .len = len };
		}
		cr_assert_eq(sl_cipher_open_batch(&dec, f, nb), nb,
			     "frames %u..%u from peer rejected", i, i + nb - 1);
		for (j = 0; j < nb; j++) {
			size_t wl = payload_of(i + j, want + 5);

			memcpy(want, "echo:", 5);
			cr_assert_eq(f[j].nonce, i + j);
			cr_assert_eq(f[j].len, wl + 5);
			cr_assert_arr_eq(bufs[j] + 8, want, wl + 5, "frame %u", i + j);
		}
		i += nb;
	}
	cr_assert_eq(dec.epoch, (NFRAMES - 1) / SL_REKEY_INTERVAL);
	fprintf(p->to, "done\n");
	fflush(p->to);
	sl_cipher_enc_wipe(&enc);
	sl_cipher_dec_wipe(&dec);
}

static void skip_unless_peer(void)
{
	if (!have_dissononce())
		cr_skip_test(PYTHON " lacks python3-dissononce");
}

TestSuite(noise_interop, .timeout = 60);

TV_BACKEND_TEST(noise_interop, sluice_initiator_vs_dissononce_responder)
{
	static const char pay3[] = "sluice-initiator";
	struct sl_noise *hs;
	struct sl_noise_keys k;
	struct peer p;
	uint8_t out[512];
	const uint8_t *pl;
	size_t len, pl_len;

	skip_unless_peer();
	cr_assert(sl_aead_available());
	hs = new_side(SL_NOISE_INITIATOR);
	peer_start(&p, "responder");

	cr_assert_eq(sl_noise_write_msg1(hs, out, sizeof(out), &len, NULL, 0), 0);
	send_hex(&p, out, len);
	len = recv_hex(&p);
	cr_assert_eq(sl_noise_read_msg2(hs, bin, len, NULL, &pl, &pl_len), 0,
		     "msg2 from dissononce rejected");
	cr_assert_eq(pl_len, strlen("dissononce-responder"));
	cr_assert_arr_eq(pl, "dissononce-responder", pl_len);
	cr_assert_eq(sl_noise_write_msg3(hs, out, sizeof(out), &len,
					 (const uint8_t *)pay3, strlen(pay3)), 0);
	send_hex(&p, out, len);
	cr_assert_eq(sl_noise_split(hs, &k), 0);
	check_summary(&p, hs, &k);

	transport(&p, &k);
	cr_assert_eq(peer_wait(&p), 0, "python peer failed");
	sl_noise_free(hs);
}

TV_BACKEND_TEST(noise_interop, dissononce_initiator_vs_sluice_responder)
{
	static const char pay2[] = "sluice-responder";
	struct sl_noise *hs;
	struct sl_noise_keys k;
	struct peer p;
	uint8_t out[512];
	const uint8_t *pl;
	size_t len, pl_len;

	skip_unless_peer();
	cr_assert(sl_aead_available());
	hs = new_side(SL_NOISE_RESPONDER);
	peer_start(&p, "initiator");

	len = recv_hex(&p);
	cr_assert_eq(sl_noise_read_msg1(hs, bin, len, &pl, &pl_len), 0);
	cr_assert_eq(pl_len, 0);
	cr_assert_eq(sl_noise_write_msg2(hs, out, sizeof(out), &len,
					 (const uint8_t *)pay2, strlen(pay2)), 0);
	send_hex(&p, out, len);
	len = recv_hex(&p);
	cr_assert_eq(sl_noise_read_msg3(hs, bin, len, NULL, &pl, &pl_len), 0,
		     "msg3 from dissononce rejected");
	cr_assert_eq(pl_len, strlen("dissononce-initiator"));
	cr_assert_arr_eq(pl, "dissononce-initiator", pl_len);
	cr_assert_eq(sl_noise_split(hs, &k), 0);
	check_summary(&p, hs, &k);

	transport(&p, &k);
	cr_assert_eq(peer_wait(&p), 0, "python peer failed");
	sl_noise_free(hs);
}
