// SPDX-License-Identifier: Apache-2.0
/* The SQLite state store (state.h): its home, opening, migrations and errors. */
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
#include "tools/common/state_int.h"
#include "tools/common/state_rows.h"

#define BUSY_TIMEOUT_MS 10000

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
	/* 3 -> 4: idle partial frames close after frame_timeout_ms; nodes made before get 30 s. */
	"ALTER TABLE nodes ADD COLUMN frame_timeout_ms INTEGER NOT NULL DEFAULT 30000;",
	/* 4 -> 5: an HTTP metrics address (node create --metrics); nodes made before have none. */
	"ALTER TABLE nodes ADD COLUMN metrics TEXT NOT NULL DEFAULT '';",
	/* 5 -> 6: a UDP listener "host:port" ('' = none). */
	"ALTER TABLE nodes ADD COLUMN udp_address TEXT NOT NULL DEFAULT '';",
	/* 6 -> 7: the limits that differ from their defaults, "NAME=V,..." ('' = all defaults). */
	"ALTER TABLE nodes ADD COLUMN limits TEXT NOT NULL DEFAULT '';",
	/* 7 -> 8: the relay fleet's directory "redis://HOST:PORT" ('' = none). */
	"ALTER TABLE nodes ADD COLUMN relay_directory TEXT NOT NULL DEFAULT '';",
	/* 8 -> 9: relays registered over plain TCP (relay create --plain); those made before: 0. */
	"ALTER TABLE relays ADD COLUMN plain INTEGER NOT NULL DEFAULT 0;",
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
int sl_state_fail(sqlite3 *db)
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

int sl_state_exec(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return sl_state_fail(db);
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
	return sl_state_fail(db);
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
	ret = sl_state_exec(st->db, "BEGIN IMMEDIATE");
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
		ret = sl_state_exec(st->db, migrations[v]);
		if (ret)
			goto rollback;
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", SL_STATE_SCHEMA);
	ret = sl_state_exec(st->db, sql);
	if (ret)
		goto rollback;
	return sl_state_exec(st->db, "COMMIT");
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
 * SQLITE_READONLY, which sl_state_fail turns into words.
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
		ret = st->db ? sl_state_fail(st->db) : -ENOMEM;
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

int sl_state_prepare(struct sl_state *st, const char *sql, sqlite3_stmt **s)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, s, NULL) != SQLITE_OK)
		return sl_state_fail(st->db);
	return 0;
}

int sl_state_step_done(struct sl_state *st, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_finalize(s);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc == SQLITE_CONSTRAINT)
		return -EEXIST;
	return sl_state_fail(st->db);
}
