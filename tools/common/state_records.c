// SPDX-License-Identifier: Apache-2.0
/* The state store's rows (state.h): nodes, identities, inlets, outlets, relays, listeners, projects. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/common/state.h"
#include "tools/common/state_int.h"
#include "tools/common/state_rows.h"

int sl_state_node_add(struct sl_state *st, const struct sl_node_rec *n)
{
	sqlite3_stmt *s;
	int ret;

	ret = sl_state_prepare(st, "INSERT INTO nodes (name, tcp_address, tcp_port, pid, pid_start, stopped,"
			  " identity, shards, created_at, started_at, pin_shards, spin_us,"
			  " frame_timeout_ms, metrics, udp_address, limits, relay_directory)"
			  " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", &s);
	if (ret)
		return ret;
	sqlite3_bind_text(s, 1, n->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, n->tcp_address, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, n->tcp_port);
	sqlite3_bind_int64(s, 4, n->pid);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)n->pid_start);
	sqlite3_bind_int(s, 6, n->stopped);
	sqlite3_bind_text(s, 7, n->identity, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 8, (int)n->shards);
	sqlite3_bind_int64(s, 9, n->created_at ? n->created_at : (int64_t)time(NULL));
	sqlite3_bind_int64(s, 10, n->started_at);
	sqlite3_bind_int(s, 11, n->pin_shards);
	sqlite3_bind_int(s, 12, (int)n->spin_us);
	sqlite3_bind_int64(s, 13, (sqlite3_int64)(n->frame_timeout_ms ? n->frame_timeout_ms :
						  SL_NODE_FRAME_TIMEOUT_MS_DEFAULT));
	sqlite3_bind_text(s, 14, n->metrics, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 15, n->udp_address, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 16, n->limits, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 17, n->relay_directory, -1, SQLITE_STATIC);
	return sl_state_step_done(st, s);
}

#define NODE_COLS "name, tcp_address, tcp_port, pid, pid_start, stopped, identity, shards," \
		  " created_at, started_at, pin_shards, spin_us, frame_timeout_ms, metrics, udp_address," \
		  " limits, relay_directory"

static void copy_text(char *dst, size_t cap, const unsigned char *src)
{
	snprintf(dst, cap, "%s", src ? (const char *)src : "");
}

void sl_state_read_node(sqlite3_stmt *s, void *rec)
{
	struct sl_node_rec *n = rec;

	memset(n, 0, sizeof(*n));
	copy_text(n->name, sizeof(n->name), sqlite3_column_text(s, 0));
	copy_text(n->tcp_address, sizeof(n->tcp_address), sqlite3_column_text(s, 1));
	n->tcp_port = (uint16_t)sqlite3_column_int(s, 2);
	n->pid = sqlite3_column_int64(s, 3);
	n->pid_start = (uint64_t)sqlite3_column_int64(s, 4);
	n->stopped = sqlite3_column_int(s, 5) != 0;
	copy_text(n->identity, sizeof(n->identity), sqlite3_column_text(s, 6));
	n->shards = (unsigned)sqlite3_column_int(s, 7);
	n->created_at = sqlite3_column_int64(s, 8);
	n->started_at = sqlite3_column_int64(s, 9);
	n->pin_shards = sqlite3_column_int(s, 10) != 0;
	n->spin_us = (unsigned)sqlite3_column_int(s, 11);
	n->frame_timeout_ms = (uint64_t)sqlite3_column_int64(s, 12);
	if (!n->frame_timeout_ms)
		n->frame_timeout_ms = SL_NODE_FRAME_TIMEOUT_MS_DEFAULT;
	copy_text(n->metrics, sizeof(n->metrics), sqlite3_column_text(s, 13));
	copy_text(n->udp_address, sizeof(n->udp_address), sqlite3_column_text(s, 14));
	copy_text(n->limits, sizeof(n->limits), sqlite3_column_text(s, 15));
	copy_text(n->relay_directory, sizeof(n->relay_directory), sqlite3_column_text(s, 16));
}

int sl_state_node_get(struct sl_state *st, const char *name, struct sl_node_rec *n)
{
	sqlite3_stmt *s;
	int ret, rc;

	ret = sl_state_prepare(st, "SELECT " NODE_COLS " FROM nodes WHERE name = ?", &s);
	if (ret)
		return ret;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		sl_state_read_node(s, n);
	else if (rc != SQLITE_DONE)
		ret = sl_state_fail(st->db);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : ret;
}

/* Bind texts to parameters 1..n; a NULL text binds SQL NULL. */
static void bind_texts(sqlite3_stmt *s, const char *const *text, int n)
{
	for (int i = 0; i < n; i++)
		sqlite3_bind_text(s, i + 1, text[i], -1, SQLITE_STATIC);
}

/*
 * Every row of `sql` (its parameters bound to `keys`), each read by `read` into
 * a zeroed record of `size` bytes, as one malloc'd array. 0, -ENOMEM, -EIO.
 */
static int list_rows(struct sl_state *st, const char *sql, const char *const *keys, int nkeys,
		     size_t size, void (*read)(sqlite3_stmt *s, void *rec), void **v,
		     size_t *count)
{
	sqlite3_stmt *s;
	size_t n = 0, cap = 0;
	char *out = NULL;
	int ret, rc;

	*v = NULL;
	*count = 0;
	ret = sl_state_prepare(st, sql, &s);
	if (ret)
		return ret;
	bind_texts(s, keys, nkeys);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			char *grown = realloc(out, (cap ? cap * 2 : 8) * size);

			if (!grown) {
				ret = -ENOMEM;
				break;
			}
			out = grown;
			cap = cap ? cap * 2 : 8;
		}
		memset(out + n * size, 0, size);
		read(s, out + n * size);
		n++;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = sl_state_fail(st->db);
	sqlite3_finalize(s);
	if (ret) {
		free(out);
		return ret;
	}
	*v = out;
	*count = n;
	return 0;
}

/* INSERT OR REPLACE a row of texts (NULL for SQL NULL) and then its created_at. */
/* n texts, then created_at, then (flag not NULL) one integer. */
static int put_row_flag(struct sl_state *st, const char *sql, const char *const *text, int n,
			const int *flag)
{
	sqlite3_stmt *s;
	int ret;

	ret = sl_state_prepare(st, sql, &s);
	if (ret)
		return ret;
	bind_texts(s, text, n);
	sqlite3_bind_int64(s, n + 1, (int64_t)time(NULL));
	if (flag)
		sqlite3_bind_int(s, n + 2, *flag);
	return sl_state_step_done(st, s);
}

static int put_row(struct sl_state *st, const char *sql, const char *const *text, int n)
{
	return put_row_flag(st, sql, text, n, NULL);
}

int sl_state_node_list(struct sl_state *st, struct sl_node_rec **v, size_t *count)
{
	return list_rows(st, "SELECT " NODE_COLS " FROM nodes ORDER BY name", NULL, 0,
			 sizeof(**v), sl_state_read_node, (void **)v, count);
}

/* Run an UPDATE; -ENOENT when it touched no row. */
static int update_done(struct sl_state *st, sqlite3_stmt *s)
{
	int ret = sl_state_step_done(st, s);

	if (ret)
		return ret;
	return sqlite3_changes(st->db) ? 0 : -ENOENT;
}

int sl_state_node_running(struct sl_state *st, const char *name, int64_t pid,
			  uint64_t pid_start, uint16_t port)
{
	sqlite3_stmt *s;
	int ret;

	ret = sl_state_prepare(st, "UPDATE nodes SET pid = ?, pid_start = ?, tcp_port = ?, stopped = 0,"
			  " started_at = ? WHERE name = ?", &s);
	if (ret)
		return ret;
	sqlite3_bind_int64(s, 1, pid);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)pid_start);
	sqlite3_bind_int(s, 3, port);
	sqlite3_bind_int64(s, 4, (int64_t)time(NULL));
	sqlite3_bind_text(s, 5, name, -1, SQLITE_STATIC);
	return update_done(st, s);
}

int sl_state_node_stopped(struct sl_state *st, const char *name, int64_t pid, bool by_user)
{
	sqlite3_stmt *s;
	int ret;

	ret = sl_state_prepare(st, "UPDATE nodes SET pid = 0, pid_start = 0,"
			  " stopped = CASE WHEN ? THEN 1 ELSE stopped END"
			  " WHERE name = ? AND (? = 0 OR pid = ?)", &s);
	if (ret)
		return ret;
	sqlite3_bind_int(s, 1, by_user);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, pid);
	sqlite3_bind_int64(s, 4, pid);
	ret = update_done(st, s);
	/* A newer daemon owns the row now: nothing to clear, not an error. */
	return ret == -ENOENT && pid ? 0 : ret;
}

/* One text column of a node's row; sql is "UPDATE nodes SET <column> = ? WHERE name = ?". */
static int set_node_text(struct sl_state *st, const char *sql, const char *name,
			 const char *value)
{
	sqlite3_stmt *s;
	int ret;

	ret = sl_state_prepare(st, sql, &s);
	if (ret)
		return ret;
	sqlite3_bind_text(s, 1, value, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	return update_done(st, s);
}

int sl_state_node_set_limits(struct sl_state *st, const char *name, const char *limits)
{
	return set_node_text(st, "UPDATE nodes SET limits = ? WHERE name = ?", name, limits);
}

int sl_state_node_configure(struct sl_state *st, const struct sl_node_rec *n)
{
	sqlite3_stmt *s;
	int ret;

	ret = sl_state_prepare(st, "UPDATE nodes SET tcp_address = ?, udp_address = ?, identity = ?,"
			       " shards = ?, pin_shards = ?, spin_us = ?, frame_timeout_ms = ?,"
			       " metrics = ?, limits = ?, relay_directory = ? WHERE name = ?", &s);
	if (ret)
		return ret;
	sqlite3_bind_text(s, 1, n->tcp_address, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, n->udp_address, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, n->identity, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, (int)n->shards);
	sqlite3_bind_int(s, 5, n->pin_shards);
	sqlite3_bind_int(s, 6, (int)n->spin_us);
	sqlite3_bind_int64(s, 7, (sqlite3_int64)n->frame_timeout_ms);
	sqlite3_bind_text(s, 8, n->metrics, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 9, n->limits, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 10, n->relay_directory, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 11, n->name, -1, SQLITE_STATIC);
	return update_done(st, s);
}

int sl_state_node_set_metrics(struct sl_state *st, const char *name, const char *addr)
{
	return set_node_text(st, "UPDATE nodes SET metrics = ? WHERE name = ?", name, addr);
}

int sl_state_node_set_stopped_flag(struct sl_state *st, const char *name, bool stopped)
{
	sqlite3_stmt *s;
	int ret;

	ret = sl_state_prepare(st, "UPDATE nodes SET stopped = ? WHERE name = ?", &s);
	if (ret)
		return ret;
	sqlite3_bind_int(s, 1, stopped);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	return update_done(st, s);
}

int sl_state_node_delete(struct sl_state *st, const char *name)
{
	sqlite3_stmt *s;
	int ret;

	/* One transaction: the node and its own identity go together or not at all. */
	ret = sl_state_exec(st->db, "BEGIN IMMEDIATE");
	if (ret)
		return ret;
	ret = sl_state_prepare(st, "DELETE FROM nodes WHERE name = ?", &s);
	if (ret)
		goto rollback;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	ret = update_done(st, s);
	if (ret && ret != -ENOENT)
		goto rollback;
	/* Only "@NAME": an identity the user made and gave the node with --identity stays. */
	if (sl_state_prepare(st, "DELETE FROM identities WHERE name = '@' || ?", &s))
		goto rollback_eio;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	if (sl_state_step_done(st, s))
		goto rollback_eio;
	if (sl_state_exec(st->db, "COMMIT"))
		goto rollback_eio;
	return ret;
rollback_eio:
	ret = -EIO;
rollback:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

/* Identities: the change history and the Ed25519 secret (64 bytes, never logged). */

void sl_state_read_identity(sqlite3_stmt *s, void *rec)
{
	struct sl_identity_rec *r = rec;
	const void *h = sqlite3_column_blob(s, 2);
	int hl = sqlite3_column_bytes(s, 2);

	memset(r, 0, sizeof(*r));
	copy_text(r->name, sizeof(r->name), sqlite3_column_text(s, 0));
	copy_text(r->identifier, sizeof(r->identifier), sqlite3_column_text(s, 1));
	if (h && hl > 0 && (size_t)hl <= sizeof(r->history)) {
		memcpy(r->history, h, (size_t)hl);
		r->history_len = (size_t)hl;
	}
	r->created_at = sqlite3_column_int64(s, 3);
}

int sl_state_read_secret(sqlite3_stmt *s, int col, uint8_t secret[64])
{
	const void *k = sqlite3_column_blob(s, col);

	if (!k || sqlite3_column_bytes(s, col) != 64)
		return -ENOKEY;
	memcpy(secret, k, 64);
	return 0;
}

int sl_state_identity_add(struct sl_state *st, const struct sl_identity_rec *r,
			  const uint8_t secret[64])
{
	sqlite3_stmt *s;
	int ret;

	ret = sl_state_prepare(st, "INSERT INTO identities (name, identifier, change_history, secret_key,"
			  " created_at) VALUES (?,?,?,?,?)", &s);
	if (ret)
		return ret;
	sqlite3_bind_text(s, 1, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, r->identifier, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, r->history, (int)r->history_len, SQLITE_STATIC);
	sqlite3_bind_blob(s, 4, secret, 64, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, r->created_at ? r->created_at : (int64_t)time(NULL));
	return sl_state_step_done(st, s);
}

int sl_state_identity_get(struct sl_state *st, const char *name, struct sl_identity_rec *r,
			  uint8_t secret[64])
{
	sqlite3_stmt *s;
	int ret, rc;

	ret = sl_state_prepare(st, "SELECT name, identifier, change_history, created_at, secret_key"
			  " FROM identities WHERE name = ? OR identifier = ?", &s);
	if (ret)
		return ret;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		sl_state_read_identity(s, r);
		if (secret && sl_state_read_secret(s, 4, secret))
			rc = SQLITE_MISMATCH;	/* imported without a secret */
	} else if (rc != SQLITE_DONE) {
		sl_state_fail(st->db);
	}
	sqlite3_finalize(s);
	if (rc == SQLITE_MISMATCH)
		return -ENOKEY;
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -EIO;
}

int sl_state_identity_list(struct sl_state *st, struct sl_identity_rec **v, size_t *count)
{
	return list_rows(st, "SELECT name, identifier, change_history, created_at FROM identities"
			 " ORDER BY name", NULL, 0, sizeof(**v), sl_state_read_identity, (void **)v, count);
}

int sl_state_identity_delete(struct sl_state *st, const char *name)
{
	sqlite3_stmt *s;
	int ret;

	ret = sl_state_prepare(st, "DELETE FROM identities WHERE name = ?", &s);
	if (ret)
		return ret;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	return update_done(st, s);
}

/* Portals (inlets, outlets) */

int sl_state_inlet_put(struct sl_state *st, const struct sl_inlet_rec *r)
{
	const char *t[] = { r->node, r->alias, r->from, r->to, r->via[0] ? r->via : NULL };

	return put_row(st, "INSERT OR REPLACE INTO inlets (node, alias, from_address, to_route, via,"
		       " created_at) VALUES (?,?,?,?,?,?)", t, 5);
}

int sl_state_outlet_put(struct sl_state *st, const struct sl_outlet_rec *r)
{
	const char *t[] = { r->node, r->address, r->to };

	return put_row(st, "INSERT OR REPLACE INTO outlets (node, address, to_address, created_at)"
		       " VALUES (?,?,?,?)", t, 3);
}

static int delete_row(struct sl_state *st, const char *sql, const char *node, const char *key)
{
	const char *t[] = { node, key };
	sqlite3_stmt *s;
	int ret;

	ret = sl_state_prepare(st, sql, &s);
	if (ret)
		return ret;
	bind_texts(s, t, 2);
	return update_done(st, s);
}

int sl_state_services_clear(struct sl_state *st, const char *node)
{
	static const char *const sql[] = {
		"DELETE FROM listeners WHERE node = ?", "DELETE FROM relays WHERE node = ?",
		"DELETE FROM inlets WHERE node = ?", "DELETE FROM outlets WHERE node = ?",
	};
	sqlite3_stmt *s;
	int ret = 0;

	for (size_t i = 0; !ret && i < sizeof(sql) / sizeof(sql[0]); i++) {
		ret = sl_state_prepare(st, sql[i], &s);
		if (ret)
			break;
		sqlite3_bind_text(s, 1, node, -1, SQLITE_STATIC);
		ret = sl_state_step_done(st, s);
	}
	return ret;
}

int sl_state_inlet_delete(struct sl_state *st, const char *node, const char *alias)
{
	return delete_row(st, "DELETE FROM inlets WHERE node = ? AND alias = ?", node, alias);
}

int sl_state_outlet_delete(struct sl_state *st, const char *node, const char *address)
{
	return delete_row(st, "DELETE FROM outlets WHERE node = ? AND address = ?", node, address);
}

void sl_state_read_inlet(sqlite3_stmt *s, void *rec)
{
	struct sl_inlet_rec *r = rec;

	copy_text(r->node, sizeof(r->node), sqlite3_column_text(s, 0));
	copy_text(r->alias, sizeof(r->alias), sqlite3_column_text(s, 1));
	copy_text(r->from, sizeof(r->from), sqlite3_column_text(s, 2));
	copy_text(r->to, sizeof(r->to), sqlite3_column_text(s, 3));
	copy_text(r->via, sizeof(r->via), sqlite3_column_text(s, 4));
}

void sl_state_read_outlet(sqlite3_stmt *s, void *rec)
{
	struct sl_outlet_rec *r = rec;

	copy_text(r->node, sizeof(r->node), sqlite3_column_text(s, 0));
	copy_text(r->address, sizeof(r->address), sqlite3_column_text(s, 1));
	copy_text(r->to, sizeof(r->to), sqlite3_column_text(s, 2));
}

int sl_state_inlet_list(struct sl_state *st, const char *node, struct sl_inlet_rec **v, size_t *n)
{
	return list_rows(st, "SELECT node, alias, from_address, to_route, via FROM inlets"
			 " WHERE node = ? ORDER BY created_at, alias", &node, 1, sizeof(**v),
			 sl_state_read_inlet, (void **)v, n);
}

int sl_state_outlet_list(struct sl_state *st, const char *node, struct sl_outlet_rec **v, size_t *n)
{
	return list_rows(st, "SELECT node, address, to_address FROM outlets"
			 " WHERE node = ? ORDER BY created_at, address", &node, 1, sizeof(**v),
			 sl_state_read_outlet, (void **)v, n);
}

/* Relays and projects */

int sl_state_relay_put(struct sl_state *st, const struct sl_relay_rec *r)
{
	const char *t[] = { r->node, r->name, r->at, r->remote };
	int plain = r->plain;

	return put_row_flag(st, "INSERT OR REPLACE INTO relays (node, name, at_route,"
			    " remote_address, created_at, plain) VALUES (?,?,?,?,?,?)", t, 4, &plain);
}

int sl_state_relay_delete(struct sl_state *st, const char *node, const char *name)
{
	return delete_row(st, "DELETE FROM relays WHERE node = ? AND name = ?", node, name);
}

/* node comes back from its column, which `WHERE node = ?` matched byte for byte. */
void sl_state_read_relay(sqlite3_stmt *s, void *rec)
{
	struct sl_relay_rec *r = rec;

	copy_text(r->node, sizeof(r->node), sqlite3_column_text(s, 0));
	copy_text(r->name, sizeof(r->name), sqlite3_column_text(s, 1));
	copy_text(r->at, sizeof(r->at), sqlite3_column_text(s, 2));
	copy_text(r->remote, sizeof(r->remote), sqlite3_column_text(s, 3));
	r->plain = sqlite3_column_int(s, 4) != 0;
}

int sl_state_relay_list(struct sl_state *st, const char *node, struct sl_relay_rec **v, size_t *n)
{
	return list_rows(st, "SELECT node, name, at_route, remote_address, plain FROM relays"
			 " WHERE node = ? ORDER BY created_at, rowid", &node, 1, sizeof(**v),
			 sl_state_read_relay, (void **)v, n);
}

/* Listeners */

int sl_state_listener_put(struct sl_state *st, const struct sl_listener_rec *r)
{
	const char *t[] = { r->node, r->kind, r->address, r->identity, r->authorized };

	return put_row(st, "INSERT OR REPLACE INTO listeners (node, kind, address, identity,"
		       " authorized, created_at) VALUES (?,?,?,?,?,?)", t, 5);
}

int sl_state_listener_delete(struct sl_state *st, const char *node, const char *kind,
			     const char *address)
{
	const char *t[] = { node, kind, address };
	sqlite3_stmt *s;
	int ret;

	ret = sl_state_prepare(st, "DELETE FROM listeners WHERE node = ? AND kind = ? AND address = ?", &s);
	if (ret)
		return ret;
	bind_texts(s, t, 3);
	return update_done(st, s);
}

void sl_state_read_listener(sqlite3_stmt *s, void *rec)
{
	struct sl_listener_rec *r = rec;

	copy_text(r->node, sizeof(r->node), sqlite3_column_text(s, 0));
	copy_text(r->kind, sizeof(r->kind), sqlite3_column_text(s, 1));
	copy_text(r->address, sizeof(r->address), sqlite3_column_text(s, 2));
	copy_text(r->identity, sizeof(r->identity), sqlite3_column_text(s, 3));
	copy_text(r->authorized, sizeof(r->authorized), sqlite3_column_text(s, 4));
}

int sl_state_listener_list(struct sl_state *st, const char *node, const char *kind,
			   struct sl_listener_rec **v, size_t *n)
{
	const char *keys[] = { node, kind };

	return list_rows(st, "SELECT node, kind, address, identity, authorized FROM listeners"
			 " WHERE node = ? AND kind = ? ORDER BY created_at, rowid", keys, 2,
			 sizeof(**v), sl_state_read_listener, (void **)v, n);
}

int sl_state_project_put(struct sl_state *st, const struct sl_project_rec *p)
{
	const char *t[] = { p->name, p->route, p->identifier[0] ? p->identifier : NULL };

	return put_row(st, "INSERT OR REPLACE INTO projects (name, route, identifier, created_at)"
		       " VALUES (?,?,?,?)", t, 3);
}

void sl_state_read_project(sqlite3_stmt *s, void *rec)
{
	struct sl_project_rec *p = rec;

	memset(p, 0, sizeof(*p));
	copy_text(p->name, sizeof(p->name), sqlite3_column_text(s, 0));
	copy_text(p->route, sizeof(p->route), sqlite3_column_text(s, 1));
	copy_text(p->identifier, sizeof(p->identifier), sqlite3_column_text(s, 2));
}

int sl_state_project_get(struct sl_state *st, const char *name, struct sl_project_rec *p)
{
	sqlite3_stmt *s;
	int ret, rc;

	ret = sl_state_prepare(st, "SELECT name, route, identifier FROM projects WHERE name = ?", &s);
	if (ret)
		return ret;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		sl_state_read_project(s, p);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -EIO;
}
