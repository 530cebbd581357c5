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
        self.stop = threading.Event()
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(16)
        self.addCleanup(srv.close)
        self.addCleanup(self.stop.set)
        threading.Thread(target=serve, args=(srv, self.stop), daemon=True).start()
        self.sluice("node", "create", "relay")
        self.sluice("node", "create", "n2")
        self.sluice("relay", "create", "n2", "--at", "/node/relay", "--to", "/node/n2")
        self.sluice("tcp-outlet", "create", "--at", "n2", "--from", "/service/outlet",
                    "--to", "127.0.0.1:%d" % srv.getsockname()[1])

    def download(self, port, got, done):
        """Read a greedy download until done is set, counting bytes in got[0]."""
        with socket.create_connection(("127.0.0.1", port), 10) as s:
            s.settimeout(10)
            s.sendall(b"D")
            while not done.is_set():
                b = s.recv(1 << 20)
                if not b:
                    return
                got[0] += len(b)

    def test_two_greedy_downloads_share_the_relay_node(self):
        ports = [self.inlet("n1"), self.inlet("n3")]
        done = threading.Event()
        got = [[0], [0]]
        ts = [threading.Thread(target=self.download, args=(p, g, done), daemon=True)
              for p, g in zip(ports, got)]
        for t in ts:
            t.start()
        time.sleep(0.5)
        before = [g[0] for g in got]
        time.sleep(2)
        moved = [g[0] - b for g, b in zip(got, before)]
        done.set()
        self.stop.set()
        for t in ts:
            t.join(10)
        print("two greedy downloads through one relay node, 2 s: %.0f and %.0f MB/s"
              % (moved[0] / 2e6, moved[1] / 2e6))
        self.assertGreater(min(moved), 0.33 * max(moved), "one download starved the other")

    def test_request_response_keeps_its_pace_beside_a_greedy_download(self):
        greedy_port, small_port = self.inlet("n1"), self.inlet("n3")
        self.pings(small_port)  # warm: channels, connections, pools
        quiet, quiet_s = self.pings(small_port)

        got = [0]
        done = threading.Event()
        g = threading.Thread(target=self.download, args=(greedy_port, got, done), daemon=True)
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


if __name__ == "__main__":
    unittest.main()
