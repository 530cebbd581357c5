// SPDX-License-Identifier: Apache-2.0
/* Node processes as both sides see them (node_proc.h). */
#include <fcntl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/common/node_proc.h"
#include "tools/common/text.h"

const char *sl_node_status_name(enum sl_node_status s)
{
	switch (s) {
	case SL_NODE_RUNNING:
		return "running";
	case SL_NODE_CRASHED:
		return "crashed";
	default:
		return "stopped";
	}
}

uint64_t sl_proc_start_time(pid_t pid)
{
	char path[64], buf[1024], *p, *save = NULL, *tok;
	unsigned long long start = 0;
	ssize_t n;
	int fd, i;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: fields start after the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	/* Field 3 is the state, field 22 the start time (proc(5)). */
	for (i = 3, tok = strtok_r(p + 1, " ", &save); tok; i++, tok = strtok_r(NULL, " ", &save)) {
		if (i == 3 && (tok[0] == 'Z' || tok[0] == 'X'))
			return 0;
		if (i == 22) {
			start = strtoull(tok, NULL, 10);
			break;
		}
	}
	return start;
}

bool sl_node_alive(int64_t pid, uint64_t pid_start)
{
	uint64_t t;

	if (pid <= 0 || pid > INT32_MAX)
		return false;
	t = sl_proc_start_time((pid_t)pid);
	return t && (!pid_start || t == pid_start);
}

int sl_node_dial_address(const struct sl_node_rec *n, char *buf, size_t cap)
{
	char host[272];
	unsigned port;

	if (!n->tcp_port || sl_hostport_split(n->tcp_address, host, sizeof(host), &port))
		return -ENOENT;
	/* A wildcard listener is dialled on loopback. */
	if (!strcmp(host, "0.0.0.0"))
		strcpy(host, "127.0.0.1");
	else if (!strcmp(host, "[::]"))
		strcpy(host, "[::1]");
	return (size_t)snprintf(buf, cap, "%s:%u", host, n->tcp_port) >= cap ? -ENAMETOOLONG : 0;
}
