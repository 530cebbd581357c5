// SPDX-License-Identifier: Apache-2.0
/*
 * `sluice project create NAME --relay MULTIADDR --identity IDENTIFIER`: a
 * relay node of your own in place of Ockam's hosted project. Prints the
 * project file (JSON) for `node create --project FILE` and records the
 * project here, so /project/NAME resolves to a secure channel to that relay
 * node, authenticated by that identifier.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tools/cli/subcommands.h"
#include "tools/common/relay_at.h"

static const struct sl_opt create_opts[] = {
	{ "relay", 0, "MULTIADDR", "the relay node's listener, e.g. /ip4/127.0.0.1/tcp/4000" },
	{ "identity", 0, "IDENTIFIER", "the identifier the relay node must prove (I + 64 hex: "
				       "`sluice node show RELAY`)" },
	{ NULL, 0, NULL, NULL },
};
static const struct sl_opt import_opts[] = {
	{ NULL, 0, NULL, NULL },
};

static int project_create(const struct sl_cli *cli, const struct sl_cmd_spec *spec,
			  const struct sl_args *a)
{
	const char *relay = sl_args_get(spec, a, "relay"), *id = sl_args_get(spec, a, "identity");
	struct sl_project_rec p = { 0 };
	char err[600];
	int ret;

	if (!relay)
		return sl_err("say where the relay node listens with --relay, e.g. "
			      "--relay /ip4/127.0.0.1/tcp/4000");
	if (!id)
		return sl_err("say which identity the relay node proves with --identity I..., "
			      "see `sluice node show RELAY`");
	if (snprintf(p.name, sizeof(p.name), "%s", a->pos[0]) >= (int)sizeof(p.name) ||
	    snprintf(p.route, sizeof(p.route), "%s", relay) >= (int)sizeof(p.route) ||
	    snprintf(p.identifier, sizeof(p.identifier), "%s", id) >= (int)sizeof(p.identifier))
		return sl_err("an argument is too long");
	if (sl_project_check(&p, err, sizeof(err)))
		return sl_err("%s", err);
	ret = sl_project_save(&p);
	if (ret)
		return ret;
	if (cli->quiet)
		return 0;
	/* The file: always JSON (it is what --project reads). */
	printf("{\"name\":");
	sl_json_str(stdout, p.name);
	printf(",\"relay\":");
	sl_json_str(stdout, p.route);
	printf(",\"identity\":");
	sl_json_str(stdout, p.identifier);
	printf("}\n");
	return 0;
}

static const struct sl_cmd_spec create_spec = {
	"project create", "NAME",
	"Describe a relay node of your own as project NAME; prints the project file.",
	create_opts, 1, 1, project_create,
};

static int project_import(const struct sl_cli *cli, const struct sl_cmd_spec *spec,
			  const struct sl_args *a)
{
	char name[SL_NODE_NAME_MAX + 1];

	if (sl_project_import_file(a->pos[0], name, sizeof(name)))
		return -1;
	if (!cli->quiet && cli->tty)
		printf("Project %s recorded: routes may use /project/%s\n", name, name);
	return 0;
}

static const struct sl_cmd_spec import_spec = {
	"project import", "FILE", "Record a project file (as `node create --project FILE` does).",
	import_opts, 1, 1, project_import,
};

const struct sl_noun sl_noun_project = {
	.name = "project",
	.summary = "Create a project: a relay node of your own for /project/NAME",
	.about = "Projects: a relay node of your own for /project/NAME.",
	.verbs = SL_VERBS(&create_spec, &import_spec),
};
