// SPDX-License-Identifier: Apache-2.0
/*
 * TCP transport under pressure: readers that pause for a full ring or an
 * exhausted pool and lose no frame, a paused connection closed by its peer,
 * and large frames received straight into their messages.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include "engine/shard.h"
#include "engine/wire.h"
#include "tests/unit/tcp_fixture.h"

TestSuite(tcp, .timeout = 30);

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
