// SPDX-License-Identifier: Apache-2.0
/*
 * Relay registration payloads (sl_relay_parse_registration): never reads
 * past the input, and whatever it accepts is a name the relay can use: within
 * SL_RELAY_NAME_MAX, printable ASCII without '/', and the exact bytes of the
 * BARE string it came in.
 */
#include <stdbool.h>
#include <string.h>

#include "engine/bare.h"
#include "engine/relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[SL_RELAY_NAME_MAX + 1];
	const uint8_t *p;
	bool eph;
	size_t n;
	int ret;

	ret = sl_relay_parse_registration(data, size, name, sizeof(name), &eph);
	if (ret < 0)
		return 0;
	if (sl_bare_get_bytes(data, size, &p, &n) < 0)
		__builtin_trap();	/* accepted something that is not BARE */
	if (eph) {
		if (ret != 0 || n != 8 || memcmp(p, "register", 8))
			__builtin_trap();
		return 0;
	}
	if ((size_t)ret != n || n == 0 || n > SL_RELAY_NAME_MAX || strlen(name) != n ||
	    memcmp(name, p, n))
		__builtin_trap();
	for (size_t i = 0; i < n; i++)
		if (name[i] < 0x21 || name[i] > 0x7e || name[i] == '/')
			__builtin_trap();
	return 0;
}
