// SPDX-License-Identifier: Apache-2.0
/*
 * IdentityAndCredentials, ChangeHistory and attestations from hostile bytes:
 * decode, verify (at a fixed time, against a fixed key) and, for histories
 * that decode, check the views stay inside the input.
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
	return 0;
}
