// SPDX-License-Identifier: Apache-2.0
/*
 * The router on an in-process node with 2 shards and no transports: local
 * and cross-shard delivery, unknown addresses, the default services.
 */
#include <criterion/criterion.h>

#include "engine/router.h"
#include "tests/unit/sl_test_node.h"

TestSuite(router, .timeout = 20);

struct fixture {
	struct sl_node *n;
	struct probe p0;	/* "probe0" on shard 0 */
	struct probe p1;	/* "probe1" on shard 1 */
	struct probe r1;	/* random address on shard 1 */
};

static void up(struct fixture *f)
{
	struct sl_node_config cfg = { .name = "r", .shards = 2, .no_pin = true };

	f->n = sl_node_create(&cfg);
	cr_assert_not_null(f->n);
	cr_assert_eq(sl_services_start(f->n), 0);
	cr_assert_eq(probe_start(&f->p0, f->n, 0, "probe0"), 0);
	cr_assert_eq(probe_start(&f->p1, f->n, 1, "probe1"), 0);
	cr_assert_eq(probe_start(&f->r1, f->n, 1, NULL), 0);
	cr_assert_eq(sl_node_start(f->n), 0);
}

static void down(struct fixture *f)
{
	sl_node_stop(f->n);
	sl_node_join(f->n);
	probe_drain(&f->p0);
	probe_drain(&f->p1);
	probe_drain(&f->r1);
	sl_worker_stop(&f->p0.w);
	sl_worker_stop(&f->p1.w);
	sl_worker_stop(&f->r1.w);
	sl_node_destroy(f->n);
}

static void send_text(struct fixture *f, unsigned shard, struct probe *reply_to,
		      const struct sl_route *r, const char *text)
{
	struct sl_msg *m = msg_bare(reply_to, r, text);

	cr_assert_not_null(m);
	cr_assert_eq(sl_node_inject(f->n, shard, m), 0);
}

Test(router, local_delivery)
{
	struct fixture f;
	struct sl_shard_stats st;
	struct sl_route r;
	struct sl_msg *m;

	up(&f);
	route_from(&r, "probe0", NULL);
	send_text(&f, 0, &f.p0, &r, "local");
	m = probe_wait(&f.p0, 2000);
	cr_assert_not_null(m);
	cr_assert_str_eq(msg_text(m), "local");
	sl_msg_free(m);
	sl_node_stats(f.n, 0, &st);
	cr_assert_eq(st.ring_out, 0, "a local delivery crossed shards");
	down(&f);
}

Test(router, cross_shard_by_name_and_by_random_address)
{
	struct fixture f;
	struct sl_shard_stats st0, st1;
	struct sl_route r;
	struct sl_msg *m;

	up(&f);
	route_from(&r, "probe1", NULL);
	send_text(&f, 0, &f.p0, &r, "named");
	m = probe_wait(&f.p1, 2000);
	cr_assert_not_null(m, "named worker on the other shard not reached");
	cr_assert_str_eq(msg_text(m), "named");
	sl_msg_free(m);

	sl_route_init(&r);
	sl_route_push_back(&r, SL_ADDR_LOCAL, f.r1.w.addr, f.r1.w.addr_len);
	send_text(&f, 0, &f.p0, &r, "random");
	m = probe_wait(&f.r1, 2000);
	cr_assert_not_null(m, "random address on the other shard not reached");
	cr_assert_str_eq(msg_text(m), "random");
	sl_msg_free(m);
	sl_node_stats(f.n, 0, &st0);
	sl_node_stats(f.n, 1, &st1);
	cr_assert_eq(st0.ring_out, 2);
	cr_assert_eq(st1.ring_in, 2);
	down(&f);
}

Test(router, unknown_address_dropped_and_counted)
{
	struct fixture f;
	struct sl_shard_stats st;
	struct sl_route r;

	up(&f);
	route_from(&r, "nosuchworker", NULL);
	send_text(&f, 0, &f.p0, &r, "x");
	/* A random-looking address that hashes to shard 1 but is not there. */
	route_from(&r, "0123456789abcdef0123456789abcdef", NULL);
	send_text(&f, 0, &f.p0, &r, "y");
	/* An address type with no transport. */
	route_from(&r, "7#somewhere", NULL);
	send_text(&f, 0, &f.p0, &r, "z");
	/* Empty onward route. */
	sl_route_init(&r);
	send_text(&f, 0, &f.p0, &r, "w");
	for (int i = 0; i < 200; i++) {
		struct sl_shard_stats s0, s1;

		sl_node_stats(f.n, 0, &s0);
		sl_node_stats(f.n, 1, &s1);
		st = s0;
		st.drop_unknown += s1.drop_unknown;
		if (st.drop_unknown == 3 && st.drop_route == 1)
			break;
		sleep_ms(5);
	}
	cr_assert_eq(st.drop_unknown, 3);
	cr_assert_eq(st.drop_route, 1);
	cr_assert_null(probe_wait(&f.p0, 50), "a dropped message produced a reply");
	down(&f);
}

Test(router, echo_uppercase_hop)
{
	struct fixture f;
	struct sl_route r;
	struct sl_addr a;
	struct sl_msg *m;

	up(&f);
	route_from(&r, "echo", NULL);
	send_text(&f, 1, &f.p0, &r, "Echo Me");
	m = probe_wait(&f.p0, 2000);
	cr_assert_not_null(m);
	cr_assert_str_eq(msg_text(m), "Echo Me");
	cr_assert(sl_route_front(&m->ret, &a));
	cr_assert(sl_addr_is_local(&a, "echo"), "reply's return route starts at echo");
	sl_msg_free(m);

	route_from(&r, "uppercase", NULL);
	send_text(&f, 0, &f.p0, &r, "mixed Case 123");
	m = probe_wait(&f.p0, 2000);
	cr_assert_not_null(m);
	cr_assert_str_eq(msg_text(m), "MIXED CASE 123");
	sl_msg_free(m);

	/* hop forwards: the reply comes back through hop. */
	route_from(&r, "hop", "hop", "uppercase", NULL);
	send_text(&f, 0, &f.p0, &r, "via hops");
	m = probe_wait(&f.p0, 2000);
	cr_assert_not_null(m);
	cr_assert_str_eq(msg_text(m), "VIA HOPS");
	cr_assert(sl_route_front(&m->ret, &a));
	cr_assert(sl_addr_is_local(&a, "hop"));
	sl_msg_free(m);
	down(&f);
}

Test(router, uppercase_drops_malformed_bare)
{
	struct fixture f;
	struct sl_shard_stats st;
	struct sl_route r;
	struct sl_msg *m = sl_msg_alloc(8);

	up(&f);
	route_from(&r, "uppercase", NULL);
	sl_route_copy(&m->onward, &r);
	sl_route_push_front(&m->ret, SL_ADDR_LOCAL, "probe0", 6);
	m->data[0] = 0x7f;	/* claims 127 bytes, has 1 */
	m->data[1] = 'a';
	m->len = 2;
	sl_node_inject(f.n, 0, m);
	cr_assert_null(probe_wait(&f.p0, 200));
	sl_node_stats(f.n, 0, &st);
	cr_assert_eq(st.drop_other, 1);
	down(&f);
}

static unsigned depth_hits;

static void bounce_handle(struct sl_worker *w, struct sl_msg *m)
{
	/* Sends to itself forever: the router must not recurse without bound. */
	if (++depth_hits >= 10000) {
		sl_msg_free(m);
		return;
	}
	sl_send(w->shard, m);
}

static void start_bounce(struct sl_shard *s, void *arg)
{
	struct sl_worker *w = arg;

	w->handle = bounce_handle;
	cr_assert_eq(sl_worker_start(s, w, "bounce"), 0);
}

static void stop_bounce(struct sl_shard *s, void *arg)
{
	sl_worker_stop(arg);
}

Test(router, self_loop_is_deferred_not_recursed)
{
	struct fixture f;
	struct sl_worker w = { 0 };
	struct sl_route r;

	up(&f);
	call_on_shard(f.n, 0, start_bounce, &w);
	route_from(&r, "bounce", NULL);
	send_text(&f, 0, &f.p0, &r, "loop");
	for (int i = 0; i < 400 && __atomic_load_n(&depth_hits, __ATOMIC_RELAXED) < 10000; i++)
		sleep_ms(5);
	cr_assert_eq(__atomic_load_n(&depth_hits, __ATOMIC_RELAXED), 10000);
	call_on_shard(f.n, 0, stop_bounce, &w);
	down(&f);
}
