// SPDX-License-Identifier: Apache-2.0
/* CBOR reader: skip any input, and walk it as a struct of optional fields. */
#include <stddef.h>
#include <stdint.h>

#include "crypto/cbor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Read every element of an array through the typed getters, recursing a little. */
static void walk(struct sl_cbor_reader *rd, int depth)
{
	struct sl_cbor_array a;
	int ret;

	if (depth > 4 || sl_cbor_array_enter(rd, &a))
		return;
	while ((ret = sl_cbor_array_next(rd, &a)) > 0) {
		const uint8_t *p;
		const char *s;
		size_t n;
		uint64_t u;
		int64_t i;
		bool b;

		switch (sl_cbor_peek_type(rd)) {
		case SL_CBOR_UINT:
			ret = sl_cbor_get_uint(rd, &u);
			break;
		case SL_CBOR_NEGINT:
			ret = sl_cbor_get_int(rd, &i);
			if (ret)
				ret = sl_cbor_skip(rd);
			break;
		case SL_CBOR_BYTES:
			ret = sl_cbor_get_bytes(rd, &p, &n);
			break;
		case SL_CBOR_TEXT:
			ret = sl_cbor_get_text(rd, &s, &n);
			break;
		case SL_CBOR_ARRAY:
			walk(rd, depth + 1);
			return;
		default:
			if (!sl_cbor_get_bool(rd, &b) || !sl_cbor_get_null(rd))
				ret = 0;
			else
				ret = sl_cbor_skip(rd);
		}
		if (ret)
			return;
	}
	if (!ret)
		sl_cbor_array_leave(rd, &a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_cbor_reader rd;
	uint64_t idx;
	struct sl_cbor_array o, f;

	sl_cbor_reader_init(&rd, data, size);
	while (!sl_cbor_at_end(&rd) && !sl_cbor_skip(&rd))
		;
	if (rd.p > rd.end)
		__builtin_trap();
	sl_cbor_reader_init(&rd, data, size);
	walk(&rd, 0);
	sl_cbor_reader_init(&rd, data, size);
	if (!sl_cbor_enum_enter(&rd, &o, &idx, &f))
		sl_cbor_enum_leave(&rd, &o, &f);
	return 0;
}
