// SPDX-License-Identifier: Apache-2.0
/*
 * `sluice`: the command table. Global flags are taken out first (they may
 * stand anywhere), then the stdin rule is applied, then the noun's file
 * picks the verb. The command line mirrors Ockam's, so `sluice` can stand in
 * for `ockam`.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/cli/cli.h"
#include "tools/cli/subcommands.h"

static const struct sl_noun *const nouns[] = {
	&sl_noun_node,
	&sl_noun_message,
	&sl_noun_identity,
	&sl_noun_secure_channel,
	&sl_noun_secure_channel_listener,
	&sl_noun_tcp_outlet,
	&sl_noun_tcp_inlet,
	&sl_noun_relay,
	&sl_noun_project,
	&sl_noun_load,
};

static void usage(FILE *f)
{
	size_t i;

	fputs("Usage: sluice COMMAND [ARGS] [OPTIONS]\n\n"
	      "End-to-end encrypted, routed channels (Ockam's wire protocol).\n\nCommands:\n", f);
	for (i = 0; i < sizeof(nouns) / sizeof(nouns[0]); i++)
		fprintf(f, "  %-24s %s\n", nouns[i]->name, nouns[i]->summary);
	fputs("\nSee `sluice COMMAND --help` for a command's verbs and options.\n"
	      "An argument with a `-` path segment (`-/service/x`, `/node/n1/-`) takes one line\n"
	      "from standard input in its place. State lives in $SLUICE_HOME (default ~/.sluice).\n\n", f);
	sl_cli_usage_globals(f);
}

int main(int argc, char **argv)
{
	struct sl_cli cli = { 0 };
	size_t i;

	/* Everything sluice creates (state, logs, sockets) is for its owner only. */
	umask(077);
	/* A closed pipe downstream is an error to report, not a reason to die silently. */
	signal(SIGPIPE, SIG_IGN);
	cli.tty = isatty(STDOUT_FILENO);

	argc--;
	argv++;
	if (sl_cli_globals(&cli, &argc, argv))
		return SL_EXIT_USAGE;
	if (argc < 1 || !strcmp(argv[0], "help")) {
		usage(cli.help || argc ? stdout : stderr);
		return cli.help || argc ? SL_EXIT_OK : SL_EXIT_USAGE;
	}
	if (!strcmp(argv[0], "version") || !strcmp(argv[0], "--version")) {
		printf("sluice " SL_VERSION "\n");
		return SL_EXIT_OK;
	}
	for (i = 0; i < sizeof(nouns) / sizeof(nouns[0]); i++) {
		if (strcmp(argv[0], nouns[i]->name) &&
		    (!nouns[i]->alias || strcmp(argv[0], nouns[i]->alias)))
			continue;
		if (!cli.help && sl_cli_stdin_args(argc - 1, argv + 1, STDIN_FILENO))
			return SL_EXIT_FAIL;
		return sl_cli_run_noun(&cli, nouns[i], argc - 1, argv + 1);
	}
	sl_err("unknown command '%s': see `sluice --help`", argv[0]);
	return SL_EXIT_USAGE;
}
