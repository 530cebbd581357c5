/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The nouns of the `sluice` command line, one file each (cmd_<noun>.c):
 * their verbs, each with its spec and function (sluice.c runs them).
 */
#ifndef SL_SUBCOMMANDS_H
#define SL_SUBCOMMANDS_H

#include "tools/cli/cli.h"

extern const struct sl_noun sl_noun_node;
extern const struct sl_noun sl_noun_message;
extern const struct sl_noun sl_noun_identity;
extern const struct sl_noun sl_noun_secure_channel;
extern const struct sl_noun sl_noun_secure_channel_listener;
extern const struct sl_noun sl_noun_tcp_outlet;
extern const struct sl_noun sl_noun_tcp_inlet;
extern const struct sl_noun sl_noun_relay;
extern const struct sl_noun sl_noun_project;
extern const struct sl_noun sl_noun_load;
/* `node stats` (cmd_node_stats.c), a verb of sl_noun_node. */
extern const struct sl_cmd_spec sl_node_stats_spec;

#endif
