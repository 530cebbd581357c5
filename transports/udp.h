/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The UDP transport (type 2, PROTOCOL.md 4), udp.c: a datagram socket per
 * shard and address family, its own provided buffers for a multishot
 * recvmsg, and a fixed pool of datagrams for batched sendmsg (one
 * submission per datagram, many per io_uring_enter). Internal to
 * transports/ (SL_URING_INTERNAL); tools see sl_net_listen_udp in uring.h.
 */
#ifndef SL_TRANSPORTS_UDP_H
#define SL_TRANSPORTS_UDP_H

#include "transports/uring.h"

#define SL_UCLASS_UDP 3

/* Cold, from sl_net_create: the class and the UDP transport. 0 or -errno. */
int sl_udp_register_cold(struct sl_net *t);

#endif
