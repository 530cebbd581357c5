/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The nouns of the `sluice` command line, one file each (cmd_<noun>.c).
 * Each takes the words after the noun (verb first) and returns the exit
 * status (SL_EXIT_*).
 */
#ifndef SL_SUBCOMMANDS_H
#define SL_SUBCOMMANDS_H

#include "tools/cli/cli.h"

int sl_cmd_node(const struct sl_cli *cli, int argc, char **argv);
int sl_cmd_message(const struct sl_cli *cli, int argc, char **argv);
int sl_cmd_identity(const struct sl_cli *cli, int argc, char **argv);
int sl_cmd_secure_channel(const struct sl_cli *cli, int argc, char **argv);
int sl_cmd_secure_channel_listener(const struct sl_cli *cli, int argc, char **argv);
int sl_cmd_tcp_outlet(const struct sl_cli *cli, int argc, char **argv);
int sl_cmd_tcp_inlet(const struct sl_cli *cli, int argc, char **argv);
int sl_cmd_relay(const struct sl_cli *cli, int argc, char **argv);
int sl_cmd_project(const struct sl_cli *cli, int argc, char **argv);
int sl_cmd_load(const struct sl_cli *cli, int argc, char **argv);

#endif
