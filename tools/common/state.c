// SPDX-License-Identifier: Apache-2.0
/* The SQLite state store (state.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "tools/common/state.h"
#include "tools/common/state_rows.h"

#define BUSY_TIMEOUT_MS 10000

struct sl_state {
	sqlite3 *db;
	char path[PATH_MAX];
	bool read_only;		/* opened from a read-only file system */
};

/*
 * Migrations: entry i takes the schema from version i to i + 1. Never edit a
 * released entry; append a new one. Tables for features still to come are
 * laid out now so their first users need no migration of their own.
 */
static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE nodes ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  tcp_address TEXT NOT NULL,"
	"  tcp_port INTEGER NOT NULL DEFAULT 0,"
	"  pid INTEGER NOT NULL DEFAULT 0,"
	"  pid_start INTEGER NOT NULL DEFAULT 0,"
	"  stopped INTEGER NOT NULL DEFAULT 0,"
	"  identity TEXT NOT NULL DEFAULT '',"
	"  shards INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL,"
	"  started_at INTEGER NOT NULL DEFAULT 0"
	");"
	/* Identities: change history (CBOR) and the Ed25519 secret key (never logged). */
	"CREATE TABLE identities ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  identifier TEXT NOT NULL UNIQUE,"
	"  change_history BLOB NOT NULL,"
	"  secret_key BLOB,"
	"  is_default INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL"
	");"
	/* Listeners a node re-creates on start: kind 'tcp' or 'secure_channel'. */
	"CREATE TABLE listeners ("
	"  node TEXT NOT NULL REFERENCES nodes(name) ON DELETE CASCADE,"
	"  kind TEXT NOT NULL,"
	"  address TEXT NOT NULL,"
	"  identity TEXT,"
	"  authorized TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  PRIMARY KEY (node, kind, address)"
	");"
	"CREATE TABLE relays ("
	"  node TEXT NOT NULL REFERENCES nodes(name) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  at_route TEXT NOT NULL,"
	"  to_node TEXT,"
	"  remote_address TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  PRIMARY KEY (node, name)"
	");"
	"CREATE TABLE inlets ("
	"  node TEXT NOT NULL REFERENCES nodes(name) ON DELETE CASCADE,"
	"  alias TEXT NOT NULL,"
	"  from_address TEXT NOT NULL,"
	"  to_route TEXT NOT NULL,"
	"  via TEXT,"
	"  authorized TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  PRIMARY KEY (node, alias)"
	");"
	"CREATE TABLE outlets ("
	"  node TEXT NOT NULL REFERENCES nodes(name) ON DELETE CASCADE,"
	"  address TEXT NOT NULL,"
	"  to_address TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  PRIMARY KEY (node, address)"
	");"
	/* A project: a relay node of your own, reached by route, trusted by identifier. */
	"CREATE TABLE projects ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  route TEXT NOT NULL,"
	"  identifier TEXT,"
	"  created_at INTEGER NOT NULL"
	");",
	/* 1 -> 2: shards are unpinned unless the node was created with --pin-shards. */
	"ALTER TABLE nodes ADD COLUMN pin_shards INTEGER NOT NULL DEFAULT 0;",
	/* 2 -> 3: shards busy-poll spin_us before sleeping; nodes made before get 50. */
	"ALTER TABLE nodes ADD COLUMN spin_us INTEGER NOT NULL DEFAULT 50;",
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == SL_STATE_SCHEMA,
	       "SL_STATE_SCHEMA must count the migrations");

int sl_state_home(char *buf, size_t cap)
{
	const char *h = getenv("SLUICE_HOME");
	char cwd[PATH_MAX];
	int n;

	if (h && *h) {
		if (h[0] == '/') {
			n = snprintf(buf, cap, "%s", h);
		} else {
			if (!getcwd(cwd, sizeof(cwd)))
				return -errno;
			n = snprintf(buf, cap, "%s/%s", cwd, h);
		}
	} else {
		h = getenv("HOME");
		if (!h || !*h)
			return -ENOENT;
		n = snprintf(buf, cap, "%s/.sluice", h);
	}
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	/* No trailing slashes: paths are joined with '/'. */
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = '\0';
	return 0;
}

int sl_state_node_dir(const char *name, char *buf, size_t cap)
{
	char home[PATH_MAX];
	int ret = sl_state_home(home, sizeof(home)), n;

	if (ret)
		return ret;
	n = snprintf(buf, cap, "%s/nodes/%s", home, name);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int sl_state_node_file(const char *name, const char *file, char *buf, size_t cap)
{
	char dir[PATH_MAX];
	int ret = sl_state_node_dir(name, dir, sizeof(dir)), n;

	if (ret)
		return ret;
	n = snprintf(buf, cap, "%s/%s", dir, file);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* mkdir 0700; an existing directory of ours is tightened to 0700. */
static int mkdir_private(const char *path)
{
	struct stat sb;

	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	if (stat(path, &sb))
		return -errno;
	if (!S_ISDIR(sb.st_mode))
		return -ENOTDIR;
	if (sb.st_uid == geteuid() && (sb.st_mode & 077) && chmod(path, 0700))
		return -errno;
	return 0;
}

int sl_state_node_mkdir(const char *name)
{
	char home[PATH_MAX], path[PATH_MAX];
	int ret;

	ret = sl_state_home(home, sizeof(home));
	if (ret)
		return ret;
	ret = mkdir_private(home);
	if (ret)
		return ret;
	if ((size_t)snprintf(path, sizeof(path), "%s/nodes", home) >= sizeof(path))
		return -ENAMETOOLONG;
	ret = mkdir_private(path);
	if (ret)
		return ret;
	ret = sl_state_node_dir(name, path, sizeof(path));
	return ret ? ret : mkdir_private(path);
}

int sl_state_node_rmdir(const char *name)
{
	char dir[PATH_MAX], path[PATH_MAX + 256];
	struct dirent *de;
	DIR *d;
	int ret = sl_state_node_dir(name, dir, sizeof(dir));

	if (ret)
		return ret;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	/* Only regular files and sockets live here; nothing to recurse into. */
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	return rmdir(dir) && errno != ENOENT ? -errno : 0;
}

/*
 * Say what went wrong with the store in words that tell the user what to do
 * (a full disk, a read-only home, another process holding it) rather than in
 * SQLite's; returns the errno the caller passes on.
 */
static int store_fail(sqlite3 *db)
{
	const char *path = sqlite3_db_filename(db, "main");
	int code = sqlite3_extended_errcode(db) & 0xff, sys = sqlite3_system_errno(db);

	if (!path || !*path)
		path = "the state store";
	if (code == SQLITE_FULL || sys == ENOSPC || sys == EDQUOT) {
		sl_err("no space left on the device that holds %s: free some space, then run the "
		       "command again (nothing was changed)", path);
		return -ENOSPC;
	}
	if (code == SQLITE_READONLY || sys == EROFS) {
		sl_err("%s is read-only (is $SLUICE_HOME on a read-only file system?): make it "
		       "writable, or set SLUICE_HOME to a writable folder (nothing was changed)", path);
		return -EROFS;
	}
	if (code == SQLITE_BUSY || code == SQLITE_LOCKED) {
		sl_err("%s is busy: another sluice command or node holds it; run the command again",
		       path);
		return -EBUSY;
	}
	if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) {
		sl_err("%s is damaged (%s): move it away to start afresh", path, sqlite3_errmsg(db));
		return -EIO;
	}
	if (code == SQLITE_IOERR) {
		sl_err("cannot read or write %s: %s%s%s", path, sqlite3_errmsg(db), sys ? ": " : "",
		       sys ? strerror(sys) : "");
		return -EIO;
	}
	sl_err("state store: %s", sqlite3_errmsg(db));
	return -EIO;
}

static int exec_sql(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return store_fail(db);
	return 0;
}

/*
 * The first statements of a connection can meet SQLITE_BUSY without SQLite
 * asking the busy handler: while another process closes the store (its last
 * connection checkpoints and removes the WAL) or recovers the WAL index.
 * Those are brief: retry quietly, within the usual busy timeout.
 */
static int open_pragmas(sqlite3 *db)
{
	static const char sql[] = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
				  "PRAGMA foreign_keys=ON;";
	int rc;

	for (int waited_ms = 0;; waited_ms += 5) {
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			return 0;
		if (((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) ||
		    waited_ms >= BUSY_TIMEOUT_MS)
			break;
		usleep(5000);
	}
	return store_fail(db);
}

static int user_version(sqlite3 *db)
{
	sqlite3_stmt *s;
	int v = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return v;
}

static int migrate(struct sl_state *st)
{
	int v, ret;
	char sql[64];

	v = user_version(st->db);
	if (v == SL_STATE_SCHEMA)
		return 0;
	/* IMMEDIATE: two processes opening a fresh store migrate one after the other. */
	ret = exec_sql(st->db, "BEGIN IMMEDIATE");
	if (ret)
		return ret;
	v = user_version(st->db);
	if (v < 0) {
		ret = -EIO;
		goto rollback;
	}
	if (v > SL_STATE_SCHEMA) {
		sl_err("the state at %s has schema version %d, newer than this sluice knows (%d): "
		       "use a newer sluice, or point SLUICE_HOME elsewhere", st->path, v, SL_STATE_SCHEMA);
		ret = -EPROTO;
		goto rollback;
	}
	for (; v < SL_STATE_SCHEMA; v++) {
		ret = exec_sql(st->db, migrations[v]);
		if (ret)
			goto rollback;
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", SL_STATE_SCHEMA);
	ret = exec_sql(st->db, sql);
	if (ret)
		goto rollback;
	return exec_sql(st->db, "COMMIT");
rollback:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

static bool home_read_only(const char *home)
{
	struct statvfs vfs;

	return !statvfs(home, &vfs) && (vfs.f_flag & ST_RDONLY);
}

/*
 * A home on a read-only file system can still be read (node list, show):
 * SQLite opens it read-only, and immutable when no WAL is there to replay
 * (it could create neither -wal nor -shm). Every write then fails with
 * SQLITE_READONLY, which store_fail turns into words.
 */
static int open_read_only(const char *home, struct sl_state **out)
{
	char wal[PATH_MAX + 8], uri[PATH_MAX + 32];
	struct sl_state *st = calloc(1, sizeof(*st));
	int ret;

	if (!st)
		return -ENOMEM;
	if ((size_t)snprintf(st->path, sizeof(st->path), "%s/state.db", home) >= sizeof(st->path)) {
		free(st);
		return -ENAMETOOLONG;
	}
	if (access(st->path, R_OK)) {
		ret = -errno;
		sl_err("%s is on a read-only file system and holds no state store (%s): make it "
		       "writable, or set SLUICE_HOME to a writable folder", home, strerror(errno));
		free(st);
		return ret;
	}
	snprintf(wal, sizeof(wal), "%s-wal", st->path);
	snprintf(uri, sizeof(uri), "file:%s?mode=ro%s", st->path, access(wal, F_OK) ? "&immutable=1" : "");
	if (sqlite3_open_v2(uri, &st->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		ret = st->db ? store_fail(st->db) : -ENOMEM;
		goto err;
	}
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	ret = user_version(st->db);
	if (ret != SL_STATE_SCHEMA) {
		sl_err("the state store %s (schema %d) needs an upgrade to schema %d, and its file "
		       "system is read-only: make it writable", st->path, ret, SL_STATE_SCHEMA);
		ret = -EROFS;
		goto err;
	}
	st->read_only = true;
	*out = st;
	return 0;
err:
	sqlite3_close(st->db);
	free(st);
	return ret;
}

int sl_state_open(const char *home, struct sl_state **out)
{
	char hbuf[PATH_MAX];
	struct sl_state *st;
	int ret, fd;

	*out = NULL;
	if (!home) {
		ret = sl_state_home(hbuf, sizeof(hbuf));
		if (ret) {
			sl_err("cannot find the sluice home: set SLUICE_HOME (or HOME)");
			return ret;
		}
		home = hbuf;
	}
	if (home_read_only(home))
		return open_read_only(home, out);
	ret = mkdir_private(home);
	if (ret) {
		sl_err("cannot create %s: %s", home, strerror(-ret));
		return ret;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	if ((size_t)snprintf(st->path, sizeof(st->path), "%s/state.db", home) >= sizeof(st->path)) {
		ret = -ENAMETOOLONG;
		goto err_free;
	}
	/*
	 * Create the file ourselves so it is 0600 from its first byte; SQLite
	 * gives the -wal and -shm files the database file's mode. Only when it
	 * is new: closing any descriptor of the file drops every POSIX lock this
	 * process holds on it, which would pull the locks from under another
	 * open connection (a node keeps one and opens others) and let writers
	 * corrupt the store.
	 */
	fd = open(st->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		close(fd);
	} else if (errno == EEXIST) {
		struct stat sb;

		if (lstat(st->path, &sb) || !S_ISREG(sb.st_mode)) {
			ret = -EINVAL;
			sl_err("%s is not a regular file: move it away", st->path);
			goto err_free;
		}
		if ((sb.st_mode & 077) && chmod(st->path, 0600)) {
			ret = -errno;
			sl_err("cannot make %s private: %s", st->path, strerror(errno));
			goto err_free;
		}
	} else {
		ret = -errno;
		sl_err("cannot open %s: %s", st->path, strerror(errno));
		goto err_free;
	}
	if (sqlite3_open_v2(st->path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		sl_err("cannot open the state store %s: %s", st->path,
		       st->db ? sqlite3_errmsg(st->db) : "out of memory");
		ret = -EIO;
		goto err_close;
	}
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	ret = open_pragmas(st->db);
	if (ret)
		goto err_close;
	ret = migrate(st);
	if (ret)
		goto err_close;
	*out = st;
	return 0;
err_close:
	sqlite3_close(st->db);
err_free:
	free(st);
	return ret;
}

void sl_state_close(struct sl_state *st)
{
	if (!st)
		return;
	sqlite3_close(st->db);
	free(st);
}

int sl_state_writable(const struct sl_state *st)
{
	if (!st->read_only)
		return 0;
	sl_err("%s is on a read-only file system: a node writes its state and log there; "
	       "make it writable, or set SLUICE_HOME to a writable folder", st->path);
	return -EROFS;
}

int sl_state_version(struct sl_state *st)
{
	return user_version(st->db);
}

static int prepare(struct sl_state *st, const char *sql, sqlite3_stmt **s)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, s, NULL) != SQLITE_OK)
		return store_fail(st->db);
	return 0;
}

/* Step a statement that returns no rows; 0, -EEXIST on a constraint, -EIO. */
static int step_done(struct sl_state *st, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_finalize(s);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc == SQLITE_CONSTRAINT)
		return -EEXIST;
	return store_fail(st->db);
}

int sl_state_node_add(struct sl_state *st, const struct sl_node_rec *n)
{
	sqlite3_stmt *s;
	int ret;

	ret = prepare(st, "INSERT INTO nodes (name, tcp_address, tcp_port, pid, pid_start, stopped,"
			  " identity, shards, created_at, started_at, pin_shards, spin_us)"
			  " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", &s);
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
	return step_done(st, s);
}

#define NODE_COLS "name, tcp_address, tcp_port, pid, pid_start, stopped, identity, shards," \
		  " created_at, started_at, pin_shards, spin_us"

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
}

int sl_state_node_get(struct sl_state *st, const char *name, struct sl_node_rec *n)
{
	sqlite3_stmt *s;
	int ret, rc;

	ret = prepare(st, "SELECT " NODE_COLS " FROM nodes WHERE name = ?", &s);
	if (ret)
		return ret;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		sl_state_read_node(s, n);
	else if (rc != SQLITE_DONE)
		ret = store_fail(st->db);
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
	ret = prepare(st, sql, &s);
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
		ret = store_fail(st->db);
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
static int put_row(struct sl_state *st, const char *sql, const char *const *text, int n)
{
	sqlite3_stmt *s;
	int ret;

	ret = prepare(st, sql, &s);
	if (ret)
		return ret;
	bind_texts(s, text, n);
	sqlite3_bind_int64(s, n + 1, (int64_t)time(NULL));
	return step_done(st, s);
}

int sl_state_node_list(struct sl_state *st, struct sl_node_rec **v, size_t *count)
{
	return list_rows(st, "SELECT " NODE_COLS " FROM nodes ORDER BY name", NULL, 0,
			 sizeof(**v), sl_state_read_node, (void **)v, count);
}

/* Run an UPDATE; -ENOENT when it touched no row. */
static int update_done(struct sl_state *st, sqlite3_stmt *s)
{
	int ret = step_done(st, s);

	if (ret)
		return ret;
	return sqlite3_changes(st->db) ? 0 : -ENOENT;
}

int sl_state_node_running(struct sl_state *st, const char *name, int64_t pid,
			  uint64_t pid_start, uint16_t port)
{
	sqlite3_stmt *s;
	int ret;

	ret = prepare(st, "UPDATE nodes SET pid = ?, pid_start = ?, tcp_port = ?, stopped = 0,"
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

	ret = prepare(st, "UPDATE nodes SET pid = 0, pid_start = 0,"
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

int sl_state_node_set_stopped_flag(struct sl_state *st, const char *name, bool stopped)
{
	sqlite3_stmt *s;
	int ret;

	ret = prepare(st, "UPDATE nodes SET stopped = ? WHERE name = ?", &s);
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
	ret = exec_sql(st->db, "BEGIN IMMEDIATE");
	if (ret)
		return ret;
	ret = prepare(st, "DELETE FROM nodes WHERE name = ?", &s);
	if (ret)
		goto rollback;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	ret = update_done(st, s);
	if (ret && ret != -ENOENT)
		goto rollback;
	/* Only "@NAME": an identity the user made and gave the node with --identity stays. */
	if (prepare(st, "DELETE FROM identities WHERE name = '@' || ?", &s))
		goto rollback_eio;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	if (step_done(st, s))
		goto rollback_eio;
	if (exec_sql(st->db, "COMMIT"))
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

	ret = prepare(st, "INSERT INTO identities (name, identifier, change_history, secret_key,"
			  " created_at) VALUES (?,?,?,?,?)", &s);
	if (ret)
		return ret;
	sqlite3_bind_text(s, 1, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, r->identifier, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, r->history, (int)r->history_len, SQLITE_STATIC);
	sqlite3_bind_blob(s, 4, secret, 64, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, r->created_at ? r->created_at : (int64_t)time(NULL));
	return step_done(st, s);
}

int sl_state_identity_get(struct sl_state *st, const char *name, struct sl_identity_rec *r,
			  uint8_t secret[64])
{
	sqlite3_stmt *s;
	int ret, rc;

	ret = prepare(st, "SELECT name, identifier, change_history, created_at, secret_key"
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
		store_fail(st->db);
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

	ret = prepare(st, "DELETE FROM identities WHERE name = ?", &s);
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

	ret = prepare(st, sql, &s);
	if (ret)
		return ret;
	bind_texts(s, t, 2);
	return update_done(st, s);
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

	return put_row(st, "INSERT OR REPLACE INTO relays (node, name, at_route, remote_address,"
		       " created_at) VALUES (?,?,?,?,?)", t, 4);
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
}

int sl_state_relay_list(struct sl_state *st, const char *node, struct sl_relay_rec **v, size_t *n)
{
	return list_rows(st, "SELECT node, name, at_route, remote_address FROM relays"
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

	ret = prepare(st, "DELETE FROM listeners WHERE node = ? AND kind = ? AND address = ?", &s);
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

	ret = prepare(st, "SELECT name, route, identifier FROM projects WHERE name = ?", &s);
	if (ret)
		return ret;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		sl_state_read_project(s, p);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -EIO;
}
