// SPDX-License-Identifier: Apache-2.0
/* The node's /metrics, /healthz and /readyz over HTTP (metrics_http.h). */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "tools/common/metrics.h"
#include "tools/common/text.h"
#include "tools/daemon/metrics_http.h"
#include "tools/daemon/metrics_src.h"

/* A scraper or two and a probe: a small bound keeps a flood from costing threads or memory. */
#define HTTP_CONN_MAX 32
#define HTTP_IDLE_S 10

#define PROM_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct sl_metrics_http {
	struct MHD_Daemon *d;
	struct sl_metrics_src *src;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
			     void *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result text(struct MHD_Connection *conn, unsigned status, const char *s)
{
	return reply(conn, status, "text/plain; charset=utf-8", (void *)s, strlen(s),
		     MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result serve_metrics(struct sl_metrics_http *h, struct MHD_Connection *conn)
{
	struct sl_metrics m = { 0 };
	size_t len = 0;
	char *body = NULL;

	if (!sl_metrics_collect(h->src, &m))
		body = sl_metrics_prometheus(&m, &len);
	sl_metrics_free(&m);
	if (!body)
		return text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory\n");
	return reply(conn, MHD_HTTP_OK, PROM_TYPE, body, len, MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_len, void **state)
{
	struct sl_metrics_http *h = cls;

	(void)version;
	(void)upload;
	/* The first call per request only sees the headers: answer on the second. */
	if (!*state) {
		*state = h;
		return MHD_YES;
	}
	if (*upload_len) {
		*upload_len = 0;	/* a body is ignored */
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
	if (!strcmp(url, "/metrics"))
		return serve_metrics(h, conn);
	if (!strcmp(url, "/healthz"))
		return text(conn, MHD_HTTP_OK, "ok\n");
	if (!strcmp(url, "/readyz"))
		return sl_metrics_src_is_ready(h->src) ?
			       text(conn, MHD_HTTP_OK, "ready\n") :
			       text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready\n");
	return text(conn, MHD_HTTP_NOT_FOUND, "not found: try /metrics, /healthz or /readyz\n");
}

/* Bound and listening here, so a taken port is a clear error, not a NULL from MHD. */
static int listen_on(const char *hostport, uint16_t *port)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM };
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct addrinfo *ai;
	char host[272], serv[8];
	unsigned p;
	size_t hl;
	int fd, one = 1, err;

	if (sl_hostport_split(hostport, host, sizeof(host), &p) || p > 65535)
		return -EINVAL;
	hl = strlen(host);
	if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	} else if (!strcmp(host, "localhost")) {
		strcpy(host, "127.0.0.1");
	}
	snprintf(serv, sizeof(serv), "%u", p);
	if (getaddrinfo(host, serv, &hints, &ai))
		return -EINVAL;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		freeaddrinfo(ai);
		return err;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64) ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl)) {
		err = -errno;
		freeaddrinfo(ai);
		close(fd);
		return err;
	}
	freeaddrinfo(ai);
	*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
			  ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

struct sl_metrics_http *sl_metrics_http_start(const char *hostport, struct sl_metrics_src *src,
					      uint16_t *port)
{
	struct sl_metrics_http *h = calloc(1, sizeof(*h));
	int fd;

	if (!h)
		return NULL;
	fd = listen_on(hostport, port);
	if (fd < 0) {
		free(h);
		errno = -fd;
		return NULL;
	}
	h->src = src;
	h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC, 0, NULL, NULL,
				handle, h, MHD_OPTION_LISTEN_SOCKET, fd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONN_MAX,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_S,
				MHD_OPTION_END);
	if (!h->d) {
		close(fd);
		free(h);
		errno = ENOMEM;
		return NULL;
	}
	return h;
}

void sl_metrics_http_stop(struct sl_metrics_http *h)
{
	if (!h)
		return;
	/* Quiesced, MHD gives the socket back and leaves it open: it is ours to close. */
	MHD_socket fd = MHD_quiesce_daemon(h->d);

	MHD_stop_daemon(h->d);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	free(h);
}
