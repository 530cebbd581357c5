// SPDX-License-Identifier: Apache-2.0
/*
 * An established channel: the encryptor and decryptor workers (PROTOCOL.md 5).
 *
 * Both directions work in place in the message buffer. Encrypt: the
 * SecureChannelPaddedMessage head (routes, byte-string header) goes into the
 * headroom in front of the payload, the empty padding and the tag after it,
 * the nonce in front of the head; the transport then prepends its frame into
 * what headroom is left. Decrypt: the plaintext is opened where the
 * ciphertext was, the inner routes go into the message's route structs and
 * data/len narrow to the inner payload. Only a message whose routes do not
 * fit the headroom is copied.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/cbor.h"
#include "engine/clock.h"
#include "engine/log.h"
#include "engine/router.h"
#include "engine/secure_internal.h"
#include "engine/timer.h"

/*
 * Head of a padded Payload: 82 (padded) 82 00 (variant 0) 81 (its one field)
 * 83 (the PlaintextPayloadMessage struct).
 */
#define PAYLOAD_HEAD 5
/* Bytes after the payload: the empty padding 40, then the tag. */
#define PAYLOAD_TAIL (1 + SL_AEAD_TAGLEN)
/* Room a TCP frame head needs in front of the nonce, besides the outer onward route. */
#define FRAME_SLACK 24

static void channel_free(struct sl_channel *c)
{
	struct sl_secure_node *sn = c->sn;

	pthread_mutex_lock(&sn->lock);
	*c->rprev = c->rnext;
	if (c->rnext)
		c->rnext->rprev = c->rprev;
	sn->nchannels--;
	pthread_mutex_unlock(&sn->lock);
	if (c->hs) {
		/*
		 * A handshake still waiting when the node goes, or closed before its
		 * end: its timer is in the shard's heap, which outlives the worker
		 * table that freed us. done is still set only if nobody told the owner.
		 */
		sl_timer_cancel(&c->hs->timer);
		if (c->hs->done && c->hs->done_at_teardown)
			c->hs->done(c->hs->arg, -ECANCELED, NULL, NULL);
		if (c->hs->listener)
			sl_listener_put(c->hs->listener);
		sl_secure_admit_release(sn, &c->hs->admitted);
		sl_noise_free(c->hs->noise);
		sodium_memzero(c->hs, sizeof(*c->hs));
		free(c->hs);
		__atomic_sub_fetch(&sn->pending, 1, __ATOMIC_RELAXED);
	}
	/* One exit for the key material: both cipher states and the route. */
	sl_cipher_enc_wipe(&c->tx);
	sl_cipher_dec_wipe(&c->rx);
	free(c->remote);
	sodium_memzero(c, sizeof(*c));
	free(c);
	sl_secure_node_put(sn);
}

static void worker_stopped(struct sl_worker *w)
{
	struct sl_channel *c = w->ctx;

	if (!--c->workers)
		channel_free(c);
}

struct sl_channel *sl_channel_new(struct sl_secure_node *sn, bool initiator)
{
	struct sl_channel *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->hs = calloc(1, sizeof(*c->hs));
	if (!c->hs) {
		free(c);
		return NULL;
	}
	__atomic_add_fetch(&sn->pending, 1, __ATOMIC_RELAXED);
	c->hs->admitted = -1;
	c->hs->channel = c;
	c->sn = sn;
	c->initiator = initiator;
	c->created_s = sl_wall_s();
	sl_secure_node_hold(sn);
	pthread_mutex_lock(&sn->lock);
	c->rnext = sn->channels;
	if (c->rnext)
		c->rnext->rprev = &c->rnext;
	c->rprev = &sn->channels;
	sn->channels = c;
	sn->nchannels++;
	pthread_mutex_unlock(&sn->lock);
	return c;
}

/* Remote route: compact (type, len, body) triples. */

int sl_channel_set_remote(struct sl_channel *c, const struct sl_route *r)
{
	size_t it = 0, len = 0, enc = sl_route_encoded_len(r);
	struct sl_addr a;
	uint8_t *p, *old;

	while (sl_route_next(r, &it, &a))
		len += 2 + a.len;
	if (len > SL_SECURE_REMOTE_MAX)
		return -E2BIG;
	p = malloc(len ? len : 1);
	if (!p)
		return -ENOMEM;
	len = 0;
	it = 0;
	while (sl_route_next(r, &it, &a)) {
		p[len] = a.type;
		p[len + 1] = a.len;
		memcpy(p + len + 2, a.body, a.len);
		len += 2 + a.len;
	}
	/* list/show read the route from another thread under the lock. */
	pthread_mutex_lock(&c->sn->lock);
	old = c->remote;
	c->remote = p;
	c->remote_len = (uint16_t)len;
	c->remote_n = r->n;
	c->remote_enc = (uint16_t)enc;
	pthread_mutex_unlock(&c->sn->lock);
	free(old);
	return 0;
}

void sl_channel_load_remote(const struct sl_channel *c, struct sl_route *r)
{
	/* remote holds the triples as a route does: one copy, per message sent */
	sl_route_set_triples(r, c->remote, c->remote_len, c->remote_n);
}

/* Is r exactly our remote route? */
static bool remote_is(const struct sl_channel *c, const struct sl_route *r)
{
	size_t it = 0, i = 0;
	struct sl_addr a;

	if (r->n != c->remote_n)
		return false;
	while (sl_route_next(r, &it, &a)) {
		if (i + 2 + a.len > c->remote_len || c->remote[i] != a.type ||
		    c->remote[i + 1] != a.len || memcmp(c->remote + i + 2, a.body, a.len))
			return false;
		i += 2 + a.len;
	}
	return true;
}

/*
 * Padded message decoding (peer bytes, after authentication).
 *
 * SecureChannelMessage is a minicbor-derived enum: [variant, [fields...]].
 * Payload and RefreshCredentials have one field each, their struct, so the
 * struct sits inside a one-element field array: 82 82 00 81 83 ...
 */

/* Enter the variant's single struct field: 81 [ ... ]. */
static int enter_struct_field(struct sl_cbor_reader *rd, struct sl_cbor_array *f,
			      struct sl_cbor_array *st)
{
	int err = sl_cbor_field(rd, f);

	return err ? err : sl_cbor_array_enter(rd, st);
}

/* A view of the next whole item. */
static int get_item(struct sl_cbor_reader *rd, const uint8_t **p, size_t *len)
{
	const uint8_t *start = rd->p;
	int err = sl_cbor_skip(rd);

	*p = start;
	*len = (size_t)(rd->p - start);
	return err;
}

/* A Payload's first bytes: [enum Payload, [[onward, return, bytes]]] up to its routes. */
static const uint8_t payload_head[PAYLOAD_HEAD] = { 0x82, 0x82, SL_SECURE_PAYLOAD, 0x81, 0x83 };

/*
 * The usual message, per message: a Payload as Sluice and Ockam write it,
 * the five head bytes, two routes, a definite byte string and the empty
 * padding (40) last. false at any other form, for the general path to read
 * from the start (it reads this form the same).
 */
static bool payload_decode_fast(const uint8_t *p, size_t len, struct sl_secure_msg *out,
				struct sl_route *onward, struct sl_route *ret)
{
	struct sl_cbor_reader rd;
	uint64_t n;

	if (len < PAYLOAD_HEAD + 1 || memcmp(p, payload_head, PAYLOAD_HEAD) || p[len - 1] != 0x40)
		return false;
	/* the padding is the last byte: read the rest as if it ended before it */
	sl_cbor_reader_init(&rd, p + PAYLOAD_HEAD, len - PAYLOAD_HEAD - 1);
	if (sl_route_decode(&rd, onward) || sl_route_decode(&rd, ret) ||
	    sl_cbor_head_expect(&rd, SL_CBOR_BYTES, &n) || n != (uint64_t)(rd.end - rd.p))
		return false;
	out->kind = SL_SECURE_PAYLOAD;
	out->payload = rd.p;
	out->payload_len = (size_t)n;
	return true;
}

int sl_secure_msg_decode(const uint8_t *p, size_t len, struct sl_secure_msg *out,
			 struct sl_route *onward, struct sl_route *ret)
{
	struct sl_cbor_array pad, e, f, st;
	struct sl_cbor_reader rd;
	struct sl_route tmp;
	int err;

	memset(out, 0, sizeof(*out));
	if (onward && ret && payload_decode_fast(p, len, out, onward, ret))
		return 0;
	sl_cbor_reader_init(&rd, p, len);
	err = sl_cbor_array_enter(&rd, &pad);
	if (!err)
		err = sl_cbor_field(&rd, &pad);
	if (!err)
		err = sl_cbor_enum_enter(&rd, &e, &out->kind, &f);
	if (err)
		return -EBADMSG;
	switch (out->kind) {
	case SL_SECURE_PAYLOAD:		/* [[onward, return, bytes]] */
		err = enter_struct_field(&rd, &f, &st);
		if (!err)
			err = sl_cbor_field(&rd, &st);
		if (!err)
			err = sl_route_decode(&rd, onward ? onward : &tmp);
		if (!err)
			err = sl_cbor_field(&rd, &st);
		if (!err)
			err = sl_route_decode(&rd, ret ? ret : &tmp);
		if (!err)
			err = sl_cbor_field(&rd, &st);
		if (!err)
			err = sl_cbor_get_bytes(&rd, &out->payload, &out->payload_len);
		if (!err)
			err = sl_cbor_array_leave(&rd, &st);
		break;
	case SL_SECURE_REFRESH:		/* [[change_history, [credentials]]] */
		err = enter_struct_field(&rd, &f, &st);
		if (!err)
			err = sl_cbor_field(&rd, &st);
		if (!err)
			err = get_item(&rd, &out->history, &out->history_len);
		if (!err)
			err = sl_cbor_field(&rd, &st);
		if (!err && sl_cbor_peek_type(&rd) != SL_CBOR_ARRAY)
			err = -EBADMSG;
		if (!err)
			err = get_item(&rd, &out->credentials, &out->credentials_len);
		if (!err)
			err = sl_cbor_array_leave(&rd, &st);
		break;
	case SL_SECURE_CLOSE:
		break;
	default:
		return -EBADMSG;
	}
	if (!err)
		err = sl_cbor_enum_leave(&rd, &e, &f);
	/* padding: any bytes, ignored */
	if (!err)
		err = sl_cbor_field(&rd, &pad);
	if (!err && sl_cbor_peek_type(&rd) != SL_CBOR_BYTES)
		err = -EBADMSG;
	if (!err)
		err = sl_cbor_skip(&rd);
	if (!err)
		err = sl_cbor_array_leave(&rd, &pad);
	if (!err && !sl_cbor_at_end(&rd))
		err = -EBADMSG;
	return err == -E2BIG ? -E2BIG : err ? -EBADMSG : 0;
}

/* Encryptor: local users send through the channel */

/* Seal the plaintext [pt, pt + len) that has 8 free bytes before it; send it to the peer. */
static void seal_and_send(struct sl_channel *c, struct sl_msg *m, uint8_t *pt, size_t len,
			  bool with_return)
{
	struct sl_shard *s = c->enc.shard;
	uint8_t *frame = pt - SL_CIPHER_NONCE_LEN;
	size_t wire;
	int ret;

	ret = sl_cipher_seal(&c->tx, frame, len, m->cap - (size_t)(frame - m->buf), &wire);
	if (ret) {
		sl_shard_count_drop(s);
		sl_msg_free(m);
		/* Nonces exhausted (2^64 messages): the channel cannot go on. */
		if (ret == -EOVERFLOW)
			sl_channel_close(c, false);
		return;
	}
	m->data = frame;
	m->len = (uint32_t)wire;
	m->flags &= (uint8_t)~SL_MSG_AUTHENTICATED;
	sl_channel_load_remote(c, &m->onward);
	sl_route_init(&m->ret);
	/* Close and RefreshCredentials say who sent them; data needs no return route. */
	if (with_return)
		sl_route_push_front(&m->ret, SL_ADDR_LOCAL, c->enc.addr, c->enc.addr_len);
	__atomic_store_n(&c->sent, c->sent + 1, __ATOMIC_RELAXED);
	sl_send(s, m);
}

/* Copy path: the routes do not fit in front of the payload. */
static struct sl_msg *move_payload(struct sl_msg *m, size_t head)
{
	size_t need = SL_CIPHER_NONCE_LEN + head + m->len + PAYLOAD_TAIL;
	struct sl_msg *n = sl_msg_alloc(need);

	if (!n)
		return NULL;
	memcpy(n->data + SL_CIPHER_NONCE_LEN + head, m->data, m->len);
	n->data += SL_CIPHER_NONCE_LEN + head;
	n->len = m->len;
	sl_route_copy(&n->onward, &m->onward);
	sl_route_copy(&n->ret, &m->ret);
	sl_msg_free(m);
	return n;
}

size_t sl_secure_payload_head_len(const struct sl_route *onward, const struct sl_route *ret,
				  size_t len)
{
	return PAYLOAD_HEAD + sl_route_encoded_len(onward) + sl_route_encoded_len(ret) +
	       sl_cbor_head_len(len);
}

int sl_secure_payload_head(uint8_t *p, size_t head, const struct sl_route *onward,
			   const struct sl_route *ret, size_t len)
{
	uint8_t *q = p + PAYLOAD_HEAD;

	/* head is sl_secure_payload_head_len()'s (the callers' contract): no writer checks */
	memcpy(p, payload_head, PAYLOAD_HEAD);
	q += sl_route_encode_raw(q, onward);
	q += sl_route_encode_raw(q, ret);
	q += sl_cbor_head_write(q, SL_CBOR_BYTES, len);
	return q == p + head ? 0 : -EINVAL;
}

static void enc_handle(struct sl_worker *w, struct sl_msg *m)
{
	struct sl_channel *c = w->ctx;
	size_t head;
	uint8_t *pt;

	sl_route_pop_front(&m->onward);
	head = sl_secure_payload_head_len(&m->onward, &m->ret, m->len);
	if (sl_msg_headroom(m) < SL_CIPHER_NONCE_LEN + head + FRAME_SLACK + c->remote_enc ||
	    sl_msg_tailroom(m) < PAYLOAD_TAIL) {
		m = move_payload(m, head);
		if (!m) {
			sl_shard_count_drop(w->shard);
			return;
		}
	}
	pt = m->data - head;
	if (sl_secure_payload_head(pt, head, &m->onward, &m->ret, m->len)) {
		sl_shard_count_drop(w->shard);
		sl_msg_free(m);
		return;
	}
	m->data[m->len] = 0x40;		/* padding: empty byte string */
	seal_and_send(c, m, pt, head + m->len + 1, false);
}

/* Decryptor: ciphertext from the peer */

void sl_channel_set_peer_head(struct sl_channel *c, const struct sl_identity *id)
{
	c->peer_changes = (uint8_t)id->n;
	memcpy(c->peer_head, id->changes[id->n - 1].hash, SL_ID_LEN);
}

/*
 * RefreshCredentials, as Ockam applies it: the history must verify, be the
 * same identifier, and extend the one the channel knows (equal is a no-op,
 * newer replaces it; older or diverging is refused). Credentials need an
 * authority a node without one does not have: they are accepted and
 * ignored, as in the handshake. Returns NULL or the reason it was refused.
 */
const char *sl_channel_refresh(struct sl_channel *c, const struct sl_secure_msg *sm)
{
	struct sl_identity *id = malloc(sizeof(*id));
	const char *why = NULL;

	if (!id)
		return "out_of_memory";
	if (sl_identity_decode(id, sm->history, sm->history_len) || sl_identity_verify(id))
		why = "history_invalid";
	else if (sodium_memcmp(id->id, c->peer, SL_ID_LEN))
		why = "other_identity";
	else if (!c->peer_changes)	/* set by every handshake; never index changes[-1] */
		why = "history_unknown";
	else if (id->n < c->peer_changes)
		why = "history_older";
	else if (sodium_memcmp(id->changes[c->peer_changes - 1].hash, c->peer_head, SL_ID_LEN))
		why = "history_conflict";
	else if (id->n > c->peer_changes)
		sl_channel_set_peer_head(c, id);
	if (!why)
		__atomic_store_n(&c->refreshed, c->refreshed + 1, __ATOMIC_RELAXED);
	free(id);
	return why;
}

static void log_refresh(const struct sl_channel *c, const char *why)
{
	char peer[SL_ID_TEXT_LEN + 1];

	sl_identity_id_format(c->peer, peer);
	if (why)
		sl_log(SL_LOG_INFO, "event=secure_channel_refresh_refused peer=%s reason=%s",
		       peer, why);
	else
		sl_log(SL_LOG_INFO, "event=secure_channel_refreshed peer=%s changes=%u", peer,
		       (unsigned)c->peer_changes);
}

/*
 * The route a message that came back along `outer` says to use: outer + their
 * decryptor. Per message: the usual answer (outer is our remote route but its
 * last hop, so nothing moved) is one compare of the triples.
 */
static bool roamed(const struct sl_channel *c, struct sl_route *outer)
{
	const uint8_t *r = c->remote;
	size_t i = 0;

	if (sl_route_empty(outer) || !c->remote_n)
		return false;
	while (i + 2 + r[i + 1] < c->remote_len)
		i += 2 + r[i + 1];
	if (outer->n + 1 == c->remote_n && (size_t)(outer->tail - outer->head) == i &&
	    !memcmp(outer->buf + outer->head, r, i))
		return false;
	return !sl_route_push_back(outer, r[i], r + i + 2, r[i + 1]) && !remote_is(c, outer);
}

static void dec_handle(struct sl_worker *w, struct sl_msg *m)
{
	struct sl_channel *c = w->ctx;
	struct sl_route moved;
	struct sl_secure_msg sm;
	bool newer, roam = false;
	uint64_t nonce;
	size_t pt_len;
	int ret;

	if (!c->established) {
		sl_handshake_on_msg(c, m);
		return;
	}
	/* Forged, replayed or out-of-window frames are dropped; the channel lives on. */
	ret = sl_cipher_open(&c->rx, m->data, m->len, &pt_len, &nonce);
	if (ret)
		goto drop;
	/*
	 * Roaming, as Ockam's responder does it: a newer message that came a
	 * new way moves the route back to [its return route, their decryptor].
	 * The outer route is read before the inner routes replace it.
	 */
	newer = !c->initiator && nonce > c->last_nonce;
	if (newer && roamed(c, &m->ret)) {
		sl_route_copy(&moved, &m->ret);
		roam = true;
	}
	ret = sl_secure_msg_decode(m->data + SL_CIPHER_NONCE_LEN, pt_len, &sm, &m->onward,
				   &m->ret);
	if (ret)
		goto drop;
	switch (sm.kind) {
	case SL_SECURE_PAYLOAD:
		if (newer) {
			c->last_nonce = nonce;
			if (roam)
				sl_channel_set_remote(c, &moved);
		}
		if (sl_route_push_front(&m->ret, SL_ADDR_LOCAL, c->enc.addr, c->enc.addr_len))
			goto drop;
		m->data = (uint8_t *)sm.payload;
		m->len = (uint32_t)sm.payload_len;
		m->flags |= SL_MSG_AUTHENTICATED;
		memcpy(m->peer, c->peer, SL_ID_LEN);
		__atomic_store_n(&c->received, c->received + 1, __ATOMIC_RELAXED);
		sl_send(w->shard, m);
		return;
	case SL_SECURE_REFRESH: {
		const char *why = sl_channel_refresh(c, &sm);

		/* Rare, and the peer proved who it is: worth a line either way. */
		log_refresh(c, why);
		if (why)
			goto drop;
		sl_msg_free(m);
		return;
	}
	default:	/* Close: the peer is gone; do not answer it */
		sl_msg_free(m);
		sl_channel_close(c, false);
		return;
	}
drop:
	sl_shard_count_drop(w->shard);
	sl_msg_free(m);
}

/* Life cycle */

int sl_channel_start_dec(struct sl_channel *c, struct sl_shard *s)
{
	int ret;

	c->dec.handle = dec_handle;
	c->dec.stopped = worker_stopped;
	c->dec.ctx = c;
	ret = sl_worker_start_random(s, &c->dec);
	if (!ret)
		c->workers++;
	return ret;
}

int sl_channel_establish(struct sl_channel *c, const struct sl_noise_keys *keys,
			 const uint8_t peer[SL_ID_LEN])
{
	struct sl_handshake *hs = c->hs;
	int ret;

	ret = sl_cipher_enc_init_adaptive(&c->tx, keys->send);
	if (!ret)
		ret = sl_cipher_dec_init_adaptive(&c->rx, keys->recv);
	if (ret)
		return ret;
	c->enc.handle = enc_handle;
	c->enc.stopped = worker_stopped;
	c->enc.ctx = c;
	ret = sl_worker_start_random(c->dec.shard, &c->enc);
	if (ret)
		return ret;
	c->workers++;
	memcpy(c->self, hs->vault->id, SL_ID_LEN);
	memcpy(c->peer, peer, SL_ID_LEN);
	/* The handshake state goes; only the cipher states remain. */
	sl_timer_cancel(&hs->timer);
	if (hs->listener)
		sl_listener_put(hs->listener);
	sl_secure_admit_release(c->sn, &hs->admitted);
	sl_noise_free(hs->noise);
	sodium_memzero(hs, sizeof(*hs));
	free(hs);
	__atomic_sub_fetch(&c->sn->pending, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&c->sn->lock);
	c->hs = NULL;
	c->established = true;
	pthread_mutex_unlock(&c->sn->lock);
	return 0;
}

static void send_close(struct sl_channel *c)
{
	/* Padded Close: [[2, []], h''] */
	static const uint8_t close_msg[] = { 0x82, 0x82, 0x02, 0x80, 0x40 };
	struct sl_msg *m = sl_msg_alloc(sizeof(close_msg) + SL_CIPHER_OVERHEAD);

	if (!m)
		return;
	memcpy(m->data + SL_CIPHER_NONCE_LEN, close_msg, sizeof(close_msg));
	seal_and_send(c, m, m->data + SL_CIPHER_NONCE_LEN, sizeof(close_msg), true);
}

void sl_channel_close(struct sl_channel *c, bool send)
{
	if (send && c->established && !c->closed)
		send_close(c);
	pthread_mutex_lock(&c->sn->lock);
	c->closed = true;
	pthread_mutex_unlock(&c->sn->lock);
	if (c->hs)
		sl_timer_cancel(&c->hs->timer);
	/* The last stop frees c: touch nothing after. */
	if (c->enc.shard && c->dec.shard) {
		sl_worker_stop(&c->enc);
		sl_worker_stop(&c->dec);
	} else if (c->enc.shard) {
		sl_worker_stop(&c->enc);
	} else if (c->dec.shard) {
		sl_worker_stop(&c->dec);
	} else {
		channel_free(c);
	}
}

void sl_channel_abort(struct sl_channel *c)
{
	sl_channel_close(c, false);
}
