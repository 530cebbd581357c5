/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A vault: what a node needs to speak for one identity in handshakes
 * (PROTOCOL.md 5 and 7). The identity's Ed25519 secret key is used once, at
 * sl_vault_create(), to attest a fresh static X25519 key (a secure-channel
 * purpose key, 5 years), and is wiped by the caller right after: a running
 * node holds only the X25519 key and the encoded IdentityAndCredentials it
 * sends as the payload of msg2 / msg3.
 *
 * Vaults are immutable after creation, so handshakes on every shard read
 * them without locks; they live as long as the node (sl_secure_node_fini).
 */
#ifndef SL_VAULT_H
#define SL_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"

#define SL_VAULT_NAME_MAX 64

struct sl_vault {
	struct sl_vault *next;			/* the node's list */
	char name[SL_VAULT_NAME_MAX + 1];	/* identity name in the state store */
	uint8_t id[SL_ID_LEN];			/* identifier */
	uint8_t static_sk[32];			/* X25519 purpose key: secret */
	uint8_t static_pk[32];
	size_t idcreds_len;
	uint8_t *idcreds;			/* IdentityAndCredentials, no credentials */
};

/*
 * Verify the change history (history, len), make a static X25519 key, attest
 * it with key (the identity's current primary key) at time now, and encode
 * the handshake payload. key is only read. NULL on failure with errno:
 * EBADMSG / EKEYREJECTED (history does not decode or verify, or key is not
 * its current key), ENOMEM.
 */
struct sl_vault *sl_vault_create(const char *name, const uint8_t *history, size_t len,
				 const struct sl_identity_key *key, uint64_t now);
/* Wipes the static secret; NULL is fine. */
void sl_vault_free(struct sl_vault *v);

#endif
