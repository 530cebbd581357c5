// SPDX-License-Identifier: Apache-2.0
/*
 * A relay fleet's engine side (engine/relay_fleet.c) on an in-process node
 * with 2 shards, a directory that the test answers by hand and a TCP
 * transport that keeps what it is given: the lookup and its answer, the hop
 * to the owner pushed on the route, the cache, "nowhere", a failed or
 * unanswered lookup, the stale entry naming this node, and the hooks for
 * the relays the node takes and loses, takeover included.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <unistd.h>

#include "engine/relay.h"
#include "engine/relay_fleet.h"
#include "tests/unit/sl_test_node.h"

TestSuite(relay_fleet, .timeout = 30);

#define SELF "127.0.0.1:4000"
#define PEER "127.0.0.1:4001"

struct dir {
	pthread_mutex_t lock;
	unsigned lookups, owned, gone;
	unsigned last_shard;
	char last[128], last_owned[128], last_gone[128];
};

static struct dir D;

static void d_owned(void *ctx, const char *name)
{
	pthread_mutex_lock(&D.lock);
	D.owned++;
	snprintf(D.last_owned, sizeof(D.last_owned), "%s", name);
	pthread_mutex_unlock(&D.lock);
}

static void d_gone(void *ctx, const char *name)
{
	pthread_mutex_lock(&D.lock);
	D.gone++;
	snprintf(D.last_gone, sizeof(D.last_gone), "%s", name);
	pthread_mutex_unlock(&D.lock);
}

static int d_lookup(void *ctx, unsigned shard, const char *name)
{
	pthread_mutex_lock(&D.lock);
	D.lookups++;
	D.last_shard = shard;
	snprintf(D.last, sizeof(D.last), "%s", name);
	pthread_mutex_unlock(&D.lock);
	return 0;
}

static const struct sl_relay_fleet_ops ops = { d_owned, d_gone, d_lookup };

static unsigned dir_get(unsigned *field)
{
	unsigned v;

	pthread_mutex_lock(&D.lock);
	v = *field;
	pthread_mutex_unlock(&D.lock);
	return v;
}

static bool wait_for(unsigned *field, unsigned want)
{
	for (int i = 0; i < 300; i++) {
		if (dir_get(field) >= want)
			return true;
		usleep(10000);
	}
	return false;
}

/* The TCP transport: whatever the node sends over TCP lands here. */
static struct probe tcp;
static int tcp_shard = -1;	/* the shard that sent last */

static void tcp_send(void *ctx, struct sl_shard *s, struct sl_msg *m)
{
	__atomic_store_n(&tcp_shard, (int)sl_shard_id(s), __ATOMIC_RELAXED);
	probe_handle(&tcp.w, m);
}

static const struct sl_transport_ops fake_tcp = { SL_ADDR_TCP, "tcp", tcp_send };

struct fixture {
	struct sl_node *n;
	struct probe client, conn;
};

static void up(struct fixture *f)
{
	struct sl_node_config cfg = { .name = "r2", .shards = 2, .no_pin = true };

	memset(&D, 0, sizeof(D));
	pthread_mutex_init(&D.lock, NULL);
	memset(&tcp, 0, sizeof(tcp));
	pthread_mutex_init(&tcp.lock, NULL);
	pthread_cond_init(&tcp.cond, NULL);
	tcp.w.ctx = &tcp;
	f->n = sl_node_create(&cfg);
	cr_assert_not_null(f->n);
	cr_assert_eq(sl_node_add_transport(f->n, &fake_tcp, NULL), 0);
	cr_assert_eq(sl_services_start(f->n), 0);
	cr_assert_eq(sl_relay_fleet_start(f->n, SELF, &ops, NULL), 0);
	cr_assert_eq(sl_relay_fleet_start(f->n, SELF, &ops, NULL), -EEXIST, "one fleet per node");
	cr_assert_eq(probe_start(&f->client, f->n, 0, NULL), 0);
	cr_assert_eq(probe_start(&f->conn, f->n, 1, NULL), 0);
	cr_assert_eq(sl_node_start(f->n), 0);
}

static void down(struct fixture *f)
{
	sl_node_stop(f->n);
	sl_node_join(f->n);
	sl_relay_fleet_stop(f->n);
	probe_drain(&f->client);
	probe_drain(&f->conn);
	probe_drain(&tcp);
	sl_worker_stop(&f->client.w);
	sl_worker_stop(&f->conn.w);
	sl_node_destroy(f->n);
}

/* BARE text to [forward_to_<name>, echo] from shard 0. */
static void send_to(struct fixture *f, const char *name, const char *text)
{
	char addr[64];
	struct sl_route r;
	struct sl_msg *m;

	snprintf(addr, sizeof(addr), "forward_to_%s", name);
	route_from(&r, addr, "echo", NULL);
	m = msg_bare(&f->client, &r, text);
	cr_assert_not_null(m);
	cr_assert_eq(sl_node_inject(f->n, 0, m), 0);
}

static void expect_forwarded(const char *name, const char *text)
{
	struct sl_msg *m = probe_wait(&tcp, 3000);
	char want[64];
	struct sl_addr a;
	size_t it = 0;

	cr_assert_not_null(m, "nothing went to the owner over TCP");
	cr_assert_str_eq(msg_text(m), text);
	cr_assert_eq(m->onward.n, 3, "[owner's listener, forward_to_%s, echo]", name);
	sl_route_next(&m->onward, &it, &a);
	cr_assert_eq(a.type, SL_ADDR_TCP);
	cr_assert(a.len == strlen(PEER) && !memcmp(a.body, PEER, a.len));
	sl_route_next(&m->onward, &it, &a);
	snprintf(want, sizeof(want), "forward_to_%s", name);
	cr_assert(sl_addr_is_local(&a, want));
	/* Sent from the shard the message came in on (the client's, 0), whatever the name's home. */
	cr_assert_eq(__atomic_load_n(&tcp_shard, __ATOMIC_RELAXED), 0);
	sl_msg_free(m);
}

static uint64_t counter(struct fixture *f, enum sl_fleet_counter c)
{
	struct sl_relay_fleet_stats st;

	sl_relay_fleet_stats(f->n, &st);
	cr_assert(st.member);
	return st.c[c];
}

static bool counter_reaches(struct fixture *f, enum sl_fleet_counter c, uint64_t want)
{
	for (int i = 0; i < 400; i++) {
		if (counter(f, c) >= want)
			return true;
		usleep(10000);
	}
	return false;
}

Test(relay_fleet, lookup_answer_forward_and_cache)
{
	struct fixture f;
	char q[16], full[32];

	up(&f);
	/* A name homed on the shard its sender (shard 0) is not: hashes are seeded per process. */
	for (unsigned i = 0;; i++) {
		snprintf(q, sizeof(q), "q%u", i);
		snprintf(full, sizeof(full), "forward_to_%s", q);
		if (sl_worker_hashed_shard(f.n, full) == 1)
			break;
	}
	send_to(&f, q, "one");
	send_to(&f, q, "two");
	cr_assert(wait_for(&D.lookups, 1), "no lookup of q");
	cr_assert_str_eq(D.last, q);
	cr_assert_eq(D.last_shard, sl_worker_hashed_shard(f.n, full), "asked on q's home");
	cr_assert_eq(D.last_shard, 1, "q is homed on the other shard than its sender");
	cr_assert_null(probe_wait(&tcp, 100), "sent before the answer");
	sl_relay_fleet_answer(f.n, D.last_shard, q, 0, PEER);
	/* Both waited, in order. */
	expect_forwarded(q, "one");
	expect_forwarded(q, "two");
	/* The answer is cached: no second lookup. */
	send_to(&f, q, "three");
	expect_forwarded(q, "three");
	cr_expect_eq(dir_get(&D.lookups), 1);
	cr_expect_eq(counter(&f, SL_FLEET_LOOKUP_OK), 1);
	cr_expect_eq(counter(&f, SL_FLEET_FORWARDED), 3);
	/* Past the cache, it asks again. */
	usleep((SL_FLEET_CACHE_NS / 1000) + 100000);
	send_to(&f, q, "four");
	cr_assert(wait_for(&D.lookups, 2), "a stale answer was not asked again");
	sl_relay_fleet_answer(f.n, D.last_shard, q, 0, PEER);
	expect_forwarded(q, "four");
	down(&f);
}

Test(relay_fleet, nowhere_error_and_self_are_dropped)
{
	struct fixture f;

	up(&f);
	send_to(&f, "gone", "x");
	cr_assert(wait_for(&D.lookups, 1));
	sl_relay_fleet_answer(f.n, D.last_shard, "gone", -ENOENT, NULL);
	cr_assert(counter_reaches(&f, SL_FLEET_DROP_NOWHERE, 1));
	cr_expect_eq(counter(&f, SL_FLEET_LOOKUP_MISS), 1);

	send_to(&f, "down", "x");
	cr_assert(wait_for(&D.lookups, 2));
	sl_relay_fleet_answer(f.n, D.last_shard, "down", -EIO, NULL);
	cr_assert(counter_reaches(&f, SL_FLEET_DROP_ERROR, 1));
	cr_expect_eq(counter(&f, SL_FLEET_LOOKUP_ERROR), 1);
	/* An error is not cached: the next message asks again. */
	send_to(&f, "down", "y");
	cr_assert(wait_for(&D.lookups, 3));

	/* An entry naming this node, which holds no such relay: never sent (it would loop). */
	send_to(&f, "me", "x");
	cr_assert(wait_for(&D.lookups, 4));
	sl_relay_fleet_answer(f.n, D.last_shard, "me", 0, SELF);
	cr_assert(counter_reaches(&f, SL_FLEET_DROP_NOWHERE, 2));
	cr_assert_null(probe_wait(&tcp, 100), "forwarded to itself");
	down(&f);
}

Test(relay_fleet, unanswered_lookup_fails_at_its_deadline)
{
	struct fixture f;

	up(&f);
	send_to(&f, "slow", "x");
	cr_assert(wait_for(&D.lookups, 1));
	cr_assert(counter_reaches(&f, SL_FLEET_DROP_ERROR, 1), "the waiting message was kept");
	/* A late answer finds nothing waiting: harmless. */
	sl_relay_fleet_answer(f.n, D.last_shard, "slow", 0, PEER);
	cr_assert_null(probe_wait(&tcp, 200));
	down(&f);
}

Test(relay_fleet, relays_taken_and_lost_are_told_and_takeover_drops_ours)
{
	struct fixture f;
	struct sl_relay_stats st;
	struct sl_relays *rs;
	struct sl_route r;
	struct sl_msg *m;

	up(&f);
	rs = sl_relays_local(sl_node_shard(f.n, 0));
	route_from(&r, "static_forwarding_service", NULL);
	m = msg_bare(&f.client, &r, "b");
	sl_route_push_front(&m->ret, SL_ADDR_LOCAL, f.conn.w.addr, f.conn.w.addr_len);
	cr_assert_eq(sl_node_inject(f.n, 0, m), 0);
	cr_assert(wait_for(&D.owned, 1), "the directory was not told of b");
	cr_assert_str_eq(D.last_owned, "b");
	sl_msg_free(probe_wait(&f.conn, 3000));		/* the registration's answer */
	/* Held here: no lookup, the relay forwards. */
	send_to(&f, "b", "local");
	m = probe_wait(&f.conn, 3000);
	cr_assert_not_null(m);
	sl_msg_free(m);
	cr_expect_eq(dir_get(&D.lookups), 0);
	/* Another node took b: ours goes, and the directory hears it went. */
	sl_relay_fleet_disown(f.n, "b");
	cr_assert(wait_for(&D.gone, 1), "b's relay was not dropped");
	cr_assert_str_eq(D.last_gone, "b");
	sl_relays_stats(rs, &st);
	cr_expect_eq(st.active, 0);
	cr_expect_eq(counter(&f, SL_FLEET_TAKEOVERS), 1);
	/* Now b is looked up like any other name. */
	send_to(&f, "b", "remote");
	cr_assert(wait_for(&D.lookups, 1));
	sl_relay_fleet_answer(f.n, D.last_shard, "b", 0, PEER);
	expect_forwarded("b", "remote");
	down(&f);
}

Test(relay_fleet, waiting_messages_are_bounded)
{
	const unsigned extra = 76;
	struct fixture f;
	struct sl_route r;

	up(&f);
	route_from(&r, "forward_to_many", "echo", NULL);
	for (unsigned i = 0; i < SL_FLEET_WAIT_MAX + extra; i++) {
		struct sl_msg *m;

		/* The node's inject queue is bounded too: m is freed on -EAGAIN, build it again. */
		while ((m = msg_bare(&f.client, &r, "m")) && sl_node_inject(f.n, 0, m) == -EAGAIN)
			usleep(1000);
		cr_assert_not_null(m);
	}
	cr_assert(counter_reaches(&f, SL_FLEET_DROP_WAIT_FULL, extra), "more than the bound waited");
	cr_expect_eq(counter(&f, SL_FLEET_DROP_WAIT_FULL), extra);
	cr_expect_eq(dir_get(&D.lookups), 1, "one lookup for all of them");
	sl_relay_fleet_answer(f.n, D.last_shard, "many", 0, PEER);
	cr_assert(counter_reaches(&f, SL_FLEET_FORWARDED, SL_FLEET_WAIT_MAX));
	cr_expect_eq(counter(&f, SL_FLEET_FORWARDED), SL_FLEET_WAIT_MAX);
	down(&f);
}
