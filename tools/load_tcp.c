// SPDX-License-Identifier: Apache-2.0
#include "tools/cli.h"
#include "tools/load.h"

int sl_load_run_tcp(const struct sl_load_cfg *cfg, const char *hostport, bool progress,
		    struct sl_load_result *r)
{
	(void)cfg, (void)hostport, (void)progress, (void)r;
	return sl_err("--tcp is not built yet");
}
