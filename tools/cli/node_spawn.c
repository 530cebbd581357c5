// SPDX-License-Identifier: Apache-2.0
/* Starting and stopping a node's daemon from the CLI (node_spawn.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tools/cli/control.h"
#include "tools/cli/node_spawn.h"
#include "tools/common/node_proc.h"
#include "tools/daemon/daemon.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* The last non-empty line of the log, for a failed start. */
static void log_tail(const char *path, char *out, size_t cap)
{
	char buf[2048], *end, *start;
	ssize_t n;
	off_t size;
	int fd;

	out[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	if (size > (off_t)sizeof(buf) - 1)
		lseek(fd, size - (off_t)sizeof(buf) + 1, SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (end = buf + n; end > buf && (end[-1] == '\n' || end[-1] == '\r'); end--)
		;
	*end = '\0';
	start = strrchr(buf, '\n');
	start = start ? start + 1 : buf;
	n = (ssize_t)strlen(start);
	if ((size_t)n >= cap)
		n = (ssize_t)cap - 1;	/* a long last line is cut: it is only a hint */
	memcpy(out, start, (size_t)n);
	out[n] = '\0';
}

static void __attribute__((noreturn)) daemon_child(const char *name, const char *log)
{
	char home[PATH_MAX];
	int nul, fd;

	/* A relative $SLUICE_HOME must survive the chdir below. */
	if (!sl_state_home(home, sizeof(home)))
		setenv("SLUICE_HOME", home, 1);
	setsid();
	nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (nul < 0 || fd < 0)
		_exit(126);
	/* Nothing of the caller's stays open: a pipe it reads must see EOF when it exits. */
	if (dup2(nul, STDIN_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
		_exit(126);
	close_range(3, ~0u, 0);
	if (chdir("/"))
		_exit(126);
	setvbuf(stdout, NULL, _IOLBF, 0);
	exit(sl_daemon_run(name) ? 1 : 0);
}

int sl_node_spawn(const struct sl_cli *cli, const char *name, pid_t *out)
{
	char log[PATH_MAX], sock[PATH_MAX], last[512];
	int64_t deadline;
	int ret, status;
	pid_t pid;

	ret = sl_state_node_mkdir(name);
	if (!ret)
		ret = sl_state_node_file(name, "node.log", log, sizeof(log));
	if (!ret)
		ret = sl_state_node_file(name, "control.sock", sock, sizeof(sock));
	if (ret) {
		sl_err("cannot prepare the directory of node %s: %s", name, strerror(-ret));
		return ret;
	}
	fflush(NULL);	/* the child must not write our buffered output again */
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		sl_err("cannot start node %s: fork: %s", name, strerror(-ret));
		return ret;
	}
	if (!pid)
		daemon_child(name, log);
	sl_verbose(cli, 1, "node %s: daemon pid %d, waiting for %s", name, (int)pid, sock);
	deadline = now_ms() + SL_NODE_READY_MS;
	for (;;) {
		struct sl_control_reply r;

		if (waitpid(pid, &status, WNOHANG) == pid) {
			log_tail(log, last, sizeof(last));
			/* The daemon's own last word is the best explanation, when it gave one. */
			if (!strncmp(last, "sluice: ", 8))
				sl_err("%s\n  its log: %s", last + 8, log);
			else
				sl_err("node %s failed to start%s%s\n  its log: %s", name,
				       last[0] ? ": " : "", last, log);
			return -ECHILD;
		}
		if (!sl_control_call(sock, "node.status", NULL, 0, 1000, &r)) {
			bool ok = r.resp.status == SL_API_OK;

			sl_control_reply_free(&r);
			if (ok)
				break;
		}
		if (now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			sl_err("node %s did not answer within %ds, so it was killed: see its log %s",
			       name, SL_NODE_READY_MS / 1000, log);
			return -ETIMEDOUT;
		}
		sleep_ms(20);
	}
	*out = pid;
	return 0;
}

int sl_node_terminate(const struct sl_cli *cli, struct sl_state *st, const struct sl_node_rec *n)
{
	char sock[PATH_MAX];
	int64_t deadline;
	pid_t pid = (pid_t)n->pid;

	if (n->pid && sl_node_alive(n->pid, n->pid_start)) {
		sl_state_node_set_stopped_flag(st, n->name, true);
		sl_verbose(cli, 1, "node %s: SIGTERM to pid %d", n->name, (int)pid);
		kill(pid, SIGTERM);
		deadline = now_ms() + SL_NODE_STOP_MS;
		while (sl_node_alive(n->pid, n->pid_start) && now_ms() < deadline)
			sleep_ms(20);
		if (sl_node_alive(n->pid, n->pid_start)) {
			sl_verbose(cli, 1, "node %s: still alive after %ds, SIGKILL", n->name,
				   SL_NODE_STOP_MS / 1000);
			kill(pid, SIGKILL);
			deadline = now_ms() + 5000;
			while (sl_node_alive(n->pid, n->pid_start) && now_ms() < deadline)
				sleep_ms(20);
		}
		if (sl_node_alive(n->pid, n->pid_start)) {
			sl_err("node %s (pid %d) does not die, even after SIGKILL: check `ps %d`",
			       n->name, (int)pid, (int)pid);
			return -EBUSY;
		}
	}
	sl_state_node_stopped(st, n->name, n->pid, true);
	if (!sl_state_node_file(n->name, "control.sock", sock, sizeof(sock)))
		unlink(sock);
	return 0;
}
