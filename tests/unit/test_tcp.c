// SPDX-License-Identifier: Apache-2.0
/*
 * TCP transport: two and three in-process nodes over 127.0.0.1, and raw
 * socket peers that misbehave.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/router.h"
#include "engine/shard.h"
#include "engine/wire.h"
#include "tests/unit/sl_test_node.h"
#include "transports/uring.h"

struct tnode {
	struct sl_node *n;
	struct sl_net *net;
	struct probe probe;
	uint16_t port;
	char addr[64];		/* "1#127.0.0.1:PORT" */
};

static void tnode_up(struct tnode *t, unsigned shards)
{
	struct sl_node_config cfg = { .name = "t", .shards = shards, .no_pin = true };

	memset(t, 0, sizeof(*t));
	t->n = sl_node_create(&cfg);
	cr_assert_not_null(t->n);
	t->net = sl_net_create(t->n, NULL);
	cr_assert_not_null(t->net);
	cr_assert_eq(sl_net_listen_tcp(t->net, "127.0.0.1:0", &t->port), 0);
	cr_assert_neq(t->port, 0);
	snprintf(t->addr, sizeof(t->addr), "1#127.0.0.1:%u", t->port);
	cr_assert_eq(sl_services_start(t->n), 0);
	cr_assert_eq(probe_start(&t->probe, t->n, 0, "probe"), 0);
	cr_assert_eq(sl_node_start(t->n), 0);
}

static void tnode_down(struct tnode *t)
{
	sl_node_stop(t->n);
	sl_node_join(t->n);
	probe_drain(&t->probe);
	sl_worker_stop(&t->probe.w);
	sl_net_destroy(t->net);
	sl_node_destroy(t->n);
}

static void skip_without_uring(void)
{
	if (!sl_uring_available())
		cr_skip_test("io_uring is not available here");
}

TestSuite(tcp, .timeout = 30);

static void roundtrip(struct tnode *from, const struct sl_route *r, const char *in, const char *want)
{
	struct sl_msg *m = msg_bare(&from->probe, r, in);

	cr_assert_not_null(m);
	cr_assert_eq(sl_node_inject(from->n, 0, m), 0);
	m = probe_wait(&from->probe, 5000);
	cr_assert_not_null(m, "no reply for %s", in);
	cr_assert_str_eq(msg_text(m), want);
	sl_msg_free(m);
}

Test(tcp, uppercase_round_trip)
{
	struct tnode a, b;
	struct sl_route r;

	skip_without_uring();
	tnode_up(&a, 2);
	tnode_up(&b, 2);
	cr_assert_eq(route_from(&r, b.addr, "uppercase", NULL), 0);
	roundtrip(&a, &r, "hello", "HELLO");
	roundtrip(&a, &r, "again, same connection", "AGAIN, SAME CONNECTION");
	tnode_down(&a);
	tnode_down(&b);
}

/*
 * A link's sendmsg starts with room for SL_IOV_INLINE frames and grows to
 * SL_IOV_MAX once a batch has more: a burst of 2000 echoes, sent in one turn
 * of the shard (so they queue behind the first sendmsg), leaves in batches
 * larger than the inline room, and every reply comes back, in order.
 */
enum { BURST = 2000 };

struct burst {
	struct probe *from;
	const struct sl_route *to;
};

static void send_burst(struct sl_shard *s, void *arg)
{
	struct burst *b = arg;
	char text[16];

	for (unsigned i = 0; i < BURST; i++) {
		struct sl_msg *m;

		snprintf(text, sizeof(text), "m%u", i);
		m = msg_bare(b->from, b->to, text);
		cr_assert_not_null(m);
		sl_send(s, m);
	}
}

Test(tcp, a_burst_leaves_in_batches_past_the_inline_iov)
{
	struct sl_net_stats st;
	struct tnode a, b;
	struct sl_route r;
	struct burst burst = { &a.probe, &r };
	char text[16];

	skip_without_uring();
	tnode_up(&a, 1);
	tnode_up(&b, 1);
	cr_assert_eq(route_from(&r, b.addr, "echo", NULL), 0);
	roundtrip(&a, &r, "first", "first");	/* the connection is up */
	cr_assert_eq(call_on_shard(a.n, 0, send_burst, &burst), 0);
	for (unsigned i = 0; i < BURST; i++) {
		struct sl_msg *m = probe_wait(&a.probe, 5000);

		cr_assert_not_null(m, "reply %u of %u missing", i, BURST);
		snprintf(text, sizeof(text), "m%u", i);
		cr_assert_str_eq(msg_text(m), text);
		sl_msg_free(m);
	}
	sl_net_stats(a.net, &st);
	cr_assert_gt(st.tx_frames, 8 * st.sendmsg_calls,	/* 8: SL_IOV_INLINE (transports/) */
		     "%lu frames in %lu sendmsgs: no batch outgrew the inline room",
		     (unsigned long)st.tx_frames, (unsigned long)st.sendmsg_calls);
	tnode_down(&a);
	tnode_down(&b);
}

Test(tcp, multi_hop_three_nodes)
{
	struct tnode a, b, c;
	struct sl_route r;

	skip_without_uring();
	tnode_up(&a, 1);
	tnode_up(&b, 2);
	tnode_up(&c, 1);
	cr_assert_eq(route_from(&r, b.addr, c.addr, "uppercase", NULL), 0);
	roundtrip(&a, &r, "three nodes", "THREE NODES");
	/* Through b's hop service and echo on c. */
	cr_assert_eq(route_from(&r, b.addr, "hop", c.addr, "echo", NULL), 0);
	roundtrip(&a, &r, "echoed", "echoed");
	tnode_down(&a);
	tnode_down(&b);
	tnode_down(&c);
}

static void tnode_up_port(struct tnode *t, unsigned shards, uint16_t port)
{
	struct sl_node_config cfg = { .name = "t", .shards = shards, .no_pin = true };
	char hp[32];
	uint16_t got = 0;
	int ret;

	memset(t, 0, sizeof(*t));
	t->n = sl_node_create(&cfg);
	t->net = sl_net_create(t->n, NULL);
	snprintf(hp, sizeof(hp), "127.0.0.1:%u", port);
	/*
	 * Tests run in parallel: for a moment the freed port may be the local
	 * port of another test's client socket. Wait for it, within reason.
	 */
	for (int i = 0; i < 300; i++) {
		ret = sl_net_listen_tcp(t->net, hp, &got);
		if (ret != -EADDRINUSE)
			break;
		sleep_ms(10);
	}
	cr_assert_eq(ret, 0, "listen on port %u: %s", port, strerror(-ret));
	cr_assert_eq(got, port);
	t->port = port;
	snprintf(t->addr, sizeof(t->addr), "1#127.0.0.1:%u", port);
	cr_assert_eq(sl_services_start(t->n), 0);
	cr_assert_eq(probe_start(&t->probe, t->n, 0, "probe"), 0);
	cr_assert_eq(sl_node_start(t->n), 0);
}

Test(tcp, reconnects_after_the_connection_breaks)
{
	struct tnode a, b;
	struct sl_net_stats st;
	struct sl_route r;
	struct sl_msg *m = NULL;
	uint16_t port;

	skip_without_uring();
	tnode_up(&a, 1);
	tnode_up(&b, 1);
	port = b.port;
	cr_assert_eq(route_from(&r, b.addr, "uppercase", NULL), 0);
	roundtrip(&a, &r, "before", "BEFORE");
	/* Kill the peer node (its side of the connection goes away) and bring it back. */
	tnode_down(&b);
	tnode_up_port(&b, 1, port);
	/* The first message may meet the dead connection; a later one must reconnect. */
	for (int i = 0; i < 50 && !m; i++) {
		cr_assert_eq(sl_node_inject(a.n, 0, msg_bare(&a.probe, &r, "after")), 0);
		m = probe_wait(&a.probe, 200);
	}
	cr_assert_not_null(m, "no reply after the peer came back");
	cr_assert_str_eq(msg_text(m), "AFTER");
	sl_msg_free(m);
	sl_net_stats(a.net, &st);
	cr_assert_geq(st.conns_connected, 2);
	cr_assert_geq(st.conns_closed, 1);
	tnode_down(&a);
	tnode_down(&b);
}

static int raw_connect(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Read until EOF/reset; true when the peer closed within ms. */
static bool raw_closed_within(int fd, unsigned ms)
{
	uint8_t buf[256];

	for (unsigned waited = 0; waited < ms; waited += 10) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 10) <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			return true;
	}
	return false;
}

static void raw_write(int fd, const void *p, size_t n)
{
	cr_assert_eq(write(fd, p, n), (ssize_t)n);
}

Test(tcp, wrong_version_byte_is_closed)
{
	struct tnode b;
	int fd;

	skip_without_uring();
	tnode_up(&b, 1);
	fd = raw_connect(b.port);
	raw_write(fd, "\x02", 1);
	cr_assert(raw_closed_within(fd, 3000), "connection with version 02 stayed open");
	close(fd);
	tnode_down(&b);
}

Test(tcp, oversized_frame_is_closed)
{
	struct tnode b;
	struct sl_net_stats st;
	int fd;

	skip_without_uring();
	tnode_up(&b, 1);
	fd = raw_connect(b.port);
	/* Version 01, then a length of 16 MiB + 1. */
	raw_write(fd, "\x01\x01\x00\x00\x01", 5);
	cr_assert(raw_closed_within(fd, 3000), "oversized frame did not close");
	close(fd);
	sl_net_stats(b.net, &st);
	cr_assert_geq(st.proto_errors, 1);
	tnode_down(&b);
}

/* Read one whole frame (after the version byte) from a raw socket. */
static size_t raw_read_frame(int fd, uint8_t *buf, size_t cap, unsigned ms)
{
	size_t have = 0, need = 0;

	for (unsigned waited = 0; waited < ms;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 10) <= 0) {
			waited += 10;
			continue;
		}
		n = read(fd, buf + have, cap - have);
		if (n <= 0)
			return 0;
		have += (size_t)n;
		if (have >= 5 && !need)
			need = 5 + ((size_t)buf[1] << 24 | (size_t)buf[2] << 16 | (size_t)buf[3] << 8 | buf[4]);
		if (need && have >= need)
			return need;
	}
	return 0;
}

static void raw_uppercase(uint16_t port, bool byte_by_byte)
{
	struct sl_route on, ret, ron, rret;
	uint8_t frame[256], in[512], body[8];
	const uint8_t *payload;
	size_t flen, plen, n;
	int fd;

	route_from(&on, "uppercase", NULL);
	sl_route_init(&ret);
	n = sl_bare_put_bytes(body, sizeof(body), "split", 5);
	frame[0] = SL_WIRE_VERSION;
	cr_assert_eq(sl_wire_encode(&on, &ret, body, n, frame + 1, sizeof(frame) - 1, &flen), 0);
	fd = raw_connect(port);
	if (byte_by_byte) {
		for (size_t i = 0; i < flen + 1; i++) {
			raw_write(fd, frame + i, 1);
			sleep_ms(1);
		}
	} else {
		raw_write(fd, frame, flen + 1);
	}
	n = raw_read_frame(fd, in, sizeof(in), 3000);
	cr_assert_gt(n, 5, "no reply frame");
	cr_assert_eq(in[0], SL_WIRE_VERSION);
	cr_assert_eq(sl_wire_decode_buf(in + 5, n - 5, &ron, &rret, &payload, &plen), 0);
	cr_assert_eq(plen, 6);
	cr_assert_eq(memcmp(payload, "\x05SPLIT", 6), 0);
	close(fd);
}

Test(tcp, frame_split_into_single_bytes_decodes)
{
	struct tnode b;

	skip_without_uring();
	tnode_up(&b, 1);
	raw_uppercase(b.port, true);
	tnode_down(&b);
}

Test(tcp, silent_and_half_frame_peers_do_not_block_others)
{
	struct tnode a, b;
	struct sl_route r;
	int quiet[6];

	skip_without_uring();
	tnode_up(&a, 1);
	tnode_up(&b, 1);
	/* Peers that say nothing, only the version, or vanish mid-frame. */
	for (int i = 0; i < 6; i++)
		quiet[i] = raw_connect(b.port);
	raw_write(quiet[1], "\x01", 1);
	raw_write(quiet[2], "\x01\x00\x00\x10\x00\x83", 6);
	raw_write(quiet[3], "\x01\x00\x00", 3);
	close(quiet[4]);
	quiet[4] = -1;
	raw_write(quiet[5], "\x01\x00\x00\x00\x40\x83\x81", 7);
	close(quiet[5]);
	quiet[5] = -1;
	cr_assert_eq(route_from(&r, b.addr, "uppercase", NULL), 0);
	for (int i = 0; i < 20; i++)
		roundtrip(&a, &r, "still served", "STILL SERVED");
	raw_uppercase(b.port, false);
	for (int i = 0; i < 6; i++)
		if (quiet[i] >= 0)
			close(quiet[i]);
	tnode_down(&a);
	tnode_down(&b);
}

Test(tcp, heartbeat_is_dropped)
{
	struct tnode b;
	struct sl_route on, ret;
	struct sl_net_stats st;
	uint8_t frame[64];
	size_t flen;
	int fd;

	skip_without_uring();
	tnode_up(&b, 1);
	sl_route_init(&on);
	sl_route_init(&ret);
	frame[0] = SL_WIRE_VERSION;
	cr_assert_eq(sl_wire_encode(&on, &ret, NULL, 0, frame + 1, sizeof(frame) - 1, &flen), 0);
	fd = raw_connect(b.port);
	raw_write(fd, frame, flen + 1);
	for (int i = 0; i < 100; i++) {
		sl_net_stats(b.net, &st);
		if (st.heartbeats)
			break;
		sleep_ms(10);
	}
	cr_assert_eq(st.heartbeats, 1);
	cr_assert_not(raw_closed_within(fd, 100), "a heartbeat must not close the connection");
	close(fd);
	tnode_down(&b);
}

Test(tcp, uds_listener_mode_0600_and_round_trip)
{
	struct tnode a, b;
	struct sl_route r;
	struct stat st;
	char path[64], addr[80];

	skip_without_uring();
	snprintf(path, sizeof(path), "/tmp/sl-test-%d.sock", (int)getpid());
	memset(&b, 0, sizeof(b));
	{
		struct sl_node_config cfg = { .name = "u", .shards = 2, .no_pin = true };

		b.n = sl_node_create(&cfg);
		b.net = sl_net_create(b.n, NULL);
		cr_assert_eq(sl_net_listen_uds(b.net, path), 0);
		cr_assert_eq(sl_services_start(b.n), 0);
		cr_assert_eq(probe_start(&b.probe, b.n, 0, "probe"), 0);
		cr_assert_eq(sl_node_start(b.n), 0);
	}
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "control socket mode %o", st.st_mode & 0777);
	tnode_up(&a, 1);
	snprintf(addr, sizeof(addr), "5#%s", path);
	cr_assert_eq(route_from(&r, addr, "uppercase", NULL), 0);
	roundtrip(&a, &r, "over uds", "OVER UDS");
	tnode_down(&a);
	tnode_down(&b);
	cr_assert_neq(stat(path, &st), 0, "socket file left behind");
}

/* ---- backpressure: a shard whose pool is at its cap pauses readers, loses nothing ---- */

#define BP_CONNS 16
#define BP_FRAMES 48

/* Frame sizes cycle through every pool class (small, mid, big) and the heap. */
static size_t bp_size(unsigned conn, unsigned seq)
{
	static const size_t sizes[] = { 6000, 100, 3000, 20000, 6000, 70000 };

	return sizes[(conn + seq) % (sizeof(sizes) / sizeof(sizes[0]))];
}

static uint8_t bp_byte(unsigned conn, unsigned seq, size_t i)
{
	return (uint8_t)(conn * 31 + seq * 7 + i);
}

struct bp_sender {
	uint16_t port;
	unsigned conn;
	bool close_at_end;
	int fd;
};

/* Frame seq of connection conn (n payload bytes): both numbers first, then a pattern. */
static int seq_frame(unsigned conn, unsigned seq, size_t n, uint8_t *body, uint8_t *frame,
		     size_t cap, size_t *flen)
{
	struct sl_route on, ret;

	route_from(&on, "probe", NULL);
	sl_route_init(&ret);
	memcpy(body, &conn, 4);
	memcpy(body + 4, &seq, 4);
	for (size_t i = 8; i < n; i++)
		body[i] = bp_byte(conn, seq, i);
	return sl_wire_encode(&on, &ret, body, n, frame, cap, flen);
}

/* One connection: the version byte, then every frame in one stream of writes. */
static void *bp_send(void *arg)
{
	struct bp_sender *b = arg;
	size_t cap = 80000, flen;
	uint8_t *frame = malloc(cap), *body = malloc(cap);

	b->fd = raw_connect(b->port);
	if (write(b->fd, "\x01", 1) != 1)
		goto out;
	for (unsigned seq = 0; seq < BP_FRAMES; seq++) {
		size_t off = 0;

		if (seq_frame(b->conn, seq, bp_size(b->conn, seq), body, frame, cap, &flen))
			goto out;
		while (off < flen) {
			ssize_t w = write(b->fd, frame + off, flen - off);

			if (w <= 0)
				goto out;
			off += (size_t)w;
		}
	}
	/* A FIN, not a close: a close with our unread version byte would be a reset. */
	if (b->close_at_end)
		shutdown(b->fd, SHUT_WR);
out:
	free(frame);
	free(body);
	return NULL;
}

/* Check one arrival: the next frame of its connection, whole. Returns the connection. */
static unsigned bp_check(struct sl_msg *m, unsigned *next, unsigned nconns)
{
	unsigned conn, seq;
	size_t n;

	cr_assert_geq(m->len, 8);
	memcpy(&conn, m->data, 4);
	memcpy(&seq, m->data + 4, 4);
	cr_assert_lt(conn, nconns);
	cr_assert_eq(seq, next[conn], "connection %u: frame %u arrived, %u expected (lost, "
		     "repeated or reordered)", conn, seq, next[conn]);
	n = bp_size(conn, seq);
	cr_assert_eq(m->len, n, "connection %u frame %u: %u bytes, %zu sent", conn, seq, m->len, n);
	for (size_t i = 8; i < n; i++)
		if (m->data[i] != bp_byte(conn, seq, i))
			cr_assert_fail("connection %u frame %u differs at byte %zu", conn, seq, i);
	next[conn]++;
	return conn;
}

static struct sl_pool_stats bp_pool;

static void bp_pool_stats(struct sl_shard *s, void *arg)
{
	/* The test thread's frees wait on the stray list until the shard takes them back. */
	sl_shard_reclaim_local(s);
	sl_pool_stats(sl_shard_pool(s), &bp_pool);
}

static void tnode_up_bp(struct tnode *t, unsigned shards, unsigned ring_size, unsigned probe_shard)
{
	/* A tiny pool: a handful of mid and big messages for 16 busy connections. */
	struct sl_node_config cfg = { .name = "bp", .shards = shards, .no_pin = true,
				      .ring_size = ring_size, .pool_small_max = 256,
				      .pool_mid_max = 4, .pool_big_max = 3 };
	/* Few provided buffers, so held ones run the ring dry too (ENOBUFS path). */
	struct sl_net_config ncfg = { .buf_size = 16384, .buf_count = 8 };

	memset(t, 0, sizeof(*t));
	t->n = sl_node_create(&cfg);
	cr_assert_not_null(t->n);
	t->net = sl_net_create(t->n, &ncfg);
	cr_assert_not_null(t->net);
	cr_assert_eq(sl_net_listen_tcp(t->net, "127.0.0.1:0", &t->port), 0);
	cr_assert_eq(probe_start(&t->probe, t->n, probe_shard, "probe"), 0);
	cr_assert_eq(sl_node_start(t->n), 0);
}

static void tnode_up_small_pool(struct tnode *t)
{
	tnode_up_bp(t, 1, 0, 0);
}

/* BP_CONNS senders through b; every frame exactly once, in order per connection. */
static void bp_run(struct tnode *b)
{
	struct bp_sender snd[BP_CONNS];
	pthread_t th[BP_CONNS];
	unsigned next[BP_CONNS] = { 0 }, got = 0;
	struct sl_net_stats st;

	for (unsigned i = 0; i < BP_CONNS; i++) {
		snd[i] = (struct bp_sender){ .port = b->port, .conn = i, .fd = -1 };
		cr_assert_eq(pthread_create(&th[i], NULL, bp_send, &snd[i]), 0);
	}
	/* A slow consumer at first: the probe holds what it got, so the pool runs dry. */
	sleep_ms(300);
	while (got < BP_CONNS * BP_FRAMES) {
		struct sl_msg *m = probe_wait(&b->probe, 5000);

		if (!m) {
			sl_net_stats(b->net, &st);
			cr_assert_fail("stalled after %u of %u frames (paused %lu + %lu, nobufs %lu)",
				       got, BP_CONNS * BP_FRAMES, (unsigned long)st.paused_nomem,
				       (unsigned long)st.paused_ring, (unsigned long)st.nobufs);
		}
		bp_check(m, next, BP_CONNS);
		/* Freed from a thread that is no shard: the stray list, reclaimed by the shard. */
		sl_msg_free(m);
		got++;
	}
	for (unsigned i = 0; i < BP_CONNS; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(next[i], BP_FRAMES);
	}
	cr_assert_null(probe_wait(&b->probe, 100), "a frame arrived twice");
	sl_net_stats(b->net, &st);
	cr_assert_eq(st.rx_frames, BP_CONNS * BP_FRAMES);
	for (unsigned i = 0; i < BP_CONNS; i++)
		close(snd[i].fd);
}

Test(tcp, full_ring_to_another_shard_pauses_readers_and_loses_no_frame)
{
	struct sl_shard_stats ss;
	struct sl_net_stats st;
	struct tnode b;

	skip_without_uring();
	/* Two shards, rings of 8 (7 slots): frames from shard 0 push through one. */
	tnode_up_bp(&b, 2, 8, 1);
	bp_run(&b);
	sl_net_stats(b.net, &st);
	sl_node_stats_total(b.n, &ss);
	cr_assert_eq(ss.drop_ring_full, 0, "a frame was dropped at a full ring");
	cr_assert_gt(ss.ring_full_held, 0, "the ring never filled: the test tests nothing");
	cr_assert_gt(st.paused_ring, 0);
	tnode_down(&b);
}

Test(tcp, exhausted_pool_pauses_readers_and_loses_no_frame)
{
	struct bp_sender snd[BP_CONNS];
	pthread_t th[BP_CONNS];
	unsigned next[BP_CONNS] = { 0 }, got = 0;
	struct sl_net_stats st;
	struct tnode b;

	skip_without_uring();
	tnode_up_small_pool(&b);
	for (unsigned i = 0; i < BP_CONNS; i++) {
		snd[i] = (struct bp_sender){ .port = b.port, .conn = i, .fd = -1 };
		cr_assert_eq(pthread_create(&th[i], NULL, bp_send, &snd[i]), 0);
	}
	/* A slow consumer at first: the probe holds what it got, so the pool runs dry. */
	sleep_ms(300);
	while (got < BP_CONNS * BP_FRAMES) {
		struct sl_msg *m = probe_wait(&b.probe, 5000);

		if (!m) {
			sl_net_stats(b.net, &st);
			call_on_shard(b.n, 0, bp_pool_stats, NULL);
			cr_assert_fail("stalled after %u of %u frames (paused %lu, nobufs %lu, "
				       "mid free %u/%u, big free %u/%u)", got, BP_CONNS * BP_FRAMES,
				       (unsigned long)st.paused_nomem, (unsigned long)st.nobufs,
				       bp_pool.mid_free, bp_pool.mid_total, bp_pool.big_free,
				       bp_pool.big_total);
		}
		bp_check(m, next, BP_CONNS);
		/* Freed from a thread that is no shard: the stray list, reclaimed by the shard. */
		sl_msg_free(m);
		got++;
	}
	for (unsigned i = 0; i < BP_CONNS; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(next[i], BP_FRAMES);
	}
	cr_assert_null(probe_wait(&b.probe, 100), "a frame arrived twice");
	sl_net_stats(b.net, &st);
	cr_assert_eq(st.rx_frames, BP_CONNS * BP_FRAMES);
	cr_assert_gt(st.paused_nomem, 0, "the pool never ran dry: the test tests nothing");
	for (unsigned i = 0; i < BP_CONNS; i++)
		close(snd[i].fd);
	tnode_down(&b);
}


Test(tcp, paused_connection_closed_by_peer_delivers_then_goes)
{
	struct bp_sender snd = { .conn = 0, .close_at_end = true, .fd = -1 };
	unsigned next[1] = { 0 };
	struct sl_net_stats st;
	struct tnode b;
	pthread_t th;

	skip_without_uring();
	tnode_up_small_pool(&b);
	snd.port = b.port;
	cr_assert_eq(pthread_create(&th, NULL, bp_send, &snd), 0);
	pthread_join(th, NULL);
	/* The peer sent everything and closed while we could not take it all. */
	for (int i = 0; i < 200; i++) {
		sl_net_stats(b.net, &st);
		if (st.paused_nomem)
			break;
		sleep_ms(10);
	}
	cr_assert_gt(st.paused_nomem, 0);
	cr_assert_eq(st.conns_closed, 0, "closed before its bytes went through");
	for (unsigned got = 0; got < BP_FRAMES; got++) {
		struct sl_msg *m = probe_wait(&b.probe, 5000);

		cr_assert_not_null(m, "stalled after %u frames", got);
		bp_check(m, next, 1);
		sl_msg_free(m);
	}
	for (int i = 0; i < 200; i++) {
		sl_net_stats(b.net, &st);
		if (st.conns_closed)
			break;
		sleep_ms(10);
	}
	cr_assert_eq(st.conns_closed, 1, "the paused connection was never cleaned up");
	/* Every message came home: nothing leaked on the way. */
	call_on_shard(b.n, 0, bp_pool_stats, NULL);
	cr_assert_eq(bp_pool.mid_free, bp_pool.mid_total);
	cr_assert_eq(bp_pool.big_free, bp_pool.big_total);
	tnode_down(&b);
}

/*
 * Large frames go straight from the socket into their messages (direct
 * receives, guessing the next frame has the same size), small ones through
 * the provided buffers; a peer that mixes them and trickles headers and
 * bodies in pieces gets every frame whole, in order, through all of them.
 */
#define DR_FRAMES 65

static size_t dr_size(unsigned seq)
{
	/* Runs of one size too: a receive then reads the next frame into a message of that size. */
	static const size_t sizes[] = { 100000, 50, 40000, 70000, 17000, 3, 60000, 16384,
					49200, 49200, 49200, 49200, 49200 };

	return sizes[seq % (sizeof(sizes) / sizeof(sizes[0]))];
}

static void *dr_send(void *arg)
{
	struct bp_sender *b = arg;
	size_t cap = 110000, flen;
	uint8_t *frame = malloc(cap), *body = malloc(cap);

	if (write(b->fd, "\x01", 1) != 1)
		goto out;
	for (unsigned seq = 0; seq < DR_FRAMES; seq++) {
		size_t off = 0, step;

		if (seq_frame(b->conn, seq, dr_size(seq), body, frame, cap, &flen))
			goto out;
		/*
		 * Two whole frames back to back (a body and the next header in one
		 * receive); the header byte by byte, then the body in thirds;
		 * 1000-byte pieces.
		 */
		while (off < flen) {
			unsigned mode = seq % 4;

			step = mode < 2 ? flen - off : mode == 2 ? (off < 4 ? 1 : flen / 3 + 1) : 1000;
			if (step > flen - off)
				step = flen - off;
			if (write(b->fd, frame + off, step) != (ssize_t)step)
				goto out;
			off += step;
			if (mode >= 2)
				sleep_ms(1);
		}
	}
out:
	free(frame);
	free(body);
	return NULL;
}

static size_t dr_check(struct sl_msg *m, unsigned seq)
{
	size_t n = dr_size(seq);
	unsigned got;

	cr_assert_eq(m->len, n, "frame %u: %u bytes, %zu sent", seq, m->len, n);
	if (n >= 8) {
		memcpy(&got, m->data + 4, 4);
		cr_assert_eq(got, seq, "frame %u arrived, %u expected", got, seq);
	}
	for (size_t i = 8; i < n; i++)
		if (m->data[i] != bp_byte(0, seq, i))
			cr_assert_fail("frame %u differs at byte %zu", seq, i);
	return n;
}

Test(tcp, large_frames_arrive_whole_through_direct_receives)
{
	struct bp_sender snd = { .conn = 0, .fd = -1 };
	struct sl_net_stats st;
	struct tnode b;
	pthread_t th;

	skip_without_uring();
	tnode_up(&b, 1);
	snd.fd = raw_connect(b.port);
	cr_assert_eq(pthread_create(&th, NULL, dr_send, &snd), 0);
	for (unsigned seq = 0; seq < DR_FRAMES; seq++) {
		struct sl_msg *m = probe_wait(&b.probe, 5000);

		cr_assert_not_null(m, "stalled after %u frames", seq);
		dr_check(m, seq);
		sl_msg_free(m);
	}
	pthread_join(th, NULL);
	cr_assert_null(probe_wait(&b.probe, 100), "a frame arrived twice");
	sl_net_stats(b.net, &st);
	cr_assert_eq(st.rx_frames, DR_FRAMES);
	cr_assert_eq(st.proto_errors, 0);
	cr_assert_gt(st.rx_direct, 0, "no direct receive: the test tests nothing");
	close(snd.fd);
	tnode_down(&b);
}

static void fake_send(void *ctx, struct sl_shard *s, struct sl_msg *m)
{
	(void)ctx;
	(void)s;
	sl_msg_free(m);
}

/*
 * When sl_net_create fails half-way (here: the UDS transport type is
 * taken), the node keeps no pointer into the freed net: no io ops and no
 * TCP transport, so it can be set up again.
 */
Test(tcp, failed_net_create_leaves_the_node_clean)
{
	static const struct sl_transport_ops fake_uds = { .type = SL_ADDR_UDS, .send = fake_send };
	struct sl_node_config cfg = { .name = "f", .shards = 1, .no_pin = true };
	struct sl_node *n;
	struct sl_net *net;

	skip_without_uring();
	n = sl_node_create(&cfg);
	cr_assert_not_null(n);
	cr_assert_eq(sl_node_add_transport(n, &fake_uds, NULL), 0);
	errno = 0;
	cr_assert_null(sl_net_create(n, NULL));
	cr_assert_eq(errno, EEXIST);
	cr_assert_null(n->io_ops, "the node still points at the freed net's io ops");
	cr_assert_null(n->tops[SL_ADDR_TCP], "the node still has the freed net's TCP transport");
	cr_assert_eq(n->tops[SL_ADDR_UDS], &fake_uds);
	/* with the type free again, a net comes up on the same node */
	sl_node_del_transport(n, &fake_uds);
	net = sl_net_create(n, NULL);
	cr_assert_not_null(net);
	sl_net_destroy(net);
	sl_node_destroy(n);
}
