/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CLI's control client: one request to a node's node_manager over its
 * Unix socket, one response back (the protocol is in api.h). Every wait is
 * bounded by the caller's timeout.
 */
#ifndef SL_CONTROL_H
#define SL_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "tools/common/api.h"

struct sl_control_reply {
	struct sl_api_response resp;	/* views into buf */
	uint8_t *buf;
};

/*
 * Send method (+ body, one encoded CBOR item, or NULL) to the node whose
 * control socket is at path and wait at most timeout_ms for the response.
 * 0 with *out filled (free with sl_control_reply_free), or:
 *   -ENOENT / -ECONNREFUSED  nothing listens there (the node is not running)
 *   -ETIMEDOUT               no response in time
 *   -ECONNRESET              the node closed the connection before answering
 *   -EPROTO                  the peer did not speak the protocol
 *   other -errno             from the socket calls
 */
int sl_control_call(const char *path, const char *method, const uint8_t *body, size_t body_len,
		    int timeout_ms, struct sl_control_reply *out);
void sl_control_reply_free(struct sl_control_reply *r);

#endif
