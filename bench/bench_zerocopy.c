// SPDX-License-Identifier: Apache-2.0
/*
 * bench_zerocopy: what MSG_ZEROCOPY (the kernel path under io_uring's
 * SEND_ZC) saves on loopback TCP for 64 KiB sends, before Sluice's send
 * queue is taught to use it. One process, a writer and a reader thread on
 * 127.0.0.1; plain send and MSG_ZEROCOPY alternated; CPU seconds (both
 * threads, user + system) per GB and Gbit/s, medians.
 *
 * Usage: bench_zerocopy [GB per run (4)] [runs of each (8)]
 */
#include <errno.h>
#include <time.h>	/* before errqueue.h, which uses struct timespec */
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/clock.h"

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif
#define CHUNK 65536
#define INFLIGHT 64	/* zero-copy buffers the kernel may hold at once */
#define MAX_RUNS 64

static void *reader(void *arg)
{
	int fd = accept(*(int *)arg, NULL, NULL);
	char *b = malloc(1 << 18);

	while (fd >= 0 && b && read(fd, b, 1 << 18) > 0)
		;
	free(b);
	if (fd >= 0)
		close(fd);
	return NULL;
}

static double cpu(void)
{
	struct rusage r;

	getrusage(RUSAGE_SELF, &r);
	return (double)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
	       (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

/* Completions so far: the highest send number the kernel gave back, plus one. */
static void reap(int fd, unsigned long *done)
{
	char cbuf[128];
	struct msghdr m = { .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };

	while (recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) >= 0) {
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		struct sock_extended_err e;

		if (c) {
			memcpy(&e, CMSG_DATA(c), sizeof(e));
			if (e.ee_origin == SO_EE_ORIGIN_ZEROCOPY && e.ee_data + 1ul > *done)
				*done = e.ee_data + 1ul;
		}
		m.msg_controllen = sizeof(cbuf);
	}
}

static int run(bool zc, double gb, double *gbit, double *cpu_per_gb)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	unsigned long n = (unsigned long)(gb * 1e9 / CHUNK), sent = 0, done = 0;
	char *buf = aligned_alloc(4096, (size_t)CHUNK * INFLIGHT);
	socklen_t sl = sizeof(sa);
	int one = 1, lfd, fd;
	double t0, c0, bytes = (double)n * CHUNK;
	pthread_t th;

	if (!buf)
		return -1;
	memset(buf, 7, (size_t)CHUNK * INFLIGHT);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (void *)&sa, sizeof(sa)) || listen(lfd, 1) ||
	    getsockname(lfd, (void *)&sa, &sl) || pthread_create(&th, NULL, reader, &lfd))
		return -1;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || (zc && setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one))) ||
	    connect(fd, (void *)&sa, sizeof(sa)))
		return -1;
	t0 = (double)sl_clock_mono_ns() / 1e9;
	c0 = cpu();
	for (unsigned long i = 0; i < n; i++) {
		char *p = buf + (i % INFLIGHT) * CHUNK;
		size_t off = 0;

		/* A buffer is written again only once the kernel gave it back. */
		while (zc && sent - done >= INFLIGHT) {
			reap(fd, &done);
			if (sent - done >= INFLIGHT)
				usleep(10);
		}
		while (off < CHUNK) {
			ssize_t w = send(fd, p + off, CHUNK - off, zc ? MSG_ZEROCOPY : 0);

			if (w < 0 && errno == ENOBUFS) {
				reap(fd, &done);
				continue;
			}
			if (w < 0)
				return -1;
			off += (size_t)w;
			sent += zc;
		}
	}
	shutdown(fd, SHUT_WR);
	pthread_join(th, NULL);
	*gbit = bytes * 8 / 1e9 / ((double)sl_clock_mono_ns() / 1e9 - t0);
	*cpu_per_gb = (cpu() - c0) / (bytes / 1e9);
	close(fd);
	close(lfd);
	free(buf);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	double gb = argc > 1 ? atof(argv[1]) : 4, g[2][MAX_RUNS], c[2][MAX_RUNS];
	int runs = argc > 2 ? atoi(argv[2]) : 8;

	if (gb <= 0 || runs < 1 || runs > MAX_RUNS) {
		fprintf(stderr, "usage: bench_zerocopy [GB per run (4)] [runs of each, 1-%d (8)]\n",
			MAX_RUNS);
		return 2;
	}
	for (int i = 0; i < runs; i++)
		for (int zc = 0; zc < 2; zc++)
			if (run(zc, gb, &g[zc][i], &c[zc][i])) {
				perror("bench_zerocopy");
				return 1;
			}
	for (int zc = 0; zc < 2; zc++)
		printf("%-13s %5.1f Gbit/s, %.3f CPU-s per GB (medians of %d runs of %.1f GB)\n",
		       zc ? "MSG_ZEROCOPY" : "plain send", median(g[zc], runs), median(c[zc], runs),
		       runs, gb);
	return 0;
}
