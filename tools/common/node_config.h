/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A node's YAML configuration file (`sluice node run NAME --config FILE`):
 * read with libyaml, checked against one table of keys, every error naming
 * the file, the line and the key ("node.yaml:7: limits.max-connections: a
 * number from 1 to 1000000"). The node-level settings land in a node record
 * (state.h) as `node create` would make it; the services (relays, inlets,
 * outlets, secure channel listeners) in lists the runner creates on the node.
 *
 * An operator's file, not peer bytes: it is read whole, at most
 * SL_CONF_FILE_MAX bytes, and each list holds at most SL_CONF_ITEMS_MAX.
 */
#ifndef SL_NODE_CONFIG_H
#define SL_NODE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tools/common/limits.h"
#include "tools/common/state.h"

#define SL_CONF_FILE_MAX (1u << 20)
#define SL_CONF_ITEMS_MAX 64
#define SL_CONF_ERR_MAX 1024
/* node create / node run without --tcp-listener-address: a free port on loopback. */
#define SL_NODE_TCP_LISTEN_DEFAULT "127.0.0.1:0"
/* How long SIGTERM lets flows finish, with a config file (drain-timeout). */
#define SL_CONF_DRAIN_MS_DEFAULT 30000
#define SL_CONF_DRAIN_MS_MAX (3600u * 1000)

struct sl_conf_relay {
	char name[256];
	char at[512];		/* route to the relay node, as `relay create --at` takes it */
	bool plain;		/* relay create --plain */
};

struct sl_conf_outlet {
	char address[256];	/* the outlet's local address, "outlet" */
	char to[272];		/* "127.0.0.1:5000" */
};

struct sl_conf_inlet {
	char alias[256];
	char from[272];		/* "127.0.0.1:6000" */
	char to[512];		/* route text, as `tcp-inlet create --to` takes it */
	char via[256];		/* "" when none */
};

struct sl_conf_listener {
	char address[256];	/* the listener's service address, "api" */
	char identity[SL_NODE_NAME_MAX + 2]; /* "" = the node's own */
	char authorized[SL_LISTENER_AUTHORIZED_MAX]; /* "I<hex> I<hex>", "" = any verified */
};

struct sl_node_conf {
	char file[512];			/* as given, for messages */
	bool has_name;
	/* Node-level settings, as `node create` records them (limits: rec.limits text). */
	struct sl_node_rec rec;
	struct sl_limits limits;
	uint64_t drain_timeout_ms;
	unsigned nrelays, noutlets, ninlets, nlisteners;
	struct sl_conf_relay relays[SL_CONF_ITEMS_MAX];
	struct sl_conf_outlet outlets[SL_CONF_ITEMS_MAX];
	struct sl_conf_inlet inlets[SL_CONF_ITEMS_MAX];
	struct sl_conf_listener listeners[SL_CONF_ITEMS_MAX];
};

/*
 * Read and check `path` into *c (every setting not in the file at its
 * default). 0, or -EINVAL / -errno with err saying "FILE:LINE: KEY: what is
 * wrong" (nothing in *c is to be used then).
 */
int sl_node_conf_load(const char *path, struct sl_node_conf *c, char *err, size_t cap);
/* The same from a buffer (tests, fuzzing); `file` names it in errors. */
int sl_node_conf_parse(const char *file, const uint8_t *p, size_t n, struct sl_node_conf *c,
		       char *err, size_t cap);

/*
 * "HOST:PORT" with an IPv4/IPv6 literal (or localhost) and a port number,
 * into the normal form (localhost -> 127.0.0.1). False when it is not one.
 */
bool sl_listen_address_norm(const char *a, char *norm, size_t cap);
/* A metrics address: as above, and the port not 0. */
bool sl_metrics_address_norm(const char *a, char *norm, size_t cap);

#endif
