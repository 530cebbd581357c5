// SPDX-License-Identifier: Apache-2.0
/* The CLI's shared parsing and output helpers (cli.h). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/cli/cli.h"

void sl_print_deleted(const struct sl_cli *cli, const char *what, const char *addr,
		      const char *node)
{
	if (cli->quiet)
		return;
	if (cli->output == SL_OUTPUT_JSON) {
		printf("{\"deleted\":\"%s\"", addr);
		if (node)
			printf(",\"at\":\"%s\"", node);
		puts("}");
	} else if (cli->tty) {
		printf("Deleted %s %s", what, addr);
		if (node)
			printf(" at node %s", node);
		putchar('\n');
	}
}

void sl_verbose(const struct sl_cli *cli, int level, const char *fmt, ...)
{
	va_list ap;

	if (!cli || cli->verbose < level)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int set_output(struct sl_cli *cli, const char *v)
{
	if (!strcmp(v, "plain")) {
		cli->output = SL_OUTPUT_PLAIN;
	} else if (!strcmp(v, "json")) {
		cli->output = SL_OUTPUT_JSON;
	} else {
		sl_err("unknown output format '%s': use --output plain or --output json", v);
		return -EINVAL;
	}
	return 0;
}

/* Is a (an option word) "-v", "-vv", "-q", "-qv"...: only global short flags? */
static bool global_shorts(const char *a)
{
	if (a[0] != '-' || a[1] == '-' || !a[1])
		return false;
	for (a++; *a; a++)
		if (*a != 'v' && *a != 'q' && *a != 'h')
			return false;
	return true;
}

int sl_cli_globals(struct sl_cli *cli, int *argc, char **argv)
{
	int i, o = 0, n = *argc;
	bool done = false;

	for (i = 0; i < n; i++) {
		const char *a = argv[i];

		if (done) {
			argv[o++] = argv[i];
			continue;
		}
		if (!strcmp(a, "--")) {
			done = true;
			argv[o++] = argv[i];
		} else if (!strcmp(a, "--output") || !strcmp(a, "-o")) {
			if (i + 1 >= n) {
				sl_err("%s needs a value: --output plain or --output json", a);
				return -EINVAL;
			}
			if (set_output(cli, argv[++i]))
				return -EINVAL;
		} else if (!strncmp(a, "--output=", 9)) {
			if (set_output(cli, a + 9))
				return -EINVAL;
		} else if (!strcmp(a, "--quiet")) {
			cli->quiet = true;
		} else if (!strcmp(a, "--verbose")) {
			cli->verbose++;
		} else if (!strcmp(a, "--help")) {
			cli->help = true;
		} else if (global_shorts(a)) {
			for (a++; *a; a++) {
				if (*a == 'v')
					cli->verbose++;
				else if (*a == 'q')
					cli->quiet = true;
				else
					cli->help = true;
			}
		} else {
			argv[o++] = argv[i];
		}
	}
	argv[o] = NULL;
	*argc = o;
	return 0;
}

static int find_long(const struct sl_opt *opts, const char *name, size_t len)
{
	int i;

	for (i = 0; opts && opts[i].name; i++)
		if (strlen(opts[i].name) == len && !strncmp(opts[i].name, name, len))
			return i;
	return -1;
}

static int find_short(const struct sl_opt *opts, char c)
{
	int i;

	for (i = 0; opts && opts[i].name; i++)
		if (opts[i].short_name && opts[i].short_name == c)
			return i;
	return -1;
}

static bool opt_repeats(const struct sl_opt *o)
{
	size_t n = strlen(o->metavar);

	return n > 3 && !strcmp(o->metavar + n - 3, "...");
}

static int usage_error(const struct sl_cmd_spec *spec)
{
	fprintf(stderr, "see `sluice %s --help`\n", spec->path);
	return -EINVAL;
}

int sl_cli_parse(const struct sl_cmd_spec *spec, int argc, char **argv, struct sl_args *a)
{
	bool opts_done = false;
	int i;

	memset(a, 0, sizeof(*a));
	for (i = 0; i < argc; i++) {
		const char *w = argv[i];
		const char *val = NULL;
		int k;

		if (!opts_done && !strcmp(w, "--")) {
			opts_done = true;
			continue;
		}
		if (opts_done || w[0] != '-' || !w[1]) {
			if (a->npos >= spec->max_pos || a->npos >= SL_CLI_MAX_POS) {
				sl_err("unexpected argument '%s' to `sluice %s`", w, spec->path);
				return usage_error(spec);
			}
			a->pos[a->npos++] = w;
			continue;
		}
		if (w[1] == '-') {
			const char *eq = strchr(w + 2, '=');
			size_t len = eq ? (size_t)(eq - w - 2) : strlen(w + 2);

			k = find_long(spec->opts, w + 2, len);
			if (eq)
				val = eq + 1;
		} else {
			k = find_short(spec->opts, w[1]);
			if (k >= 0 && w[2])
				val = w + 2;
		}
		if (k < 0) {
			sl_err("unknown option '%s' for `sluice %s`", w, spec->path);
			return usage_error(spec);
		}
		if (k >= (int)(sizeof(a->val) / sizeof(a->val[0])))
			return -EINVAL;
		if (!spec->opts[k].metavar) {
			if (val) {
				sl_err("option --%s takes no value", spec->opts[k].name);
				return usage_error(spec);
			}
			a->val[k] = "";
			continue;
		}
		if (!val) {
			if (i + 1 >= argc) {
				sl_err("option --%s needs a value (%s)", spec->opts[k].name,
				       spec->opts[k].metavar);
				return usage_error(spec);
			}
			val = argv[++i];
		}
		a->val[k] = val;
		if (opt_repeats(&spec->opts[k])) {
			if (a->nrep >= SL_CLI_MAX_REP) {
				sl_err("option --%s is given more than %d times", spec->opts[k].name,
				       SL_CLI_MAX_REP);
				return usage_error(spec);
			}
			a->rep[a->nrep++] = val;
		}
	}
	if (a->npos < spec->min_pos) {
		sl_err("`sluice %s` needs %s", spec->path, spec->args ? spec->args : "more arguments");
		return usage_error(spec);
	}
	return 0;
}

const char *sl_args_get(const struct sl_cmd_spec *spec, const struct sl_args *a, const char *name)
{
	int k = find_long(spec->opts, name, strlen(name));

	return k < 0 ? NULL : a->val[k];
}

void sl_cli_usage_globals(FILE *f)
{
	fputs("Global options:\n"
	      "  -o, --output FORMAT      plain (default) or json\n"
	      "  -q, --quiet              print nothing but errors\n"
	      "  -v, --verbose            show progress on stderr (-vv: more)\n"
	      "  -h, --help               show this help\n", f);
}

void sl_cli_usage(FILE *f, const struct sl_cmd_spec *spec)
{
	const struct sl_opt *o;

	fprintf(f, "Usage: sluice %s%s%s [OPTIONS]\n\n%s\n", spec->path,
		spec->args ? " " : "", spec->args ? spec->args : "", spec->summary);
	if (spec->opts && spec->opts[0].name) {
		int width = 23;

		/* One column for the flags, as wide as the widest (like the global ones at least). */
		for (o = spec->opts; o->name; o++) {
			int w = 6 + (int)strlen(o->name) + (o->metavar ? 1 + (int)strlen(o->metavar) : 0);

			if (w > width)
				width = w;
		}
		fputs("\nOptions:\n", f);
		for (o = spec->opts; o->name; o++) {
			char left[128];

			snprintf(left, sizeof(left), "%c%c%s--%s%s%s",
				 o->short_name ? '-' : ' ', o->short_name ? o->short_name : ' ',
				 o->short_name ? ", " : "  ", o->name, o->metavar ? " " : "",
				 o->metavar ? o->metavar : "");
			fprintf(f, "  %-*s  %s\n", width, left, o->help);
		}
	}
	fputc('\n', f);
	sl_cli_usage_globals(f);
}

/* "node create" -> "create" */
static const char *verb_name(const struct sl_cmd_spec *spec)
{
	const char *sp = strrchr(spec->path, ' ');

	return sp ? sp + 1 : spec->path;
}

static void noun_usage(FILE *f, const struct sl_noun *noun)
{
	const struct sl_cmd_spec *const *v;

	fprintf(f, "Usage: sluice %s COMMAND [OPTIONS]\n\n%s\n\nCommands:\n", noun->name,
		noun->about);
	for (v = noun->verbs; *v; v++)
		fprintf(f, "  %-10s %s\n", verb_name(*v), (*v)->summary);
	fprintf(f, "\nSee `sluice %s COMMAND --help` for a command's options.\n\n", noun->name);
	sl_cli_usage_globals(f);
}

int sl_cli_run_noun(const struct sl_cli *cli, const struct sl_noun *noun, int argc, char **argv)
{
	const struct sl_cmd_spec *const *v;
	struct sl_args a;

	if (noun->run)
		return noun->run(cli, argc, argv);
	if (noun->prepare)
		noun->prepare(argc, argv);
	if (argc < 1) {
		if (cli->help) {
			noun_usage(stdout, noun);
			return SL_EXIT_OK;
		}
		noun_usage(stderr, noun);
		return SL_EXIT_USAGE;
	}
	for (v = noun->verbs; *v; v++)
		if (!strcmp(verb_name(*v), argv[0]))
			break;
	if (!*v) {
		sl_err("unknown command `%s %s`: see `sluice %s --help`", noun->name, argv[0],
		       noun->name);
		return SL_EXIT_USAGE;
	}
	if (cli->help) {
		sl_cli_usage(stdout, *v);
		return SL_EXIT_OK;
	}
	if (sl_cli_parse(*v, argc - 1, argv + 1, &a))
		return SL_EXIT_USAGE;
	return (*v)->fn(cli, *v, &a) ? SL_EXIT_FAIL : SL_EXIT_OK;
}

/* Is there a path segment that is exactly "-"? */
bool sl_cli_wants_stdin(const char *arg)
{
	const char *p = arg;

	if (!strstr(arg, "-/") && !strstr(arg, "/-"))
		return false;
	while (*p) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == 1 && p[0] == '-')
			return true;
		if (!end)
			break;
		p = end + 1;
	}
	return false;
}

/* One line from fd, without its newline and surrounding blanks. NULL at EOF with nothing read. */
static char *read_line(int fd)
{
	size_t len = 0, cap = 128;
	char *s = malloc(cap), *b, *e;
	bool any = false;
	char c;

	if (!s)
		return NULL;
	for (;;) {
		ssize_t r = read(fd, &c, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		any = true;
		if (c == '\n')
			break;
		if (len + 1 >= cap) {
			char *t = realloc(s, cap * 2);

			if (!t) {
				free(s);
				return NULL;
			}
			s = t;
			cap *= 2;
		}
		s[len++] = c;
	}
	s[len] = '\0';
	if (!any) {
		free(s);
		return NULL;
	}
	for (b = s; isspace((unsigned char)*b); b++)
		;
	for (e = b + strlen(b); e > b && isspace((unsigned char)e[-1]); e--)
		;
	*e = '\0';
	memmove(s, b, (size_t)(e - b) + 1);
	return s;
}

/* Append segment [p, p+n) with a leading '/' to out. */
static void put_seg(char *out, size_t *o, const char *p, size_t n)
{
	out[(*o)++] = '/';
	memcpy(out + *o, p, n);
	*o += n;
}

int sl_cli_stdin_subst(const char *arg, int fd, char **out)
{
	const char *p = arg;
	size_t o = 0, cap;
	char *line, *res;
	bool first = true, leading_slash = arg[0] == '/';

	*out = NULL;
	if (!sl_cli_wants_stdin(arg))
		return 0;
	line = read_line(fd);
	if (!line)
		return -ENODATA;
	if (!line[0]) {
		free(line);
		return -ENODATA;
	}
	cap = strlen(arg) + strlen(line) * 2 + 4;
	res = malloc(cap);
	if (!res) {
		free(line);
		return -ENOMEM;
	}
	/* Rebuild the argument segment by segment, splicing the line's segments for "-". */
	for (;;) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == 1 && p[0] == '-') {
			const char *q = line;

			while (*q) {
				const char *qe = strchr(q, '/');
				size_t ql = qe ? (size_t)(qe - q) : strlen(q);

				if (ql)
					put_seg(res, &o, q, ql);
				if (!qe)
					break;
				q = qe + 1;
			}
		} else if (len) {
			if (first && !leading_slash)
				memcpy(res + o, p, len), o += len;
			else
				put_seg(res, &o, p, len);
		}
		first = false;
		if (!end)
			break;
		p = end + 1;
	}
	res[o] = '\0';
	free(line);
	*out = res;
	return 1;
}

int sl_cli_stdin_args(int argc, char **argv, int fd)
{
	int i, ret;

	for (i = 0; i < argc; i++) {
		char *rep;

		if (!strcmp(argv[i], "--"))
			break;
		ret = sl_cli_stdin_subst(argv[i], fd, &rep);
		if (ret == -ENODATA)
			return sl_err("'%s' takes a route from standard input, but it was empty: "
				      "pipe a command's output into sluice (e.g. `sluice secure-channel create ... | sluice ...`)",
				      argv[i]);
		if (ret < 0)
			return sl_err("out of memory");
		if (ret)
			argv[i] = rep;	/* lives until exit */
	}
	return 0;
}
