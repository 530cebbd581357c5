/* SPDX-License-Identifier: Apache-2.0 */
/* ockam-wire-vectors.txt for unit tests (tests/vectors): the value of one key. */
#ifndef SL_TEST_WIRE_VECTORS_H
#define SL_TEST_WIRE_VECTORS_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The hex value of `key` in ockam-wire-vectors.txt (first occurrence); malloc'd. */
static uint8_t *vector(const char *key, size_t *len)
{
	FILE *f = fopen(SL_VECTORS_DIR "/ockam-wire-vectors.txt", "r");
	size_t klen = strlen(key);
	char line[4096];
	uint8_t *out = NULL;

	cr_assert_not_null(f, "vectors file missing");
	while (fgets(line, sizeof(line), f)) {
		char *p = line + klen;
		size_t n = 0;

		if (strncmp(line, key, klen) || *p != ' ')
			continue;
		out = malloc(strlen(p) / 2 + 1);
		for (; *p; p++) {
			if (*p == ' ' || *p == '\n')
				continue;
			cr_assert_eq(sscanf(p, "%2hhx", &out[n]), 1);
			n++;
			p++;
		}
		*len = n;
		break;
	}
	fclose(f);
	cr_assert_not_null(out, "vector %s missing", key);
	return out;
}

#endif
