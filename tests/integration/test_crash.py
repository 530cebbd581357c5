"""Crash safety: nodes killed with SIGKILL mid-transfer and CLIs killed mid
`node create`, CLIs racing on one name, a full disk and a read-only
$SLUICE_HOME. After each, the state store is whole (SQLite's integrity check),
`node start` recovers what can be, and the CLI says what happened."""

import hashlib
import os
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest

from harness import SLUICE, NodeTest, alive, wait_until
from test_portal import Server, pattern


def integrity(home):
    if not os.path.exists(os.path.join(home, "state.db")):
        return "ok"  # nothing recorded yet
    db = sqlite3.connect("file:%s/state.db?mode=ro" % home, uri=True, timeout=10)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def node_pids(home, name):
    """Processes whose environment has this home and whose argv runs node NAME."""
    found = []
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % e, "rb") as f:
                if ("SLUICE_HOME=%s" % home).encode() + b"\0" not in f.read() + b"\0":
                    continue
            with open("/proc/%s/cmdline" % e, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if name.encode() in argv and alive(int(e)):
            found.append(int(e))
    return found


class KillNine(NodeTest):
    def portal_to(self, data):
        """n1's inlet -> n2's outlet -> a server that sends data: the inlet's port."""
        srv = Server(lambda c: c.sendall(data))
        self.addCleanup(srv.close)
        return self.plain_portal(srv.port)

    def plain_portal(self, target):
        """n1's inlet -> n2's outlet -> 127.0.0.1:target, no channel: the inlet's port."""
        self.sluice("node", "create", "n1")
        self.sluice("node", "create", "n2")
        self.sluice("tcp-outlet", "create", "--at", "n2", "--from", "/service/outlet",
                    "--to", "127.0.0.1:%d" % target)
        out = self.sluice("tcp-inlet", "create", "--at", "n1", "--from", "127.0.0.1:0",
                          "--to", "/node/n2/service/outlet").stdout.strip()
        return int(out.rsplit(":", 1)[1])

    def kill_outlet_node_mid_stream(self, port, timeout):
        """A client reads some of the stream, then n2 is killed: (client, n2's pid)."""
        pid = self.home.node_pid("n2")
        c = socket.create_connection(("127.0.0.1", port), 5)
        self.addCleanup(c.close)
        c.settimeout(timeout)
        self.assertTrue(c.recv(1 << 16))
        os.kill(pid, signal.SIGKILL)
        return c, pid

    def test_node_killed_mid_transfer_then_start_recovers(self):
        size = 32 << 20
        data = pattern(size, 7)
        port = self.portal_to(data)
        _, pid = self.kill_outlet_node_mid_stream(port, 10)
        self.assertTrue(wait_until(lambda: not alive(pid), 10))
        self.assertEqual(integrity(self.home.dir), "ok")
        status = {n["name"]: n["status"] for n in self.home.json("node", "list")}
        self.assertEqual(status["n2"], "crashed")
        p = self.sluice("node", "show", "n2")
        self.assertIn("node start", p.stdout + p.stderr)

        self.sluice("node", "start", "n2")
        # The outlet came back with the node: a new transfer is whole.
        def whole():
            try:
                with socket.create_connection(("127.0.0.1", port), 5) as s:
                    s.settimeout(20)
                    h = hashlib.sha256()
                    n = 0
                    while True:
                        b = s.recv(1 << 20)
                        if not b:
                            break
                        h.update(b)
                        n += len(b)
                    return n == size and h.digest() == hashlib.sha256(data).digest()
            except OSError:
                return False
        self.assertTrue(wait_until(whole, 30, 0.5))

    def test_inlet_client_told_when_outlet_node_dies(self):
        c, _ = self.kill_outlet_node_mid_stream(self.portal_to(pattern(32 << 20, 8)), 8)
        # The stream ends (EOF or reset) well before the client's own timeout.
        try:
            while c.recv(1 << 16):
                pass
        except ConnectionResetError:
            pass

    def test_outlet_target_told_when_inlet_node_dies(self):
        ended = threading.Event()

        def hold(c):
            # Send a little, then wait for the outlet to end the connection.
            try:
                c.sendall(b"x" * 1000)
                c.settimeout(20)
                while c.recv(1 << 16):
                    pass
            finally:
                ended.set()
        srv = Server(hold)
        self.addCleanup(srv.close)
        port = self.plain_portal(srv.port)
        c = socket.create_connection(("127.0.0.1", port), 5)
        self.addCleanup(c.close)
        c.settimeout(5)
        self.assertTrue(c.recv(1 << 16))
        os.kill(self.home.node_pid("n1"), signal.SIGKILL)
        # Well before the target's own 20 s.
        self.assertTrue(ended.wait(8))

    def test_cli_killed_mid_node_create_leaves_a_usable_store(self):
        # Kill the CLI at spread-out points of `node create`: before, during and after it
        # records the node and spawns the daemon.
        for i, delay in enumerate((0.0, 0.005, 0.02, 0.05, 0.1, 0.2)):
            name = "k%d" % i
            p = subprocess.Popen([SLUICE, "node", "create", name], env=self.home.env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(delay)
            p.kill()
            p.wait(10)
            self.assertEqual(integrity(self.home.dir), "ok", name)
            names = {n["name"]: n for n in self.home.json("node", "list")}
            if name in names:
                # Recorded: it runs (a daemon spawned just before the kill may still be
                # starting), or `node start` brings it up.
                def running():
                    return {n["name"]: n["status"] for n in
                            self.home.json("node", "list")}.get(name) == "running"
                if not wait_until(running, 5, 0.2):
                    self.sluice("node", "start", name)
            else:
                # Not recorded: no daemon of that name runs, and the name is free.
                self.assertTrue(wait_until(lambda: not node_pids(self.home.dir, name), 5),
                                name)
                self.sluice("node", "create", name)
            self.assertEqual(self.sluice("message", "send", "hi", "--to",
                                         "/node/%s/service/uppercase" % name).stdout.strip(), "HI")
            self.sluice("node", "delete", name)
            self.assertTrue(wait_until(lambda: not node_pids(self.home.dir, name), 10), name)
        self.assertEqual(self.home.json("node", "list"), [])

    def test_two_clis_race_on_one_name(self):
        for round in range(3):
            name = "race%d" % round
            procs = [subprocess.Popen([SLUICE, "node", "create", name], env=self.home.env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for _ in range(2)]
            res = [(p.wait(30), p.stderr.read()) for p in procs]
            for p in procs:
                p.stdout.close()
                p.stderr.close()
            ok = [r for r in res if r[0] == 0]
            bad = [r for r in res if r[0] != 0]
            # One creates it; the other either says it exists or finds it made (both fine,
            # neither leaves a second daemon behind).
            self.assertGreaterEqual(len(ok), 1, res)
            for rc, err in bad:
                self.assertIn("already exists", err)
            nodes = [n for n in self.home.json("node", "list") if n["name"] == name]
            self.assertEqual(len(nodes), 1)
            self.assertTrue(wait_until(lambda: len(node_pids(self.home.dir, name)) == 1, 5),
                            node_pids(self.home.dir, name))
        self.assertEqual(integrity(self.home.dir), "ok")


@unittest.skipUnless(os.geteuid() == 0, "mounts a small tmpfs (needs root)")
class Filesystem(NodeTest):
    """$SLUICE_HOME on a tmpfs of our own: filled up, or remounted read-only."""

    def setUp(self):
        super().setUp()
        self.mnt = tempfile.mkdtemp(prefix="sluice-fs-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", self.mnt],
                       check=True)
        self.addCleanup(os.rmdir, self.mnt)
        self.addCleanup(subprocess.run, ["umount", "-l", self.mnt])
        # Nodes first (they hold files there), then the mount.
        os.rmdir(self.home.dir)
        self.home.dir = self.mnt
        self.home.env["SLUICE_HOME"] = self.mnt
        self.addCleanup(self.home.close)

    def remount(self, opt):
        subprocess.run(["mount", "-o", "remount,%s" % opt, self.mnt], check=True)

    def test_full_disk_says_so_and_loses_nothing(self):
        self.sluice("node", "create", "a")
        filler = os.path.join(self.mnt, "filler")
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        p = self.sluice("node", "create", "b", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("no space left", p.stderr.lower())
        # What was there is still there and still works.
        names = [n["name"] for n in self.home.json("node", "list")]
        self.assertEqual(names, ["a"])
        self.assertEqual(self.sluice("message", "send", "x", "--to",
                                     "/node/a/service/uppercase").stdout.strip(), "X")
        os.unlink(filler)
        self.sluice("node", "create", "b")
        self.assertEqual(integrity(self.mnt), "ok")

    def test_read_only_home_reads_and_refuses_writes_clearly(self):
        self.sluice("node", "create", "a")
        self.sluice("node", "stop", "a")
        self.remount("ro")
        nodes = self.home.json("node", "list")
        self.assertEqual([(n["name"], n["status"]) for n in nodes], [("a", "stopped")])
        for args in (("node", "create", "b"), ("node", "start", "a")):
            p = self.sluice(*args, check=False)
            self.assertNotEqual(p.returncode, 0, args)
            self.assertIn("read-only", p.stderr, args)
        self.remount("rw")
        self.sluice("node", "start", "a")
        self.assertEqual(self.sluice("message", "send", "y", "--to",
                                     "/node/a/service/uppercase").stdout.strip(), "Y")


if __name__ == "__main__":
    unittest.main()
