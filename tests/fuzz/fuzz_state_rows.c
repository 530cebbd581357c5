// SPDX-License-Identifier: Apache-2.0
/*
 * The state store's row decoders (tools/common/state_rows.h) on rows no sluice
 * wrote: the input is a program of up to 16 column values that SQLite hands
 * back as one row, then every decoder reads that row and the node reads the
 * texts further (the listener's authorized list, the identity's identifier
 * and change history, routes, host:port). A store is a file: its user may
 * edit it or run an older sluice on it.
 *   column: tag % 5: 0 NULL, 1 integer (8 bytes LE), 2 real (8 bytes),
 *           3 text (u16le length, bytes, NULs allowed), 4 blob (u16le length, bytes)
 * Invariants: texts end inside their fields, a history is the column's
 * bytes or empty, a secret is read only from a blob of exactly 64 bytes.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/identity.h"
#include "engine/multiaddr.h"
#include "tools/common/relay_at.h"
#include "tools/common/state.h"
#include "tools/common/state_rows.h"
#include "tools/common/text.h"
#include "tools/daemon/nm_secure.h"

#define NCOLS 17
#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)
#define ENDED(field) CHECK(memchr((field), '\0', sizeof(field)) != NULL)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sqlite3 *db;
static sqlite3_stmt *row;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (sqlite3_open(":memory:", &db) ||
	    sqlite3_prepare_v2(db, "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
			       " ?13, ?14, ?15, ?16, ?17", -1, &row, NULL))
		abort();
	return 0;
}

static uint64_t le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

/* Bind the program's columns (missing ones stay NULL). */
static void bind(const uint8_t *p, const uint8_t *end)
{
	for (int col = 1; col <= NCOLS && p < end; col++) {
		uint8_t tag = *p++ % 5;
		size_t left = (size_t)(end - p), n;
		uint64_t v;
		double d;

		switch (tag) {
		case 0:
			break;
		case 1:
		case 2:
			n = left < 8 ? left : 8;
			v = le(p, n);
			p += n;
			if (tag == 1) {
				sqlite3_bind_int64(row, col, (int64_t)v);
			} else {
				memcpy(&d, &v, sizeof(d));
				sqlite3_bind_double(row, col, d);
			}
			break;
		default:
			n = left < 2 ? left : 2;
			v = le(p, n);
			p += n;
			left = (size_t)(end - p);
			n = v < left ? (size_t)v : left;
			if (tag == 3)
				sqlite3_bind_text(row, col, (const char *)p, (int)n, SQLITE_STATIC);
			else
				sqlite3_bind_blob(row, col, p, (int)n, SQLITE_STATIC);
			p += n;
			break;
		}
	}
}

static void route_text(const char *text)
{
	static struct sl_route r;
	char err[256], back[1024];

	if (!sl_multiaddr_to_route(text, NULL, &r, err, sizeof(err)))
		sl_multiaddr_from_route(&r, back, sizeof(back));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sl_identity_rec ir;
	static struct sl_listener_rec lr;
	static struct sl_identity id;
	uint8_t ids[SL_SECURE_MAX_AUTHORIZED][SL_ID_LEN], one[SL_ID_LEN], secret[64];
	struct sl_node_rec nr;
	struct sl_inlet_rec in;
	struct sl_outlet_rec out;
	struct sl_relay_rec rr;
	struct sl_project_rec pr;
	char err[512], host[300];
	unsigned port;
	int k;

	sqlite3_reset(row);
	sqlite3_clear_bindings(row);
	bind(data, data + size);
	CHECK(sqlite3_step(row) == SQLITE_ROW);

	sl_state_read_node(row, &nr);
	ENDED(nr.name);
	ENDED(nr.tcp_address);
	ENDED(nr.identity);
	ENDED(nr.relay_directory);
	sl_hostport_split(nr.tcp_address, host, sizeof(host), &port);

	sl_state_read_identity(row, &ir);
	ENDED(ir.name);
	ENDED(ir.identifier);
	CHECK(ir.history_len <= sizeof(ir.history));
	if (ir.history_len) {
		CHECK(ir.history_len == (size_t)sqlite3_column_bytes(row, 2) &&
		      !memcmp(ir.history, sqlite3_column_blob(row, 2), ir.history_len));
		if (!sl_identity_decode(&id, ir.history, ir.history_len))
			CHECK(id.history_len == ir.history_len);
	}
	sl_identity_id_parse(ir.identifier, one);
	if (!sl_state_read_secret(row, 4, secret))
		CHECK(sqlite3_column_bytes(row, 4) == 64 &&
		      !memcmp(secret, sqlite3_column_blob(row, 4), 64));

	sl_state_read_inlet(row, &in);
	ENDED(in.node);
	ENDED(in.alias);
	ENDED(in.from);
	ENDED(in.to);
	ENDED(in.via);
	route_text(in.to);
	sl_hostport_split(in.from, host, sizeof(host), &port);

	sl_state_read_outlet(row, &out);
	ENDED(out.node);
	ENDED(out.address);
	ENDED(out.to);
	sl_hostport_split(out.to, host, sizeof(host), &port);

	sl_state_read_relay(row, &rr);
	ENDED(rr.node);
	ENDED(rr.name);
	ENDED(rr.at);
	ENDED(rr.remote);
	route_text(rr.at);

	sl_state_read_listener(row, &lr);
	ENDED(lr.node);
	ENDED(lr.kind);
	ENDED(lr.address);
	ENDED(lr.identity);
	ENDED(lr.authorized);
	k = sl_nm_authorized_parse(lr.authorized, ids, err, sizeof(err));
	CHECK(k == -EINVAL || (k >= 0 && k <= SL_SECURE_MAX_AUTHORIZED));
	if (k < 0)
		ENDED(err);

	sl_state_read_project(row, &pr);
	ENDED(pr.name);
	ENDED(pr.route);
	ENDED(pr.identifier);
	if (!sl_project_check(&pr, err, sizeof(err)))
		route_text(pr.route);
	return 0;
}
