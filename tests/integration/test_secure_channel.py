"""Secure channels and identities, driven through the `sluice` CLI, against
Sluice nodes and against an independent Python implementation of the
protocol (ockam_cbor2_peer.py, its messages built by cbor2)."""

import json
import os
import re
import signal
import time
import unittest

import ockam_peer as op
import ockam_cbor2_peer as peer
from harness import NodeTest, alive, wait_until

CHAN = re.compile(r"^/service/[0-9a-f]{32}$")
IDENT = re.compile(r"^I[0-9a-f]{64}$")


class SecureChannel(NodeTest):
    def setUp(self):
        super().setUp()
        self.sluice("node", "create", "n1")
        self.sluice("node", "create", "n2")

    def create(self, *extra, frm="n1", to="/node/n2/service/api", **kw):
        return self.sluice("secure-channel", "create", "--from", frm, "--to", to, *extra, **kw)

    def send(self, msg, to, frm="n1", **kw):
        return self.sluice("message", "send", msg, "--from", frm, "--to", to, **kw)

    def test_seed_flow_address_then_send(self):
        addr = self.create().stdout.strip()
        self.assertRegex(addr, CHAN)
        self.assertEqual(self.send("hello", addr + "/service/uppercase").stdout.strip(), "HELLO")

    def test_seed_flow_pipe(self):
        p = self.create()
        out = self.send("hello", "-/service/uppercase", input=p.stdout)
        self.assertEqual(out.stdout.strip(), "HELLO")

    def test_secure_multiaddr_element(self):
        out = self.send("hello", "/node/n2/secure/api/service/uppercase")
        self.assertEqual(out.stdout.strip(), "HELLO")

    def test_json_and_list_show_delete(self):
        info = json.loads(self.create("--output", "json").stdout)
        addr = info["address"]
        self.assertRegex(addr, CHAN)
        self.assertRegex(info["peer"], IDENT)
        listed = json.loads(self.sluice("secure-channel", "list", "--at", "n1",
                                        "--output", "json").stdout)
        self.assertIn(addr, [c["address"] for c in listed])
        shown = json.loads(self.sluice("secure-channel", "show", addr, "--at", "n1",
                                       "--output", "json").stdout)
        self.assertEqual(shown["role"], "initiator")
        self.assertEqual(shown["peer"], info["peer"])
        # the responder side lists one channel whose peer is n1's identifier
        n2 = json.loads(self.sluice("secure-channel", "list", "--at", "n2", "--output", "json").stdout)
        self.assertEqual(len(n2), 1)
        self.assertEqual(n2[0]["role"], "responder")
        # delete: Close reaches n2, both ends go, and the address no longer routes
        self.sluice("secure-channel", "delete", addr, "--at", "n1")
        self.assertTrue(wait_until(lambda: json.loads(self.sluice(
            "secure-channel", "list", "--at", "n2", "--output", "json").stdout) == [], 5))
        p = self.sluice("secure-channel", "show", addr, "--at", "n1", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("secure-channel list", p.stderr)
        p = self.send("hello", addr + "/service/uppercase", timeout=20, check=False)
        self.assertNotEqual(p.returncode, 0)

    def test_identities_and_authorized(self):
        i1 = self.sluice("identity", "create", "i1").stdout.strip()
        self.sluice("identity", "create", "i2")
        self.assertEqual(self.sluice("identity", "show", "i1").stdout.strip(), i1)
        i2 = self.sluice("identity", "show", "i2").stdout.strip()
        self.assertRegex(i1, IDENT)
        full = json.loads(self.sluice("identity", "show", "i1", "--full", "--output", "json").stdout)
        self.assertEqual(full["identifier"], i1)
        self.assertTrue(full["change_history"].startswith("81"))
        self.sluice("node", "create", "n3", "--identity", "i1")
        self.sluice("node", "create", "n4", "--identity", "i2")
        self.sluice("secure-channel-listener", "create", "l", "--at", "n4", "--identity", "i2",
                    "--authorized", i1)
        p = self.create("--identity", "i1", "--authorized", i2, frm="n3", to="/node/n4/service/l")
        out = self.send("hello", "-/service/uppercase", frm="n3", input=p.stdout)
        self.assertEqual(out.stdout.strip(), "HELLO")
        # the initiator refuses a responder not on its list, at once
        t = time.monotonic()
        p = self.create("--authorized", i1, frm="n3", to="/node/n4/service/l", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("authorized", p.stderr)
        self.assertLess(time.monotonic() - t, 3)
        # the listener refuses an initiator not on its list: silently, so nothing gets through
        addr = self.create(frm="n1", to="/node/n4/service/l").stdout.strip()
        p = self.send("hello", addr + "/service/uppercase", timeout=20, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(json.loads(self.sluice("secure-channel", "list", "--at", "n4",
                                                "--output", "json").stdout)[0]["peer"], i1)
        lst = json.loads(self.sluice("secure-channel-listener", "list", "--at", "n4",
                                     "--output", "json").stdout)
        self.assertEqual({l["address"] for l in lst}, {"/service/api", "/service/l"})
        self.assertEqual([l for l in lst if l["address"] == "/service/l"][0]["authorized"], [i1])
        self.sluice("secure-channel-listener", "delete", "l", "--at", "n4")
        p = self.create("--timeout", "1s", frm="n3", to="/node/n4/service/l", check=False)
        self.assertNotEqual(p.returncode, 0)
        ids = self.sluice("identity", "list").stdout
        self.assertIn("i1", ids)
        p = self.sluice("identity", "delete", "i1", check=False)
        self.assertIn("used by node n3", p.stderr)

    def listeners(self, node):
        return {l["address"]: l for l in json.loads(self.sluice(
            "secure-channel-listener", "list", "--at", node, "--output", "json").stdout)}

    def test_listener_survives_restart_and_delete_is_final(self):
        i1 = self.sluice("identity", "create", "i1").stdout.strip()
        i2 = self.sluice("identity", "create", "i2").stdout.strip()
        self.sluice("node", "create", "n3", "--identity", "i1")
        self.sluice("secure-channel-listener", "create", "l", "--at", "n2", "--authorized", i1)
        self.sluice("secure-channel-listener", "create", "l2", "--at", "n2", "--identity", "i2")
        before = self.listeners("n2")
        self.sluice("node", "stop", "n2")
        self.sluice("node", "start", "n2")
        after = self.listeners("n2")
        self.assertEqual(set(after), {"/service/api", "/service/l", "/service/l2"})
        self.assertEqual(after, before)
        self.assertEqual(after["/service/l"]["authorized"], [i1])
        self.assertEqual(after["/service/l2"]["identifier"], i2)
        # the authorized identity gets through; another one does not
        p = self.create("--identity", "i1", frm="n3", to="/node/n2/service/l")
        out = self.send("hello", "-/service/uppercase", frm="n3", input=p.stdout)
        self.assertEqual(out.stdout.strip(), "HELLO")
        addr = self.create(frm="n1", to="/node/n2/service/l").stdout.strip()
        p = self.sluice("message", "send", "hello", "--from", "n1", "--to",
                        addr + "/service/uppercase", "--timeout", "2s", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual([c["peer"] for c in json.loads(self.sluice(
            "secure-channel", "list", "--at", "n2", "--output", "json").stdout)], [i1])
        p = self.create("--authorized", i2, to="/node/n2/service/l2")
        self.assertEqual(self.send("x", "-/service/uppercase", input=p.stdout).stdout.strip(), "X")
        # a crash, then a start: they come back too
        pid = self.home.node_pid("n2")
        os.kill(pid, signal.SIGKILL)
        self.assertTrue(wait_until(lambda: not alive(pid), 5))
        self.sluice("node", "start", "n2")
        self.assertEqual(self.listeners("n2"), before)
        # deleted stays deleted
        self.sluice("secure-channel-listener", "delete", "l", "--at", "n2")
        self.sluice("node", "stop", "n2")
        self.sluice("node", "start", "n2")
        self.assertEqual(set(self.listeners("n2")), {"/service/api", "/service/l2"})
        p = self.create("--identity", "i1", "--timeout", "1s", frm="n3",
                        to="/node/n2/service/l", check=False)
        self.assertNotEqual(p.returncode, 0)

    def test_node_delete_takes_its_own_identity(self):
        def names():
            return {i["name"] for i in json.loads(self.sluice(
                "identity", "list", "--output", "json").stdout)}

        self.sluice("identity", "create", "i1")
        self.sluice("node", "create", "n3", "--identity", "i1")
        self.assertEqual(names(), {"@n1", "@n2", "i1"})
        self.sluice("node", "delete", "n1")
        self.assertEqual(names(), {"@n2", "i1"})
        self.sluice("node", "delete", "--all", "--yes")
        self.assertEqual(names(), {"i1"})

    def test_handshake_timeout(self):
        t = time.monotonic()
        p = self.create("--timeout", "1s", to="/node/n2/service/echo", check=False)
        took = time.monotonic() - t
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("no answer to the handshake within 1s", p.stderr)
        self.assertLess(took, 4)

    def test_many_messages_across_rekeys(self):
        addr = self.create().stdout.strip()
        for i in range(70):
            out = self.send("m%03d" % i, addr + "/service/echo").stdout.strip()
            self.assertEqual(out, "m%03d" % i)
        shown = json.loads(self.sluice("secure-channel", "show", addr, "--at", "n1",
                                       "--output", "json").stdout)
        self.assertEqual(shown["sent"], 70)
        self.assertEqual(shown["received"], 70)

    def test_intermediary_sees_only_ciphertext(self):
        hop = op.Node()
        self.addCleanup(hop.stop)
        p2 = self.home.node_port("n2")
        to = "/ip4/127.0.0.1/tcp/%d/ip4/127.0.0.1/tcp/%d/service/api" % (hop.port, p2)
        addr = self.create(to=to).stdout.strip()
        secret = "attackatdawn%d" % time.time_ns()
        out = self.send(secret, addr + "/service/uppercase").stdout.strip()
        self.assertEqual(out, secret.upper())
        self.assertGreaterEqual(len(hop.seen), 5)   # 3 handshake messages + request + reply
        for onward, ret, payload in hop.seen:
            blob = repr((onward, ret)).encode() + payload
            self.assertNotIn(secret.encode(), blob)
            self.assertNotIn(secret.upper().encode(), blob)
            self.assertNotIn(b"uppercase", blob)   # the inner route is encrypted too


class Interop(NodeTest):
    """Sluice against ockam_cbor2_peer.py, an independent implementation."""

    def setUp(self):
        super().setUp()
        self.sluice("node", "create", "n1")

    def test_foreign_initiator_to_sluice_api(self):
        ident = peer.Identity()
        c = peer.Initiator(ident, "127.0.0.1", self.home.node_port("n1"))
        self.addCleanup(c.conn.close)
        self.assertRegex(c.peer, IDENT)
        self.assertEqual(c.peer, self.sluice("identity", "show", "@n1").stdout.strip())
        for i in range(120):
            msg = b"msg %d" % i
            c.send([op.local("uppercase")], [op.local("app")], op.bare(msg))
            m = c.recv()
            self.assertEqual(m.kind, peer.PAYLOAD)
            self.assertEqual(m.onward, [op.local("app")])
            self.assertEqual(op.unbare(m.payload), msg.upper())
            self.assertEqual(m.ret[-1], op.local("uppercase"))
        lst = json.loads(self.sluice("secure-channel", "list", "--at", "n1", "--output", "json").stdout)
        self.assertEqual([(x["peer"], x["received"], x["sent"]) for x in lst],
                         [(ident.identifier, 120, 120)])
        c.close()
        self.assertTrue(wait_until(lambda: json.loads(self.sluice(
            "secure-channel", "list", "--at", "n1", "--output", "json").stdout) == [], 5))

    def test_foreign_initiator_forged_and_replayed_are_dropped(self):
        c = peer.Initiator(peer.Identity(), "127.0.0.1", self.home.node_port("n1"))
        self.addCleanup(c.conn.close)
        wire = c.send([op.local("echo")], [op.local("app")], op.bare(b"one"))
        self.assertEqual(op.unbare(c.recv().payload), b"one")
        c.conn.send(c.remote, [], wire)                       # replay
        forged = bytearray(c.enc.seal(peer.padded(peer.payload_message([op.local("echo")], [],
                                                                  op.bare(b"x")))))
        forged[-1] ^= 1
        c.conn.send(c.remote, [], bytes(forged))              # forgery (burns a nonce)
        c.send([op.local("echo")], [op.local("app")], op.bare(b"two"))
        self.assertEqual(op.unbare(c.recv().payload), b"two")     # the channel lives on

    def test_sluice_to_foreign_responder(self):
        ident = peer.Identity()
        r = peer.Responder(ident)
        self.addCleanup(r.stop)
        to = "/ip4/127.0.0.1/tcp/%d/service/api" % r.port
        info = json.loads(self.sluice("secure-channel", "create", "--from", "n1", "--to", to,
                                      "--authorized", ident.identifier, "--output", "json").stdout)
        self.assertEqual(info["peer"], ident.identifier)
        for i in range(40):
            out = self.sluice("message", "send", "hi%d" % i, "--from", "n1",
                              "--to", info["address"] + "/service/uppercase").stdout.strip()
            self.assertEqual(out, "HI%d" % i)
        self.assertEqual(r.peers, [self.sluice("identity", "show", "@n1").stdout.strip()])
        self.assertEqual(r.handled, 40)
        self.sluice("secure-channel", "delete", info["address"], "--at", "n1")
        self.assertTrue(wait_until(lambda: r.closed == 1, 5))
        self.assertEqual(r.errors, [])

    def test_foreign_responder_with_a_bad_attestation_is_refused(self):
        ident = peer.Identity()
        good = ident.payload
        ident.payload = lambda x, **kw: good(bytes(32))     # attests some other key
        r = peer.Responder(ident)
        self.addCleanup(r.stop)
        p = self.sluice("secure-channel", "create", "--from", "n1", "--to",
                        "/ip4/127.0.0.1/tcp/%d/service/api" % r.port, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("does not verify", p.stderr)


if __name__ == "__main__":
    unittest.main()
