// SPDX-License-Identifier: Apache-2.0
/* A node's limits: NAME=VALUE, ranges, the stored text both ways; a repeated --limit. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tools/cli/cli.h"
#include "tools/common/limits.h"

TestSuite(limits, .timeout = 5);

Test(limits, set_and_format_keep_only_what_differs)
{
	struct sl_limits l;
	char buf[256];

	sl_limits_default(&l);
	cr_assert_eq(sl_limits_format(&l, buf, sizeof(buf)), 0);
	cr_expect_str_empty(buf);
	cr_assert_eq(sl_limits_set(&l, "max-connections-per-source=16"), 0);
	cr_assert_eq(sl_limits_set(&l, "max-connections=20000"), 0);
	cr_assert_eq(sl_limits_format(&l, buf, sizeof(buf)), 0);
	cr_expect_str_eq(buf, "max-connections=20000,max-connections-per-source=16");
	/* Set back to its default, a limit leaves the text. */
	cr_assert_eq(sl_limits_set(&l, "max-connections=50000"), 0);
	cr_assert_eq(sl_limits_format(&l, buf, sizeof(buf)), 0);
	cr_expect_str_eq(buf, "max-connections-per-source=16");
	cr_expect_eq(sl_limits_format(&l, buf, 8), -ENAMETOOLONG);
}

Test(limits, parse_reads_what_format_wrote)
{
	struct sl_limits l;

	cr_assert_eq(sl_limits_parse(&l, "max-connections=7,max-connections-per-source=3", "t"), 0);
	cr_expect_eq(l.v[SL_LIMIT_MAX_CONNECTIONS], 7);
	cr_expect_eq(l.v[SL_LIMIT_MAX_CONNECTIONS_PER_SOURCE], 3);
	cr_assert_eq(sl_limits_parse(&l, "", "t"), 0);
	cr_expect_eq(l.v[SL_LIMIT_MAX_CONNECTIONS], sl_limit_defs[SL_LIMIT_MAX_CONNECTIONS].def);
}

Test(limits, bad_values_name_the_limit_and_its_range, .init = cr_redirect_stderr)
{
	struct sl_limits l;

	sl_limits_default(&l);
	cr_expect_eq(sl_limits_set(&l, "max-connections=0"), -EINVAL);
	cr_expect_eq(sl_limits_set(&l, "max-connections=1000001"), -EINVAL);
	cr_expect_eq(sl_limits_set(&l, "max-connections=-1"), -EINVAL);
	cr_expect_eq(sl_limits_set(&l, "max-connections=1k"), -EINVAL);
	cr_expect_eq(sl_limits_set(&l, "max-connections="), -EINVAL);
	cr_expect_eq(sl_limits_set(&l, "max-connections"), -EINVAL);
	cr_expect_eq(sl_limits_set(&l, "max-route-length=33"), -EINVAL);
	cr_expect_eq(sl_limits_set(&l, "max-route-length=32"), 0);
	cr_expect_eq(sl_limits_set(&l, "nope=3"), -EINVAL);
	/* The timeouts: idle-timeout may be off (0), a handshake always has one. */
	cr_expect_eq(sl_limits_set(&l, "idle-timeout=0"), 0);
	cr_expect_eq(l.v[SL_LIMIT_IDLE_TIMEOUT], 0);
	cr_expect_eq(sl_limits_set(&l, "handshake-timeout=0"), -EINVAL);
	cr_expect_eq(sl_limits_set(&l, "handshake-timeout=3601"), -EINVAL);
	cr_expect_eq(sl_limits_set(&l, "max-pending-handshakes-per-connection=1"), 0);
	cr_expect_eq(l.v[SL_LIMIT_MAX_PENDING_HANDSHAKES_PER_CONNECTION], 1);
	cr_expect_eq(sl_limits_parse(&l, "max-connections=5,bad", "t"), -EINVAL);
	cr_expect_eq(l.v[SL_LIMIT_MAX_CONNECTIONS], 5, "a value before the bad one is read");
	fflush(stderr);

	char out[4096];
	size_t n = fread(out, 1, sizeof(out) - 1, cr_get_redirected_stderr());

	out[n] = '\0';
	cr_expect(strstr(out, "--limit max-connections=0: max-connections (accepted TCP connections "
			      "open at once, in total) is a number from 1 to 1000000 (default 50000)\n"),
		  "%s", out);
	cr_expect(strstr(out, "--limit max-connections: use NAME=VALUE, e.g. --limit "
			      "max-connections=20000\n"), "%s", out);
	cr_expect(strstr(out, "--limit nope: no such limit; the limits are:\n"
			      "  max-connections                        "
			      "accepted TCP connections open at once, in "
			      "total (default 50000)\n"), "%s", out);
	cr_expect(strstr(out, "t: bad limits \"max-connections=5,bad\"\n"), "%s", out);
}

static int nop(const struct sl_cli *cli, const struct sl_cmd_spec *spec, const struct sl_args *a)
{
	(void)cli, (void)spec, (void)a;
	return 0;
}

Test(limits, a_repeated_limit_keeps_every_value)
{
	static const struct sl_opt opts[] = {
		{ "limit", 0, "NAME=VALUE...", "h" },
		{ "shards", 0, "N", "h" },
		{ NULL, 0, NULL, NULL },
	};
	static const struct sl_cmd_spec spec = { "node create", "NAME", "s", opts, 1, 1, nop };
	char *argv[] = { "n", "--limit", "a=1", "--shards", "2", "--shards", "3", "--limit=b=2" };
	struct sl_args a;

	cr_assert_eq(sl_cli_parse(&spec, 8, argv, &a), 0);
	cr_assert_eq(a.nrep, 2);
	cr_expect_str_eq(a.rep[0], "a=1");
	cr_expect_str_eq(a.rep[1], "b=2");
	cr_expect_str_eq(sl_args_get(&spec, &a, "shards"), "3", "others still keep the last");
}
