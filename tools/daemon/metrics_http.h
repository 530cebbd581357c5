/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's HTTP endpoint for monitoring (libmicrohttpd, its own thread):
 *   /metrics  Prometheus text exposition 0.0.4 (metrics_src.h collects it)
 *   /healthz  200 while the process lives
 *   /readyz   200 once shards and listeners are up, 503 while starting or draining
 * GET and HEAD only; anything else 405, other paths 404.
 */
#ifndef SL_METRICS_HTTP_H
#define SL_METRICS_HTTP_H

#include <stdint.h>

struct sl_metrics_src;
struct sl_metrics_http;

/*
 * Cold: listen on "HOST:PORT" (an IP literal; port 0 picks one) and serve
 * src. NULL on failure with errno set (EINVAL: not an address; EADDRINUSE...).
 * *port is the bound port.
 */
struct sl_metrics_http *sl_metrics_http_start(const char *hostport, struct sl_metrics_src *src,
					      uint16_t *port);
/* Cold: stop serving, join the thread, close the socket. NULL is fine. */
void sl_metrics_http_stop(struct sl_metrics_http *h);

#endif
