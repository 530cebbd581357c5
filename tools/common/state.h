/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The state store: what `sluice` knows about its nodes (and, as features land,
 * identities, listeners, relays, inlets, outlets, projects), in SQLite at
 * $SLUICE_HOME/state.db (default ~/.sluice). The directory is 0700, the
 * database and its WAL/shm files 0600 (they will hold identity secret keys).
 *
 * Several CLI commands and node daemons use it at once: WAL mode, a busy
 * timeout, and read-modify-write in BEGIN IMMEDIATE transactions make that
 * safe. The schema is versioned with PRAGMA user_version; sl_state_open()
 * applies the missing migrations in order, in one transaction each.
 *
 * Per-node files live in $SLUICE_HOME/nodes/NAME/ (0700): control.sock, node.log.
 */
#ifndef SL_STATE_H
#define SL_STATE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tools/common/text.h"

struct sl_state;

/* The schema version this build writes (the number of migrations). */
#define SL_STATE_SCHEMA 9

/* How long a node's shards busy-poll after their last work (node create --spin-us). */
#define SL_NODE_SPIN_US_DEFAULT 50
#define SL_NODE_SPIN_US_MAX 1000

/* A partial frame idle this long closes its connection (node create --frame-timeout). */
#define SL_NODE_FRAME_TIMEOUT_MS_DEFAULT 30000

struct sl_node_rec {
	char name[SL_NODE_NAME_MAX + 1];
	char tcp_address[272];		/* as asked for: "127.0.0.1:0", "0.0.0.0:4000" */
	uint16_t tcp_port;		/* the port it bound last time (0 = never ran) */
	char udp_address[272];		/* UDP listener "127.0.0.1:4100" ("" = none; port never 0) */
	int64_t pid;			/* daemon pid while it runs, else 0 */
	uint64_t pid_start;		/* its start time (/proc/PID/stat field 22): tells pid reuse apart */
	bool stopped;			/* stopped by the user (not crashed) */
	char identity[SL_NODE_NAME_MAX + 1]; /* identity name ("" = the node's own default) */
	unsigned shards;		/* 0 = one per CPU */
	bool pin_shards;		/* pin shard i to CPU i % ncpu (node create --pin-shards) */
	unsigned spin_us;		/* busy-poll this long before sleeping (0 = sleep at once) */
	uint64_t frame_timeout_ms;	/* close a connection whose partial frame is idle this long */
	int64_t created_at;		/* unix seconds */
	int64_t started_at;		/* unix seconds of the last start, 0 = never */
	char metrics[272];		/* HTTP metrics address "HOST:PORT", "" = none */
	char limits[512];		/* limits.h: the non-default limits, "NAME=V,NAME=V" ("" = none) */
	char relay_directory[280];	/* a relay fleet's directory "redis://HOST:PORT" ("" = none) */
};

/*
 * $SLUICE_HOME, or $HOME/.sluice, as an absolute path. 0, or -ENAMETOOLONG,
 * -ENOENT (neither variable set).
 */
int sl_state_home(char *buf, size_t cap);
/* $SLUICE_HOME/nodes/NAME and its files. 0 or -ENAMETOOLONG. */
int sl_state_node_dir(const char *name, char *buf, size_t cap);
int sl_state_node_file(const char *name, const char *file, char *buf, size_t cap);
/* Create $SLUICE_HOME/nodes/NAME (0700). 0 or -errno. */
int sl_state_node_mkdir(const char *name);
/* Remove $SLUICE_HOME/nodes/NAME and the files sluice puts there. 0 or -errno. */
int sl_state_node_rmdir(const char *name);

/*
 * Open (creating and migrating as needed) the store under `home` (NULL =
 * sl_state_home()). 0, or -errno / -EPROTO (the store is from a newer sluice),
 * after printing what was wrong.
 */
int sl_state_open(const char *home, struct sl_state **out);
void sl_state_close(struct sl_state *st);
/* 0, or says the store is read-only (its file system is) and returns -EROFS. */
int sl_state_writable(const struct sl_state *st);
/* The schema version of an open store. */
int sl_state_version(struct sl_state *st);

/* 0, -EEXIST. */
int sl_state_node_add(struct sl_state *st, const struct sl_node_rec *n);
/* 0, -ENOENT. */
int sl_state_node_get(struct sl_state *st, const char *name, struct sl_node_rec *n);
/* All nodes, by name. *v is malloc'd (free it). 0 or -errno. */
int sl_state_node_list(struct sl_state *st, struct sl_node_rec **v, size_t *n);
/* The daemon is up: record pid, its start time, the bound port. 0, -ENOENT. */
int sl_state_node_running(struct sl_state *st, const char *name, int64_t pid,
			  uint64_t pid_start, uint16_t port);
/*
 * The daemon is gone. by_user marks a stop the user asked for. Only clears
 * the pid if it is still `pid` (0 = whatever it is), so a late teardown
 * cannot erase a newer start. 0, -ENOENT.
 */
int sl_state_node_stopped(struct sl_state *st, const char *name, int64_t pid, bool by_user);
/* The node's HTTP metrics address ("" = none), for its next start. 0, -ENOENT. */
/* Replace the node's stored limits text (limits.h). 0, -ENOENT or -EIO. */
int sl_state_node_set_limits(struct sl_state *st, const char *name, const char *limits);
int sl_state_node_set_metrics(struct sl_state *st, const char *name, const char *addr);
/*
 * A config file's settings onto an existing node (node run --config): its
 * addresses, identity, shards, pin_shards, spin_us, frame_timeout_ms,
 * metrics and limits from n; name, port, pid and times stay. 0, -ENOENT.
 */
int sl_state_node_configure(struct sl_state *st, const struct sl_node_rec *n);
/* Mark that the user asked the node to stop (before signalling it). */
int sl_state_node_set_stopped_flag(struct sl_state *st, const char *name, bool stopped);
/*
 * 0, -ENOENT. Rows that belong to the node (listeners, relays, ...) go with
 * it, and so does its own default identity "@NAME" (never another one).
 */
int sl_state_node_delete(struct sl_state *st, const char *name);

/*
 * Identities (PROTOCOL.md 7). The secret is the Ed25519 key (seed || public
 * key, 64 bytes): it leaves the store only into the caller's buffer, which
 * the caller wipes. A node's own default identity is named "@NODE", a name
 * no user identity can have.
 */
#define SL_IDENTITY_HISTORY_MAX 4096

struct sl_identity_rec {
	char name[SL_NODE_NAME_MAX + 2];
	char identifier[66];			/* "I" + 64 hex */
	size_t history_len;
	uint8_t history[SL_IDENTITY_HISTORY_MAX];	/* encoded ChangeHistory */
	int64_t created_at;
};

/* 0, -EEXIST (name or identifier taken). */
int sl_state_identity_add(struct sl_state *st, const struct sl_identity_rec *r,
			  const uint8_t secret[64]);
/* By name or identifier text. secret NULL: not read. 0, -ENOENT, -ENOKEY (no secret stored). */
int sl_state_identity_get(struct sl_state *st, const char *name, struct sl_identity_rec *r,
			  uint8_t secret[64]);
/* All, by name; *v malloc'd. */
int sl_state_identity_list(struct sl_state *st, struct sl_identity_rec **v, size_t *n);
/* 0, -ENOENT. */
int sl_state_identity_delete(struct sl_state *st, const char *name);

/*
 * Portals a node re-creates on start (the inlets and outlets tables). An
 * inlet keeps the route text it was given (resolved again at start) and the
 * address it bound, so a node asked for port 0 comes back on the same port.
 */
struct sl_inlet_rec {
	char node[SL_NODE_NAME_MAX + 1];
	char alias[256];
	char from[272];			/* "127.0.0.1:6000" */
	char to[512];			/* the route text, e.g. /node/n2/service/outlet */
	char via[256];			/* --via RELAY, "" when none */
};

struct sl_outlet_rec {
	char node[SL_NODE_NAME_MAX + 1];
	char address[256];		/* local address, "outlet" */
	char to[272];			/* target "127.0.0.1:9000" */
};

/* Every listener, relay, inlet and outlet row of a node (node run --config). 0 or -errno. */
int sl_state_services_clear(struct sl_state *st, const char *node);

/* Insert or replace. 0 or -errno. */
int sl_state_inlet_put(struct sl_state *st, const struct sl_inlet_rec *r);
int sl_state_outlet_put(struct sl_state *st, const struct sl_outlet_rec *r);
/* 0, -ENOENT. */
int sl_state_inlet_delete(struct sl_state *st, const char *node, const char *alias);
int sl_state_outlet_delete(struct sl_state *st, const char *node, const char *address);
/* A node's rows, oldest first. *v is malloc'd (free it). 0 or -errno. */
int sl_state_inlet_list(struct sl_state *st, const char *node, struct sl_inlet_rec **v, size_t *n);
int sl_state_outlet_list(struct sl_state *st, const char *node, struct sl_outlet_rec **v, size_t *n);

/*
 * Relays a node keeps registered (the relays table): the name, the route
 * text to the relay node as the user gave it with /node/NAME resolved (a
 * /project/NAME stays symbolic and is resolved again at start), and the
 * address the relay node gave it last, and whether it registers over plain
 * TCP (`relay create --plain`) instead of through a secure channel.
 */
struct sl_relay_rec {
	char node[SL_NODE_NAME_MAX + 1];
	char name[256];
	char at[512];			/* "/ip4/127.0.0.1/tcp/4000", "/project/default" */
	char remote[256];		/* "forward_to_b" */
	bool plain;
};

/* Insert or replace. 0 or -errno. */
int sl_state_relay_put(struct sl_state *st, const struct sl_relay_rec *r);
/* 0, -ENOENT. */
int sl_state_relay_delete(struct sl_state *st, const char *node, const char *name);
/* A node's relays, oldest first. *v is malloc'd (free it). 0 or -errno. */
int sl_state_relay_list(struct sl_state *st, const char *node, struct sl_relay_rec **v, size_t *n);

/*
 * Listeners a node re-creates on start (the listeners table). kind is
 * "secure_channel"; identity the name it presents ("" = the node's own);
 * authorized the identifiers it accepts, space-separated "I<64 hex>" ("" =
 * any peer that proves an identity).
 */
#define SL_LISTENER_KIND_SECURE "secure_channel"
#define SL_LISTENER_AUTHORIZED_MAX (16 * 66)	/* 16 identifiers, each "I" + 64 hex + ' ' */

struct sl_listener_rec {
	char node[SL_NODE_NAME_MAX + 1];
	char kind[32];
	char address[256];
	char identity[SL_NODE_NAME_MAX + 2];
	char authorized[SL_LISTENER_AUTHORIZED_MAX];
};

/* Insert or replace. 0 or -errno. */
int sl_state_listener_put(struct sl_state *st, const struct sl_listener_rec *r);
/* 0, -ENOENT. */
int sl_state_listener_delete(struct sl_state *st, const char *node, const char *kind,
			     const char *address);
/* A node's listeners of one kind, oldest first. *v is malloc'd (free it). 0 or -errno. */
int sl_state_listener_list(struct sl_state *st, const char *node, const char *kind,
			   struct sl_listener_rec **v, size_t *n);

/* A project: a relay node of your own (route text and its identity "I..."). */
struct sl_project_rec {
	char name[SL_NODE_NAME_MAX + 1];
	char route[512];		/* "/ip4/127.0.0.1/tcp/4000" */
	char identifier[72];		/* "I" + 64 hex, "" when none */
};

/* Insert or replace. 0 or -errno. */
int sl_state_project_put(struct sl_state *st, const struct sl_project_rec *p);
/* 0, -ENOENT. */
int sl_state_project_get(struct sl_state *st, const char *name, struct sl_project_rec *p);

#endif
