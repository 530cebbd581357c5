"""Faults injected between two nodes on test hosts of our own: a network
namespace per test, joined to this one by a veth pair whose two addresses
(10.77.X.1 here, 10.77.X.2 there) exist nowhere else. Node n1 (with the inlet
and the client) stays here; node n2 (the outlet and its target) runs in the
namespace. Between them: packet loss, duplicates and reordering (nftables and
an HTB slow lane: this kernel has no netem), 40 ms of delay (a proxy), a link
cut and restored, and n2 frozen with SIGSTOP. Under each, a portal stream
through a secure channel is whole both ways (sha256 end to end), the nodes'
memory stays bounded, and channels and relays carry on or come back.
Needs root (namespaces); skipped otherwise."""

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

from harness import SLUICE, NodeTest, alive, wait_until
from stream_server import pattern

HERE = os.path.dirname(os.path.abspath(__file__))
SIZE = 8 << 20
SANITIZED = bool(os.environ.get("SLUICE_SANITIZED"))
# ASan keeps up to 256 MiB of freed memory in quarantine (quarantine_size_mb) and
# maps shadow memory besides: under it the same bound holds on top of that.
RSS_MAX_KIB = (256 << 10) + ((256 + 64) << 10 if SANITIZED else 0)
# A slow build on a loaded VM takes seconds to get a stream going.
UNDER_WAY_S = 60 if SANITIZED else 20


def usable():
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("nft"):
        return False
    name = "slprobe%d" % os.getpid()
    ok = subprocess.run(["ip", "netns", "add", name], capture_output=True).returncode == 0
    if ok:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return ok


USABLE = usable()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def sh(*args, check=True, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=20, check=check, **kw)


class TestNet:
    """The namespace, the veth pair and what runs or is ruled in there."""

    def __init__(self):
        used = sh("ip", "-br", "addr").stdout
        for x in [(os.getpid() + i) % 200 + 20 for i in range(200)]:
            if "10.77.%d." % x not in used:
                break
        self.ns = "slf%d" % os.getpid()
        self.here, self.there = "slh%d" % os.getpid(), "slt%d" % os.getpid()
        self.ip_here, self.ip_there = "10.77.%d.1" % x, "10.77.%d.2" % x
        self.procs = []
        sh("ip", "netns", "add", self.ns)
        sh("ip", "link", "add", self.here, "type", "veth", "peer", "name", self.there,
           "netns", self.ns)
        sh("ip", "addr", "add", self.ip_here + "/24", "dev", self.here)
        self.inside("ip", "addr", "add", self.ip_there + "/24", "dev", self.there)
        # Segments the size of the wire's, so a fault hits one packet, not a 64 KiB burst.
        sh("ip", "link", "set", self.here, "gso_max_size", "1500", "up")
        self.inside("ip", "link", "set", self.there, "gso_max_size", "1500", "up")
        self.inside("ip", "link", "set", "lo", "up")

    def inside(self, *args, check=True):
        return sh("ip", "netns", "exec", self.ns, *args, check=check)

    def spawn(self, *args):
        """A helper process in the namespace; its first stdout line (a port) is returned."""
        p = subprocess.Popen(["ip", "netns", "exec", self.ns, sys.executable, *args],
                             stdout=subprocess.PIPE, text=True, cwd=HERE)
        self.procs.append(p)
        return int(p.stdout.readline())

    def rules(self, body):
        """Replace the namespace's fault rules (a table of their own)."""
        self.inside("nft", "delete", "table", "ip", "fault", check=False)
        if body:
            p = subprocess.run(["ip", "netns", "exec", self.ns, "nft", "-f", "-"],
                               input="table ip fault {\n%s\n}\n" % body,
                               capture_output=True, text=True, timeout=20)
            if p.returncode:
                raise AssertionError("nft: " + p.stderr)

    def hits(self):
        """Packets the fault rules' counters saw."""
        out = self.inside("nft", "list", "table", "ip", "fault", check=False).stdout
        return sum(int(w.split()[0]) for w in out.split("packets")[1:])

    def close(self):
        for p in self.procs:
            p.kill()
            p.wait()
            p.stdout.close()
        sh("ip", "netns", "del", self.ns, check=False)
        sh("ip", "link", "del", self.here, check=False)


class NetNodes(NodeTest):
    """n1 here, n2 (with an outlet to a stream server) in a namespace of the test's."""
    N2_ARGS = ()

    def setUp(self):
        super().setUp()
        self.net = TestNet()
        self.addCleanup(self.net.close)
        self.server = self.net.spawn(os.path.join(HERE, "stream_server.py"))
        self.sluice("node", "create", "n1")
        self.in_ns("node", "create", "n2", "--tcp-listener-address", self.net.ip_there + ":0",
                   *[a.replace("{ip}", self.net.ip_there) for a in self.N2_ARGS])
        self.sluice("tcp-outlet", "create", "--at", "n2", "--from", "/service/outlet",
                    "--to", "127.0.0.1:%d" % self.server)
        self.n2_port = self.home.node_port("n2")

    def in_ns(self, *args, check=True):
        """The CLI in the namespace: what it starts (a node) runs there."""
        p = subprocess.run(["ip", "netns", "exec", self.net.ns, SLUICE, *args],
                           capture_output=True, text=True, timeout=30, env=self.home.env)
        if check and p.returncode:
            raise AssertionError("sluice %s: %s" % (" ".join(args), p.stderr))
        return p

    def secure_inlet(self, route_to_n2):
        """An inlet on n1 through a secure channel to n2's outlet: its port."""
        ch = self.sluice("secure-channel", "create", "--from", "n1", "--to",
                         route_to_n2 + "/service/api", timeout=60).stdout.strip()
        out = self.sluice("tcp-inlet", "create", "--at", "n1", "--from", "127.0.0.1:0",
                          "--to", ch + "/service/outlet").stdout.strip()
        self.channel = ch
        return int(out.rsplit(":", 1)[1])

    def n2_route(self):
        return "/ip4/%s/tcp/%d" % (self.net.ip_there, self.n2_port)

    def get(self, port, size=SIZE, seed=1, timeout=90, progress=None):
        """Download through the portal: True when every byte is the right one.
        progress (a dict): its "n" follows the bytes received, its "event" is set
        once the first MiB is in."""
        want = hashlib.sha256(pattern(size, seed)).digest()
        with socket.create_connection(("127.0.0.1", port), 10) as c:
            c.settimeout(timeout)
            c.sendall(b"GET %d %d\n" % (size, seed))
            h, n = hashlib.sha256(), 0
            while True:
                b = c.recv(1 << 20)
                if not b:
                    break
                h.update(b)
                n += len(b)
                if progress is not None:
                    progress["n"] = n
                    if n >= 1 << 20:
                        progress["event"].set()
        self.assertEqual(n, size, "a portal stream came short or long")
        self.assertEqual(h.digest(), want, "a portal stream was altered")

    def put(self, port, size=SIZE, seed=2, timeout=90):
        data = pattern(size, seed)
        with socket.create_connection(("127.0.0.1", port), 10) as c:
            c.settimeout(timeout)
            c.sendall(b"PUT %d\n" % size)
            c.sendall(data)
            got = c.makefile("rb").readline().strip().decode()
        self.assertEqual(got, hashlib.sha256(data).hexdigest(), "an upload was altered")


@unittest.skipUnless(USABLE, "needs root and network namespaces (ip, nft)")
class Faults(NetNodes):
    def whole_both_ways_and_bounded(self, port):
        self.get(port)
        self.put(port)
        for n in ("n1", "n2"):
            self.assertLess(rss_kib(self.home.node_pid(n)), RSS_MAX_KIB, n)
        self.assertEqual(self.sluice("message", "send", "ok", "--from", "n1", "--to",
                                     self.channel + "/service/uppercase",
                                     timeout=60).stdout.strip(), "OK")

    def drop_rules(self, percent):
        """Lose percent of the hop's datagrams, each way."""
        return ("chain c { type filter hook input priority 0; "
                "ip saddr %s udp dport %d numgen random mod 100 < %d counter drop; }\n"
                "chain o { type filter hook output priority 0; "
                "ip daddr %s udp sport %d numgen random mod 100 < %d counter drop; }"
                % (self.net.ip_here, UDP_PORT, percent, self.net.ip_here, UDP_PORT, percent))

    def lossy(self, percent):
        port = self.secure_inlet(self.n2_route())
        self.net.rules("chain c { type filter hook input priority 0; "
                       "ip saddr %s numgen random mod 100 < %d counter drop; }"
                       % (self.net.ip_here, percent))
        self.whole_both_ways_and_bounded(port)
        self.assertGreater(self.net.hits(), 0, "no packet was dropped")

    def test_loss_2_percent(self):
        self.lossy(2)

    def test_loss_5_percent(self):
        self.lossy(5)

    def test_duplicates(self):
        port = self.secure_inlet(self.n2_route())
        self.net.rules("chain c { type filter hook output priority 0; "
                       "ip daddr %s numgen random mod 100 < 20 counter dup to %s; }"
                       % (self.net.ip_here, self.net.ip_here))
        self.whole_both_ways_and_bounded(port)
        self.assertGreater(self.net.hits(), 0, "no packet was duplicated")

    def test_reordering(self):
        # One packet in ten takes a 5 Mbit/s lane and arrives behind those sent after it.
        port = self.secure_inlet(self.n2_route())
        t = self.net.there
        self.net.inside("tc", "qdisc", "add", "dev", t, "root", "handle", "1:", "htb",
                        "default", "10")
        self.net.inside("tc", "class", "add", "dev", t, "parent", "1:", "classid", "1:10",
                        "htb", "rate", "10gbit")
        self.net.inside("tc", "class", "add", "dev", t, "parent", "1:", "classid", "1:20",
                        "htb", "rate", "5mbit")
        self.net.rules("chain c { type filter hook output priority 0; "
                       "ip daddr %s numgen random mod 100 < 10 counter meta priority set 0x10020; }"  # class 1:20
                       % self.net.ip_here)
        self.whole_both_ways_and_bounded(port)
        self.assertGreater(self.net.hits(), 0, "no packet took the slow lane")
        out = self.net.inside("tc", "-s", "class", "show", "dev", t).stdout
        self.assertRegex(out, r"class htb 1:20 .*\n.*Sent [1-9]", out)

    def test_delay_40ms(self):
        # 20 ms each way: a round trip of 40 ms, more with the proxy's own time.
        proxy = self.net.spawn(os.path.join(HERE, "delay_proxy.py"), self.net.ip_there,
                               "%s:%d" % (self.net.ip_there, self.n2_port), "20")
        port = self.secure_inlet("/ip4/%s/tcp/%d" % (self.net.ip_there, proxy))
        t0 = time.monotonic()
        self.sluice("message", "send", "x", "--from", "n1", "--to",
                    self.channel + "/service/uppercase", timeout=30)
        self.assertGreater(time.monotonic() - t0, 0.04, "the delay was not on the path")
        self.whole_both_ways_and_bounded(port)

    def transfer_under_way(self, port, seed):
        """A 32 MiB download on a thread of its own, once its first MiB is in:
        (the thread, the errors it met, its progress). Not a fixed sleep: a slow
        build may not have reached n2 yet, and a fault then would hit the
        connection's setup (a SYN that meets "no route to host" fails the
        client), not the stream under way that the test is about."""
        errors, progress = [], {"n": 0, "event": threading.Event()}

        def transfer():
            try:
                self.get(port, 32 << 20, seed, timeout=120, progress=progress)
            except Exception as e:  # reported on the test's thread
                errors.append(e)
            progress["event"].set()

        t = threading.Thread(target=transfer, daemon=True)
        t.start()
        self.assertTrue(progress["event"].wait(UNDER_WAY_S), "the transfer never started")
        self.assertEqual(errors, [])
        return t, errors, progress

    def test_link_cut_and_restored(self):
        port = self.secure_inlet(self.n2_route())
        t, errors, progress = self.transfer_under_way(port, 3)
        self.net.inside("ip", "link", "set", self.net.there, "down")
        self.assertLess(progress["n"], 32 << 20, "the transfer ended before the link was cut")
        time.sleep(3)
        self.net.inside("ip", "link", "set", self.net.there, "up")
        t.join(150)
        self.assertFalse(t.is_alive(), "the transfer hung after the link came back")
        self.assertEqual(errors, [])
        self.whole_both_ways_and_bounded(port)

    def test_peer_frozen_with_sigstop(self):
        port = self.secure_inlet(self.n2_route())
        pid = self.home.node_pid("n2")
        t, errors, progress = self.transfer_under_way(port, 4)
        os.kill(pid, signal.SIGSTOP)
        try:
            self.assertLess(progress["n"], 32 << 20, "the transfer ended before n2 was frozen")
            time.sleep(3)
            self.assertLess(rss_kib(self.home.node_pid("n1")), RSS_MAX_KIB)
        finally:
            os.kill(pid, signal.SIGCONT)
        t.join(150)
        self.assertFalse(t.is_alive(), "the transfer hung after the peer woke")
        self.assertEqual(errors, [])
        self.whole_both_ways_and_bounded(port)

    def test_relay_comes_back_after_a_cut_and_a_restart(self):
        # The relay node in the namespace, the relay's owner (n1) here.
        self.in_ns("node", "create", "relay", "--tcp-listener-address", self.net.ip_there + ":0")
        self.sluice("relay", "create", "b", "--at", "/node/relay", "--to", "n1", timeout=60)
        via = "/node/relay/service/forward_to_b/service/uppercase"

        def through():
            p = self.sluice("message", "send", "up", "--from", "n2", "--to", via,
                            "--timeout", "3s", check=False, timeout=20)
            return p.returncode == 0 and p.stdout.strip() == "UP"

        self.assertTrue(wait_until(through, 20, 0.5), "the relay never worked")
        self.net.inside("ip", "link", "set", self.net.there, "down")
        time.sleep(3)
        self.net.inside("ip", "link", "set", self.net.there, "up")
        self.in_ns("node", "stop", "relay")
        self.in_ns("node", "start", "relay")
        self.assertTrue(wait_until(through, 40, 0.5), "the relay did not come back")
        st = self.home.json("relay", "show", "b", "--at", "n1")
        self.assertEqual(st["state"], "up", st)
        self.assertGreaterEqual(st["registrations"], 2, "it came back without registering again")


UDP_PORT = 4100  # n2's UDP port, in the test's own namespace: nothing else binds there


@unittest.skipUnless(USABLE, "needs root and network namespaces (ip, nft)")
class UdpHopFaults(NetNodes):
    """The hop n1 -UDP-> n2 under loss, reordering and duplicates (nftables and an
    HTB slow lane, as above). A secure channel over it stays up, every reply that
    comes is the one asked for, repeated datagrams are dropped and counted, and a
    portal stream is whole or closed, never altered."""
    N2_ARGS = ("--udp-listener-address", "{ip}:%d" % UDP_PORT)

    def udp_channel(self):
        return self.sluice("secure-channel", "create", "--from", "n1", "--to",
                           "/ip4/%s/udp/%d/service/api" % (self.net.ip_there, UDP_PORT),
                           timeout=60).stdout.strip()

    def stats(self, node):
        out = self.in_ns if node == "n2" else self.sluice
        return {s["name"]: s["value"] for s in json.loads(
            out("node", "stats", node, "--output", "json").stdout) if not s.get("labels")}

    def numbered(self, ch, n=20):
        """n numbered echoes, some of several datagrams: (answered, timed out).
        Each answer must be its own message, byte for byte."""
        ok = lost = i = 0
        # At 1% a run of n may meet no fault: go on (to a bound) until one hit.
        while i < n or (i < 10 * n and self.net.hits() == 0):
            i += 1
            msg = ("m%03d-" % i) + "x" * (1500 if i % 2 == 0 else 20)
            p = self.sluice("message", "send", msg, "--from", "n1", "--to", ch + "/service/echo",
                            "--timeout", "1s", check=False, timeout=20)
            if p.returncode == 0:
                self.assertEqual(p.stdout.strip(), msg, "a reply altered or for another message")
                ok += 1
            else:
                lost += 1
        return ok, lost

    def stays_up(self, ch, expect_lost):
        ok, lost = self.numbered(ch)
        self.assertGreater(ok, 0, "nothing came through")
        if not expect_lost:
            self.assertEqual(lost, 0, "messages lost with no loss on the hop")
        self.hit = self.net.hits()  # before the rules go, and their counters with them
        self.net.rules(None)
        self.assertTrue(wait_until(lambda: self.sluice(
            "message", "send", "after", "--from", "n1", "--to", ch + "/service/uppercase",
            "--timeout", "1s", check=False).stdout.strip() == "AFTER", 10, 0.1),
            "the channel did not carry on once the hop was clean")
        self.assertEqual(len(self.home.json("secure-channel", "list", "--at", "n1")), 1)

    def drop_rules(self, percent):
        """Lose percent of the hop's datagrams, each way."""
        return ("chain c { type filter hook input priority 0; "
                "ip saddr %s udp dport %d numgen random mod 100 < %d counter drop; }\n"
                "chain o { type filter hook output priority 0; "
                "ip daddr %s udp sport %d numgen random mod 100 < %d counter drop; }"
                % (self.net.ip_here, UDP_PORT, percent, self.net.ip_here, UDP_PORT, percent))

    def lossy(self, percent):
        ch = self.udp_channel()
        self.net.rules(self.drop_rules(percent))
        self.stays_up(ch, True)
        self.assertGreater(self.hit, 0, "no datagram was dropped")

    def test_loss_1_percent(self):
        self.lossy(1)

    def test_loss_5_percent(self):
        self.lossy(5)

    def test_duplicates_dropped(self):
        ch = self.udp_channel()
        keys = ("sluice_udp_datagrams_in_total", "sluice_udp_drops_total")
        b1, b2 = self.stats("n1"), self.stats("n2")
        self.net.rules("chain c { type filter hook output priority 0; "
                       "ip daddr %s udp sport %d numgen random mod 100 < 30 counter dup to %s; }"
                       % (self.net.ip_here, UDP_PORT, self.net.ip_here))
        self.stays_up(ch, False)
        self.assertGreater(self.hit, 0, "no datagram was duplicated")
        a1, a2 = self.stats("n1"), self.stats("n2")
        got, dropped = (a1[k] - b1[k] for k in keys)
        sent = a2["sluice_udp_datagrams_out_total"] - b2["sluice_udp_datagrams_out_total"]
        self.assertGreater(got, sent, "no copy reached n1")
        # What n1 took in is what n2 sent: every extra copy was dropped, and counted.
        self.assertEqual(got - dropped, sent, (got, dropped, sent, self.hit))

    def test_reordering(self):
        ch = self.udp_channel()
        t = self.net.there
        self.net.inside("tc", "qdisc", "add", "dev", t, "root", "handle", "1:", "htb",
                        "default", "10")
        self.net.inside("tc", "class", "add", "dev", t, "parent", "1:", "classid", "1:10",
                        "htb", "rate", "10gbit")
        self.net.inside("tc", "class", "add", "dev", t, "parent", "1:", "classid", "1:20",
                        "htb", "rate", "1mbit")
        self.net.rules("chain c { type filter hook output priority 0; "
                       "ip daddr %s udp sport %d numgen random mod 100 < 30 counter meta priority set 0x10020; }"
                       % (self.net.ip_here, UDP_PORT))
        self.stays_up(ch, False)
        self.assertGreater(self.hit, 0, "no datagram took the slow lane")

    def test_portal_whole_or_closed(self):
        ch = self.udp_channel()
        port = int(self.sluice("tcp-inlet", "create", "--at", "n1", "--from", "127.0.0.1:0",
                               "--to", ch + "/service/outlet").stdout.strip().rsplit(":", 1)[1])
        self.net.rules(self.drop_rules(1))
        size = 2 << 20
        want = pattern(size, 7)
        for _ in range(3):
            got = bytearray()
            t0 = time.monotonic()
            with socket.create_connection(("127.0.0.1", port), 10) as c:
                c.settimeout(30)
                c.sendall(b"GET %d 7\n" % size)
                try:
                    while True:
                        b = c.recv(1 << 20)
                        if not b:
                            break
                        got += b
                except ConnectionResetError:
                    pass  # closed: fine, as long as what came was right
            self.assertLess(time.monotonic() - t0, 30, "the stream hung instead of closing")
            self.assertTrue(want.startswith(bytes(got)), "a portal stream was altered")
        self.assertGreater(self.net.hits(), 0, "no datagram was dropped")


if __name__ == "__main__":
    unittest.main()
