/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What `node create` (cmd_node.c) and `node run` (cmd_node_run.c) share: a
 * node's record made from their options, and the checks of those options.
 */
#ifndef SL_CMD_NODE_H
#define SL_CMD_NODE_H

#include <stdbool.h>
#include <stddef.h>

#include "tools/cli/cli.h"
#include "tools/common/state.h"

#define LIMIT_HELP "set a limit (repeatable), e.g. --limit max-connections=20000 (see " \
		   "README.md, Limits, for every limit, its default and range; `node show` prints them)"

#define RELAY_DIR_HELP "join a relay fleet whose directory is Redis at URL, redis://HOST:PORT: " \
		       "relays registered here are found through every node of the fleet (see README.md, " \
		       "A relay fleet)"

/* 0, or -EINVAL after saying what a node name may be. */
int sl_node_check_name(const char *name);
/* A decimal number from 0 to max, digits only: "-1", "+5" and " 5" are not. */
bool sl_node_parse_uint(const char *s, unsigned max, unsigned *out);
/* --metrics: an IP literal and a port ("" = none), the normal form into norm. 0 or -EINVAL. */
int sl_node_check_metrics(const char *a, char *norm, size_t cap);
/* A listener on every address (0.0.0.0, [::]): other relay nodes of a fleet cannot dial it. */
bool sl_node_listener_is_wildcard(const char *tcp_address);
/* A new record from create's (or run's) options, by option name. 0 or -EINVAL (printed). */
int sl_node_new_record(const struct sl_cmd_spec *spec, const struct sl_args *a, const char *name,
		       struct sl_node_rec *rec);
/* Add it to the store. 0, -EEXIST (printed, with what to do). */
int sl_node_add_record(const struct sl_node_rec *rec);

extern const struct sl_cmd_spec sl_node_run_spec;

#endif
