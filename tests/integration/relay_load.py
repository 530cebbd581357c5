#!/usr/bin/python3
"""Relay load client: many TCP connections to one relay node, each registering
static relays the way a foreign client does (BARE name to
static_forwarding_service), all answers awaited. Loopback only, bounded in
connections and time. Used by test_relay.py and bench/bench_relay.sh.

    relay_load.py PORT CONNS RELAYS_PER_CONN [--hold SECONDS] [--prefix P]
"""

import argparse
import selectors
import socket
import struct
import sys
import time

from ockam_peer import bare, frame, local, uncbor, unbare

MAX_CONNS = 20000


class Load:
    def __init__(self, port, conns, per_conn, prefix="load", host="127.0.0.1"):
        if conns > MAX_CONNS:
            raise ValueError("at most %d connections" % MAX_CONNS)
        self.port, self.host = port, host
        self.conns, self.per_conn, self.prefix = conns, per_conn, prefix
        self.socks = []
        self.answered = 0

    def register(self, timeout=120):
        """Open the connections, register every name, wait for every answer."""
        sel = selectors.DefaultSelector()
        end = time.monotonic() + timeout
        bufs = {}
        for i in range(self.conns):
            s = socket.create_connection((self.host, self.port), timeout=10)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            out = bytearray(b"\x01")
            for k in range(self.per_conn):
                name = "%s-%d-%d" % (self.prefix, i, k)
                out += frame([local("static_forwarding_service")],
                             [local("client-%d" % k)], bare(name))
            s.sendall(out)
            s.setblocking(False)
            self.socks.append(s)
            bufs[s] = bytearray()
            sel.register(s, selectors.EVENT_READ)
        want = self.conns * self.per_conn
        got = {s: 0 for s in self.socks}
        ver_seen = set()
        while self.answered < want:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("%d of %d registrations answered" % (self.answered, want))
            for key, _ in sel.select(min(left, 1.0)):
                s = key.fileobj
                chunk = s.recv(65536)
                if not chunk:
                    raise ConnectionError("the relay node closed a connection")
                b = bufs[s]
                b += chunk
                # The stream starts with the peer's version byte.
                off = 0
                if s not in ver_seen:
                    if b[0] != 1:
                        raise ValueError("bad version byte")
                    ver_seen.add(s)
                    off = 1
                while len(b) - off >= 4:
                    (n,) = struct.unpack(">I", b[off:off + 4])
                    if len(b) - off - 4 < n:
                        break
                    msg, _ = uncbor(bytes(b[off + 4:off + 4 + n]))
                    name = unbare(msg[2]).decode()
                    if not name.startswith("forward_to_" + self.prefix):
                        raise ValueError("unexpected answer %r" % name)
                    got[s] += 1
                    self.answered += 1
                    off += 4 + n
                del b[:off]
        sel.close()
        for s in self.socks:
            s.setblocking(True)
        return self.answered

    def close(self):
        for s in self.socks:
            s.close()
        self.socks = []


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("port", type=int)
    ap.add_argument("conns", type=int)
    ap.add_argument("per_conn", type=int)
    ap.add_argument("--hold", type=float, default=0)
    ap.add_argument("--prefix", default="load")
    a = ap.parse_args()
    t0 = time.monotonic()
    load = Load(a.port, a.conns, a.per_conn, a.prefix)
    n = load.register()
    dt = time.monotonic() - t0
    print("registered %d relays over %d connections in %.2f s (%.0f/s)" % (
        n, a.conns, dt, n / dt), flush=True)
    time.sleep(a.hold)
    load.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
