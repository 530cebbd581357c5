// SPDX-License-Identifier: Apache-2.0
/*
 * The decryptor's decoding of a decrypted SecureChannelPaddedMessage
 * (PROTOCOL.md 5): peer bytes after authentication, so a peer that holds
 * the keys controls every byte of them.
 */
#include <stddef.h>
#include <stdint.h>

#include "engine/secure_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sl_route onward, ret;
	struct sl_secure_msg sm;

	if (sl_secure_msg_decode(data, size, &sm, &onward, &ret))
		return 0;
	/* Views stay inside the input. */
	if (sm.kind == 0 && (sm.payload < data || sm.payload + sm.payload_len > data + size))
		__builtin_trap();
	if (sm.kind == 1 && (sm.history < data || sm.history + sm.history_len > data + size))
		__builtin_trap();
	return 0;
}
