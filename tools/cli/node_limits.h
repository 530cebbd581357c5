/* SPDX-License-Identifier: Apache-2.0 */
/* A node's limits on the command line: node create/run's --limit, node show's lines and JSON. */
#ifndef SL_CLI_NODE_LIMITS_H
#define SL_CLI_NODE_LIMITS_H

#include <stddef.h>
#include <stdio.h>

#include "tools/cli/cli.h"
#include "tools/common/state.h"

/*
 * Apply every --limit (a->rep) onto the text `stored` (the node's non-default
 * limits), giving the new text in out. 0 or -EINVAL (printed).
 */
int sl_node_apply_limits(const struct sl_args *a, const char *stored, char *out, size_t cap);
/* node show: "Limits:" and one line per limit. */
void sl_node_print_limits(const struct sl_node_rec *rec);
/* node show --output json: ,"limits":{NAME:VALUE,...}, every limit. */
void sl_node_json_limits(FILE *f, const struct sl_node_rec *rec);

#endif
