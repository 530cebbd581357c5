"""A relay fleet end to end: a redis-server of the test's own (127.0.0.1, a free
port, no persistence) and three relay nodes sharing it as their directory.
A relay registered at one node is reached through the others; a newer
registration on another node takes the name over; a killed node's names
expire with their TTL and may be registered again elsewhere."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request

from harness import SLUICE, NodeTest, wait_until

REDIS = shutil.which("redis-server")
PROMTOOL = shutil.which("promtool")
TTL_S = 10          # SL_RELAY_DIR_TTL_MS
REFRESH_S = TTL_S / 3
CACHE_S = 1.0       # SL_FLEET_CACHE_NS


def free_port(family=socket.AF_INET):
    s = socket.socket(family)
    s.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Redis:
    """redis-server on 127.0.0.1:port, no persistence, stopped at cleanup."""

    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="sluice-redis-")
        self.proc = subprocess.Popen(
            [REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_until(lambda: self.call("PING") == "PONG", timeout=10):
            self.stop()
            raise AssertionError("redis-server did not answer on port %d" % self.port)

    def call(self, *args):
        """One command over RESP; the reply as a string, an int, or None."""
        req = b"*%d\r\n" % len(args) + b"".join(
            b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in args)
        try:
            with socket.create_connection(("127.0.0.1", self.port), 1) as s:
                s.settimeout(2)
                s.sendall(req)
                data = b""
                while b"\r\n" not in data:
                    chunk = s.recv(4096)
                    if not chunk:
                        return None
                    data += chunk
                head, rest = data.split(b"\r\n", 1)
                if head[:1] in (b"+", b"-"):
                    return head[1:].decode()
                if head[:1] == b":":
                    return int(head[1:])
                if head == b"$-1":
                    return None
                n = int(head[1:])
                while len(rest) < n + 2:
                    rest += s.recv(4096)
                return rest[:n].decode()
        except OSError:
            return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


@unittest.skipUnless(REDIS, "redis-server is not installed (tools/deps.sh test)")
class Fleet(NodeTest):
    def setUp(self):
        super().setUp()
        self.redis = Redis()
        self.addCleanup(self.redis.stop)
        self.url = "redis://127.0.0.1:%d" % self.redis.port
        self.ports = {}
        for r in ("r1", "r2", "r3"):
            self.ports[r] = free_port()
            self.sluice("node", "create", r, "--tcp-listener-address",
                        "127.0.0.1:%d" % self.ports[r], "--relay-directory", self.url)
        for n in ("a", "b", "c"):
            self.sluice("node", "create", n)

    def entry(self, name):
        return self.redis.call("GET", "sluice:relay:" + name)

    def owner_is(self, name, relay):
        v = self.entry(name)
        return v is not None and v.split(" ")[0] == "127.0.0.1:%d" % self.ports[relay]

    def send(self, frm, via, name, text="hello", timeout="5s"):
        return self.sluice("message", "send", text, "--from", frm, "--timeout", timeout,
                           "--to", "/node/%s/service/forward_to_%s/service/uppercase" % (via, name),
                           check=False, timeout=30)

    def through_channel(self, frm, via, name):
        sc = self.sluice("secure-channel", "create", "--from", frm, "--to",
                         "/node/%s/service/forward_to_%s/service/api" % (via, name),
                         timeout=30).stdout.strip()
        return self.sluice("message", "send", "hello", "--from", frm, "--to",
                           "%s/service/uppercase" % sc, timeout=30).stdout.strip()

    def stat(self, node, name, **labels):
        for s in self.home.json("node", "stats", node):
            if s["name"] == name and all(s["labels"].get(k) == v for k, v in labels.items()):
                return s["value"]
        return None

    def wait_running(self, node):
        def running():
            p = self.sluice("node", "show", node, "--output", "json", check=False)
            return p.returncode == 0 and '"status":"running"' in p.stdout

        self.assertTrue(wait_until(running, 20), "node %s did not come up" % node)

    def hosted(self, relay):
        return {r["address"]: r for r in
                self.home.json("relay", "list", "--at", relay, "--hosted")["relays"]}

    def test_show_prints_the_directory(self):
        show = self.home.json("node", "show", "r1")
        self.assertEqual(show["relay_directory"], self.url)
        self.assertIn("Relay directory: " + self.url, self.sluice("node", "show", "r1").stdout)
        self.assertIsNone(self.home.json("node", "show", "a")["relay_directory"])
        p = self.sluice("node", "create", "bad", "--relay-directory", "http://127.0.0.1:1",
                        check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("redis://HOST:PORT", p.stderr)
        p = self.sluice("node", "create", "wild", "--tcp-listener-address", "0.0.0.0:0",
                        "--relay-directory", self.url, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--tcp-listener-address", p.stderr)

    def test_node_run_joins_and_a_clean_stop_gives_names_back(self):
        port = free_port()
        proc = subprocess.Popen([SLUICE, "node", "run", "r5", "--tcp-listener-address",
                                 "127.0.0.1:%d" % port, "--relay-directory", self.url],
                                env=self.home.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        self.wait_running("r5")
        self.assertEqual(self.home.json("node", "show", "r5")["relay_directory"], self.url)
        self.ports["r5"] = port
        self.sluice("relay", "create", "w", "--at", "/node/r5", "--to", "a", timeout=30)
        self.assertTrue(wait_until(lambda: self.owner_is("w", "r5"), timeout=5))
        p = self.send("b", "r2", "w")
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "HELLO"), p.stderr)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)
        self.assertEqual(proc.returncode, 0)
        # Not after the TTL: at once.
        self.assertIsNone(self.entry("w"), "a clean stop left its entry behind")

    def test_config_file_joins_the_fleet(self):
        port = free_port()
        path = os.path.join(self.home.dir, "r6.yaml")
        with open(path, "w") as f:
            f.write("name: r6\ntcp-listener-address: 127.0.0.1:%d\nrelay-directory: %s\n"
                    % (port, self.url))
        proc = subprocess.Popen([SLUICE, "node", "run", "--config", path], env=self.home.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        self.wait_running("r6")
        self.assertEqual(self.home.json("node", "show", "r6")["relay_directory"], self.url)
        self.ports["r6"] = port
        self.sluice("relay", "create", "v", "--at", "/node/r6", "--to", "a", timeout=30)
        self.assertTrue(wait_until(lambda: self.owner_is("v", "r6"), timeout=5))
        p = self.send("b", "r1", "v")
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "HELLO"), p.stderr)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=40)
        self.assertEqual(proc.returncode, 0)
        # A bad URL in the file: refused with its line, before anything runs.
        with open(path, "w") as f:
            f.write("name: r7\nrelay-directory: http://127.0.0.1:1\n")
        p = self.sluice("node", "run", "--config", path, check=False, timeout=20)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("r6.yaml:2: relay-directory: expected redis://HOST:PORT", p.stderr)

    @unittest.skipUnless(PROMTOOL, "promtool is not installed (tools/deps.sh test)")
    def test_fleet_metrics_pass_promtool(self):
        mport = free_port()
        self.sluice("node", "create", "r4", "--relay-directory", self.url, "--metrics",
                    "127.0.0.1:%d" % mport)
        self.sluice("relay", "create", "m", "--at", "/node/r1", "--to", "a", timeout=30)
        self.assertTrue(wait_until(lambda: self.owner_is("m", "r1"), timeout=5))
        p = self.send("b", "r4", "m")
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "HELLO"), p.stderr)
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=5) as r:
            text = r.read().decode()
        for line in ("sluice_relay_directory_up 1",
                     'sluice_relay_directory_lookups_total{result="ok"} 1',
                     "sluice_relay_fleet_forwards_total 1"):
            self.assertIn(line + "\n", text)
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_reach_takeover_and_expiry(self):
        # x registered at r1: its entry names r1's listener.
        self.sluice("relay", "create", "x", "--at", "/node/r1", "--to", "a", timeout=30)
        self.assertTrue(wait_until(lambda: self.owner_is("x", "r1"), timeout=5), self.entry("x"))
        # Through r2 (a secure channel end to end) and r3 (a plain message).
        self.assertEqual(self.through_channel("b", "r2", "x"), "HELLO")
        p = self.send("b", "r3", "x")
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "HELLO"), p.stderr)
        self.assertGreaterEqual(self.stat("r2", "sluice_relay_fleet_forwards_total"), 1)
        self.assertGreaterEqual(self.stat("r3", "sluice_relay_directory_lookups_total",
                                          result="ok"), 1)
        self.assertEqual(self.stat("r1", "sluice_relay_directory_up"), 1)

        # Takeover: x registered again at r3 (by c); r1 drops its relay on its next refresh.
        self.sluice("relay", "create", "x", "--at", "/node/r3", "--to", "c", timeout=30)
        self.assertTrue(wait_until(lambda: self.owner_is("x", "r3"), timeout=5), self.entry("x"))
        self.assertTrue(wait_until(lambda: "/service/forward_to_x" not in self.hosted("r1"),
                                   timeout=REFRESH_S + 3), "r1 kept x after the takeover")
        self.assertEqual(self.stat("r1", "sluice_relay_directory_takeovers_total"), 1)
        self.assertTrue(self.owner_is("x", "r3"), "r1's refresh overwrote r3's newer entry")
        time.sleep(CACHE_S + 0.2)   # r2's cached answer (r1) runs out
        before = self.hosted("r3")["/service/forward_to_x"]["forwarded"]
        p = self.send("b", "r2", "x")
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "HELLO"), p.stderr)
        self.assertGreater(self.hosted("r3")["/service/forward_to_x"]["forwarded"], before,
                           "r2 did not route to the new owner r3")

        # y at r1; r1 killed: its entries stop being refreshed and expire.
        self.sluice("relay", "create", "y", "--at", "/node/r1", "--to", "a", timeout=30)
        self.assertTrue(wait_until(lambda: self.owner_is("y", "r1"), timeout=5))
        p = self.send("b", "r2", "y")
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "HELLO"), p.stderr)
        os.kill(self.home.node_pid("r1"), 9)
        self.assertTrue(wait_until(lambda: self.entry("y") is None, timeout=TTL_S + 3),
                        "y's entry outlived its TTL")
        time.sleep(CACHE_S + 0.2)
        misses = self.stat("r2", "sluice_relay_directory_lookups_total", result="miss")
        t0 = time.monotonic()
        p = self.send("b", "r2", "y", timeout="2s")
        self.assertNotEqual(p.returncode, 0, "y still reached through r2: " + p.stdout)
        self.assertLess(time.monotonic() - t0, 10)
        self.assertTrue(wait_until(lambda: self.stat("r2", "sluice_relay_directory_lookups_total",
                                                     result="miss") > misses, timeout=3))
        self.assertGreaterEqual(self.stat("r2", "sluice_relay_fleet_drops_total",
                                          reason="nowhere"), 1)
        # y registered again, at r2 this time, and reached through r3.
        self.sluice("relay", "create", "y", "--at", "/node/r2", "--to", "c", timeout=30)
        self.assertTrue(wait_until(lambda: self.owner_is("y", "r2"), timeout=5))
        time.sleep(CACHE_S + 0.2)   # r3's "nowhere" (if it asked) runs out too
        p = self.send("b", "r3", "y")
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "HELLO"), p.stderr)

    @unittest.skipUnless(socket.has_ipv6 and os.path.exists("/proc/net/if_inet6"),
                         "no IPv6 loopback")
    def test_nodes_listening_on_ipv6(self):
        """Owners on [::1]: the entry names the listener in brackets, and a fleet member
        dials it from that text."""
        ports = {}
        for r in ("r6a", "r6b"):
            ports[r] = free_port(socket.AF_INET6)
            self.sluice("node", "create", r, "--tcp-listener-address", "[::1]:%d" % ports[r],
                        "--relay-directory", self.url)
        self.sluice("relay", "create", "x6", "--at", "/node/r6a", "--to", "a", timeout=30)
        self.assertTrue(wait_until(
            lambda: (self.entry("x6") or "").split(" ")[0] == "[::1]:%d" % ports["r6a"], 5),
            self.entry("x6"))
        p = self.send("b", "r6b", "x6")
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "HELLO"), p.stderr)
        self.assertGreaterEqual(self.stat("r6b", "sluice_relay_fleet_forwards_total"), 1)
        # And from an IPv4 member of the same fleet.
        p = self.send("b", "r2", "x6")
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "HELLO"), p.stderr)

    def test_redis_down_and_back(self):
        """Redis stops: the relays a node holds still work, remote names fail (counted),
        and the node's names are written again when Redis is back."""
        self.sluice("relay", "create", "z", "--at", "/node/r1", "--to", "a", timeout=30)
        self.assertTrue(wait_until(lambda: self.owner_is("z", "r1"), timeout=5))
        port = self.redis.port
        self.redis.stop()
        p = self.send("b", "r1", "z")
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "HELLO"), p.stderr)
        time.sleep(CACHE_S + 0.2)
        p = self.send("b", "r2", "z", timeout="2s")
        self.assertNotEqual(p.returncode, 0)
        self.assertTrue(wait_until(lambda: self.stat("r2", "sluice_relay_directory_lookups_total",
                                                     result="error") >= 1, timeout=5))
        self.assertTrue(wait_until(lambda: self.stat("r1", "sluice_relay_directory_up") == 0,
                                   timeout=REFRESH_S + 3))
        # The same port, empty: r1 writes z again within a retry and a refresh.
        self.redis = Redis.__new__(Redis)
        self.redis.port = port
        self.redis.dir = tempfile.mkdtemp(prefix="sluice-redis-")
        self.redis.proc = subprocess.Popen(
            [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
             "no", "--dir", self.redis.dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(self.redis.stop)
        self.assertTrue(wait_until(lambda: self.owner_is("z", "r1"), timeout=REFRESH_S + 5),
                        "r1 did not write z again")
        p = self.send("b", "r2", "z")
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "HELLO"), p.stderr)


if __name__ == "__main__":
    unittest.main()
