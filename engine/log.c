// SPDX-License-Identifier: Apache-2.0
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/log.h"

static int level = -1;

static const char *const names[] = { "error", "warn", "info", "debug" };

void sl_log_set_level(enum sl_log_level lvl)
{
	__atomic_store_n(&level, (int)lvl, __ATOMIC_RELAXED);
}

enum sl_log_level sl_log_get_level(void)
{
	int l = __atomic_load_n(&level, __ATOMIC_RELAXED);

	if (l < 0) {
		const char *e = getenv("SLUICE_LOG");

		l = SL_LOG_INFO;
		for (int i = 0; e && i < 4; i++)
			if (!strcmp(e, names[i]))
				l = i;
		__atomic_store_n(&level, l, __ATOMIC_RELAXED);
	}
	return (enum sl_log_level)l;
}

void sl_log(enum sl_log_level lvl, const char *fmt, ...)
{
	char line[512];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n, k;

	if ((int)lvl > (int)sl_log_get_level())
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		     tm.tm_sec, ts.tv_nsec / 1000000, names[lvl]);
	va_start(ap, fmt);
	k = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	n = k < 0 ? n : (n + k > (int)sizeof(line) - 2 ? (int)sizeof(line) - 2 : n + k);
	/* Newlines inside a message would split the record: flatten them. */
	for (int i = 0; i < n; i++)
		if (line[i] == '\n')
			line[i] = ' ';
	line[n++] = '\n';
	/* One write per record keeps lines whole across threads. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
