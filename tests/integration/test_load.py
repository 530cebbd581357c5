"""`sluice load` against real nodes, a real portal and small servers of our own
(an echo that can stall once, a kept-alive HTTP server), all on 127.0.0.1."""

import http.server
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import NodeTest, SLUICE, wait_until

# ASan/TSan builds (SLUICE_SANITIZED) run the generator several times slower.
SANITIZED = bool(os.environ.get("SLUICE_SANITIZED"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EchoServer:
    """A TCP echo; with stall, it sleeps that long once, stall_after s after its first byte."""

    def __init__(self, stall=0.0, stall_after=1.0):
        self.stall, self.stall_after, self.stalled = stall, stall_after, False
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        self.first = None
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with c:
            while True:
                try:
                    d = c.recv(65536)
                except OSError:
                    return
                if not d:
                    return
                now = time.monotonic()
                if self.first is None:
                    self.first = now
                if self.stall and not self.stalled and now - self.first > self.stall_after:
                    self.stalled = True
                    time.sleep(self.stall)
                try:
                    c.sendall(d)
                except OSError:
                    return

    def close(self):
        self.sock.close()


class KeepAliveHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    body = b"sluice" * 20

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *a):
        pass


class LoadTest(NodeTest):
    def load(self, *args, timeout=60, check=True):
        """Run sluice load --output json; (exit status, parsed JSON or None, stderr)."""
        p = subprocess.run([SLUICE, "load", *args, "--output", "json"], capture_output=True,
                           text=True, timeout=timeout, env=self.home.env)
        doc = json.loads(p.stdout) if p.stdout.strip() else None
        if check:
            self.assertEqual(p.returncode, 0, "sluice load %s: %s" % (" ".join(args), p.stderr))
        return p.returncode, doc, p.stderr

    def echo(self, **kw):
        e = EchoServer(**kw)
        self.addCleanup(e.close)
        return e

    @staticmethod
    def slow_samples(doc, us):
        """Samples in the histogram at or above us microseconds."""
        return sum(n for lo, hi, n in doc["histogram"]["buckets"] if lo >= us)

    def assert_rate_kept(self, d, rate):
        """Open loop at rate: the schedule is exact (every send due in the window went
        out, those the generator sent late too), and the generator kept up with it: the
        sends that went out after the window (achieved_rate leaves them out) are few.
        A VM that stalls the generator for 50 ms at the window's end makes 2% of a 2 s
        run at 2000/s late; a sanitizer build is slower still: there the bound is 5%."""
        self.assertLess(abs(d["sent"] / d["duration_s"] - rate) / rate, 0.02, d)
        self.assertLess(abs(d["achieved_rate"] - rate) / rate, 0.05 if SANITIZED else 0.02, d)

    # Under TSan the generator runs 5-15 times slower than asked: 20,000/s is out of reach.
    @unittest.skipIf(os.environ.get("SLUICE_TSAN"), "the generator is too slow under TSan")
    def test_rate_accuracy_open_loop(self):
        self.sluice("node", "create", "n2")
        # Under ASan on a busy 2-core VM the generator kept only 14,000 of 20,000/s.
        for rate in (2000, 5000 if SANITIZED else 20000):
            _, d, _ = self.load("--to", "/node/n2/service/echo", "--rate", str(rate),
                                "--duration", "3s")
            self.assertEqual(d["asked_rate"], rate)
            self.assert_rate_kept(d, rate)
            self.assertLess(abs(d["received_rate"] - rate) / rate, 0.02, d)
            self.assertEqual(d["errors"]["total"], 0, d["errors"])
            self.assertEqual(d["latency_us"]["count"], d["received"])

    def test_json_schema(self):
        self.sluice("node", "create", "n2")
        _, d, _ = self.load("--to", "/node/n2/service/echo", "--rate", "1000", "--duration", "1s")
        self.assertEqual(d["schema"], "sluice-load/1")
        for key, kind in (("target", str), ("mode", str), ("loop", str), ("size", int),
                          ("generators", int), ("connections", int), ("asked_rate", float),
                          ("concurrency", int), ("duration_s", float), ("warmup_s", float),
                          ("sent", int), ("sent_late", int), ("received", int),
                          ("in_flight_at_end", int), ("achieved_rate", float),
                          ("received_rate", float), ("bytes_per_s", dict), ("latency_us", dict),
                          ("send_lag_us", dict), ("errors", dict), ("error_rate", float),
                          ("handshakes", dict), ("harness", dict), ("gates", dict),
                          ("histogram", dict)):
            self.assertIn(key, d)
            self.assertIsInstance(d[key], (int, float) if kind is float else kind, key)
        for k in ("p50", "p90", "p99", "p999", "p9999", "max", "min", "mean", "stddev", "count"):
            self.assertIn(k, d["latency_us"])
        self.assertTrue(d["latency_us"]["p50"] <= d["latency_us"]["p90"] <= d["latency_us"]["p99"]
                        <= d["latency_us"]["p999"])
        self.assertEqual(sorted(d["errors"]), ["auth", "closed", "other", "refused", "timeouts", "total"])
        self.assertEqual(set(d["bytes_per_s"]), {"sent", "received"})
        self.assertEqual(d["histogram"]["unit"], "us")
        self.assertEqual(sum(b[2] for b in d["histogram"]["buckets"]), d["latency_us"]["count"])
        self.assertEqual(d["loop"], "open")
        self.assertIsNone(d["gates"]["max_p99_us"])
        _, d, _ = self.load("--to", "/node/n2/service/echo", "-c", "2", "--count", "500")
        self.assertEqual(d["loop"], "closed")
        self.assertIsNone(d["asked_rate"])
        self.assertEqual(d["sent"], 500)
        self.assertEqual(d["received"], 500)

    def test_harness_cpu_is_the_windows(self):
        # The harness's CPU figure covers the measured window only: a 3 s warmup before the
        # same 1 s window must not add to it (counting it made the figure ~4x).
        self.sluice("node", "create", "n2")
        runs = []
        for warmup in ("0s", "3s"):
            _, d, _ = self.load("--to", "/node/n2/service/echo", "--rate", "20k", "--warmup",
                                warmup, "--duration", "1s", "--shards", "1")
            h = d["harness"]
            self.assertEqual(set(h), {"cpu_s", "cpu_us_per_message", "cores"})
            self.assertAlmostEqual(h["cores"], h["cpu_s"] / d["duration_s"], delta=0.01)
            sent = d["sent"] - d["sent_late"]
            # cpu_s is printed to 1 ms: a relative tolerance
            self.assertAlmostEqual(h["cpu_us_per_message"], h["cpu_s"] * 1e6 / sent,
                                   delta=0.01 * h["cpu_us_per_message"] + 0.01)
            runs.append(h["cpu_s"])
        self.assertLess(runs[1], 2.5 * runs[0] + 0.05, runs)

    def test_gates_exit_status(self):
        self.sluice("node", "create", "n2")
        code, d, err = self.load("--to", "/node/n2/service/echo", "--rate", "1000", "--duration",
                                 "1s", "--max-p99", "1us", check=False)
        self.assertEqual(code, 3, err)
        self.assertIn("gate failed: p99", err)
        self.assertFalse(d["gates"]["passed"])
        self.assertEqual(d["gates"]["max_p99_us"], 1)
        code, d, err = self.load("--to", "/node/n2/service/echo", "--rate", "1000", "--duration",
                                 "1s", "--max-p99", "30s", "--max-error-rate", "0%", check=False)
        self.assertEqual(code, 0, err)
        self.assertTrue(d["gates"]["passed"])
        # nothing answers at this route: every message is an error
        code, d, err = self.load("--to", "/node/n2/service/nobody", "--rate", "200", "--duration",
                                 "1s", "--timeout", "300ms", "--max-error-rate", "1%", check=False)
        self.assertEqual(code, 3, err)
        self.assertEqual(d["errors"]["timeouts"], d["sent"])
        self.assertIn("gate failed: error rate", err)

    @unittest.skipIf(os.environ.get("SLUICE_TSAN"), "the generator is too slow under TSan")
    def test_stall_coordinated_omission(self):
        """A target that stalls 200 ms once: open loop counts every send that waited."""
        e = self.echo(stall=0.2)
        _, op, _ = self.load("--tcp", "127.0.0.1:%d" % e.port, "--rate", "1000", "--duration", "3s")
        self.assertEqual(op["errors"]["total"], 0)
        self.assertGreaterEqual(op["latency_us"]["max"], 180000, op["latency_us"])
        self.assertGreaterEqual(op["latency_us"]["p99"], 100000, op["latency_us"])
        # ~200 sends were due during the stall; each waited part of it
        self.assertGreaterEqual(self.slow_samples(op, 50000), 100, op["latency_us"])
        self.assertLess(abs(op["achieved_rate"] - 1000) / 1000, 0.02)

        # Closed loop: the stall is one sample, the p99 does not see it. A loaded VM
        # stalls the generator too (tens of ms, a few times in 3 s; each one more slow
        # sample, not hundreds): samples are judged slow at half the injected stall,
        # and a run that met such a stall is run again, twice at most. Hidden
        # coordinated omission's mirror image (the closed loop counting every wait)
        # would put ~100 samples there in every run.
        seen = []
        for _ in range(3):
            e = self.echo(stall=0.2)
            _, cl, _ = self.load("--tcp", "127.0.0.1:%d" % e.port, "-c", "1", "--duration", "3s")
            self.assertGreaterEqual(cl["latency_us"]["max"], 180000, cl["latency_us"])
            seen.append((self.slow_samples(cl, 100000), cl["latency_us"]))
            if seen[-1][0] <= 1 and cl["latency_us"]["p99"] < 50000:
                break
        else:
            self.fail("closed loop: the stall was not one sample in any run (slow samples, "
                      "latency): %s" % seen)

    def test_histogram_file(self):
        e = self.echo()
        path = os.path.join(self.home.dir, "lat.hgrm")
        _, d, _ = self.load("--tcp", "127.0.0.1:%d" % e.port, "--rate", "2000", "--duration", "1s",
                            "--histogram", path)
        with open(path) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0].split(), ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"])
        rows = [l.split() for l in lines[2:] if l and not l.startswith("#")]
        self.assertEqual(rows[-1][1], "1.000000000000")
        self.assertEqual(int(rows[-1][2]), d["latency_us"]["count"])
        self.assertTrue(lines[-1].startswith("#[Buckets ="), lines[-1])
        # values in ms: the file's max matches the JSON's (us), within the 3-digit range
        self.assertLess(abs(float(rows[-1][0]) * 1000 - d["latency_us"]["max"]),
                        d["latency_us"]["max"] / 500 + 2)

    def test_tcp_through_portal(self):
        self.sluice("node", "create", "n1")
        self.sluice("node", "create", "n2")
        e = self.echo()
        self.sluice("tcp-outlet", "create", "--at", "n2", "--from", "/service/outlet",
                    "--to", "127.0.0.1:%d" % e.port)
        inlet = self.sluice("tcp-inlet", "create", "--at", "n1", "--from", "127.0.0.1:0",
                            "--to", "/node/n2/secure/api/service/outlet").stdout.strip()
        port = int(inlet.rsplit(":", 1)[1])
        self.assertTrue(wait_until(lambda: subprocess.run(
            [SLUICE, "load", "--tcp", "127.0.0.1:%d" % port, "-n", "1"], env=self.home.env,
            capture_output=True, timeout=20).returncode == 0, 20))
        _, d, _ = self.load("--tcp", "127.0.0.1:%d" % port, "--connections", "4", "--rate",
                            "2000", "--duration", "2s")
        self.assertEqual(d["connections"], 4)
        self.assertEqual(d["errors"]["total"], 0, d["errors"])
        self.assertEqual(d["received"], d["sent"])
        self.assert_rate_kept(d, 2000)
        _, d, _ = self.load("--tcp", "127.0.0.1:%d" % port, "--mode", "bulk", "--size", "65536",
                            "--duration", "1s")
        self.assertGreater(d["bytes_per_s"]["sent"], 10e6)
        self.assertGreater(d["bytes_per_s"]["received"], 1e6)

        # HTTP/1.1 through a second outlet, kept-alive connections
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), KeepAliveHandler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.addCleanup(srv.server_close)
        self.addCleanup(srv.shutdown)
        self.sluice("tcp-outlet", "create", "--at", "n2", "--from", "/service/web",
                    "--to", "127.0.0.1:%d" % srv.server_address[1])
        web = self.sluice("tcp-inlet", "create", "--at", "n1", "--from", "127.0.0.1:0",
                          "--to", "/node/n2/service/web").stdout.strip()
        _, d, _ = self.load("--tcp", web, "--mode", "http", "-c", "2", "--connections", "2",
                            "--count", "300")
        self.assertEqual(d["received"], 300, d)
        self.assertEqual(d["errors"]["total"], 0)

    def test_http_never_pipelines(self):
        """HTTP mode keeps one request in flight per connection (as HTTP/1.1 clients
        do), even when -c asks for more than there are connections: a server that
        sees a second request before it answered the first counts it."""
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(16)
        self.addCleanup(lsock.close)
        seen = {"requests": 0, "pipelined": 0}
        resp = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"

        def serve(c):
            buf = b""
            with c:
                while True:
                    try:
                        d = c.recv(65536)
                    except OSError:
                        return
                    if not d:
                        return
                    buf += d
                    n = buf.count(b"\r\n\r\n")
                    if n > 1:
                        seen["pipelined"] += 1
                    seen["requests"] += n
                    buf = buf[buf.rfind(b"\r\n\r\n") + 4:] if n else buf
                    c.sendall(resp * n)

        def accept():
            while True:
                try:
                    c, _ = lsock.accept()
                except OSError:
                    return
                threading.Thread(target=serve, args=(c,), daemon=True).start()

        threading.Thread(target=accept, daemon=True).start()
        _, d, _ = self.load("--tcp", "127.0.0.1:%d" % lsock.getsockname()[1], "--mode", "http",
                            "-c", "8", "--connections", "2", "--count", "400")
        self.assertEqual(d["received"], 400, d)
        self.assertEqual(d["errors"]["total"], 0, d["errors"])
        self.assertEqual(seen["requests"], 400)
        self.assertEqual(seen["pipelined"], 0)

    def test_secure_channels(self):
        self.sluice("node", "create", "n2")
        _, d, _ = self.load("--to", "/node/n2/secure/api/service/echo", "--channels", "50",
                            "--rate", "2000", "--duration", "2s")
        self.assertEqual(d["connections"], 50)
        self.assertEqual(d["handshakes"]["made"], 50)
        self.assertEqual(d["errors"]["total"], 0, d["errors"])
        self.assert_rate_kept(d, 2000)
        self.assertEqual(d["received"], d["sent"])
        # the harness closed its channels: the node holds none of them
        self.assertTrue(wait_until(lambda: len(self.home.json(
            "secure-channel", "list", "--at", "n2")) == 0, 10))

        # an identity of our own, and --authorized naming the node's
        self.sluice("identity", "create", "me")
        node_id = self.sluice("identity", "show", "@n2").stdout.strip()
        _, d, _ = self.load("--to", "/node/n2/secure/api/service/echo", "--channels", "4",
                            "--identity", "me", "--authorized", node_id, "-c", "4", "--count", "200")
        self.assertEqual(d["handshakes"]["made"], 4)
        self.assertEqual(d["received"], 200)
        # --authorized naming someone else: every handshake is an auth failure
        self.sluice("identity", "create", "other")
        other = self.sluice("identity", "show", "other").stdout.strip()
        code, _, err = self.load("--to", "/node/n2/secure/api/service/echo", "--channels", "3",
                                 "--authorized", other, "-c", "1", "--count", "10", check=False)
        self.assertEqual(code, 1, err)
        self.assertIn("no channel could be made", err)

    def discarded(self, node):
        return sum(s["value"] for s in self.home.json("node", "stats", node)
                   if s["name"] == "sluice_discarded_total")

    def test_bulk_is_one_way_to_discard(self):
        # The discard service takes every message and answers none; the harness reads the
        # node's count before and after, so what the node did not take shows as lost.
        self.sluice("node", "create", "n2")
        before = self.discarded("n2")
        _, d, err = self.load("--to", "/node/n2/secure/api/service/discard", "--mode", "bulk",
                              "--rate", "20k", "--warmup", "500ms", "--duration", "2s")
        self.assertEqual(d["mode"], "bulk")
        self.assertNotIn("warning", err)
        self.assert_rate_kept(d, 20000)
        self.assertEqual(d["received"], 0, d)
        self.assertEqual(d["errors"]["total"], 0, d["errors"])
        node = d["node"]
        self.assertEqual(node["name"], "n2")
        # the warmup's 10,000 sends count at the node too
        self.assertGreaterEqual(node["sent_all"], d["sent"] + 9000)
        self.assertEqual(node["discarded"], node["sent_all"], node)
        self.assertEqual(node["lost"], 0)
        self.assertEqual(self.discarded("n2") - before, node["discarded"])
        # to a plain route of the node as well (no channel)
        _, d, _ = self.load("--to", "/node/n2/service/discard", "--mode", "bulk", "--rate", "5k",
                            "--duration", "1s")
        self.assertEqual(d["received"], 0, d)
        self.assertEqual(d["node"]["discarded"], d["node"]["sent_all"], d["node"])
        # echo is not one way: replies come back, and the harness says so
        _, d, err = self.load("--to", "/node/n2/service/echo", "--mode", "bulk", "--rate", "2k",
                              "--duration", "1s")
        self.assertIn("end the route at /service/discard", err)
        self.assertGreater(d["received"], 0, d)
        self.assertEqual(d["node"]["discarded"], 0, d["node"])
        # a route that is not one node's service: no node figure
        port = self.home.node_port("n2")
        _, d, _ = self.load("--to", "/ip4/127.0.0.1/tcp/%d/service/discard" % port, "--mode", "bulk",
                            "--rate", "2k", "--duration", "1s")
        self.assertIsNone(d["node"])
        self.assertEqual(d["received"], 0, d)
        # rr mode reads no node figure either
        _, d, _ = self.load("--to", "/node/n2/service/echo", "--rate", "1000", "--duration", "1s")
        self.assertIsNone(d["node"])

    def test_handshake_storm(self):
        self.sluice("node", "create", "n2")
        _, d, _ = self.load("--to", "/node/n2/secure/api", "--handshakes", "200", "-c", "16")
        self.assertEqual(d["mode"], "handshake")
        self.assertEqual(d["handshakes"]["made"], 200)
        self.assertGreater(d["handshakes"]["per_s"], 50)
        self.assertEqual(d["latency_us"]["count"], 200)
        _, d, _ = self.load("--to", "/node/n2/secure/api", "--handshakes", "100", "--rate", "200")
        self.assertEqual(d["handshakes"]["made"], 100)
        self.assertLess(abs(d["handshakes"]["per_s"] - 200) / 200, 0.05, d["handshakes"])

    def test_ramp(self):
        self.sluice("node", "create", "n2")
        _, d, _ = self.load("--to", "/node/n2/service/echo", "--rate", "1000..5000", "--ramp", "2s")
        # (1000 + 5000) / 2 * 2 s
        self.assertLess(abs(d["sent"] - 6000), 60, d)
        self.assertEqual(d["ramp"], {"from": 1000.0, "to": 5000.0, "seconds": 2.0})

    def test_usage_errors(self):
        for args, want in ((["--rate", "10"], "--to ROUTE"),
                           (["--to", "/service/echo", "--channels", "3"], "/secure/NAME"),
                           (["--to", "/service/echo", "--rate", "1..9"], "--ramp"),
                           (["--to", "/service/echo", "--size", "4"], "at least 8")):
            p = subprocess.run([SLUICE, "load", *args], capture_output=True, text=True,
                               timeout=20, env=self.home.env)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(want, p.stderr)
        p = subprocess.run([SLUICE, "load", "--help"], capture_output=True, text=True, timeout=20)
        self.assertEqual(p.returncode, 0)
        self.assertIn("--max-p99", p.stdout)


if __name__ == "__main__":
    unittest.main()
