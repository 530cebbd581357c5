// SPDX-License-Identifier: Apache-2.0
/* PortalMessage codec: Ockam's vectors (sections D and G6), the counter, our extension. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/portal.h"

TestSuite(portal_msg, .timeout = 10);

/* The hex bytes of vector `name` in ockam-wire-vectors.txt (parts may be space separated). */
static size_t vector(const char *name, uint8_t *out, size_t cap)
{
	char line[8192], path[512];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/ockam-wire-vectors.txt", SL_VECTORS_DIR);
	f = fopen(path, "r");
	cr_assert_not_null(f, "cannot open %s", path);
	while (fgets(line, sizeof(line), f)) {
		size_t k = strlen(name);
		char *p;

		if (strncmp(line, name, k) || line[k] != ' ')
			continue;
		for (p = line + k; *p && *p != '\n'; p++) {
			unsigned v;

			if (*p == ' ')
				continue;
			cr_assert(sscanf(p, "%2x", &v) == 1 && n < cap, "bad hex in %s", name);
			out[n++] = (uint8_t)v;
			p++;
		}
		fclose(f);
		return n;
	}
	fclose(f);
	cr_assert_fail("vector %s not found", name);
	return 0;
}

Test(portal_msg, section_d_control_messages)
{
	static const struct {
		const char *name;
		enum sl_portal_kind kind;
	} t[] = {
		{ "ping", SL_PORTAL_PING },
		{ "pong", SL_PORTAL_PONG },
		{ "disconnect", SL_PORTAL_DISCONNECT },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint8_t v[16], out[16];
		struct sl_portal_msg pm;
		size_t n = vector(t[i].name, v, sizeof(v));

		cr_assert_eq(sl_portal_msg_decode(v, n, &pm), 0, "%s", t[i].name);
		cr_assert_eq(pm.kind, t[i].kind);
		cr_assert_not(pm.ext);
		cr_assert_eq(sl_portal_msg_encode(out, sizeof(out), t[i].kind, false, 0, 0), n);
		cr_assert(!memcmp(out, v, n), "%s re-encodes", t[i].name);
	}
}

Test(portal_msg, section_d_payloads_and_counter)
{
	static const struct {
		const char *name;
		bool has_counter;
		uint16_t counter;
		const char *data;
		size_t len;
	} t[] = {
		{ "payload_05_05_no_counter_elixir", false, 0, "\x05\x05", 2 },
		{ "payload_05_05_counter_0xAABB", true, 0xaabb, "\x05\x05", 2 },
		{ "payload_05_05_old_or_rust_current", false, 0, "\x05\x05", 2 },
		{ "portal_payload_hi", false, 0, "hi", 2 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint8_t v[64];
		struct sl_portal_msg pm;
		size_t n = vector(t[i].name, v, sizeof(v));

		cr_assert_eq(sl_portal_msg_decode(v, n, &pm), 0, "%s", t[i].name);
		cr_assert_eq(pm.kind, SL_PORTAL_PAYLOAD);
		cr_assert_eq(pm.len, t[i].len, "%s", t[i].name);
		cr_assert(!memcmp(pm.data, t[i].data, t[i].len));
		cr_assert_eq(pm.head, 2);
		cr_assert_eq(pm.has_counter, t[i].has_counter, "%s", t[i].name);
		if (t[i].has_counter)
			cr_assert_eq(pm.counter, t[i].counter);
	}
}

/* Wrap bytes in place as the data path does, and compare with the vectors. */
Test(portal_msg, wrap_matches_vectors)
{
	uint8_t v[64];
	size_t n;
	struct sl_msg *m = sl_msg_alloc(SL_PORTAL_CHUNK + SL_PORTAL_TAIL_MAX);

	cr_assert_not_null(m);
	memcpy(m->data, "hi", 2);
	m->len = 2;
	cr_assert_eq(sl_portal_payload_wrap(m, false, 0), 0);
	n = vector("portal_payload_hi", v, sizeof(v));
	cr_assert_eq(m->len, n);
	cr_assert(!memcmp(m->data, v, n));
	sl_msg_free(m);

	m = sl_msg_alloc(64);
	memcpy(m->data, "\x05\x05", 2);
	m->len = 2;
	cr_assert_eq(sl_portal_payload_wrap(m, true, 0xaabb), 0);
	n = vector("payload_05_05_counter_0xAABB", v, sizeof(v));
	cr_assert_eq(m->len, n);
	cr_assert(!memcmp(m->data, v, n));
	sl_msg_free(m);
}

Test(portal_msg, full_chunk_round_trip)
{
	struct sl_msg *m = sl_msg_alloc(SL_PORTAL_CHUNK + SL_PORTAL_TAIL_MAX);
	struct sl_portal_msg pm;

	for (uint32_t i = 0; i < SL_PORTAL_CHUNK; i++)
		m->data[i] = (uint8_t)(i * 7);
	m->len = SL_PORTAL_CHUNK;
	cr_assert_eq(sl_portal_payload_wrap(m, true, 65535), 0);
	/* 03, uleb128(49152) = 80 80 03 */
	cr_assert_eq(m->len, 1 + 3 + SL_PORTAL_CHUNK + 3);
	cr_assert_eq(m->data[0], 3);
	cr_assert_eq(sl_portal_msg_decode(m->data, m->len, &pm), 0);
	cr_assert_eq(pm.len, SL_PORTAL_CHUNK);
	cr_assert_eq(pm.head, 4);
	cr_assert(pm.has_counter);
	cr_assert_eq(pm.counter, 65535);
	for (uint32_t i = 0; i < SL_PORTAL_CHUNK; i++)
		cr_assert_eq(pm.data[i], (uint8_t)(i * 7));
	sl_msg_free(m);
}

Test(portal_msg, extension_is_ignorable)
{
	uint8_t b[32];
	struct sl_portal_msg pm;
	size_t n;

	/* Ockam decodes by the first byte: our Ping is a Ping, our Pong a Pong. */
	n = sl_portal_msg_encode(b, sizeof(b), SL_PORTAL_PING, true, SL_PORTAL_WINDOW, 0);
	cr_assert_gt(n, 1);
	cr_assert_eq(b[0], 0);
	cr_assert_eq(sl_portal_msg_decode(b, n, &pm), 0);
	cr_assert(pm.ext);
	cr_assert_eq(pm.window, SL_PORTAL_WINDOW);
	n = sl_portal_msg_encode(b, sizeof(b), SL_PORTAL_PONG, true, 4096, 0);
	cr_assert_eq(b[0], 1);
	cr_assert_eq(sl_portal_msg_decode(b, n, &pm), 0);
	cr_assert_eq(pm.kind, SL_PORTAL_PONG);
	cr_assert(pm.ext);
	cr_assert_eq(pm.window, 4096);
	/* Other trailing bytes after Ping (as Ockam tolerates) are no extension. */
	cr_assert_eq(sl_portal_msg_decode((const uint8_t *)"\x00\x53\x4c\x02\x05", 5, &pm), 0);
	cr_assert_eq(pm.kind, SL_PORTAL_PING);
	cr_assert_not(pm.ext);
	cr_assert_eq(sl_portal_msg_decode((const uint8_t *)"\x00\x53\x4c\x01\x00", 5, &pm), 0);
	cr_assert_not(pm.ext, "a zero window is no extension");
}

Test(portal_msg, credit_and_eof)
{
	uint8_t b[16];
	struct sl_portal_msg pm;
	size_t n;

	n = sl_portal_msg_encode(b, sizeof(b), SL_PORTAL_CREDIT, true, 0, 1ull << 40);
	cr_assert_eq(sl_portal_msg_decode(b, n, &pm), 0);
	cr_assert_eq(pm.kind, SL_PORTAL_CREDIT);
	cr_assert_eq(pm.credit, 1ull << 40);
	n = sl_portal_msg_encode(b, sizeof(b), SL_PORTAL_EOF, true, 0, 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(sl_portal_msg_decode(b, n, &pm), 0);
	cr_assert_eq(pm.kind, SL_PORTAL_EOF);
	cr_assert_eq(sl_portal_msg_encode(b, 0, SL_PORTAL_PING, false, 0, 0), 0, "no room");
	cr_assert_eq(sl_portal_msg_encode(b, 2, SL_PORTAL_PONG, true, 9, 0), 0, "no room for ext");
}

Test(portal_msg, rejects)
{
	static const struct {
		size_t len;
		const char *b;
	} t[] = {
		{ 0, "" },			/* empty */
		{ 1, "\x03" },			/* payload without length */
		{ 3, "\x03\x05\x01" },		/* length past the end */
		{ 2, "\x03\x80" },		/* truncated uleb128 */
		{ 1, "\x04" },			/* credit without value */
		{ 1, "\x06" },			/* unknown kind */
		{ 1, "\xff" },
	};
	struct sl_portal_msg pm;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		cr_assert_eq(sl_portal_msg_decode((const uint8_t *)t[i].b, t[i].len, &pm), -EBADMSG,
			     "case %zu", i);
}

Test(portal_msg, trailing_bytes_tolerated)
{
	struct sl_portal_msg pm;

	/* One or two trailing bytes after the payload: no counter, no error (Ockam). */
	cr_assert_eq(sl_portal_msg_decode((const uint8_t *)"\x03\x01\x41\x01", 4, &pm), 0);
	cr_assert_not(pm.has_counter);
	cr_assert_eq(sl_portal_msg_decode((const uint8_t *)"\x03\x01\x41\x01\x02", 5, &pm), 0);
	cr_assert_not(pm.has_counter);
	/* A flag other than 1 means no counter. */
	cr_assert_eq(sl_portal_msg_decode((const uint8_t *)"\x03\x01\x41\x00\x02\x03", 6, &pm), 0);
	cr_assert_not(pm.has_counter);
	cr_assert_eq(sl_portal_msg_decode((const uint8_t *)"\x02\x99", 2, &pm), 0);
	cr_assert_eq(pm.kind, SL_PORTAL_DISCONNECT);
}
