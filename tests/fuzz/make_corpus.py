#!/usr/bin/env python3
"""Builds the seed corpora tests/fuzz/corpus/<fuzz_target>/ from the vectors.

Seeds come from tests/vectors/ (Ockam's own vectors and the derived ones:
TCP frames, CBOR routing messages, portal messages, identities, Noise
messages, secure-channel plaintexts, relay registration bodies) and, for the
control socket and the state store, from the formats in tools/common/api*.h,
tools/common/api_relay.h and tools/common/state_rows.h, encoded with the integration tests'
own CBOR and BARE writer (tests/integration/ockam_peer.py, written from
PROTOCOL.md alone). Each seed is small and named for what it holds.

    tests/fuzz/make_corpus.py            # rewrite every corpus
    tests/fuzz/make_corpus.py --check    # exit 1 if a committed corpus differs

Files other than seed-* (inputs that `tools/fuzz.sh --merge` added) are kept.
Standard library only.
"""

import argparse
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VECTORS = os.path.join(ROOT, "tests", "vectors")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import ockam_peer as op  # noqa: E402  (cbor, bare, local, tcp, frame)

cbor, bare, local, tcp = op.cbor, op.bare, op.local, op.tcp


def wire_vectors():
    """ockam-wire-vectors.txt as (name, bytes) in file order (names repeat)."""
    out = []
    with open(os.path.join(VECTORS, "ockam-wire-vectors.txt")) as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            name, _, rest = line.strip().partition(" ")
            try:
                out.append((name, bytes.fromhex(rest.replace(" ", ""))))
            except ValueError:
                # "msg3_payload(IdentityAndCredentials initiator) 83...": the name has a space
                name, _, last = line.strip().rpartition(" ")
                try:
                    out.append((name, bytes.fromhex(last)))
                except ValueError:
                    continue  # an identifier ("I...") or other text
    return out


def texts(name):
    """The textual values of ockam-wire-vectors.txt named name (identifiers)."""
    with open(os.path.join(VECTORS, "ockam-wire-vectors.txt")) as f:
        return [l.split()[1] for l in f if l.split()[:1] == [name]]


def json_vectors(fname):
    with open(os.path.join(VECTORS, fname)) as f:
        return json.load(f)


V = wire_vectors()


def vec(name, nth=0):
    hits = [b for n, b in V if n == name]
    return hits[nth]


def all_vec(prefix):
    return [(n, b) for n, b in V if n.startswith(prefix)]


# --- per target -------------------------------------------------------------


def seeds_wire():
    s = {
        "tcp_msg_cbor": vec("tcp_msg_cbor"),
        "tcp_msg_cbor_with_tracing": vec("tcp_msg_cbor_with_tracing"),
    }
    # frames the integration tests send (test_routing.py, test_relay.py), without their length
    for name, onward, ret, payload in [
        ("uppercase", [local("uppercase")], [local("app")], bare("slow")),
        ("relay_forward", [local("forward_to_a"), local("uppercase")], [local("y")], bare("hi")),
        ("tcp_hop", [tcp("127.0.0.1:4000"), local("echo")], [local("app")], bare("hello")),
        ("hop_chain", [local("hop"), local("hop"), local("echo")], [local("a"), tcp("[::1]:1")],
         b""),
        ("empty_return", [local("echo")], [], bare(b"\x00" * 40)),
    ]:
        s["frame_" + name] = op.frame(onward, ret, payload)[4:]
    return s


def seeds_udp():
    # Mode byte 0 (even): a stream of (peer, u16be length, datagram); G3 first.
    g3 = vec("udp_datagram")
    msg = op.frame([local("echo")], [local("app")], b"\x5a" * 1200)[4:]
    parts = []
    for off in range(0, len(msg), 493):
        chunk = msg[off:off + 493]
        last = off + 493 >= len(msg)
        # UdpTransportMessage [1, rn, offset, last, bytes]: rn 0x1234 as in G3
        parts.append(op.cbor([1, 0x1234, off, last, chunk]))

    def stream(ds, peer=1):
        return b"\x00" + b"".join(bytes([peer]) + struct.pack(">H", len(d)) + d for d in ds)
    return {
        "g3": stream([g3]),
        "g3_twice": stream([g3, g3]),
        "three_parts": stream(parts),
        "three_parts_reversed": stream(parts[::-1]),
        "part_lost": stream([parts[0], parts[2], g3]),
        # Mode byte 1 (odd): one message cut in 1 + 40 % 64 byte parts, reordered.
        "whole_g3_payload": b"\x01\x28" + vec("tcp_msg_cbor"),
    }


def seeds_bare():
    s = {n: b for n, b in all_vec("relay_")}
    s["bare_hello"] = vec("bare_hello")
    s["legacy_v1"] = vec("legacy_v1")
    s["uleb_2_bytes"] = bare(b"x" * 200)
    s["uleb_overlong"] = b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01"
    return s


def seeds_cbor():
    s = {}
    for n in ("tcp_msg_cbor", "tcp_msg_cbor_with_tracing", "udp_datagram", "session_ping",
              "close", "refresh_credentials", "sc_plaintext_payload", "initiator_change_history",
              "responder_purpose_key_attestation"):
        s[n] = vec(n)
    s["change_history_p256"] = vec("change_history", 1)
    s["nested"] = cbor([[1, [2, [3, None, True, False]]], b"\x00", "t", 2**40, -5])
    return s


def seeds_identity():
    s = {}
    for i, (n, b) in enumerate(all_vec("change_history")):
        s["change_history_%d" % i] = b
    for n in ("initiator_change_history", "responder_change_history",
              "initiator_purpose_key_attestation", "responder_purpose_key_attestation"):
        s[n] = vec(n)
    s["msg3_payload_idcreds"] = vec("msg3_payload(IdentityAndCredentials initiator)")
    s["msg2_payload_idcreds"] = vec("msg2_payload(IdentityAndCredentials responder)")
    return s


def seeds_secure_msg():
    # The decrypted SecureChannelPaddedMessage: Payload is 82 82 00 81 83 ... (variant 0
    # wraps its 3-field struct in a one-element array), as the vectors have it.
    s = {n: vec(n) for n in ("close", "refresh_credentials", "sc_plaintext_payload")}
    pt = vec("sc_plaintext_payload")
    s["payload_padded"] = pt[:-1] + b"\x44\x00\x00\x00\x00"  # 4 bytes of padding
    return s


def seeds_portal_msg():
    s = {n: b for n, b in V if n in ("ping", "pong", "disconnect", "portal_payload_hi")
         or n.startswith("payload_05_05")}
    s["payload_counter_max"] = b"\x03\x02\x05\x05\x01\xff\xff"
    s["eof"] = b"\x05"
    return s


def seeds_relay_registration():
    return {n: b for n, b in all_vec("relay_")}


def seeds_multiaddr():
    return {"ma_%d" % i: t.encode() for i, t in enumerate([
        "/ip4/127.0.0.1/tcp/4000/service/api",
        "/node/n2/service/hop/service/echo",
        "/node/relay/service/forward_to_b/secure/api/service/outlet",
        "/project/default/service/forward_to_n1/service/api",
        "/ip6/::1/tcp/4001/service/uppercase",
        "/dnsaddr/localhost/tcp/4000/worker/0123456789abcdef0123456789abcdef",
        "/service/" + "x" * 200,
        "/ip4/127.0.0.1/udp/4000/ip4/127.0.0.1/tcp/4001/service/api",
        "/ip6/::1/udp/4002/service/echo",
    ])}


def seeds_noise_read():
    # data[0] % 3 picks the read (msg1, msg2, msg3); the rest is the message.
    s = {}
    for stage, msg in ((0, "msg1"), (1, "msg2"), (2, "msg3")):
        for i, b in enumerate([b for n, b in V if n == msg]):
            s["%s_%d" % (msg, i)] = bytes([stage]) + b
    for i, j in enumerate(json_vectors("ockam-name-XX-25519-AESGCM-SHA256.json")["vectors"][:2]):
        for stage, m in enumerate(j["messages"][:3]):
            s["json%d_msg%d" % (i, stage + 1)] = bytes([stage]) + bytes.fromhex(m["ciphertext"])
    return s


def seeds_cipher_open():
    # data[0] & 1 picks the backend; then ops: 0 n genuine frame n, 1 n b frame n with bit b
    # flipped, 2 l ... l raw bytes (the vectors' transport ciphertexts).
    s = {
        "genuine_in_order": b"\x00" + bytes(x for n in range(8) for x in (0, n)),
        "genuine_gcrypt_replay": b"\x01\x00\x05\x00\x05\x00\x04\x00\x06",
        "flipped_then_genuine": b"\x00\x01\x03\x07\x00\x03\x01\x03\xff\x00\x03",
        "far_ahead": b"\x00\x00\xff\x00\x00\x00\x80",
    }
    for n, b in V:
        if n.startswith(("initiator_to_responder", "responder_to_initiator", "initiator_close")):
            s["raw_" + n] = b"\x00\x02" + bytes([len(b)]) + b + b"\x00\x00"
    t = json_vectors("ockam-transport-AESGCM-rekey32.json")
    for i in (0, 1, 31, 32):
        b = bytes.fromhex(t["initiator_to_responder"][i]["wire"])[:255]
        s["raw_rekey32_frame%d" % i] = b"\x01\x02" + bytes([len(b)]) + b
    return s


# control socket: Request = [text method, ?Body], Response = [uint status, ?text error, ?Body]

ID1 = bytes.fromhex(texts("initiator_identifier")[0][1:])
ID2 = bytes.fromhex(texts("responder_identifier")[0][1:])
TO = [tcp("127.0.0.1:4000"), local("api")]


def req(method, *body):
    return cbor([method] + list(body))


def seeds_control_request():
    s = {
        "node_status": req("node.status"),
        "node_stop": req("node.stop"),
        "message_send": req("message.send", [[tcp("127.0.0.1:4000"), local("uppercase")],
                                             bare("hello"), 10000]),
        "message_send_hops": req("message.send", [[local("hop")] * 4 + [local("echo")],
                                                  b"", 86400000]),
        "sc_create": req("secure_channel.create", [TO, "", [ID2], 10000]),
        "sc_create_identity": req("secure_channel.create", [TO, "i1", [], 120000]),
        "sc_show": req("secure_channel.show", "0123456789abcdef0123456789abcdef"),
        "scl_create": req("secure_channel_listener.create", ["l", "i2", [ID1, ID2]]),
        "scl_delete": req("secure_channel_listener.delete", "l"),
        "outlet_create": req("tcp_outlet.create", ["outlet", "127.0.0.1:9000"]),
        "inlet_create": req("tcp_inlet.create", ["i", "127.0.0.1:6000", "/node/n2/service/outlet",
                                                  TO[:1] + [local("outlet")]]),
        "inlet_create_symbolic": req("tcp_inlet.create", ["i", "127.0.0.1:0",
                                                           "/project/default/service/forward_to_b"
                                                           "/secure/api/service/outlet", []]),
        "relay_create": req("relay.create", ["b", TO, None]),
        "relay_create_authority": req("relay.create", ["b", TO, ID1]),
        "relay_create_plain": req("relay.create", ["b", TO, None, True]),
        "relay_show": req("relay.show", "b"),
        "relay_hosted": req("relay.hosted"),
        # responses, as the CLI reads them
        "resp_ok": cbor([200]),
        "resp_error": cbor([404, "this node has no relay b: see `sluice relay list --at NODE`"]),
        "resp_bytes": cbor([200, None, bare("HELLO")]),
        "resp_status": cbor([200, None, ["n1", 4000, 2, 1234, 99, [1, 2, 3, 4, 5, 6, 7, 8, 9]]]),
        "resp_sc_info": cbor([200, None, ["0" * 32, "1" * 32, ID1, ID2, True,
                                          "/ip4/127.0.0.1/tcp/4000/service/api", 1700000000,
                                          3, 4, 1]]),
        "resp_scl_info": cbor([200, None, ["api", "@n1", ID1, [ID2]]]),
        "resp_portal": cbor([200, None, ["i", "127.0.0.1:6000", "/node/n2/service/outlet", 6000,
                                         1, 2, 3, 4]]),
    }
    return s


def column(v):
    """One column of a fuzz_state_rows program: tag, then the value."""
    if v is None:
        return b"\x00"
    if isinstance(v, int):
        return b"\x01" + struct.pack("<q", v)
    if isinstance(v, float):
        return b"\x02" + struct.pack("<d", v)
    if isinstance(v, str):
        b = v.encode()
        return b"\x03" + struct.pack("<H", len(b)) + b
    return b"\x04" + struct.pack("<H", len(v)) + bytes(v)


def row(*cols):
    return b"".join(column(c) for c in cols)


def seeds_state_rows():
    ids = " ".join(texts("initiator_identifier") + texts("responder_identifier"))
    hist = vec("initiator_change_history")
    return {
        # node: name, tcp_address, tcp_port, pid, pid_start, stopped, identity, shards,
        #       created_at, started_at, pin_shards, spin_us, frame_timeout_ms, metrics,
        #       udp_address, limits, relay_directory
        "node": row("n1", "127.0.0.1:0", 40123, 4242, 123456, 0, "", 0, 1700000000,
                    1700000100, 0, 50, 30000, "", "", "", ""),
        "node_v6": row("n2", "[::1]:4000", 4000, 0, 0, 1, "i1", 4, 1700000000, 0, 1, 0, 1500,
                       "127.0.0.1:9464", "[::1]:4100",
                       "max-connections=20000,max-connections-per-source=16",
                       "redis://127.0.0.1:6379"),
        # identity: name, identifier, change_history, created_at, secret_key
        "identity": row("@n1", texts("initiator_identifier")[0], hist, 1700000000,
                        bytes(range(64))),
        "identity_text_history": row("i1", "I" + "0" * 64, hist.hex(), None, b"\x00" * 63),
        # inlet: node, alias, from_address, to_route, via
        "inlet": row("n1", "i", "127.0.0.1:6000", "/node/n2/service/outlet", ""),
        "inlet_via": row("n1", "i2", "127.0.0.1:0",
                         "/project/default/service/forward_to_b/secure/api/service/outlet",
                         "b"),
        # outlet: node, address, to_address
        "outlet": row("n2", "outlet", "127.0.0.1:9000"),
        # relay: node, name, at_route, remote_address, plain
        "relay": row("a", "b", "/ip4/127.0.0.1/tcp/4000", "forward_to_b", 0),
        "relay_plain": row("a", "p", "/node/relay", "forward_to_p", 1),
        # listener: node, kind, address, identity, authorized
        "listener": row("n4", "secure_channel", "l", "i2", ids),
        "listener_any": row("n4", "secure_channel", "api", "", ""),
        # project: name, route, identifier
        "project": row("default", "/ip4/127.0.0.1/tcp/4000", texts("responder_identifier")[0]),
    }


def seeds_node_config():
    ident = "I" + "01" * 32
    return {
        "empty": b"",
        "settings": b"name: relay1\ntcp-listener-address: 127.0.0.1:4000\nshards: 2\n"
                    b"pin-shards: true\nspin-us: 0\nframe-timeout: 5s\ndrain-timeout: 30s\n"
                    b"metrics: 127.0.0.1:9464\n",
        "limits": b"limits:\n  max-connections: 20000\n  max-connections-per-source: 64\n"
                  b"  max-route-length: 8\n",
        "services": ("secure-channel-listeners:\n  api2:\n    authorized: [%s]\n"
                     "relays:\n  r1:\n    at: /node/hub\n  r2:\n    at: /node/hub\n    plain: true\n"
                     "tcp-outlets:\n  outlet:\n    to: 127.0.0.1:5000\n"
                     "tcp-inlets:\n  web:\n    from: 127.0.0.1:6000\n"
                     "    to: /node/b/service/outlet\n    via: r1\n" % ident).encode(),
        "flow": b"{name: n, relays: {r: {at: /node/x}}, limits: {max-connections: 5}}\n",
        "bad": b"limits:\n  max-connections: [1, 2\n",
    }


TARGETS = {
    "fuzz_bare": seeds_bare,
    "fuzz_cbor": seeds_cbor,
    "fuzz_cipher_open": seeds_cipher_open,
    "fuzz_control_request": seeds_control_request,
    "fuzz_identity": seeds_identity,
    "fuzz_multiaddr": seeds_multiaddr,
    "fuzz_node_config": seeds_node_config,
    "fuzz_noise_read": seeds_noise_read,
    "fuzz_portal_msg": seeds_portal_msg,
    "fuzz_relay_registration": seeds_relay_registration,
    "fuzz_secure_msg": seeds_secure_msg,
    "fuzz_state_rows": seeds_state_rows,
    "fuzz_udp": seeds_udp,
    "fuzz_wire": seeds_wire,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare, write nothing")
    ap.add_argument("--out", default=os.path.join(HERE, "corpus"))
    a = ap.parse_args()
    missing = sorted(set(os.path.splitext(f)[0] for f in os.listdir(HERE)
                         if f.startswith("fuzz_") and f.endswith(".c")) - set(TARGETS))
    if missing:
        sys.exit("no seeds for %s: add them to make_corpus.py" % ", ".join(missing))
    differ = []
    for target, make in sorted(TARGETS.items()):
        d = os.path.join(a.out, target)
        want = {"seed-" + n.replace("(", "_").replace(")", "").replace(" ", "_"): b
                for n, b in make().items()}
        have = {f: open(os.path.join(d, f), "rb").read()
                for f in (os.listdir(d) if os.path.isdir(d) else []) if f.startswith("seed-")}
        if have != want:
            differ.append(target)
        if a.check:
            continue
        os.makedirs(d, exist_ok=True)
        for f in set(have) - set(want):
            os.remove(os.path.join(d, f))
        for f, b in want.items():
            with open(os.path.join(d, f), "wb") as out:
                out.write(b)
        print("%-26s %3d seeds, %6d bytes" % (target, len(want), sum(map(len, want.values()))))
    if a.check and differ:
        sys.exit("corpus out of date (run tests/fuzz/make_corpus.py): " + ", ".join(differ))


if __name__ == "__main__":
    main()
