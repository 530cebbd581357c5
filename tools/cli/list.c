// SPDX-License-Identifier: Apache-2.0
/* Printing a list in plain, table or JSON form (list.h). */
#include <stdarg.h>
#include <stdio.h>

#include "tools/cli/list.h"

void sl_list_begin(struct sl_list *l, const struct sl_cli *cli, const struct sl_table *table)
{
	l->cli = cli;
	l->table = table;
	l->rows = 0;
	if (cli->output == SL_OUTPUT_JSON)
		putchar('[');
}

static void padded(const struct sl_table *t, const char *const *cells)
{
	for (unsigned c = 0; c + 1 < t->ncols; c++)
		printf("%-*s ", t->widths[c], cells[c]);
	printf("%s\n", cells[t->ncols - 1]);
}

enum sl_row sl_list_row(struct sl_list *l)
{
	if (l->cli->output == SL_OUTPUT_JSON) {
		if (l->rows++)
			putchar(',');
		return SL_ROW_JSON;
	}
	if (!l->cli->tty) {
		l->rows++;
		return SL_ROW_BARE;
	}
	if (!l->rows++ && l->table && l->table->heads)
		padded(l->table, l->table->heads);
	return SL_ROW_TABLE;
}

void sl_list_cells(const struct sl_list *l, const char *const *cells)
{
	const struct sl_table *t = l->table;

	if (l->cli->tty || !t->bare_sep) {
		padded(t, cells);
		return;
	}
	for (unsigned c = 0; c < t->ncols; c++)
		printf("%s%s", c ? t->bare_sep : "", cells[c]);
	putchar('\n');
}

void sl_list_end(struct sl_list *l, const char *empty_fmt, ...)
{
	va_list ap;

	if (l->cli->output == SL_OUTPUT_JSON) {
		puts("]");
		return;
	}
	if (l->rows || !l->cli->tty || !empty_fmt)
		return;
	va_start(ap, empty_fmt);
	vprintf(empty_fmt, ap);
	va_end(ap);
	putchar('\n');
}
