// SPDX-License-Identifier: Apache-2.0
/*
 * Relays (engine/relay.c, relay_client.c) on an in-process node with 2 shards
 * and no transports: registration payloads, the answer, the message path,
 * replace and ownership rules, expiry when the first hop stops, names homed
 * on either shard, malformed registrations, and the client's registration.
 */
#include <criterion/criterion.h>
#include <errno.h>

#include "engine/relay.h"
#include "tests/unit/sl_test_node.h"

TestSuite(relay, .timeout = 30);

/* ---- payload decoding: a table of edge cases ---- */

static const struct {
	const char *hex;	/* payload */
	int want;		/* length, 0 for ephemeral, or -EBADMSG */
	const char *name;
} regs[] = {
	{ "0162", 1, "b" },
	{ "087265676973746572", 0, NULL },		/* "register": ephemeral */
	{ "09666f72776172646572", 9, "forwarder" },
	{ "0a666f72776172646572", -EBADMSG, NULL },	/* the length lies by one */
	{ "00", -EBADMSG, NULL },			/* empty name */
	{ "", -EBADMSG, NULL },				/* no payload */
	{ "05616263", -EBADMSG, NULL },			/* length past the end */
	{ "80", -EBADMSG, NULL },			/* truncated uleb128 */
	{ "03612062", -EBADMSG, NULL },			/* a space */
	{ "03612f62", -EBADMSG, NULL },			/* a slash */
	{ "026100", -EBADMSG, NULL },			/* a NUL */
	{ "0261ff", -EBADMSG, NULL },			/* not ASCII */
	{ "016263", 1, "b" },				/* trailing bytes are tolerated */
};

static size_t unhex(const char *h, uint8_t *out)
{
	size_t n = strlen(h) / 2;

	for (size_t i = 0; i < n; i++)
		sscanf(h + 2 * i, "%2hhx", &out[i]);
	return n;
}

Test(relay, parse_registration_table)
{
	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		char name[SL_RELAY_NAME_MAX + 1];
		uint8_t buf[64];
		size_t n = unhex(regs[i].hex, buf);
		bool eph = true;
		int ret = sl_relay_parse_registration(buf, n, name, sizeof(name), &eph);

		cr_assert_eq(ret, regs[i].want, "case %zu: %d", i, ret);
		if (ret == 0)
			cr_assert(eph, "case %zu: register is ephemeral", i);
		if (ret > 0) {
			cr_assert_not(eph);
			cr_assert_str_eq(name, regs[i].name, "case %zu", i);
		}
	}
}

Test(relay, parse_registration_length_limit)
{
	uint8_t buf[300];
	char name[SL_RELAY_NAME_MAX + 1];
	bool eph;

	memset(buf + 2, 'x', sizeof(buf) - 2);
	/* uleb128 of SL_RELAY_NAME_MAX (244) is two bytes. */
	buf[0] = (uint8_t)(0x80 | (SL_RELAY_NAME_MAX & 0x7f));
	buf[1] = (uint8_t)(SL_RELAY_NAME_MAX >> 7);
	cr_assert_eq(sl_relay_parse_registration(buf, 2 + SL_RELAY_NAME_MAX, name, sizeof(name), &eph),
		     (int)SL_RELAY_NAME_MAX);
	buf[0] = (uint8_t)(0x80 | ((SL_RELAY_NAME_MAX + 1) & 0x7f));
	cr_assert_eq(sl_relay_parse_registration(buf, 3 + SL_RELAY_NAME_MAX, name, sizeof(name), &eph),
		     -EBADMSG, "one byte too long");
}

/* ---- the services on a node ---- */

struct fixture {
	struct sl_node *n;
	struct sl_relays *rs;
	struct probe client;	/* the registering worker, shard 0 */
	struct probe conn0;	/* stands for a connection on shard 0 (first hop) */
	struct probe conn1;	/* another connection, on shard 1 */
	struct probe sink;	/* where relayed messages end, shard 1 */
	struct probe longhop;	/* a first hop with an address longer than a random one, shard 1 */
};

#define LONG_HOP "a-first-hop-whose-local-address-is-longer-than-a-random-one"


static void up(struct fixture *f)
{
	struct sl_node_config cfg = { .name = "relay", .shards = 2, .no_pin = true };

	f->n = sl_node_create(&cfg);
	cr_assert_not_null(f->n);
	cr_assert_eq(sl_services_start(f->n), 0);
	f->rs = sl_relays_local(sl_node_shard(f->n, 0));
	cr_assert_not_null(f->rs);
	cr_assert_eq(sl_relays_local(sl_node_shard(f->n, 1)), f->rs, "one relay state per node");
	cr_assert_eq(probe_start(&f->client, f->n, 0, NULL), 0);
	cr_assert_eq(probe_start(&f->conn0, f->n, 0, NULL), 0);
	cr_assert_eq(probe_start(&f->conn1, f->n, 1, NULL), 0);
	cr_assert_eq(probe_start(&f->sink, f->n, 1, "sink"), 0);
	cr_assert_eq(probe_start(&f->longhop, f->n, 1, LONG_HOP), 0);
	cr_assert_eq(sl_node_start(f->n), 0);
}

static void down(struct fixture *f)
{
	sl_node_stop(f->n);
	sl_node_join(f->n);
	probe_drain(&f->client);
	probe_drain(&f->conn0);
	probe_drain(&f->conn1);
	probe_drain(&f->sink);
	probe_drain(&f->longhop);
	sl_worker_stop(&f->longhop.w);
	sl_worker_stop(&f->client.w);
	sl_worker_stop(&f->conn0.w);
	sl_worker_stop(&f->conn1.w);
	sl_worker_stop(&f->sink.w);
	sl_node_destroy(f->n);
}

static void stats(struct fixture *f, struct sl_relay_stats *st)
{
	sl_relays_stats(f->rs, st);
}

/*
 * Register `name` at `service` as if through connection `via`: return route
 * [via, client]. peer: NULL for a plain registration, else the identity.
 */
static void register_via(struct fixture *f, unsigned shard, const char *service, const char *name,
			 struct probe *via, const uint8_t *peer)
{
	struct sl_route r;
	struct sl_msg *m;

	route_from(&r, service, NULL);
	m = msg_bare(&f->client, &r, name);
	cr_assert_not_null(m);
	if (via)
		sl_route_push_front(&m->ret, SL_ADDR_LOCAL, via->w.addr, via->w.addr_len);
	if (peer) {
		m->flags |= SL_MSG_AUTHENTICATED;
		memcpy(m->peer, peer, 32);
	}
	cr_assert_eq(sl_node_inject(f->n, shard, m), 0);
}

/* The registration's answer reaches `via` with onward [via, client]: check it, return the name. */
static void expect_answer(struct probe *via, struct probe *client, const char *want)
{
	struct sl_msg *m = probe_wait(via, 3000);
	struct sl_addr a;
	size_t it = 0;

	cr_assert_not_null(m, "no answer to the registration");
	cr_assert_eq(m->onward.n, 2);
	sl_route_next(&m->onward, &it, &a);
	cr_assert(a.len == via->w.addr_len && !memcmp(a.body, via->w.addr, a.len));
	sl_route_next(&m->onward, &it, &a);
	cr_assert(a.len == client->w.addr_len && !memcmp(a.body, client->w.addr, a.len));
	cr_assert_eq(m->ret.n, 1);
	sl_route_front(&m->ret, &a);
	if (want) {
		cr_assert_str_eq(msg_text(m), want);
		cr_assert(sl_addr_is_local(&a, want), "answer comes from the relay's address");
	} else {
		cr_assert(!strncmp(msg_text(m), "forward_to_", 11));
		cr_assert_eq(strlen(msg_text(m)), 11 + 32, "ephemeral name: 32 hex");
	}
	sl_msg_free(m);
}

/* Send BARE text to [forward_to_name, sink] from shard; it should reach `via` with onward [via, sink]. */
static void send_through(struct fixture *f, unsigned shard, const char *relay, const char *text)
{
	struct sl_route r;
	struct sl_msg *m;

	route_from(&r, relay, "sink", NULL);
	m = msg_bare(&f->client, &r, text);
	cr_assert_not_null(m);
	cr_assert_eq(sl_node_inject(f->n, shard, m), 0);
}

static void expect_relayed(struct probe *via, const char *text)
{
	struct sl_msg *m = probe_wait(via, 3000);
	struct sl_addr a;
	size_t it = 0;

	cr_assert_not_null(m, "relayed message did not arrive at the first hop");
	cr_assert_str_eq(msg_text(m), text);
	cr_assert_eq(m->onward.n, 2, "forward route prepended: [via, sink]");
	sl_route_next(&m->onward, &it, &a);
	cr_assert(a.len == via->w.addr_len && !memcmp(a.body, via->w.addr, a.len));
	sl_route_next(&m->onward, &it, &a);
	cr_assert(sl_addr_is_local(&a, "sink"));
	/* Ockam's relay leaves the return route alone. */
	sl_route_front(&m->ret, &a);
	cr_assert(a.len == SL_RANDOM_ADDR_LEN, "return route starts with the sender");
	sl_msg_free(m);
}

Test(relay, static_registration_and_message_path)
{
	struct fixture f;
	struct sl_relay_stats st;

	up(&f);
	register_via(&f, 0, "static_forwarding_service", "b", &f.conn0, NULL);
	expect_answer(&f.conn0, &f.client, "forward_to_b");
	/* From either shard, whichever one hosts forward_to_b. */
	send_through(&f, 0, "forward_to_b", "one");
	expect_relayed(&f.conn0, "one");
	send_through(&f, 1, "forward_to_b", "two");
	expect_relayed(&f.conn0, "two");
	stats(&f, &st);
	cr_assert_eq(st.active, 1);
	cr_assert_eq(st.registered, 1);
	down(&f);
}

Test(relay, ephemeral_registration)
{
	struct fixture f;
	struct sl_relay_stats st;

	up(&f);
	register_via(&f, 1, "forwarding_service", "register", &f.conn1, NULL);
	expect_answer(&f.conn1, &f.client, NULL);
	register_via(&f, 0, "static_forwarding_service", "register", &f.conn0, NULL);
	expect_answer(&f.conn0, &f.client, NULL);
	stats(&f, &st);
	cr_assert_eq(st.active, 2, "two ephemeral names");
	down(&f);
}

/* Names homed on shard 0 and on shard 1, registered from the other shard. */
Test(relay, names_on_both_shards)
{
	struct fixture f;
	char name[32], full[48];
	bool seen[2] = { false, false };
	struct sl_relay_stats st;

	up(&f);
	for (int i = 0; i < 64 && !(seen[0] && seen[1]); i++) {
		unsigned home;

		snprintf(name, sizeof(name), "n%d", i);
		snprintf(full, sizeof(full), "forward_to_%s", name);
		home = sl_worker_hashed_shard(f.n, full);
		if (seen[home])
			continue;
		seen[home] = true;
		register_via(&f, 1 - home, "static_forwarding_service", name, &f.conn1, NULL);
		expect_answer(&f.conn1, &f.client, full);
		send_through(&f, 1 - home, full, name);
		expect_relayed(&f.conn1, name);
	}
	cr_assert(seen[0] && seen[1]);
	stats(&f, &st);
	cr_assert_eq(st.active, 2);
	down(&f);
}

Test(relay, plain_registration_replaces_plain)
{
	struct fixture f;
	struct sl_relay_stats st;

	up(&f);
	register_via(&f, 0, "static_forwarding_service", "b", &f.conn0, NULL);
	expect_answer(&f.conn0, &f.client, "forward_to_b");
	register_via(&f, 1, "static_forwarding_service", "b", &f.conn1, NULL);
	expect_answer(&f.conn1, &f.client, "forward_to_b");
	send_through(&f, 0, "forward_to_b", "new route");
	expect_relayed(&f.conn1, "new route");
	cr_assert_null(probe_wait(&f.conn0, 100), "old route still used");
	stats(&f, &st);
	cr_assert_eq(st.active, 1);
	cr_assert_eq(st.replaced, 1);
	down(&f);
}

Test(relay, identity_owns_its_name)
{
	struct fixture f;
	struct sl_relay_stats st;
	uint8_t alice[32], bob[32];

	memset(alice, 0xa1, sizeof(alice));
	memset(bob, 0xb0, sizeof(bob));
	up(&f);
	register_via(&f, 0, "static_forwarding_service", "b", &f.conn0, alice);
	expect_answer(&f.conn0, &f.client, "forward_to_b");
	/* Another identity, and a plain registration, may not take it over. */
	register_via(&f, 1, "static_forwarding_service", "b", &f.conn1, bob);
	cr_assert_null(probe_wait(&f.conn1, 300), "bob took alice's name");
	register_via(&f, 1, "static_forwarding_service", "b", &f.conn1, NULL);
	cr_assert_null(probe_wait(&f.conn1, 300), "a plain registration took alice's name");
	send_through(&f, 1, "forward_to_b", "still alice");
	expect_relayed(&f.conn0, "still alice");
	/* Alice moves her relay to another connection. */
	register_via(&f, 1, "static_forwarding_service", "b", &f.conn1, alice);
	expect_answer(&f.conn1, &f.client, "forward_to_b");
	send_through(&f, 0, "forward_to_b", "moved");
	expect_relayed(&f.conn1, "moved");
	stats(&f, &st);
	cr_assert_eq(st.rejected, 2);
	cr_assert_eq(st.replaced, 1);
	cr_assert_eq(st.active, 1);
	down(&f);
}

Test(relay, identity_claims_a_plain_name)
{
	struct fixture f;
	uint8_t alice[32];

	memset(alice, 0xa1, sizeof(alice));
	up(&f);
	register_via(&f, 0, "static_forwarding_service", "c", &f.conn0, NULL);
	expect_answer(&f.conn0, &f.client, "forward_to_c");
	register_via(&f, 0, "static_forwarding_service", "c", &f.conn1, alice);
	expect_answer(&f.conn1, &f.client, "forward_to_c");
	/* Now owned: plain may not come back. */
	register_via(&f, 0, "static_forwarding_service", "c", &f.conn0, NULL);
	cr_assert_null(probe_wait(&f.conn0, 300));
	down(&f);
}

static void stop_worker(struct sl_shard *s, void *arg)
{
	sl_worker_stop(arg);
}

Test(relay, first_hop_stopped_expires_relay)
{
	struct fixture f;
	struct sl_relay_stats st;
	struct sl_shard_stats before, after;

	up(&f);
	/* conn1 lives on shard 1; name homes vary: register two, one per shard at least likely. */
	register_via(&f, 0, "static_forwarding_service", "x", &f.conn1, NULL);
	expect_answer(&f.conn1, &f.client, "forward_to_x");
	register_via(&f, 0, "static_forwarding_service", "y", &f.conn1, NULL);
	expect_answer(&f.conn1, &f.client, "forward_to_y");
	register_via(&f, 0, "static_forwarding_service", "z", &f.conn0, NULL);
	expect_answer(&f.conn0, &f.client, "forward_to_z");
	cr_assert_eq(call_on_shard(f.n, 1, stop_worker, &f.conn1.w), 0);
	for (int i = 0; i < 100; i++) {
		stats(&f, &st);
		if (st.active == 1)
			break;
		sleep_ms(20);
	}
	cr_assert_eq(st.active, 1, "relays through the stopped connection remain: %lu",
		     (unsigned long)st.active);
	cr_assert_eq(st.expired, 2);
	sleep_ms(600);	/* the home shards' ticks stop the workers */
	sl_node_stats_total(f.n, &before);
	send_through(&f, 0, "forward_to_x", "gone");
	send_through(&f, 1, "forward_to_z", "alive");
	expect_relayed(&f.conn0, "alive");
	for (int i = 0; i < 50; i++) {
		sl_node_stats_total(f.n, &after);
		if (after.drop_unknown > before.drop_unknown)
			break;
		sleep_ms(20);
	}
	cr_assert_gt(after.drop_unknown, before.drop_unknown, "forward_to_x still answers");
	/* The name is free again. */
	register_via(&f, 1, "static_forwarding_service", "x", &f.conn0, NULL);
	expect_answer(&f.conn0, &f.client, "forward_to_x");
	down(&f);
}

/* A watched hop too long for the watch's inline room (kept on the heap) works the same. */
Test(relay, long_first_hop_is_watched_too)
{
	struct fixture f;
	struct sl_relay_stats st;

	up(&f);
	register_via(&f, 0, "static_forwarding_service", "far", &f.longhop, NULL);
	expect_answer(&f.longhop, &f.client, "forward_to_far");
	send_through(&f, 1, "forward_to_far", "through");
	expect_relayed(&f.longhop, "through");
	/* Registered again over the same hop: the old watch's heap copy goes, a new one comes. */
	register_via(&f, 0, "static_forwarding_service", "far", &f.longhop, NULL);
	expect_answer(&f.longhop, &f.client, "forward_to_far");
	cr_assert_eq(call_on_shard(f.n, 1, stop_worker, &f.longhop.w), 0);
	for (int i = 0; i < 100; i++) {
		stats(&f, &st);
		if (st.active == 0)
			break;
		sleep_ms(20);
	}
	cr_assert_eq(st.active, 0, "the relay outlived its first hop");
	cr_assert_eq(st.expired, 1);
	down(&f);
}

Test(relay, dead_first_hop_at_registration)
{
	struct fixture f;
	struct sl_relay_stats st;

	up(&f);
	/* A return route through an address that no longer exists. */
	cr_assert_eq(call_on_shard(f.n, 0, stop_worker, &f.conn0.w), 0);
	register_via(&f, 1, "static_forwarding_service", "g", &f.conn0, NULL);
	for (int i = 0; i < 100; i++) {
		stats(&f, &st);
		if (st.expired == 1 && st.active == 0)
			break;
		sleep_ms(20);
	}
	cr_assert_eq(st.registered, 1);
	cr_assert_eq(st.expired, 1, "a relay through a dead connection must not stay");
	cr_assert_eq(st.active, 0);
	/* conn0 was stopped by the test already. */
	sl_node_stop(f.n);
	sl_node_join(f.n);
	probe_drain(&f.client);
	probe_drain(&f.conn0);
	probe_drain(&f.conn1);
	probe_drain(&f.sink);
	sl_worker_stop(&f.client.w);
	sl_worker_stop(&f.conn1.w);
	sl_worker_stop(&f.sink.w);
	sl_node_destroy(f.n);
}

Test(relay, malformed_registrations_are_dropped)
{
	struct fixture f;
	struct sl_relay_stats st;
	struct sl_route r;
	struct sl_msg *m;

	up(&f);
	/* Not BARE. */
	route_from(&r, "static_forwarding_service", NULL);
	m = sl_msg_alloc(16);
	memcpy(m->data, "\x09zz", 3);
	m->len = 3;
	sl_route_copy(&m->onward, &r);
	sl_route_push_front(&m->ret, SL_ADDR_LOCAL, f.client.w.addr, f.client.w.addr_len);
	cr_assert_eq(sl_node_inject(f.n, 0, m), 0);
	/* No return route: nowhere to forward to. */
	m = msg_bare(&f.client, &r, "noret");
	sl_route_init(&m->ret);
	cr_assert_eq(sl_node_inject(f.n, 1, m), 0);
	/* A bad character. */
	register_via(&f, 0, "static_forwarding_service", "a b", &f.conn0, NULL);
	for (int i = 0; i < 100; i++) {
		stats(&f, &st);
		if (st.rejected == 3)
			break;
		sleep_ms(20);
	}
	cr_assert_eq(st.rejected, 3);
	cr_assert_eq(st.active, 0);
	cr_assert_null(probe_wait(&f.client, 100));
	cr_assert_null(probe_wait(&f.conn0, 100));
	down(&f);
}

/* ---- the client ---- */

struct client_ctx {
	struct sl_relays *rs;
	struct sl_route at;
	struct sl_relay_client *c;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int status;
	bool done;
	struct sl_relay_client_info info;
};

static void client_event(void *arg, struct sl_relay_client *c, int status)
{
	struct client_ctx *cc = arg;

	sl_relay_client_get_info(c, &cc->info);
	pthread_mutex_lock(&cc->lock);
	cc->status = status;
	cc->done = true;
	pthread_cond_broadcast(&cc->cond);
	pthread_mutex_unlock(&cc->lock);
}

static void client_create(struct sl_shard *s, void *arg)
{
	struct client_ctx *cc = arg;

	struct sl_relay_client_opts o = {
		.first_timeout_ns = 3000000000ull, .event = client_event, .ctx = cc,
	};

	cc->status = sl_relay_client_create(cc->rs, s, "cl", &cc->at, &o, &cc->c);
}

static void client_delete(struct sl_shard *s, void *arg)
{
	struct client_ctx *cc = arg;

	sl_relay_client_delete(cc->c);
	cc->c = sl_relay_client_find(cc->rs, "cl");
}

Test(relay, client_registers_through_a_hop)
{
	struct fixture f;
	struct client_ctx cc = { 0 };
	struct sl_relay_stats st;

	up(&f);
	pthread_mutex_init(&cc.lock, NULL);
	pthread_cond_init(&cc.cond, NULL);
	cc.rs = f.rs;
	/* The relay node is this node, one `hop` away: the route is [hop]. */
	route_from(&cc.at, "hop", NULL);
	cr_assert_eq(call_on_shard(f.n, 0, client_create, &cc), 0);
	cr_assert_eq(cc.status, 0);
	pthread_mutex_lock(&cc.lock);
	while (!cc.done)
		pthread_cond_wait(&cc.cond, &cc.lock);
	pthread_mutex_unlock(&cc.lock);
	cr_assert_eq(cc.status, 0, "registration failed: %d", cc.status);
	cr_assert_str_eq(cc.info.remote, "forward_to_cl");
	cr_assert_eq(cc.info.state, SL_RELAY_CLIENT_UP);
	stats(&f, &st);
	cr_assert_eq(st.active, 1);
	cr_assert_eq(call_on_shard(f.n, 0, client_delete, &cc), 0);
	cr_assert_null(cc.c);
	down(&f);
}

Test(relay, client_rejects_bad_names)
{
	struct fixture f;
	struct sl_route at;

	up(&f);
	route_from(&at, "hop", NULL);
	cr_assert_eq(sl_relay_client_create(f.rs, sl_node_shard(f.n, 0), "a/b", &at, NULL, NULL), -EINVAL);
	cr_assert_eq(sl_relay_client_create(f.rs, sl_node_shard(f.n, 0), "register", &at, NULL,
					    NULL), -EINVAL);
	sl_route_init(&at);
	cr_assert_eq(sl_relay_client_create(f.rs, sl_node_shard(f.n, 0), "ok", &at, NULL, NULL), -EINVAL, "empty route");
	down(&f);
}
