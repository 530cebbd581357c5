// SPDX-License-Identifier: Apache-2.0
/* Identities in the state store (identities.h). Cold. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crypto/identity.h"
#include "engine/vault.h"
#include "tools/common/identities.h"

bool sl_identity_name_valid(const char *name)
{
	return sl_node_name_valid(name);
}

void sl_identity_node_default(const char *node, char *out, size_t cap)
{
	snprintf(out, cap, "@%s", node);
}

int sl_identity_new(struct sl_state *st, const char *name, struct sl_identity_rec *out)
{
	struct sl_identity_key key;
	struct sl_identity id;
	int ret;

	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", name);
	out->created_at = (int64_t)time(NULL);
	ret = sl_identity_create(&key, NULL, (uint64_t)out->created_at, SL_IDENTITY_TTL,
				 out->history, sizeof(out->history), &out->history_len);
	if (!ret)
		ret = sl_identity_decode(&id, out->history, out->history_len);
	if (ret)
		goto out;
	sl_identity_id_format(id.id, out->identifier);
	ret = sl_state_identity_add(st, out, key.sk);
out:
	/* One exit for the secret. */
	sl_identity_key_wipe(&key);
	return ret;
}

struct sl_vault *sl_identity_vault(struct sl_state *st, const char *name, bool create, int *err)
{
	struct sl_identity_rec rec;
	struct sl_identity_key key;
	struct sl_vault *v = NULL;
	int ret;

	ret = sl_state_identity_get(st, name, &rec, key.sk);
	if (ret == -ENOENT && create) {
		ret = sl_identity_new(st, name, &rec);
		/* Two starts racing: the other one made it; take that. */
		if (!ret || ret == -EEXIST)
			ret = sl_state_identity_get(st, name, &rec, key.sk);
	}
	if (ret)
		goto out;
	v = sl_vault_create(rec.name, rec.history, rec.history_len, &key, (uint64_t)time(NULL));
	if (!v)
		ret = -errno;
out:
	sl_identity_key_wipe(&key);
	*err = ret;
	return v;
}
