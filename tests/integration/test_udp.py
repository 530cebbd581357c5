"""The UDP transport: nodes with a UDP listener, routes that mix /udp and /tcp
hops (message, secure channel, portal, relay), and datagrams built and read by
Python's cbor2 and struct straight from Ockam's type definitions
(ockam_transport_udp/src/messages: UdpTransportMessage, UdpRoutingMessage)."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import cbor2

from harness import NodeTest, connects, wait_until


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# UdpRoutingMessage: [onward Route, return Route, bytes payload]; Address = [type, bytes].
def routing_message(onward, ret, payload):
    return cbor2.dumps([[[0, a.encode()] for a in onward], [[0, a.encode()] for a in ret],
                        payload])


# UdpTransportMessage: [Version u8, RoutingNumber u16, offset u32, is_last, bytes]; 493-byte chunks.
def datagrams(rn, body, chunk=493):
    out, off = [], 0
    while True:
        part = body[off:off + chunk]
        last = off + len(part) >= len(body)
        out.append(cbor2.dumps([1, rn, off, last, part]))
        off += len(part)
        if last:
            return out


def bare_string(s):
    b = s.encode()
    assert len(b) < 128
    return bytes([len(b)]) + b


class LossyProxy:
    """A UDP hop between one client and a node that drops, repeats and swaps
    datagrams by a fixed pattern (no randomness: every run is the same).
    mode "clean" forwards all; "faulty": of every `period` datagrams one is
    lost, one sent twice, and two swap places."""

    def __init__(self, upstream_port, period=6):
        self.period = period
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.up = ("127.0.0.1", upstream_port)
        self.client = None
        self.mode = "clean"
        self.n = 0
        self.held = None
        self.lost = self.duplicated = self.swapped = 0
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while True:
            try:
                d, a = self.sock.recvfrom(4096)
            except OSError:
                return
            if a != self.up:
                self.client = a
                to = self.up
            elif self.client:
                to = self.client
            else:
                continue
            self.forward(d, to)

    def forward(self, d, to):
        if self.mode == "clean":
            self.sock.sendto(d, to)
            return
        k = self.n % self.period
        self.n += 1
        if k == self.period - 5:
            self.lost += 1
        elif k == 3:
            self.sock.sendto(d, to)
            self.sock.sendto(d, to)
            self.duplicated += 1
        elif k == self.period - 2:
            self.held = (d, to)
        elif k == self.period - 1 and self.held:
            self.sock.sendto(d, to)
            self.sock.sendto(*self.held)
            self.held = None
            self.swapped += 1
        else:
            self.sock.sendto(d, to)

    def close(self):
        self.sock.close()


class Udp(NodeTest):
    def setUp(self):
        super().setUp()
        self.p2 = free_udp_port()
        self.sluice("node", "create", "n1")
        self.sluice("node", "create", "n2", "--udp-listener-address", "127.0.0.1:%d" % self.p2)

    def send(self, msg, to, frm="n1", *extra, **kw):
        return self.sluice("message", "send", msg, "--from", frm, "--to", to, *extra, **kw)

    def udp(self, port=None):
        return "/ip4/127.0.0.1/udp/%d" % (port or self.p2)

    def test_message_over_udp_hop(self):
        self.assertEqual(self.send("hello", self.udp() + "/service/uppercase").stdout.strip(),
                         "HELLO")
        # 5000 bytes: 11 datagrams each way, reassembled.
        big = "ab" * 2500
        self.assertEqual(self.send(big, self.udp() + "/service/echo").stdout.strip(), big)
        # n2 received those 11 datagrams at least; its metrics say so.
        got = {s["name"]: s["value"] for s in self.home.json("node", "stats", "n2")}
        self.assertGreaterEqual(got["sluice_udp_datagrams_in_total"], 11)
        self.assertGreaterEqual(got["sluice_udp_datagrams_out_total"], 11)
        self.assertEqual(got["sluice_udp_drops_total"], 0)

    def test_node_show_help_and_errors(self):
        info = self.home.json("node", "show", "n2")
        self.assertEqual(info["udp_listener_address"], "127.0.0.1:%d" % self.p2)
        self.assertIsNone(self.home.json("node", "show", "n1")["udp_listener_address"])
        shown = self.sluice("node", "show", "n2").stdout
        self.assertIn("/ip4/127.0.0.1/udp/%d" % self.p2, shown)
        self.assertIn("--udp-listener-address", self.sluice("node", "create", "--help").stdout)
        for bad in ("127.0.0.1:0", "nonsense", "127.0.0.1:70000"):
            p = self.sluice("node", "create", "n9", "--udp-listener-address", bad, check=False)
            self.assertNotEqual(p.returncode, 0, bad)
            self.assertIn("UDP listener address", p.stderr)
        p = self.send("x", "/dnsaddr/localhost/udp/%d/service/echo" % self.p2, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("/udp needs /ip4 or /ip6", p.stderr)

    def test_secure_channel_udp_then_tcp(self):
        """n1 -UDP-> n2 -TCP-> n3: the channel ends at n3, n2 only forwards."""
        self.sluice("node", "create", "n3")
        p3 = self.home.node_port("n3")
        sc = self.sluice("secure-channel", "create", "--from", "n1", "--to",
                         self.udp() + "/ip4/127.0.0.1/tcp/%d/service/api" % p3).stdout.strip()
        self.assertTrue(sc.startswith("/service/"), sc)
        for i in range(20):
            self.assertEqual(self.send("hello %d" % i, sc + "/service/uppercase").stdout.strip(),
                             "HELLO %d" % i)
        chans = self.home.json("secure-channel", "list", "--at", "n3")
        self.assertEqual(len(chans), 1)
        self.assertEqual(self.home.json("secure-channel", "list", "--at", "n2"), [])

    def test_portal_over_udp_hop(self):
        body, hp = self.serve_file(20000)
        self.sluice("tcp-outlet", "create", "--at", "n2", "--from", "/service/outlet",
                    "--to", "127.0.0.1:%d" % hp)
        out = self.sluice("tcp-inlet", "create", "--at", "n1", "--from", "127.0.0.1:0",
                          "--to", self.udp() + "/service/outlet").stdout.strip()
        port = int(out.rsplit(":", 1)[1])
        p = subprocess.run(["curl", "-sS", "--max-time", "10", "--head",
                            "http://127.0.0.1:%d/" % port], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("200", p.stdout.splitlines()[0])
        p = subprocess.run(["curl", "-sS", "--max-time", "10", "http://127.0.0.1:%d/f.bin" % port],
                           capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, body)

    @staticmethod
    def _connects(port):
        return connects(port)

    def serve_file(self, size):
        """An HTTP server on 127.0.0.1 serving f.bin, size random bytes: (body, port)."""
        www = tempfile.mkdtemp(prefix="sluice-www-")
        self.addCleanup(shutil.rmtree, www, True)
        body = os.urandom(size)
        with open(os.path.join(www, "f.bin"), "wb") as f:
            f.write(body)
        hp = free_tcp_port()
        http = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                                 str(hp)], cwd=www, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        self.addCleanup(http.wait)
        self.addCleanup(http.kill)
        self.assertTrue(wait_until(lambda: self._connects(hp), 10))
        return body, hp

    def test_relay_reached_over_udp(self):
        """A relay node heard over UDP: b registers there, c reaches b's listener through it."""
        pr = free_udp_port()
        self.sluice("node", "create", "relay", "--udp-listener-address", "127.0.0.1:%d" % pr)
        self.sluice("node", "create", "b")
        out = self.sluice("relay", "create", "b", "--at", self.udp(pr), "--to", "b").stdout
        self.assertEqual(out.strip(), "/service/forward_to_b")
        sc = self.sluice("secure-channel", "create", "--from", "n1", "--to",
                         self.udp(pr) + "/service/forward_to_b/service/api").stdout.strip()
        self.assertEqual(self.send("via relay", sc + "/service/uppercase").stdout.strip(),
                         "VIA RELAY")

    # ---- faults on the UDP hop ----

    def test_channel_over_lossy_hop_stays_up(self):
        """Loss, duplication and reordering on n1 -UDP-> n2: the channel survives,
        every reply that comes is the right one, and lost ones time out."""
        px = LossyProxy(self.p2)
        self.addCleanup(px.close)
        sc = self.sluice("secure-channel", "create", "--from", "n1", "--to",
                         self.udp(px.port) + "/service/api").stdout.strip()
        px.mode = "faulty"
        ok = lost = 0
        for i in range(12):
            p = self.send("m%d" % i, sc + "/service/uppercase", "n1", "--timeout", "1s",
                          check=False)
            if p.returncode == 0:
                self.assertEqual(p.stdout.strip(), "M%d" % i, "a reply for another request")
                ok += 1
            else:
                lost += 1
        self.assertGreater(px.lost, 0, "the proxy lost nothing: the test tests nothing")
        self.assertGreater(px.duplicated, 0)
        self.assertGreater(ok, 0)
        self.assertGreater(lost, 0)
        px.mode = "clean"
        self.assertEqual(self.send("after", sc + "/service/uppercase").stdout.strip(), "AFTER")
        self.assertEqual(len(self.home.json("secure-channel", "list", "--at", "n1")), 1)

    def test_portal_over_lossy_hop_closes_cleanly(self):
        """A portal stream that loses a datagram is closed, not corrupted; the inlet
        serves the next connection once the hop is clean."""
        px = LossyProxy(self.p2, period=60)
        self.addCleanup(px.close)
        body, hp = self.serve_file(300000)
        self.sluice("tcp-outlet", "create", "--at", "n2", "--from", "/service/outlet",
                    "--to", "127.0.0.1:%d" % hp)
        out = self.sluice("tcp-inlet", "create", "--at", "n1", "--from", "127.0.0.1:0",
                          "--to", self.udp(px.port) + "/service/outlet").stdout.strip()
        port = int(out.rsplit(":", 1)[1])
        url = "http://127.0.0.1:%d/f.bin" % port
        px.mode = "faulty"
        t0 = time.monotonic()
        p = subprocess.run(["curl", "-sS", "--max-time", "15", url], capture_output=True)
        self.assertLess(time.monotonic() - t0, 16)
        self.assertGreater(px.lost, 0)
        self.assertNotEqual(p.returncode, 28, "the stream stalled to curl's timeout, not closed")
        self.assertNotEqual(p.stdout, body, "a stream with lost datagrams came out whole?")
        self.assertTrue(body.startswith(p.stdout), "bytes after a gap reached the client")
        px.mode = "clean"
        p = subprocess.run(["curl", "-sS", "--max-time", "15", url], capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, body)

    # ---- datagrams from Python ----

    def peer(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.settimeout(5)
        self.addCleanup(s.close)
        # Wait for the node's listener: a message to echo comes back.
        return s

    def replies(self, s, want, timeout=5):
        """Reassemble whole routing messages from the node (parts in order on loopback)."""
        got, parts = [], {}
        end = time.monotonic() + timeout
        while len(got) < want and time.monotonic() < end:
            s.settimeout(max(0.05, end - time.monotonic()))
            try:
                d, _ = s.recvfrom(2048)
            except socket.timeout:
                break
            self.assertLessEqual(len(d), 508)
            version, rn, off, last, chunk = cbor2.loads(d)
            self.assertEqual(version, 1)
            self.assertEqual(cbor2.dumps([version, rn, off, last, chunk]), d, "shortest CBOR")
            buf = parts.setdefault(rn, bytearray())
            self.assertEqual(off, len(buf))
            buf += chunk
            if last:
                onward, ret, payload = cbor2.loads(bytes(parts.pop(rn)))[:3]
                got.append((onward, ret, payload))
        return got

    def test_python_datagrams_uppercase_and_reorder(self):
        s = self.peer()
        addr = ("127.0.0.1", self.p2)
        for d in datagrams(100, routing_message(["uppercase"], ["app"], bare_string("hello"))):
            s.sendto(d, addr)
        [(onward, ret, payload)] = self.replies(s, 1)
        self.assertEqual(onward, [[0, b"app"]])
        self.assertEqual(payload, bare_string("HELLO"))
        # A 3000-byte message to echo in 7 parts, sent last part first.
        body = os.urandom(3000)
        ds = datagrams(101, routing_message(["echo"], ["app"], body))
        self.assertEqual(len(ds), 7)
        for d in reversed(ds):
            s.sendto(d, addr)
        [(onward, _, payload)] = self.replies(s, 1)
        self.assertEqual(payload, body)

    def test_python_datagrams_loss_and_duplicates(self):
        s = self.peer()
        addr = ("127.0.0.1", self.p2)
        # Message 200 loses its part 1; 201 comes whole: only 201 is answered, intact.
        lost = datagrams(200, routing_message(["echo"], ["app"], b"L" * 2000))
        for i, d in enumerate(lost):
            if i != 1:
                s.sendto(d, addr)
        good = os.urandom(1500)
        for d in datagrams(201, routing_message(["echo"], ["app"], good)):
            s.sendto(d, addr)
        got = self.replies(s, 2, timeout=1.5)
        self.assertEqual([g[2] for g in got], [good])
        # The same whole message twice (a duplicated datagram): one reply.
        d = datagrams(202, routing_message(["echo"], ["app"], b"once"))
        self.assertEqual(len(d), 1)
        s.sendto(d[0], addr)
        s.sendto(d[0], addr)
        got = self.replies(s, 2, timeout=1.5)
        self.assertEqual([g[2] for g in got], [b"once"])
        # Garbage and an unknown version are dropped; the node still answers.
        s.sendto(b"\xff\x00garbage", addr)
        s.sendto(cbor2.dumps([2, 203, 0, True, routing_message(["echo"], ["app"], b"v2")]), addr)
        for d in datagrams(204, routing_message(["echo"], ["app"], b"after")):
            s.sendto(d, addr)
        got = self.replies(s, 2, timeout=1.5)
        self.assertEqual([g[2] for g in got], [b"after"])


    def test_python_datagrams_route_too_long_dropped(self):
        # max-route-length holds over UDP as over TCP: the message is dropped and counted.
        p3 = free_udp_port()
        self.sluice("node", "create", "n3", "--udp-listener-address", "127.0.0.1:%d" % p3,
                    "--limit", "max-route-length=4")
        s = self.peer()
        addr = ("127.0.0.1", p3)
        time.sleep(0.15)  # the per-shard log rate limit (100 ms) may be the CLI's just now
        for d in datagrams(300, routing_message(["hop"] * 4 + ["echo"], ["app"], b"long")):
            s.sendto(d, addr)
        for d in datagrams(301, routing_message(["hop"] * 3 + ["echo"], ["app"], b"four")):
            s.sendto(d, addr)
        got = self.replies(s, 2, timeout=1.5)
        self.assertEqual([g[2] for g in got], [b"four"])
        stats = self.home.json("node", "stats", "n3")
        self.assertEqual([x["value"] for x in stats if x["name"] == "sluice_limit_rejections_total"
                          and x["labels"].get("limit") == "max-route-length"], [1])
        log = open(self.home.json("node", "show", "n3")["log"]).read()
        self.assertIn("reason=limit limit=max-route-length hops=5 peer=127.0.0.1:", log)


if __name__ == "__main__":
    unittest.main()
