// SPDX-License-Identifier: Apache-2.0
/*
 * IdentityAndCredentials, ChangeHistory and attestations from hostile bytes:
 * decode, verify (at a fixed time, against a fixed key; and at the
 * attestation's own time against its own key, so that mutated signatures get
 * past the time and key rules to the Ed25519 and P-256 verifiers) and, for
 * histories that decode, check the views stay inside the input. The first
 * 129 bytes also go to the P-256 verifier as key || signature, the rest as
 * the message. Seeds (tests/fuzz/corpus/fuzz_identity/) hold P-256 and mixed
 * histories and a P-256 attestation from tests/vectors/p256-identity.txt.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size)
{
	return p >= data && n <= size && p + n <= data + size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sl_idcreds ic;
	static struct sl_identity id;
	static const uint8_t key[32];
	struct sl_attestation a;
	unsigned i;

	if (sodium_init() < 0)
		__builtin_trap();
	if (!sl_idcreds_decode(&ic, data, size)) {
		if (!inside(ic.identity.history, ic.identity.history_len, data, size) ||
		    !inside(ic.attestation.data, ic.attestation.data_len, data, size) ||
		    !ic.identity.n || ic.identity.n > SL_IDENTITY_MAX_CHANGES)
			__builtin_trap();
		sl_idcreds_verify(&ic, key, 1700000000);
		if (!sl_identity_verify(&ic.identity))
			sl_attestation_verify(&ic.attestation, &ic.identity, ic.attestation.key,
					      ic.attestation.created_at);
	}
	if (!sl_identity_decode(&id, data, size)) {
		for (i = 0; i < id.n; i++)
			if (!inside(id.changes[i].raw, id.changes[i].raw_len, data, size) ||
			    !inside(id.changes[i].data, id.changes[i].data_len, data, size))
				__builtin_trap();
		if (id.history_len != size)
			__builtin_trap();
		sl_identity_verify(&id);
	}
	if (!sl_attestation_decode(&a, data, size) && a.raw_len != size)
		__builtin_trap();
	if (size >= SL_P256_PK_LEN + SL_P256_SIG_LEN) {
		int ret = sl_p256_verify(data, data + SL_P256_PK_LEN,
					 data + SL_P256_PK_LEN + SL_P256_SIG_LEN,
					 size - SL_P256_PK_LEN - SL_P256_SIG_LEN);

		/* a key that fails the point checks is never used to verify */
		if (!ret && !sl_p256_key_valid(data))
			__builtin_trap();
	}
	return 0;
}
