// SPDX-License-Identifier: Apache-2.0
/*
 * The Unix-socket transport (type 5): the same version byte and framing as
 * TCP over a stream socket. The node listens at its control path (mode 0600)
 * for the CLI; `5#/path` addresses dial other local sockets.
 */
#define SL_URING_INTERNAL
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "engine/log.h"
#include "engine/router.h"
#include "transports/stream.h"

static int uds_addr(const uint8_t *body, size_t len, struct sockaddr_un *sun, socklen_t *sl)
{
	memset(sun, 0, sizeof(*sun));
	if (!len || len >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, body, len);
	*sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	return 0;
}

void sl_uds_send(void *ctx, struct sl_shard *s, struct sl_msg *m)
{
	struct sl_sshard *ss = sl_stream_shard(s);
	struct sockaddr_un sun;
	struct sl_conn *c;
	struct sl_addr a;
	socklen_t sl;

	sl_route_front(&m->onward, &a);
	c = sl_stream_peer(ss, SL_ADDR_UDS, a.body, a.len);
	if (!c) {
		if (uds_addr(a.body, a.len, &sun, &sl)) {
			SL_STAT_INC(s, drop_unknown);
			sl_router_drop(s, m, "uds_address");
			return;
		}
		c = sl_stream_connect(ss, SL_ADDR_UDS, a.body, a.len, (struct sockaddr *)&sun, sl);
		if (!c) {
			NET_STAT_INC(ss, drop_noconn);
			sl_router_drop(s, m, "uds_connect");
			return;
		}
	}
	sl_route_pop_front(&m->onward);
	sl_stream_enqueue(ss, c, m);
}

int sl_net_listen_uds(struct sl_net *t, const char *path)
{
	struct sockaddr_un sun;
	struct stat st;
	socklen_t sl;
	mode_t old;
	int fd, ret;

	ret = uds_addr((const uint8_t *)path, strlen(path), &sun, &sl);
	if (ret)
		return ret;
	/* A stale socket from a crashed run is replaced; any other file is left alone. */
	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/*
	 * The socket file must never exist with a wider mode, not even briefly:
	 * umask before bind (process-wide, so this runs on the control thread
	 * before the shards start), then chmod for certainty.
	 */
	old = umask(0177);
	ret = bind(fd, (struct sockaddr *)&sun, sl);
	umask(old);
	if (ret)
		goto err_close;
	if (chmod(path, 0600) || listen(fd, 128))
		goto err_unlink;
	sl_streams_of(t)->uds_fd = fd;
	snprintf(sl_streams_of(t)->uds_path, sizeof(sl_streams_of(t)->uds_path), "%s", path);
	sl_log(SL_LOG_INFO, "node=%s event=listening transport=uds path=%s",
	       sl_node_name(t->node), path);
	return 0;
err_unlink:
	ret = -errno;
	unlink(path);
	close(fd);
	return ret;
err_close:
	ret = -errno;
	close(fd);
	return ret;
}
