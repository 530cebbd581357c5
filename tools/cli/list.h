/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Printing a list, the same way for every `list` command: with --output json
 * a JSON array (brackets and commas here, each element the command's); on a
 * terminal a row per item, an optional header line over the first row, and a
 * "no X" line when there is none; on a pipe the bare row (tab-separated
 * cells, or the command's own bare form). A command asks sl_list_row() how to
 * print each item and prints it, or hands the cells to sl_list_cells().
 */
#ifndef SL_LIST_H
#define SL_LIST_H

#include <stddef.h>

#include "tools/cli/cli.h"

/* How the current row is printed. */
enum sl_row {
	SL_ROW_JSON,		/* --output json: one array element, the comma already printed */
	SL_ROW_TABLE,		/* plain on a terminal: for people */
	SL_ROW_BARE,		/* plain on a pipe: for the next program */
};

/*
 * Columns for sl_list_cells(). On a terminal every cell but the last is
 * left-aligned in its width and followed by a space, and `heads` (NULL: none)
 * is printed the same way over the first row. On a pipe the cells are joined
 * by `bare_sep`, or printed as on a terminal when it is NULL.
 */
struct sl_table {
	unsigned ncols;
	const int *widths;
	const char *const *heads;
	const char *bare_sep;
};

struct sl_list {
	const struct sl_cli *cli;
	const struct sl_table *table;	/* NULL: the rows are printed by the command alone */
	size_t rows;
};

/* Start a list (prints "[" in JSON). table may be NULL. */
void sl_list_begin(struct sl_list *l, const struct sl_cli *cli, const struct sl_table *table);
/* The next row: prints what comes before it (a comma, the header) and says how to print it. */
enum sl_row sl_list_row(struct sl_list *l);
/* Print the current (plain) row's cells, ncols of them, and a newline. */
void sl_list_cells(const struct sl_list *l, const char *const *cells);
/*
 * End the list: "]" and a newline in JSON; on a terminal, when no row was
 * printed, the line `empty_fmt` makes (nothing when it is NULL).
 */
void sl_list_end(struct sl_list *l, const char *empty_fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
