/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the state store's two files share: state.c opens, migrates and
 * explains failures; state_records.c reads and writes the rows.
 */
#ifndef SL_TOOLS_STATE_INT_H
#define SL_TOOLS_STATE_INT_H

#include <limits.h>
#include <sqlite3.h>
#include <stdbool.h>

struct sl_state {
	sqlite3 *db;
	char path[PATH_MAX];
	bool read_only;		/* opened from a read-only file system */
};

/* Says in words what went wrong with db (full disk, read-only, busy...); the errno to return. */
int sl_state_fail(sqlite3 *db);
int sl_state_exec(sqlite3 *db, const char *sql);
int sl_state_prepare(struct sl_state *st, const char *sql, sqlite3_stmt **s);
/* Step a statement that returns no rows; 0, -EEXIST on a constraint, or sl_state_fail's. */
int sl_state_step_done(struct sl_state *st, sqlite3_stmt *s);

#endif
