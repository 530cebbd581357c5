// SPDX-License-Identifier: Apache-2.0
/*
 * PortalMessage decoding: never reads past the input, views stay inside it,
 * and a decoded Payload wrapped again gives back its own head and bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/portal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_portal_msg pm;
	struct sl_msg *m;

	if (sl_portal_msg_decode(data, size, &pm))
		return 0;
	if (pm.kind > SL_PORTAL_EOF)
		__builtin_trap();
	if (pm.kind != SL_PORTAL_PAYLOAD)
		return 0;
	if (pm.data < data || pm.data + pm.len > data + size || pm.data != data + pm.head)
		__builtin_trap();
	if (pm.len > SL_FRAME_MAX)
		return 0;
	m = sl_msg_alloc(pm.len + SL_PORTAL_TAIL_MAX);
	if (!m)
		return 0;
	memcpy(m->data, pm.data, pm.len);
	m->len = (uint32_t)pm.len;
	if (sl_portal_payload_wrap(m, pm.has_counter, pm.counter))
		__builtin_trap();
	if (memcmp(m->data, data, pm.head + pm.len))
		__builtin_trap();
	sl_msg_free(m);
	return 0;
}
