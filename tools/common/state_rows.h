/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The state store's row decoders (state.c), apart so that they can be fed
 * rows that no sluice wrote (tests/fuzz/fuzz_state_rows.c): a store is a
 * file its user may edit, copy from a newer sluice or damage. Each reads
 * the current row of s, its columns in the order of the record's SELECT
 * (the comments list them), into its record, every field of which it
 * writes. Whatever a column holds
 * (NULL, a number, text, a blob of any length) gives a record whose texts
 * are NUL-terminated inside their fields (longer texts are cut) and whose
 * change history is either empty or the column's bytes.
 */
#ifndef SL_STATE_ROWS_H
#define SL_STATE_ROWS_H

#include <sqlite3.h>
#include <stdint.h>

/* name, tcp_address, tcp_port, pid, pid_start, stopped, identity, shards,
 * created_at, started_at, pin_shards, spin_us -> struct sl_node_rec */
void sl_state_read_node(sqlite3_stmt *s, void *rec);
/* name, identifier, change_history, created_at -> struct sl_identity_rec */
void sl_state_read_identity(sqlite3_stmt *s, void *rec);
/* Column col as a 64-byte secret key: 0, or -ENOKEY (absent or another length). */
int sl_state_read_secret(sqlite3_stmt *s, int col, uint8_t secret[64]);
/* node, alias, from_address, to_route, via -> struct sl_inlet_rec */
void sl_state_read_inlet(sqlite3_stmt *s, void *rec);
/* node, address, to_address -> struct sl_outlet_rec */
void sl_state_read_outlet(sqlite3_stmt *s, void *rec);
/* node, name, at_route, remote_address -> struct sl_relay_rec */
void sl_state_read_relay(sqlite3_stmt *s, void *rec);
/* node, kind, address, identity, authorized -> struct sl_listener_rec */
void sl_state_read_listener(sqlite3_stmt *s, void *rec);
/* name, route, identifier -> struct sl_project_rec */
void sl_state_read_project(sqlite3_stmt *s, void *rec);

#endif
