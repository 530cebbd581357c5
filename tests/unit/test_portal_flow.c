// SPDX-License-Identifier: Apache-2.0
/*
 * Portal flow control below the integration suite: the engine's portal code
 * (engine/portal_conn.c) on an in-process node with one shard, its sockets a
 * fake ops table that records what the engine asks of them, its peer a
 * probe worker that plays the other end's connection worker. Every step
 * runs on the shard's thread (call_on_shard), so what the engine did is
 * done when the step returns, and the counts asserted are exact.
 *
 * Cases: a sender stops at the peer's window and resumes on credit (outlet
 * and inlet side; stale and impossible credits change nothing); credit is
 * granted a quarter window at a time; half close in either order, with data
 * still flowing the other way; a lost chunk closes; an Ockam peer (no
 * extension) is never paused, and its queue is capped.
 */
#include <criterion/criterion.h>
#include <errno.h>

#include "engine/portal.h"
#include "engine/router.h"
#include "tests/unit/sl_test_node.h"

TestSuite(portal_flow, .timeout = 30);

/* ---- the fake socket side ---- */

struct fsock {
	struct sl_portal_conn *pc;
	bool reading;
	unsigned read_on, read_off;	/* read(k, true / false) calls */
	unsigned writes;		/* write() calls */
	uint64_t bytes;			/* bytes handed to write() */
	unsigned shut_wr;		/* shutdown_write() calls */
	unsigned closes;
	bool abort;			/* close(k, abort) */
	unsigned read_repeats;		/* read(on) while already on (or off twice) */
};

#define FSOCKS 8

static struct fake {
	struct fsock socks[FSOCKS];
	unsigned nsocks;
	char target[64];		/* connect's hostport */
	struct sl_portal_inlet *in;	/* listen's inlet */
	void (*done)(struct sl_portal_inlet *in);
} F;

static struct fsock *fsock_new(struct sl_portal_conn *pc)
{
	struct fsock *k;

	cr_assert_lt(F.nsocks, FSOCKS);
	k = &F.socks[F.nsocks++];
	memset(k, 0, sizeof(*k));
	k->pc = pc;
	return k;
}

static struct sl_portal_sock *f_connect(void *ctx, struct sl_shard *s, struct sl_portal_conn *pc,
					const char *hostport, int *err)
{
	(void)ctx;
	(void)s;
	(void)err;
	snprintf(F.target, sizeof(F.target), "%s", hostport);
	return (struct sl_portal_sock *)fsock_new(pc);
}

static void f_write(struct sl_portal_sock *k, struct sl_msg *m)
{
	struct fsock *f = (struct fsock *)k;

	f->writes++;
	f->bytes += m->len;
	sl_msg_free(m);		/* ours now: "written" when the test says so */
}

static void f_read(struct sl_portal_sock *k, bool on)
{
	struct fsock *f = (struct fsock *)k;

	if (f->reading == on)
		f->read_repeats++;	/* asserted on the test thread */
	f->reading = on;
	if (on)
		f->read_on++;
	else
		f->read_off++;
}

static void f_shutdown_write(struct sl_portal_sock *k)
{
	((struct fsock *)k)->shut_wr++;
}

static void f_close(struct sl_portal_sock *k, bool abort)
{
	struct fsock *f = (struct fsock *)k;

	f->closes++;
	f->abort = abort;
}

static int f_listen(void *ctx, struct sl_portal_inlet *in, const char *hostport, uint16_t *port,
		    void (*done)(struct sl_portal_inlet *in))
{
	(void)ctx;
	(void)hostport;
	F.in = in;
	F.done = done;
	*port = 4242;
	return 0;
}

static void f_unlisten(void *ctx, struct sl_portal_inlet *in)
{
	(void)ctx;
	F.done(in);
	F.in = NULL;
}

static const struct sl_portal_sock_ops fake_ops = {
	.connect = f_connect,
	.write = f_write,
	.read = f_read,
	.shutdown_write = f_shutdown_write,
	.close = f_close,
	.listen = f_listen,
	.unlisten = f_unlisten,
};

/* ---- the node, the peer and the steps ---- */

static struct sl_node *N;
static struct sl_portals *P;
static struct probe peer;		/* the other end's connection worker */
static struct sl_route to_conn;		/* the peer's way to our connection worker */

static void up(void)
{
	struct sl_node_config cfg = { .name = "flow", .shards = 1, .no_pin = true };

	memset(&F, 0, sizeof(F));
	N = sl_node_create(&cfg);
	cr_assert_not_null(N);
	P = sl_portals_create(N, &fake_ops, NULL);
	cr_assert_not_null(P);
	cr_assert_eq(sl_portals_get(N), P);
	cr_assert_eq(probe_start(&peer, N, 0, NULL), 0);
	cr_assert_eq(sl_node_start(N), 0);
}

static void down(void)
{
	for (unsigned i = 0; i < F.nsocks; i++)
		cr_assert_eq(F.socks[i].read_repeats, 0, "socket %u: read() asked twice alike", i);
	sl_node_stop(N);
	sl_node_join(N);
	if (F.in)
		F.done(F.in);	/* what the shards' stop does for a listening inlet */
	sl_portals_destroy(P);
	cr_assert_null(sl_portals_get(N), "the node's slot is cleared");
	/* After the portals went: their worker-stop hook runs here and must find none. */
	probe_drain(&peer);
	sl_worker_stop(&peer.w);
	sl_node_destroy(N);
}

/* What a step runs on the shard: one of the cases below, with its argument. */
struct step {
	enum { ST_DATA, ST_EOF, ST_WRITTEN, ST_CONNECT, ST_ACCEPT, ST_PEER } op;
	struct sl_portal_conn *pc;
	size_t n;			/* ST_DATA: chunk size; ST_WRITTEN: bytes */
	/* ST_PEER: a message from the peer */
	struct sl_route onward;
	uint8_t kind;
	bool ext;
	uint32_t window;
	uint64_t credit;
	uint16_t counter;
	bool has_counter;
	struct sl_portal_conn *accepted;	/* ST_ACCEPT's result */
	struct fsock *k;			/* ST_ACCEPT's socket */
};

static void peer_send_on(struct sl_shard *s, struct step *st)
{
	struct sl_msg *m = sl_msg_alloc(st->n + 16);

	cr_assert_not_null(m);
	if (st->kind == SL_PORTAL_PAYLOAD) {
		memset(m->data, 'p', st->n);
		m->len = (uint32_t)st->n;
		cr_assert_eq(sl_portal_payload_wrap(m, st->has_counter, st->counter), 0);
	} else {
		m->len = (uint32_t)sl_portal_msg_encode(m->data, 16, st->kind, st->ext, st->window,
							st->credit);
		cr_assert_gt(m->len, 0);
	}
	sl_route_copy(&m->onward, &st->onward);
	sl_route_push_front(&m->ret, SL_ADDR_LOCAL, peer.w.addr, peer.w.addr_len);
	sl_send(s, m);
}

static void step_on(struct sl_shard *s, void *arg)
{
	struct step *st = arg;
	struct sl_msg *m;

	switch (st->op) {
	case ST_DATA:
		m = sl_msg_alloc(st->n + 16);
		cr_assert_not_null(m);
		memset(m->data, 'd', st->n);
		m->len = (uint32_t)st->n;
		sl_portal_on_data(st->pc, m);
		break;
	case ST_EOF:
		sl_portal_on_eof(st->pc);
		break;
	case ST_WRITTEN:
		sl_portal_on_written(st->pc, st->n);
		break;
	case ST_CONNECT:
		sl_portal_on_connect(st->pc, 0);
		break;
	case ST_ACCEPT:
		st->k = fsock_new(NULL);
		st->accepted = sl_portal_on_accept(F.in, s, (struct sl_portal_sock *)st->k);
		st->k->pc = st->accepted;
		break;
	case ST_PEER:
		peer_send_on(s, st);
		break;
	}
}

static void run(struct step *st)
{
	cr_assert_eq(call_on_shard(N, 0, step_on, st), 0);
}

static void data(struct sl_portal_conn *pc, size_t n)
{
	struct step st = { .op = ST_DATA, .pc = pc, .n = n };

	run(&st);
}

static void written(struct sl_portal_conn *pc, size_t n)
{
	struct step st = { .op = ST_WRITTEN, .pc = pc, .n = n };

	run(&st);
}

static void our_eof(struct sl_portal_conn *pc)
{
	struct step st = { .op = ST_EOF, .pc = pc };

	run(&st);
}

/* The peer sends a message without payload bytes along `onward`. */
static void peer_ctl_to(const struct sl_route *onward, enum sl_portal_kind kind, bool ext,
			uint32_t window, uint64_t credit)
{
	struct step st = { .op = ST_PEER, .kind = (uint8_t)kind, .ext = ext, .window = window,
			   .credit = credit };

	sl_route_copy(&st.onward, onward);
	run(&st);
}

static void peer_ctl(enum sl_portal_kind kind, uint64_t credit)
{
	peer_ctl_to(&to_conn, kind, false, 0, credit);
}

static void peer_payload(size_t n, bool has_counter, uint16_t counter)
{
	struct step st = { .op = ST_PEER, .kind = SL_PORTAL_PAYLOAD, .n = n,
			   .has_counter = has_counter, .counter = counter };

	sl_route_copy(&st.onward, &to_conn);
	run(&st);
}

/* The next message the peer got, decoded into *pm (its bytes stay valid until freed). */
static struct sl_msg *peer_next(struct sl_portal_msg *pm)
{
	struct sl_msg *m = probe_wait(&peer, 0);

	cr_assert_not_null(m, "the peer got no message");
	cr_assert_eq(sl_portal_msg_decode(m->data, m->len, pm), 0);
	return m;
}

static void peer_expect(enum sl_portal_kind kind)
{
	struct sl_portal_msg pm;

	sl_msg_free(peer_next(&pm));
	cr_assert_eq(pm.kind, kind, "got kind %u, wanted %u", pm.kind, kind);
}

static void peer_expect_none(void)
{
	struct sl_msg *m = probe_wait(&peer, 0);

	cr_assert_null(m, "the peer got %u bytes it should not have", m ? m->len : 0);
}

/* `count` Payloads of n bytes each, counters from `first` (none when !ext). */
static void peer_expect_payloads(unsigned count, size_t n, bool ext, uint16_t first)
{
	for (unsigned i = 0; i < count; i++) {
		struct sl_portal_msg pm;
		struct sl_msg *m = peer_next(&pm);

		cr_assert_eq(pm.kind, SL_PORTAL_PAYLOAD, "message %u", i);
		cr_assert_eq(pm.len, n, "message %u", i);
		cr_assert_eq(pm.has_counter, ext, "message %u", i);
		if (ext)
			cr_assert_eq(pm.counter, (uint16_t)(first + i), "message %u", i);
		sl_msg_free(m);
	}
}

/*
 * An outlet "out" and a Ping to it from the peer offering `window` (ext) or
 * Ockam's plain Ping; the connect succeeds. The open connection's socket.
 */
static struct fsock *open_outlet(bool ext, uint32_t window)
{
	struct sl_portal_msg pm;
	struct sl_route to_out;
	struct step st = { .op = ST_CONNECT };
	struct fsock *k;
	struct sl_msg *m;

	cr_assert_eq(sl_portal_outlet_create(P, "out", "127.0.0.1:9"), 0);
	cr_assert_eq(route_from(&to_out, "0#out", NULL), 0);
	peer_ctl_to(&to_out, SL_PORTAL_PING, ext, window, 0);
	cr_assert_eq(F.nsocks, 1, "one connect per Ping");
	cr_assert_str_eq(F.target, "127.0.0.1:9");
	k = &F.socks[0];
	cr_assert_eq(k->read_on, 0, "no reading before the connect");
	peer_expect_none();	/* no Pong before the connect */
	st.pc = k->pc;
	run(&st);
	m = peer_next(&pm);
	cr_assert_eq(pm.kind, SL_PORTAL_PONG);
	cr_assert_eq(pm.ext, ext, "the Pong answers the extension only when offered");
	if (ext)
		cr_assert_eq(pm.window, SL_PORTAL_WINDOW);
	sl_route_copy(&to_conn, &m->ret);
	sl_msg_free(m);
	cr_assert_eq(k->read_on, 1);
	cr_assert(k->reading);
	return k;
}

/* ---- the cases ---- */

Test(portal_flow, sender_stops_at_window_and_resumes_on_credit)
{
	struct fsock *k;

	up();
	k = open_outlet(true, 4000);
	for (unsigned i = 0; i < 3; i++)
		data(k->pc, 1000);
	cr_assert_eq(k->read_off, 0, "3000 bytes in flight < 4000: still reading");
	data(k->pc, 1000);
	cr_assert_eq(k->read_off, 1, "exactly the window in flight: stopped");
	/* A read already under way still delivers: sent on, reading stays off. */
	data(k->pc, 1000);
	cr_assert_eq(k->read_off, 1);
	cr_assert_eq(k->read_on, 1);
	peer_expect_payloads(5, 1000, true, 0);
	peer_expect_none();

	peer_ctl(SL_PORTAL_CREDIT, 1000);	/* 4000 in flight: still the window */
	cr_assert_eq(k->read_on, 1);
	peer_ctl(SL_PORTAL_CREDIT, 2000);	/* 3000 in flight */
	cr_assert_eq(k->read_on, 2, "resumed on credit");
	data(k->pc, 1000);
	cr_assert_eq(k->read_off, 2, "4000 in flight: stopped again");

	peer_ctl(SL_PORTAL_CREDIT, 100000);	/* more than was ever sent: ignored */
	cr_assert_eq(k->read_on, 2);
	peer_ctl(SL_PORTAL_CREDIT, 1500);	/* older than the last: ignored */
	cr_assert_eq(k->read_on, 2);
	peer_ctl(SL_PORTAL_CREDIT, 6000);	/* everything written */
	cr_assert_eq(k->read_on, 3);
	peer_expect_payloads(1, 1000, true, 5);
	peer_expect_none();
	cr_assert_eq(k->closes, 0);
	down();
}

Test(portal_flow, receiver_grants_credit_a_quarter_window_at_a_time)
{
	const size_t chunk = SL_PORTAL_CHUNK;
	struct sl_portal_msg pm;
	struct fsock *k;
	struct sl_msg *m;

	up();
	k = open_outlet(true, SL_PORTAL_WINDOW);
	for (unsigned i = 0; i < 11; i++)
		peer_payload(chunk, true, (uint16_t)i);
	cr_assert_eq(k->writes, 11, "every chunk goes to the socket");
	cr_assert_eq(k->bytes, 11 * chunk);
	written(k->pc, 10 * chunk);		/* 480 KiB < a quarter window */
	peer_expect_none();
	written(k->pc, chunk);			/* 528 KiB >= 512 KiB */
	m = peer_next(&pm);
	cr_assert_eq(pm.kind, SL_PORTAL_CREDIT);
	cr_assert_eq(pm.credit, 11 * chunk, "cumulative: every byte written so far");
	sl_msg_free(m);
	peer_expect_none();
	down();
}

Test(portal_flow, a_lost_chunk_closes_the_connection)
{
	struct fsock *k;

	up();
	k = open_outlet(true, SL_PORTAL_WINDOW);
	peer_payload(100, true, 0);
	peer_payload(100, true, 2);		/* counter 1 never came */
	cr_assert_eq(k->writes, 1, "the chunk after the gap is not written");
	peer_expect(SL_PORTAL_DISCONNECT);
	cr_assert_eq(k->closes, 1);
	cr_assert(k->abort, "reset: the stream has a hole");
	down();
}

Test(portal_flow, half_close_ours_first_peer_still_sends)
{
	struct fsock *k;

	up();
	k = open_outlet(true, SL_PORTAL_WINDOW);
	k->reading = false;	/* transports stops reading at EOF by itself */
	our_eof(k->pc);
	peer_expect(SL_PORTAL_EOF);
	peer_expect_none();
	cr_assert_eq(k->closes, 0, "half close: the other direction stays open");
	cr_assert_eq(k->shut_wr, 0);
	peer_payload(300, true, 0);
	peer_payload(200, true, 1);
	cr_assert_eq(k->writes, 2, "data still flows toward our socket");
	cr_assert_eq(k->bytes, 500);
	peer_ctl(SL_PORTAL_EOF, 0);
	cr_assert_eq(k->shut_wr, 1);
	cr_assert_eq(k->closes, 1, "both directions done: closed");
	cr_assert_not(k->abort, "after its queue, not reset");
	peer_expect_none();	/* no Disconnect after a clean close */
	down();
}

Test(portal_flow, half_close_peer_first_we_still_send)
{
	struct fsock *k;

	up();
	k = open_outlet(true, SL_PORTAL_WINDOW);
	peer_payload(100, true, 0);
	peer_ctl(SL_PORTAL_EOF, 0);
	cr_assert_eq(k->shut_wr, 1, "the peer's EOF shuts our socket's write side");
	cr_assert_eq(k->closes, 0);
	data(k->pc, 700);
	data(k->pc, 300);
	peer_expect_payloads(1, 700, true, 0);
	peer_expect_payloads(1, 300, true, 1);
	peer_payload(50, true, 1);	/* after its Eof: not written */
	cr_assert_eq(k->writes, 1);
	/* A quarter window written would earn a Credit; a peer that sends no more gets none. */
	written(k->pc, SL_PORTAL_WINDOW / 4);
	k->reading = false;
	our_eof(k->pc);
	peer_expect(SL_PORTAL_EOF);
	peer_expect_none();
	cr_assert_eq(k->closes, 1);
	cr_assert_not(k->abort);
	cr_assert_eq(k->shut_wr, 1);
	down();
}

Test(portal_flow, inlet_pauses_while_the_peer_grants_nothing)
{
	struct sl_portal_route route = { 0 };
	struct step acc = { .op = ST_ACCEPT };
	struct sl_portal_msg pm;
	struct sl_route to_pc;
	struct fsock *k;
	struct sl_msg *m;
	uint16_t port = 0;

	up();
	sl_route_init(&route.tail);
	cr_assert_eq(sl_route_push_back(&route.tail, SL_ADDR_LOCAL, peer.w.addr, peer.w.addr_len), 0);
	cr_assert_eq(sl_portal_inlet_create(P, "in", "127.0.0.1:0", &route, "/peer", &port), 0);
	cr_assert_eq(port, 4242);
	run(&acc);
	cr_assert_not_null(acc.accepted);
	k = acc.k;
	m = peer_next(&pm);
	cr_assert_eq(pm.kind, SL_PORTAL_PING);
	cr_assert(pm.ext, "an inlet always offers the extension");
	cr_assert_eq(pm.window, SL_PORTAL_WINDOW);
	sl_route_copy(&to_pc, &m->ret);
	sl_msg_free(m);
	cr_assert_eq(k->read_on, 0, "no reading before the Pong");
	peer_ctl_to(&to_pc, SL_PORTAL_PONG, true, 2048, 0);
	cr_assert_eq(k->read_on, 1);
	sl_route_copy(&to_conn, &to_pc);
	data(k->pc, 1000);
	data(k->pc, 1000);
	cr_assert_eq(k->read_off, 0);
	data(k->pc, 1000);
	cr_assert_eq(k->read_off, 1, "3000 >= 2048");
	/* The peer grants nothing: the socket stays unread, whatever the time. */
	sleep_ms(100);
	peer_ctl(SL_PORTAL_PING, 0);	/* noise: not a grant */
	cr_assert_eq(k->read_on, 1);
	cr_assert(!k->reading);
	peer_ctl(SL_PORTAL_CREDIT, 1000);	/* 2000 < 2048 */
	cr_assert_eq(k->read_on, 2);
	peer_expect_payloads(3, 1000, true, 0);
	peer_expect_none();
	cr_assert_eq(sl_portal_inlet_delete(P, "in"), 0);
	cr_assert_null(F.in, "delete unlistens");
	down();
}

Test(portal_flow, ockam_peer_is_never_paused_and_its_queue_is_capped)
{
	const size_t chunk = SL_PORTAL_CHUNK;
	unsigned fit = SL_PORTAL_QUEUE_MAX / SL_PORTAL_CHUNK;
	struct fsock *k;

	up();
	k = open_outlet(false, 0);
	for (unsigned i = 0; i < 100; i++)
		data(k->pc, 1000);
	cr_assert_eq(k->read_off, 0, "no window with an Ockam peer");
	peer_expect_payloads(100, 1000, false, 0);
	for (unsigned i = 0; i < fit; i++)
		peer_payload(chunk, false, 0);
	cr_assert_eq(k->writes, fit);
	cr_assert_eq(k->closes, 0, "up to SL_PORTAL_QUEUE_MAX queued");
	peer_expect_none();	/* and no Credit: the peer does not know of them */
	peer_payload(SL_PORTAL_QUEUE_MAX - fit * chunk + 1, false, 0);
	cr_assert_eq(k->writes, fit, "one byte over the cap is not queued");
	peer_expect(SL_PORTAL_DISCONNECT);
	cr_assert_eq(k->closes, 1);
	cr_assert(k->abort);
	down();
}

Test(portal_flow, ockam_peer_eof_ends_the_connection)
{
	struct fsock *k;

	up();
	k = open_outlet(false, 0);
	k->reading = false;
	our_eof(k->pc);
	peer_expect(SL_PORTAL_DISCONNECT);
	peer_expect_none();
	cr_assert_eq(k->closes, 1, "no half close without the extension");
	cr_assert_not(k->abort);
	cr_assert_eq(k->shut_wr, 0);
	down();
}
