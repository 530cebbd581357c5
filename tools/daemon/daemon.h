/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node daemon's entry: running a node in this process until it stops
 * (`node run`, and the child that `node create` / `node start` fork; the
 * CLI's side of that fork is cli/node_spawn.h).
 */
#ifndef SL_DAEMON_H
#define SL_DAEMON_H

/*
 * Run node `name` (its record must exist) in this process until it stops.
 * Records pid and port while it runs; a clean shutdown marks it stopped.
 * 0, or -errno after printing what was wrong.
 */
int sl_daemon_run(const char *name);

#endif
