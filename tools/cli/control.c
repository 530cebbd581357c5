// SPDX-License-Identifier: Apache-2.0
/* The control client (control.h): blocking I/O, every wait bounded by poll. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "engine/wire.h"
#include "tools/cli/control.h"
#include "tools/common/text.h"

/* Room for the frame's head (length, routes, byte-string header) around the payload. */
#define FRAME_OVERHEAD 2048

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until deadline (ms, monotonic). 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int64_t left = deadline - now_ms();
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)left);
		if (r > 0)
			return 0;
		if (!r)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static int write_all(int fd, const uint8_t *p, size_t n, int64_t deadline)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		int ret;

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		ret = wait_fd(fd, POLLOUT, deadline);
		if (ret)
			return ret;
	}
	return 0;
}

static int read_all(int fd, uint8_t *p, size_t n, int64_t deadline)
{
	while (n) {
		ssize_t r = recv(fd, p, n, 0);
		int ret;

		if (r > 0) {
			p += r;
			n -= (size_t)r;
			continue;
		}
		if (!r)
			return -ECONNRESET;	/* the node closed the connection mid-exchange */
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		ret = wait_fd(fd, POLLIN, deadline);
		if (ret)
			return ret;
	}
	return 0;
}

static int connect_unix(const char *path, int64_t deadline, int *out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd, ret, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (errno != EINPROGRESS && errno != EAGAIN) {
			ret = -errno;
			goto err_close;
		}
		ret = wait_fd(fd, POLLOUT, deadline);
		if (ret)
			goto err_close;
		len = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
			ret = err ? -err : -errno;
			goto err_close;
		}
	}
	*out = fd;
	return 0;
err_close:
	close(fd);
	return ret;
}

/* Frame the request: payload = Request, onward [0#node_manager], return [0#me]. */
static int build_frame(const char *method, const uint8_t *body, size_t body_len,
		       const char *me, uint8_t **frame, size_t *frame_len)
{
	struct sl_route onward, ret;
	struct sl_cbor_writer w;
	size_t cap = body_len + SL_API_METHOD_MAX + 16, plen;
	uint8_t *payload = malloc(cap), *out;
	int err;

	if (!payload)
		return -ENOMEM;
	sl_cbor_writer_init(&w, payload, cap);
	sl_api_put_request(&w, method, body != NULL);
	if (body)
		sl_cbor_put_raw(&w, body, body_len);
	err = sl_cbor_writer_finish(&w, &plen);
	if (err)
		goto out_free;
	sl_route_init(&onward);
	sl_route_init(&ret);
	sl_route_push_back(&onward, SL_ADDR_LOCAL, SL_NODE_MANAGER, strlen(SL_NODE_MANAGER));
	sl_route_push_back(&ret, SL_ADDR_LOCAL, me, strlen(me));
	out = malloc(plen + FRAME_OVERHEAD);
	if (!out) {
		err = -ENOMEM;
		goto out_free;
	}
	err = sl_wire_encode(&onward, &ret, payload, plen, out, plen + FRAME_OVERHEAD, frame_len);
	if (err)
		free(out);
	else
		*frame = out;
out_free:
	free(payload);
	return err;
}

/*
 * Read frames until one addressed to `me` arrives (heartbeats and strays are
 * skipped); *body is the malloc'd frame body, payload a view into it.
 */
static int read_response(int fd, const char *me, int64_t deadline, uint8_t **body,
			 const uint8_t **payload, size_t *payload_len)
{
	struct sl_route onward, ret;
	struct sl_addr front;
	uint8_t hdr[4];
	uint32_t len;
	uint8_t *b;
	int err;

	for (;;) {
		err = read_all(fd, hdr, 4, deadline);
		if (err)
			return err;
		len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
		if (len > SL_FRAME_MAX)
			return -EPROTO;
		b = malloc(len ? len : 1);
		if (!b)
			return -ENOMEM;
		err = read_all(fd, b, len, deadline);
		if (!err && sl_wire_decode_buf(b, len, &onward, &ret, payload, payload_len))
			err = -EPROTO;
		if (err) {
			free(b);
			return err;
		}
		if (sl_route_front(&onward, &front) && sl_addr_is_local(&front, me)) {
			*body = b;
			return 0;
		}
		free(b);
	}
}

int sl_control_call(const char *path, const char *method, const uint8_t *body, size_t body_len,
		    int timeout_ms, struct sl_control_reply *out)
{
	int64_t deadline = now_ms() + timeout_ms;
	uint8_t rnd[SL_RANDOM_ADDR_LEN / 2], version, *frame = NULL, *resp_body = NULL;
	char me[SL_RANDOM_ADDR_LEN + 1];
	const uint8_t *payload;
	size_t frame_len, payload_len;
	int fd = -1, err;

	memset(out, 0, sizeof(*out));
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -EIO;
	sl_hex_encode(rnd, sizeof(rnd), me);
	err = build_frame(method, body, body_len, me, &frame, &frame_len);
	if (err)
		return err;
	err = connect_unix(path, deadline, &fd);
	if (err)
		goto out_free;
	/* Both sides send the version byte first (PROTOCOL.md 3). */
	version = SL_WIRE_VERSION;
	err = write_all(fd, &version, 1, deadline);
	if (!err)
		err = write_all(fd, frame, frame_len, deadline);
	if (!err)
		err = read_all(fd, &version, 1, deadline);
	if (!err && version != SL_WIRE_VERSION)
		err = -EPROTO;
	if (!err)
		err = read_response(fd, me, deadline, &resp_body, &payload, &payload_len);
	if (!err && sl_api_response_decode(payload, payload_len, &out->resp))
		err = -EPROTO;
	if (!err)
		out->buf = resp_body;
	else
		free(resp_body);
	close(fd);
out_free:
	free(frame);
	return err;
}

void sl_control_reply_free(struct sl_control_reply *r)
{
	free(r->buf);
	r->buf = NULL;
}
