/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which AES-256-GCM backend a process uses: policy, so it lives here in the
 * composition root and crypto/ only takes the answer (sl_aead_select()).
 * The daemon runtime and `sluice load` call sl_aead_pick() once at start,
 * before any key: SLUICE_AEAD in the environment overrides the config value,
 * and "auto" times the usable backends (~14 ms) and takes the fastest.
 */
#ifndef SL_TOOLS_AEAD_PICK_H
#define SL_TOOLS_AEAD_PICK_H

#include "crypto/aead.h"

/* The self-measurement behind "auto", indexed by backend. */
struct sl_aead_measurement {
	double bulk_gbps[SL_AEAD_NBACKENDS];	/* 48 KiB seals, best round */
	double small_mps[SL_AEAD_NBACKENDS];	/* 64 B seals, million/s, best round */
	double elapsed_ms;			/* the whole measurement */
	enum sl_aead_backend pick;
};

/*
 * Start-up choice: `choice` is the config value ("sodium", "gcrypt", "ipsec-mb", "auto";
 * NULL means auto); SLUICE_AEAD in the environment overrides it. -EINVAL for
 * an unknown name, -ENOTSUP if the named backend cannot run here (auto falls
 * back to libsodium instead). Call before any key is initialised.
 */
int sl_aead_pick(const char *choice);
/* Select b as crypto's default; AUTO runs sl_aead_pick_measure() and takes its pick. */
int sl_aead_pick_backend(enum sl_aead_backend b);
/*
 * Times the usable backends on 48 KiB and 64 B seals, alternating, a few ms
 * each (~14 ms in all; no new round starts after 12 ms, so a preempted start
 * stays near 20 ms), and says which AUTO would pick: the fastest at 48 KiB
 * (libsodium on a near tie) unless another is much faster at 64 B.
 * Selects nothing. Cold: allocates its buffers.
 */
int sl_aead_pick_measure(struct sl_aead_measurement *m);
/* The measurement the last AUTO choice was made by (zeros if none). */
void sl_aead_pick_last(struct sl_aead_measurement *m);

#endif
