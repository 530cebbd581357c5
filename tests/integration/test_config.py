"""`sluice node run --config FILE`: a node from a YAML file, checked with file:line:key errors,
reloaded on SIGHUP, drained on SIGTERM, and telling systemd (sd_notify) of each step."""

import hashlib
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import SLUICE, NodeTest, wait_until
from relay_load import Load

CHUNK = 64 * 1024


class SlowServer:
    """A TCP target that sends `chunks` chunks of 64 KiB, `gap` seconds apart, then closes."""

    def __init__(self, chunks, gap):
        self.chunks, self.gap = chunks, gap
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.data = bytes(range(256)) * (CHUNK // 256)
        self.stop = False
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.one, args=(c,), daemon=True).start()

    def one(self, c):
        with c:
            try:
                for _ in range(self.chunks):
                    c.sendall(self.data)
                    time.sleep(self.gap)
            except OSError:
                pass

    def expected(self):
        return hashlib.sha256(self.data * self.chunks).hexdigest()

    def close(self):
        self.stop = True
        self.sock.close()


def download(port, out, timeout=30):
    """Read everything from 127.0.0.1:port into out (a dict): bytes, sha256, eof."""
    h, n = hashlib.sha256(), 0
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.settimeout(timeout)
    try:
        while True:
            b = s.recv(1 << 16)
            if not b:
                break
            h.update(b)
            n += len(b)
    except OSError as e:
        out["error"] = str(e)
    finally:
        s.close()
    out.update(bytes=n, sha256=h.hexdigest())


class Config(NodeTest):
    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix="sluice-conf-", dir=self.home.dir)
        self.procs = []

    def tearDown(self):
        reports = []
        for p, log in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)  # at once, and through the exit paths
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(10)
            text = self.log_text(log)
            log.close()
            if os.environ.get("SLUICE_SANITIZED") and "Sanitizer" in text:
                reports.append(text[max(0, text.find("Sanitizer") - 200):][:3000])
        self.assertEqual(reports, [], "sanitizer reports in `node run` output")

    def write(self, text, name="node.yaml"):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def run_node(self, path, *extra, env=None):
        log = open(os.path.join(self.dir, "run-%d.log" % len(self.procs)), "w+")
        p = subprocess.Popen([SLUICE, "node", "run", "--config", path, *extra],
                             stdout=log, stderr=subprocess.STDOUT, env=env or self.home.env)
        self.procs.append((p, log))
        return p, log

    def log_text(self, log):
        log.flush()
        with open(log.name) as f:
            return f.read()

    def wait_log(self, log, text, timeout=15):
        self.assertTrue(wait_until(lambda: text in self.log_text(log), timeout),
                        "no %r in the log:\n%s" % (text, self.log_text(log)))

    def show(self, name):
        return self.home.json("node", "show", name)

    def relays(self, node):
        return {r["name"]: r for r in self.home.json("relay", "list", "--at", node)}

    def inlet_port(self, node, alias):
        info = self.home.json("tcp-inlet", "show", alias, "--at", node)
        return int(info["bind_address"].rsplit(":", 1)[1])

    def base(self, target, extra=""):
        return ("name: c1\n"
                "tcp-listener-address: 127.0.0.1:0\n"
                "drain-timeout: 10s\n"
                "limits:\n"
                "  max-connections: 2000\n"
                "relays:\n"
                "  r1:\n"
                "    at: /node/relay\n"
                "tcp-outlets:\n"
                "  outlet:\n"
                "    to: 127.0.0.1:%d\n"
                "tcp-inlets:\n"
                "  web:\n"
                "    from: 127.0.0.1:0\n"
                "    to: /node/relay/service/forward_to_r1/service/outlet\n" % target) + extra

    def start(self, text, *extra, env=None):
        path = self.write(text)
        p, log = self.run_node(path, *extra, env=env)
        self.wait_log(log, "what=tcp_inlet name=web action=create result=ok")
        return path, p, log

    def test_plain_relay_key(self):
        self.sluice("node", "create", "relay")
        path = self.write("name: c2\nrelays:\n  s:\n    at: /node/relay\n"
                          "  p:\n    at: /node/relay\n    plain: true\n")
        p, log = self.run_node(path)
        self.wait_log(log, "what=relay name=p action=create result=ok")
        r = self.relays("c2")
        self.assertEqual((r["s"]["secure"], r["p"]["secure"]), (True, False))
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(20), 0)
        self.bad("name: c2\nrelays:\n  p:\n    at: /node/relay\n    plain: maybe\n", 5,
                 "relays.p.plain: true or false")

    def test_comes_up_with_listener_limits_relay_and_outlet(self):
        srv = SlowServer(8, 0)
        self.addCleanup(srv.close)
        self.sluice("node", "create", "relay")
        _, p, log = self.start(self.base(srv.port))
        info = self.show("c1")
        self.assertEqual(info["status"], "running")
        self.assertEqual(info["pid"], p.pid)
        self.assertEqual(info["limits"]["max-connections"], 2000)
        self.assertEqual(info["limits"]["max-connections-per-source"], 1024)
        r = self.relays("c1")
        self.assertEqual(list(r), ["r1"])
        self.assertEqual(r["r1"]["remote_address"], "forward_to_r1")
        outlets = self.home.json("tcp-outlet", "list", "--at", "c1")
        self.assertEqual([o["to"] for o in outlets], ["127.0.0.1:%d" % srv.port])
        # Real traffic: inlet -> relay node -> forward_to_r1 -> outlet -> the server.
        out = {}
        download(self.inlet_port("c1", "web"), out)
        self.assertEqual((out["bytes"], out["sha256"]), (8 * CHUNK, srv.expected()))
        # The node's TCP listener takes the node's own protocol.
        socket.create_connection(("127.0.0.1", info["tcp_port"]), 2).close()
        # Stored services from another run do not come back: the file is the source of truth.
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(20), 0)
        self.sluice("node", "start", "c1")
        self.assertEqual(self.home.json("tcp-inlet", "list", "--at", "c1")[0]["alias"], "web")
        self.sluice("node", "stop", "c1")
        path = self.write(self.base(srv.port).split("relays:")[0])
        p, log = self.run_node(path)
        self.wait_log(log, "event=started")
        self.assertTrue(wait_until(lambda: self.show("c1")["status"] == "running"))
        self.assertEqual(self.relays("c1"), {})
        self.assertEqual(self.home.json("tcp-inlet", "list", "--at", "c1"), [])

    def bad(self, text, where, message):
        path = self.write(text, "bad.yaml")
        p = subprocess.run([SLUICE, "node", "run", "--config", path], capture_output=True,
                           text=True, timeout=20, env=self.home.env)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("%s:%s: %s" % (path, where, message), p.stderr)
        return p.stderr

    def test_bad_configs_name_file_line_and_key(self):
        err = self.bad("name: c1\ntcp-listner-address: 127.0.0.1:0\n", 2,
                       "tcp-listner-address: unknown key; the keys here are: name, "
                       "tcp-listener-address")
        self.assertIn("tcp-inlets", err)
        self.bad("name: c1\n\nlimits:\n  max-connections: 0\n", 4,
                 "limits.max-connections: a number from 1 to 1000000")
        self.bad("name: c1\nlimits:\n  max-sockets: 5\n", 3,
                 "limits.max-sockets: no such limit; the limits are: max-connections")
        self.bad("name: c1\nlimits: [1, 2\n", 3, "YAML syntax: ")
        self.bad("name: c1\nshards: many\n", 2, "shards: a number from 0 to 64")
        self.bad("name: c1\ntcp-inlets:\n  web:\n    to: /node/x/service/outlet\n", 4,
                 "tcp-inlets.web: from is missing")
        self.bad("name: c1\nrelays:\n  r1:\n    at: /node/x\n    at: /node/y\n", 5,
                 "relays.r1.at: given twice")
        self.bad("name: c1\nsecure-channel-listeners:\n  l:\n    authorized: [Ixyz]\n", 4,
                 "secure-channel-listeners.l.authorized: 'Ixyz' is not an identifier")
        self.bad("name: c1\nframe-timeout: 2h\n", 2, "frame-timeout: a duration from 1ms to 1h")
        # Nothing was recorded by a file that did not check out.
        self.assertEqual(self.home.json("node", "list"), [])
        # And the command line and the file must agree on the name.
        p = subprocess.run([SLUICE, "node", "run", "other", "--config", self.write("name: c1\n")],
                           capture_output=True, text=True, timeout=20, env=self.home.env)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("name: c1, but the command line says other", p.stderr)

    def test_sighup_changes_limits_and_relays_and_a_bad_file_changes_nothing(self):
        srv = SlowServer(1, 0)
        self.addCleanup(srv.close)
        self.sluice("node", "create", "relay")
        id1, id2 = "I" + "01" * 32, "I" + "ab" * 32
        listener = "secure-channel-listeners:\n  tenants:\n    authorized: [%s]\n"
        path, p, log = self.start(self.base(srv.port, listener % id1))
        authorized = lambda: {
            l["address"]: l["authorized"]
            for l in self.home.json("secure-channel-listener", "list", "--at", "c1")}
        self.assertEqual(authorized()["/service/tenants"], [id1])
        new = self.base(srv.port, listener % ("%s, %s" % (id2, id1)))
        new = new.replace("max-connections: 2000", "max-connections: 3000")
        new = new.replace("  r1:\n    at: /node/relay\n", "  r2:\n    at: /node/relay\n")
        new = new.replace("forward_to_r1", "forward_to_r2")
        new = new.replace("tcp-listener-address: 127.0.0.1:0", "tcp-listener-address: 127.0.0.1:1")
        self.write(new)
        p.send_signal(signal.SIGHUP)
        self.wait_log(log, "event=reload result=ok")
        self.assertEqual(self.show("c1")["limits"]["max-connections"], 3000)
        self.assertEqual(list(self.relays("c1")), ["r2"])
        self.assertEqual(authorized().get("/service/tenants"), [id2, id1], self.log_text(log))
        text = self.log_text(log)
        self.assertIn("what=limits.max-connections was=2000 now=3000 result=ok", text)
        self.assertIn("what=relay name=r1 action=remove result=ok", text)
        self.assertIn("what=tcp-listener-address was=\"127.0.0.1:0\" now=\"127.0.0.1:1\" "
                      "result=needs_restart", text)
        # The inlet changed its route: made again, and traffic goes through r2.
        out = {}
        download(self.inlet_port("c1", "web"), out)
        self.assertEqual(out["sha256"], srv.expected())
        # A file that does not check out: logged, nothing changes.
        self.write(new.replace("max-connections: 3000", "max-connections: lots"))
        p.send_signal(signal.SIGHUP)
        self.wait_log(log, "event=reload result=refused")
        self.assertIn("limits.max-connections: a number from 1 to 1000000", self.log_text(log))
        self.assertEqual(self.show("c1")["limits"]["max-connections"], 3000)
        self.assertEqual(list(self.relays("c1")), ["r2"])
        self.assertEqual(authorized()["/service/tenants"], [id2, id1])
        self.assertIsNone(p.poll())
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(20), 0)

    def test_sighup_engine_limits_apply_at_once_idle_timeouts_at_restart(self):
        text = ("name: c1\n"
                "tcp-listener-address: 127.0.0.1:0\n"
                "limits:\n"
                "  max-relays-per-connection: 256\n"
                "  idle-timeout: 30\n")
        path = self.write(text)
        p, log = self.run_node(path)
        self.wait_log(log, "event=started")
        port = self.show("c1")["tcp_port"]
        first = Load(port, 1, 3, prefix="before")
        self.assertEqual(first.register(timeout=10), 3)
        first.close()
        self.write(text.replace("per-connection: 256", "per-connection: 2")
                   .replace("idle-timeout: 30", "idle-timeout: 5"))
        p.send_signal(signal.SIGHUP)
        self.wait_log(log, "event=reload result=ok changes=1 needs_restart=1")
        out = self.log_text(log)
        self.assertIn("what=limits.max-relays-per-connection was=256 now=2 result=ok", out)
        self.assertIn('what=limits.idle-timeout was="30" now="5" result=needs_restart', out)
        limits = self.show("c1")["limits"]
        self.assertEqual((limits["max-relays-per-connection"], limits["idle-timeout"]), (2, 30))
        # The engine's limit holds from the next registration: 2 of 3 on a new connection.
        second = Load(port, 1, 3, prefix="after")
        self.addCleanup(second.close)
        with self.assertRaises(TimeoutError):
            second.register(timeout=3)
        self.assertEqual(second.answered, 2)
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(20), 0)

    def test_sigterm_lets_a_portal_transfer_finish(self):
        srv = SlowServer(20, 0.1)  # ~2 s
        self.addCleanup(srv.close)
        self.sluice("node", "create", "relay")
        _, p, log = self.start(self.base(srv.port))
        port = self.inlet_port("c1", "web")
        out = {}
        t = threading.Thread(target=download, args=(port, out))
        t.start()
        time.sleep(0.6)
        sent = time.monotonic()
        p.send_signal(signal.SIGTERM)
        self.wait_log(log, "event=draining")
        # No new connection while draining: closed at once or refused.
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.settimeout(2)
            self.assertEqual(s.recv(16), b"")
            s.close()
        except (ConnectionRefusedError, ConnectionResetError):
            pass
        t.join(20)
        self.assertEqual((out.get("bytes"), out.get("sha256")), (20 * CHUNK, srv.expected()),
                         self.log_text(log))
        self.assertEqual(p.wait(20), 0)
        self.assertLess(time.monotonic() - sent, 8)
        self.assertIn("event=drained", self.log_text(log))

    def test_sigterm_cuts_a_transfer_longer_than_the_deadline(self):
        srv = SlowServer(100, 0.1)  # ~10 s
        self.addCleanup(srv.close)
        self.sluice("node", "create", "relay")
        _, p, log = self.start(self.base(srv.port), "--drain-timeout", "1s")
        out = {}
        t = threading.Thread(target=download, args=(self.inlet_port("c1", "web"), out))
        t.start()
        time.sleep(0.5)
        sent = time.monotonic()
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(20), 0)
        took = time.monotonic() - sent
        self.assertGreaterEqual(took, 0.9)
        self.assertLess(took, 6)
        t.join(20)
        self.assertLess(out.get("bytes", 0), 100 * CHUNK)
        self.assertIn("event=drain_deadline", self.log_text(log))

    def test_sd_notify_ready_reloading_stopping(self):
        sock_path = os.path.join(self.dir, "notify.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(sock_path)
        s.settimeout(20)
        self.addCleanup(s.close)
        env = dict(self.home.env, NOTIFY_SOCKET=sock_path)
        p, log = self.run_node(self.write("name: c1\ndrain-timeout: 2s\n"), env=env)
        got = []

        def expect(word):
            while True:
                msg = s.recv(4096).decode()
                got.append(msg)
                if word in msg.split("\n"):
                    return

        expect("READY=1")
        self.assertEqual(self.show("c1")["status"], "running")
        p.send_signal(signal.SIGHUP)
        expect("RELOADING=1")
        expect("READY=1")
        p.send_signal(signal.SIGTERM)
        expect("STOPPING=1")
        self.assertEqual(p.wait(20), 0)
        self.assertTrue(any("MONOTONIC_USEC=" in m for m in got), got)


if __name__ == "__main__":
    unittest.main()
