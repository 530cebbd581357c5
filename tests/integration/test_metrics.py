"""A node's metrics and health over HTTP (--metrics), `sluice node stats`, and a
real Prometheus server (Debian's `prometheus`) scraping a node."""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

from harness import SLUICE, NodeTest, wait_until

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
NO_PROMETHEUS = "Debian's prometheus (promtool, the server) is not installed: tools/deps.sh test"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=5):
    """(status, body) of a GET; HTTP errors are answers too."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def samples(text):
    """Prometheus text -> {'name{labels}': value} (the exposition has no timestamps here)."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


class Metrics(NodeTest):
    def setUp(self):
        super().setUp()
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.sluice("node", "create", "n1", "--metrics", "127.0.0.1:%d" % self.port)
        self.sluice("node", "create", "n2")

    def scrape(self):
        status, body = get(self.url + "/metrics")
        self.assertEqual(status, 200, body)
        return body

    def traffic(self):
        """Messages and a secure channel from n1 to n2, and a handshake n1 refuses."""
        for _ in range(3):
            out = self.sluice("message", "send", "hi", "--from", "n1", "--to",
                              "/node/n2/service/uppercase").stdout.strip()
            self.assertEqual(out, "HI")
        sc = self.sluice("secure-channel", "create", "--from", "n1", "--to",
                         "/node/n2/service/api").stdout.strip()
        out = self.sluice("message", "send", "hey", "--from", "n1", "--to",
                          sc + "/service/uppercase").stdout.strip()
        self.assertEqual(out, "HEY")
        other = self.sluice("identity", "create", "other").stdout.strip()
        p = self.sluice("secure-channel", "create", "--from", "n1", "--to", "/node/n2/service/api",
                        "--authorized", other, check=False)
        self.assertNotEqual(p.returncode, 0)
        # n2 registers a relay at n1
        out = self.sluice("relay", "create", "r2", "--at", "/node/n1", "--to", "n2").stdout.strip()
        self.assertEqual(out, "/service/forward_to_r2")

    def test_counters_move_and_promtool_accepts_them(self):
        before = samples(self.scrape())
        self.assertEqual(before["sluice_secure_channels"], 0)
        self.assertEqual(before["sluice_ready"], 1)
        self.traffic()
        text = self.scrape()
        after = samples(text)
        for name in ("sluice_messages_in_total", "sluice_messages_out_total",
                     "sluice_bytes_in_total", "sluice_bytes_out_total",
                     "sluice_secure_handshakes_ok_total",
                     'sluice_secure_handshakes_failed_total{reason="not_authorized"}'):
            self.assertGreater(after[name], before[name], name)
        # ours, and the one n2's relay registration came through
        self.assertEqual(after["sluice_secure_channels"], 2)
        self.assertEqual(after["sluice_relays"], before["sluice_relays"] + 1)
        self.assertGreater(after["sluice_relay_registrations_total"],
                           before["sluice_relay_registrations_total"])
        self.assertGreaterEqual(after["sluice_tcp_connections"], 1)
        self.assertEqual(after['sluice_secure_handshakes_failed_total{reason="timeout"}'], 0)
        # per-shard figures add up to the node's
        shards = int(after["sluice_shards"])
        self.assertEqual(sum(after['sluice_shard_messages_in_total{shard="%d"}' % i]
                             for i in range(shards)), after["sluice_messages_in_total"])
        self.assertIn('sluice_pool_messages{shard="0",class="small"}', after)
        self.assertEqual(len([k for k in after if k.startswith("sluice_aead_backend_info{")]), 1)
        self.assertIn("# TYPE sluice_messages_in_total counter", text)
        self.assertIn("# HELP sluice_relays ", text)
        for line in text.splitlines():
            if line.startswith("# TYPE ") and line.endswith(" counter"):
                self.assertTrue(line.split()[2].endswith("_total"), line)
        if not PROMTOOL:
            self.skipTest(NO_PROMETHEUS)
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        # and promtool does fail on a broken exposition
        p = subprocess.run([PROMTOOL, "check", "metrics"], input="# TYPE x_total counter\nx_total{ 1\n",
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)

    def test_health_and_errors(self):
        self.assertEqual(get(self.url + "/healthz"), (200, "ok\n"))
        self.assertEqual(get(self.url + "/readyz"), (200, "ready\n"))
        self.assertEqual(get(self.url + "/nothing")[0], 404)
        req = urllib.request.Request(self.url + "/metrics", data=b"x", method="POST")
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=5)
        self.assertEqual(e.exception.code, 405)
        info = self.home.json("node", "show", "n1")
        self.assertEqual(info["metrics"], "127.0.0.1:%d" % self.port)
        self.assertIsNone(self.home.json("node", "show", "n2")["metrics"])
        self.assertIn("/metrics", self.sluice("node", "show", "n1").stdout)
        self.assertIn("--metrics", self.sluice("node", "create", "--help").stdout)
        self.assertIn("--metrics", self.sluice("node", "run", "--help").stdout)
        # clear errors: port 0, not an address, a port already taken
        for bad in ("127.0.0.1:0", "nowhere:80", "127.0.0.1"):
            p = self.sluice("node", "create", "bad", "--metrics", bad, check=False)
            self.assertNotEqual(p.returncode, 0, bad)
            self.assertIn("--metrics", p.stderr)
        p = self.sluice("node", "create", "n3", "--metrics", "127.0.0.1:%d" % self.port, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("metrics", p.stderr)
        self.assertNotIn("n3", [n["name"] for n in self.home.json("node", "list")])

    def test_node_stats_plain_and_json(self):
        self.traffic()
        rows = self.home.json("node", "stats", "n1")
        by = {(r["name"], tuple(sorted(r["labels"].items()))): r for r in rows}
        self.assertGreater(by[("sluice_messages_in_total", ())]["value"], 0)
        self.assertEqual(by[("sluice_messages_in_total", ())]["type"], "counter")
        self.assertEqual(by[("sluice_secure_channels", ())]["value"], 2)
        self.assertEqual(by[("sluice_secure_handshakes_failed_total",
                             (("reason", "not_authorized"),))]["value"], 1)
        # the same figures as /metrics (counters only grow between the two reads)
        scraped = samples(self.scrape())
        self.assertGreaterEqual(scraped["sluice_messages_in_total"],
                                by[("sluice_messages_in_total", ())]["value"])
        self.assertEqual(len(rows), len(scraped))
        plain = self.sluice("node", "stats", "n1").stdout.splitlines()
        cells = [line.split("\t") for line in plain]
        self.assertEqual(len(cells), len(rows))
        self.assertIn(["sluice_drops_total", "reason=unknown_address", "0"], cells)
        self.assertTrue(all(len(c) == 3 and c[2].isdigit() for c in cells), plain[:3])
        # a node without --metrics has its stats too; a stopped one says what to do
        n2 = {r["name"]: r["value"] for r in self.home.json("node", "stats", "n2") if not r["labels"]}
        self.assertGreater(n2["sluice_messages_delivered_total"], 0)
        self.sluice("node", "stop", "n2")
        p = self.sluice("node", "stats", "n2", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("node start", p.stderr)

    def test_node_run_serves_metrics_until_sigterm(self):
        port = free_port()
        url = "http://127.0.0.1:%d" % port
        proc = subprocess.Popen([SLUICE, "node", "run", "r1", "--metrics", "127.0.0.1:%d" % port],
                                env=self.home.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())

        def ready():
            try:
                return get(url + "/readyz", timeout=1)[0] == 200
            except OSError:
                return False
        self.assertTrue(wait_until(ready, 20), "node run never became ready")
        self.assertEqual(self.home.json("node", "show", "r1")["metrics"], "127.0.0.1:%d" % port)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=20), 0)
        with self.assertRaises(OSError):
            get(url + "/healthz", timeout=1)


@unittest.skipUnless(PROMETHEUS, NO_PROMETHEUS)
class PrometheusScrape(NodeTest):
    def start_prometheus(self, target):
        tmp = tempfile.mkdtemp(prefix="sluice-prom-")
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        conf = os.path.join(tmp, "prometheus.yml")
        with open(conf, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: sluice\n"
                    "    static_configs:\n      - targets: ['%s']\n" % target)
        port = free_port()
        log = open(os.path.join(tmp, "prometheus.log"), "w")
        self.addCleanup(log.close)
        proc = subprocess.Popen([PROMETHEUS, "--config.file=" + conf,
                                 "--storage.tsdb.path=" + os.path.join(tmp, "data"),
                                 "--web.listen-address=127.0.0.1:%d" % port],
                                cwd=tmp, stdout=log, stderr=log)

        def stop():
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.addCleanup(stop)
        self.prom_log = os.path.join(tmp, "prometheus.log")
        return proc, "http://127.0.0.1:%d" % port

    def query(self, api, q):
        try:
            status, body = get(api + "/api/v1/query?" + urllib.parse.urlencode({"query": q}),
                               timeout=2)
        except OSError:
            return []
        if status != 200:
            return []
        return json.loads(body)["data"]["result"]

    def test_real_prometheus_scrapes_a_node(self):
        mport = free_port()
        target = "127.0.0.1:%d" % mport
        self.sluice("node", "create", "n1", "--metrics", target)
        out = self.sluice("message", "send", "hi", "--from", "n1", "--to",
                          "/node/n1/service/uppercase").stdout.strip()
        self.assertEqual(out, "HI")
        proc, api = self.start_prometheus(target)

        def up():
            return [r for r in self.query(api, 'up{job="sluice"}') if r["value"][1] == "1"]
        ok = wait_until(up, 60, 0.5)
        if not ok:
            with open(self.prom_log) as f:
                self.fail("Prometheus never scraped the node (alive: %s):\n%s" % (
                    proc.poll() is None, f.read()[-3000:]))
        self.assertEqual(up()[0]["metric"]["instance"], target)
        got = self.query(api, "sluice_messages_in_total")
        self.assertEqual(len(got), 1, got)
        self.assertGreater(float(got[0]["value"][1]), 0)
        backend = self.query(api, "sluice_aead_backend_info")
        self.assertEqual(len(backend), 1)
        self.assertIn("backend", backend[0]["metric"])


if __name__ == "__main__":
    unittest.main()
