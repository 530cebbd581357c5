/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One line per event on stderr, logfmt-like: `ts=... level=... msg`. Never
 * payloads, never keys. Hot paths log only through a rate limit.
 */
#ifndef SL_LOG_H
#define SL_LOG_H

enum sl_log_level {
	SL_LOG_ERROR = 0,
	SL_LOG_WARN = 1,
	SL_LOG_INFO = 2,
	SL_LOG_DEBUG = 3,
};

/* Default SL_LOG_INFO, or $SLUICE_LOG (error|warn|info|debug) at first use. */
void sl_log_set_level(enum sl_log_level lvl);
enum sl_log_level sl_log_get_level(void);
void sl_log(enum sl_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
