// SPDX-License-Identifier: Apache-2.0
/*
 * The relay client (relay.h): register a name at a relay node and keep it.
 *
 * One worker per client, at a random address (Ockam's RemoteRelay
 * main_remote): registrations and pings leave from it, their answers come
 * back to it. A one-second tick drives the state machine:
 *   CONNECTING/DOWN  send the registration every SL_RELAY_RETRY_NS;
 *   UP               Ping(u64) to echo every SL_RELAY_PING_NS; after
 *                    SL_RELAY_PING_MISSES unanswered, DOWN.
 * Two faster signs of a lost relay: the connection the registration's answer
 * came through stopped (the node's worker-stop hook), or a pong came back
 * through another connection (the transport reconnected on demand, so pings
 * would succeed while the relay node forgot us). Either re-registers at once.
 *
 * Secure mode (Ockam's way): a channel to the relay node's `api` listener
 * first, then registration and pings through it. Down closes the channel;
 * the next attempt opens a new one. The connection watched is the one under
 * the channel (its route's first hop).
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "engine/bare.h"
#include "engine/clock.h"
#include "engine/log.h"
#include "engine/relay_int.h"
#include "engine/router.h"
#include "engine/secure.h"
#include "engine/timer.h"

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

#define CLIENT_TICK_NS (1000ull * 1000000)

/* A handshake in flight: it may finish after its client was deleted. */
struct ticket {
	struct sl_relay_client *c;	/* NULL once the client is gone */
};

struct sl_relay_client {
	struct sl_worker w;
	struct sl_timer tick;
	struct sl_relays *rs;
	struct sl_relay_client *next, **pprev;	/* rs->clients, under rs->lock */
	struct sl_relay_client_opts o;
	struct ticket *hs;			/* handshake in flight */
	bool first_done;			/* the event had its first outcome */
	uint64_t first_deadline;
	enum sl_relay_client_state state;
	uint64_t next_try, next_ping;
	unsigned missed;
	uint8_t ping[9];			/* the ping in flight (CBOR u64) */
	uint8_t ping_len;
	uint8_t via_len;			/* the connection the registration came back through */
	int via_gone;				/* set by the stop hook (any shard), atomic */
	char via[SL_ADDR_BODY_MAX + 1];
	struct sl_relay_client_info info;	/* info.channel: our channel, under rs->lock */
};

const char *sl_relay_client_state_name(enum sl_relay_client_state st)
{
	switch (st) {
	case SL_RELAY_CLIENT_CONNECTING:
		return "connecting";
	case SL_RELAY_CLIENT_UP:
		return "up";
	case SL_RELAY_CLIENT_DOWN:
		return "down";
	}
	return "?";
}

/* A message from the client's address to at ++ [service]. NULL when out of messages. */
static struct sl_msg *client_msg(struct sl_relay_client *c, const char *service, size_t room)
{
	struct sl_msg *m = sl_msg_alloc(room);

	if (!m)
		return NULL;
	if (c->o.secure) {
		sl_route_init(&m->onward);
		sl_route_push_back(&m->onward, SL_ADDR_LOCAL, c->info.channel, SL_RANDOM_ADDR_LEN);
	} else {
		sl_route_copy(&m->onward, &c->info.at);
	}
	if (sl_route_push_back(&m->onward, SL_ADDR_LOCAL, service, strlen(service)) ||
	    sl_route_push_front(&m->ret, SL_ADDR_LOCAL, c->w.addr, c->w.addr_len)) {
		sl_msg_free(m);
		return NULL;
	}
	return m;
}

static void channel_done(void *arg, int err, const char *channel, const uint8_t *peer);

static void send_registration(struct sl_relay_client *c, uint64_t now)
{
	size_t n = strlen(c->info.name);
	struct sl_msg *m;

	c->next_try = now + SL_RELAY_RETRY_NS;
	if (c->o.secure && !c->info.channel[0]) {
		struct sl_secure_opts so = { 0 };
		struct sl_route to;
		int ret;

		if (c->hs)
			return;	/* a handshake is on its way */
		c->hs = calloc(1, sizeof(*c->hs));
		if (!c->hs)
			return;
		c->hs->c = c;
		/* Within the retry period, so a relay node that is down costs one period. */
		so.timeout_ms = (uint32_t)(SL_RELAY_RETRY_NS / 1000000);
		so.done_at_teardown = true;	/* the ticket is freed in channel_done */
		sl_route_copy(&to, &c->info.at);
		sl_route_push_back(&to, SL_ADDR_LOCAL, SL_SECURE_LISTENER, strlen(SL_SECURE_LISTENER));
		if (c->o.has_authority) {
			so.authorized = (const uint8_t (*)[SL_ID_LEN])c->o.authority;
			so.n_authorized = 1;
		}
		ret = sl_secure_create(c->w.shard, &to, &so, channel_done, c->hs);
		if (ret) {
			sl_log(SL_LOG_WARN, "node=%s event=relay_channel_failed name=%s err=%d",
			       sl_node_name(c->rs->node), c->info.name, ret);
			free(c->hs);
			c->hs = NULL;
		}
		return;	/* the registration follows the channel */
	}
	m = client_msg(c, SL_RELAY_STATIC_SERVICE, n + 2);
	if (!m)
		return;	/* the next try comes with the tick */
	m->len = (uint32_t)sl_bare_put_bytes(m->data, n + 2, c->info.name, n);
	sl_send(c->w.shard, m);
}

static void send_ping(struct sl_relay_client *c, uint64_t now)
{
	struct sl_cbor_writer cw;
	struct sl_msg *m;
	uint64_t v = 0;
	size_t len;

	c->next_ping = now + SL_RELAY_PING_NS;
	c->missed++;
	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
		v = now;
	/* Ping(u64) is #[cbor(transparent)] in Ockam: the bare CBOR integer. */
	sl_cbor_writer_init(&cw, c->ping, sizeof(c->ping));
	sl_cbor_put_uint(&cw, v);
	if (sl_cbor_writer_finish(&cw, &len))
		return;
	c->ping_len = (uint8_t)len;
	m = client_msg(c, "echo", len);
	if (!m)
		return;
	memcpy(m->data, c->ping, len);
	m->len = (uint32_t)len;
	c->info.pings++;
	sl_send(c->w.shard, m);
}

/* Forget our channel (closing it, when asked) and what we watched. */
static void drop_channel(struct sl_relay_client *c, bool close)
{
	char addr[SL_RANDOM_ADDR_LEN + 1];

	pthread_mutex_lock(&c->rs->lock);
	memcpy(addr, c->info.channel, sizeof(addr));
	c->info.channel[0] = 0;
	c->via_len = 0;
	pthread_mutex_unlock(&c->rs->lock);
	if (close && addr[0])
		sl_secure_close(c->rs->node, addr);
}

static void channel_done(void *arg, int err, const char *channel, const uint8_t *peer)
{
	struct ticket *t = arg;
	struct sl_relay_client *c = t->c;
	struct sl_secure_info *si;
	struct sl_addr a;
	const char *body;
	size_t len;
	uint8_t type;

	free(t);
	if (!c) {
		/* Deleted meanwhile: the channel has no use. */
		if (!err)
			sl_secure_close(sl_shard_node(sl_shard_self()), channel);
		return;
	}
	c->hs = NULL;
	if (err == -ECANCELED)
		return;	/* the channel went (closed, or the node is stopping): retried on the tick */
	if (err) {
		sl_log(SL_LOG_WARN, "node=%s event=relay_channel_failed name=%s err=%d",
		       sl_node_name(c->rs->node), c->info.name, err);
		return;	/* the tick tries again at next_try */
	}
	si = malloc(sizeof(*si));
	pthread_mutex_lock(&c->rs->lock);
	memcpy(c->info.channel, channel, SL_RANDOM_ADDR_LEN);
	c->info.channel[SL_RANDOM_ADDR_LEN] = 0;
	pthread_mutex_unlock(&c->rs->lock);
	/* Watch the connection under the channel: the channel does not end with it. */
	if (si && !sl_secure_find(c->rs->node, channel, si)) {
		char *end = strstr(si->route, " => ");

		if (end)
			*end = 0;
		if (!sl_addr_parse(si->route, &type, &body, &len) && type == SL_ADDR_LOCAL &&
		    len <= SL_ADDR_BODY_MAX) {
			a.len = (uint8_t)len;
			pthread_mutex_lock(&c->rs->lock);
			memcpy(c->via, body, a.len);
			c->via_len = a.len;
			__atomic_store_n(&c->via_gone, 0, __ATOMIC_RELEASE);
			pthread_mutex_unlock(&c->rs->lock);
		}
	}
	free(si);
	send_registration(c, sl_now_ns());
}

static void go_down(struct sl_relay_client *c, uint64_t now, const char *why)
{
	if (c->state == SL_RELAY_CLIENT_UP)
		sl_log(SL_LOG_WARN, "node=%s event=relay_down name=%s reason=%s",
		       sl_node_name(c->rs->node), c->info.name, why);
	if (c->o.secure)
		drop_channel(c, true);
	c->state = SL_RELAY_CLIENT_DOWN;
	c->ping_len = 0;
	c->missed = 0;
	send_registration(c, now);
}

static void client_tick(struct sl_timer *t)
{
	struct sl_relay_client *c = container_of(t, struct sl_relay_client, tick);
	uint64_t now = sl_now_ns();

	sl_timer_arm(c->w.shard, &c->tick, CLIENT_TICK_NS);
	switch (c->state) {
	case SL_RELAY_CLIENT_CONNECTING:
	case SL_RELAY_CLIENT_DOWN:
		if (now >= c->next_try)
			send_registration(c, now);
		break;
	case SL_RELAY_CLIENT_UP:
		if (__atomic_load_n(&c->via_gone, __ATOMIC_ACQUIRE))
			go_down(c, now, "connection_closed");
		else if (now >= c->next_ping && c->missed >= SL_RELAY_PING_MISSES)
			go_down(c, now, "pings_unanswered");
		else if (now >= c->next_ping)
			send_ping(c, now);
		break;
	}
	if (!c->first_done && now >= c->first_deadline) {
		c->first_done = true;
		/* Last: the event may delete c. */
		if (c->o.event)
			c->o.event(c->o.ctx, c, -ETIMEDOUT);
	}
}

static void registered(struct sl_relay_client *c, const struct sl_msg *m, const uint8_t *p,
		       size_t n)
{
	uint64_t now = sl_now_ns();
	struct sl_addr via;

	memcpy(c->info.remote, p, n);
	c->info.remote[n] = 0;
	/*
	 * Plain: the connection it came through; its stop means the relay is
	 * gone. (Secure: the channel's connection, set when the channel came up.)
	 */
	if (!c->o.secure) {
		pthread_mutex_lock(&c->rs->lock);
		c->via_len = 0;
		if (sl_route_front(&m->ret, &via) && via.type == SL_ADDR_LOCAL && m->ret.n > 1) {
			memcpy(c->via, via.body, via.len);
			c->via_len = via.len;
		}
		__atomic_store_n(&c->via_gone, 0, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&c->rs->lock);
	}
	if (c->state != SL_RELAY_CLIENT_UP)
		sl_log(SL_LOG_INFO, "node=%s event=relay_up name=%s remote=%s",
		       sl_node_name(c->rs->node), c->info.name, c->info.remote);
	c->state = SL_RELAY_CLIENT_UP;
	c->info.registrations++;
	c->info.last_up_s = sl_wall_s();
	c->missed = 0;
	c->ping_len = 0;
	c->next_ping = now + SL_RELAY_PING_NS;
}

static void client_handle(struct sl_worker *w, struct sl_msg *m)
{
	struct sl_relay_client *c = w->ctx;
	size_t nlen = strlen(c->info.name);
	struct sl_addr via;
	const uint8_t *p;
	size_t n;

	sl_route_pop_front(&m->onward);
	if (!sl_route_empty(&m->onward))
		goto drop;	/* nothing is relayed through a client; its node is reached directly */
	if (c->ping_len && m->len == c->ping_len && !memcmp(m->data, c->ping, m->len)) {
		c->info.pongs++;
		c->missed = 0;
		c->ping_len = 0;
		/* Answered through another connection than the relay's: it is not ours any more. */
		if (c->state == SL_RELAY_CLIENT_UP && !c->o.secure && c->via_len &&
		    (!sl_route_front(&m->ret, &via) || via.len != c->via_len ||
		     memcmp(via.body, c->via, via.len)))
			go_down(c, sl_now_ns(), "path_changed");
		sl_msg_free(m);
		return;
	}
	/* The answer to a registration: BARE "forward_to_<name>" (Ockam checks the suffix). */
	if (sl_bare_get_bytes(m->data, m->len, &p, &n) < 0 || n > SL_ADDR_BODY_MAX || n < nlen ||
	    memcmp(p + n - nlen, c->info.name, nlen))
		goto drop;
	registered(c, m, p, n);
	sl_msg_free(m);
	if (!c->first_done) {
		c->first_done = true;
		if (c->o.event)
			c->o.event(c->o.ctx, c, 0);	/* may delete c */
	}
	return;
drop:
	sl_shard_count_drop(w->shard);
	sl_router_drop(w->shard, m, "relay_client_unexpected");
}

static void client_stopped(struct sl_worker *w)
{
	struct sl_relay_client *c = w->ctx;
	struct sl_relays *rs = c->rs;

	pthread_mutex_lock(&rs->lock);
	if (c->pprev) {
		*c->pprev = c->next;
		if (c->next)
			c->next->pprev = c->pprev;
		__atomic_store_n(&rs->nclients, rs->nclients - 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&rs->lock);
	sl_timer_cancel(&c->tick);
	if (c->hs)
		c->hs->c = NULL;	/* its done() frees the ticket */
	/* Deleted, or the node stopped, before the first outcome: the owner frees its ctx. */
	if (!c->first_done && c->o.event) {
		c->first_done = true;
		c->o.event(c->o.ctx, c, -ECANCELED);
	}
	free(c);
	sl_relays_put(rs);
}

int sl_relay_client_create(struct sl_relays *rs, struct sl_shard *s, const char *name,
			   const struct sl_route *at, const struct sl_relay_client_opts *o,
			   struct sl_relay_client **out)
{
	struct sl_relay_client *c;
	char buf[SL_RELAY_NAME_MAX + 4], check[SL_RELAY_NAME_MAX + 1];
	size_t n = name ? strlen(name) : 0;
	bool eph;
	int ret;

	/* The same rules the server applies to the name it will get. */
	if (!n || n > SL_RELAY_NAME_MAX || !at || sl_route_empty(at) ||
	    sl_bare_put_bytes((uint8_t *)buf, sizeof(buf), name, n) == 0 ||
	    sl_relay_parse_registration((uint8_t *)buf, n + 2, check, sizeof(check), &eph) < 0 || eph)
		return -EINVAL;
	if (sl_relay_client_find(rs, name))
		return -EEXIST;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->rs = rs;
	if (o)
		c->o = *o;
	c->info.secure = c->o.secure;
	memcpy(c->info.name, name, n + 1);
	sl_route_copy(&c->info.at, at);
	c->state = SL_RELAY_CLIENT_CONNECTING;
	c->first_deadline = sl_now_ns() + c->o.first_timeout_ns;
	c->w.handle = client_handle;
	c->w.stopped = client_stopped;
	c->w.ctx = c;
	c->tick.fire = client_tick;
	ret = sl_worker_start_random(s, &c->w);
	if (ret) {
		free(c);
		return ret;
	}
	sl_relays_get(rs);
	pthread_mutex_lock(&rs->lock);
	c->next = rs->clients;
	if (c->next)
		c->next->pprev = &c->next;
	rs->clients = c;
	c->pprev = &rs->clients;
	__atomic_store_n(&rs->nclients, rs->nclients + 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&rs->lock);
	/* The first registration leaves on the next loop turn. */
	sl_timer_arm(s, &c->tick, 0);
	if (out)
		*out = c;
	return 0;
}

struct sl_relay_client *sl_relay_client_find(struct sl_relays *rs, const char *name)
{
	struct sl_relay_client *c;

	pthread_mutex_lock(&rs->lock);
	for (c = rs->clients; c; c = c->next)
		if (!strcmp(c->info.name, name))
			break;
	pthread_mutex_unlock(&rs->lock);
	return c;
}

void sl_relay_client_get_info(const struct sl_relay_client *c, struct sl_relay_client_info *out)
{
	pthread_mutex_lock(&c->rs->lock);
	*out = c->info;
	pthread_mutex_unlock(&c->rs->lock);
	out->state = c->state;
}

void sl_relay_client_delete(struct sl_relay_client *c)
{
	/* Closing our channel ends the relay on the relay node (it watches the channel). */
	if (c->o.secure)
		drop_channel(c, true);
	sl_worker_stop(&c->w);	/* frees c (client_stopped) */
}

size_t sl_relay_client_each(struct sl_relays *rs,
			    void (*fn)(void *arg, struct sl_relay_client *c), void *arg)
{
	struct sl_relay_client *c;
	size_t n = 0;

	/* Clients are created and deleted on the caller's shard only: the list is stable here. */
	for (c = rs->clients; c; c = c->next, n++)
		fn(arg, c);
	return n;
}

void sl_relay_clients_addr_gone(struct sl_relays *rs, struct sl_shard *s, const uint8_t *addr,
				size_t len)
{
	pthread_mutex_lock(&rs->lock);
	for (struct sl_relay_client *c = rs->clients; c; c = c->next)
		if ((c->via_len == len && !memcmp(c->via, addr, len)) ||
		    (c->info.channel[0] && len == SL_RANDOM_ADDR_LEN &&
		     !memcmp(c->info.channel, addr, len)))
			__atomic_store_n(&c->via_gone, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&rs->lock);
}
