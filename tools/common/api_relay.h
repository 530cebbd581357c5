/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control-API bodies of the relay methods (api.h has the envelope), shared
 * by the CLI (cli/cmd_relay.c) and the node manager (daemon/nm_relay.c).
 * Structs are CBOR arrays (PROTOCOL.md 2).
 *
 *   "relay.create"  request: RelayCreate = [text name, route at, ?bytes authority,
 *                   ?bool plain] (at: to the relay node's listener; authority:
 *                   the identifier the relay node must prove, 32 bytes; plain:
 *                   register over plain TCP, no secure channel to the relay node)
 *                   response: RelayInfo, once registered; 504 when the relay
 *                   node did not answer within 10 s (nothing is kept then).
 *   "relay.list"    response: [RelayInfo...]
 *   "relay.show"    request: text name; response: RelayInfo or 404
 *   "relay.delete"  request: text name; response: none, or 404
 *   "relay.hosted"  response: [[active, registered, replaced, rejected,
 *                   expired], [Hosted...]] (at most 1000), Hosted = [text
 *                   address, text route, bytes owner or null, uint shard,
 *                   uint forwarded]: the relays this node serves.
 *
 *   RelayInfo = [text name, text remote_address, text at, text state,
 *                bool secure, uint registrations, uint pings, uint pongs,
 *                uint last_up_s]
 */
#ifndef SL_API_RELAY_H
#define SL_API_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/relay.h"
#include "engine/route.h"

#define SL_RELAY_CREATE_TIMEOUT_MS 10000

/* RelayCreate, decoded (copies, no views into the body). */
struct sl_api_relay_create {
	char name[SL_RELAY_NAME_MAX + 1];
	struct sl_route at;
	bool has_authority;
	uint8_t authority[32];
	bool plain;
};

/*
 * The bodies of relay.create and of relay.show / relay.delete (a text name of
 * 1 byte or more, no NUL in it), as the node manager reads them; p NULL is no body. Fields
 * after RelayCreate's fourth, and bytes after the name, are not read (newer
 * CLIs may send them). 0 or -EBADMSG.
 */
int sl_api_relay_create_decode(const uint8_t *p, size_t n, struct sl_api_relay_create *c);
int sl_api_relay_name_decode(const uint8_t *p, size_t n, char *name, size_t cap);

#endif
