"""Two streams through one relay node (n1 -> relay -> n2, and n3 -> relay -> n2): one greedy
bulk download, one request/response. The small one must keep its latency and its rate while
the greedy one runs. What bounds the greedy one is the portal's credit window (2 MiB in flight
per portal connection and direction): the bytes queued ahead of a small message at any hop are
at most a window, whatever the greedy reader does."""

import socket
import threading
import time
import unittest

from harness import NodeTest

CHUNK = 256 << 10
PINGS = 200


def serve(srv, stop):
    """'D': bytes until the client goes; 'P': echo 64-byte requests."""
    def handle(c):
        with c:
            try:
                kind = c.recv(1)
                if kind == b"D":
                    block = b"x" * CHUNK
                    while not stop.is_set():
                        c.sendall(block)
                elif kind == b"P":
                    while True:
                        b = c.recv(64)
                        if not b:
                            return
                        c.sendall(b)
            except OSError:
                return

    while True:
        try:
            c, _ = srv.accept()
        except OSError:
            return
        threading.Thread(target=handle, args=(c,), daemon=True).start()


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        b = s.recv(n - len(buf))
        if not b:
            raise ConnectionError("closed")
        buf += b
    return buf


def download(port, got, done):
    """Read a greedy download until done is set, counting bytes in got[0]."""
    with socket.create_connection(("127.0.0.1", port), 10) as s:
        s.settimeout(10)
        s.sendall(b"D")
        while not done.is_set():
            b = s.recv(1 << 20)
            if not b:
                return
            got[0] += len(b)


def downloads(ports, warm, secs, stop):
    """A greedy download from each port: the bytes each moved in secs, after warm."""
    done = threading.Event()
    got = [[0] for _ in ports]
    ts = [threading.Thread(target=download, args=(p, g, done), daemon=True)
          for p, g in zip(ports, got)]
    for t in ts:
        t.start()
    time.sleep(warm)
    before = [g[0] for g in got]
    time.sleep(secs)
    moved = [g[0] - b for g, b in zip(got, before)]
    done.set()
    stop.set()
    for t in ts:
        t.join(10)
    return moved


def start_server(test):
    """The download and echo server, stopped at the test's end: its port (test.stop set)."""
    test.stop = threading.Event()
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    test.addCleanup(srv.close)
    test.addCleanup(test.stop.set)
    threading.Thread(target=serve, args=(srv, test.stop), daemon=True).start()
    return srv.getsockname()[1]


class FairShare(NodeTest):
    def inlet(self, node):
        """A portal from node through the relay node to n2's outlet: its local port."""
        self.sluice("node", "create", node)
        sc = self.sluice("secure-channel", "create", "--from", node, "--to",
                         "/node/relay/service/forward_to_n2/service/api").stdout
        out = self.sluice("tcp-inlet", "create", "--at", node, "--from", "127.0.0.1:0",
                          "--to", "-/service/outlet", input=sc).stdout
        return int(out.strip().rsplit(":", 1)[1])

    def pings(self, port):
        """PINGS request/response round trips of 64 bytes: sorted latencies (s), wall time."""
        s = socket.create_connection(("127.0.0.1", port), 10)
        s.settimeout(10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with s:
            s.sendall(b"P")
            lat = []
            t0 = time.monotonic()
            for i in range(PINGS):
                msg = (b"%064d" % i)[:64]
                t = time.monotonic()
                s.sendall(msg)
                self.assertEqual(recv_exact(s, 64), msg)
                lat.append(time.monotonic() - t)
            return sorted(lat), time.monotonic() - t0

    def setUp(self):
        super().setUp()
        port = start_server(self)
        self.sluice("node", "create", "relay")
        self.sluice("node", "create", "n2")
        self.sluice("relay", "create", "n2", "--at", "/node/relay", "--to", "/node/n2")
        self.sluice("tcp-outlet", "create", "--at", "n2", "--from", "/service/outlet",
                    "--to", "127.0.0.1:%d" % port)

    def test_two_greedy_downloads_share_the_relay_node(self):
        moved = downloads([self.inlet("n1"), self.inlet("n3")], 0.5, 2, self.stop)
        print("two greedy downloads through one relay node, 2 s: %.0f and %.0f MB/s"
              % (moved[0] / 2e6, moved[1] / 2e6))
        self.assertGreater(min(moved), 0.33 * max(moved), "one download starved the other")

    def test_request_response_keeps_its_pace_beside_a_greedy_download(self):
        greedy_port, small_port = self.inlet("n1"), self.inlet("n3")
        self.pings(small_port)  # warm: channels, connections, pools
        quiet, quiet_s = self.pings(small_port)

        got = [0]
        done = threading.Event()
        g = threading.Thread(target=download, args=(greedy_port, got, done), daemon=True)
        g.start()
        time.sleep(1)  # the download at full speed
        before = got[0]
        t0 = time.monotonic()
        loaded, loaded_s = self.pings(small_port)
        rate = (got[0] - before) / (time.monotonic() - t0)
        done.set()
        self.stop.set()
        g.join(10)

        def pct(v, p):
            return v[min(len(v) - 1, int(len(v) * p))] * 1000

        print("fair share through one relay node: %d round trips of 64 B, quiet p50 %.2f "
              "p99 %.2f ms (%.0f/s); beside a download at %.0f MB/s: p50 %.2f p99 %.2f ms "
              "(%.0f/s)" % (PINGS, pct(quiet, .5), pct(quiet, .99), PINGS / quiet_s, rate / 1e6,
                            pct(loaded, .5), pct(loaded, .99), PINGS / loaded_s))
        self.assertGreater(rate, 20e6, "the greedy download ran at speed during the pings")
        # The bound: a window's worth of queueing per hop, far below the 10 s the small
        # stream would wait if the greedy one could take the relay node.
        self.assertLess(pct(loaded, .5), 50, "median round trip beside the download")
        # Starved, each round trip would wait for the relay's queues to drain (up to 64 MiB
        # a connection): seconds, not milliseconds.
        self.assertLess(loaded_s, 8, "the small stream kept a pace")


class FairSharePerIdentity(NodeTest):
    """Identity A (node a) owns a relay with GREEDY_A greedy downloads through it, identity B
    (node b) one with a single download, both through one relay node. Shared per portal
    connection B would get 1/(GREEDY_A + 1) of the relay node's forwarding; shared per identity
    (relay-fair-share) about half."""

    GREEDY_A = 3

    def start(self, limit):
        """The relay node; identity ia's GREEDY_A nodes and ib's one, each registering a
        relay and serving downloads; a client node per download. One process per stream on
        either side, so the CPU of this machine does not share per identity by itself."""
        port = start_server(self)
        self.sluice("node", "create", "relay", "--limit", "relay-fair-share=%d" % limit)
        self.sluice("identity", "create", "ia")
        self.sluice("identity", "create", "ib")
        self.owners = ["a%d" % i for i in range(self.GREEDY_A)] + ["b"]
        for owner in self.owners:
            self.sluice("node", "create", owner, "--identity", "ib" if owner == "b" else "ia")
            self.sluice("relay", "create", owner, "--at", "/node/relay", "--to", "/node/" + owner)
            self.sluice("tcp-outlet", "create", "--at", owner, "--from", "/service/outlet",
                        "--to", "127.0.0.1:%d" % port)
            self.sluice("node", "create", "c" + owner)

    def inlet(self, node, owner):
        sc = self.sluice("secure-channel", "create", "--from", node, "--to",
                         "/node/relay/service/forward_to_%s/service/api" % owner).stdout
        out = self.sluice("tcp-inlet", "create", "--at", node, "--from", "127.0.0.1:0",
                          "--to", "-/service/outlet", input=sc).stdout
        return int(out.strip().rsplit(":", 1)[1])

    def shares(self, limit):
        """B's part of the bytes all the downloads moved in 4 s, with relay-fair-share=limit."""
        self.start(limit)
        moved = downloads([self.inlet("c" + o, o) for o in self.owners], 1, 4, self.stop)
        a, b = sum(moved[:-1]), moved[-1]
        self.pauses = [s["value"] for s in self.home.json("node", "stats", "relay")
                       if s["name"] == "sluice_limit_rejections_total"
                       and s["labels"].get("limit") == "relay-fair-share"]
        print("relay-fair-share=%d: identity A (%d downloads) %.0f MB/s, identity B (one) "
              "%.0f MB/s: B has %.2f; pauses %s" % (limit, self.GREEDY_A, a / 4e6, b / 4e6,
                                                   b / (a + b), self.pauses))
        return a, b

    def test_an_identity_with_many_streams_leaves_another_its_half(self):
        a, b = self.shares(110)
        self.assertGreater(a + b, 0)
        self.assertGreaterEqual(b / (a + b), 0.35, "B kept close to half the relay node")
        self.assertGreater(a, 0.35 * (a + b), "A was not starved either")
        # The metric and the log line of the limit.
        self.assertGreater(self.pauses[0], 0)
        with open(self.home.json("node", "show", "relay")["log"]) as f:
            self.assertIn("event=fair_share capped=2", f.read())


if __name__ == "__main__":
    unittest.main()
