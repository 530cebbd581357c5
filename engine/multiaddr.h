/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Multiaddr text of the CLI (PROTOCOL.md 1) <-> routes.
 *
 *   /service/X, /worker/X             0#X
 *   /ip4/A/tcp/P                      1#A:P
 *   /ip6/A/tcp/P                      1#[A]:P
 *   /dnsaddr/H/tcp/P                  1#H:P
 *   /ip4/A/udp/P, /ip6/A/udp/P        2#A:P, 2#[A]:P (UDP, PROTOCOL.md 4)
 *   /node/NAME                        the TCP listener of local node NAME
 *   /secure/NAME                      a secure channel to listener NAME, created
 *                                     at this point of the route
 *   /project/NAME                     the route to a configured relay project
 *
 * Segments concatenate: /node/n1/secure/api/service/echo.
 *
 * Two levels. sl_multiaddr_parse() only reads the text: it returns segments,
 * plain addresses already converted, and NODE / SECURE / PROJECT segments as
 * names for the caller to act on (the node looks names up in its state, the
 * CLI may forward the text to a node). sl_multiaddr_to_route() does the whole
 * job with resolver callbacks.
 *
 * Errors are -EINVAL with a sentence in the caller's err buffer saying what
 * was wrong and what was expected.
 */
#ifndef SL_MULTIADDR_H
#define SL_MULTIADDR_H

#include <stddef.h>
#include <stdint.h>

#include "engine/route.h"

enum sl_ma_kind {
	SL_MA_ADDR,	/* type + body: a plain address */
	SL_MA_NODE,	/* name of a local node */
	SL_MA_SECURE,	/* name of a secure channel listener */
	SL_MA_PROJECT,	/* name of a relay project */
};

struct sl_ma_seg {
	enum sl_ma_kind kind;
	uint8_t type;			/* SL_MA_ADDR: transport type */
	uint8_t len;			/* bytes in text, without the NUL */
	char text[SL_ADDR_BODY_MAX + 1]; /* address body or name, NUL-terminated */
};

/*
 * Parse text into at most max segments; *n = how many. 0, or -EINVAL with a
 * message in err (which may be NULL).
 */
int sl_multiaddr_parse(const char *text, struct sl_ma_seg *segs, size_t max, size_t *n,
		       char *err, size_t errlen);

/*
 * Resolvers return 0 or -errno. node and project APPEND the route they stand
 * for to `route` (e.g. 1#127.0.0.1:PORT). secure receives the route built so
 * far (the way to the listener's node, without the listener) and REPLACES it
 * with the route to the new channel (usually one local encryptor address),
 * so the rest of the multiaddr continues through the channel. A NULL
 * callback makes that kind of segment an error.
 */
struct sl_ma_resolver {
	void *arg;
	int (*node)(void *arg, const char *name, struct sl_route *route);
	int (*secure)(void *arg, const char *name, struct sl_route *route);
	int (*project)(void *arg, const char *name, struct sl_route *route);
};

/* text -> route (initialised first). 0 or -EINVAL / -E2BIG / a resolver's error, with err filled. */
int sl_multiaddr_to_route(const char *text, const struct sl_ma_resolver *res,
			  struct sl_route *route, char *err, size_t errlen);

/*
 * route -> text: 0#X as /service/X, 1#A:P as /ip4, /ip6 or /dnsaddr .../tcp/P,
 * 2#A:P as /ip4 or /ip6 .../udp/P.
 * Length written (or that would have been, like snprintf), or -EINVAL when an
 * address has no multiaddr form (other transport types, bodies with '/' or
 * unprintable bytes, TCP bodies without a port).
 */
int sl_multiaddr_from_route(const struct sl_route *route, char *buf, size_t cap);

#endif /* SL_MULTIADDR_H */
