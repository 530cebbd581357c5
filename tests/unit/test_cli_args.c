// SPDX-License-Identifier: Apache-2.0
/* The CLI's argument rules: global flags, option tables, the stdin rule, durations. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/cli/cli.h"

TestSuite(cli_args, .timeout = 5);

/* A pipe whose read end holds `text` (then EOF). */
static int pipe_with(const char *text)
{
	int p[2];

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(write(p[1], text, strlen(text)), (ssize_t)strlen(text));
	close(p[1]);
	return p[0];
}

static const struct {
	const char *arg, *line, *want;	/* want NULL: unchanged, no line consumed */
} subst_cases[] = {
	{ "-/service/uppercase", "/service/0123abcd\n", "/service/0123abcd/service/uppercase" },
	{ "/node/n1/-", "/service/x\n", "/node/n1/service/x" },
	{ "/node/n1/-/service/echo", "service/x/\n", "/node/n1/service/x/service/echo" },
	{ "-", "/service/x\n", NULL },			/* a bare "-" is not a route */
	{ "/service/my-/x", "/service/y\n", NULL },	/* "my-" is a name, not the marker */
	{ "/service/-x", "/service/y\n", NULL },
	{ "hello", "/service/y\n", NULL },
	{ "-/service/uppercase", "  /service/ab  \r\n", "/service/ab/service/uppercase" },
	{ "-/", "/service/ab\n", "/service/ab" },
};

Test(cli_args, stdin_substitution_table)
{
	size_t i;

	for (i = 0; i < sizeof(subst_cases) / sizeof(subst_cases[0]); i++) {
		int fd = pipe_with(subst_cases[i].line);
		char *out = (char *)"untouched";
		int ret = sl_cli_stdin_subst(subst_cases[i].arg, fd, &out);

		if (!subst_cases[i].want) {
			cr_expect_eq(ret, 0, "case %zu (%s) rewrote", i, subst_cases[i].arg);
			cr_expect_null(out);
		} else {
			cr_assert_eq(ret, 1, "case %zu (%s): %d", i, subst_cases[i].arg, ret);
			cr_expect_str_eq(out, subst_cases[i].want, "case %zu", i);
			free(out);
		}
		close(fd);
	}
}

Test(cli_args, stdin_takes_one_line_per_argument)
{
	int fd = pipe_with("/service/a\n/service/b\n");
	char *argv[] = { (char *)"-/service/x", (char *)"plain", (char *)"/node/n1/-", NULL };

	cr_assert_eq(sl_cli_stdin_args(3, argv, fd), 0);
	cr_expect_str_eq(argv[0], "/service/a/service/x");
	cr_expect_str_eq(argv[1], "plain");
	cr_expect_str_eq(argv[2], "/node/n1/service/b");
	free(argv[0]);
	free(argv[2]);
	close(fd);
}

Test(cli_args, stdin_empty_is_an_error)
{
	int fd = pipe_with("");
	int fd2 = pipe_with("\n");
	char *out;

	cr_expect_eq(sl_cli_stdin_subst("-/service/x", fd, &out), -ENODATA);
	cr_expect_eq(sl_cli_stdin_subst("-/service/x", fd2, &out), -ENODATA);
	close(fd);
	close(fd2);
}

Test(cli_args, stdin_not_read_after_double_dash)
{
	int fd = pipe_with("/service/a\n");
	char *argv[] = { (char *)"--", (char *)"-/service/x", NULL };

	cr_assert_eq(sl_cli_stdin_args(2, argv, fd), 0);
	cr_expect_str_eq(argv[1], "-/service/x");
	close(fd);
}

static const struct {
	const char *text;
	int ret;
	uint64_t ms;
} dur_cases[] = {
	{ "10s", 0, 10000 }, { "500ms", 0, 500 }, { "1m30s", 0, 90000 }, { "2h", 0, 7200000 },
	{ "1.5s", 0, 1500 }, { "250us", 0, 1 }, { "3", 0, 3000 }, { "1m", 0, 60000 },
	{ "", -EINVAL, 0 }, { "s", -EINVAL, 0 }, { "10x", -EINVAL, 0 }, { "0s", -EINVAL, 0 },
	{ "-1s", -EINVAL, 0 }, { "10 s", -EINVAL, 0 }, { "5s3", -EINVAL, 0 },
	{ "25h", -ERANGE, 0 }, { "99999999999999999999s", -ERANGE, 0 },
};

Test(cli_args, durations)
{
	size_t i;

	for (i = 0; i < sizeof(dur_cases) / sizeof(dur_cases[0]); i++) {
		uint64_t ms = 0;
		int ret = sl_parse_duration_ms(dur_cases[i].text, &ms);

		cr_expect_eq(ret, dur_cases[i].ret, "'%s': got %d", dur_cases[i].text, ret);
		if (!dur_cases[i].ret)
			cr_expect_eq(ms, dur_cases[i].ms, "'%s': %llu ms", dur_cases[i].text,
				     (unsigned long long)ms);
	}
}

Test(cli_args, duration_format)
{
	char b[32];

	sl_format_duration_ms(10000, b, sizeof(b));
	cr_expect_str_eq(b, "10s");
	sl_format_duration_ms(500, b, sizeof(b));
	cr_expect_str_eq(b, "500ms");
	sl_format_duration_ms(120000, b, sizeof(b));
	cr_expect_str_eq(b, "2m");
}

Test(cli_args, global_flags_anywhere)
{
	struct sl_cli cli = { 0 };
	char *argv[] = { (char *)"node", (char *)"-q", (char *)"list", (char *)"--output",
			 (char *)"json", (char *)"-vv", (char *)"--", (char *)"-q", NULL };
	int argc = 8;

	cr_assert_eq(sl_cli_globals(&cli, &argc, argv), 0);
	cr_expect_eq(cli.output, SL_OUTPUT_JSON);
	cr_expect(cli.quiet);
	cr_expect_eq(cli.verbose, 2);
	cr_expect_not(cli.help);
	cr_assert_eq(argc, 4);
	cr_expect_str_eq(argv[0], "node");
	cr_expect_str_eq(argv[1], "list");
	cr_expect_str_eq(argv[2], "--");
	cr_expect_str_eq(argv[3], "-q");	/* after "--" it is a value */
	cr_expect_null(argv[4]);
}

Test(cli_args, output_modes, .init = cr_redirect_stderr)
{
	struct sl_cli cli = { 0 };
	char *a1[] = { (char *)"--output=plain", NULL };
	char *a2[] = { (char *)"-o", (char *)"yaml", NULL };
	char *a3[] = { (char *)"--output", NULL };
	char *a4[] = { (char *)"--help", NULL };
	int n1 = 1, n2 = 2, n3 = 1, n4 = 1;

	cli.output = SL_OUTPUT_JSON;
	cr_expect_eq(sl_cli_globals(&cli, &n1, a1), 0);
	cr_expect_eq(cli.output, SL_OUTPUT_PLAIN);
	cr_expect_eq(sl_cli_globals(&cli, &n2, a2), -EINVAL, "unknown format accepted");
	cr_expect_eq(sl_cli_globals(&cli, &n3, a3), -EINVAL, "missing value accepted");
	cr_expect_eq(sl_cli_globals(&cli, &n4, a4), 0);
	cr_expect(cli.help);
	cr_expect_eq(n4, 0);
}

static const struct sl_opt send_opts[] = {
	{ "from", 0, "NODE", "sending node" },
	{ "to", 0, "ROUTE", "route" },
	{ "timeout", 0, "DURATION", "wait" },
	{ "hex", 0, NULL, "hex payload" },
	{ "yes", 'y', NULL, "no prompt" },
	{ NULL, 0, NULL, NULL },
};
static const struct sl_cmd_spec send_spec = {
	"message send", "MESSAGE", "Send a message", send_opts, 1, 1, NULL,
};

Test(cli_args, options_and_positionals)
{
	char *argv[] = { (char *)"--from", (char *)"n1", (char *)"hello", (char *)"--to=/node/n2",
			 (char *)"--hex", (char *)"-y", NULL };
	struct sl_args a;

	cr_assert_eq(sl_cli_parse(&send_spec, 6, argv, &a), 0);
	cr_expect_str_eq(sl_args_get(&send_spec, &a, "from"), "n1");
	cr_expect_str_eq(sl_args_get(&send_spec, &a, "to"), "/node/n2");
	cr_expect(sl_args_has(&send_spec, &a, "hex"));
	cr_expect(sl_args_has(&send_spec, &a, "yes"));
	cr_expect_not(sl_args_has(&send_spec, &a, "timeout"));
	cr_assert_eq(a.npos, 1);
	cr_expect_str_eq(a.pos[0], "hello");
}

Test(cli_args, usage_errors, .init = cr_redirect_stderr)
{
	char *unknown[] = { (char *)"hello", (char *)"--frm", (char *)"n1", NULL };
	char *missing[] = { (char *)"hello", (char *)"--to", NULL };
	char *extra[] = { (char *)"a", (char *)"b", NULL };
	char *flagval[] = { (char *)"a", (char *)"--hex=1", NULL };
	char *none[] = { NULL };
	char *dash[] = { (char *)"--", (char *)"--from", NULL };
	struct sl_args a;

	cr_expect_eq(sl_cli_parse(&send_spec, 3, unknown, &a), -EINVAL);
	cr_expect_eq(sl_cli_parse(&send_spec, 2, missing, &a), -EINVAL);
	cr_expect_eq(sl_cli_parse(&send_spec, 2, extra, &a), -EINVAL);
	cr_expect_eq(sl_cli_parse(&send_spec, 2, flagval, &a), -EINVAL);
	cr_expect_eq(sl_cli_parse(&send_spec, 0, none, &a), -EINVAL);
	cr_expect_eq(sl_cli_parse(&send_spec, 2, dash, &a), 0);
	cr_expect_str_eq(a.pos[0], "--from");
}

Test(cli_args, usage_lists_every_flag)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	const struct sl_opt *o;

	sl_cli_usage(f, &send_spec);
	fclose(f);
	for (o = send_opts; o->name; o++) {
		char flag[40];

		snprintf(flag, sizeof(flag), "--%s", o->name);
		cr_expect(strstr(buf, flag), "usage lacks %s:\n%s", flag, buf);
	}
	cr_expect(strstr(buf, "--output"));
	cr_expect(strstr(buf, "--quiet"));
	cr_expect(strstr(buf, "--verbose"));
	cr_expect(strstr(buf, "--help"));
	free(buf);
}

Test(cli_args, hex_and_text)
{
	uint8_t b[8];
	char h[17];

	cr_expect_eq(sl_hex_decode("0568656C6c6f", b, sizeof(b)), 6);
	cr_expect_eq(b[0], 5);
	sl_hex_encode(b, 6, h);
	cr_expect_str_eq(h, "0568656c6c6f");
	cr_expect_eq(sl_hex_decode("abc", b, sizeof(b)), -EINVAL);
	cr_expect_eq(sl_hex_decode("zz", b, sizeof(b)), -EINVAL);
	cr_expect_eq(sl_hex_decode("000000000000000000", b, sizeof(b)), -E2BIG);
	cr_expect(sl_printable_utf8((const uint8_t *)"HELLO", 5));
	cr_expect(sl_printable_utf8((const uint8_t *)"h\xc3\xa9llo", 6));
	cr_expect_not(sl_printable_utf8((const uint8_t *)"\x05hello", 6));
	cr_expect_not(sl_printable_utf8((const uint8_t *)"\xc3", 1), "truncated sequence");
	cr_expect_not(sl_printable_utf8((const uint8_t *)"\xc0\xaf", 2), "overlong form");
	cr_expect_not(sl_printable_utf8((const uint8_t *)"\xed\xa0\x80", 3), "surrogate");
}

Test(cli_args, node_names)
{
	cr_expect(sl_node_name_valid("n1"));
	cr_expect(sl_node_name_valid("relay_eu-1.a"));
	cr_expect_not(sl_node_name_valid(""));
	cr_expect_not(sl_node_name_valid("-n"));
	cr_expect_not(sl_node_name_valid(".."));
	cr_expect_not(sl_node_name_valid("a/b"));
	cr_expect_not(sl_node_name_valid("a b"));
	cr_expect_not(sl_node_name_valid(
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}
