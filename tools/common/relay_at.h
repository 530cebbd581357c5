/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where a relay is registered (`relay create --at ROUTE`), and projects:
 * shared by the CLI (resolving what the user typed), the node (resolving the
 * saved text again at start) and /project/NAME in routes.
 *
 * A project (`project create NAME --relay MULTIADDR --identity I...`) names
 * a relay node of your own: its route and the identity it must prove.
 * /project/NAME stands for "a secure channel to that relay node,
 * authenticated by that identifier".
 */
#ifndef SL_RELAY_AT_H
#define SL_RELAY_AT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/route.h"
#include "tools/common/state.h"

struct sl_relay_at {
	struct sl_route route;		/* to the relay node (its listener, no service) */
	bool has_authority;		/* the relay node must prove this identity */
	uint8_t authority[32];
	char text[512];			/* to save: /node/NAME resolved, /project/NAME kept */
};

/*
 * Resolve `text`: plain multiaddr segments, /node/NAME (the node's TCP
 * listener: its recorded port; need_running demands it runs now) and at most
 * one /project/NAME, which must come first. /secure is refused: a relay is
 * always registered through its own secure channel. 0, or -errno with a
 * sentence for the user in err.
 */
int sl_relay_at_resolve(struct sl_state *st, const char *text, bool need_running,
			struct sl_relay_at *at, char *err, size_t errlen);

/*
 * A project's relay route and identity. 0, -ENOENT (no such project, err
 * says what to do), -EINVAL (its record is damaged).
 */
int sl_project_resolve(struct sl_state *st, const char *name, struct sl_route *route,
		       bool *has_id, uint8_t id[32], char *err, size_t errlen);

/*
 * Read a project file written by `project create` (JSON with "name",
 * "relay", "identity") into p. 0, or -errno with err filled.
 */
int sl_project_read_file(const char *path, struct sl_project_rec *p, char *err, size_t errlen);
/*
 * `node create --project FILE`: read the file and record the project in the
 * state store (the name goes to name). 0, or -1 with the error printed.
 */
int sl_project_import_file(const char *path, char *name, size_t cap);
/* Record a checked project in the state store. 0, or non-zero with the error printed. */
int sl_project_save(const struct sl_project_rec *p);
/* Check a project's fields (name, route syntax, identifier). 0 or -EINVAL with err. */
int sl_project_check(const struct sl_project_rec *p, char *err, size_t errlen);

#endif
