// SPDX-License-Identifier: Apache-2.0
/*
 * `sluice load --tcp HOST:PORT`: TCP connections to an echo server or a
 * portal's inlet (a Sluice tcp-inlet, whose outlet reaches the server), from
 * threads of the harness's own (one per --shards, each with an epoll set and
 * its share of the connections). The bytes are the application's, so there
 * is nothing to carry a sequence number: a connection answers in order, and
 * each reply completes the oldest message in flight on it.
 *
 *   rr     SIZE bytes out, SIZE bytes back (an echo server)
 *   http   "GET / HTTP/1.1" out, one response back (by Content-Length); one
 *          request in flight per connection, as HTTP/1.1 clients do: pipelined
 *          requests meet servers that write each response without TCP_NODELAY,
 *          and then Nagle holds the second for the first's delayed ACK (40 ms)
 *   bulk   bytes out as fast as the socket takes them (or SIZE per
 *          scheduled message with --rate); what comes back is counted
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tools/common/text.h"
#include "tools/load/load.h"

#define RX_CAP (256 * 1024)
#define TX_CAP (256 * 1024)	/* bytes queued on a connection before it takes no more */
#define SEND_BURST 4096

static const char http_req[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: sluice-load\r\n\r\n";

struct tconn {
	int fd;
	bool dead, want_out;
	uint64_t *q;			/* seqs in flight on it, oldest first */
	uint64_t qmask, qhead, qtail;
	uint8_t *tx;			/* bytes the socket did not take yet */
	size_t txlen;
	uint8_t *rx;			/* http: a response in the making */
	size_t rxlen;
	uint64_t rx_in_msg;		/* rr: bytes of the current reply so far */
};

struct tgen {
	struct sl_load_gen *g;
	const struct sl_load_cfg *cfg;
	pthread_t thread;
	int ep;
	struct tconn *c;
	unsigned nc, rr;
	uint8_t *msg;			/* one message's bytes */
	size_t msglen;
	uint64_t start_ns;
};

static void conn_close(struct tgen *t, struct tconn *c, enum sl_load_err kind)
{
	if (c->dead)
		return;
	c->dead = true;
	epoll_ctl(t->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	while (c->qtail < c->qhead)
		sl_load_gen_fail(t->g, c->q[c->qtail++ & c->qmask], kind);
}

static void conn_flush(struct tgen *t, struct tconn *c)
{
	while (c->txlen) {
		ssize_t n = send(c->fd, c->tx, c->txlen, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN)
				break;
			conn_close(t, c, SL_LERR_CLOSED);
			return;
		}
		memmove(c->tx, c->tx + n, c->txlen - (size_t)n);
		c->txlen -= (size_t)n;
	}
	if (!c->dead && (c->txlen != 0) != c->want_out) {
		struct epoll_event ev = { .events = EPOLLIN | (c->txlen ? EPOLLOUT : 0), .data.ptr = c };

		c->want_out = c->txlen != 0;
		epoll_ctl(t->ep, EPOLL_CTL_MOD, c->fd, &ev);
	}
}

/* Queue p on c and write what the socket takes now. */
static void conn_write(struct tgen *t, struct tconn *c, const uint8_t *p, size_t n)
{
	if (!c->txlen) {
		ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);

		if (k < 0 && errno != EAGAIN) {
			conn_close(t, c, SL_LERR_CLOSED);
			return;
		}
		if (k > 0) {
			p += k;
			n -= (size_t)k;
		}
	}
	memcpy(c->tx + c->txlen, p, n);
	c->txlen += n;
	conn_flush(t, c);
}

static void complete(struct tgen *t, struct tconn *c, uint64_t now, uint32_t len)
{
	if (c->qtail < c->qhead)
		sl_load_gen_reply(t->g, c->q[c->qtail++ & c->qmask], now, len);
}

/* http: whole responses in c->rx; each completes the oldest request. */
static void http_parse(struct tgen *t, struct tconn *c, uint64_t now)
{
	for (;;) {
		char *end = memmem(c->rx, c->rxlen, "\r\n\r\n", 4), *cl;
		size_t head, body = 0, total;

		if (!end)
			break;
		head = (size_t)(end - (char *)c->rx) + 4;
		*end = 0;
		cl = strcasestr((char *)c->rx, "\r\ncontent-length:");
		if (cl)
			body = strtoul(cl + 17, NULL, 10);
		*end = '\r';
		total = head + body;
		if (total > RX_CAP) {
			conn_close(t, c, SL_LERR_OTHER);
			return;
		}
		if (c->rxlen < total)
			break;
		complete(t, c, now, (uint32_t)total);
		memmove(c->rx, c->rx + total, c->rxlen - total);
		c->rxlen -= total;
	}
	if (c->rxlen == RX_CAP)
		conn_close(t, c, SL_LERR_OTHER);	/* a head that never ends */
}

static void conn_read(struct tgen *t, struct tconn *c, uint64_t now)
{
	static __thread uint8_t buf[RX_CAP];

	for (;;) {
		uint8_t *dst = t->cfg->http ? c->rx + c->rxlen : buf;
		size_t room = t->cfg->http ? RX_CAP - c->rxlen : sizeof(buf);
		ssize_t n = recv(c->fd, dst, room, 0);

		if (n == 0) {
			conn_close(t, c, SL_LERR_CLOSED);
			return;
		}
		if (n < 0) {
			if (errno != EAGAIN)
				conn_close(t, c, errno == ECONNREFUSED ? SL_LERR_REFUSED : SL_LERR_CLOSED);
			return;
		}
		if (t->cfg->mode == SL_LOAD_BULK) {
			atomic_fetch_add_explicit(&t->g->c.bytes_received, (uint64_t)n, memory_order_relaxed);
		} else if (t->cfg->http) {
			c->rxlen += (size_t)n;
			http_parse(t, c, now);
			if (c->dead)
				return;
		} else {
			/* an echo: every SIZE bytes is one reply */
			c->rx_in_msg += (uint64_t)n;
			while (c->rx_in_msg >= t->cfg->size) {
				c->rx_in_msg -= t->cfg->size;
				complete(t, c, now, t->cfg->size);
			}
		}
		if ((size_t)n < room)
			return;
	}
}

static struct tconn *pick_conn(struct tgen *t)
{
	uint64_t depth = t->cfg->http ? 1 : t->c[0].qmask + 1;

	for (unsigned k = 0; k < t->nc; k++) {
		struct tconn *c = &t->c[t->rr];

		t->rr = t->rr + 1 == t->nc ? 0 : t->rr + 1;
		if (!c->dead && c->qhead - c->qtail < depth && c->txlen + t->msglen <= TX_CAP)
			return c;
	}
	return NULL;
}

/* false when nothing is due, or (*busy) no connection can take a message now */
static bool send_one(struct tgen *t, uint64_t now, bool *busy)
{
	struct tconn *c = pick_conn(t);
	uint64_t seq, intended;

	*busy = !c;
	if (!c || !sl_load_gen_next(t->g, now, &seq, &intended))
		return false;
	if (t->cfg->mode != SL_LOAD_BULK)
		c->q[c->qhead++ & c->qmask] = seq;
	conn_write(t, c, t->msg, t->msglen);
	return true;
}

static void *tgen_main(void *arg)
{
	struct tgen *t = arg;
	struct sl_load_gen *g = t->g;
	struct epoll_event ev[64];

	/* epoll_pwait2 sleeps past its deadline by the timer slack (50 us by default): a send lag. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	sl_load_gen_arm(g, t->start_ns);
	for (;;) {
		uint64_t now = sl_load_now_ns(), wait;
		struct timespec ts;
		unsigned sent = 0;
		bool busy = false;
		int n;

		sl_load_gen_serve_snap(g);
		sl_load_gen_sweep(g, now);
		if (now >= t->start_ns)
			while (sent < SEND_BURST && send_one(t, now, &busy))
				sent++;
		if (now >= t->start_ns && sl_load_gen_idle(g, now))
			break;
		wait = now < t->start_ns ? t->start_ns - now : sent == SEND_BURST ? 0 :
		       sl_load_gen_wait_ns(g, now);
		/* every connection full: a reply (an epoll event) frees one; wake for the sweep */
		if (busy && wait < 10000000)
			wait = 10000000;
		ts.tv_sec = (time_t)(wait / 1000000000ull);
		ts.tv_nsec = (long)(wait % 1000000000ull);
		n = epoll_pwait2(t->ep, ev, 64, &ts, NULL);
		now = sl_load_now_ns();
		for (int i = 0; i < n; i++) {
			struct tconn *c = ev[i].data.ptr;

			if (c->dead)
				continue;
			if (ev[i].events & EPOLLOUT)
				conn_flush(t, c);
			if (!c->dead && (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
				conn_read(t, c, now);
		}
	}
	sl_load_gen_serve_snap(g);
	atomic_store_explicit(&g->drained, true, memory_order_release);
	return NULL;
}

static int fcntl_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) ? -errno : 0;
}

static int dial(const struct addrinfo *ai)
{
	int one = 1, fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen)) {
		int err = -errno;

		close(fd);
		return err;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int sl_load_run_tcp(const struct sl_load_cfg *cfg, const char *hostport, bool progress,
		    struct sl_load_result *r)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai = NULL;
	struct sl_load_gen *g = calloc(cfg->gens, sizeof(*g));
	struct tgen *t = calloc(cfg->gens, sizeof(*t));
	char host[256], portstr[16];
	unsigned port, started = 0;
	uint64_t t0, start;
	int ret = -1, err;

	if (!g || !t) {
		ret = sl_err("out of memory");
		goto out;
	}
	if (sl_hostport_split(hostport, host, sizeof(host), &port) || !port) {
		ret = sl_err("--tcp %s: use HOST:PORT, e.g. 127.0.0.1:6000", hostport);
		goto out;
	}
	snprintf(portstr, sizeof(portstr), "%u", port);
	if ((err = getaddrinfo(host, portstr, &hints, &ai))) {
		ret = sl_err("--tcp %s: %s", hostport, gai_strerror(err));
		goto out;
	}
	t0 = sl_load_now_ns();
	for (unsigned i = 0; i < cfg->gens; i++) {
		struct tgen *x = &t[i];
		unsigned nc = cfg->conns / cfg->gens + (i < cfg->conns % cfg->gens);
		uint64_t win = cfg->concurrency ? cfg->concurrency : cfg->rate > 0 ?
			       (uint64_t)(cfg->rate / cfg->gens) : 4096;
		uint64_t per = 1;

		if (win < 4096)
			win = 4096;
		if (win > (1u << 20))
			win = 1u << 20;
		if (sl_load_gen_init(&g[i], cfg, i, win))
			goto out_nomem;
		/* each connection's queue takes its share of the window, at least 64 */
		while (per < win / nc || per < 64)
			per <<= 1;
		x->g = &g[i];
		x->cfg = cfg;
		x->nc = nc;
		x->c = calloc(nc, sizeof(*x->c));
		x->msglen = cfg->http ? sizeof(http_req) - 1 : cfg->size;
		x->msg = calloc(1, x->msglen);
		x->ep = epoll_create1(EPOLL_CLOEXEC);
		if (!x->c || !x->msg || x->ep < 0)
			goto out_nomem;
		if (cfg->http)
			memcpy(x->msg, http_req, x->msglen);
		for (unsigned k = 0; k < nc; k++) {
			struct tconn *c = &x->c[k];
			struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
			int fd = dial(ai);

			c->q = calloc(per, sizeof(*c->q));
			c->qmask = per - 1;
			c->tx = malloc(TX_CAP + x->msglen);
			c->rx = cfg->http ? malloc(RX_CAP) : NULL;
			if (!c->q || !c->tx || (cfg->http && !c->rx))
				goto out_nomem;
			if (fd < 0) {
				c->dead = true;
				c->fd = -1;
				atomic_fetch_add(&g[i].c.errors[sl_load_err_kind(fd)], 1);
				continue;
			}
			c->fd = fd;
			if (fcntl_nonblock(fd) || epoll_ctl(x->ep, EPOLL_CTL_ADD, fd, &ev)) {
				conn_close(x, c, SL_LERR_OTHER);
				continue;
			}
			r->conns_made++;
		}
	}
	r->setup_s = (double)(sl_load_now_ns() - t0) / 1e9;
	if (!r->conns_made) {
		ret = sl_err("no connection to %s: is something listening there?", hostport);
		goto out;
	}
	start = sl_load_now_ns() + 20000000;
	for (; started < cfg->gens; started++) {
		t[started].start_ns = start;
		if (pthread_create(&t[started].thread, NULL, tgen_main, &t[started])) {
			sl_err("cannot start a generator thread");
			sl_load_stop_all(g, cfg->gens);
			goto out_join;
		}
	}
	r->window_s = sl_load_wait(g, cfg->gens, cfg, start, progress, &r->cpu_s);
	sl_load_stop_all(g, cfg->gens);
	ret = 0;
out_join:
	for (unsigned i = 0; i < started; i++)
		pthread_join(t[i].thread, NULL);
	if (!ret)
		sl_load_merge(r, g, cfg->gens);
	goto out;
out_nomem:
	ret = sl_err("out of memory");
out:
	for (unsigned i = 0; t && g && i < cfg->gens; i++) {
		for (unsigned k = 0; t[i].c && k < t[i].nc; k++) {
			if (!t[i].c[k].dead)
				close(t[i].c[k].fd);
			free(t[i].c[k].q);
			free(t[i].c[k].tx);
			free(t[i].c[k].rx);
		}
		free(t[i].c);
		free(t[i].msg);
		if (t[i].ep > 0)
			close(t[i].ep);
		sl_load_gen_fini(&g[i]);
	}
	if (ai)
		freeaddrinfo(ai);
	free(t);
	free(g);
	return ret;
}
