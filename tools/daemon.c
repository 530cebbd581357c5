// SPDX-License-Identifier: Apache-2.0
/* Node processes (daemon.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/log.h"
#include "tools/control.h"
#include "tools/daemon.h"
#include "tools/nm_portal.h"
#include "tools/nm_secure.h"
#include "tools/node_manager.h"
#include "tools/runtime.h"

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

bool sl_daemon_alive(int64_t pid, uint64_t pid_start)
{
	uint64_t t;

	if (pid <= 0 || pid > INT32_MAX)
		return false;
	t = sl_proc_start_time((pid_t)pid);
	return t && (!pid_start || t == pid_start);
}

int sl_hostport_split(const char *addr, char *host, size_t cap, unsigned *port)
{
	const char *c = strrchr(addr, ':');
	char *end;
	unsigned long p;

	if (!c || c == addr || (size_t)(c - addr) >= cap)
		return -EINVAL;
	p = strtoul(c + 1, &end, 10);
	if (!c[1] || *end || p > 65535)
		return -EINVAL;
	memcpy(host, addr, (size_t)(c - addr));
	host[c - addr] = '\0';
	*port = (unsigned)p;
	return 0;
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

/* Running a node in this process */

struct run_ctx {
	struct sl_state *st;
	const char *name;
	char sock[PATH_MAX];
};

static int run_setup(struct sl_node *n, uint16_t tcp_port, void *arg)
{
	struct run_ctx *ctx = arg;
	pid_t self = getpid();
	int ret;

	if (!sl_node_manager_start(n, ctx->name, tcp_port)) {
		ret = -errno;
		sl_log(SL_LOG_ERROR, "node=%s event=setup_failed what=node_manager err=\"%s\"",
		       ctx->name, strerror(errno));
		return ret;
	}
	ret = sl_state_node_running(ctx->st, ctx->name, self, sl_proc_start_time(self), tcp_port);
	if (ret) {
		sl_log(SL_LOG_ERROR, "node=%s event=setup_failed what=state_store err=\"%s\"",
		       ctx->name, strerror(-ret));
		return ret;
	}
	sl_log(SL_LOG_INFO, "node=%s event=recorded pid=%d tcp_port=%u", ctx->name, (int)self,
	       tcp_port);
	/* Its secure channel listeners come back, then its inlets and outlets. */
	sl_nm_secure_restore(n, ctx->st, ctx->name);
	/* Inlets and outlets it had come back (after the port is recorded: /node/SELF resolves). */
	sl_nm_portal_restore(n, ctx->st, ctx->name);
	return 0;
}

static void run_teardown(struct sl_node *n, void *arg)
{
	struct run_ctx *ctx = arg;

	/* A clean shutdown: "stopped", not "crashed". */
	sl_state_node_stopped(ctx->st, ctx->name, getpid(), true);
	unlink(ctx->sock);
}

int sl_daemon_run(const char *name)
{
	struct run_ctx ctx = { .name = name };
	struct sl_runtime_config cfg = { 0 };
	struct sl_node_rec rec;
	char listen[300], host[272];
	unsigned asked_port;
	bool recorded_port = false;
	int ret;

	ret = sl_state_open(NULL, &ctx.st);
	if (ret)
		return ret;
	ret = sl_state_node_get(ctx.st, name, &rec);
	if (ret) {
		sl_err("unknown node %s: create it with `sluice node create %s`", name, name);
		goto out;
	}
	if (rec.pid && rec.pid != getpid() && sl_daemon_alive(rec.pid, rec.pid_start)) {
		sl_err("node %s is already running (pid %lld): stop it first with `sluice node stop %s`",
		       name, (long long)rec.pid, name);
		ret = -EEXIST;
		goto out;
	}
	ret = sl_state_node_mkdir(name);
	if (!ret)
		ret = sl_state_node_file(name, "control.sock", ctx.sock, sizeof(ctx.sock));
	if (ret) {
		sl_err("cannot prepare the directory of node %s: %s", name, strerror(-ret));
		goto out;
	}
	/* Whatever is there is stale: its node is not alive (checked above). */
	unlink(ctx.sock);
	if (sl_hostport_split(rec.tcp_address, host, sizeof(host), &asked_port)) {
		sl_err("node %s has a malformed tcp listener address '%s': delete and re-create it",
		       name, rec.tcp_address);
		ret = -EINVAL;
		goto out;
	}
	/* A node asked for "any port" comes back on the port it had, if it is free. */
	if (!asked_port && rec.tcp_port) {
		snprintf(listen, sizeof(listen), "%s:%u", host, rec.tcp_port);
		recorded_port = true;
	} else {
		snprintf(listen, sizeof(listen), "%s", rec.tcp_address);
	}
	cfg.name = name;
	cfg.shards = rec.shards;
	cfg.pin_shards = rec.pin_shards;
	cfg.spin_us = rec.spin_us;
	cfg.tcp_listen = listen;
	cfg.control_path = ctx.sock;
	cfg.setup = run_setup;
	cfg.teardown = run_teardown;
	cfg.arg = &ctx;
	ret = sl_runtime_run(&cfg);
	if (ret == -EADDRINUSE && recorded_port) {
		sl_log(SL_LOG_WARN, "node=%s event=port_taken port=%u action=\"pick a free one\"", name,
		       rec.tcp_port);
		cfg.tcp_listen = rec.tcp_address;
		ret = sl_runtime_run(&cfg);
	}
	if (ret) {
		sl_err("node %s failed to start: %s (tcp listener %s)%s", name, strerror(-ret),
		       cfg.tcp_listen, ret == -EADDRINUSE ?
		       ": pick another port with --tcp-listener-address" : "");
		sl_state_node_stopped(ctx.st, name, getpid(), false);
	}
out:
	sl_state_close(ctx.st);
	return ret;
}

/* The daemon */

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

int sl_daemon_spawn(const struct sl_cli *cli, const char *name, pid_t *out)
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
	deadline = now_ms() + SL_DAEMON_READY_MS;
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
			       name, SL_DAEMON_READY_MS / 1000, log);
			return -ETIMEDOUT;
		}
		sleep_ms(20);
	}
	*out = pid;
	return 0;
}

int sl_daemon_stop(const struct sl_cli *cli, struct sl_state *st, const struct sl_node_rec *n)
{
	char sock[PATH_MAX];
	int64_t deadline;
	pid_t pid = (pid_t)n->pid;

	if (n->pid && sl_daemon_alive(n->pid, n->pid_start)) {
		sl_state_node_set_stopped_flag(st, n->name, true);
		sl_verbose(cli, 1, "node %s: SIGTERM to pid %d", n->name, (int)pid);
		kill(pid, SIGTERM);
		deadline = now_ms() + SL_DAEMON_STOP_MS;
		while (sl_daemon_alive(n->pid, n->pid_start) && now_ms() < deadline)
			sleep_ms(20);
		if (sl_daemon_alive(n->pid, n->pid_start)) {
			sl_verbose(cli, 1, "node %s: still alive after %ds, SIGKILL", n->name,
				   SL_DAEMON_STOP_MS / 1000);
			kill(pid, SIGKILL);
			deadline = now_ms() + 5000;
			while (sl_daemon_alive(n->pid, n->pid_start) && now_ms() < deadline)
				sleep_ms(20);
		}
		if (sl_daemon_alive(n->pid, n->pid_start)) {
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
