/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The transport message of the TCP and Unix-socket transports (PROTOCOL.md 3):
 * frame = u32be body length || CBOR [onward_route, return_route, bytes payload,
 * ?text tracing_context]. Body at most SL_FRAME_MAX bytes.
 */
#ifndef SL_WIRE_H
#define SL_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/msg.h"

#define SL_WIRE_VERSION 0x01	/* the byte each side sends first */

/*
 * Prepend the length prefix and the CBOR header (routes and the payload's
 * byte-string header) into m's headroom, in front of m->data, so that
 * [*frame, *frame + *frame_len) is the whole frame, sent without a copy.
 * m->data/len are not changed. The sender has already removed its own hop
 * from the onward route. 0, or -E2BIG (headroom too small for the routes, or
 * body over SL_FRAME_MAX: the caller moves the payload or drops the message).
 */
int sl_wire_frame(struct sl_msg *m, uint8_t **frame, size_t *frame_len);

/*
 * Encode a whole frame (prefix included) into out. For clients that do not
 * hold an sl_msg. 0, -E2BIG (out too small or body over the cap).
 */
int sl_wire_encode(const struct sl_route *onward, const struct sl_route *ret,
		   const uint8_t *payload, size_t len, uint8_t *out, size_t cap,
		   size_t *out_len);

/*
 * Decode in place: m->data/len hold one frame BODY (no length prefix). On
 * success the routes of m are filled and m->data/len narrowed to the payload
 * (no copy). A tracing_context and extra trailing fields are accepted and
 * ignored. 0, or -EBADMSG (malformed, trailing bytes after the message;
 * m unchanged but for its routes), -E2BIG (route too long, an address body
 * over SL_ADDR_BODY_MAX, or a body over SL_FRAME_MAX). The legacy BARE
 * format (before Ockam 0.128) is not accepted: it fails as -EBADMSG.
 */
int sl_wire_decode(struct sl_msg *m);

/* Same, from a plain buffer: payload is a view into body. */
int sl_wire_decode_buf(const uint8_t *body, size_t len, struct sl_route *onward,
		       struct sl_route *ret, const uint8_t **payload, size_t *payload_len);

#endif
