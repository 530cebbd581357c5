// SPDX-License-Identifier: Apache-2.0
/*
 * What is the request/response round trip through a path? A TCP echo server
 * and a client that keeps one fixed-size request in flight (TCP_NODELAY on
 * both ends) and reports p50/p99/p99.9 of the round trips. Self-contained
 * (libc only) so bench/compare.sh can build it with cc even when the rest of
 * the tree does not build.
 *
 *   bench_pingpong server 127.0.0.1:PORT
 *   bench_pingpong client 127.0.0.1:PORT [--count N] [--warmup N] [--size B]
 *                         [--timeout SECONDS] [--json]
 *
 * The client stops at the deadline and reports what it measured
 * ("complete": false, exit status 1) so a stalling path cannot hang the
 * comparison.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXSZ 65536

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int parse_addr(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	size_t n;

	if (!colon || (n = (size_t)(colon - s)) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -EINVAL;
	return 0;
}

static void nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void *echo_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	static __thread uint8_t buf[MAXSZ];
	ssize_t n, off, w;

	nodelay(fd);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (off = 0; off < n; off += w) {
			w = write(fd, buf + off, (size_t)(n - off));
			if (w <= 0)
				goto out;
		}
	}
out:
	close(fd);
	return NULL;
}

static int server(const struct sockaddr_in *sa)
{
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);

	if (lfd < 0)
		return perror("socket"), 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (const struct sockaddr *)sa, sizeof(*sa)) || listen(lfd, 64))
		return perror("bench_pingpong: bind/listen"), 1;
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		pthread_t t;
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return perror("accept"), 1;
		}
		if (pthread_create(&t, NULL, echo_conn, (void *)(intptr_t)fd)) {
			close(fd);
			continue;
		}
		pthread_detach(t);
	}
}

/* Reads exactly len bytes before the deadline: 0, or -1 on EOF/error/timeout. */
static int read_full(int fd, uint8_t *buf, size_t len, uint64_t deadline)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (n == 0 || errno != EAGAIN)
			return -1;
		uint64_t t = now_ns();
		if (t >= deadline)
			return -1;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		poll(&p, 1, (int)((deadline - t) / 1000000 + 1));
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct_us(const uint64_t *v, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);

	return n ? (double)v[i] / 1000.0 : 0.0;
}

static int client(const struct sockaddr_in *sa, long count, long warmup, size_t size,
		  double timeout_s, bool json)
{
	uint64_t *rtt = calloc((size_t)count, sizeof(*rtt));
	uint8_t req[MAXSZ], resp[MAXSZ];
	uint64_t start = now_ns(), deadline = start + (uint64_t)(timeout_s * 1e9);
	long i, done = 0;
	int fd, fl;
	bool complete = true;
	const char *err = NULL;

	if (!rtt)
		return perror("calloc"), 1;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sizeof(*sa)))
		return perror("bench_pingpong: connect"), 1;
	nodelay(fd);
	/* non-blocking reads so the deadline holds even when a path stalls */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK))
		return perror("fcntl"), 1;
	for (i = 0; i < (long)size; i++)
		req[i] = (uint8_t)i;
	for (i = -warmup; i < count; i++) {
		uint64_t t0 = now_ns();

		if (t0 >= deadline) {
			complete = false;
			err = "deadline";
			break;
		}
		req[0] = (uint8_t)i;
		if (write(fd, req, size) != (ssize_t)size) {
			complete = false;
			err = "write";
			break;
		}
		if (read_full(fd, resp, size, deadline)) {
			complete = false;
			err = now_ns() >= deadline ? "deadline" : "read";
			break;
		}
		if (resp[0] != req[0]) {
			complete = false;
			err = "mismatch";
			break;
		}
		if (i >= 0)
			rtt[done++] = now_ns() - t0;
	}
	close(fd);
	qsort(rtt, (size_t)done, sizeof(*rtt), cmp_u64);
	double sum = 0;
	for (i = 0; i < done; i++)
		sum += (double)rtt[i];
	double mean = done ? sum / (double)done / 1000.0 : 0.0;
	double secs = (double)(now_ns() - start) / 1e9;
	if (json) {
		printf("{\"bench\":\"pingpong\",\"size\":%zu,\"count\":%ld,\"complete\":%s,"
		       "\"error\":%s%s%s,\"seconds\":%.3f,\"mean_us\":%.2f,\"p50_us\":%.2f,"
		       "\"p99_us\":%.2f,\"p999_us\":%.2f,\"max_us\":%.2f}\n",
		       size, done, complete ? "true" : "false", err ? "\"" : "",
		       err ? err : "null", err ? "\"" : "", secs, mean,
		       pct_us(rtt, (size_t)done, 0.50), pct_us(rtt, (size_t)done, 0.99),
		       pct_us(rtt, (size_t)done, 0.999),
		       done ? (double)rtt[done - 1] / 1000.0 : 0.0);
	} else {
		printf("%ld round trips of %zu B%s: p50 %.1f us, p99 %.1f us, p99.9 %.1f us, "
		       "mean %.1f us\n", done, size, complete ? "" : " (incomplete)",
		       pct_us(rtt, (size_t)done, 0.50), pct_us(rtt, (size_t)done, 0.99),
		       pct_us(rtt, (size_t)done, 0.999), mean);
	}
	free(rtt);
	return complete ? 0 : 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_pingpong server 127.0.0.1:PORT\n"
		"       bench_pingpong client 127.0.0.1:PORT [--count N] [--warmup N] [--size B]\n"
		"                             [--timeout SECONDS] [--json]\n"
		"A TCP echo server, and a client that keeps one request in flight and prints\n"
		"the round-trip p50/p99/p99.9 (defaults: 20000 round trips of 64 B after 1000\n"
		"warm-up ones, 60 s deadline).\n");
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa;
	long count = 20000, warmup = 1000;
	size_t size = 64;
	double timeout_s = 60;
	bool json = false;
	int i;

	if (argc < 3 || parse_addr(argv[2], &sa)) {
		usage();
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	for (i = 3; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--json")) {
			json = true;
			continue;
		}
		if (!v) {
			usage();
			return 2;
		}
		i++;
		if (!strcmp(a, "--count"))
			count = atol(v);
		else if (!strcmp(a, "--warmup"))
			warmup = atol(v);
		else if (!strcmp(a, "--size"))
			size = (size_t)atol(v);
		else if (!strcmp(a, "--timeout"))
			timeout_s = atof(v);
		else {
			usage();
			return 2;
		}
	}
	if (count < 1 || warmup < 0 || size < 1 || size > MAXSZ || timeout_s <= 0) {
		usage();
		return 2;
	}
	if (!strcmp(argv[1], "server"))
		return server(&sa);
	if (!strcmp(argv[1], "client"))
		return client(&sa, count, warmup, size, timeout_s, json);
	usage();
	return 2;
}
