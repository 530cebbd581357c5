/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Identities in the state store, for the CLI (`identity create`) and for a
 * node loading the identity it speaks for. The secret key only ever sits in
 * a stack buffer between the store and the crypto call, and is wiped there.
 */
#ifndef SL_IDENTITIES_H
#define SL_IDENTITIES_H

#include "tools/common/state.h"

struct sl_vault;

/* A name a user may give an identity (same rule as node names). */
bool sl_identity_name_valid(const char *name);
/* The name of node NAME's own identity: "@NAME". */
void sl_identity_node_default(const char *node, char *out, size_t cap);

/* New random Ed25519 identity stored under name; *out filled. 0, -EEXIST, -errno. */
int sl_identity_new(struct sl_state *st, const char *name, struct sl_identity_rec *out);

/*
 * The vault of identity `name` (its secret used once, then wiped). With
 * create, a missing identity is made first (a node's own default).
 * NULL with *err = -ENOENT (no such identity), -ENOKEY (no secret stored),
 * -EKEYREJECTED (history and key do not match), -ENOMEM.
 */
struct sl_vault *sl_identity_vault(struct sl_state *st, const char *name, bool create, int *err);

#endif
