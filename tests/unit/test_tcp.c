// SPDX-License-Identifier: Apache-2.0
/*
 * TCP transport: two and three in-process nodes over 127.0.0.1, and raw
 * socket peers that misbehave (under pressure: test_tcp_flow.c).
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
#include "tests/unit/tcp_fixture.h"
#include "transports/uring.h"

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
 * larger than the inline room (small frames merged into one buffer or not),
 * and every reply comes back, in order.
 */
enum { BURST = 2000, BURST_TEXT = 1600 };

struct burst {
	struct probe *from;
	const struct sl_route *to;
	void (*text)(unsigned i, char *text, size_t cap);	/* message i's payload */
};

static void send_burst(struct sl_shard *s, void *arg)
{
	struct burst *b = arg;
	char text[BURST_TEXT];

	for (unsigned i = 0; i < BURST; i++) {
		struct sl_msg *m;

		b->text(i, text, sizeof(text));
		m = msg_bare(b->from, b->to, text);
		cr_assert_not_null(m);
		sl_send(s, m);
	}
}

/* BURST echoes sent in one turn of a's shard, every reply checked in order; st: a's link. */
static void echo_burst(void (*text_of)(unsigned, char *, size_t), struct sl_net_stats *st)
{
	struct tnode a, b;
	struct sl_route r;
	struct burst burst = { &a.probe, &r, text_of };
	char text[BURST_TEXT];

	tnode_up(&a, 1);
	tnode_up(&b, 1);
	cr_assert_eq(route_from(&r, b.addr, "echo", NULL), 0);
	roundtrip(&a, &r, "first", "first");	/* the connection is up */
	cr_assert_eq(call_on_shard(a.n, 0, send_burst, &burst), 0);
	for (unsigned i = 0; i < BURST; i++) {
		struct sl_msg *m = probe_wait(&a.probe, 5000);

		cr_assert_not_null(m, "reply %u of %u missing", i, BURST);
		text_of(i, text, sizeof(text));
		cr_assert_str_eq(msg_text(m), text, "reply %u", i);
		sl_msg_free(m);
	}
	sl_net_stats(a.net, st);
	tnode_down(&a);
	tnode_down(&b);
}

static void short_text(unsigned i, char *text, size_t cap)
{
	snprintf(text, cap, "m%u", i);
}

Test(tcp, a_burst_leaves_in_batches_past_the_inline_iov)
{
	struct sl_net_stats st;

	skip_without_uring();
	echo_burst(short_text, &st);
	cr_assert_gt(st.tx_frames, 8 * st.sendmsg_calls,	/* 8: SL_IOV_INLINE (transports/) */
		     "%lu frames in %lu sendmsgs: no batch outgrew the inline room",
		     (unsigned long)st.tx_frames, (unsigned long)st.sendmsg_calls);
}

/*
 * Small frames queued behind a send are merged into one buffer before the
 * next (transports/sendq.c); a larger frame ends a run. A burst of small
 * echoes with a 1,500-byte one every seventh: every reply comes back whole
 * and in order, and the link counts every frame it sent, merged or not.
 */
static void mixed_text(unsigned i, char *text, size_t cap)
{
	int n = snprintf(text, cap, "m%u-", i);

	if (i % 7 == 3) {
		memset(text + n, 'x', 1500);
		text[n + 1500] = 0;
	}
}

Test(tcp, small_frames_merged_arrive_whole_and_in_order)
{
	struct sl_net_stats st;

	skip_without_uring();
	echo_burst(mixed_text, &st);
	cr_assert_geq(st.tx_frames, BURST + 1, "%lu frames counted for %u sent",
		      (unsigned long)st.tx_frames, BURST + 1);
	cr_assert_gt(st.tx_merged, BURST / 2, "%lu of %u frames merged",
		     (unsigned long)st.tx_merged, BURST);
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
