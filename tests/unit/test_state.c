// SPDX-License-Identifier: Apache-2.0
/* The state store: schema, node records, concurrent writers, file modes. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools/common/state.h"

static char base[] = "/tmp/sluice-test-state-XXXXXX";
static char home[PATH_MAX];

static void make_home(void)
{
	cr_assert_not_null(mkdtemp(base));
	/* A home that does not exist yet: the store creates it, 0700. */
	snprintf(home, sizeof(home), "%s/home", base);
	setenv("SLUICE_HOME", home, 1);
}

static void remove_home(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", home);
}

TestSuite(state, .init = make_home, .fini = remove_home, .timeout = 30);

static struct sl_node_rec node(const char *name, const char *addr)
{
	struct sl_node_rec n = { 0 };

	snprintf(n.name, sizeof(n.name), "%s", name);
	snprintf(n.tcp_address, sizeof(n.tcp_address), "%s", addr);
	return n;
}

Test(state, schema_is_versioned_and_complete)
{
	static const char *const tables[] = {
		"nodes", "identities", "listeners", "relays", "inlets", "outlets", "projects",
	};
	struct sl_state *st;
	char path[PATH_MAX + 16];
	sqlite3 *db;
	size_t i;

	cr_assert_eq(sl_state_open(NULL, &st), 0);
	cr_expect_eq(sl_state_version(st), SL_STATE_SCHEMA);
	sl_state_close(st);
	/* Reopening an up-to-date store migrates nothing and keeps the version. */
	cr_assert_eq(sl_state_open(NULL, &st), 0);
	cr_expect_eq(sl_state_version(st), SL_STATE_SCHEMA);
	sl_state_close(st);

	snprintf(path, sizeof(path), "%s/state.db", home);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		sqlite3_stmt *s;
		char sql[128];

		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", tables[i]);
		cr_expect_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK, "no table %s",
			     tables[i]);
		sqlite3_finalize(s);
	}
	{
		sqlite3_stmt *s;

		cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
		cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
		cr_expect_str_eq((const char *)sqlite3_column_text(s, 0), "wal");
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
}

/* Create today's store, then change it behind sluice's back with `sql`. */
static void rewrite_store(const char *sql)
{
	struct sl_state *st;
	char path[PATH_MAX + 16];
	sqlite3 *db;

	cr_assert_eq(sl_state_open(NULL, &st), 0);
	sl_state_close(st);
	snprintf(path, sizeof(path), "%s/state.db", home);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s: %s", sql,
		     sqlite3_errmsg(db));
	sqlite3_close(db);
}

Test(state, newer_schema_is_refused, .init = cr_redirect_stderr)
{
	struct sl_state *st;

	rewrite_store("PRAGMA user_version = 99");
	cr_expect_eq(sl_state_open(NULL, &st), -EPROTO);
	cr_expect_null(st);
}

/* Each older schema had relays without their plain column (schema 9). */
#define DROP_RELAY_PLAIN "ALTER TABLE relays DROP COLUMN plain;"

/*
 * Open a store that `sql` turned back into an older schema, holding node
 * "old" (2 shards, port 4000, created at 1700000000): it migrates to today's
 * schema and "old" keeps everything it had.
 */
static struct sl_state *open_migrated(const char *sql, struct sl_node_rec *old)
{
	struct sl_state *st;

	rewrite_store(sql);
	cr_assert_eq(sl_state_open(NULL, &st), 0);
	cr_expect_eq(sl_state_version(st), SL_STATE_SCHEMA);
	cr_assert_eq(sl_state_node_get(st, "old", old), 0);
	cr_expect_eq(old->shards, 2);
	cr_expect_eq(old->tcp_port, 4000);
	cr_expect_eq(old->created_at, 1700000000);
	return st;
}

/*
 * A store from before pin_shards (schema 1): its nodes come through the
 * migrations unpinned and spinning the default 50 us.
 */
Test(state, schema_1_store_migrates)
{
	struct sl_node_rec got, pinned = node("new", "127.0.0.1:0");
	struct sl_state *st;

	/* Today's store with the columns taken out again has schema 1's nodes table. */
	st = open_migrated(DROP_RELAY_PLAIN "ALTER TABLE nodes DROP COLUMN relay_directory;"
			   "ALTER TABLE nodes DROP COLUMN limits;"
			   "ALTER TABLE nodes DROP COLUMN udp_address;"
			   "ALTER TABLE nodes DROP COLUMN metrics;"
			   "ALTER TABLE nodes DROP COLUMN frame_timeout_ms;"
			   "ALTER TABLE nodes DROP COLUMN spin_us;"
			   "ALTER TABLE nodes DROP COLUMN pin_shards;"
			   "INSERT INTO nodes (name, tcp_address, tcp_port, shards, created_at)"
			   " VALUES ('old', '127.0.0.1:4000', 4000, 2, 1700000000);"
			   "PRAGMA user_version = 1;", &got);
	cr_expect_not(got.pin_shards);
	cr_expect_eq(got.spin_us, SL_NODE_SPIN_US_DEFAULT);
	pinned.pin_shards = true;
	pinned.spin_us = 0;
	cr_assert_eq(sl_state_node_add(st, &pinned), 0);
	cr_assert_eq(sl_state_node_get(st, "new", &got), 0);
	cr_expect(got.pin_shards);
	cr_expect_eq(got.spin_us, 0, "0 is kept, not taken for the default");
	sl_state_close(st);
}

/* A store from before spin_us (schema 2): pinned nodes stay pinned and spin 50 us. */
Test(state, schema_2_store_migrates)
{
	struct sl_node_rec got;
	struct sl_state *st;

	st = open_migrated(DROP_RELAY_PLAIN "ALTER TABLE nodes DROP COLUMN relay_directory;"
			   "ALTER TABLE nodes DROP COLUMN limits;"
			   "ALTER TABLE nodes DROP COLUMN udp_address;"
			   "ALTER TABLE nodes DROP COLUMN metrics;"
			   "ALTER TABLE nodes DROP COLUMN frame_timeout_ms;"
			   "ALTER TABLE nodes DROP COLUMN spin_us;"
			   "INSERT INTO nodes (name, tcp_address, tcp_port, shards, created_at,"
			   " pin_shards) VALUES ('old', '127.0.0.1:4000', 4000, 2, 1700000000, 1);"
			   "PRAGMA user_version = 2;", &got);
	cr_expect(got.pin_shards);
	cr_expect_eq(got.spin_us, 50, "nodes made before --spin-us get the default");
	sl_state_close(st);
}

/* A store from before frame_timeout_ms (schema 3): its nodes get 30 s; a value given is kept. */
Test(state, schema_3_store_migrates)
{
	struct sl_node_rec got, quick = node("new", "127.0.0.1:0");
	struct sl_state *st;

	st = open_migrated(DROP_RELAY_PLAIN "ALTER TABLE nodes DROP COLUMN relay_directory;"
			   "ALTER TABLE nodes DROP COLUMN limits;"
			   "ALTER TABLE nodes DROP COLUMN udp_address;"
			   "ALTER TABLE nodes DROP COLUMN metrics;"
			   "ALTER TABLE nodes DROP COLUMN frame_timeout_ms;"
			   "INSERT INTO nodes (name, tcp_address, tcp_port, shards, created_at,"
			   " spin_us) VALUES ('old', '127.0.0.1:4000', 4000, 2, 1700000000, 7);"
			   "PRAGMA user_version = 3;", &got);
	cr_expect_eq(got.spin_us, 7);
	cr_expect_eq(got.frame_timeout_ms, SL_NODE_FRAME_TIMEOUT_MS_DEFAULT);
	quick.frame_timeout_ms = 1500;
	cr_assert_eq(sl_state_node_add(st, &quick), 0);
	cr_assert_eq(sl_state_node_get(st, "new", &got), 0);
	cr_expect_eq(got.frame_timeout_ms, 1500);
	sl_state_close(st);
}

/* A store from before --metrics (schema 4): its nodes serve no metrics until asked to. */
Test(state, schema_4_store_migrates)
{
	struct sl_node_rec got;
	struct sl_state *st;

	st = open_migrated(DROP_RELAY_PLAIN "ALTER TABLE nodes DROP COLUMN relay_directory;"
			   "ALTER TABLE nodes DROP COLUMN limits;"
			   "ALTER TABLE nodes DROP COLUMN udp_address;"
			   "ALTER TABLE nodes DROP COLUMN metrics;"
			   "INSERT INTO nodes (name, tcp_address, tcp_port, shards, created_at,"
			   " spin_us) VALUES ('old', '127.0.0.1:4000', 4000, 2, 1700000000, 7);"
			   "PRAGMA user_version = 4;", &got);
	cr_expect_str_eq(got.metrics, "");
	cr_expect_eq(got.spin_us, 7);
	cr_assert_eq(sl_state_node_set_metrics(st, "old", "127.0.0.1:9464"), 0);
	cr_assert_eq(sl_state_node_get(st, "old", &got), 0);
	cr_expect_str_eq(got.metrics, "127.0.0.1:9464");
	cr_expect_eq(sl_state_node_set_metrics(st, "nobody", "127.0.0.1:9464"), -ENOENT);
	sl_state_close(st);
}

/* A store from before UDP listeners (schema 5): its nodes have none; a new one keeps its own. */
Test(state, schema_5_store_migrates)
{
	struct sl_node_rec got, udp = node("new", "127.0.0.1:0");
	struct sl_state *st;

	st = open_migrated(DROP_RELAY_PLAIN "ALTER TABLE nodes DROP COLUMN relay_directory;"
			   "ALTER TABLE nodes DROP COLUMN limits;"
			   "ALTER TABLE nodes DROP COLUMN udp_address;"
			   "INSERT INTO nodes (name, tcp_address, tcp_port, shards, created_at)"
			   " VALUES ('old', '127.0.0.1:4000', 4000, 2, 1700000000);"
			   "PRAGMA user_version = 5;", &got);
	cr_expect_str_empty(got.udp_address);
	snprintf(udp.udp_address, sizeof(udp.udp_address), "127.0.0.1:4100");
	cr_assert_eq(sl_state_node_add(st, &udp), 0);
	cr_assert_eq(sl_state_node_get(st, "new", &got), 0);
	cr_expect_str_eq(got.udp_address, "127.0.0.1:4100");
	sl_state_close(st);
}

/* A store from before --limit (schema 6): its nodes keep the defaults; limits set are kept. */
Test(state, schema_6_store_migrates)
{
	struct sl_node_rec got, lim = node("new", "127.0.0.1:0");
	struct sl_state *st;

	st = open_migrated(DROP_RELAY_PLAIN "ALTER TABLE nodes DROP COLUMN relay_directory;"
			   "ALTER TABLE nodes DROP COLUMN limits;"
			   "INSERT INTO nodes (name, tcp_address, tcp_port, shards, created_at,"
			   " udp_address) VALUES ('old', '127.0.0.1:4000', 4000, 2, 1700000000,"
			   " '127.0.0.1:4100');"
			   "PRAGMA user_version = 6;", &got);
	cr_expect_str_empty(got.limits);
	cr_expect_str_eq(got.udp_address, "127.0.0.1:4100");
	snprintf(lim.limits, sizeof(lim.limits), "max-connections=20000");
	cr_assert_eq(sl_state_node_add(st, &lim), 0);
	cr_assert_eq(sl_state_node_get(st, "new", &got), 0);
	cr_expect_str_eq(got.limits, "max-connections=20000");
	cr_assert_eq(sl_state_node_set_limits(st, "old", "max-connections-per-source=8"), 0);
	cr_assert_eq(sl_state_node_get(st, "old", &got), 0);
	cr_expect_str_eq(got.limits, "max-connections-per-source=8");
	cr_expect_eq(sl_state_node_set_limits(st, "nobody", ""), -ENOENT);
	sl_state_close(st);
}

/* A store from before --relay-directory (schema 7): its nodes are in no fleet; one set is kept. */
Test(state, schema_7_store_migrates)
{
	struct sl_node_rec got, fleet = node("new", "127.0.0.1:0");
	struct sl_state *st;

	st = open_migrated(DROP_RELAY_PLAIN "ALTER TABLE nodes DROP COLUMN relay_directory;"
			   "INSERT INTO nodes (name, tcp_address, tcp_port, shards, created_at,"
			   " limits) VALUES ('old', '127.0.0.1:4000', 4000, 2, 1700000000,"
			   " 'max-connections=20000');"
			   "PRAGMA user_version = 7;", &got);
	cr_expect_str_empty(got.relay_directory);
	cr_expect_str_eq(got.limits, "max-connections=20000");
	snprintf(fleet.relay_directory, sizeof(fleet.relay_directory), "redis://127.0.0.1:6379");
	cr_assert_eq(sl_state_node_add(st, &fleet), 0);
	cr_assert_eq(sl_state_node_get(st, "new", &got), 0);
	cr_expect_str_eq(got.relay_directory, "redis://127.0.0.1:6379");
	sl_state_close(st);
}

/*
 * A store from before relay create --plain (schema 8): its relays register through a
 * secure channel as before; a plain one is kept as plain.
 */
Test(state, schema_8_store_migrates)
{
	struct sl_relay_rec plain = { .node = "old", .name = "p", .at = "/ip4/127.0.0.1/tcp/4000",
				      .remote = "forward_to_p", .plain = true };
	struct sl_relay_rec *v = NULL;
	struct sl_node_rec got;
	struct sl_state *st;
	size_t n = 0;

	st = open_migrated(DROP_RELAY_PLAIN
			   "INSERT INTO nodes (name, tcp_address, tcp_port, shards, created_at)"
			   " VALUES ('old', '127.0.0.1:4000', 4000, 2, 1700000000);"
			   "INSERT INTO relays (node, name, at_route, remote_address, created_at)"
			   " VALUES ('old', 's', '/ip4/127.0.0.1/tcp/4000', 'forward_to_s', 1700000001);"
			   "PRAGMA user_version = 8;", &got);
	cr_assert_eq(sl_state_relay_put(st, &plain), 0);
	cr_assert_eq(sl_state_relay_list(st, "old", &v, &n), 0);
	cr_assert_eq(n, 2);
	cr_expect_str_eq(v[0].name, "s");
	cr_expect_not(v[0].plain, "a relay made before --plain registers as it did");
	cr_expect_str_eq(v[1].name, "p");
	cr_expect(v[1].plain);
	free(v);
	sl_state_close(st);
}

Test(state, node_records)
{
	struct sl_node_rec a = node("n1", "127.0.0.1:0"), b = node("n0", "0.0.0.0:4000"), got;
	struct sl_node_rec *v;
	struct sl_state *st;
	size_t n;

	b.pin_shards = true;
	b.shards = 2;
	b.spin_us = SL_NODE_SPIN_US_MAX;
	a.spin_us = SL_NODE_SPIN_US_DEFAULT;
	cr_assert_eq(sl_state_open(NULL, &st), 0);
	cr_assert_eq(sl_state_node_add(st, &a), 0);
	cr_assert_eq(sl_state_node_add(st, &b), 0);
	cr_expect_eq(sl_state_node_add(st, &a), -EEXIST);
	cr_expect_eq(sl_state_node_get(st, "n9", &got), -ENOENT);

	cr_assert_eq(sl_state_node_running(st, "n1", 4242, 777, 40001), 0);
	cr_assert_eq(sl_state_node_get(st, "n1", &got), 0);
	cr_expect_eq(got.pid, 4242);
	cr_expect_eq(got.pid_start, 777);
	cr_expect_eq(got.tcp_port, 40001);
	cr_expect_str_eq(got.tcp_address, "127.0.0.1:0");
	cr_expect_not(got.stopped);
	cr_expect_gt(got.created_at, 0);
	cr_expect_gt(got.started_at, 0);

	/* A late teardown of an older daemon must not clear a newer one's pid. */
	cr_expect_eq(sl_state_node_stopped(st, "n1", 1111, false), 0);
	cr_assert_eq(sl_state_node_get(st, "n1", &got), 0);
	cr_expect_eq(got.pid, 4242);
	cr_expect_eq(sl_state_node_stopped(st, "n1", 4242, true), 0);
	cr_assert_eq(sl_state_node_get(st, "n1", &got), 0);
	cr_expect_eq(got.pid, 0);
	cr_expect(got.stopped);
	cr_expect_eq(got.tcp_port, 40001, "the port is kept for the next start");

	cr_assert_eq(sl_state_node_list(st, &v, &n), 0);
	cr_assert_eq(n, 2);
	cr_expect_str_eq(v[0].name, "n0");
	cr_expect(v[0].pin_shards);
	cr_expect_eq(v[0].shards, 2);
	cr_expect_eq(v[0].spin_us, SL_NODE_SPIN_US_MAX);
	cr_expect_str_eq(v[1].name, "n1");
	cr_expect_not(v[1].pin_shards, "shards are unpinned unless asked");
	cr_expect_eq(v[1].spin_us, SL_NODE_SPIN_US_DEFAULT);
	free(v);

	cr_expect_eq(sl_state_node_delete(st, "n1"), 0);
	cr_expect_eq(sl_state_node_delete(st, "n1"), -ENOENT);
	cr_expect_eq(sl_state_node_running(st, "n1", 1, 1, 1), -ENOENT);
	sl_state_close(st);
}

static struct sl_listener_rec listener(const char *node, const char *addr, const char *ident,
				       const char *authorized)
{
	struct sl_listener_rec r = { 0 };

	snprintf(r.node, sizeof(r.node), "%s", node);
	snprintf(r.kind, sizeof(r.kind), "%s", SL_LISTENER_KIND_SECURE);
	snprintf(r.address, sizeof(r.address), "%s", addr);
	snprintf(r.identity, sizeof(r.identity), "%s", ident);
	snprintf(r.authorized, sizeof(r.authorized), "%s", authorized);
	return r;
}

Test(state, listener_records)
{
	static const char i1[] = "I0101010101010101010101010101010101010101010101010101010101010101";
	static const char i2[] = "Iabababababababababababababababababababababababababababababababab";
	struct sl_node_rec a = node("n1", "127.0.0.1:0"), b = node("n2", "127.0.0.1:0");
	struct sl_listener_rec l1, l2, *v;
	char two[200];
	struct sl_state *st;
	size_t n;

	snprintf(two, sizeof(two), "%s %s", i1, i2);
	l1 = listener("n1", "l", "", "");
	l2 = listener("n1", "l2", "i1", two);
	cr_assert_eq(sl_state_open(NULL, &st), 0);
	cr_assert_eq(sl_state_node_add(st, &a), 0);
	cr_assert_eq(sl_state_node_add(st, &b), 0);
	cr_assert_eq(sl_state_listener_put(st, &l1), 0);
	cr_assert_eq(sl_state_listener_put(st, &l2), 0);
	l1 = listener("n2", "l", "", i1);
	cr_assert_eq(sl_state_listener_put(st, &l1), 0);

	cr_assert_eq(sl_state_listener_list(st, "n1", SL_LISTENER_KIND_SECURE, &v, &n), 0);
	cr_assert_eq(n, 2);
	cr_expect_str_eq(v[0].address, "l");
	cr_expect_str_eq(v[0].identity, "");
	cr_expect_str_eq(v[0].authorized, "");
	cr_expect_str_eq(v[1].address, "l2");
	cr_expect_str_eq(v[1].node, "n1");
	cr_expect_str_eq(v[1].kind, SL_LISTENER_KIND_SECURE);
	cr_expect_str_eq(v[1].identity, "i1");
	cr_expect_str_eq(v[1].authorized, two);
	free(v);
	/* Another kind is another list. */
	cr_assert_eq(sl_state_listener_list(st, "n1", "tcp", &v, &n), 0);
	cr_expect_eq(n, 0);
	free(v);

	/* Put again replaces: one row per address. */
	l2 = listener("n1", "l2", "", i2);
	cr_assert_eq(sl_state_listener_put(st, &l2), 0);
	cr_assert_eq(sl_state_listener_delete(st, "n1", SL_LISTENER_KIND_SECURE, "l"), 0);
	cr_expect_eq(sl_state_listener_delete(st, "n1", SL_LISTENER_KIND_SECURE, "l"), -ENOENT);
	cr_assert_eq(sl_state_listener_list(st, "n1", SL_LISTENER_KIND_SECURE, &v, &n), 0);
	cr_assert_eq(n, 1);
	cr_expect_str_eq(v[0].address, "l2");
	cr_expect_str_eq(v[0].identity, "");
	cr_expect_str_eq(v[0].authorized, i2);
	free(v);

	/* A node's listeners go with it; the other node's stay. */
	cr_assert_eq(sl_state_node_delete(st, "n1"), 0);
	cr_assert_eq(sl_state_listener_list(st, "n1", SL_LISTENER_KIND_SECURE, &v, &n), 0);
	cr_expect_eq(n, 0);
	free(v);
	cr_assert_eq(sl_state_listener_list(st, "n2", SL_LISTENER_KIND_SECURE, &v, &n), 0);
	cr_assert_eq(n, 1);
	cr_expect_str_eq(v[0].authorized, i1);
	free(v);
	sl_state_close(st);
}

static struct sl_identity_rec identity(const char *name, char hex)
{
	struct sl_identity_rec r = { 0 };

	snprintf(r.name, sizeof(r.name), "%s", name);
	r.identifier[0] = 'I';
	memset(r.identifier + 1, hex, 64);
	r.history_len = 1;
	r.history[0] = 0x81;
	return r;
}

Test(state, node_delete_takes_only_its_own_identity)
{
	struct sl_identity_rec own = identity("@n1", '1'), other = identity("@n2", '2');
	struct sl_identity_rec user = identity("i1", '3'), got;
	struct sl_node_rec a = node("n1", "127.0.0.1:0"), b = node("n2", "127.0.0.1:0");
	uint8_t secret[64] = { 0 };
	struct sl_state *st;

	snprintf(a.identity, sizeof(a.identity), "i1");	/* n1 ran with --identity i1 */
	cr_assert_eq(sl_state_open(NULL, &st), 0);
	cr_assert_eq(sl_state_node_add(st, &a), 0);
	cr_assert_eq(sl_state_node_add(st, &b), 0);
	cr_assert_eq(sl_state_identity_add(st, &own, secret), 0);
	cr_assert_eq(sl_state_identity_add(st, &other, secret), 0);
	cr_assert_eq(sl_state_identity_add(st, &user, secret), 0);

	cr_assert_eq(sl_state_node_delete(st, "n1"), 0);
	cr_expect_eq(sl_state_identity_get(st, "@n1", &got, NULL), -ENOENT);
	cr_expect_eq(sl_state_identity_get(st, "i1", &got, NULL), 0, "a user identity stays");
	cr_expect_eq(sl_state_identity_get(st, "@n2", &got, NULL), 0, "another node's stays");
	cr_expect_eq(sl_state_node_delete(st, "n1"), -ENOENT);
	cr_expect_eq(sl_state_node_get(st, "n2", &b), 0);
	sl_state_close(st);
}

Test(state, two_connections_interleave)
{
	struct sl_state *s1, *s2;
	struct sl_node_rec *v;
	size_t n;
	int i;

	cr_assert_eq(sl_state_open(NULL, &s1), 0);
	cr_assert_eq(sl_state_open(NULL, &s2), 0);
	for (i = 0; i < 50; i++) {
		char name[16];
		struct sl_node_rec r;

		snprintf(name, sizeof(name), "c%d", i);
		r = node(name, "127.0.0.1:0");
		cr_assert_eq(sl_state_node_add(i % 2 ? s1 : s2, &r), 0);
		cr_assert_eq(sl_state_node_running(i % 2 ? s2 : s1, name, i + 1, 0, 1000), 0);
	}
	cr_assert_eq(sl_state_node_list(s1, &v, &n), 0);
	cr_expect_eq(n, 50);
	free(v);
	sl_state_close(s1);
	sl_state_close(s2);
}

Test(state, concurrent_processes_lose_no_write)
{
	enum { PROCS = 6, EACH = 40 };
	struct sl_state *st;
	struct sl_node_rec *v;
	size_t n;
	int p, status;

	/* Create the store first so the writers race on rows, not on the migration too. */
	for (p = 0; p < PROCS; p++) {
		pid_t pid = fork();

		cr_assert_neq(pid, -1);
		if (!pid) {
			int i, bad = 0;

			if (sl_state_open(NULL, &st))
				_exit(2);
			for (i = 0; i < EACH; i++) {
				char name[32];
				struct sl_node_rec r;

				snprintf(name, sizeof(name), "p%d-%d", p, i);
				r = node(name, "127.0.0.1:0");
				bad |= sl_state_node_add(st, &r) != 0;
				bad |= sl_state_node_running(st, name, getpid(), 1, 2) != 0;
			}
			sl_state_close(st);
			_exit(bad);
		}
	}
	for (p = 0; p < PROCS; p++) {
		cr_assert_neq(wait(&status), -1);
		cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a writer failed: %d",
			  status);
	}
	cr_assert_eq(sl_state_open(NULL, &st), 0);
	cr_assert_eq(sl_state_node_list(st, &v, &n), 0);
	cr_expect_eq(n, PROCS * EACH);
	free(v);
	sl_state_close(st);
}

Test(state, files_are_private)
{
	const char *suffix[] = { "/state.db", "/state.db-wal", "/state.db-shm" };
	struct sl_node_rec r = node("n1", "127.0.0.1:0");
	char path[PATH_MAX + 32];
	struct sl_state *st;
	struct stat sb;
	size_t i;

	umask(022);	/* a permissive umask must not leak into the store */
	cr_assert_eq(sl_state_open(NULL, &st), 0);
	cr_assert_eq(sl_state_node_add(st, &r), 0);
	cr_assert_eq(stat(home, &sb), 0);
	cr_expect_eq(sb.st_mode & 0777, 0700, "home is %o", sb.st_mode & 0777);
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s", home, suffix[i]);
		cr_assert_eq(stat(path, &sb), 0, "%s missing", path);
		cr_expect_eq(sb.st_mode & 0777, 0600, "%s is %o", path, sb.st_mode & 0777);
	}
	cr_assert_eq(sl_state_node_mkdir("n1"), 0);
	cr_assert_eq(sl_state_node_dir("n1", path, sizeof(path)), 0);
	cr_assert_eq(stat(path, &sb), 0);
	cr_expect_eq(sb.st_mode & 0777, 0700, "node dir is %o", sb.st_mode & 0777);
	cr_assert_eq(sl_state_node_rmdir("n1"), 0);
	cr_expect_neq(stat(path, &sb), 0);
	sl_state_close(st);
}

Test(state, loose_home_is_tightened)
{
	struct sl_state *st;
	struct stat sb;

	cr_assert_eq(mkdir(home, 0755), 0);
	chmod(home, 0755);
	cr_assert_eq(sl_state_open(NULL, &st), 0);
	cr_assert_eq(stat(home, &sb), 0);
	cr_expect_eq(sb.st_mode & 0777, 0700);
	sl_state_close(st);
}
