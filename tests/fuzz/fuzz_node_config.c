// SPDX-License-Identifier: Apache-2.0
/* A node's YAML config file (an operator's, not a peer's: cheap to fuzz all the same). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/common/node_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sl_node_conf *c;
	char err[SL_CONF_ERR_MAX];

	if (!c && !(c = malloc(sizeof(*c))))
		return 0;
	if (sl_node_conf_parse("f.yaml", data, size, c, err, sizeof(err)))
		return 0;
	/* A file that checks out has names that fit and terminate. */
	for (unsigned i = 0; i < c->nrelays; i++)
		if (memchr(c->relays[i].name, 0, sizeof(c->relays[i].name)) == NULL)
			abort();
	return 0;
}
