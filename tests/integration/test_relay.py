"""Relays end to end: real nodes on 127.0.0.1, the seed's flows, faults, a
10,000-relay load, a foreign client registering a relay, and a check that the
relay node carries only ciphertext."""

import concurrent.futures
import hashlib
import os
import resource
import socket
import struct
import subprocess
import threading
import time
import unittest

import harness
from harness import NodeTest, wait_until
import ockam_peer as op
from relay_load import Load


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def nfds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


class Tap:
    """A TCP proxy in front of the relay node that keeps every byte it carries."""

    def __init__(self, target_port):
        self.target = target_port
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.seen = bytearray()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.target))
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                with self.lock:
                    self.seen += d
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.lsock.close()


class RelayTest(NodeTest):
    def relay_node(self, port=None, *extra):
        self.port = port or free_port()
        self.sluice("node", "create", "relay", "--tcp-listener-address", "127.0.0.1:%d" % self.port,
                    *extra)

    def hosted(self, node="relay"):
        return self.home.json("relay", "list", "--at", node, "--hosted")

    def through_relay(self, frm, name, text="hello", timeout=20):
        sc = self.sluice("secure-channel", "create", "--from", frm, "--to",
                         "/node/relay/service/forward_to_%s/service/api" % name,
                         timeout=timeout).stdout.strip()
        return self.sluice("message", "send", text, "--from", frm, "--to",
                           "%s/service/uppercase" % sc).stdout.strip()

    def test_seed_flow_relay_forwarder_list_show_delete(self):
        self.relay_node()
        self.sluice("node", "create", "a")
        self.sluice("node", "create", "b")
        out = self.sluice("relay", "create", "b", "--at", "/node/relay", "--to", "a").stdout
        self.assertEqual(out.strip(), "/service/forward_to_b")
        out = self.sluice("forwarder", "create", "c", "--at", "/node/relay", "--to", "b").stdout
        self.assertEqual(out.strip(), "/service/forward_to_c")
        # The seed's pipe: a channel through the relay, then a message in it.
        sc = self.sluice("secure-channel", "create", "--from", "a", "--to",
                         "/node/relay/service/forward_to_b/service/api")
        out = self.sluice("message", "send", "hello", "--from", "a", "--to",
                          "-/service/uppercase", input=sc.stdout).stdout
        self.assertEqual(out.strip(), "HELLO")
        self.assertEqual(self.through_relay("b", "c"), "HELLO")
        rl = self.home.json("relay", "list", "--at", "a")
        self.assertEqual([(r["name"], r["remote_address"], r["state"], r["secure"]) for r in rl],
                         [("b", "forward_to_b", "up", True)])
        show = self.home.json("relay", "show", "b", "--at", "a")
        self.assertEqual(show["address"], "/service/forward_to_b")
        h = self.hosted()
        self.assertEqual(h["active"], 2)
        owners = {r["address"]: r["owner"] for r in h["relays"]}
        ids = {i["name"]: i["identifier"] for i in self.home.json("identity", "list")}
        self.assertEqual(owners["/service/forward_to_b"], ids["@a"], "owned by a's identity")
        # Delete: the node forgets it, its channel closes, the relay node drops it.
        self.sluice("relay", "delete", "b", "--at", "a", "--yes")
        self.assertEqual(self.home.json("relay", "list", "--at", "a"), [])
        self.assertTrue(wait_until(lambda: self.hosted()["active"] == 1, timeout=10))
        p = self.sluice("relay", "show", "b", "--at", "a", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("no relay b", p.stderr)

    def test_project_flow(self):
        self.relay_node()
        ids = {i["name"]: i["identifier"] for i in self.home.json("identity", "list")}
        pj = self.sluice("project", "create", "default", "--relay",
                         "/ip4/127.0.0.1/tcp/%d" % self.port, "--identity", ids["@relay"]).stdout
        path = os.path.join(self.home.dir, "project.json")
        with open(path, "w") as f:
            f.write(pj)
        self.sluice("node", "create", "a", "--project", path)
        self.sluice("node", "create", "b")
        out = self.sluice("relay", "create", "b", "--at", "/project/default", "--to", "a").stdout
        self.assertEqual(out.strip(), "/service/forward_to_b")
        sc = self.sluice("secure-channel", "create", "--from", "b", "--to",
                         "/project/default/service/forward_to_b/service/api")
        out = self.sluice("message", "send", "hello", "--from", "b", "--to",
                          "-/service/uppercase", input=sc.stdout).stdout
        self.assertEqual(out.strip(), "HELLO")
        # A project whose relay node proves another identity is refused.
        self.sluice("project", "create", "wrong", "--relay", "/ip4/127.0.0.1/tcp/%d" % self.port,
                    "--identity", "I" + "ab" * 32)
        p = self.sluice("relay", "create", "x", "--at", "/project/wrong", "--to", "a",
                        check=False, timeout=40)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(self.home.json("relay", "list", "--at", "a")[0]["name"], "b")

    def test_node_stops_while_its_relay_handshake_waits(self):
        """A relay node that accepts and never answers: the registering node's
        channel handshake is in flight when the node stops. It stops at once,
        and (under the sanitizers) nothing of the handshake is left behind."""
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        self.addCleanup(silent.close)
        self.sluice("project", "create", "silent", "--relay",
                    "/ip4/127.0.0.1/tcp/%d" % silent.getsockname()[1], "--identity", "I" + "ab" * 32)
        self.sluice("node", "create", "a")
        p = subprocess.Popen([harness.SLUICE, "relay", "create", "x", "--at", "/project/silent",
                              "--to", "a"], env=self.home.env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        self.addCleanup(p.kill)
        silent.settimeout(10)
        conn, _ = silent.accept()  # the handshake's first message is on its way
        self.addCleanup(conn.close)
        self.assertTrue(wait_until(lambda: len(conn.recv(4096)) > 0, timeout=10))
        t0 = time.monotonic()
        self.sluice("node", "stop", "a")
        self.assertLess(time.monotonic() - t0, 10)
        self.assertNotEqual(p.wait(timeout=20), 0, "relay create succeeded without a relay node")

    def test_relay_deleted_while_its_create_waits(self):
        """relay delete of a relay whose create still waits for the relay node: the
        waiting create is answered at once, with the reason, and the relay is gone."""
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        self.addCleanup(silent.close)
        self.sluice("node", "create", "a")
        p = subprocess.Popen([harness.SLUICE, "relay", "create", "x", "--at",
                              "/ip4/127.0.0.1/tcp/%d" % silent.getsockname()[1], "--to", "a"],
                             env=self.home.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        self.addCleanup(p.kill)
        silent.settimeout(10)
        conn, _ = silent.accept()  # the create waits on the relay node's answer
        self.addCleanup(conn.close)
        self.assertTrue(wait_until(lambda: len(conn.recv(4096)) > 0, timeout=10))
        self.sluice("relay", "delete", "x", "--at", "a")
        t0 = time.monotonic()
        out, err = p.communicate(timeout=10)
        self.assertLess(time.monotonic() - t0, 5, "the waiting create was not answered")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("deleted", err)
        self.assertEqual(self.home.json("relay", "list", "--at", "a"), [])

    def test_relay_node_restart_relay_comes_back(self):
        self.relay_node()
        self.sluice("node", "create", "a")
        self.sluice("node", "create", "b")
        self.sluice("relay", "create", "b", "--at", "/node/relay", "--to", "a")
        self.sluice("node", "stop", "relay")
        time.sleep(1)
        self.sluice("node", "start", "relay")
        t0 = time.monotonic()
        self.assertTrue(wait_until(lambda: self.hosted()["active"] == 1, timeout=30, step=0.5),
                        "relay not back within 30 s")
        took = time.monotonic() - t0
        self.assertEqual(self.through_relay("b", "b"), "HELLO")
        print("relay back %.1f s after the relay node restarted" % took)

    def test_registering_node_restart_and_stop(self):
        self.relay_node()
        self.sluice("node", "create", "a")
        self.sluice("node", "create", "b")
        self.sluice("relay", "create", "b", "--at", "/node/relay", "--to", "a")
        # Saved: a restarted node registers again by itself.
        self.sluice("node", "stop", "a")
        self.assertTrue(wait_until(lambda: self.hosted()["active"] == 0, timeout=10),
                        "the relay of a stopped node stays on the relay node")
        self.sluice("node", "start", "a")
        self.assertTrue(wait_until(lambda: self.hosted()["active"] == 1, timeout=15))
        self.assertEqual(self.through_relay("b", "b"), "HELLO")
        # Killed hard: the connection goes, the relay goes.
        pid = self.home.node_pid("a")
        os.kill(pid, 9)
        self.assertTrue(wait_until(lambda: self.hosted()["active"] == 0, timeout=10))
        self.assertGreaterEqual(self.hosted()["expired"], 2)

    def test_connection_cut_mid_message(self):
        self.relay_node()
        self.sluice("node", "create", "a")
        self.sluice("relay", "create", "a", "--at", "/node/relay", "--to", "a")
        # A foreign client registers, then dies half way through a frame.
        c = op.Client("127.0.0.1", self.port)
        c.send([op.local("static_forwarding_service")], [op.local("x")], op.bare("cut"))
        onward, ret, payload = c.recv()
        self.assertEqual(op.unbare(payload), b"forward_to_cut")
        f = op.frame([op.local("forward_to_a"), op.local("uppercase")], [op.local("y")],
                     op.bare("z" * 5000))
        c.sock.sendall(f[:len(f) // 2])
        c.close()
        self.assertTrue(wait_until(lambda: self.hosted()["active"] == 1, timeout=10))
        # And a message through a relay whose connection is cut as it flows.
        c = op.Client("127.0.0.1", self.port)
        f = op.frame([op.local("forward_to_a"), op.local("echo")], [op.local("y")],
                     op.bare("w" * 200000))
        c.sock.sendall(f[:100000])
        c.close()
        self.assertEqual(self.through_relay("a", "a"), "HELLO")
        self.assertTrue(self.home.json("node", "show", "relay")["status"] == "running")

    def test_portal_through_relay_8_parallel_streams(self):
        """The bench's "portal via relay" path (n1 -> relay -> n2) with 8 streams each way,
        every byte checked. The uploads' target falls behind first (its socket fills: a
        send answers EAGAIN, which is no reason to reset); one more upload is reset by its
        target half way: its chunks still in flight reach n2 after the end, and neither
        drop there as for an unknown address nor touch the other streams."""
        size = 4 << 20
        data = [os.urandom(size) for _ in range(8)]

        def handle(c):
            with c:
                head = b""
                while len(head) < 2:
                    b = c.recv(2 - len(head))
                    if not b:
                        return
                    head += b
                op_, i = chr(head[0]), head[1]
                if op_ == "D":  # download: data[i], then EOF
                    c.sendall(data[i])
                    return
                if op_ == "U":  # a reader that falls behind: the outlet's sends fill its socket
                    time.sleep(1)
                h, n = hashlib.sha256(), 0
                while n < size:
                    b = c.recv(1 << 20)
                    if not b:
                        break
                    h.update(b)
                    n += len(b)
                    if op_ == "R" and n >= (1 << 20):  # reset with the rest on its way
                        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        return
                c.sendall(h.digest())

        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 10)  # small, so sends fill
        srv.bind(("127.0.0.1", 0))
        srv.listen(64)
        self.addCleanup(srv.close)

        def accept():
            while True:
                try:
                    c, _ = srv.accept()
                except OSError:
                    return
                threading.Thread(target=handle, args=(c,), daemon=True).start()

        threading.Thread(target=accept, daemon=True).start()
        self.relay_node()
        self.sluice("node", "create", "n1")
        self.sluice("node", "create", "n2")
        self.sluice("relay", "create", "n2", "--at", "/node/relay", "--to", "/node/n2")
        self.sluice("tcp-outlet", "create", "--at", "n2", "--from", "/service/outlet",
                    "--to", "127.0.0.1:%d" % srv.getsockname()[1])
        sc = self.sluice("secure-channel", "create", "--from", "n1", "--to",
                         "/node/relay/service/forward_to_n2/service/api").stdout
        out = self.sluice("tcp-inlet", "create", "--at", "n1", "--from", "127.0.0.1:0",
                          "--to", "-/service/outlet", input=sc).stdout
        port = int(out.strip().rsplit(":", 1)[1])

        def conn(op_, i):
            s = socket.create_connection(("127.0.0.1", port), 10)
            s.settimeout(30)
            s.sendall(op_.encode() + bytes([i]))
            return s

        def download(i):
            with conn("D", i) as s:
                h, n = hashlib.sha256(), 0
                while True:
                    b = s.recv(1 << 20)
                    if not b:
                        break
                    h.update(b)
                    n += len(b)
            return n, h.hexdigest()

        def upload(i):
            with conn("U", i) as s:
                s.sendall(data[i])
                got = b""
                while len(got) < 32:
                    b = s.recv(32 - len(got))
                    if not b:
                        break
                    got += b
            return got

        def reset_upload(_):
            try:
                with conn("R", 0) as s:
                    s.sendall(data[0] * 4)  # more than a window past the reset
                    s.recv(1)
            except OSError:
                pass  # reset, as the target did: fine

        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            got = list(ex.map(download, range(8)))
        self.assertEqual(got, [(size, hashlib.sha256(d).hexdigest()) for d in data])
        with concurrent.futures.ThreadPoolExecutor(9) as ex:
            reset = ex.submit(reset_upload, 0)
            ups = list(ex.map(upload, range(8)))
            reset.result(timeout=40)
        self.assertEqual(ups, [hashlib.sha256(d).digest() for d in data])
        self.assertLess(time.monotonic() - t0, 60)
        # Late chunks of the reset stream are the portal's to absorb, not routing faults.
        time.sleep(0.5)
        for n in ("n1", "n2", "relay"):
            with open(os.path.join(self.home.dir, "nodes", n, "node.log")) as f:
                log = f.read()
            self.assertNotIn("reason=unknown_address", log, "%s: %s" % (n, log[-3000:]))
            self.assertNotIn("portal_chunk_lost", log, "%s: %s" % (n, log[-3000:]))

    def test_foreign_client_registers_static_relay(self):
        """Interop: a client written from the protocol text registers on a Sluice relay
        node; a Sluice node reaches it through forward_to_<name>."""
        self.relay_node()
        self.sluice("node", "create", "a")
        c = op.Client("127.0.0.1", self.port)
        c.send([op.local("static_forwarding_service")], [op.local("remote_main")],
               op.bare("ext"))
        onward, ret, payload = c.recv()
        self.assertEqual(onward, [op.local("remote_main")])
        self.assertEqual(op.unbare(payload), b"forward_to_ext")
        self.assertEqual(ret[-1], op.local("forward_to_ext"))
        result = {}

        def serve():
            onward, ret, payload = c.recv()
            result["onward"] = onward
            c.send(ret, [op.local("echo")], op.bare(op.unbare(payload).upper()))

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        out = self.sluice("message", "send", "hi there", "--from", "a", "--to",
                          "/node/relay/service/forward_to_ext/service/echo").stdout
        t.join(5)
        self.assertEqual(out.strip(), "HI THERE")
        # The relay prepended its forward route (the connection) and dropped itself.
        self.assertEqual(result["onward"], [op.local("echo")])
        c.close()

    def test_relay_sees_only_ciphertext(self):
        self.relay_node()
        tap = Tap(self.port)
        self.addCleanup(tap.close)
        self.sluice("node", "create", "a")
        self.sluice("node", "create", "b")
        # a reaches the relay node through the tap: all of a's relayed traffic crosses it.
        self.sluice("relay", "create", "a", "--at", "/ip4/127.0.0.1/tcp/%d" % tap.port,
                    "--to", "a")
        secret = "confidential-payload-7f3e"
        self.assertEqual(self.through_relay("b", "a", secret), secret.upper())
        with tap.lock:
            seen = bytes(tap.seen)
        # Only a's channel to the relay node's listener shows: its msg1 goes to `api`;
        # even the registration (forward_to_a) travels inside it.
        self.assertIn(b"api", seen, "the tap carried a's channel")
        self.assertGreater(len(seen), 1000, "the tap carried the relayed channel")
        self.assertNotIn(b"forward_to_a", seen)
        self.assertNotIn(secret.encode(), seen)
        self.assertNotIn(secret.upper().encode(), seen)
        self.assertNotIn(b"uppercase", seen, "inner routes travel encrypted too")

    def test_plain_relay(self):
        """relay create --plain: registered over plain TCP, owned by nobody, the end-to-end
        channel still the only encryption the payload needs; kept across a restart as plain."""
        self.relay_node()
        tap = Tap(self.port)
        self.addCleanup(tap.close)
        self.sluice("node", "create", "a")
        self.sluice("node", "create", "b")
        out = self.sluice("relay", "create", "p", "--at", "/ip4/127.0.0.1/tcp/%d" % tap.port,
                          "--to", "a", "--plain").stdout
        self.assertEqual(out.strip(), "/service/forward_to_p")
        rl = self.home.json("relay", "list", "--at", "a")
        self.assertEqual([(r["name"], r["state"], r["secure"]) for r in rl], [("p", "up", False)])
        self.assertIn("plain TCP", self.sluice("relay", "show", "p", "--at", "a").stdout)
        owners = {r["address"]: r["owner"] for r in self.hosted()["relays"]}
        self.assertIsNone(owners["/service/forward_to_p"], "a plain relay has no owner")
        secret = "confidential-payload-9a1c"
        self.assertEqual(self.through_relay("b", "p", secret), secret.upper())
        with tap.lock:
            seen = bytes(tap.seen)
        # No channel to the relay node: the registration and the relayed routes show...
        self.assertIn(b"forward_to_p", seen)
        # ...but the payload rides b's end-to-end channel to a.
        self.assertNotIn(secret.encode(), seen)
        self.assertNotIn(secret.upper().encode(), seen)
        # Saved as plain: a restarted a registers the same way.
        self.sluice("node", "stop", "a")
        self.assertTrue(wait_until(lambda: self.hosted()["active"] == 0, timeout=10))
        self.sluice("node", "start", "a")
        self.assertTrue(wait_until(lambda: self.hosted()["active"] == 1, timeout=15))
        self.assertEqual(self.home.json("relay", "show", "p", "--at", "a")["secure"], False)
        self.assertEqual(self.through_relay("b", "p"), "HELLO")

    def test_plain_relay_refused_at_a_project(self):
        self.relay_node()
        ids = {i["name"]: i["identifier"] for i in self.home.json("identity", "list")}
        self.sluice("project", "create", "default", "--relay", "/ip4/127.0.0.1/tcp/%d" % self.port,
                    "--identity", ids["@relay"])
        self.sluice("node", "create", "a")
        p = self.sluice("relay", "create", "x", "--at", "/project/default", "--to", "a",
                        "--plain", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("--plain", p.stderr)
        self.assertIn("drop --plain", p.stderr)
        self.assertEqual(self.home.json("relay", "list", "--at", "a"), [])

    def test_ten_thousand_relays(self):
        # Every connection comes from 127.0.0.1: past the per-source default of 1024.
        self.relay_node(None, "--limit", "max-connections-per-source=20000")
        pid = self.home.node_pid("relay")
        time.sleep(0.5)
        rss0, fd0 = rss_kib(pid), nfds(pid)
        # One connection per relay, as 10,000 registering nodes would have.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < 12000 <= hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        load = Load(self.port, 10000, 1, prefix="t")
        t0 = time.monotonic()
        self.assertEqual(load.register(timeout=120), 10000)
        took = time.monotonic() - t0
        self.assertTrue(wait_until(lambda: self.hosted()["active"] == 10000, timeout=10))
        rss1, fd1 = rss_kib(pid), nfds(pid)
        # A quiet relay still answers while 10,000 others are registered.
        self.sluice("node", "create", "a")
        self.sluice("relay", "create", "a", "--at", "/node/relay", "--to", "a")
        self.assertEqual(self.through_relay("a", "a"), "HELLO")
        load.close()
        self.assertTrue(wait_until(lambda: self.hosted()["active"] == 1, timeout=20),
                        "relays of closed connections stay")
        time.sleep(1)
        rss2, fd2 = rss_kib(pid), nfds(pid)
        print("10,000 relays over 10,000 connections: registered in %.2f s; RSS %d -> %d -> %d "
              "KiB; fds %d -> %d -> %d" % (took, rss0, rss1, rss2, fd0, fd1, fd2))
        self.assertGreaterEqual(fd1, fd0 + 10000)
        self.assertLessEqual(fd2, fd0 + 8, "fd leak")
        if os.environ.get("SLUICE_SANITIZED"):
            return  # ASan's allocator keeps and quarantines freed memory: RSS says nothing
        self.assertLessEqual(rss1, 150 * 1024)
        # Pools keep a few slabs of each size class: near, not equal.
        self.assertLessEqual(rss2, rss0 + 24 * 1024, "RSS did not come back near its start")


if __name__ == "__main__":
    unittest.main()
