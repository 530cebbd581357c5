/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Portals (tcp-inlet / tcp-outlet, PROTOCOL.md 8): the PortalMessage codec
 * (portal_msg.c), the inlet and outlet worker protocol (portal_conn.c, the
 * inlet's channels in portal_chan.c, the control plane in portal_ctl.c;
 * engine/portal_int.h is what they share), and the ops table through which
 * the engine drives the sockets that transports/ owns (transports/portal.c
 * implements it; the engine includes no socket header).
 *
 * Flow control. Ockam's portals have none: a slow reader at one end lets
 * the other end's bytes pile up in queues. Sluice bounds every connection:
 *
 *  - Sluice-to-Sluice, a credit window. The inlet's Ping and the outlet's
 *    Pong carry a trailing extension `53 4c 01 uleb128(window)` ("SL", v1,
 *    the bytes the sender of it accepts in flight). Ockam decodes Ping and
 *    Pong by their first byte only and ignores the rest, so the same Ping
 *    works against an Ockam outlet. When both ends spoke the extension they
 *    also use Credit `04 uleb128(n)` (n more bytes were written to the local
 *    socket: the sender may send n more) and Eof `05` (half close: the
 *    sender's socket read EOF; the receiver shuts down its socket's write
 *    side once its queue is written, and keeps the other direction open).
 *    A reader stops reading its socket while `sent - credited >= window`,
 *    so per connection and direction at most window + one chunk is in
 *    flight anywhere between the two sockets, whatever the rates.
 *    Payloads to a Sluice peer carry Ockam's packet counter, so a chunk lost
 *    on the way (a full pool somewhere) closes the connection instead of
 *    corrupting the stream silently.
 *  - With an Ockam peer (no extension in its Ping/Pong): Ockam's semantics.
 *    EOF sends Disconnect; what we read goes out as fast as it comes; what
 *    we receive is queued for the socket up to SL_PORTAL_QUEUE_MAX, beyond
 *    which the connection is closed (an Ockam peer cannot be slowed down).
 */
#ifndef SL_PORTAL_H
#define SL_PORTAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/msg.h"

struct sl_node;
struct sl_shard;

/* ---- PortalMessage codec (portal_msg.c) ---- */

#define SL_PORTAL_CHUNK 49152u		/* largest Payload we send (48 KiB, as Ockam) */
/*
 * Bytes in flight per direction, Sluice peers. 512 KiB left the inlet node
 * waiting for Credits ~800 times per GB; 2 MiB: +8% throughput, -7% CPU per
 * GB (README, Portals). 4 MiB gained nothing more.
 */
#define SL_PORTAL_WINDOW (2048u * 1024)
#define SL_PORTAL_QUEUE_MAX (16u << 20)	/* socket queue cap with Ockam peers */
/* Room a Payload head needs in front of its bytes (03 + uleb128 of <= 4 bytes). */
#define SL_PORTAL_HEAD_MAX 6
/* Room the trailing packet counter needs after them (01 + u16le). */
#define SL_PORTAL_TAIL_MAX 3

enum sl_portal_kind {
	SL_PORTAL_PING = 0,
	SL_PORTAL_PONG = 1,
	SL_PORTAL_DISCONNECT = 2,
	SL_PORTAL_PAYLOAD = 3,
	SL_PORTAL_CREDIT = 4,		/* Sluice extension, only after both sides offered it */
	SL_PORTAL_EOF = 5,		/* Sluice extension, likewise */
};

struct sl_portal_msg {
	uint8_t kind;			/* enum sl_portal_kind */
	bool ext;			/* Ping/Pong: the Sluice extension is present */
	bool has_counter;		/* Payload: the trailing packet counter is present */
	uint16_t counter;
	uint32_t window;		/* Ping/Pong with ext */
	uint64_t credit;		/* Credit */
	const uint8_t *data;		/* Payload bytes: a view into the decoded buffer */
	size_t len;
	size_t head;			/* Payload: bytes before data (kind + uleb128) */
};

/*
 * Decode p[0..n). 0, or -EBADMSG (empty, unknown kind, truncated payload or
 * credit). Tolerant as Ockam is: bytes after a Ping, Pong or Disconnect are
 * ignored (unless they are our extension), and after a Payload's bytes an
 * optional `01 u16le` counter is read when three or more bytes follow;
 * anything else there is ignored.
 */
int sl_portal_msg_decode(const uint8_t *p, size_t n, struct sl_portal_msg *out);
/*
 * Encode a message without payload bytes (Ping, Pong, Disconnect, Credit,
 * Eof) into out. ext adds the extension (window) to Ping and Pong. Bytes
 * written, or 0 when cap is too small.
 */
size_t sl_portal_msg_encode(uint8_t *out, size_t cap, enum sl_portal_kind kind, bool ext,
			    uint32_t window, uint64_t credit);
/*
 * Turn m (m->data[0..len) = raw bytes, at most SL_PORTAL_CHUNK) into a
 * Payload in place: the head goes into the headroom, the counter (when
 * has_counter) after the bytes. 0, or -E2BIG when there is no room.
 */
int sl_portal_payload_wrap(struct sl_msg *m, bool has_counter, uint16_t counter);

/* ---- the socket side, implemented in transports/ ---- */

struct sl_portals;		/* a node's portals (inlets, outlets, their ops) */
struct sl_portal_inlet;
struct sl_portal_conn;		/* engine: one portal connection, inlet or outlet side */
struct sl_portal_sock;		/* transports: its socket */

/*
 * Every op runs on the shard thread that owns the socket, except listen and
 * unlisten (control plane, any thread). The engine never touches a sock
 * after close(); transports never calls back into a conn after it.
 */
struct sl_portal_sock_ops {
	/*
	 * Open a TCP connection to "host:port" for pc on s: the result arrives
	 * as sl_portal_on_connect(). NULL (and *err) when it cannot even start.
	 */
	struct sl_portal_sock *(*connect)(void *ctx, struct sl_shard *s, struct sl_portal_conn *pc,
					  const char *hostport, int *err);
	/* Queue m->data[0..len) for the socket; takes ownership of m. */
	void (*write)(struct sl_portal_sock *k, struct sl_msg *m);
	/* Start (true) or stop (false) reading: the engine's backpressure. */
	void (*read)(struct sl_portal_sock *k, bool on);
	/* shutdown(SHUT_WR) once every queued byte is written. */
	void (*shutdown_write)(struct sl_portal_sock *k);
	/*
	 * Close: once the queue is written (bounded by a linger timeout), or at
	 * once (abort, which resets the connection). The sock is gone for the
	 * engine from here on.
	 */
	void (*close)(struct sl_portal_sock *k, bool abort);
	/*
	 * Control plane: listen on "host:port" for inlet in (one socket per
	 * shard) and start accepting on every shard. *port = bound port.
	 * 0 or -errno. unlisten stops accepting. After a 0, `done` runs once
	 * every shard has let go of the inlet (unlisten, or the shards' stop).
	 */
	int (*listen)(void *ctx, struct sl_portal_inlet *in, const char *hostport, uint16_t *port,
		      void (*done)(struct sl_portal_inlet *in));
	void (*unlisten)(void *ctx, struct sl_portal_inlet *in);
};

/* Callbacks transports makes into the engine, on the socket's shard (portal_conn.c). */

/* A client connected to inlet in on s. NULL: refused (transports closes k). */
struct sl_portal_conn *sl_portal_on_accept(struct sl_portal_inlet *in, struct sl_shard *s,
					   struct sl_portal_sock *k);
/* The outlet's connection to its target: 0 = connected, else -errno (k is gone). */
void sl_portal_on_connect(struct sl_portal_conn *pc, int err);
/* m->data[0..len) was read; headroom and tailroom for the Payload framing. Takes m. */
void sl_portal_on_data(struct sl_portal_conn *pc, struct sl_msg *m);
/* The socket read EOF (the peer shut down its write side). Reading has stopped. */
void sl_portal_on_eof(struct sl_portal_conn *pc);
/* n queued bytes reached the kernel's socket buffer. */
void sl_portal_on_written(struct sl_portal_conn *pc, size_t n);
/* The socket failed (reset, write error): k is gone, nothing more comes. */
void sl_portal_on_error(struct sl_portal_conn *pc, int err);

/* ---- inlets and outlets of a node (portal_ctl.c; control plane) ---- */

/*
 * Cold: the node's portals, driven through ops (ctx passed back), kept in
 * the node's feature slot. Once per node, before it starts; freed with the
 * node. NULL on failure (errno; EEXIST when the node has portals already).
 */
struct sl_portals *sl_portals_create(struct sl_node *n, const struct sl_portal_sock_ops *ops,
				     void *ctx);
/* The portals of node n, NULL when it has none. */
struct sl_portals *sl_portals_get(const struct sl_node *n);
/* Cold, after the node's shards stopped. */
void sl_portals_destroy(struct sl_portals *P);

struct sl_portal_info {
	char name[SL_ADDR_BODY_MAX + 1];	/* inlet alias / outlet address */
	char bind[SL_ADDR_BODY_MAX + 1];	/* inlet: "host:port" asked; outlet: target */
	char route[512];			/* inlet: the route text it was given */
	uint16_t port;				/* inlet: bound port */
	uint64_t conns;				/* connections open now */
	uint64_t total;				/* connections since creation */
	uint64_t bytes_in, bytes_out;		/* socket side: read, written */
};

/*
 * Outlet at local address addr (every shard) to target "host:port".
 * 0, -EEXIST (the address is taken), -EINVAL.
 */
int sl_portal_outlet_create(struct sl_portals *P, const char *addr, const char *target);
/* 0, -ENOENT. Connections already open stay. */
int sl_portal_outlet_delete(struct sl_portals *P, const char *addr);

/*
 * An inlet's route. A route with /secure/NAME or /project/NAME in it is not
 * a fixed list of addresses: the inlet makes those secure channels itself,
 * on each shard that has clients, and makes them again when they break.
 *
 *   /node/relay/service/forward_to_b/secure/api/service/outlet
 *     hop[0].to = [1#relay, 0#forward_to_b, 0#api]   tail = [0#outlet]
 *
 * Hop i > 0 is made through hop i - 1's channel; the Ping travels along
 * [last channel] ++ tail. With no hop, tail is the whole (fixed) route.
 *
 * When. A shard makes its channels on its first client (lazily: an inlet
 * whose outlet is down costs nothing until someone connects, and a shard
 * that gets no client makes none); the clients that arrive meanwhile wait,
 * at most the handshakes' timeouts and SL_PORTAL_WAIT_MAX of them. The
 * channels are dropped, and the next client makes new ones, when a Ping
 * through them gets no Pong in time, or at once when one of the channels
 * or the connection under the first stops (the node's worker-stop hook);
 * the connections still open through broken channels are closed then.
 * Channels no longer in use are closed once their last connection ends.
 */
#define SL_PORTAL_HOPS_MAX 4		/* secure channels in one inlet route */
#define SL_PORTAL_WAIT_MAX 4096		/* clients waiting for one shard's channels */

struct sl_portal_hop {
	struct sl_route to;		/* after the previous channel: up to and with the listener */
	bool has_id;			/* the listener must prove this identifier (/project) */
	uint8_t id[32];
};

struct sl_portal_route {
	unsigned nhops;
	struct sl_portal_hop hop[SL_PORTAL_HOPS_MAX];
	struct sl_route tail;		/* through the last channel; the whole route without hops */
};

/*
 * Inlet `alias` listening on bind ("host:port", port 0 = any) that sends
 * its Ping along route (copied; route_text is kept for show/list). 0,
 * -EEXIST (alias taken), -EINVAL (an empty tail, too many hops), or the
 * listen error (-EADDRINUSE...).
 */
int sl_portal_inlet_create(struct sl_portals *P, const char *alias, const char *bind,
			   const struct sl_portal_route *route, const char *route_text, uint16_t *port);
/* 0, -ENOENT. Connections already open stay. */
int sl_portal_inlet_delete(struct sl_portals *P, const char *alias);

/*
 * The shard an inlet's clients should be accepted on, or -1 for any: when
 * its route goes straight into a local worker at a random address (a secure
 * channel given by address, `--to -/service/outlet`), that worker lives on
 * one shard, and a client accepted elsewhere would cross shards both ways
 * on every chunk (PERF.md: keep a flow on one shard).
 */
int sl_portal_inlet_home(const struct sl_portal_inlet *in);
/* The socket side's state of an inlet (its listeners), for transports/. */
void *sl_portal_inlet_io(struct sl_portal_inlet *in);
void sl_portal_inlet_set_io(struct sl_portal_inlet *in, void *io);

/* Snapshots (any thread). list: up to max entries, returns how many exist. */
size_t sl_portal_inlet_list(struct sl_portals *P, struct sl_portal_info *v, size_t max);
size_t sl_portal_outlet_list(struct sl_portals *P, struct sl_portal_info *v, size_t max);
int sl_portal_inlet_get(struct sl_portals *P, const char *alias, struct sl_portal_info *out);
int sl_portal_outlet_get(struct sl_portals *P, const char *addr, struct sl_portal_info *out);

#endif
