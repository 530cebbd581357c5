"""A node's limits (--limit NAME=VALUE): stored, shown, validated, and enforced on real nodes."""

import signal
import socket
import subprocess
import time
import unittest

import ockam_peer as op
from harness import SLUICE, NodeTest, wait_until

# Per-connection log lines are rate limited to one per 100 ms per shard (a connection closed by
# the CLI's last call may have just taken it): wait that long before the line a test looks for.
RL_GAP = 0.15

DEFAULTS = {"max-connections": 50000, "max-connections-per-source": 1024, "max-route-length": 16,
            "max-pending-handshakes": 8192, "max-pending-handshakes-per-connection": 256,
            "handshake-timeout": 10, "max-relays-per-connection": 256,
            "max-relays-per-identity": 256, "idle-timeout": 30}


def rejections(home, node, limit):
    stats = home.json("node", "stats", node)
    return [s["value"] for s in stats
            if s["name"] == "sluice_limit_rejections_total" and s["labels"].get("limit") == limit]


class Limits(NodeTest):
    def show(self, name):
        return self.home.json("node", "show", name)

    def log(self, name):
        with open(self.show(name)["log"]) as f:
            return f.read()

    def refused(self, port):
        """Whether a new connection is closed by the node at once (no version byte, EOF)."""
        s = socket.create_connection(("127.0.0.1", port), timeout=3)
        try:
            return s.recv(16) == b""
        except ConnectionResetError:
            return True
        finally:
            s.close()

    def echo_client(self, port):
        c = op.Client("127.0.0.1", port)
        c.send([op.local("echo")], [op.local("app")], op.bare("hi"))
        self.assertEqual(op.unbare(c.recv()[2]), b"hi")
        return c

    def test_stored_shown_validated_and_kept_by_run(self):
        self.sluice("node", "create", "l", "--limit", "max-connections=20000",
                    "--limit", "max-connections-per-source=16")
        self.assertEqual(self.show("l")["limits"],
                         dict(DEFAULTS, **{"max-connections": 20000,
                                           "max-connections-per-source": 16}))
        plain = self.sluice("node", "show", "l").stdout
        self.assertRegex(plain, r"max-connections +20000\n")
        self.sluice("node", "create", "d")
        self.assertEqual(self.show("d")["limits"], DEFAULTS)
        self.assertRegex(self.sluice("node", "show", "d").stdout,
                         r"max-connections-per-source +1024 \(default\)")
        self.assertRegex(self.sluice("node", "create", "--help").stdout,
                         r"--limit NAME=VALUE\.\.\. +set a limit \(repeatable\)")
        for bad, says in (("max-connections=0", "from 1 to 1000000"),
                          ("max-connections=x", "from 1 to 1000000"),
                          ("max-connections", "use NAME=VALUE"),
                          ("max-route-length=33", "from 1 to 32"),
                          ("nope=1", "no such limit")):
            p = self.sluice("node", "create", "bad", "--limit", bad, check=False)
            self.assertNotEqual(p.returncode, 0, bad)
            self.assertIn("--limit %s" % ("nope" if bad == "nope=1" else bad), p.stderr)
            self.assertIn(says, p.stderr)
        self.assertNotIn("bad", [n["name"] for n in self.home.json("node", "list")])
        # An existing node: run takes a new value for this start and keeps it; others stay.
        self.sluice("node", "stop", "l")
        proc = subprocess.Popen([SLUICE, "node", "run", "l", "--limit", "max-connections=2"],
                                env=self.home.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        self.assertTrue(wait_until(lambda: self.show("l")["status"] == "running", 20))
        port = self.home.node_port("l")
        held = [self.echo_client(port) for _ in range(2)]
        self.assertTrue(self.refused(port))
        proc.send_signal(signal.SIGTERM)
        log = proc.communicate(timeout=10)[1]
        self.assertEqual(proc.returncode, 0)
        for c in held:
            c.close()
        self.assertEqual(self.show("l")["limits"],
                         dict(DEFAULTS, **{"max-connections": 2,
                                           "max-connections-per-source": 16}))
        self.assertIn(" limits=max-connections=2,max-connections-per-source=16 ", log)

    def test_max_connections_refuses_at_accept_and_frees_on_close(self):
        self.sluice("node", "create", "m", "--limit", "max-connections=3")
        port = self.home.node_port("m")
        held = [self.echo_client(port) for _ in range(3)]
        time.sleep(RL_GAP)
        self.assertTrue(self.refused(port))
        self.assertTrue(self.refused(port))
        self.assertTrue(wait_until(lambda: rejections(self.home, "m", "max-connections") == [2], 5))
        self.assertEqual(rejections(self.home, "m", "max-connections-per-source"), [0])
        for c in held[1:]:  # the three still work
            c.send([op.local("echo")], [op.local("app")], op.bare("still"))
            self.assertEqual(op.unbare(c.recv()[2]), b"still")
        held.pop().close()
        # The closed connection's place is free again.
        self.assertTrue(wait_until(lambda: not self.refused(port), 5))
        self.assertTrue(wait_until(lambda: "event=accept_refused reason=limit limit=max-connections\n"
                                   in self.log("m"), 5))
        for c in held:
            c.close()

    def test_max_connections_per_source(self):
        self.sluice("node", "create", "s", "--limit", "max-connections-per-source=2")
        port = self.home.node_port("s")
        held = [self.echo_client(port) for _ in range(2)]
        time.sleep(RL_GAP)
        self.assertTrue(self.refused(port))
        self.assertTrue(wait_until(
            lambda: rejections(self.home, "s", "max-connections-per-source") == [1], 5))
        self.assertEqual(rejections(self.home, "s", "max-connections"), [0])
        self.assertTrue(wait_until(lambda: "reason=limit limit=max-connections-per-source\n"
                                   in self.log("s"), 5))
        for c in held:
            c.close()

    def test_max_route_length_drops_the_message_keeps_the_connection(self):
        self.sluice("node", "create", "r", "--limit", "max-route-length=4")
        c = self.echo_client(self.home.node_port("r"))
        c.sock.settimeout(1)
        time.sleep(RL_GAP)
        c.send([op.local("hop")] * 4 + [op.local("echo")], [op.local("app")], op.bare("long"))
        with self.assertRaises(socket.timeout):
            c.recv()
        self.assertTrue(wait_until(lambda: rejections(self.home, "r", "max-route-length") == [1], 5))
        c.sock.settimeout(5)
        c.send([op.local("hop")] * 3 + [op.local("echo")], [op.local("app")], op.bare("four"))
        self.assertEqual(op.unbare(c.recv()[2]), b"four")
        self.assertTrue(wait_until(lambda: "reason=limit limit=max-route-length hops=5 "
                                   in self.log("r"), 5))
        c.close()


if __name__ == "__main__":
    unittest.main()
