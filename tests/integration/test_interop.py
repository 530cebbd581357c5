"""Sluice against a peer whose messages Sluice did not write: ockam_cbor2_peer.py
builds and parses every message with python3-cbor2 from Ockam's Rust type
definitions. Real `sluice` nodes on 127.0.0.1; the peer as initiator and as
responder, directly and through a relay; 100 messages across rekeys, Close,
RefreshCredentials; and the peer's bytes against the wire vectors."""

import json
import os
import re
import signal
import unittest

import ockam_cbor2_peer as peer
from harness import NodeTest, wait_until
from noise_interop import Decryptor, Encryptor

VECTORS = os.path.join(os.path.dirname(__file__), "..", "vectors", "ockam-wire-vectors.txt")
TEST_SECONDS = 60
N = 100
RANDOM_ADDR = re.compile(rb"^[0-9a-f]{32}$")
local, bare = peer.local, peer.bare


def vectors():
    out = {}
    with open(VECTORS) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            parts = line.split()
            if len(parts) >= 2:
                try:
                    out[parts[0].split("(")[0]] = bytes.fromhex(parts[-1])
                except ValueError:      # identifiers: I + hex
                    out[parts[0]] = parts[-1]
    return out


def service(i):
    """Message i goes to uppercase or echo, and what comes back."""
    msg = b"hello" if i == 0 else b"msg %03d" % i
    return ("uppercase", msg, msg.upper()) if i % 2 == 0 else ("echo", msg, msg)


class Bounded(NodeTest):
    """Every test ends within TEST_SECONDS, whatever a node or a socket does."""

    def setUp(self):
        super().setUp()

        def expired(signum, frame):
            raise TimeoutError("test ran past %d s" % TEST_SECONDS)

        old = signal.signal(signal.SIGALRM, expired)
        signal.alarm(TEST_SECONDS)
        self.addCleanup(signal.signal, signal.SIGALRM, old)
        self.addCleanup(signal.alarm, 0)

    def channels(self, node):
        return self.home.json("secure-channel", "list", "--at", node)

    def identifier(self, node):
        return self.sluice("identity", "show", "@" + node).stdout.strip()

    def log(self, node):
        with open(os.path.join(self.home.dir, "nodes", node, "node.log"), errors="replace") as f:
            return f.read()

    def responder(self):
        r = peer.Responder(peer.Identity())
        self.addCleanup(r.stop)
        return r

    def converse(self, c):
        """N messages from an initiator, each reply checked field by field."""
        for i in range(N):
            svc, msg, reply = service(i)
            if i % 3 == 2:  # what Rust Ockam may send too: padding, a tracing context
                c.send([local(svc)], [local("app")], bare(msg), os.urandom(i), '{"traceparent":""}')
            else:
                c.send([local(svc)], [local("app")], bare(msg))
            m = c.recv()
            self.assertEqual(m.kind, peer.PAYLOAD, i)
            self.assertEqual(m.onward, [local("app")], i)
            self.assertEqual(m.ret, [local(svc)], i)
            self.assertEqual(peer.unbare(m.payload), reply, i)
            self.assertEqual(m.padding, b"", i)
        # nonces 0..99 each way: both sides rekeyed at 32, 64 and 96
        self.assertEqual((c.enc.n, c.dec.epoch), (N, 3))

    def send_all(self, node, channel, r, first=0):
        """N `message send` through a channel to the peer as responder; the peer
        saw each one as the Payload it should be."""
        for i in range(N):
            svc, msg, reply = service(i)
            out = self.sluice("message", "send", msg.decode(), "--from", node,
                              "--to", channel + "/service/" + svc, "--timeout", "5s").stdout
            self.assertEqual(out.strip(), reply.decode(), i)
            m = r.received[first + i]
            self.assertEqual(m.kind, peer.PAYLOAD, i)
            self.assertEqual(m.onward, [local(svc)], i)
            self.assertEqual(len(m.ret), 1, i)        # the reply address of `message send`
            self.assertEqual(m.ret[0][0], peer.LOCAL, i)
            self.assertRegex(m.ret[0][1], RANDOM_ADDR, i)
            self.assertEqual(m.payload, bare(msg), i)
            self.assertEqual(m.padding, b"", i)
        self.assertEqual(r.handled, N)

    def close_from_sluice(self, node, channel, r, count):
        self.sluice("secure-channel", "delete", channel, "--at", node)
        self.assertTrue(wait_until(lambda: r.closed == 1, 5))
        self.assertEqual(len(r.received), count)
        self.assertEqual(r.received[-1].value, [[2, []], b""])
        self.assertEqual(r.errors, [])


class PeerInitiator(Bounded):
    def setUp(self):
        super().setUp()
        self.sluice("node", "create", "n1")

    def test_handshake_100_messages_close(self):
        ident = peer.Identity()
        c = peer.Initiator(ident, "127.0.0.1", self.home.node_port("n1"))
        self.addCleanup(c.conn.close)
        self.assertEqual(c.peer, self.identifier("n1"))
        self.converse(c)
        # the first Payload is G8's vector value: the same bytes
        self.assertEqual(c.sent_plaintexts[0], vectors()["sc_plaintext_payload"])
        self.assertEqual([(x["peer"], x["role"], x["received"], x["sent"])
                          for x in self.channels("n1")],
                         [(ident.identifier, "responder", N, N)])
        c.close()
        self.assertTrue(wait_until(lambda: self.channels("n1") == [], 5))

    def test_refresh_credentials(self):
        ident = peer.Identity()
        c = peer.Initiator(ident, "127.0.0.1", self.home.node_port("n1"))
        self.addCleanup(c.conn.close)

        def works(text):
            c.send([local("uppercase")], [local("app")], bare(text))
            self.assertEqual(peer.unbare(c.recv().payload), text.upper())

        def logged(line):
            return wait_until(lambda: line in self.log("n1"), 5)

        works(b"before")
        c.refresh()                     # the same history: accepted, a no-op
        self.assertTrue(logged("event=secure_channel_refreshed peer=%s changes=1"
                               % ident.identifier), self.log("n1")[-2000:])
        works(b"same")
        ident.rotate()                  # a newer history of the same identity
        c.refresh()
        self.assertTrue(logged("event=secure_channel_refreshed peer=%s changes=2"
                               % ident.identifier), self.log("n1")[-2000:])
        works(b"newer")
        c.refresh(peer.Identity())      # another identity: refused
        self.assertTrue(logged("event=secure_channel_refresh_refused peer=%s reason=other_identity"
                               % ident.identifier), self.log("n1")[-2000:])
        works(b"still here")
        self.assertEqual([x["peer"] for x in self.channels("n1")], [ident.identifier])


    def test_decoding_is_tolerant(self):
        """PROTOCOL.md 2: fields a newer Ockam may add are skipped, an unknown
        variant is dropped, and the channel lives on."""
        c = peer.Initiator(peer.Identity(), "127.0.0.1", self.home.node_port("n1"))
        self.addCleanup(c.conn.close)
        route = [[local("echo")], [local("app")]]
        cases = [
            ("extra PlaintextPayloadMessage field", [[0, [route + [bare("a"), "new"]]], b""], b"a"),
            ("extra Payload field", [[0, [route + [bare("b")], 7]], b""], b"b"),
            ("extra SecureChannelPaddedMessage field", [[0, [route + [bare("c")]]], b"", 5], b"c"),
            ("unknown variant", [[3, [b"?"]], b""], None),
        ]
        for what, value, echoed in cases:
            c.seal_send(peer.dumps(value))
            c.send([local("echo")], [local("app")], bare("next"))
            if echoed is not None:
                self.assertEqual(peer.unbare(c.recv().payload), echoed, what)
            self.assertEqual(peer.unbare(c.recv().payload), b"next", what)


class PeerResponder(Bounded):
    def setUp(self):
        super().setUp()
        self.sluice("node", "create", "n1")

    def test_sluice_initiator_100_messages_close(self):
        r = self.responder()
        info = self.home.json("secure-channel", "create", "--from", "n1", "--to",
                              "/ip4/127.0.0.1/tcp/%d/service/api" % r.port,
                              "--authorized", r.identity.identifier)
        self.assertEqual(info["peer"], r.identity.identifier)
        n1 = self.identifier("n1")
        self.assertTrue(wait_until(lambda: r.peers == [n1], 5), r.peers)   # msg3 is on its way
        self.send_all("n1", info["address"], r)
        self.close_from_sluice("n1", info["address"], r, N + 1)
        self.assertEqual(self.channels("n1"), [])

    def test_close_from_the_peer(self):
        r = self.responder()
        info = self.home.json("secure-channel", "create", "--from", "n1", "--to",
                              "/ip4/127.0.0.1/tcp/%d/service/api" % r.port)
        self.assertTrue(wait_until(lambda: len(r.open) == 1, 5))
        self.assertEqual(self.sluice("message", "send", "x", "--from", "n1", "--to",
                                     info["address"] + "/service/uppercase").stdout.strip(), "X")
        r.close_all()
        self.assertTrue(wait_until(lambda: self.channels("n1") == [], 5))
        self.assertEqual(r.errors, [])


class LoadAgainstPeer(Bounded):
    """`sluice load` drives a foreign listener: its own channels (Noise XX and the
    identity checks), 64 B messages to the peer's echo, an encrypted Close each."""

    def test_load_open_loop_to_peer_echo(self):
        r = self.responder()
        p = self.sluice("load", "--to", "/ip4/127.0.0.1/tcp/%d/secure/api/service/echo" % r.port,
                        "--channels", "2", "--authorized", r.identity.identifier,
                        "--rate", "500", "--duration", "2s", "--output", "json")
        d = json.loads(p.stdout)
        self.assertEqual(d["errors"]["total"], 0, d["errors"])
        self.assertGreater(d["sent"], 900)
        self.assertEqual(d["received"], d["sent"])
        self.assertEqual(len(r.peers), 2, r.peers)
        self.assertEqual(r.handled, d["sent"])
        self.assertTrue(wait_until(lambda: r.closed == 2, 5), r.closed)
        self.assertEqual(r.errors, [])

    def test_load_refuses_a_peer_not_authorized(self):
        r = self.responder()
        p = self.sluice("load", "--to", "/ip4/127.0.0.1/tcp/%d/secure/api/service/echo" % r.port,
                        "--channels", "1", "--authorized", peer.Identity().identifier,
                        "--count", "10", "--output", "json", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("does --authorized name its identity", p.stderr)
        self.assertEqual(json.loads(p.stdout)["errors"]["auth"], 1)
        self.assertEqual(r.handled, 0)

class ThroughRelay(Bounded):
    def setUp(self):
        super().setUp()
        self.sluice("node", "create", "relay")

    def test_peer_registers_relay_sluice_initiates(self):
        r = self.responder()
        name = r.register_relay("127.0.0.1", self.home.node_port("relay"), "py")
        self.assertEqual(name, "forward_to_py")
        self.sluice("node", "create", "n1")
        info = self.home.json("secure-channel", "create", "--from", "n1", "--to",
                              "/node/relay/service/forward_to_py/service/api",
                              "--authorized", r.identity.identifier)
        n1 = self.identifier("n1")
        self.assertTrue(wait_until(lambda: r.peers == [n1], 5), r.peers)   # msg3 is on its way
        self.send_all("n1", info["address"], r)
        self.close_from_sluice("n1", info["address"], r, N + 1)

    def test_sluice_registers_relay_peer_initiates(self):
        self.sluice("node", "create", "b")
        out = self.sluice("relay", "create", "b", "--at", "/node/relay", "--to", "b").stdout
        self.assertEqual(out.strip(), "/service/forward_to_b")
        ident = peer.Identity()
        c = peer.Initiator(ident, "127.0.0.1", self.home.node_port("relay"),
                           route=[local("forward_to_b"), local("api")])
        self.addCleanup(c.conn.close)
        self.assertEqual(c.peer, self.identifier("b"))

        def mine():  # b also has its channel to the relay node
            return [x for x in self.channels("b") if x["peer"] == ident.identifier]

        self.converse(c)
        self.assertEqual([(x["received"], x["sent"]) for x in mine()], [(N, N)])
        c.close()
        self.assertTrue(wait_until(lambda: mine() == [], 5))
        self.assertEqual(len(self.channels("b")), 1)


class Vectors(unittest.TestCase):
    """The peer's cbor2 messages against the vectors: C from Rust, G derived."""

    def setUp(self):
        self.v = vectors()

    def test_payload_plaintext_and_ciphertext(self):
        pt = peer.padded(peer.payload_message([local("uppercase")], [local("app")], bare("hello")))
        self.assertEqual(pt, self.v["sc_plaintext_payload"])
        self.assertEqual(pt[:5], bytes.fromhex("8282008183"))
        k1, k2 = self.v["k1"], self.v["k2"]
        self.assertEqual(Encryptor(k2).seal(pt), self.v["initiator_to_responder_nonce0"])
        m = peer.parse_padded(Decryptor(k2).open(self.v["initiator_to_responder_nonce0"]))
        self.assertEqual((m.kind, m.onward, m.ret, m.payload, m.padding),
                         (peer.PAYLOAD, [local("uppercase")], [local("app")], bare("hello"), b""))

    def test_close_and_refresh_from_rust(self):
        close = peer.padded(peer.close_message())
        self.assertEqual(close, self.v["close"])
        k1, k2 = self.v["k1"], self.v["k2"]
        self.assertEqual(Encryptor(k1).seal(close), self.v["responder_to_initiator_close_nonce0"])
        enc = Encryptor(k2)
        enc.n = 32                      # the first nonce of the second key
        self.assertEqual(enc.seal(close), self.v["initiator_close_nonce32"])
        m = peer.parse_padded(self.v["refresh_credentials"])
        self.assertEqual(m.kind, peer.REFRESH_CREDENTIALS)
        self.assertEqual(len(m.credentials), 1)
        peer.verify_change_history(m.history)
        self.assertEqual(peer.padded(peer.refresh_credentials_message(m.history, m.credentials)),
                         self.v["refresh_credentials"])

    def test_routing_and_identity(self):
        msg = peer.tcp_transport_message([local("uppercase")], [local("app")], bare("hello"))
        self.assertEqual(msg, self.v["tcp_msg_cbor"])
        t = peer.parse_tcp_transport_message(self.v["tcp_msg_cbor_with_tracing"])
        self.assertEqual((t.onward, t.ret, t.payload, t.tracing),
                         ([local("uppercase")], [local("app")], bare("hello"), "{}"))
        self.assertEqual(bare("register"), self.v["relay_register"])
        self.assertEqual(bare("myrelay"), self.v["relay_static_myrelay"])
        self.assertEqual(bare("forward_to_myrelay"), self.v["relay_reply_forward_to_myrelay"])
        for who in ("initiator", "responder"):
            ident = peer.verify_change_history(peer.strict(self.v[who + "_change_history"]))[0]
            self.assertEqual("I" + ident.hex(), self.v[who + "_identifier"])

    def test_a_bad_message_is_refused(self):
        good = self.v["sc_plaintext_payload"]
        for bad in (good + b"\x00",                                   # trailing byte
                    bytes.fromhex("82820083") + good[5:],               # the unwrapped Payload
                    bytes.fromhex("8282038040"),                      # variant 3
                    bytes.fromhex("828202814040")):                   # Close with a field
            with self.assertRaises(peer.WireError, msg=bad.hex()):
                peer.parse_padded(bad)


if __name__ == "__main__":
    unittest.main()
