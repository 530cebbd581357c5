/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control API between the CLI and a node's `node_manager` worker.
 *
 * Transport: the node's Unix socket ($SLUICE_HOME/nodes/NAME/control.sock,
 * 0600), spoken like TCP (PROTOCOL.md 3): version byte 01 each way, then
 * frames u32be || CBOR [onward, return, bytes payload]. The CLI sends with
 * onward [0#node_manager] and return [0#<32 random hex>]; the reply comes
 * back with onward [0#<that address>]. The payload is one of:
 *
 *   Request  = [text method, ?Body]
 *   Response = [uint status, ?text error, ?Body]
 *
 * status is HTTP-like (SL_API_*); error is a sentence for the user, present
 * when status is not 200. Bodies are CBOR items (not wrapped in bytes), by
 * method (structs are arrays, PROTOCOL.md 2):
 *
 *   "node.status"   request: none
 *                   response: NodeStatus = [text name, uint tcp_port,
 *                             uint shards, uint uptime_ms, uint pid, Stats]
 *                   Stats = [uint delivered, uint to_transport,
 *                            uint drop_unknown, uint drop_route, uint drop_other,
 *                            uint control_requests, uint sends,
 *                            uint replies, uint timeouts,
 *                            uint frame_timeouts (connections closed
 *                            with a partial frame idle too long)]
 *   "node.stop"     request: none; response: none. The node stops right after.
 *   "node.metrics"  request: none; response: the samples /metrics serves
 *                   (tools/common/metrics.h gives the body).
 *   "message.send"  request: Send = [route onward, bytes payload, uint timeout_ms]
 *                   (payload exactly as it goes on the wire, e.g. a BARE
 *                   byte vector; timeout_ms 1..86400000)
 *                   response: bytes, the first reply's payload; 504 when no
 *                   reply came within timeout_ms.
 *
 * Secure channels (bodies in api_secure.h; served by nm_secure.c):
 *   "secure_channel.create"  request: SecureCreate = [route to, text identity
 *                            ("" = the node's), [bytes32 authorized...],
 *                            uint timeout_ms]
 *                            response: [text channel address, bytes32 peer identifier];
 *                            504 no answer in time, 403 the responder failed
 *                            verification or is not authorized
 *   "secure_channel.list"    response: [ChannelInfo...]
 *   "secure_channel.show"    request: text address; response: ChannelInfo; 404
 *   "secure_channel.delete"  request: text address (an encrypted Close goes to
 *                            the peer); 404
 *   "secure_channel_listener.create"  request: [text address, text identity,
 *                            [bytes32 authorized...]]; 409 address taken
 *   "secure_channel_listener.list"    response: [ListenerInfo...]
 *   "secure_channel_listener.delete"  request: text address; 404
 *
 * Later features (relays, portals) add methods; unknown methods get 404, so
 * an older node tells a newer CLI what it lacks.
 */
#ifndef SL_API_H
#define SL_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/cbor.h"
#include "engine/route.h"
#include "tools/common/text.h"

#define SL_NODE_MANAGER "node_manager"

enum {
	SL_API_OK = 200,
	SL_API_BAD_REQUEST = 400,
	SL_API_FORBIDDEN = 403,		/* the peer failed verification or authorization */
	SL_API_NOT_FOUND = 404,		/* unknown method, or no such object */
	SL_API_CONFLICT = 409,		/* the name or address is taken */
	SL_API_INTERNAL = 500,
	SL_API_BUSY = 503,		/* out of messages or timers: try again */
	SL_API_TIMEOUT = 504,		/* no reply from the route in time */
};

#define SL_API_METHOD_MAX 64
#define SL_API_ERROR_MAX 512
#define SL_API_TIMEOUT_MAX_MS (24u * 3600 * 1000)

/* A decoded request or response: views into the payload. */
struct sl_api_request {
	char method[SL_API_METHOD_MAX + 1];
	const uint8_t *body;		/* encoded CBOR item, NULL when absent */
	size_t body_len;
};

struct sl_api_response {
	uint16_t status;
	char error[SL_API_ERROR_MAX + 1];	/* "" when absent */
	const uint8_t *body;
	size_t body_len;
};

/*
 * Write a request / response head; when has_body the caller writes exactly
 * one CBOR item after it. Errors are the writer's sticky ones.
 */
void sl_api_put_request(struct sl_cbor_writer *w, const char *method, bool has_body);
void sl_api_put_response(struct sl_cbor_writer *w, uint16_t status, const char *error,
			 bool has_body);

/* 0 or -EBADMSG. */
int sl_api_request_decode(const uint8_t *p, size_t n, struct sl_api_request *r);
int sl_api_response_decode(const uint8_t *p, size_t n, struct sl_api_response *r);

struct sl_api_send {
	struct sl_route route;
	const uint8_t *payload;		/* view */
	size_t len;
	uint32_t timeout_ms;
};

void sl_api_put_send(struct sl_cbor_writer *w, const struct sl_api_send *s);
/* 0, -EBADMSG (malformed, empty route, timeout out of range), -E2BIG (route). */
int sl_api_send_decode(const uint8_t *p, size_t n, struct sl_api_send *s);

struct sl_api_status {
	char name[SL_NODE_NAME_MAX + 1];
	uint16_t tcp_port;
	uint32_t shards;
	uint64_t uptime_ms;
	uint64_t pid;
	struct {
		uint64_t delivered, to_transport, drop_unknown, drop_route, drop_other;
		uint64_t control_requests, sends, replies, timeouts;
		uint64_t frame_timeouts;
	} stats;
};

void sl_api_put_status(struct sl_cbor_writer *w, const struct sl_api_status *s);
int sl_api_status_decode(const uint8_t *p, size_t n, struct sl_api_status *s);

#endif
