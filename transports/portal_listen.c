// SPDX-License-Identifier: Apache-2.0
/*
 * Portal inlets' listeners: an inlet's sockets (one per shard, or one on
 * the inlet's home shard) and their multishot accepts, set up on each
 * shard by a call on its ring, taken down the same way; the last shard to
 * let go closes the sockets.
 */
#define SL_URING_INTERNAL
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/log.h"
#include "engine/portal.h"
#include "transports/portal_sock.h"
#include "transports/resolve.h"

void sl_pinlet_arm(struct sl_pshard *ps, unsigned i)
{
	sl_accept_arm(ps->u, &ps->lst[i].a, UOP_PORTAL_ACCEPT, i);
}

static void listen_on(struct sl_shard *s, void *arg)
{
	struct plisten *pl = arg;
	struct sl_ushard *u = sl_shard_io(s);
	struct sl_pshard *ps = u ? sl_pshard_get(u) : NULL;
	unsigned i;

	if (pl->fds[sl_shard_id(s)] < 0)
		return;		/* the inlet accepts on its home shard only */
	for (i = 0; ps && i < PLISTEN_MAX && ps->lst[i].pl; i++)
		;
	if (!ps || i == PLISTEN_MAX) {
		sl_log(SL_LOG_ERROR, "shard=%u event=inlet_listen_failed reason=%s", sl_shard_id(s),
		       ps ? "too_many_inlets" : "no_io");
		return;
	}
	ps->lst[i].pl = pl;
	ps->lst[i].a.fd = pl->fds[sl_shard_id(s)];
	ps->lst[i].a.drains = true;
	sl_pinlet_arm(ps, i);
}

static void plisten_put(struct plisten *pl)
{
	unsigned ns = sl_node_shards(pl->node);

	if (__atomic_sub_fetch(&pl->refs, 1, __ATOMIC_ACQ_REL))
		return;
	/*
	 * shutdown first: a cancelled accept may still hold the file, and only
	 * shutdown stops a listening socket whoever holds it (clients are refused
	 * from here on, not queued).
	 */
	for (unsigned i = 0; i < ns; i++)
		if (pl->fds[i] >= 0) {
			shutdown(pl->fds[i], SHUT_RDWR);
			close(pl->fds[i]);
		}
	if (pl->done)
		pl->done(pl->in);
	free(pl);
}

void sl_pinlet_unlisten_on(struct sl_shard *s, void *arg)
{
	struct plisten *pl = arg;
	struct sl_ushard *u = sl_shard_io(s);
	struct sl_pshard *ps = u ? u->cls[SL_UCLASS_PORTAL] : NULL;

	for (unsigned i = 0; ps && i < PLISTEN_MAX; i++) {
		struct pslot_l *l = &ps->lst[i];

		if (l->pl != pl)
			continue;
		if (l->a.armed)
			sl_uring_cancel(u, UD(UOP_PORTAL_ACCEPT, l->a.gen, i));
		/* A completion still to come names the old generation and is dropped. */
		l->a.gen = (l->a.gen + 1) & 0xffffff;
		l->pl = NULL;
		l->a.armed = false;
	}
	plisten_put(pl);
}

int sl_pinlet_listen(void *ctx, struct sl_portal_inlet *in, const char *hostport, uint16_t *port,
		     void (*done)(struct sl_portal_inlet *in))
{
	struct sl_net *t = ctx;
	unsigned ns = sl_node_shards(t->node);
	struct sockaddr_storage ss;
	struct plisten *pl;
	socklen_t sl = 0;
	uint16_t bound = 0;
	int home = sl_portal_inlet_home(in);
	unsigned nfd = 0;
	int ret;

	ret = sl_resolve_listen_cold(t->node, hostport, &ss, &sl);
	if (ret)
		return ret;
	pl = calloc(1, sizeof(*pl) + ns * sizeof(int));
	if (!pl)
		return -ENOMEM;
	pl->in = in;
	pl->node = t->node;
	pl->done = done;
	pl->home = home;
	/*
	 * An inlet whose route starts at a worker on one shard listens there
	 * only: one socket, so the kernel hands every client to that shard and
	 * the flow never crosses threads (measured: README "Portals"). The
	 * first socket binds alone, so a port someone else holds is refused.
	 */
	ret = sl_listen_group_cold(&ss, sl, ns, home, 4096, true, pl->fds, &bound);
	if (ret) {
		free(pl);
		return ret;
	}
	for (unsigned i = 0; i < ns; i++)
		nfd += pl->fds[i] >= 0;
	pl->refs = (int)nfd;
	sl_portal_inlet_set_io(in, pl);
	for (unsigned i = 0; i < ns; i++)
		while (pl->fds[i] >= 0 && sl_shard_call(t->node, i, listen_on, pl) == -EAGAIN)
			sched_yield();
	*port = bound;
	sl_log(SL_LOG_INFO, "node=%s event=inlet_listening addr=%s port=%u", sl_node_name(t->node),
	       hostport, bound);
	return 0;
}

/* Cold: how long a delete waits for the shards to let go of its listeners. */
#define UNLISTEN_WAIT_US (2 * 1000 * 1000)

void sl_pinlet_unlisten(void *ctx, struct sl_portal_inlet *in)
{
	struct sl_net *t = ctx;
	struct plisten *pl = sl_portal_inlet_io(in);
	struct sl_shard *self = sl_shard_self();
	int home = pl->home;

	/*
	 * A reference of our own, so that the sockets close here once every
	 * shard has let go: `tcp-inlet delete` returns with the port closed (a
	 * test connecting right after it got through once in three CI runs). If a shard
	 * is slower than the wait, the last one to let go closes them instead.
	 */
	__atomic_add_fetch(&pl->refs, 1, __ATOMIC_ACQ_REL);
	for (unsigned i = 0; i < sl_node_shards(t->node); i++) {
		if (home >= 0 && i != (unsigned)home)
			continue;
		/*
		 * Our own shard (the node manager's, shard 0) lets go here: a call
		 * queued to it would run only after we return, and the wait below
		 * would hold the shard, and every flow on it, for the whole wait.
		 */
		if (self && sl_shard_id(self) == i)
			sl_pinlet_unlisten_on(self, pl);
		else
			while (sl_shard_call(t->node, i, sl_pinlet_unlisten_on, pl) == -EAGAIN)
				sched_yield();
	}
	for (unsigned w = 0; w < UNLISTEN_WAIT_US / 100 &&
	     __atomic_load_n(&pl->refs, __ATOMIC_ACQUIRE) > 1; w++)
		usleep(100);
	plisten_put(pl);
}

void sl_pinlet_on_accept(struct sl_pshard *ps, unsigned i, struct io_uring_cqe *cqe)
{
	struct pslot_l *l = &ps->lst[i];
	struct sl_portal_sock *k;
	struct sl_portal_conn *pc;
	int fd = sl_accept_done(ps->u, &l->a, cqe, "inlet_accept_failed");

	if (fd < 0)
		return;
	sl_psock_set_sockopts(fd);
	k = sl_psock_new(ps, fd);
	if (!k) {
		close(fd);
		return;
	}
	pc = sl_portal_on_accept(l->pl->in, ps->u->shard, k);
	if (!pc) {
		k->closing = k->core.dead = true;
		sl_psock_flush_later(k);
		return;
	}
	k->pc = pc;
	sl_psock_flush_later(k);	/* not reading until the Pong: watch for the client's FIN */
}
