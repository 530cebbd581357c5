// SPDX-License-Identifier: Apache-2.0
/* The AEAD backend choice (aead_pick.h): environment, config value, self-measurement. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/clock.h"
#include "tools/common/aead_pick.h"

static struct sl_aead_measurement last_measure;

/* Seals of `len` bytes per second for about budget_ns; -1 on error. */
static double seal_rate(const struct sl_aead_key *k, uint8_t *buf, size_t len,
			unsigned chunk, uint64_t budget_ns)
{
	uint64_t t0 = sl_clock_mono_ns(), t, n = 0, nonce = 0;
	unsigned i;

	do {
		for (i = 0; i < chunk; i++)
			if (sl_aead_seal(k, nonce++, buf, buf, len, NULL, 0))
				return -1;
		n += chunk;
		t = sl_clock_mono_ns();
	} while (t - t0 < budget_ns);
	return (double)n * 1e9 / (double)(t - t0);
}

#define BULK_LEN 49152
#define SMALL_LEN 64
#define ROUNDS 3
#define BULK_NS 1000000ull	/* per backend per round */
#define SMALL_NS 500000ull
/* start-up must stay short even when preempted: no new round after this */
#define DEADLINE_NS 12000000ull
/* libsodium keeps a near tie at 48 KiB: it is the reference */
#define TIE_MARGIN 1.05
/* ... and the 48 KiB winner loses if the other is this much faster at 64 B */
#define SMALL_MARGIN 1.5

int sl_aead_pick_measure(struct sl_aead_measurement *m)
{
	static const uint8_t zero_key[SL_AEAD_KEYLEN];
	struct sl_aead_key k[SL_AEAD_NBACKENDS];
	enum sl_aead_backend b, win, other;
	uint64_t t0 = sl_clock_mono_ns();
	uint8_t *buf;
	double r;
	int i, ret = 0;

	memset(m, 0, sizeof(*m));
	memset(k, 0, sizeof(k));
	if (!sl_aead_available())
		return -ENOTSUP;
	buf = calloc(1, BULK_LEN + SL_AEAD_TAGLEN);
	if (!buf)
		return -ENOMEM;
	for (b = SL_AEAD_BACKEND_SODIUM; b < SL_AEAD_NBACKENDS; b++) {
		if (!sl_aead_backend_usable(b))
			continue;
		ret = sl_aead_key_init_backend(&k[b], b, zero_key);
		if (ret)
			goto out;
		/* warm the code and the tables before timing */
		seal_rate(&k[b], buf, BULK_LEN, 1, 0);
	}
	/* alternate the backends round by round and keep each one's best:
	 * a shared, noisy machine only ever makes a round slower */
	for (i = 0; i < ROUNDS && (!i || sl_clock_mono_ns() - t0 < DEADLINE_NS); i++) {
		for (b = SL_AEAD_BACKEND_SODIUM; b < SL_AEAD_NBACKENDS; b++) {
			if (!k[b].backend)
				continue;
			r = seal_rate(&k[b], buf, BULK_LEN, 2, BULK_NS) *
			    BULK_LEN / 1e9;
			if (r > m->bulk_gbps[b])
				m->bulk_gbps[b] = r;
			r = seal_rate(&k[b], buf, SMALL_LEN, 64, SMALL_NS) / 1e6;
			if (r > m->small_mps[b])
				m->small_mps[b] = r;
		}
	}
	/* the fastest at 48 KiB, if clearly faster than the reference ... */
	win = SL_AEAD_BACKEND_SODIUM;
	for (b = SL_AEAD_BACKEND_GCRYPT; b < SL_AEAD_NBACKENDS; b++)
		if (k[b].backend && m->bulk_gbps[b] > m->bulk_gbps[win] &&
		    m->bulk_gbps[b] > m->bulk_gbps[SL_AEAD_BACKEND_SODIUM] * TIE_MARGIN)
			win = b;
	/* ... unless another is much faster on small messages */
	other = win;
	for (b = SL_AEAD_BACKEND_SODIUM; b < SL_AEAD_NBACKENDS; b++)
		if (k[b].backend && m->small_mps[b] > m->small_mps[other])
			other = b;
	m->pick = m->small_mps[other] > m->small_mps[win] * SMALL_MARGIN ? other : win;
out:
	for (b = SL_AEAD_BACKEND_SODIUM; b < SL_AEAD_NBACKENDS; b++)
		sl_aead_key_wipe(&k[b]);
	free(buf);
	m->elapsed_ms = (double)(sl_clock_mono_ns() - t0) / 1e6;
	return ret;
}

void sl_aead_pick_last(struct sl_aead_measurement *m)
{
	*m = last_measure;
}

int sl_aead_pick_backend(enum sl_aead_backend b)
{
	struct sl_aead_measurement m;
	int ret;

	if (!sl_aead_backend_usable(b))
		return -ENOTSUP;
	if (b == SL_AEAD_BACKEND_AUTO) {
		ret = sl_aead_pick_measure(&m);
		/* a failed measurement falls back to the reference */
		b = ret ? SL_AEAD_BACKEND_SODIUM : m.pick;
		last_measure = m;
	}
	return sl_aead_select(b);
}

int sl_aead_pick(const char *choice)
{
	const char *env = getenv("SLUICE_AEAD");
	enum sl_aead_backend b = SL_AEAD_BACKEND_AUTO;

	if (env && *env)
		choice = env;
	if (choice && sl_aead_backend_parse(choice, &b))
		return -EINVAL;
	return sl_aead_pick_backend(b);
}
