// SPDX-License-Identifier: Apache-2.0
/*
 * Secure channels on one in-process node (one shard, no transports): the
 * initiator and the `api` listener of the same node, with a `gate` worker
 * on the route that holds every handshake and data message, so the test can
 * forge, flip, replay and reorder them before letting the genuine one go.
 *
 *   state machine: every unexpected message in every state is dropped, and
 *                  the handshake then completes with the genuine message (so
 *                  nothing of the rejected ones was kept)
 *   tampering:     every bit of msg2, msg3 and a transport message flipped is
 *                  rejected; a replay is rejected; the channel survives
 *   KCI:           someone holding the responder's static key (and the
 *                  initiator's public identity) cannot make the responder
 *                  accept them as the initiator
 *   trust:         --authorized on both sides
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <sodium.h>

#include "crypto/noise.h"
#include "engine/secure_internal.h"
#include "tests/unit/crypto_vectors.h"
#include "tests/unit/sl_test_node.h"

TestSuite(secure, .timeout = 60);

/* Holds what reaches it; the test releases or forges. */
static struct probe gate;

struct done {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool called;
	int err;
	char addr[SL_RANDOM_ADDR_LEN + 1];
	uint8_t peer[SL_ID_LEN];
};

struct fixture {
	struct sl_node *n;
	struct sl_vault *va, *vb;	/* initiator's identity (default), responder's */
	struct probe app;		/* replies end here */
	struct done d;
};

static struct sl_vault *make_vault(const char *name)
{
	struct sl_identity_key key;
	uint8_t hist[1024];
	size_t hl;
	struct sl_vault *v;

	cr_assert_eq(sl_identity_create(&key, NULL, (uint64_t)time(NULL), SL_IDENTITY_TTL, hist,
					sizeof(hist), &hl), 0);
	v = sl_vault_create(name, hist, hl, &key, (uint64_t)time(NULL));
	sl_identity_key_wipe(&key);
	cr_assert_not_null(v);
	return v;
}

static void up(struct fixture *f, const uint8_t (*listener_auth)[SL_ID_LEN], unsigned nauth)
{
	struct sl_node_config cfg = { .name = "s", .shards = 1, .no_pin = true };
	struct sl_secure_listener_opts lo = { 0 };

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->d.lock, NULL);
	pthread_cond_init(&f->d.cond, NULL);
	cr_assert(sl_aead_available());
	f->n = sl_node_create(&cfg);
	cr_assert_not_null(f->n);
	cr_assert_eq(sl_services_start(f->n), 0);
	f->va = make_vault("a");
	f->vb = make_vault("b");
	cr_assert_eq(sl_secure_node_init(f->n, f->va), 0);
	cr_assert_eq(sl_secure_node_add_vault(f->n, f->vb), 0);
	lo.vault = f->vb;
	lo.authorized = listener_auth;
	lo.n_authorized = nauth;
	cr_assert_eq(sl_secure_listener_start(f->n, "l", &lo), 0);
	cr_assert_eq(probe_start(&gate, f->n, 0, "gate"), 0);
	cr_assert_eq(probe_start(&f->app, f->n, 0, "app"), 0);
	cr_assert_eq(sl_node_start(f->n), 0);
}

static void down(struct fixture *f)
{
	sl_node_stop(f->n);
	sl_node_join(f->n);
	sl_secure_node_fini(f->n);
	probe_drain(&gate);
	probe_drain(&f->app);
	sl_worker_stop(&gate.w);
	sl_worker_stop(&f->app.w);
	sl_node_destroy(f->n);
}

static struct sl_secure_node *sn_of(struct fixture *f)
{
	return sl_secure_node_get(f->n);
}

static size_t nchannels(struct fixture *f)
{
	struct sl_secure_node *sn = sn_of(f);
	size_t k;

	pthread_mutex_lock(&sn->lock);
	k = sn->nchannels;
	pthread_mutex_unlock(&sn->lock);
	return k;
}

static void on_done(void *arg, int err, const char *addr, const uint8_t *peer)
{
	struct done *d = arg;

	pthread_mutex_lock(&d->lock);
	d->called = true;
	d->err = err;
	if (!err) {
		memcpy(d->addr, addr, sizeof(d->addr));
		memcpy(d->peer, peer, SL_ID_LEN);
	}
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

static bool wait_done(struct done *d, unsigned ms)
{
	struct timespec ts;
	bool called;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&d->lock);
	while (!d->called && !pthread_cond_timedwait(&d->cond, &d->lock, &ts))
		;
	called = d->called;
	pthread_mutex_unlock(&d->lock);
	return called;
}

struct create_args {
	struct fixture *f;
	const char *listener;
	const uint8_t (*auth)[SL_ID_LEN];
	unsigned nauth;
	uint32_t timeout_ms;
	int ret;
};

static void create_call(struct sl_shard *s, void *arg)
{
	struct create_args *c = arg;
	struct sl_secure_opts o = { .authorized = c->auth, .n_authorized = c->nauth,
				    .timeout_ms = c->timeout_ms };
	struct sl_route to;

	/* Through the gate: it sees (and holds) every message of the channel. */
	route_from(&to, "gate", c->listener, NULL);
	c->ret = sl_secure_create(s, &to, &o, on_done, &c->f->d);
}

static void create(struct fixture *f, const char *listener, const uint8_t (*auth)[SL_ID_LEN],
		   unsigned nauth, uint32_t timeout_ms)
{
	struct create_args c = { f, listener, auth, nauth, timeout_ms, 0 };

	cr_assert_eq(call_on_shard(f->n, 0, create_call, &c), 0);
	cr_assert_eq(c.ret, 0);
}

/* Let a held message go on, as the gate would have forwarded it. */
static void release(struct fixture *f, struct sl_msg *m)
{
	sl_route_pop_front(&m->onward);
	sl_route_push_front(&m->ret, SL_ADDR_LOCAL, "gate", 4);
	cr_assert_eq(sl_node_inject(f->n, 0, m), 0);
}

static void settle(struct fixture *f);

/* A copy of held message m, with bit `bit` of its payload flipped (-1: none), sent on. */
static void inject_copy(struct fixture *f, const struct sl_msg *m, long bit)
{
	struct sl_msg *c = sl_msg_alloc(m->len);

	/* The control queue is bounded: let the shard catch up now and then. */
	if (bit % 128 == 127)
		settle(f);

	cr_assert_not_null(c);
	memcpy(c->data, m->data, m->len);
	c->len = m->len;
	if (bit >= 0)
		c->data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	sl_route_copy(&c->onward, &m->onward);
	sl_route_copy(&c->ret, &m->ret);
	release(f, c);
}

static struct sl_msg *dup(const struct sl_msg *m)
{
	struct sl_msg *c = sl_msg_alloc(m->len);

	cr_assert_not_null(c);
	memcpy(c->data, m->data, m->len);
	c->len = m->len;
	sl_route_copy(&c->onward, &m->onward);
	sl_route_copy(&c->ret, &m->ret);
	return c;
}

/* Wait until the shard has run everything queued so far. */
static void noop_call(struct sl_shard *s, void *arg)
{
}

static void settle(struct fixture *f)
{
	cr_assert_eq(call_on_shard(f->n, 0, noop_call, NULL), 0);
	cr_assert_eq(call_on_shard(f->n, 0, noop_call, NULL), 0);
}

static struct sl_msg *held(void)
{
	struct sl_msg *m = probe_wait(&gate, 2000);

	cr_assert_not_null(m, "nothing reached the gate");
	return m;
}

/* A message through the channel to echo and back to app: the reply's text. */
static void round_trip(struct fixture *f, const char *chan, const char *text, bool through_gate)
{
	struct sl_route r;
	struct sl_msg *m;

	route_from(&r, chan, "echo", NULL);
	m = msg_bare(&f->app, &r, text);
	cr_assert_eq(sl_node_inject(f->n, 0, m), 0);
	if (through_gate) {
		release(f, held());	/* request */
		release(f, held());	/* reply */
	}
	m = probe_wait(&f->app, 2000);
	cr_assert_not_null(m, "no reply through the channel");
	cr_assert_str_eq(msg_text(m), text);
	cr_assert(m->flags & SL_MSG_AUTHENTICATED);
	cr_assert(!memcmp(m->peer, f->vb->id, SL_ID_LEN), "the peer identifier travels with it");
	sl_msg_free(m);
}

/* Establish through the gate. */
static void establish(struct fixture *f)
{
	create(f, "l", NULL, 0, 5000);
	release(f, held());	/* msg1 */
	release(f, held());	/* msg2 */
	release(f, held());	/* msg3 */
	cr_assert(wait_done(&f->d, 2000));
	cr_assert_eq(f->d.err, 0);
	settle(f);
}

Test(secure, establishes_and_carries_the_peer_identifier)
{
	struct sl_secure_info info[4];
	struct fixture f;

	up(&f, NULL, 0);
	establish(&f);
	cr_assert(!memcmp(f.d.peer, f.vb->id, SL_ID_LEN));
	round_trip(&f, f.d.addr, "hello", true);
	cr_assert_eq(sl_secure_list(f.n, info, 4), 2, "both ends listed");
	down(&f);
}

/*
 * Roaming, as Ockam's responder does it: a newer message that came back a
 * new way (here through `hop` as well as the gate) moves the responder's
 * route to the initiator there; the next one the usual way moves it back.
 */
Test(secure, responder_follows_a_newer_message_a_new_way)
{
	struct sl_route r;
	struct sl_addr a;
	struct fixture f;
	struct sl_msg *m;

	up(&f, NULL, 0);
	establish(&f);
	round_trip(&f, f.d.addr, "before", true);

	route_from(&r, f.d.addr, "echo", NULL);
	cr_assert_eq(sl_node_inject(f.n, 0, msg_bare(&f.app, &r, "moved")), 0);
	m = held();
	sl_route_pop_front(&m->onward);
	sl_route_push_front(&m->ret, SL_ADDR_LOCAL, "gate", 4);
	sl_route_push_front(&m->ret, SL_ADDR_LOCAL, "hop", 3);	/* as if through gate, then hop */
	cr_assert_eq(sl_node_inject(f.n, 0, m), 0);
	m = held();	/* the reply: through hop first */
	cr_assert(sl_route_front(&m->ret, &a) && sl_addr_is_local(&a, "hop"),
		  "the responder did not take the new way");
	release(&f, m);
	m = probe_wait(&f.app, 2000);
	cr_assert_not_null(m);
	cr_assert_str_eq(msg_text(m), "moved");
	sl_msg_free(m);

	/* the usual way again: the reply comes straight to the gate */
	cr_assert_eq(sl_node_inject(f.n, 0, msg_bare(&f.app, &r, "back")), 0);
	release(&f, held());
	m = held();
	cr_assert(sl_route_empty(&m->ret), "the responder stayed on the old way");
	release(&f, m);
	m = probe_wait(&f.app, 2000);
	cr_assert_not_null(m);
	cr_assert_str_eq(msg_text(m), "back");
	sl_msg_free(m);
	down(&f);
}

Test(secure, every_bit_of_msg2_and_msg3_flipped_is_rejected_without_partial_state)
{
	struct fixture f;
	struct sl_msg *m1, *m1c, *m2, *m3;

	up(&f, NULL, 0);
	create(&f, "l", NULL, 0, 30000);
	m1 = held();
	m1c = dup(m1);
	release(&f, m1);
	m2 = held();
	/* Initiator waiting for msg2: every flipped copy is dropped... */
	for (long bit = 0; bit < (long)m2->len * 8; bit++)
		inject_copy(&f, m2, bit);
	settle(&f);
	cr_assert_not(f.d.called, "a flipped msg2 moved the initiator");
	/* ...as are the other unexpected messages: msg1 again, nothing, garbage. */
	sl_route_copy(&m1c->onward, &m2->onward);	/* msg1's bytes, to the initiator */
	inject_copy(&f, m1c, -1);
	sl_msg_free(m1c);
	{
		struct sl_msg *e = sl_msg_alloc(1);

		e->len = 0;
		sl_route_copy(&e->onward, &m2->onward);
		release(&f, e);
	}
	settle(&f);
	cr_assert_not(f.d.called);
	/* ...and the genuine one still works: nothing of them was kept. */
	release(&f, m2);
	m3 = held();
	for (long bit = 0; bit < (long)m3->len * 8; bit++)
		inject_copy(&f, m3, bit);
	settle(&f);
	cr_assert(wait_done(&f.d, 2000));
	cr_assert_eq(f.d.err, 0);
	{
		struct sl_secure_info info[4];

		/* the responder is still waiting: only the initiator is established */
		cr_assert_eq(sl_secure_list(f.n, info, 4), 1);
		release(&f, m3);
		settle(&f);
		cr_assert_eq(sl_secure_list(f.n, info, 4), 2);
	}
	round_trip(&f, f.d.addr, "after the storm", true);
	down(&f);
}

Test(secure, transport_tampering_and_replay_are_dropped_and_the_channel_lives)
{
	struct fixture f;
	struct sl_route r;
	struct sl_msg *m, *req;

	up(&f, NULL, 0);
	establish(&f);
	route_from(&r, f.d.addr, "echo", NULL);
	cr_assert_eq(sl_node_inject(f.n, 0, msg_bare(&f.app, &r, "genuine")), 0);
	req = held();
	for (long bit = 0; bit < (long)req->len * 8; bit++)
		inject_copy(&f, req, bit);
	settle(&f);
	cr_assert_null(probe_wait(&gate, 0), "a flipped frame was accepted");
	inject_copy(&f, req, -1);	/* the genuine one, first time */
	release(&f, held());		/* its reply */
	m = probe_wait(&f.app, 2000);
	cr_assert_not_null(m);
	cr_assert_str_eq(msg_text(m), "genuine");
	sl_msg_free(m);
	release(&f, req);		/* a replay */
	settle(&f);
	cr_assert_null(probe_wait(&gate, 0), "a replayed frame was accepted");
	round_trip(&f, f.d.addr, "still alive", true);
	down(&f);
}

Test(secure, many_messages_across_rekeys_and_close_both_ways)
{
	struct sl_secure_info info[4];
	struct fixture f;
	char text[32];

	up(&f, NULL, 0);
	establish(&f);
	for (int i = 0; i < 100; i++) {
		snprintf(text, sizeof(text), "m%d", i);
		round_trip(&f, f.d.addr, text, true);
	}
	cr_assert_eq(sl_secure_close(f.n, f.d.addr), 0);
	settle(&f);
	release(&f, held());		/* the Close */
	settle(&f);
	cr_assert_eq(sl_secure_list(f.n, info, 4), 0, "Close ends both halves");
	cr_assert_eq(nchannels(&f), 0);
	cr_assert_eq(sl_secure_close(f.n, f.d.addr), -ENOENT);
	down(&f);
}

Test(secure, handshake_timeout_reports_and_frees)
{
	struct fixture f;

	up(&f, NULL, 0);
	create(&f, "nobody", NULL, 0, 200);
	sl_msg_free(held());		/* msg1 goes nowhere */
	cr_assert(wait_done(&f.d, 3000));
	cr_assert_eq(f.d.err, -ETIMEDOUT);
	settle(&f);
	cr_assert_eq(nchannels(&f), 0);
	down(&f);
}

Test(secure, initiator_refuses_an_unauthorized_responder_at_once)
{
	uint8_t other[1][SL_ID_LEN] = { { 1 } };
	struct fixture f;

	up(&f, NULL, 0);
	create(&f, "l", (const uint8_t (*)[SL_ID_LEN])other, 1, 5000);
	release(&f, held());
	release(&f, held());		/* msg2: checked, refused */
	cr_assert(wait_done(&f.d, 2000));
	cr_assert_eq(f.d.err, -EACCES);
	settle(&f);
	cr_assert_null(probe_wait(&gate, 0), "msg3 was sent to a refused responder");
	down(&f);
}

Test(secure, listener_refuses_an_unauthorized_initiator_silently)
{
	uint8_t other[1][SL_ID_LEN] = { { 1 } };
	struct sl_secure_info info[4];
	struct fixture f;

	up(&f, (const uint8_t (*)[SL_ID_LEN])other, 1);
	establish(&f);	/* the initiator cannot know */
	settle(&f);
	cr_assert_eq(sl_secure_list(f.n, info, 4), 1, "the responder kept nothing");
	cr_assert(info[0].initiator);
	cr_assert_null(probe_wait(&gate, 0), "the responder answered on the wire");
	down(&f);
}

Test(secure, kci_stolen_responder_key_does_not_impersonate_the_initiator)
{
	uint8_t auth[1][SL_ID_LEN];
	struct sl_secure_info info[4];
	struct fixture f;
	struct sl_noise_config cfg = {
		.role = SL_NOISE_INITIATOR, .cipher = SL_AEAD_AESGCM, .split = SL_NOISE_SPLIT_OCKAM,
		.name = (const uint8_t *)SL_NOISE_OCKAM_NAME, .name_len = 32,
	};
	uint8_t attacker_sk[32], attacker_pk[32], buf[2048], rs[32];
	const uint8_t *p;
	size_t n, len;

	up(&f, NULL, 0);
	memcpy(auth[0], f.va->id, SL_ID_LEN);
	sl_secure_listener_stop(f.n, "l", NULL, NULL);
	{
		struct sl_secure_listener_opts lo = { .vault = f.vb,
			.authorized = (const uint8_t (*)[SL_ID_LEN])auth, .n_authorized = 1 };

		settle(&f);
		cr_assert_eq(sl_secure_listener_start(f.n, "l", &lo), 0);
		settle(&f);
	}
	/*
	 * The attacker holds the responder's static secret (f.vb->static_sk) and
	 * A's public identity and attestation (f.va->idcreds), but not A's static
	 * secret. Two tries, both over the real listener:
	 *  1. claim A's static key in msg3 (static_pk lies): se cannot be computed,
	 *  2. use its own static key with A's identity payload: the attestation
	 *     names another key.
	 */
	for (int attempt = 0; attempt < 2; attempt++) {
		struct sl_noise *hs;
		struct sl_route to;
		struct sl_msg *m;

		crypto_box_keypair(attacker_pk, attacker_sk);
		cfg.static_sk = attacker_sk;
		cfg.static_pk = attempt == 0 ? f.va->static_pk : attacker_pk;
		hs = sl_noise_new(&cfg);
		cr_assert_not_null(hs);
		cr_assert_eq(sl_noise_write_msg1(hs, buf, sizeof(buf), &len, NULL, 0), 0);
		m = sl_msg_alloc(len);
		memcpy(m->data, buf, len);
		m->len = (uint32_t)len;
		route_from(&to, "l", NULL);
		sl_route_copy(&m->onward, &to);
		sl_route_push_front(&m->ret, SL_ADDR_LOCAL, "gate", 4);
		cr_assert_eq(sl_node_inject(f.n, 0, m), 0);
		m = held();		/* msg2 */
		cr_assert_eq(sl_noise_read_msg2(hs, m->data, m->len, rs, &p, &n), 0);
		/* the stolen key is indeed the responder's: the attacker can check it */
		cr_assert(!memcmp(rs, f.vb->static_pk, 32));
		cr_assert_eq(sl_noise_write_msg3(hs, buf, sizeof(buf), &len, f.va->idcreds,
						 f.va->idcreds_len), 0);
		sl_route_copy(&to, &m->ret);
		sl_msg_free(m);
		m = sl_msg_alloc(len);
		memcpy(m->data, buf, len);
		m->len = (uint32_t)len;
		sl_route_copy(&m->onward, &to);
		cr_assert_eq(sl_node_inject(f.n, 0, m), 0);
		settle(&f);
		cr_assert_eq(sl_secure_list(f.n, info, 4), 0, "attempt %d impersonated A", attempt + 1);
		cr_assert_null(probe_wait(&gate, 0));
		sl_noise_free(hs);
	}
	sodium_memzero(attacker_sk, sizeof(attacker_sk));
	down(&f);
}

Test(secure, padded_message_decoding)
{
	static const uint8_t close_msg[] = { 0x82, 0x82, 0x02, 0x80, 0x40 };
	static const uint8_t bad[][8] = {
		{ 0x82, 0x82, 0x04, 0x80, 0x40 },	/* unknown variant */
		{ 0x81, 0x82, 0x02, 0x80 },		/* no padding */
		{ 0x82, 0x82, 0x02, 0x80, 0x40, 0x00 },	/* trailing byte */
		{ 0x82, 0x82, 0x02, 0x80, 0x80 },	/* padding not bytes */
		/* Payload fields without the one-field wrapper (Sluice's old bug) */
		{ 0x82, 0x82, 0x00, 0x83, 0x80, 0x80, 0x40, 0x40 },
		{ 0x82, 0x82, 0x00, 0x80, 0x40 },	/* Payload without its struct */
		{ 0x82, 0x82, 0x01, 0x81, 0x81, 0x80, 0x40 },	/* Refresh: no credentials */
	};
	static const size_t bad_len[] = { 5, 4, 6, 5, 8, 5, 7 };
	/* [[0, [[[[0, h'61']], [], h'6869']]], h''] */
	static const uint8_t payload[] = { 0x82, 0x82, 0x00, 0x81, 0x83, 0x81, 0x82, 0x00, 0x41,
					   0x61, 0x80, 0x42, 0x68, 0x69, 0x40 };
	struct sl_route on, ret;
	struct sl_secure_msg sm;

	cr_assert_eq(sl_secure_msg_decode(close_msg, sizeof(close_msg), &sm, NULL, NULL), 0);
	cr_assert_eq(sm.kind, SL_SECURE_CLOSE);
	for (size_t i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++)
		cr_assert_eq(sl_secure_msg_decode(bad[i], bad_len[i], &sm, NULL, NULL), -EBADMSG,
			     "case %zu", i);
	cr_assert_eq(sl_secure_msg_decode(payload, sizeof(payload), &sm, &on, &ret), 0);
	cr_assert_eq(sm.kind, SL_SECURE_PAYLOAD);
	cr_assert_eq(on.n, 1);
	cr_assert_eq(ret.n, 0);
	cr_assert_eq(sm.payload_len, 2);
	cr_assert(!memcmp(sm.payload, "hi", 2));
}

static bool addr_is(const struct sl_route *r, size_t i, uint8_t type, const char *body)
{
	size_t it = 0;
	struct sl_addr a;

	for (size_t k = 0; sl_route_next(r, &it, &a); k++)
		if (k == i)
			return a.type == type && a.len == strlen(body) &&
			       !memcmp(a.body, body, a.len);
	return false;
}

/*
 * A Payload in the form we and Ockam write takes the one-pass reader; any
 * other form the general one. Both must read the same fields, and refuse
 * the same malformed bytes (the routes given, so the one-pass reader tries).
 */
Test(secure, payload_fast_and_general_forms_agree)
{
	/* [[0, [[[[0, h'61']], [[1, h'6263']], h'6869']]], h''] and other spellings of it */
	static const uint8_t forms[][24] = {
		{ 0x82, 0x82, 0x00, 0x81, 0x83, 0x81, 0x82, 0x00, 0x41, 0x61, 0x81, 0x82, 0x01,
		  0x42, 0x62, 0x63, 0x42, 0x68, 0x69, 0x40 },
		/* padding h'00' */
		{ 0x82, 0x82, 0x00, 0x81, 0x83, 0x81, 0x82, 0x00, 0x41, 0x61, 0x81, 0x82, 0x01,
		  0x42, 0x62, 0x63, 0x42, 0x68, 0x69, 0x41, 0x00 },
		/* an indefinite onward route */
		{ 0x82, 0x82, 0x00, 0x81, 0x83, 0x9f, 0x82, 0x00, 0x41, 0x61, 0xff, 0x81, 0x82,
		  0x01, 0x42, 0x62, 0x63, 0x42, 0x68, 0x69, 0x40 },
		/* an address with a field more (ignored) */
		{ 0x82, 0x82, 0x00, 0x81, 0x83, 0x81, 0x83, 0x00, 0x41, 0x61, 0x00, 0x81, 0x82,
		  0x01, 0x42, 0x62, 0x63, 0x42, 0x68, 0x69, 0x40 },
	};
	static const size_t forms_len[] = { 20, 21, 21, 21 };
	static const uint8_t bad[][24] = {
		/* a byte after the padding */
		{ 0x82, 0x82, 0x00, 0x81, 0x83, 0x80, 0x80, 0x42, 0x68, 0x69, 0x40, 0x40 },
		/* the payload one byte short of the padding */
		{ 0x82, 0x82, 0x00, 0x81, 0x83, 0x80, 0x80, 0x41, 0x68, 0x69, 0x40 },
		/* the payload running over the end */
		{ 0x82, 0x82, 0x00, 0x81, 0x83, 0x80, 0x80, 0x43, 0x68, 0x69, 0x40 },
		/* an address body running over the end */
		{ 0x82, 0x82, 0x00, 0x81, 0x83, 0x81, 0x82, 0x00, 0x4f, 0x61, 0x40 },
		/* the struct of two fields */
		{ 0x82, 0x82, 0x00, 0x81, 0x82, 0x80, 0x80, 0x40 },
	};
	static const size_t bad_len[] = { 12, 11, 11, 11, 8 };
	struct sl_route on, ret;
	struct sl_secure_msg sm;

	for (size_t i = 0; i < sizeof(forms_len) / sizeof(forms_len[0]); i++) {
		cr_assert_eq(sl_secure_msg_decode(forms[i], forms_len[i], &sm, &on, &ret), 0,
			     "form %zu", i);
		cr_assert_eq(sm.kind, SL_SECURE_PAYLOAD);
		cr_assert_eq(on.n, 1, "form %zu", i);
		cr_assert(addr_is(&on, 0, SL_ADDR_LOCAL, "a"), "form %zu", i);
		cr_assert_eq(ret.n, 1, "form %zu", i);
		cr_assert(addr_is(&ret, 0, SL_ADDR_TCP, "bc"), "form %zu", i);
		cr_assert_eq(sm.payload_len, 2, "form %zu", i);
		cr_assert(!memcmp(sm.payload, "hi", 2));
	}
	for (size_t i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++)
		cr_assert_eq(sl_secure_msg_decode(bad[i], bad_len[i], &sm, &on, &ret), -EBADMSG,
			     "bad %zu", i);
}

/*
 * G8: the encoder writes exactly the vector's plaintext, and sealed under
 * G7's k2 it is the vector's first frame; the decoder reads the fields back
 * from the vector's bytes, after opening the vector's ciphertext.
 */
Test(secure, payload_matches_vector_both_ways)
{
	struct tv_bytes k2 = tv_txt_hex("# G7.", "k2");
	struct tv_bytes pt = tv_txt_hex("# G8.", "sc_plaintext_payload");
	struct tv_bytes w0 = tv_txt_hex("# G8.", "initiator_to_responder_nonce0");
	static const uint8_t hello[] = { 0x05, 'h', 'e', 'l', 'l', 'o' };
	struct sl_route on, ret, don, dret;
	struct sl_cipher_enc e;
	struct sl_cipher_dec d;
	struct sl_secure_msg sm;
	uint8_t buf[256];
	size_t head, wl, pl;

	sl_route_init(&on);
	sl_route_init(&ret);
	cr_assert_eq(sl_route_push_back(&on, SL_ADDR_LOCAL, "uppercase", 9), 0);
	cr_assert_eq(sl_route_push_back(&ret, SL_ADDR_LOCAL, "app", 3), 0);
	head = sl_secure_payload_head_len(&on, &ret, sizeof(hello));
	cr_assert_eq(sl_secure_payload_head(buf + 8, head, &on, &ret, sizeof(hello)), 0);
	memcpy(buf + 8 + head, hello, sizeof(hello));
	buf[8 + head + sizeof(hello)] = 0x40;
	cr_assert_eq(head + sizeof(hello) + 1, pt.len);
	cr_assert_arr_eq(buf + 8, pt.p, pt.len, "plaintext differs from G8 sc_plaintext_payload");
	cr_assert_eq(sl_cipher_enc_init(&e, k2.p), 0);
	cr_assert_eq(sl_cipher_seal(&e, buf, pt.len, sizeof(buf), &wl), 0);
	cr_assert_eq(wl, w0.len);
	cr_assert_arr_eq(buf, w0.p, wl);

	cr_assert_eq(sl_cipher_dec_init(&d, k2.p), 0);
	memcpy(buf, w0.p, w0.len);
	cr_assert_eq(sl_cipher_open(&d, buf, w0.len, &pl, NULL), 0);
	cr_assert_eq(sl_secure_msg_decode(buf + 8, pl, &sm, &don, &dret), 0);
	cr_assert_eq(sm.kind, SL_SECURE_PAYLOAD);
	cr_assert_eq(don.n, 1);
	cr_assert(addr_is(&don, 0, SL_ADDR_LOCAL, "uppercase"));
	cr_assert_eq(dret.n, 1);
	cr_assert(addr_is(&dret, 0, SL_ADDR_LOCAL, "app"));
	cr_assert_eq(sm.payload_len, sizeof(hello));
	cr_assert_arr_eq(sm.payload, hello, sizeof(hello));
	sl_cipher_enc_wipe(&e);
	sl_cipher_dec_wipe(&d);
	free(k2.p);
	free(pt.p);
	free(w0.p);
}

/* Section C: Rust's RefreshCredentials and Close decode to their fields. */
Test(secure, refresh_credentials_from_rust_decodes)
{
	struct tv_bytes rc = tv_txt_hex("## C.", "refresh_credentials");
	struct tv_bytes cl = tv_txt_hex("## C.", "close");
	struct sl_identity *id = malloc(sizeof(*id));
	struct sl_cbor_reader rd;
	struct sl_cbor_array a;
	struct sl_secure_msg sm;
	int n = 0;

	cr_assert_eq(sl_secure_msg_decode(cl.p, cl.len, &sm, NULL, NULL), 0);
	cr_assert_eq(sm.kind, SL_SECURE_CLOSE);
	cr_assert_eq(sl_secure_msg_decode(rc.p, rc.len, &sm, NULL, NULL), 0);
	cr_assert_eq(sm.kind, SL_SECURE_REFRESH);
	/* The history is a whole ChangeHistory that verifies; one credential follows. */
	cr_assert_eq(sl_identity_decode(id, sm.history, sm.history_len), 0);
	cr_assert_eq(sl_identity_verify(id), 0);
	cr_assert_eq(id->n, 1);
	sl_cbor_reader_init(&rd, sm.credentials, sm.credentials_len);
	cr_assert_eq(sl_cbor_array_enter(&rd, &a), 0);
	while (sl_cbor_array_next(&rd, &a) > 0) {
		cr_assert_eq(sl_cbor_skip(&rd), 0);
		n++;
	}
	cr_assert_eq(n, 1);
	cr_assert(sm.credentials + sm.credentials_len == rc.p + rc.len - 1,
		  "credentials end where the padding starts");
	free(id);
	free(rc.p);
	free(cl.p);
}

/* RefreshCredentials as Ockam applies it: same identity, equal or newer history. */
Test(secure, refresh_credentials_rules)
{
	struct sl_identity_key ka, ka2, ka3, kb;
	uint8_t ha[1024], ha2[2048], ha3[2048], hb[1024];
	size_t la, la2, la3, lb;
	struct sl_identity *id = malloc(sizeof(*id));
	struct sl_channel *c = calloc(1, sizeof(*c));
	struct sl_secure_msg sm = { .kind = SL_SECURE_REFRESH };
	uint64_t now = (uint64_t)time(NULL);
	static const uint8_t junk[] = { 0x81, 0x80 };

	cr_assert_eq(sl_identity_create(&ka, NULL, now, SL_IDENTITY_TTL, ha, sizeof(ha), &la), 0);
	cr_assert_eq(sl_identity_create(&kb, NULL, now, SL_IDENTITY_TTL, hb, sizeof(hb), &lb), 0);
	cr_assert_eq(sl_identity_decode(id, ha, la), 0);
	cr_assert_eq(sl_identity_verify(id), 0);
	/* Two different rotations of A: a2 (the newer the channel learns) and a3 (a fork). */
	cr_assert_eq(sl_identity_rotate(id, &ka, &ka2, NULL, now, SL_IDENTITY_TTL, ha2,
					sizeof(ha2), &la2), 0);
	cr_assert_eq(sl_identity_rotate(id, &ka, &ka3, NULL, now, SL_IDENTITY_TTL, ha3,
					sizeof(ha3), &la3), 0);
	memcpy(c->peer, id->id, SL_ID_LEN);
	sl_channel_set_peer_head(c, id);

#define REFRESH(h, l) (sm.history = (h), sm.history_len = (l), sl_channel_refresh(c, &sm))
	cr_assert_null(REFRESH(ha, la), "the same history is accepted");
	cr_assert_eq(c->peer_changes, 1);
	cr_assert_str_eq(REFRESH(hb, lb), "other_identity");
	cr_assert_str_eq(REFRESH(junk, sizeof(junk)), "history_invalid");
	cr_assert_null(REFRESH(ha2, la2), "a newer history is accepted");
	cr_assert_eq(c->peer_changes, 2);
	cr_assert_eq(c->refreshed, 2);
	cr_assert_str_eq(REFRESH(ha, la), "history_older");
	cr_assert_str_eq(REFRESH(ha3, la3), "history_conflict");
	cr_assert_eq(c->peer_changes, 2, "a refused refresh changes nothing");
	cr_assert_null(REFRESH(ha2, la2));
#undef REFRESH
	sl_identity_key_wipe(&ka);
	sl_identity_key_wipe(&ka2);
	sl_identity_key_wipe(&ka3);
	sl_identity_key_wipe(&kb);
	free(c);
	free(id);
}

/* Set by the listener stop's gone callback, from a shard thread. */
struct gone_flag {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool gone;
};

static void on_gone(void *arg)
{
	struct gone_flag *g = arg;

	pthread_mutex_lock(&g->lock);
	g->gone = true;
	pthread_cond_signal(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

/*
 * A stop's gone callback comes once no shard has the address, so a listener
 * made at once afterwards under the same address starts (what a control
 * `secure-channel-listener delete` waits for before it answers).
 */
Test(secure, listener_address_is_free_when_its_stop_says_gone)
{
	struct sl_node_config cfg = { .name = "g", .shards = 4, .no_pin = true };
	struct sl_secure_listener_opts lo = { 0 };
	struct gone_flag g = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	struct sl_vault *v = make_vault("g");
	struct sl_node *n = sl_node_create(&cfg);

	cr_assert_not_null(n);
	cr_assert_eq(sl_secure_node_init(n, v), 0);
	cr_assert_eq(sl_node_start(n), 0);
	for (int i = 0; i < 200; i++) {
		int ret = sl_secure_listener_start(n, "again", &lo);

		cr_assert_eq(ret, 0, "round %d: start after gone: %d", i, ret);
		g.gone = false;
		cr_assert_eq(sl_secure_listener_stop(n, "again", on_gone, &g), 0);
		pthread_mutex_lock(&g.lock);
		while (!g.gone)
			pthread_cond_wait(&g.cond, &g.lock);
		pthread_mutex_unlock(&g.lock);
	}
	cr_assert_eq(sl_secure_listener_stop(n, "nothing", on_gone, &g), -ENOENT);
	sl_node_stop(n);
	sl_node_join(n);
	sl_secure_node_fini(n);
	sl_node_destroy(n);
}
