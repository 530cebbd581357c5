// SPDX-License-Identifier: Apache-2.0
/* `sluice identity create|list|show|delete`: identities in the state store. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/identity.h"
#include "tools/cli/list.h"
#include "tools/cli/subcommands.h"
#include "tools/common/identities.h"
#include "tools/common/state.h"

static const struct sl_opt no_opts[] = { { NULL, 0, NULL, NULL } };
static const struct sl_opt show_opts[] = {
	{ "full", 0, NULL, "show the change history too" },
	{ NULL, 0, NULL, NULL },
};

static bool name_ok(const char *name)
{
	return sl_identity_name_valid(name) || (name[0] == '@' && sl_node_name_valid(name + 1));
}

static int bad_name(const char *name)
{
	return sl_err("'%s' is not a valid identity name: use up to %d letters, digits, '-', '_' or '.'",
		      name, SL_NODE_NAME_MAX);
}

static void json_identity(const struct sl_identity_rec *r, bool full)
{
	printf("{\"name\":");
	sl_json_str(stdout, r->name);
	printf(",\"identifier\":\"%s\",\"created_at\":%lld", r->identifier, (long long)r->created_at);
	if (full) {
		char *h = malloc(r->history_len * 2 + 1);

		if (h) {
			sl_hex_encode(r->history, r->history_len, h);
			printf(",\"change_history\":\"%s\"", h);
			free(h);
		}
	}
	putchar('}');
}

static int id_create(const struct sl_cli *cli, const struct sl_cmd_spec *spec,
		     const struct sl_args *a)
{
	const char *name = a->pos[0];
	struct sl_identity_rec *r;
	struct sl_state *st;
	int ret;

	if (!sl_identity_name_valid(name))
		return bad_name(name);
	r = malloc(sizeof(*r));
	if (!r)
		return sl_err("out of memory");
	ret = sl_state_open(NULL, &st);
	if (ret)
		goto out;
	ret = sl_identity_new(st, name, r);
	sl_state_close(st);
	if (ret == -EEXIST)
		ret = sl_err("identity %s already exists: see `sluice identity show %s`", name, name);
	else if (ret)
		ret = sl_err("cannot create identity %s: %s", name, strerror(-ret));
	if (ret || cli->quiet)
		goto out;
	if (cli->output == SL_OUTPUT_JSON) {
		json_identity(r, false);
		putchar('\n');
	} else if (cli->tty) {
		printf("Created identity %s: %s\n", name, r->identifier);
	} else {
		printf("%s\n", r->identifier);
	}
out:
	free(r);
	return ret;
}

static const struct sl_cmd_spec create_spec = {
	"identity create", "NAME",
	"Create an identity: an Ed25519 key and its change history, kept in the state store\n"
	"($SLUICE_HOME/state.db, mode 0600). Prints its identifier.", no_opts, 1, 1, id_create,
};

static int id_list(const struct sl_cli *cli, const struct sl_cmd_spec *spec, const struct sl_args *a)
{
	static const int widths[] = { 24 };
	static const struct sl_table table = { 2, widths, NULL, " " };
	struct sl_identity_rec *v;
	struct sl_list l;
	struct sl_state *st;
	size_t n;
	int ret;

	ret = sl_state_open(NULL, &st);
	if (ret)
		return ret;
	ret = sl_state_identity_list(st, &v, &n);
	sl_state_close(st);
	if (ret)
		return sl_err("cannot read the state store: %s", strerror(-ret));
	sl_list_begin(&l, cli, &table);
	for (size_t i = 0; i < n; i++) {
		if (sl_list_row(&l) == SL_ROW_JSON)
			json_identity(&v[i], false);
		else
			sl_list_cells(&l, (const char *const[]){ v[i].name, v[i].identifier });
	}
	sl_list_end(&l, "No identities: create one with `sluice identity create NAME`");
	free(v);
	return 0;
}

static const struct sl_cmd_spec list_spec = {
	"identity list", NULL, "List identities (a node's own default one is named @NODE).",
	no_opts, 0, 0, id_list,
};

static int get(const char *name, struct sl_identity_rec *r)
{
	struct sl_state *st;
	int ret;

	if (!name_ok(name))
		return bad_name(name);
	ret = sl_state_open(NULL, &st);
	if (ret)
		return ret;
	ret = sl_state_identity_get(st, name, r, NULL);
	sl_state_close(st);
	if (ret == -ENOENT)
		return sl_err("unknown identity %s: see `sluice identity list`, or create it with "
			      "`sluice identity create %s`", name, name);
	if (ret)
		return sl_err("cannot read the state store: %s", strerror(-ret));
	return 0;
}

static int id_show(const struct sl_cli *cli, const struct sl_cmd_spec *spec, const struct sl_args *a)
{
	bool full = sl_args_has(spec, a, "full");
	struct sl_identity_rec *r = malloc(sizeof(*r));
	struct sl_identity *id = malloc(sizeof(*id));
	int ret = r && id ? get(a->pos[0], r) : sl_err("out of memory");

	if (ret || cli->quiet)
		goto out;
	if (cli->output == SL_OUTPUT_JSON) {
		json_identity(r, full);
		putchar('\n');
	} else if (!full) {
		printf("%s\n", r->identifier);
	} else if (!sl_identity_decode(id, r->history, r->history_len)) {
		char *h = malloc(r->history_len * 2 + 1), key[2 * SL_P256_PK_LEN + 1];

		printf("Identifier: %s\n", r->identifier);
		for (unsigned i = 0; i < id->n; i++) {
			const struct sl_change *c = &id->changes[i];

			sl_hex_encode(c->key, c->key_len, key);
			printf("  Change %u:\n    hash: ", i + 1);
			for (int k = 0; k < SL_ID_LEN; k++)
				printf("%02x", c->hash[k]);
			printf("\n    primary key: %s %s\n    revoke all purpose keys: %s\n"
			       "    attestations valid from %llu until %llu\n",
			       c->key_type == SL_KEY_ED25519 ? "Ed25519" : "P-256", key,
			       c->revoke_all_purpose_keys ? "yes" : "no",
			       (unsigned long long)c->valid_from, (unsigned long long)c->valid_until);
		}
		if (h) {
			sl_hex_encode(r->history, r->history_len, h);
			printf("Change history: %s\n", h);
			free(h);
		}
	} else {
		ret = sl_err("the change history of %s does not decode: the state store is damaged",
			     r->name);
	}
out:
	free(id);
	free(r);
	return ret;
}

static const struct sl_cmd_spec show_spec = {
	"identity show", "NAME", "Print an identity's identifier (I + 64 hex).", show_opts, 1, 1,
	id_show,
};

static int id_delete(const struct sl_cli *cli, const struct sl_cmd_spec *spec,
		     const struct sl_args *a)
{
	const char *name = a->pos[0];
	struct sl_node_rec *nodes;
	struct sl_state *st;
	size_t n;
	int ret;

	if (!name_ok(name))
		return bad_name(name);
	ret = sl_state_open(NULL, &st);
	if (ret)
		return ret;
	ret = sl_state_node_list(st, &nodes, &n);
	for (size_t i = 0; !ret && i < n; i++) {
		char own[SL_NODE_NAME_MAX + 2];

		sl_identity_node_default(nodes[i].name, own, sizeof(own));
		if (!strcmp(nodes[i].identity, name) || !strcmp(own, name))
			ret = sl_err("identity %s is used by node %s: delete the node first "
				     "(`sluice node delete %s`)", name, nodes[i].name, nodes[i].name);
	}
	if (!ret)
		free(nodes);
	if (!ret) {
		ret = sl_state_identity_delete(st, name);
		if (ret == -ENOENT)
			ret = sl_err("unknown identity %s: see `sluice identity list`", name);
		else if (ret)
			ret = sl_err("cannot delete identity %s: %s", name, strerror(-ret));
	}
	sl_state_close(st);
	if (!ret)
		sl_print_deleted(cli, "identity", name, NULL);
	return ret;
}

static const struct sl_cmd_spec delete_spec = {
	"identity delete", "NAME", "Delete an identity and its secret key.", no_opts, 1, 1,
	id_delete,
};

const struct sl_noun sl_noun_identity = {
	.name = "identity",
	.summary = "Create, list, show and delete identities",
	.about = "Identities: Ed25519 keys with change histories.",
	.verbs = SL_VERBS(&create_spec, &list_spec, &show_spec, &delete_spec),
};
