// SPDX-License-Identifier: Apache-2.0
/* BARE byte vectors: whatever decodes re-encodes to the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "engine/bare.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p;
	uint8_t *out;
	uint64_t v;
	size_t n;
	int used;

	used = sl_bare_get_uleb(data, size, &v);
	if (used > 0 && (sl_bare_uleb_len(v) != (size_t)used))
		__builtin_trap();
	used = sl_bare_get_bytes(data, size, &p, &n);
	if (used < 0)
		return 0;
	if ((size_t)used > size || p + n != data + used)
		__builtin_trap();
	out = malloc((size_t)used);
	if (sl_bare_put_bytes(out, (size_t)used, p, n) != (size_t)used || memcmp(out, data, (size_t)used))
		__builtin_trap();
	free(out);
	return 0;
}
