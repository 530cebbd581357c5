/* SPDX-License-Identifier: Apache-2.0 */
/* What `tcp-inlet` and `tcp-outlet` share (cmd_portal.c). Errors are printed; -1 / 0. */
#ifndef SL_CMD_PORTAL_H
#define SL_CMD_PORTAL_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/portal.h"
#include "tools/cli/cli.h"
#include "tools/common/state.h"

/* "/service/X" or "X" -> "X". */
int sl_portal_local_addr(const char *text, char *out, size_t cap);
/* "HOST:PORT", or a bare "PORT" meaning 127.0.0.1:PORT. */
int sl_portal_hostport(const char *text, const char *flag, char *out, size_t cap);
/* bind with its port replaced by the one bound. */
void sl_portal_bound(const char *bind, unsigned port, char *out, size_t cap);
/* A call answered with one Portal. */
int sl_portal_call(const char *node, const char *method, const uint8_t *body, size_t len,
		   struct sl_portal_info *v);
/* Record an outlet or an inlet in the state store. */
int sl_portal_save(const struct sl_outlet_rec *o, const struct sl_inlet_rec *i);
void sl_portal_print_json(const struct sl_portal_info *v, bool inlet, const char *node, bool nl);

/* The verbs list, show and delete of both: spec->path says "tcp-inlet" or "tcp-outlet". */
int sl_portal_list(const struct sl_cli *cli, const struct sl_cmd_spec *spec,
		   const struct sl_args *a);
int sl_portal_show(const struct sl_cli *cli, const struct sl_cmd_spec *spec,
		   const struct sl_args *a);
int sl_portal_delete(const struct sl_cli *cli, const struct sl_cmd_spec *spec,
		     const struct sl_args *a);

#endif
