// SPDX-License-Identifier: Apache-2.0
/* A node's limits on the command line (node_limits.h): --limit onto the stored text, and show. */
#include <errno.h>
#include <stdio.h>

#include "tools/cli/node_limits.h"
#include "tools/common/limits.h"
#include "tools/common/text.h"

/*
 * Apply every --limit onto the text `stored` (the node's non-default limits),
 * giving the new text in out. 0 or -EINVAL (printed).
 */
int sl_node_apply_limits(const struct sl_args *a, const char *stored, char *out, size_t cap)
{
	struct sl_limits l;

	if (sl_limits_parse(&l, stored, "the node's stored limits"))
		return -EINVAL;
	for (unsigned i = 0; i < a->nrep; i++)
		if (sl_limits_set(&l, a->rep[i]))
			return -EINVAL;
	if (sl_limits_format(&l, out, cap))
		return sl_err("too many limits to record"), -EINVAL;
	return 0;
}

/* One line per limit; "(default)" marks those not set with --limit. */
void sl_node_print_limits(const struct sl_node_rec *rec)
{
	struct sl_limits l;

	if (sl_limits_parse(&l, rec->limits, "the node's stored limits"))
		sl_limits_default(&l);
	printf("Limits:\n");
	for (int i = 0; i < SL_LIMITS; i++)
		printf("  %-38s %llu%s\n", sl_limit_defs[i].name, (unsigned long long)l.v[i],
		       l.v[i] == sl_limit_defs[i].def ? " (default)" : "");
}

/* "limits": every limit by name, with its value (stored or default). */
void sl_node_json_limits(FILE *f, const struct sl_node_rec *rec)
{
	struct sl_limits l;

	if (sl_limits_parse(&l, rec->limits, "the node's stored limits"))
		sl_limits_default(&l);
	fputs(",\"limits\":{", f);
	for (int i = 0; i < SL_LIMITS; i++)
		fprintf(f, "%s\"%s\":%llu", i ? "," : "", sl_limit_defs[i].name,
			(unsigned long long)l.v[i]);
	fputc('}', f);
}
