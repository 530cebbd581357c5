// SPDX-License-Identifier: Apache-2.0
/* Multiaddr text -> route -> text -> route must agree. */
#include <stdlib.h>
#include <string.h>

#include "engine/multiaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int node(void *arg, const char *name, struct sl_route *r)
{
	return sl_route_push_back(r, SL_ADDR_TCP, "127.0.0.1:1", 11);
}

static int secure(void *arg, const char *name, struct sl_route *r)
{
	sl_route_init(r);
	return sl_route_push_back(r, SL_ADDR_LOCAL, name, strlen(name));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct sl_ma_resolver res = { NULL, node, secure, node };
	static struct sl_route r, back;
	char *text, out[16384], err[256];
	struct sl_ma_seg segs[8];
	size_t n;
	int len;

	text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = 0;
	sl_multiaddr_parse(text, segs, 8, &n, err, sizeof(err));
	if (!sl_multiaddr_to_route(text, &res, &r, err, sizeof(err))) {
		len = sl_multiaddr_from_route(&r, out, sizeof(out));
		if (len >= (int)sizeof(out))
			__builtin_trap();
		if (len >= 0) {
			if (sl_multiaddr_to_route(out, NULL, &back, err, sizeof(err)) || back.n != r.n)
				__builtin_trap();
		}
	}
	free(text);
	return 0;
}
