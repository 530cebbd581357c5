// SPDX-License-Identifier: Apache-2.0
/*
 * The relay fleet's directory in Redis (relay_dir.h).
 *
 * Why a thread with a blocking connection rather than hiredis' async API on
 * a shard: the shards run io_uring loops that hiredis has no adapter for,
 * and a directory round trip is control-path work (a registration, a lookup
 * per name per cache period, a refresh every TTL/3). One thread, one
 * connection, pipelined refreshes: simple to reason about, and a slow or
 * dead Redis stalls nobody but this thread (every call is bounded by
 * IO_TIMEOUT_MS), while the shards keep forwarding for the relays they hold.
 */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "engine/log.h"
#include "engine/node.h"
#include "engine/relay_fleet.h"
#include "engine/shard.h"
#include "tools/common/text.h"
#include "tools/daemon/relay_dir.h"

#define IO_TIMEOUT_MS 500		/* connect and each command */
#define RETRY_MS 1000			/* reconnect period while Redis is down */
#define REFRESH_MS (SL_RELAY_DIR_TTL_MS / 3)
#define LOG_EVERY_MS 10000
#define LOOKUPS_MAX 4096		/* queued lookups; more fail at once */
#define OWNED_BUCKETS 4096

/* Write ours if the entry is ours or gone; 0 when another node's is there. */
static const char refresh_lua[] =
	"local v = redis.call('GET', KEYS[1]) "
	"if v == false or v == ARGV[1] then "
	"redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end "
	"return 0";
/* Delete only our own entry. */
static const char delete_lua[] =
	"if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
	"return 0";

enum op_kind { OP_OWNED, OP_GONE, OP_LOOKUP };

struct op {
	struct op *next;
	enum op_kind kind;
	unsigned shard;
	char name[SL_RELAY_NAME_MAX + 1];
};

struct owned {
	struct owned *next;
	char name[SL_RELAY_NAME_MAX + 1];
};

struct sl_relay_dir {
	struct sl_node *node;
	char host[256];
	unsigned port;
	char value[SL_ADDR_BODY_MAX + 40];	/* "HOST:PORT id" */

	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct op *head, *tail;		/* under lock */
	unsigned nlookups;		/* queued, under lock */
	bool stop;

	/* The directory thread's own. */
	redisContext *rc;
	uint64_t retry_ms, refresh_ms, log_ms;
	struct owned *owned[OWNED_BUCKETS];
	size_t nowned;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the owned set (directory thread only) ---- */

static struct owned **owned_find(struct sl_relay_dir *d, const char *name)
{
	uint32_t h = sl_addr_hash((const uint8_t *)name, strlen(name));
	struct owned **pp;

	for (pp = &d->owned[h % OWNED_BUCKETS]; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->name, name))
			break;
	return pp;
}

static void owned_add(struct sl_relay_dir *d, const char *name)
{
	struct owned **pp = owned_find(d, name), *o;

	if (*pp || !(o = calloc(1, sizeof(*o))))
		return;
	strcpy(o->name, name);
	*pp = o;
	d->nowned++;
}

static void owned_del(struct sl_relay_dir *d, const char *name)
{
	struct owned **pp = owned_find(d, name), *o = *pp;

	if (!o)
		return;
	*pp = o->next;
	free(o);
	d->nowned--;
}

/* ---- the connection ---- */

static void went_down(struct sl_relay_dir *d, const char *what)
{
	uint64_t now = now_ms();

	if (now >= d->log_ms) {
		sl_log(SL_LOG_WARN, "node=%s event=relay_directory_down at=%s:%u what=%s err=\"%s\" "
		       "action=\"local relays go on; retrying every %u ms\"", sl_node_name(d->node),
		       d->host, d->port, what, d->rc && d->rc->errstr[0] ? d->rc->errstr : "unreachable",
		       RETRY_MS);
		d->log_ms = now + LOG_EVERY_MS;
	}
	if (d->rc)
		redisFree(d->rc);
	d->rc = NULL;
	d->retry_ms = now + RETRY_MS;
	sl_relay_fleet_set_up(d->node, false);
}

/* true when connected; a new connection writes every name we hold again. */
static bool connected(struct sl_relay_dir *d)
{
	struct timeval tv = { 0, IO_TIMEOUT_MS * 1000 };

	if (d->rc)
		return true;
	if (now_ms() < d->retry_ms)
		return false;
	d->rc = redisConnectWithTimeout(d->host, (int)d->port, tv);
	if (!d->rc || d->rc->err || redisSetTimeout(d->rc, tv) != REDIS_OK) {
		went_down(d, "connect");
		return false;
	}
	sl_log(SL_LOG_INFO, "node=%s event=relay_directory_up at=%s:%u names=%zu",
	       sl_node_name(d->node), d->host, d->port, d->nowned);
	sl_relay_fleet_set_up(d->node, true);
	d->refresh_ms = 0;	/* now: what we hold may have expired while it was away */
	return true;
}

/* One command's reply, or NULL (the connection is dropped: counted by the caller). */
static redisReply *command(struct sl_relay_dir *d, const char *what, const char *fmt, ...)
{
	redisReply *r;
	va_list ap;

	if (!connected(d))
		return NULL;
	va_start(ap, fmt);
	r = redisvCommand(d->rc, fmt, ap);
	va_end(ap);
	if (!r) {
		went_down(d, what);
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		sl_log(SL_LOG_WARN, "node=%s event=relay_directory_error what=%s err=\"%s\"",
		       sl_node_name(d->node), what, r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

/* ---- the work ---- */

static void do_owned(struct sl_relay_dir *d, const char *name)
{
	redisReply *r;

	owned_add(d, name);
	r = command(d, "register", "SET " SL_RELAY_DIR_KEY "%s %s PX %u", name, d->value,
		    SL_RELAY_DIR_TTL_MS);
	if (!r) {
		/* Written again on the next refresh, or when Redis is back. */
		sl_relay_fleet_count(d->node, SL_FLEET_WRITE_ERRORS);
		return;
	}
	freeReplyObject(r);
}

static void do_gone(struct sl_relay_dir *d, const char *name)
{
	redisReply *r;

	owned_del(d, name);
	r = command(d, "deregister", "EVAL %s 1 " SL_RELAY_DIR_KEY "%s %s", delete_lua, name,
		    d->value);
	if (!r) {
		/* Ours expires with its TTL. */
		sl_relay_fleet_count(d->node, SL_FLEET_WRITE_ERRORS);
		return;
	}
	freeReplyObject(r);
}

static void do_lookup(struct sl_relay_dir *d, unsigned shard, const char *name)
{
	char owner[SL_ADDR_BODY_MAX + 1];
	redisReply *r = command(d, "lookup", "GET " SL_RELAY_DIR_KEY "%s", name);
	const char *sp;

	if (!r) {
		sl_relay_fleet_answer(d->node, shard, name, -EIO, NULL);
		return;
	}
	if (r->type == REDIS_REPLY_NIL) {
		sl_relay_fleet_answer(d->node, shard, name, -ENOENT, NULL);
	} else if (r->type == REDIS_REPLY_STRING && (sp = memchr(r->str, ' ', r->len)) &&
		   (size_t)(sp - r->str) < sizeof(owner) && sp > r->str) {
		memcpy(owner, r->str, (size_t)(sp - r->str));
		owner[sp - r->str] = 0;
		sl_relay_fleet_answer(d->node, shard, name, 0, owner);
	} else {
		/* Not an entry of ours: nobody we can forward to. */
		sl_relay_fleet_answer(d->node, shard, name, -ENOENT, NULL);
	}
	freeReplyObject(r);
}

/* Every name we hold, pipelined: keep ours alive, write back what expired, drop what was taken. */
static void refresh_all(struct sl_relay_dir *d)
{
	size_t sent = 0;

	if (!d->nowned || !connected(d))
		return;
	for (unsigned b = 0; b < OWNED_BUCKETS; b++)
		for (struct owned *o = d->owned[b]; o; o = o->next) {
			if (redisAppendCommand(d->rc, "EVAL %s 1 " SL_RELAY_DIR_KEY "%s %s %u",
					       refresh_lua, o->name, d->value,
					       SL_RELAY_DIR_TTL_MS) != REDIS_OK)
				goto fail;
			sent++;
		}
	/* Replies come in the order sent: walk the set again (nothing changed it meanwhile). */
	for (unsigned b = 0; b < OWNED_BUCKETS; b++) {
		struct owned **pp = &d->owned[b];

		while (*pp) {
			struct owned *o = *pp;
			redisReply *r = NULL;

			if (redisGetReply(d->rc, (void **)&r) != REDIS_OK || !r)
				goto fail;
			sent--;
			if (r->type == REDIS_REPLY_INTEGER && r->integer == 0) {
				/* A newer registration on another node: the name is theirs. */
				sl_log(SL_LOG_INFO, "node=%s event=relay_name_lost name=%s",
				       sl_node_name(d->node), o->name);
				sl_relay_fleet_disown(d->node, o->name);
				*pp = o->next;
				free(o);
				d->nowned--;
			} else {
				if (r->type == REDIS_REPLY_ERROR)
					sl_relay_fleet_count(d->node, SL_FLEET_WRITE_ERRORS);
				pp = &o->next;
			}
			freeReplyObject(r);
		}
	}
	return;
fail:
	for (; sent; sent--)
		sl_relay_fleet_count(d->node, SL_FLEET_WRITE_ERRORS);
	went_down(d, "refresh");
}

static void *dir_thread(void *arg)
{
	struct sl_relay_dir *d = arg;

	pthread_mutex_lock(&d->lock);
	while (!d->stop) {
		uint64_t now = now_ms(), next = d->refresh_ms;
		struct op *list;

		if (!d->rc && d->nowned && d->retry_ms < next)
			next = d->retry_ms;
		if (!d->head && now < next) {
			struct timespec ts;
			uint64_t wait = next - now;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += (time_t)(wait / 1000);
			ts.tv_nsec += (long)(wait % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&d->cond, &d->lock, &ts);
			continue;
		}
		list = d->head;
		d->head = d->tail = NULL;
		d->nlookups = 0;
		pthread_mutex_unlock(&d->lock);
		/* In arrival order: a name's deregistration before its next registration. */
		while (list) {
			struct op *o = list;

			list = o->next;
			if (o->kind == OP_OWNED)
				do_owned(d, o->name);
			else if (o->kind == OP_GONE)
				do_gone(d, o->name);
			else
				do_lookup(d, o->shard, o->name);
			free(o);
		}
		/* Back after a loss: connected() asks for a refresh that writes our names again. */
		if (!d->rc && d->nowned && now_ms() >= d->retry_ms)
			connected(d);
		if (now_ms() >= d->refresh_ms) {
			refresh_all(d);
			d->refresh_ms = now_ms() + REFRESH_MS;
		}
		pthread_mutex_lock(&d->lock);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* ---- the engine's ops (shard threads: enqueue, never wait) ---- */

static int enqueue(struct sl_relay_dir *d, enum op_kind kind, unsigned shard, const char *name)
{
	struct op *o;

	if (strlen(name) > SL_RELAY_NAME_MAX)
		return -EINVAL;
	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->kind = kind;
	o->shard = shard;
	strcpy(o->name, name);
	pthread_mutex_lock(&d->lock);
	if (kind == OP_LOOKUP && d->nlookups >= LOOKUPS_MAX) {
		pthread_mutex_unlock(&d->lock);
		free(o);
		return -EAGAIN;
	}
	d->nlookups += kind == OP_LOOKUP;
	if (d->tail)
		d->tail->next = o;
	else
		d->head = o;
	d->tail = o;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

static void op_owned(void *ctx, const char *name)
{
	if (enqueue(ctx, OP_OWNED, 0, name))
		sl_relay_fleet_count(((struct sl_relay_dir *)ctx)->node, SL_FLEET_WRITE_ERRORS);
}

static void op_gone(void *ctx, const char *name)
{
	if (enqueue(ctx, OP_GONE, 0, name))
		sl_relay_fleet_count(((struct sl_relay_dir *)ctx)->node, SL_FLEET_WRITE_ERRORS);
}

static int op_lookup(void *ctx, unsigned shard, const char *name)
{
	return enqueue(ctx, OP_LOOKUP, shard, name);
}

static const struct sl_relay_fleet_ops dir_ops = {
	.owned = op_owned,
	.gone = op_gone,
	.lookup = op_lookup,
};

struct sl_relay_dir *sl_relay_dir_start(struct sl_node *n, const char *url, const char *self)
{
	struct sl_relay_dir *d = calloc(1, sizeof(*d));
	const char *why;
	uint8_t id[8];
	int ret;

	if (!d)
		return NULL;
	ret = -EINVAL;
	if (sl_relay_dir_parse_url(url, d->host, sizeof(d->host), &d->port, &why) ||
	    strlen(self) > SL_ADDR_BODY_MAX)
		goto err;
	/* This process's id in our values: a restarted node at the same address is a new owner. */
	if (getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id)) {
		ret = -EIO;
		goto err;
	}
	snprintf(d->value, sizeof(d->value), "%s %02x%02x%02x%02x%02x%02x%02x%02x", self, id[0],
		 id[1], id[2], id[3], id[4], id[5], id[6], id[7]);
	d->node = n;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	ret = sl_relay_fleet_start(n, self, &dir_ops, d);
	if (ret)
		goto err_sync;
	ret = -pthread_create(&d->thread, NULL, dir_thread, d);
	if (ret) {
		sl_relay_fleet_stop(n);
		goto err_sync;
	}
	sl_log(SL_LOG_INFO, "node=%s event=relay_fleet directory=%s:%u self=%s",
	       sl_node_name(n), d->host, d->port, self);
	return d;
err_sync:
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->lock);
err:
	free(d);
	errno = -ret;
	return NULL;
}

void sl_relay_dir_stop(struct sl_relay_dir *d)
{
	struct op *o;

	if (!d)
		return;
	/* The shards have stopped: nothing enqueues. Our thread goes before the engine's side it calls. */
	pthread_mutex_lock(&d->lock);
	d->stop = true;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->thread, NULL);
	sl_relay_fleet_stop(d->node);
	while ((o = d->head)) {
		d->head = o->next;
		free(o);
	}
	/* A clean stop gives our names back at once (a killed node's expire with their TTL). */
	for (unsigned b = 0; b < OWNED_BUCKETS; b++)
		while (d->owned[b]) {
			struct owned *x = d->owned[b];
			redisReply *r = d->rc ? command(d, "deregister", "EVAL %s 1 " SL_RELAY_DIR_KEY
							"%s %s", delete_lua, x->name, d->value)
					      : NULL;

			if (r)
				freeReplyObject(r);
			d->owned[b] = x->next;
			free(x);
		}
	if (d->rc)
		redisFree(d->rc);
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->lock);
	free(d);
}
