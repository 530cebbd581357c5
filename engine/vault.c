// SPDX-License-Identifier: Apache-2.0
/* A node's identity for handshakes (vault.h). Cold: once per identity per node start. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "engine/vault.h"

#define ATTESTATION_MAX 512

struct sl_vault *sl_vault_create(const char *name, const uint8_t *history, size_t len,
				 const struct sl_identity_key *key, uint64_t now)
{
	uint8_t att[ATTESTATION_MAX];
	struct sl_attestation a;
	struct sl_identity *id;
	struct sl_vault *v;
	size_t alen, cap;
	int ret;

	id = malloc(sizeof(*id));
	v = calloc(1, sizeof(*v));
	if (!id || !v) {
		ret = -ENOMEM;
		goto err;
	}
	ret = sl_identity_decode(id, history, len);
	if (!ret)
		ret = sl_identity_verify(id);
	if (ret)
		goto err;
	snprintf(v->name, sizeof(v->name), "%s", name ? name : "");
	memcpy(v->id, id->id, SL_ID_LEN);
	/* A fresh purpose key per node start: nothing on disk to steal but the identity key. */
	crypto_box_keypair(v->static_pk, v->static_sk);
	ret = sl_attestation_create(id, key, v->static_pk, now, SL_PURPOSE_KEY_TTL, att,
				    sizeof(att), &alen);
	if (ret)
		goto err;
	/* Our own check, as a peer will do it: a wrong key fails here, not in every handshake. */
	ret = sl_attestation_decode(&a, att, alen);
	if (!ret)
		ret = sl_attestation_verify(&a, id, v->static_pk, now);
	if (ret)
		goto err;
	cap = len + alen + 16;
	v->idcreds = malloc(cap);
	if (!v->idcreds) {
		ret = -ENOMEM;
		goto err;
	}
	ret = sl_idcreds_encode(history, len, att, alen, v->idcreds, cap, &v->idcreds_len);
	if (ret)
		goto err;
	free(id);
	return v;
err:
	free(id);
	sl_vault_free(v);
	errno = ret == -E2BIG ? EBADMSG : -ret;
	return NULL;
}

void sl_vault_free(struct sl_vault *v)
{
	if (!v)
		return;
	sodium_memzero(v->static_sk, sizeof(v->static_sk));
	free(v->idcreds);
	free(v);
}
