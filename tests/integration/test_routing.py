"""Nodes that route Ockam messages over TCP, driven through the `sluice` CLI."""

import json
import os
import signal
import socket
import struct
import subprocess
import time
import unittest

import ockam_peer as op
from harness import SLUICE, NodeTest, alive, wait_until


class Routing(NodeTest):
    def setUp(self):
        super().setUp()
        self.sluice("node", "create", "n1")
        self.sluice("node", "create", "n2")

    def send(self, msg, to, frm="n1", *extra, **kw):
        return self.sluice("message", "send", msg, "--from", frm, "--to", to, *extra, **kw)

    def test_uppercase_across_two_nodes(self):
        self.assertEqual(self.send("hello", "/node/n2/service/uppercase").stdout.strip(), "HELLO")

    def test_multi_hop_through_hop_service(self):
        self.assertEqual(self.send("hello", "/node/n2/service/hop/service/echo").stdout.strip(), "hello")

    def test_three_nodes_by_ip_route(self):
        self.sluice("node", "create", "n3")
        p3 = self.home.node_port("n3")
        out = self.send("hi", "/node/n2/ip4/127.0.0.1/tcp/%d/service/uppercase" % p3)
        self.assertEqual(out.stdout.strip(), "HI")

    def test_route_from_stdin(self):
        out = self.send("hello", "-/service/uppercase", input="/node/n2\n")
        self.assertEqual(out.stdout.strip(), "HELLO")

    def test_json_output(self):
        out = self.send("hello", "/node/n2/service/uppercase", "n1", "--output", "json")
        self.assertIn("HELLO", json.dumps(json.loads(out.stdout)))

    def test_hex_payload(self):
        out = self.send("00ff41", "/node/n2/service/echo", "n1", "--hex")
        self.assertEqual(out.stdout.strip(), "00ff41")

    def test_clear_errors(self):
        cases = [
            (("hello", "/node/n9/service/echo"), "n9"),
            (("hello", "/bogus/x"), "bogus"),
            (("hello", "/node/n2/service/nobody", "n1", "--timeout", "1s"), "timeout|no reply|within"),
        ]
        for args, pattern in cases:
            p = self.send(*args, check=False)
            self.assertNotEqual(p.returncode, 0, args)
            self.assertRegex(p.stderr.lower(), pattern, args)
        p = self.send("hello", "/node/n2/service/echo", "nope", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("nope", p.stderr)

    def test_node_not_running(self):
        self.sluice("node", "stop", "n1")
        p = self.send("hello", "/node/n2/service/echo", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("node start", p.stderr)

    def test_lifecycle(self):
        nodes = {n["name"]: n for n in self.home.json("node", "list")}
        self.assertEqual(set(nodes), {"n1", "n2"})
        pid = self.home.node_pid("n1")
        self.assertTrue(alive(pid))
        self.sluice("node", "stop", "n1")
        self.assertTrue(wait_until(lambda: not alive(pid), 10))
        status = {n["name"]: n["status"] for n in self.home.json("node", "list")}
        self.assertEqual(status["n1"], "stopped")
        self.sluice("node", "start", "n1")
        self.assertEqual(self.send("hello", "/node/n2/service/uppercase").stdout.strip(), "HELLO")
        self.sluice("node", "delete", "n1")
        names = [n["name"] for n in self.home.json("node", "list")]
        self.assertEqual(names, ["n2"])

    def test_crashed_node_is_shown_and_restarts(self):
        pid = self.home.node_pid("n2")
        os.kill(pid, signal.SIGKILL)
        self.assertTrue(wait_until(lambda: not alive(pid), 10))
        status = {n["name"]: n["status"] for n in self.home.json("node", "list")}
        self.assertEqual(status["n2"], "crashed")
        self.sluice("node", "start", "n2")
        self.assertEqual(self.send("hello", "/node/n2/service/uppercase").stdout.strip(), "HELLO")

    def test_delete_all_leaves_nothing_running(self):
        pids = [self.home.node_pid(n) for n in ("n1", "n2")]
        self.sluice("node", "delete", "--all", "--yes")
        self.assertTrue(wait_until(lambda: not any(alive(p) for p in pids), 10))
        self.assertEqual(self.home.json("node", "list"), [])

    def test_port_in_use_is_refused(self):
        p = self.sluice("node", "create", "n3", "--tcp-listener-address",
                        "127.0.0.1:%d" % self.home.node_port("n1"), check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertRegex(p.stderr.lower(), "in use|address")

    def test_state_is_private(self):
        st = os.stat(os.path.join(self.home.dir, "state.db"))
        self.assertEqual(st.st_mode & 0o077, 0)

    def test_help_everywhere(self):
        for args in (["--help"], ["node", "--help"], ["node", "create", "--help"],
                     ["message", "send", "--help"]):
            p = self.sluice(*args)
            self.assertIn("sluice", p.stdout.lower(), args)


def cpu_list(text):
    """ "0-2,5" -> {0, 1, 2, 5} """
    cpus = set()
    for part in text.strip().split(","):
        lo, _, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


def thread_cpus(pid):
    """{tid: allowed CPUs} of every thread of pid."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            for line in f:
                if line.startswith("Cpus_allowed_list:"):
                    out[int(tid)] = cpu_list(line.split(":", 1)[1])
    return out


@unittest.skipIf(os.environ.get("SLUICE_TSAN"), "TSan adds a thread of its own to every process")
class Pinning(NodeTest):
    """Shards are unpinned unless the node is created with --pin-shards."""

    SHARDS = 2

    def node_threads(self, name):
        """(main thread's CPUs, {tid: CPUs} of the shard threads: all the others)."""
        pid = self.home.node_pid(name)
        threads = thread_cpus(pid)
        main = threads.pop(pid)
        self.assertEqual(len(threads), self.SHARDS, threads)
        return main, threads

    def expect_pinned(self, name):
        self.assertIs(self.home.json("node", "show", name)["pin_shards"], True)
        ncpu = os.sysconf("SC_NPROCESSORS_ONLN")
        if ncpu < 2:
            return  # one CPU: pinned and unpinned look the same
        want = {i % ncpu for i in range(self.SHARDS)}
        if not want <= os.sched_getaffinity(0):
            self.skipTest("CPUs %s are not ours to pin to" % sorted(want))
        # Each shard pins itself as it starts: give the last one a moment.
        self.assertTrue(wait_until(
            lambda: all(len(c) == 1 for c in self.node_threads(name)[1].values()), 5),
            self.node_threads(name))
        cpus = [c for cs in self.node_threads(name)[1].values() for c in cs]
        self.assertEqual(sorted(cpus), sorted(want), "shard i on CPU i % ncpu")

    def test_default_is_unpinned(self):
        self.sluice("node", "create", "u", "--shards", str(self.SHARDS))
        self.assertIs(self.home.json("node", "show", "u")["pin_shards"], False)
        self.assertIn("Pin shards: no", self.sluice("node", "show", "u").stdout)
        main, shards = self.node_threads("u")
        if os.sysconf("SC_NPROCESSORS_ONLN") >= 2 and len(os.sched_getaffinity(0)) >= 2:
            self.assertGreater(len(main), 1, main)
        for tid, cpus in shards.items():
            self.assertEqual(cpus, main, "shard thread %d narrowed its CPUs" % tid)

    def test_pin_shards_pins_and_survives_a_restart(self):
        self.sluice("node", "create", "p", "--shards", str(self.SHARDS), "--pin-shards")
        self.assertIn("Pin shards: yes", self.sluice("node", "show", "p").stdout)
        self.expect_pinned("p")
        self.sluice("node", "stop", "p")
        self.sluice("node", "start", "p")
        self.expect_pinned("p")

    def test_node_run_pin_shards(self):
        proc = subprocess.Popen([SLUICE, "node", "run", "r", "--shards",
                                 str(self.SHARDS), "--pin-shards"], env=self.home.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(proc.wait, 15)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())

        def running():
            p = self.sluice("node", "show", "r", "--output", "json", check=False)
            return p.returncode == 0 and json.loads(p.stdout)["status"] == "running"
        self.assertTrue(wait_until(running, 15))
        self.expect_pinned("r")
        proc.terminate()
        self.assertEqual(proc.wait(15), 0)

    def test_help_says_what_it_is_for(self):
        for verb in ("create", "run"):
            out = self.sluice("node", verb, "--help").stdout
            self.assertRegex(out, r"--pin-shards .*machine to itself", verb)



def cpu_ticks(pid):
    """utime + stime of pid, in clock ticks (/proc/PID/stat fields 14 and 15)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


class Spin(NodeTest):
    """Shards busy-poll --spin-us (default 50) after their last work, then sleep."""

    def show(self, name):
        return self.home.json("node", "show", name)

    def test_default_and_given(self):
        self.sluice("node", "create", "d")
        self.assertEqual(self.show("d")["spin_us"], 50)
        self.assertIn("Spin:       50 us\n", self.sluice("node", "show", "d").stdout)
        for us in (0, 200):
            name = "s%d" % us
            self.sluice("node", "create", name, "--spin-us", str(us))
            info = self.show(name)
            self.assertEqual(info["spin_us"], us)
            self.assertIn("Spin:       %d us\n" % us, self.sluice("node", "show", name).stdout)
            # The node runs with it, not just records it.
            with open(info["log"]) as f:
                self.assertIn(" spin_us=%d " % us, f.read())

    def test_out_of_range_is_refused(self):
        for verb in ("create", "run"):
            for bad in ("1001", "-1", "abc"):
                p = self.sluice("node", verb, "bad", "--spin-us", bad, check=False, timeout=15)
                self.assertNotEqual(p.returncode, 0, (verb, bad))
                self.assertIn("--spin-us %s" % bad, p.stderr, (verb, bad))
                self.assertIn("0 to 1000", p.stderr, (verb, bad))
        self.assertEqual(self.home.json("node", "list"), [])

    def run_node(self, *args):
        """`node run r ARGS` in the background, returned once the node serves."""
        proc = subprocess.Popen([SLUICE, "node", "run", "r", *args], env=self.home.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())

        def running():
            p = self.sluice("node", "show", "r", "--output", "json", check=False)
            return p.returncode == 0 and json.loads(p.stdout)["status"] == "running"
        self.assertTrue(wait_until(running, 15))
        return proc

    def stop_run(self, proc):
        """SIGTERM a `node run`: its stderr, once it has exited 0."""
        proc.terminate()
        _, err = proc.communicate(timeout=15)
        self.assertEqual(proc.returncode, 0, err)
        return err

    def test_node_run_sets_it_for_a_new_node_only(self):
        proc = self.run_node("--spin-us", "200")
        self.assertEqual(self.show("r")["spin_us"], 200)
        self.stop_run(proc)
        proc = self.run_node("--spin-us", "0")
        self.assertEqual(self.show("r")["spin_us"], 200, "kept as created")
        self.assertIn("ignoring --spin-us 0", self.stop_run(proc))

    def test_idle_node_sleeps_after_its_spin(self):
        self.sluice("node", "create", "idle")
        self.assertEqual(self.show("idle")["spin_us"], 50)
        pid = self.home.node_pid("idle")
        time.sleep(0.5)  # let it settle after start
        limit = 0.05 * os.sysconf("SC_CLK_TCK")  # 50 ms of CPU
        start, t0 = cpu_ticks(pid), time.monotonic()
        # One round trip: the shards work, spin, then must go to sleep.
        out = self.sluice("message", "send", "hi", "--from", "idle", "--to", "/service/echo",
                          timeout=10)
        self.assertEqual(out.stdout.strip(), "hi")
        time.sleep(max(0.0, 2 - (time.monotonic() - t0)))
        used = cpu_ticks(pid) - start
        self.assertLess(used, limit, "an idle node used %d ticks of CPU in 2 s" % used)

    def test_help_says_what_it_trades(self):
        for verb in ("create", "run"):
            out = self.sluice("node", verb, "--help").stdout
            self.assertRegex(out, r"--spin-us N .*0 to 1000.*latency.*CPU.*bulk.*idle", verb)


class Interop(NodeTest):
    """Sluice against the independent implementation in ockam_peer.py."""

    def setUp(self):
        super().setUp()
        self.sluice("node", "create", "n1")
        self.port = self.home.node_port("n1")

    def test_foreign_client_to_uppercase(self):
        for tracing in (None, "{}"):
            c = op.Client("127.0.0.1", self.port)
            c.send([op.local("uppercase")], [op.local("app")], op.bare("hello"), tracing)
            onward, ret, payload = c.recv()
            self.assertEqual(onward, [op.local("app")])
            self.assertEqual(ret[-1], op.local("uppercase"))
            self.assertEqual(op.unbare(payload), b"HELLO")
            c.close()

    def test_sluice_through_foreign_hop(self):
        foreign = op.Node()
        self.addCleanup(foreign.stop)
        self.sluice("node", "create", "n2")
        p2 = self.home.node_port("n2")
        route = "/ip4/127.0.0.1/tcp/%d/service/hop/ip4/127.0.0.1/tcp/%d/service/uppercase" % (foreign.port, p2)
        out = self.sluice("message", "send", "hello", "--from", "n1", "--to", route)
        self.assertEqual(out.stdout.strip(), "HELLO")
        out = self.sluice("message", "send", "hello", "--from", "n1",
                          "--to", "/ip4/127.0.0.1/tcp/%d/service/echo" % foreign.port)
        self.assertEqual(out.stdout.strip(), "hello")


class BadInput(NodeTest):
    """Peers that misbehave get dropped; the node keeps serving everyone else."""

    def setUp(self):
        super().setUp()
        self.sluice("node", "create", "n1")
        self.port = self.home.node_port("n1")

    def still_serving(self):
        c = op.Client("127.0.0.1", self.port)
        c.send([op.local("uppercase")], [op.local("app")], op.bare("ok"))
        self.assertEqual(op.unbare(c.recv()[2]), b"OK")
        c.close()

    def raw(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        return s

    def closed_by_peer(self, s, timeout=5):
        s.settimeout(timeout)
        try:
            while True:
                if not s.recv(4096):
                    return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def test_wrong_version_byte_closes(self):
        s = self.raw()
        s.sendall(b"\x02")
        self.assertTrue(self.closed_by_peer(s))
        self.still_serving()

    def test_oversized_frame_closes(self):
        s = self.raw()
        s.sendall(b"\x01" + struct.pack(">I", 16 * 1024 * 1024 + 1))
        self.assertTrue(self.closed_by_peer(s))
        self.still_serving()

    def test_garbage_cbor_is_dropped(self):
        for body in (b"\xff\xff\xff", b"\x83\x81", b"\x9f" * 100, b"\x84" + b"\x80" * 3):
            # the node may drop the frame or the connection; either way it serves others
            c = op.Client("127.0.0.1", self.port)
            try:
                c.sock.sendall(struct.pack(">I", len(body)) + body)
                c.send([op.local("uppercase")], [op.local("app")], op.bare("x"))
                self.assertEqual(op.unbare(c.recv()[2]), b"X")
            except (ConnectionError, OSError):
                pass
            c.close()
            self.still_serving()

    def test_absurd_route_is_dropped(self):
        c = op.Client("127.0.0.1", self.port)
        c.send([op.local("hop")] * 5000 + [op.local("echo")], [op.local("app")], op.bare("x"))
        c.close()
        self.still_serving()

    def test_unknown_address_is_dropped(self):
        c = op.Client("127.0.0.1", self.port)
        c.send([op.local("nobody")], [op.local("app")], op.bare("x"))
        c.send([op.local("echo")], [op.local("app")], op.bare("after"))
        self.assertEqual(op.unbare(c.recv()[2]), b"after")
        c.close()

    def test_heartbeat_is_dropped(self):
        c = op.Client("127.0.0.1", self.port)
        c.send([], [op.local("app")], b"")
        c.send([op.local("echo")], [op.local("app")], op.bare("after"))
        self.assertEqual(op.unbare(c.recv()[2]), b"after")
        c.close()

    def test_silent_and_vanishing_peers(self):
        silent = [self.raw() for _ in range(20)]
        half = self.raw()
        half.sendall(b"\x01" + struct.pack(">I", 1000) + b"\x83" + b"x" * 10)
        half.close()
        self.still_serving()
        for s in silent:
            s.close()

    def test_split_frame_byte_by_byte(self):
        c = op.Client("127.0.0.1", self.port)
        data = op.frame([op.local("uppercase")], [op.local("app")], op.bare("slow"))
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for b in data:
            c.sock.sendall(bytes([b]))
            time.sleep(0.001)
        self.assertEqual(op.unbare(c.recv()[2]), b"SLOW")
        c.close()


class FrameTimeout(NodeTest):
    """A connection holding part of a frame with nothing more for --frame-timeout is closed."""

    def setUp(self):
        super().setUp()
        self.sluice("node", "create", "ft", "--frame-timeout", "1s")
        self.port = self.home.node_port("ft")

    def show(self):
        return self.home.json("node", "show", "ft")

    def raw(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def closed_within(self, s, limit):
        """Seconds until the node closed s, or None if it did not within limit."""
        t0 = time.monotonic()
        s.settimeout(limit)
        try:
            while s.recv(4096):
                pass
        except ConnectionResetError:
            pass
        except socket.timeout:
            return None
        return time.monotonic() - t0

    def test_stored_shown_and_documented(self):
        info = self.show()
        self.assertEqual(info["frame_timeout_ms"], 1000)
        self.assertIn("Frame timeout: 1s", self.sluice("node", "show", "ft").stdout)
        self.sluice("node", "create", "dflt")
        self.assertEqual(self.home.json("node", "show", "dflt")["frame_timeout_ms"], 30000)
        with open(info["log"]) as f:
            self.assertIn(" frame_timeout_ms=1000 ", f.read())
        self.assertRegex(self.sluice("node", "create", "--help").stdout,
                         r"--frame-timeout DURATION .*part of a frame.*30s")
        for bad in ("0", "abc", "2h"):
            p = self.sluice("node", "create", "bad", "--frame-timeout", bad, check=False)
            self.assertNotEqual(p.returncode, 0, bad)
            self.assertIn("--frame-timeout %s" % bad, p.stderr)

    def test_idle_partial_frame_is_closed_and_counted(self):
        before = self.show()["stats"]["frame_timeouts"]
        head = self.raw()
        head.sendall(b"\x01" + struct.pack(">I", 16 * 1024 * 1024)[:2])  # half a header
        body = self.raw()
        body.sendall(b"\x01" + struct.pack(">I", 16 * 1024 * 1024) + b"x" * 100)
        for s in (head, body):
            took = self.closed_within(s, 4)
            self.assertIsNotNone(took, "a partial frame was held past 4 s")
            self.assertLess(took, 3.5)
            s.close()
        self.assertTrue(wait_until(lambda: self.show()["stats"]["frame_timeouts"] >= before + 2, 5))
        stats = self.home.json("node", "stats", "ft")
        self.assertEqual([s["value"] for s in stats if s["name"] == "sluice_frame_timeouts_total"],
                         [self.show()["stats"]["frame_timeouts"]])
        with open(self.show()["log"]) as f:
            self.assertIn("reason=frame_timeout", f.read())

    def test_slow_frame_and_idle_connection_stay(self):
        idle = op.Client("127.0.0.1", self.port)
        idle.send([op.local("echo")], [op.local("app")], op.bare("first"))
        self.assertEqual(op.unbare(idle.recv()[2]), b"first")
        slow = op.Client("127.0.0.1", self.port)
        slow.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        data = op.frame([op.local("uppercase")], [op.local("app")], op.bare("slow" * 8))
        step = 0.4  # well under the timeout, and the whole frame takes over 2 timeouts
        n = max(6, len(data) // 8)
        chunks = [data[i:i + n] for i in range(0, len(data), n)]
        self.assertGreaterEqual(len(chunks) * step, 2.0)
        for part in chunks:
            slow.sock.sendall(part)
            time.sleep(step)
        self.assertEqual(op.unbare(slow.recv()[2]), b"SLOW" * 8)
        time.sleep(1.5)  # idle between frames, past the timeout
        for c in (idle, slow):
            c.send([op.local("echo")], [op.local("app")], op.bare("still"))
            self.assertEqual(op.unbare(c.recv()[2]), b"still")
            c.close()
        self.assertEqual(self.show()["stats"]["frame_timeouts"], 0)


if __name__ == "__main__":
    unittest.main()
