"""Portals end to end: real nodes, real clients (curl, iperf3, sockets) and
real targets (python http.server, small servers below) on 127.0.0.1."""

import concurrent.futures
import hashlib
import os
import resource
import selectors
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

from harness import NodeTest, connects, wait_until

BIG = 64 << 20


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def pattern(n, seed=0):
    """n deterministic bytes (cheap to make, a lost or repeated chunk shows)."""
    block = hashlib.sha256(b"sluice%d" % seed).digest() * 2048  # 64 KiB
    out = bytearray()
    i = 0
    while len(out) < n:
        out += i.to_bytes(8, "little") + block[8:]
        i += 1
    return bytes(out[:n])


class Server(threading.Thread):
    """A TCP target on 127.0.0.1: handle(conn) per connection, in a thread each."""

    def __init__(self, handle):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        self.handle = handle
        self.start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(c,), daemon=True).start()

    def _one(self, c):
        try:
            self.handle(c)
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.sock.close()


class Portal(NodeTest):
    def setUp(self):
        super().setUp()
        self.sluice("node", "create", "n1")
        self.sluice("node", "create", "n2")
        self.www = tempfile.mkdtemp(prefix="sluice-www-")
        self.addCleanup(shutil.rmtree, self.www, True)
        self.data = os.urandom(BIG)
        with open(os.path.join(self.www, "big.bin"), "wb") as f:
            f.write(self.data)
        self.http_port = free_port()
        self.http = subprocess.Popen(
            [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(self.http_port)],
            cwd=self.www, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(self.http.wait)
        self.addCleanup(self.http.kill)
        self.assertTrue(wait_until(lambda: self._connects(self.http_port), 10))

    @staticmethod
    def _connects(port):
        return connects(port)

    def portal(self, target_port, name="outlet", alias=None):
        """Outlet on n2 to target_port, inlet on n1 to it: the inlet's port."""
        self.sluice("tcp-outlet", "create", "--at", "n2", "--from", "/service/" + name,
                    "--to", "127.0.0.1:%d" % target_port)
        args = ["tcp-inlet", "create", "--at", "n1", "--from", "127.0.0.1:0",
                "--to", "/node/n2/service/" + name]
        if alias:
            args += ["--alias", alias]
        out = self.sluice(*args).stdout.strip()
        return int(out.rsplit(":", 1)[1])

    def test_curl_head_and_64MiB_download(self):
        port = self.portal(self.http_port)
        p = subprocess.run(["curl", "-sS", "--max-time", "10", "--head",
                            "http://127.0.0.1:%d/" % port], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(p.stdout.startswith("HTTP/1.0 200 OK"), p.stdout)
        p = subprocess.run(["curl", "-sS", "--max-time", "60", "http://127.0.0.1:%d/big.bin" % port],
                           capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(p.stdout), BIG)
        self.assertEqual(hashlib.sha256(p.stdout).hexdigest(), hashlib.sha256(self.data).hexdigest())
        # list and show see it
        ins = self.home.json("tcp-inlet", "list", "--at", "n1")
        self.assertEqual(len(ins), 1)
        self.assertEqual(ins[0]["to"], "/node/n2/service/outlet")
        out = self.home.json("tcp-outlet", "show", "/service/outlet", "--at", "n2")
        self.assertGreaterEqual(out["bytes_in"], BIG)
        self.assertGreaterEqual(out["connections_total"], 2)

    def test_ends_cut_off_mid_transfer_leave_both_nodes_serving(self):
        """Chunks still in flight when one end resets become late messages at
        the other node; each connection's end (and the node's) must take them
        in its stride. Both ways: a client resetting a download, a target
        resetting an upload. The nodes keep their pids, serve a whole
        download after, and stop cleanly."""
        linger0 = b"\x01\x00\x00\x00\x00\x00\x00\x00"

        def take_some_then_reset(c):
            got = 0
            while got < 2 << 20:
                b = c.recv(1 << 16)
                if not b:
                    return
                got += len(b)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger0)

        sink = Server(take_some_then_reset)
        self.addCleanup(sink.close)
        port = self.portal(self.http_port)
        up = self.portal(sink.port, name="sink")
        pids = {n: self.home.json("node", "show", n)["pid"] for n in ("n1", "n2")}
        chunk = os.urandom(1 << 20)

        def upload_until_reset():
            c = socket.create_connection(("127.0.0.1", up), timeout=10)
            try:
                for _ in range(64):
                    c.sendall(chunk)
            except OSError:
                pass
            c.close()

        for i in range(6):
            # a download the client resets
            c = socket.create_connection(("127.0.0.1", port), timeout=10)
            c.sendall(b"GET /big.bin HTTP/1.0\r\n\r\n")
            got = 0
            while got < (1 << 20) * (1 + i % 3):
                b = c.recv(1 << 16)
                self.assertTrue(b, "the download ended early")
                got += len(b)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger0)
            c.close()
            # an upload the target resets
            upload_until_reset()
        # a closed connection's address absorbs late messages for 5 s, then goes
        time.sleep(6)
        for n, pid in pids.items():
            show = self.home.json("node", "show", n)
            self.assertEqual(show["status"], "running", "%s: %s" % (n, show))
            self.assertEqual(show["pid"], pid, "%s restarted or died" % n)
        p = subprocess.run(["curl", "-sS", "--max-time", "60", "http://127.0.0.1:%d/big.bin" % port],
                           capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(hashlib.sha256(p.stdout).hexdigest(), hashlib.sha256(self.data).hexdigest())
        # one more reset, and the nodes stop while its late chunks are being absorbed:
        # nothing in a connection's end may trip over the portals' teardown
        upload_until_reset()
        for n in ("n1", "n2"):
            self.sluice("node", "stop", n)
        for n in ("n1", "n2"):
            with open(os.path.join(self.home.dir, "nodes", n, "node.log"), errors="replace") as f:
                log = f.read()
            self.assertNotIn("Sanitizer", log, n)
            self.assertIn("event=stopped", log, n)

    def test_20_parallel_downloads(self):
        port = self.portal(self.http_port)
        want = hashlib.sha256(self.data).hexdigest()

        def get(_):
            with urllib.request.urlopen("http://127.0.0.1:%d/big.bin" % port, timeout=60) as r:
                return hashlib.sha256(r.read()).hexdigest()

        with concurrent.futures.ThreadPoolExecutor(20) as ex:
            got = list(ex.map(get, range(20)))
        self.assertEqual(got, [want] * 20)

    @unittest.skipUnless(shutil.which("iperf3"), "iperf3 is not installed (tools/deps.sh test)")
    def test_iperf3(self):
        sport = free_port()
        srv = subprocess.Popen(["iperf3", "-s", "-1", "-p", str(sport)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(srv.kill)
        self.assertTrue(wait_until(lambda: self._connects(sport), 10))
        srv.kill()  # the probe used up its one test: start it again
        srv.wait()
        srv = subprocess.Popen(["iperf3", "-s", "-1", "-p", str(sport)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(srv.kill)
        time.sleep(0.3)
        port = self.portal(sport, name="iperf")
        p = subprocess.run(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", "3", "-J"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout[-2000:] + p.stderr)
        import json
        r = json.loads(p.stdout)
        bps = r["end"]["sum_received"]["bits_per_second"]
        self.assertGreater(bps, 200e6, "iperf3 through the portal: %.1f Mbit/s" % (bps / 1e6))

    def test_deleted_inlet_refuses_at_once(self):
        """`tcp-inlet delete` returns with the port closed: the next connect is refused."""
        self.sluice("tcp-outlet", "create", "--at", "n2", "--from", "/service/outlet",
                    "--to", "127.0.0.1:%d" % self.http_port)
        took = []
        for i in range(20):
            port = free_port()
            self.sluice("tcp-inlet", "create", "--at", "n1", "--from", "127.0.0.1:%d" % port,
                        "--to", "/node/n2/service/outlet", "--alias", "d%d" % i)
            self.assertTrue(self._connects(port))
            t0 = time.monotonic()
            self.sluice("tcp-inlet", "delete", "d%d" % i, "--at", "n1")
            took.append(time.monotonic() - t0)
            self.assertFalse(self._connects(port), "round %d: still accepting after delete" % i)
        # The node manager's own shard once waited 2 s for a call queued to itself: every
        # delete took over 2 s, with that shard's flows held, and the port closed late.
        took.sort()
        self.assertLess(took[len(took) // 2], 1.0, "median delete %.2f s" % took[len(took) // 2])

    def test_loopback_sockets_do_not_pace(self):
        """With BBR the system default, the nodes' loopback sockets use another algorithm."""
        with open("/proc/sys/net/ipv4/tcp_congestion_control") as f:
            default = f.read().strip()
        if default != "bbr":
            self.skipTest("the system default is %s, not bbr" % default)
        target = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(target.close)
        target.settimeout(10)
        port = self.portal(target.getsockname()[1])
        c = socket.create_connection(("127.0.0.1", port), 10)
        self.addCleanup(c.close)
        t, _ = target.accept()
        self.addCleanup(t.close)
        t.settimeout(10)
        c.sendall(b"ping")
        self.assertEqual(t.recv(4), b"ping")
        pids = {str(self.home.json("node", "show", n)["pid"]) for n in ("n1", "n2")}
        out = subprocess.run(["ss", "-tinpH", "state", "established"], capture_output=True,
                             text=True, timeout=10).stdout.splitlines()
        algos = []
        for head, info in zip(out, out[1:]):
            if any("pid=%s," % p in head for p in pids):
                algos.append(info.split()[0])
        # inlet's accepted socket, the connection's two ends, the outlet's socket (at least)
        self.assertGreaterEqual(len(algos), 4, out)
        self.assertNotIn("bbr", algos, out)
        self.assertTrue(set(algos) <= {"cubic", "reno"}, algos)

    def test_half_close_gets_whole_reply(self):
        reply = pattern(8 << 20, 1)

        def handle(c):
            h = hashlib.sha256()
            while True:
                b = c.recv(65536)
                if not b:
                    break
                h.update(b)
            # only after the client's EOF: the digest, then a big reply
            c.sendall(h.digest() + reply)

        srv = Server(handle)
        self.addCleanup(srv.close)
        port = self.portal(srv.port)
        req = pattern(3 << 20, 2)
        with socket.create_connection(("127.0.0.1", port), 10) as s:
            s.settimeout(30)
            s.sendall(req)
            s.shutdown(socket.SHUT_WR)
            got = bytearray()
            while True:
                b = s.recv(1 << 20)
                if not b:
                    break
                got += b
        self.assertEqual(bytes(got[:32]), hashlib.sha256(req).digest())
        self.assertEqual(len(got) - 32, len(reply))
        self.assertTrue(bytes(got[32:]) == reply, "the reply differs")

    def test_slow_reader_bounds_memory(self):
        total = 160 << 20
        sent = [0]
        data = pattern(total, 3)

        def handle(c):
            view = memoryview(data)
            while sent[0] < total:
                n = c.send(view[sent[0]:sent[0] + (1 << 20)])
                sent[0] += n

        srv = Server(handle)
        self.addCleanup(srv.close)
        port = self.portal(srv.port)
        pids = [self.home.node_pid("n1"), self.home.node_pid("n2")]
        base = [rss_kib(p) for p in pids]
        peak = list(base)
        h = hashlib.sha256()
        got = 0
        with socket.create_connection(("127.0.0.1", port), 10) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 << 10)
            s.settimeout(30)
            # 1 MiB/s for 8 s: the writer at the other end must be held back
            t0 = time.monotonic()
            while time.monotonic() - t0 < 8:
                b = s.recv(64 << 10)
                self.assertTrue(b)
                h.update(b)
                got += len(b)
                peak = [max(a, rss_kib(p)) for a, p in zip(peak, pids)]
                time.sleep(len(b) / (1 << 20))
            held = sent[0]
            # then fast: every byte arrives, once, in order
            while got < total:
                b = s.recv(1 << 20)
                if not b:
                    break
                h.update(b)
                got += len(b)
        self.assertEqual(got, total)
        self.assertEqual(h.hexdigest(), hashlib.sha256(data).hexdigest())
        # Without backpressure the server would have pushed everything (160 MiB) into the
        # nodes at once; with it only socket buffers and one window are in flight.
        self.assertLess(held, 64 << 20, "the writer ran ahead by %d MiB" % (held >> 20))
        for b, p in zip(base, peak):
            self.assertLess(p - b, 48 << 10, "node RSS grew %d KiB (from %d)" % (p - b, b))

    def test_target_down_closes_client_promptly(self):
        port = self.portal(free_port())  # nothing listens there
        t0 = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), 10) as s:
            s.settimeout(5)
            try:
                self.assertEqual(s.recv(10), b"")
            except ConnectionResetError:
                pass
        self.assertLess(time.monotonic() - t0, 2.0)

    def inlet_conns(self):
        return self.home.json("tcp-inlet", "list", "--at", "n1")[0]["connections"]

    def test_client_fin_seen_while_not_reading(self):
        # No outlet answers: the inlet waits for a Pong (10 s) and does not read its client.
        self.sluice("tcp-inlet", "create", "--at", "n1", "--from", "127.0.0.1:0",
                    "--to", "/node/n2/service/nobody")
        port = int(self.home.json("tcp-inlet", "list", "--at", "n1")[0]["bind_address"].rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), 10) as s:
            self.assertTrue(wait_until(lambda: self.inlet_conns() == 1, 5))
            t0 = time.monotonic()
            s.shutdown(socket.SHUT_WR)
            s.settimeout(5)
            try:
                self.assertEqual(s.recv(10), b"")
            except ConnectionResetError:
                pass
            self.assertLess(time.monotonic() - t0, 3.0, "the FIN waited for the Pong timeout")
        self.assertTrue(wait_until(lambda: self.inlet_conns() == 0, 3))

    def test_client_reset_seen_while_paused_by_the_window(self):
        release, done = threading.Event(), threading.Event()

        def handle(c):  # reads nothing until told, then everything until the close
            try:
                release.wait(30)
                c.settimeout(10)
                while c.recv(1 << 20):
                    pass
            finally:
                done.set()

        srv = Server(handle)
        self.addCleanup(srv.close)
        self.addCleanup(release.set)
        port = self.portal(srv.port)
        s = socket.create_connection(("127.0.0.1", port), 10)
        s.setblocking(False)
        chunk, sent, last = b"x" * (256 << 10), 0, time.monotonic()
        # Fill the window and every socket buffer on the way: no progress for 1 s.
        while time.monotonic() - last < 1.0:
            try:
                sent += s.send(chunk)
                last = time.monotonic()
            except BlockingIOError:
                time.sleep(0.02)
        self.assertGreater(sent, 2 << 20, "the window was not filled")
        self.assertEqual(self.inlet_conns(), 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()  # RST: the paused inlet must notice without reading
        self.assertTrue(wait_until(lambda: self.inlet_conns() == 0, 3),
                        "a paused connection did not see its client's reset")
        release.set()
        # The target still gets what the inlet had forwarded, then its close.
        self.assertTrue(done.wait(10), "the target never saw the close")

    def test_1000_concurrent_connections(self):
        n = 1000
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < 4 * n:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8 * n), hard))

        def echo(c):
            while True:
                b = c.recv(65536)
                if not b:
                    return
                c.sendall(b)

        srv = Server(echo)
        self.addCleanup(srv.close)
        port = self.portal(srv.port)
        t0 = time.monotonic()
        sel = selectors.DefaultSelector()
        socks = []
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", port), 10)
            s.setblocking(False)
            msg = (b"%06d" % i) * 1000
            socks.append(s)
            sel.register(s, selectors.EVENT_WRITE, [i, msg, 0, bytearray()])
        done = 0
        corrupt = []
        deadline = time.monotonic() + 60
        while done < n and time.monotonic() < deadline:
            for key, ev in sel.select(timeout=1):
                st = key.data
                s = key.fileobj
                if ev & selectors.EVENT_WRITE and st[2] < len(st[1]):
                    st[2] += s.send(st[1][st[2]:])
                    if st[2] == len(st[1]):
                        sel.modify(s, selectors.EVENT_READ, st)
                elif ev & selectors.EVENT_READ:
                    b = s.recv(65536)
                    st[3] += b
                    if len(st[3]) >= len(st[1]) or not b:
                        if bytes(st[3]) != st[1]:
                            corrupt.append(st[0])
                        sel.unregister(s)
                        done += 1
        bad = [k.data[0] for k in sel.get_map().values()]
        for s in socks:
            s.close()
        self.assertEqual(done, n, "connections not finished: %s..." % bad[:10])
        self.assertEqual(corrupt, [], "echoes that differ from what was sent")
        self.assertLess(time.monotonic() - t0, 60)

    def test_outlet_node_restart_then_new_connections_work(self):
        port = self.portal(self.http_port)
        url = "http://127.0.0.1:%d/" % port
        self.assertEqual(urllib.request.urlopen(url, timeout=10).status, 200)
        # n2 goes away (the route behind the inlet breaks) and comes back with its outlet
        self.sluice("node", "stop", "n2")
        with socket.create_connection(("127.0.0.1", port), 10) as s:
            s.settimeout(15)
            s.sendall(b"HEAD / HTTP/1.0\r\n\r\n")
            try:
                self.assertEqual(s.recv(100), b"")  # closed, not hanging
            except ConnectionResetError:
                pass
        self.sluice("node", "start", "n2")
        self.assertEqual(self.home.json("tcp-outlet", "list", "--at", "n2")[0]["address"],
                         "/service/outlet")

        def works():
            try:
                return urllib.request.urlopen(url, timeout=5).status == 200
            except OSError:
                return False

        self.assertTrue(wait_until(works, 20, 0.2), "no new connection worked after the restart")

    def test_inlet_restored_on_node_restart(self):
        port = self.portal(self.http_port, alias="web")
        self.sluice("node", "stop", "n1")
        self.sluice("node", "start", "n1")
        ins = self.home.json("tcp-inlet", "list", "--at", "n1")
        self.assertEqual([i["alias"] for i in ins], ["web"])
        self.assertEqual(ins[0]["bind_address"], "127.0.0.1:%d" % port)
        with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=10) as r:
            self.assertEqual(r.status, 200)
        self.sluice("tcp-inlet", "delete", "web", "--at", "n1")
        self.sluice("tcp-outlet", "delete", "outlet", "--at", "n2")
        self.assertEqual(self.home.json("tcp-inlet", "list", "--at", "n1"), [])
        self.assertFalse(self._connects(port))


def curl_head(port, timeout=10):
    """curl --head through an inlet: the status line, or "" when it failed."""
    p = subprocess.run(["curl", "-sS", "--max-time", str(timeout), "--head",
                        "http://127.0.0.1:%d/" % port], capture_output=True, text=True)
    return p.stdout.splitlines()[0].strip() if p.returncode == 0 and p.stdout else ""


class SecureInlet(NodeTest):
    """Inlets whose route has /secure or /project: the inlet makes its own channel,
    makes it again when it breaks, and comes back with its node."""

    def setUp(self):
        super().setUp()
        self.relay_port = free_port()
        self.sluice("node", "create", "relay", "--tcp-listener-address",
                    "127.0.0.1:%d" % self.relay_port)
        self.sluice("node", "create", "a")
        self.sluice("node", "create", "b")
        self.http_port = free_port()
        self.http = subprocess.Popen(
            [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(self.http_port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(self.http.wait)
        self.addCleanup(self.http.kill)
        self.assertTrue(wait_until(lambda: Portal._connects(self.http_port), 10))

    def inlet(self, to, *extra):
        port = free_port()
        self.sluice("tcp-inlet", "create", "--at", "a", "--from", "127.0.0.1:%d" % port,
                    "--to", to, *extra)
        return port

    def relayed(self):
        """The seed's relay and outlet: b reached as forward_to_b at the relay node."""
        self.sluice("relay", "create", "b", "--at", "/node/relay", "--to", "/node/b")
        self.sluice("tcp-outlet", "create", "--at", "b", "--from", "/service/outlet",
                    "--to", "127.0.0.1:%d" % self.http_port)

    def serves_again(self, port, within):
        """New connections work again within `within` seconds (the inlet as it is)."""
        t0 = time.monotonic()
        ok = wait_until(lambda: curl_head(port, 25) == "HTTP/1.0 200 OK", within, 0.2)
        self.assertTrue(ok, "the inlet did not serve again within %ds" % within)
        return time.monotonic() - t0

    def test_seed_relayed_flow(self):
        # The seed's flow word for word, on free ports instead of 6000, 6001 and 9000.
        self.relayed()
        p1, p2 = free_port(), free_port()
        sc = self.sluice("secure-channel", "create", "--from", "a", "--to",
                         "/node/relay/service/forward_to_b/service/api").stdout
        self.sluice("tcp-inlet", "create", "--at", "a", "--from", "127.0.0.1:%d" % p1,
                    "--to", "-/service/outlet", input=sc)
        self.assertEqual(curl_head(p1), "HTTP/1.0 200 OK")
        self.sluice("tcp-inlet", "create", "--at", "a", "--from", "127.0.0.1:%d" % p2,
                    "--to", "/node/relay/service/forward_to_b/secure/api/service/outlet")
        self.assertEqual(curl_head(p2), "HTTP/1.0 200 OK")
        # The inlet keeps the route as given, not the channel it made.
        ins = {i["bind_address"]: i for i in self.home.json("tcp-inlet", "list", "--at", "a")}
        self.assertEqual(ins["127.0.0.1:%d" % p2]["to"],
                         "/node/relay/service/forward_to_b/secure/api/service/outlet")
        # Many clients at once, most of them waiting for the channels of their shard.
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            heads = list(ex.map(lambda _: curl_head(p2), range(32)))
        self.assertEqual(heads, ["HTTP/1.0 200 OK"] * 32)

    def test_relayed_channel_heals_after_outlet_node_restart(self):
        self.relayed()
        port = self.inlet("/node/relay/service/forward_to_b/secure/api/service/outlet")
        self.assertEqual(curl_head(port), "HTTP/1.0 200 OK")
        # b's channel end is gone, and nothing tells a: the first Ping without
        # Pong (10 s) does, and that client goes on through a new channel.
        self.sluice("node", "stop", "b")
        self.sluice("node", "start", "b")
        self.assertLess(self.serves_again(port, 40), 40)
        self.assertEqual(len(self.home.json("tcp-inlet", "list", "--at", "a")), 1)

    def test_relayed_channel_heals_after_relay_node_restart(self):
        self.relayed()
        port = self.inlet("/node/relay/service/forward_to_b/secure/api/service/outlet")
        self.assertEqual(curl_head(port), "HTTP/1.0 200 OK")
        self.sluice("node", "stop", "relay")
        self.assertNotEqual(curl_head(port, 25), "HTTP/1.0 200 OK")
        self.sluice("node", "start", "relay")
        # b registers again (its relay client retries every few seconds); a's
        # connection to the relay node stopped, so its channel was dropped at once.
        self.serves_again(port, 40)

    def test_direct_channel_heals_after_outlet_node_restart(self):
        self.sluice("tcp-outlet", "create", "--at", "b", "--from", "/service/outlet",
                    "--to", "127.0.0.1:%d" % self.http_port)
        port = self.inlet("/node/b/secure/api/service/outlet")
        self.assertEqual(curl_head(port), "HTTP/1.0 200 OK")
        self.sluice("node", "stop", "b")
        self.sluice("node", "start", "b")
        # The connection under the channel stopped: a new channel at once, no Pong timeout.
        self.assertLess(self.serves_again(port, 20), 8)

    def test_seed_form_inlet_heals_after_outlet_node_restart(self):
        # The seed's form: a channel made by `secure-channel create`, its address on stdin.
        self.sluice("tcp-outlet", "create", "--at", "b", "--from", "/service/outlet",
                    "--to", "127.0.0.1:%d" % self.http_port)
        sc = self.sluice("secure-channel", "create", "--from", "a", "--to",
                         "/node/b/service/api").stdout
        port = free_port()
        self.sluice("tcp-inlet", "create", "--at", "a", "--from", "127.0.0.1:%d" % port,
                    "--to", "-/service/outlet", input=sc)
        self.assertEqual(curl_head(port), "HTTP/1.0 200 OK")
        self.sluice("node", "stop", "b")
        self.sluice("node", "start", "b")
        # The given channel died with b's end; the inlet makes its own to the same peer.
        self.assertLess(self.serves_again(port, 20), 8)
        # Kept as the route it remakes, so it comes back with its own node too.
        b_port = self.home.json("node", "show", "b")["tcp_port"]
        ins = self.home.json("tcp-inlet", "list", "--at", "a")
        self.assertEqual([i["to"] for i in ins],
                         ["/ip4/127.0.0.1/tcp/%d/secure/api/service/outlet" % b_port])
        self.sluice("node", "stop", "a")
        self.sluice("node", "start", "a")
        self.assertEqual(curl_head(port), "HTTP/1.0 200 OK")

    def test_secure_inlet_restored_on_node_restart(self):
        self.relayed()
        port = self.inlet("/node/relay/service/forward_to_b/secure/api/service/outlet",
                          "--alias", "web")
        self.assertEqual(curl_head(port), "HTTP/1.0 200 OK")
        self.sluice("node", "stop", "a")
        self.sluice("node", "start", "a")
        ins = self.home.json("tcp-inlet", "list", "--at", "a")
        self.assertEqual([(i["alias"], i["to"]) for i in ins],
                         [("web", "/node/relay/service/forward_to_b/secure/api/service/outlet")])
        self.assertEqual(curl_head(port), "HTTP/1.0 200 OK")

    def test_via_through_project_and_restore(self):
        ids = {i["name"]: i["identifier"] for i in self.home.json("identity", "list")}
        self.sluice("project", "create", "default", "--relay",
                    "/ip4/127.0.0.1/tcp/%d" % self.relay_port, "--identity", ids["@relay"])
        self.sluice("relay", "create", "b", "--at", "/project/default", "--to", "b")
        self.sluice("tcp-outlet", "create", "--at", "b", "--from", "/service/outlet",
                    "--to", "127.0.0.1:%d" % self.http_port)
        self.sluice("tcp-outlet", "create", "--at", "b", "--from", "/service/web2",
                    "--to", "127.0.0.1:%d" % self.http_port)
        p1, p2 = free_port(), free_port()
        self.sluice("tcp-inlet", "create", "--at", "a", "--from", "127.0.0.1:%d" % p1,
                    "--via", "b", "--alias", "one")
        self.sluice("tcp-inlet", "create", "--at", "a", "--from", "127.0.0.1:%d" % p2,
                    "--via", "b", "--to", "web2", "--alias", "two")
        self.assertEqual(curl_head(p1), "HTTP/1.0 200 OK")
        self.assertEqual(curl_head(p2), "HTTP/1.0 200 OK")
        ins = {i["alias"]: i["to"] for i in self.home.json("tcp-inlet", "list", "--at", "a")}
        self.assertEqual(ins, {
            "one": "/project/default/service/forward_to_b/secure/api/service/outlet",
            "two": "/project/default/service/forward_to_b/secure/api/service/web2"})
        # A whole route and --via together: Ockam refuses it too.
        p = self.sluice("tcp-inlet", "create", "--at", "a", "--via", "b", "--to",
                        "/node/b/service/outlet", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--via", p.stderr)
        # A project whose relay node proves another identity: no channel, the client is closed.
        self.sluice("project", "create", "wrong", "--relay",
                    "/ip4/127.0.0.1/tcp/%d" % self.relay_port, "--identity", "I" + "ab" * 32)
        bad = self.inlet("/project/wrong/service/forward_to_b/secure/api/service/outlet")
        t0 = time.monotonic()
        self.assertEqual(curl_head(bad, 30), "")
        self.assertLess(time.monotonic() - t0, 25)
        # The /project inlets come back with their node.
        self.sluice("node", "stop", "a")
        self.sluice("node", "start", "a")
        self.assertEqual(curl_head(p1), "HTTP/1.0 200 OK")
        self.assertEqual(curl_head(p2), "HTTP/1.0 200 OK")
        # Deleted: it listens no more.
        self.sluice("tcp-inlet", "delete", "one", "--at", "a")
        self.assertFalse(Portal._connects(p1))


if __name__ == "__main__":
    unittest.main()
