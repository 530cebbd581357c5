/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every `sluice` command shares: the global flags, option parsing from a
 * per-command table (so the usage text always lists every flag), the stdin
 * rule for routes, and -v progress. The text helpers every side uses (errors,
 * durations, hex, JSON strings) are in common/text.h.
 */
#ifndef SL_CLI_H
#define SL_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tools/common/text.h"

enum sl_output {
	SL_OUTPUT_PLAIN,
	SL_OUTPUT_JSON,
};

/* Global flags, accepted anywhere on the command line (before a `--`). */
struct sl_cli {
	enum sl_output output;
	bool quiet;		/* -q: print nothing but errors */
	int verbose;		/* -v, -vv: progress on stderr */
	bool help;		/* --help / -h */
	bool tty;		/* stdout is a terminal (else plain output is the bare value) */
};

/* One option of a command. A table ends with an entry whose name is NULL. */
struct sl_opt {
	const char *name;	/* long name, without "--" */
	char short_name;	/* 0 = none */
	const char *metavar;	/* NULL for a flag that takes no value */
	const char *help;
};

/* An option whose metavar ends in "..." may be given again: every value is kept (sl_args.rep). */

struct sl_args;

/*
 * One verb of a noun (wireguard-tools style: the verbs of a noun in its own
 * file). fn gets the parsed arguments and returns 0 or a negative value (the
 * error is printed).
 */
struct sl_cmd_spec {
	const char *path;	/* "node create": the noun, then the verb */
	const char *args;	/* positional synopsis, "NAME" (NULL = none) */
	const char *summary;
	const struct sl_opt *opts;
	unsigned min_pos, max_pos;
	int (*fn)(const struct sl_cli *cli, const struct sl_cmd_spec *spec,
		  const struct sl_args *a);
};

#define SL_CLI_MAX_POS 8
#define SL_CLI_MAX_REP 32

/* The result of parsing a command's arguments against its spec. */
struct sl_args {
	const char *val[32];	/* by option index: the value, "" for a set flag, NULL if absent */
	const char *pos[SL_CLI_MAX_POS];
	unsigned npos;
	/* Every value of the command's repeatable option (one per command at most). */
	const char *rep[SL_CLI_MAX_REP];
	unsigned nrep;
};

/*
 * Take the global flags out of argv (in place, argv stays NULL-terminated)
 * and set cli. Stops at "--". 0, or -EINVAL after printing what was wrong.
 */
int sl_cli_globals(struct sl_cli *cli, int *argc, char **argv);

/*
 * Parse argv (the words after the command's path) against spec. Options may
 * come before, between or after positionals; "--name=value" and "--name value"
 * both work; "--" ends options. 0, or -EINVAL after printing the error and a
 * hint to --help.
 */
int sl_cli_parse(const struct sl_cmd_spec *spec, int argc, char **argv, struct sl_args *a);
/* The value of option `name` (as parsed), or NULL. */
const char *sl_args_get(const struct sl_cmd_spec *spec, const struct sl_args *a, const char *name);
static inline bool sl_args_has(const struct sl_cmd_spec *spec, const struct sl_args *a, const char *name)
{
	return sl_args_get(spec, a, name) != NULL;
}

/* Full usage of one command, with every option and the global flags. */
void sl_cli_usage(FILE *f, const struct sl_cmd_spec *spec);
/* The lines describing the global flags (shared by every usage text). */
void sl_cli_usage_globals(FILE *f);

/*
 * The stdin rule: an argument with a path segment that is exactly "-"
 * ("-/service/uppercase", "/node/n1/-") takes ONE line from `in` in place of
 * that segment; the line's own segments are spliced in ("/service/abc" in
 * "-/service/uppercase" gives "/service/abc/service/uppercase"). Each such
 * argument consumes one line. Reads byte by byte so it never takes more than
 * the line it needs.
 *
 * sl_cli_stdin_subst rewrites one argument: 0 (unchanged: *out = NULL),
 * 1 (*out = malloc'd replacement), -ENODATA (no line on stdin), -ENOMEM.
 */
bool sl_cli_wants_stdin(const char *arg);
int sl_cli_stdin_subst(const char *arg, int fd, char **out);
/* Apply to every argument of argv (after the globals are gone). 0 or -errno, printed. */
int sl_cli_stdin_args(int argc, char **argv, int fd);

/*
 * What a delete prints: {"deleted":"ADDR","at":"NODE"} in JSON (no "at" when
 * node is NULL), "Deleted WHAT ADDR at node NODE" on a terminal, nothing on
 * a pipe or with -q.
 */
void sl_print_deleted(const struct sl_cli *cli, const char *what, const char *addr,
		      const char *node);

/* Progress for -v (level 1) and -vv (level 2), on stderr. */
void sl_verbose(const struct sl_cli *cli, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * A noun of the command line (cmd_<noun>.c defines it, sluice.c lists it):
 * its verbs, or a `run` of its own for a noun that takes no verb.
 */
struct sl_noun {
	const char *name;
	const char *alias;	/* Ockam's older name, if any */
	const char *summary;	/* its line in `sluice --help` */
	const char *about;	/* over its verbs in `sluice NOUN --help` */
	const struct sl_cmd_spec *const *verbs;	/* NULL-terminated */
	/* Called with the words after the noun before the verb runs (NULL: none). */
	void (*prepare)(int argc, char **argv);
	/* In place of verbs: takes the words after the noun, returns the exit status. */
	int (*run)(const struct sl_cli *cli, int argc, char **argv);
};

/* A noun's verbs, in the order its help lists them: SL_VERBS(&create_spec, &list_spec). */
#define SL_VERBS(...) ((const struct sl_cmd_spec *const[]){ __VA_ARGS__, NULL })

/* Exit statuses of the sluice process. */
enum {
	SL_EXIT_OK = 0,
	SL_EXIT_FAIL = 1,	/* the command failed; the message says why */
	SL_EXIT_USAGE = 2,	/* the command line was wrong */
};

/*
 * Run a noun on the words after it: its own run, or pick the verb argv[0],
 * handle --help, parse the rest against its spec and run it. Returns the exit
 * status.
 */
int sl_cli_run_noun(const struct sl_cli *cli, const struct sl_noun *noun, int argc, char **argv);

#endif
