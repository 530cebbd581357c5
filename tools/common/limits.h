/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A node's limits: one set of named values (--limit NAME=VALUE on node
 * create and node run; a config file's `limits:` section later). The store
 * keeps the values that differ from the defaults as text,
 * "max-connections=20000,max-connections-per-source=64".
 */
#ifndef SL_TOOLS_LIMITS_H
#define SL_TOOLS_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sl_limit_id {
	SL_LIMIT_MAX_CONNECTIONS,
	SL_LIMIT_MAX_CONNECTIONS_PER_SOURCE,
	SL_LIMIT_MAX_ROUTE_LENGTH,
	SL_LIMIT_MAX_PENDING_HANDSHAKES,
	SL_LIMIT_MAX_PENDING_HANDSHAKES_PER_CONNECTION,
	SL_LIMIT_HANDSHAKE_TIMEOUT,
	SL_LIMIT_MAX_RELAYS_PER_CONNECTION,
	SL_LIMIT_MAX_RELAYS_PER_IDENTITY,
	SL_LIMIT_IDLE_TIMEOUT,
	SL_LIMIT_IDLE_TIMEOUT_ANY,
	SL_LIMIT_RELAY_FAIR_SHARE,
	SL_LIMITS
};

struct sl_limit_def {
	const char *name;
	uint64_t def, min, max;
	const char *help;	/* what it bounds, for errors and --help */
	bool restart;		/* a new value on a reload (SIGHUP) waits for a restart */
};

extern const struct sl_limit_def sl_limit_defs[SL_LIMITS];

struct sl_limits {
	uint64_t v[SL_LIMITS];
};

/* Every limit at its default. */
void sl_limits_default(struct sl_limits *l);
/*
 * Set one limit from "NAME=VALUE". 0, or -EINVAL after printing an error that
 * names the limit and its range (or lists the limits, for an unknown name).
 */
int sl_limits_set(struct sl_limits *l, const char *nv);
/*
 * Parse the stored text (comma-separated NAME=VALUE, "" = all defaults) onto
 * the defaults. 0 or -EINVAL (printed, naming `what`).
 */
int sl_limits_parse(struct sl_limits *l, const char *text, const char *what);
/* The values that differ from the defaults as text ("" if none). 0 or -ENAMETOOLONG. */
int sl_limits_format(const struct sl_limits *l, char *buf, size_t cap);

#endif
