// SPDX-License-Identifier: Apache-2.0
/*
 * The handshake of a secure channel (PROTOCOL.md 5), run by the channel's
 * decryptor worker until it is established:
 *
 *   initiator                                responder (one per msg1)
 *   -> e                 msg1 to <route>/api from [decryptor]
 *                        <- e, ee, s, es     msg2 = e || enc(s) || enc(IdentityAndCredentials)
 *   verify the responder, check trust, then
 *   -> s, se             msg3 = enc(s) || enc(IdentityAndCredentials) to msg2's return route
 *                                            verify the initiator, check trust
 *
 * A message that is not the expected handshake message (it does not parse or
 * does not authenticate) is dropped and the handshake keeps waiting: the
 * Noise object is all-or-nothing, so nothing of it was kept, and the timeout
 * bounds the wait. A genuine message whose identity does not verify, or a
 * peer outside the trust list, aborts the handshake silently: Ockam sends
 * no error on the wire.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "engine/clock.h"
#include "engine/log.h"
#include "engine/router.h"
#include "engine/secure_internal.h"
#include "engine/shard.h"
#include "engine/timer.h"

static struct sl_noise *noise_new(enum sl_noise_role role, const struct sl_vault *v)
{
	struct sl_noise_config cfg = {
		.role = role,
		.cipher = SL_AEAD_AESGCM,
		.split = SL_NOISE_SPLIT_OCKAM,
		.name = (const uint8_t *)SL_NOISE_OCKAM_NAME,
		.name_len = sizeof(SL_NOISE_OCKAM_NAME) - 1,
		.static_sk = v->static_sk,
		.static_pk = v->static_pk,
	};

	return sl_noise_new(&cfg);
}

/* A handshake that ended on shard s without a channel, by reason (metrics). */
static void count_failed(struct sl_shard *s, int err)
{
	if (!s)
		return;
	switch (err) {
	case -ETIMEDOUT:
		SL_STAT_INC(s, hs_timeout);
		break;
	case -EACCES:
		SL_STAT_INC(s, hs_unauthorized);
		break;
	case -EKEYEXPIRED:
		SL_STAT_INC(s, hs_expired);
		break;
	case -EKEYREJECTED:
		SL_STAT_INC(s, hs_invalid);
		break;
	default:
		SL_STAT_INC(s, hs_other);
	}
}

/* The initiator's answer, then the channel goes (err != 0). */
static void fail(struct sl_channel *c, int err)
{
	sl_secure_done_fn done = c->hs->done;
	void *arg = c->hs->arg;

	/* Told here, once: not again (-ECANCELED) when the abort frees the channel. */
	c->hs->done = NULL;
	count_failed(c->dec.shard, err);
	sl_channel_abort(c);
	if (done)
		done(arg, err, NULL, NULL);
}

static void timeout_fire(struct sl_timer *t)
{
	struct sl_handshake *hs = container_of(t, struct sl_handshake, timer);
	struct sl_channel *c = hs->channel;
	struct sl_shard *s = c->dec.shard;

	/* A responder held past the node's handshake-timeout: its place is freed. */
	if (!c->initiator && s) {
		SL_STAT_INC(s, limit_hs_timeout);
		if (sl_router_log_ok(s))
			sl_log(SL_LOG_INFO, "node=%s event=handshake_dropped reason=limit "
			       "limit=handshake-timeout timeout_ms=%u",
			       sl_node_name(c->sn->node), SL_NODE_LIMIT(c->sn->node, hs_timeout_ms));
	}
	fail(c, -ETIMEDOUT);
}

static uint8_t *idcache_slot(struct sl_secure_node *sn, const uint8_t digest[32])
{
	return sn->idcache[(digest[0] | (unsigned)digest[1] << 8) % SL_SECURE_IDCACHE];
}

static bool idcache_has(struct sl_secure_node *sn, const uint8_t digest[32])
{
	bool hit;

	pthread_mutex_lock(&sn->idcache_lock);
	hit = !sodium_memcmp(idcache_slot(sn, digest), digest, 32);
	pthread_mutex_unlock(&sn->idcache_lock);
	return hit;
}

static void idcache_add(struct sl_secure_node *sn, const uint8_t digest[32])
{
	pthread_mutex_lock(&sn->idcache_lock);
	memcpy(idcache_slot(sn, digest), digest, 32);
	pthread_mutex_unlock(&sn->idcache_lock);
}

/*
 * The peer's IdentityAndCredentials: its change history verifies, its
 * attestation names rs (the Noise static key it just proved), and it is
 * within its validity now. Then the trust list. 0 with id set, or -errno.
 * Bytes seen verified before skip the signatures (idcache), not the rest.
 */
static int check_peer(struct sl_channel *c, const uint8_t rs[32], const uint8_t *p,
		      size_t n, uint8_t id[SL_ID_LEN])
{
	const struct sl_handshake *hs = c->hs;
	struct sl_idcreds *ic = malloc(sizeof(*ic));
	uint8_t digest[32];
	int ret;

	if (!ic)
		return -ENOMEM;
	crypto_hash_sha256(digest, p, n);
	ret = sl_idcreds_decode(ic, p, n);
	if (!ret && idcache_has(c->sn, digest)) {
		ret = sl_idcreds_check_known(ic, rs, sl_wall_s());
	} else if (!ret) {
		ret = sl_idcreds_verify(ic, rs, sl_wall_s());
		if (!ret)
			idcache_add(c->sn, digest);
	}
	if (!ret) {
		memcpy(id, ic->identity.id, SL_ID_LEN);
		/* What a later RefreshCredentials must extend. */
		sl_channel_set_peer_head(c, &ic->identity);
	}
	free(ic);
	if (ret)
		return ret == -EKEYEXPIRED ? ret : -EKEYREJECTED;
	if (hs->listener)
		return sl_trusted((const uint8_t (*)[SL_ID_LEN])hs->listener->authorized,
				  hs->listener->n_authorized, id) ? 0 : -EACCES;
	return sl_trusted((const uint8_t (*)[SL_ID_LEN])hs->authorized, hs->n_authorized, id) ?
		       0 : -EACCES;
}

static int finish(struct sl_channel *c, const uint8_t peer[SL_ID_LEN])
{
	struct sl_noise_keys keys;
	int ret;

	ret = sl_noise_split(c->hs->noise, &keys);
	if (!ret)
		ret = sl_channel_establish(c, &keys, peer);
	sodium_memzero(&keys, sizeof(keys));
	if (ret)
		count_failed(c->dec.shard, -ENOMEM);	/* keys or a worker: "other" */
	else
		SL_STAT_INC(c->dec.shard, hs_ok);
	return ret;
}

static void log_rejected(const struct sl_channel *c, const uint8_t id[SL_ID_LEN], int err)
{
	char text[SL_ID_TEXT_LEN + 1] = "-";

	/* Only a refused peer proved who it is; an invalid one did not. */
	if (err == -EACCES)
		sl_identity_id_format(id, text);
	sl_log(SL_LOG_INFO, "event=secure_channel_rejected role=%s peer=%s reason=%s",
	       c->initiator ? "initiator" : "responder", text,
	       err == -EACCES ? "not_authorized" : err == -EKEYEXPIRED ? "expired" : "invalid_identity");
}

/* Responder: msg1 in, msg2 out along msg1's return route. */
static void on_msg1(struct sl_channel *c, struct sl_msg *m)
{
	struct sl_handshake *hs = c->hs;
	const struct sl_vault *v = hs->vault;
	const uint8_t *p;
	size_t n, len;

	hs->noise = noise_new(SL_NOISE_RESPONDER, v);
	if (!hs->noise || sl_noise_read_msg1(hs->noise, m->data, m->len, &p, &n) ||
	    sl_channel_set_remote(c, &m->ret) ||
	    sl_msg_reserve(&m, SL_NOISE_MSG2_OVERHEAD + v->idcreds_len) ||
	    /* e, ee, s, es; payload = our identity and the attestation of s */
	    sl_noise_write_msg2(hs->noise, m->data, m->cap - sl_msg_headroom(m), &len,
				v->idcreds, v->idcreds_len)) {
		sl_shard_count_drop(c->dec.shard);
		sl_msg_free(m);
		sl_channel_abort(c);
		return;
	}
	m->len = (uint32_t)len;
	m->flags = 0;
	hs->timer.fire = timeout_fire;
	sl_timer_arm(c->dec.shard, &hs->timer,
		     (uint64_t)SL_NODE_LIMIT(c->sn->node, hs_timeout_ms) * 1000000);
	sl_reply(&c->dec, m);
}

/* Initiator: msg2 in; verify the responder; msg3 out; established. */
static void on_msg2(struct sl_channel *c, struct sl_msg *m)
{
	struct sl_handshake *hs = c->hs;
	const struct sl_vault *v = hs->vault;
	uint8_t rs[32], peer[SL_ID_LEN];
	sl_secure_done_fn done;
	const uint8_t *p;
	size_t n, len;
	void *arg;
	int ret;

	/* e, ee, s, es */
	if (sl_noise_read_msg2(hs->noise, m->data, m->len, rs, &p, &n)) {
		sl_shard_count_drop(c->dec.shard);
		sl_msg_free(m);
		return;
	}
	ret = check_peer(c, rs, p, n, peer);
	if (ret) {
		log_rejected(c, peer, ret);
		sl_msg_free(m);
		fail(c, ret);
		return;
	}
	/* Data goes where msg2 came from: the responder's decryptor. */
	ret = sl_channel_set_remote(c, &m->ret);
	if (!ret)
		ret = sl_msg_reserve(&m, SL_NOISE_MSG3_OVERHEAD + v->idcreds_len);
	/* s, se */
	if (!ret)
		ret = sl_noise_write_msg3(hs->noise, m->data, m->cap - sl_msg_headroom(m), &len,
					  v->idcreds, v->idcreds_len);
	if (ret) {
		sl_msg_free(m);
		fail(c, ret == -ENOBUFS ? -ENOMEM : ret);
		return;
	}
	done = hs->done;	/* hs is gone after finish() */
	arg = hs->arg;
	hs->done = NULL;	/* told below, once, whatever finish() does */
	ret = finish(c, peer);
	if (ret) {
		sl_msg_free(m);
		sl_channel_abort(c);
		if (done)
			done(arg, ret, NULL, NULL);
		return;
	}
	m->len = (uint32_t)len;
	m->flags = 0;
	sl_reply(&c->dec, m);
	if (done)
		done(arg, 0, c->enc.addr, c->peer);
}

/* Responder: msg3 in; verify the initiator; established. */
static void on_msg3(struct sl_channel *c, struct sl_msg *m)
{
	struct sl_handshake *hs = c->hs;
	uint8_t rs[32], peer[SL_ID_LEN];
	const uint8_t *p;
	size_t n;
	int ret;

	/* s, se */
	if (sl_noise_read_msg3(hs->noise, m->data, m->len, rs, &p, &n)) {
		sl_shard_count_drop(c->dec.shard);
		sl_msg_free(m);
		return;
	}
	ret = check_peer(c, rs, p, n, peer);
	sl_msg_free(m);
	if (ret) {
		log_rejected(c, peer, ret);
		count_failed(c->dec.shard, ret);
		sl_channel_abort(c);
		return;
	}
	if (finish(c, peer))
		sl_channel_abort(c);
}

void sl_handshake_on_msg(struct sl_channel *c, struct sl_msg *m)
{
	struct sl_handshake *hs = c->hs;

	if (!hs->noise) {
		on_msg1(c, m);
		return;
	}
	switch (sl_noise_state(hs->noise)) {
	case SL_NOISE_WAIT_MSG2:
		on_msg2(c, m);
		return;
	case SL_NOISE_WAIT_MSG3:
		on_msg3(c, m);
		return;
	default:
		sl_shard_count_drop(c->dec.shard);
		sl_msg_free(m);
	}
}

int sl_secure_create(struct sl_shard *s, const struct sl_route *to,
		     const struct sl_secure_opts *opts, sl_secure_done_fn done, void *arg)
{
	struct sl_secure_node *sn = sl_secure_node_get(sl_shard_node(s));
	struct sl_handshake *hs;
	struct sl_channel *c;
	struct sl_msg *m;
	size_t len;
	int ret;

	if (!sn || !(opts->vault || sn->vaults))
		return -ENOENT;
	if (sl_route_empty(to) || opts->n_authorized > SL_SECURE_MAX_AUTHORIZED)
		return -EINVAL;
	c = sl_channel_new(sn, true);
	if (!c)
		return -ENOMEM;
	hs = c->hs;
	hs->vault = opts->vault ? opts->vault : sn->vaults;
	hs->n_authorized = opts->n_authorized;
	if (opts->n_authorized)
		memcpy(hs->authorized, opts->authorized, opts->n_authorized * SL_ID_LEN);
	hs->noise = noise_new(SL_NOISE_INITIATOR, hs->vault);
	m = sl_msg_alloc(SL_NOISE_MSG1_OVERHEAD);
	ret = hs->noise && m ? 0 : -ENOMEM;
	if (!ret)
		ret = sl_channel_start_dec(c, s);
	/* -> e */
	if (!ret)
		ret = sl_noise_write_msg1(hs->noise, m->data, m->cap - sl_msg_headroom(m), &len,
					  NULL, 0);
	if (ret) {
		if (m)
			sl_msg_free(m);
		sl_channel_abort(c);
		return ret;
	}
	/* Only now: the caller hears of failures above from the return value alone. */
	hs->done = done;
	hs->arg = arg;
	hs->done_at_teardown = opts->done_at_teardown;
	m->len = (uint32_t)len;
	sl_route_copy(&m->onward, to);
	sl_route_push_front(&m->ret, SL_ADDR_LOCAL, c->dec.addr, c->dec.addr_len);
	hs->timer.fire = timeout_fire;
	sl_timer_arm(s, &hs->timer,
		     (uint64_t)(opts->timeout_ms ? opts->timeout_ms : SL_SECURE_TIMEOUT_MS) * 1000000);
	sl_send(s, m);
	return 0;
}
