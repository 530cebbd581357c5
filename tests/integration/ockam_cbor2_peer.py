#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""An Ockam peer whose every message is built and parsed by a general CBOR
library (Debian's python3-cbor2), straight from Ockam's Rust type definitions.

Nothing here comes from Sluice or from the project's hand-written codec
(ockam_peer.py): each builder below names the Rust type it follows, by its
path under implementations/rust/ockam/ in build-trust/ockam, and encodes it
with the minicbor derive rules that type's attributes select:

  struct                  array of its fields in index order (#[n(i)] and
                          #[b(i)] differ only in borrowing, not on the wire);
                          a trailing None field is left out
  enum variant            [variant index, [the variant's fields]]
  #[cbor(transparent)]    the inner value (newtypes: Route, TransportType,
                          ChangeHistory, TimestampInSeconds, key and
                          signature wrappers, Identifier, ChangeHash, CowBytes)
  with = "minicbor::bytes", CowBytes
                          a CBOR byte string

Values from the other side are decoded by cbor2.loads, then checked by type
(`parse_*`), and `strict` re-encodes them with cbor2.dumps and demands the
same bytes: minicbor writes definite lengths and shortest integers, so a peer
that speaks Ockam's encoding must too.

Noise XX under Ockam's protocol name, the reversed split and the transport
ciphers (rekey every 32, the nonce window) are noise_interop.py's, on top of
python3-dissononce and python3-cryptography.

  Identity()                  a fresh Ed25519 identity; rotate() adds a change
  Initiator(identity, host, port, route=[local("api")])
                              a channel to a listener over one TCP connection
  Responder(identity)         a TCP server: the listener `api`, and uppercase
                              and echo behind its channels; register_relay()
                              registers a static relay at a node and serves
                              what comes through it
"""
import hashlib
import os
import socket
import struct
import threading
import time
from collections import namedtuple

import cbor2
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,
                                                               Ed25519PublicKey)
from dissononce.cipher.aesgcm import AESGCMCipher
from dissononce.dh.x25519.x25519 import X25519DH
from dissononce.hash.sha256 import SHA256Hash
from dissononce.processing.handshakepatterns.interactive.XX import XXHandshakePattern
from dissononce.processing.impl.cipherstate import CipherState
from dissononce.processing.impl.symmetricstate import SymmetricState

from noise_interop import OCKAM_NAME, Decryptor, Encryptor, OckamHandshakeState

TEN_YEARS = 10 * 365 * 24 * 3600
FIVE_YEARS = 5 * 365 * 24 * 3600
MAX_FRAME = 16 * 1024 * 1024


class WireError(ValueError):
    """A message that does not decode as the Rust type it should be."""


def dumps(v):
    return cbor2.dumps(v)


def loads(b):
    try:
        return cbor2.loads(b)
    except Exception as e:  # cbor2 raises its own decode errors and others
        raise WireError("not CBOR: %r (%s)" % (bytes(b[:32]), e)) from e


def strict(b):
    """cbor2.loads, and the bytes must be what cbor2.dumps writes for the value."""
    v = loads(b)
    if dumps(v) != bytes(b):
        raise WireError("not minicbor's canonical form (or trailing bytes): %s" % bytes(b).hex())
    return v


def want(cond, what):
    if not cond:
        raise WireError(what)


def is_bytes(v, n=None):
    return isinstance(v, bytes) and (n is None or len(v) == n)


def is_uint(v, bits=64):
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1 << bits


# --- ockam_core ----------------------------------------------------------------
# ockam_core/src/routing/transport_type.rs: #[cbor(transparent)] struct TransportType(#[n(0)] u8)
# ockam_core/src/routing/address.rs: struct Address { #[n(0)] tt: TransportType,
#     #[cbor(with = "minicbor::bytes")] #[n(1)] inner: Vec<u8> }          -> [tt, bytes]
# ockam_core/src/routing/route.rs: #[cbor(transparent)] struct Route { #[n(0)] inner:
#     VecDeque<Address> }                                                 -> [address...]
LOCAL, TCP = 0, 1


def address(tt, body):
    return [tt, body.encode() if isinstance(body, str) else bytes(body)]


def local(name):
    return address(LOCAL, name)


def tcp(hostport):
    return address(TCP, hostport)


def parse_address(v):
    want(isinstance(v, list) and len(v) == 2 and is_uint(v[0], 8) and is_bytes(v[1]),
         "Address is not [u8, bytes]: %r" % (v,))
    return v


def parse_route(v):
    want(isinstance(v, list), "Route is not an array: %r" % (v,))
    return [parse_address(a) for a in v]


def rand_addr():
    """A random local address as Ockam makes them: 16 bytes as 32 hex digits."""
    return local(os.urandom(16).hex())


# --- BARE (serde_bare), for application bodies and the relay service --------------
# ockam_core/src/message.rs: Encodable/Decodable for Serialize types is serde_bare;
# a String or Vec<u8> is uleb128 length || bytes.


def bare(b):
    b = b.encode() if isinstance(b, str) else bytes(b)
    n, out = len(b), bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out) + b


def unbare(b):
    n = shift = i = 0
    while True:
        want(i < len(b) and shift < 64, "truncated BARE length")
        n |= (b[i] & 0x7F) << shift
        shift += 7
        i += 1
        if not b[i - 1] & 0x80:
            break
    want(i + n == len(b), "BARE vector of %d bytes in %d" % (n, len(b) - i))
    return bytes(b[i:])


# --- ockam_transport_tcp -----------------------------------------------------------
# ockam_transport_tcp/src/transport_message.rs: struct TcpTransportMessage {
#     #[n(0)] onward_route: Route, #[n(1)] return_route: Route,
#     #[b(2)] payload: CowBytes, #[n(3)] tracing_context: Option<String> }
# Each side first sends the protocol version byte 1, then u32be length || CBOR.


def tcp_transport_message(onward, ret, payload, tracing=None):
    fields = [onward, ret, bytes(payload)]
    if tracing is not None:
        fields.append(tracing)
    return dumps(fields)


TcpMsg = namedtuple("TcpMsg", "onward ret payload tracing")


def parse_tcp_transport_message(b):
    v = strict(b)
    want(isinstance(v, list) and len(v) in (3, 4), "TcpTransportMessage: %r" % (v,))
    want(is_bytes(v[2]), "TcpTransportMessage payload is not a byte string")
    want(len(v) == 3 or v[3] is None or isinstance(v[3], str), "tracing_context")
    return TcpMsg(parse_route(v[0]), parse_route(v[1]), v[2], v[3] if len(v) == 4 else None)


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("peer closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return bytes(buf)


class Conn:
    """One TCP connection: the version byte each way, then frames."""

    def __init__(self, sock, timeout=20):
        self.sock = sock
        sock.settimeout(timeout)
        self.lock = threading.Lock()
        sock.sendall(b"\x01")
        v = recv_exact(sock, 1)
        if v != b"\x01":
            raise WireError("peer protocol version %r" % v)

    @classmethod
    def connect(cls, host, port, timeout=20):
        return cls(socket.create_connection((host, port), timeout=timeout), timeout)

    def send(self, onward, ret, payload, tracing=None):
        body = tcp_transport_message(onward, ret, payload, tracing)
        with self.lock:
            self.sock.sendall(struct.pack(">I", len(body)) + body)

    def recv(self):
        (n,) = struct.unpack(">I", recv_exact(self.sock, 4))
        want(n <= MAX_FRAME, "frame of %d bytes" % n)
        return parse_tcp_transport_message(recv_exact(self.sock, n))

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


# --- ockam_identity models --------------------------------------------------------
# ockam_vault/src/types/public_keys.rs, signatures.rs: EdDSACurve25519PublicKey,
#     EdDSACurve25519Signature, X25519PublicKey are #[cbor(transparent)] newtypes of a
#     byte array with = "minicbor::bytes"                                -> bytes
# ockam_identity/src/models/timestamp.rs: #[cbor(transparent)] TimestampInSeconds(u64)
# ockam_identity/src/models/identifiers.rs: Identifier, ChangeHash: #[cbor(transparent)],
#     32 bytes with = "minicbor::bytes"                                   -> bytes
ED25519 = 0       # variant 0 of PrimaryPublicKey / ChangeSignature / PurposeKeyAttestationSignature


def versioned_data(version, data_type, data):
    # models/versioned_data.rs: struct VersionedData { #[n(0)] version: u8,
    #     #[n(1)] data_type: u8, #[cbor(with = "minicbor::bytes")] #[n(2)] data: Vec<u8> }
    return [version, data_type, bytes(data)]


CHANGE_DATA_TYPE = 1                    # models/change_history.rs
PURPOSE_KEY_ATTESTATION_DATA_TYPE = 2   # models/purpose_key_attestation.rs


def change_data(previous_change, primary_public_key, revoke_all, valid_from, valid_until):
    # models/change_history.rs: struct ChangeData { #[n(0)] previous_change: Option<ChangeHash>,
    #     #[n(1)] primary_public_key: PrimaryPublicKey, #[n(2)] revoke_all_purpose_keys: bool,
    #     #[n(3)] attestations_valid_from, #[n(4)] attestations_valid_until: TimestampInSeconds }
    # (an absent previous_change in the middle is null)
    return [previous_change, primary_public_key, revoke_all, valid_from, valid_until]


def primary_public_key_ed25519(pk):
    # models/change_history.rs: enum PrimaryPublicKey { #[n(0)] EdDSACurve25519(#[n(0)] ..) }
    return [ED25519, [bytes(pk)]]


def signature_ed25519(sig):
    # enum ChangeSignature / PurposeKeyAttestationSignature { #[n(0)] EdDSACurve25519(#[n(0)] ..) }
    return [ED25519, [bytes(sig)]]


def change(data, signature, previous_signature=None):
    # models/change_history.rs: struct Change { #[cbor(with = "minicbor::bytes")] #[n(0)] data,
    #     #[n(1)] signature: ChangeSignature, #[n(2)] previous_signature: Option<ChangeSignature> }
    # The first change has no previous_signature: a trailing None is left out.
    c = [bytes(data), signature]
    if previous_signature is not None:
        c.append(previous_signature)
    return c


def purpose_public_key_secure_channel(x25519_pub):
    # models/purpose_key_attestation.rs: enum PurposePublicKey {
    #     #[n(0)] SecureChannelStatic(#[n(0)] X25519PublicKey), #[n(1)] CredentialSigning(..) }
    return [0, [bytes(x25519_pub)]]


def purpose_key_attestation_data(subject, latest_change_hash, public_key, created_at, expires_at):
    # models/purpose_key_attestation.rs: struct PurposeKeyAttestationData {
    #     #[n(0)] subject: Identifier, #[n(1)] subject_latest_change_hash: ChangeHash,
    #     #[n(2)] public_key: PurposePublicKey, #[n(3)] created_at, #[n(4)] expires_at }
    return [bytes(subject), bytes(latest_change_hash), public_key, created_at, expires_at]


def purpose_key_attestation(data, signature):
    # models/purpose_key_attestation.rs: struct PurposeKeyAttestation {
    #     #[cbor(with = "minicbor::bytes")] #[n(0)] data: Vec<u8>,
    #     #[n(1)] signature: PurposeKeyAttestationSignature }
    return [bytes(data), signature]


def identity_and_credentials(change_history, attestation, credentials=()):
    # ockam_identity/src/secure_channel/handshake/handshake_state_machine.rs:
    #     struct IdentityAndCredentials { #[n(0)] change_history: ChangeHistory,
    #     #[n(1)] purpose_key_attestation: PurposeKeyAttestation,
    #     #[n(2)] credentials: Vec<CredentialAndPurposeKey> }
    # models/change_history.rs: #[cbor(transparent)] ChangeHistory(Vec<Change>) -> [change...]
    return [change_history, attestation, list(credentials)]


def sha256(b):
    return hashlib.sha256(b).digest()


def raw_pub(priv):
    return priv.public_key().public_bytes(serialization.Encoding.Raw,
                                          serialization.PublicFormat.Raw)


class Identity:
    """An Ed25519 identity: identifier = SHA-256 of the first change's data."""

    def __init__(self, now=None):
        now = int(time.time()) if now is None else now
        self.history = []     # ChangeHistory as a cbor2 value
        self.key = None
        self._add_change(Ed25519PrivateKey.generate(), now)
        self.id = self.change_hash
        self.identifier = "I" + self.id.hex()

    def _add_change(self, key, now):
        prev = self.change_hash if self.history else None
        data = dumps(versioned_data(1, CHANGE_DATA_TYPE, dumps(change_data(
            prev, primary_public_key_ed25519(raw_pub(key)), False, now, now + TEN_YEARS))))
        h = sha256(data)
        prev_sig = signature_ed25519(self.key.sign(h)) if self.history else None
        self.history.append(change(data, signature_ed25519(key.sign(h)), prev_sig))
        self.key, self.change_hash, self.valid_from = key, h, now

    def rotate(self, now=None):
        """A second change: a new primary key, signed by it and by the previous one."""
        self._add_change(Ed25519PrivateKey.generate(), int(time.time()) if now is None else now)

    def attestation(self, x25519_pub, now=None, created=None, expires=None):
        now = int(time.time()) if now is None else now
        created = max(now, self.valid_from) if created is None else created
        expires = created + FIVE_YEARS if expires is None else expires
        data = dumps(versioned_data(1, PURPOSE_KEY_ATTESTATION_DATA_TYPE, dumps(
            purpose_key_attestation_data(self.id, self.change_hash,
                                         purpose_public_key_secure_channel(x25519_pub),
                                         created, expires))))
        return purpose_key_attestation(data, signature_ed25519(self.key.sign(sha256(data))))

    def payload(self, x25519_pub, **kw):
        """The handshake payload of msg2/msg3: CBOR IdentityAndCredentials."""
        return dumps(identity_and_credentials(self.history, self.attestation(x25519_pub, **kw)))


class VerifyError(Exception):
    pass


def parse_signature_ed25519(v, what):
    want(isinstance(v, list) and len(v) == 2 and isinstance(v[1], list) and len(v[1]) == 1,
         "%s is not an enum value: %r" % (what, v))
    if v[0] != ED25519:
        raise VerifyError("%s: variant %r, only Ed25519 is used here" % (what, v[0]))
    want(is_bytes(v[1][0], 64), "%s: not 64 bytes" % what)
    return v[1][0]


def parse_versioned(b, data_type):
    v = strict(b)
    want(isinstance(v, list) and len(v) == 3 and is_uint(v[0], 8) and is_uint(v[1], 8)
         and is_bytes(v[2]), "VersionedData: %r" % (v,))
    if v[0] != 1 or v[1] != data_type:
        raise VerifyError("VersionedData version %r type %r, wanted 1, %d" % (v[0], v[1], data_type))
    return strict(v[2])


def verify_change_history(history):
    """models/change_history.rs; PROTOCOL.md 7. (identifier, latest hash, key, from, until)."""
    want(isinstance(history, list) and history, "ChangeHistory is not a non-empty array")
    prev_hash = key = ident = None
    vfrom = vuntil = 0
    for i, c in enumerate(history):
        want(isinstance(c, list) and len(c) in (2, 3) and is_bytes(c[0]), "Change: %r" % (c,))
        cd = parse_versioned(c[0], CHANGE_DATA_TYPE)
        want(isinstance(cd, list) and len(cd) == 5 and isinstance(cd[2], bool)
             and is_uint(cd[3]) and is_uint(cd[4]), "ChangeData: %r" % (cd,))
        want(cd[0] is None or is_bytes(cd[0], 32), "previous_change")
        if cd[0] != prev_hash:
            raise VerifyError("change %d does not link to the previous one" % i)
        want(isinstance(cd[1], list) and len(cd[1]) == 2 and cd[1][0] == ED25519
             and isinstance(cd[1][1], list) and len(cd[1][1]) == 1 and is_bytes(cd[1][1][0], 32),
             "PrimaryPublicKey is not Ed25519: %r" % (cd[1],))
        pk = cd[1][1][0]
        h = sha256(c[0])
        try:
            Ed25519PublicKey.from_public_bytes(pk).verify(
                parse_signature_ed25519(c[1], "ChangeSignature"), h)
            if i > 0:
                want(len(c) == 3, "change %d lacks previous_signature" % i)
                Ed25519PublicKey.from_public_bytes(key).verify(
                    parse_signature_ed25519(c[2], "previous_signature"), h)
        except Exception as e:
            if isinstance(e, WireError):
                raise
            raise VerifyError("change %d: bad signature" % i) from e
        if i == 0:
            ident = h
        prev_hash, key, vfrom, vuntil = h, pk, cd[3], cd[4]
    return ident, prev_hash, key, vfrom, vuntil


def verify_identity_and_credentials(payload, remote_static, now=None):
    """The checks of PROTOCOL.md 7 on a peer's IdentityAndCredentials; its identifier."""
    now = int(time.time()) if now is None else now
    v = strict(payload)
    want(isinstance(v, list) and len(v) == 3 and isinstance(v[2], list),
         "IdentityAndCredentials: %r" % (v,))
    ident, latest, key, vfrom, vuntil = verify_change_history(v[0])
    att = v[1]
    want(isinstance(att, list) and len(att) == 2 and is_bytes(att[0]), "PurposeKeyAttestation")
    d = parse_versioned(att[0], PURPOSE_KEY_ATTESTATION_DATA_TYPE)
    want(isinstance(d, list) and len(d) == 5 and is_bytes(d[0], 32) and is_bytes(d[1], 32)
         and is_uint(d[3]) and is_uint(d[4]), "PurposeKeyAttestationData: %r" % (d,))
    pub = d[2]
    want(isinstance(pub, list) and len(pub) == 2 and isinstance(pub[1], list)
         and len(pub[1]) == 1 and is_bytes(pub[1][0], 32), "PurposePublicKey: %r" % (pub,))
    if d[0] != ident or d[1] != latest or pub[0] != 0:
        raise VerifyError("attestation subject, change hash or purpose")
    created, expires = d[3], d[4]
    if expires > vuntil or created < vfrom or created > now + 60 or expires < now:
        raise VerifyError("attestation times")
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(
            parse_signature_ed25519(att[1], "PurposeKeyAttestationSignature"), sha256(att[0]))
    except Exception as e:
        if isinstance(e, WireError):
            raise
        raise VerifyError("attestation signature") from e
    if pub[1][0] != remote_static:
        raise VerifyError("attested key is not the Noise static key")
    return "I" + ident.hex()


# --- secure channel messages --------------------------------------------------------
# ockam_identity/src/secure_channel/message.rs:
#   struct SecureChannelPaddedMessage { #[b(0)] message: SecureChannelMessage,
#       #[b(1)] padding: CowBytes }                                   -> [message, bytes]
#   enum SecureChannelMessage { #[b(0)] Payload(#[b(0)] PlaintextPayloadMessage),
#       #[n(1)] RefreshCredentials(#[n(0)] RefreshCredentialsMessage), #[n(2)] Close }
#   struct PlaintextPayloadMessage { #[n(0)] onward_route: Route,
#       #[n(1)] return_route: Route, #[b(2)] payload: CowBytes }
#   struct RefreshCredentialsMessage { #[n(0)] change_history: ChangeHistory,
#       #[n(1)] credentials: Vec<CredentialAndPurposeKey> }
PAYLOAD, REFRESH_CREDENTIALS, CLOSE = 0, 1, 2


def plaintext_payload_message(onward, ret, payload):
    return [onward, ret, bytes(payload)]


def payload_message(onward, ret, payload):
    return [PAYLOAD, [plaintext_payload_message(onward, ret, payload)]]


def refresh_credentials_message(change_history, credentials=()):
    return [REFRESH_CREDENTIALS, [[change_history, list(credentials)]]]


def close_message():
    return [CLOSE, []]


def padded(message, padding=b""):
    return dumps([message, bytes(padding)])


ScMsg = namedtuple("ScMsg", "kind onward ret payload history credentials padding value")


def parse_padded(pt):
    """A SecureChannelPaddedMessage, checked field by field."""
    v = strict(pt)
    want(isinstance(v, list) and len(v) == 2 and is_bytes(v[1]),
         "SecureChannelPaddedMessage is not [message, bytes]: %r" % (v,))
    m = v[0]
    want(isinstance(m, list) and len(m) == 2 and is_uint(m[0]) and isinstance(m[1], list),
         "SecureChannelMessage is not [variant, [fields]]: %r" % (m,))
    kind, fields = m
    if kind == PAYLOAD:
        want(len(fields) == 1, "Payload: %d fields, wanted 1" % len(fields))
        p = fields[0]
        want(isinstance(p, list) and len(p) == 3 and is_bytes(p[2]),
             "PlaintextPayloadMessage: %r" % (p,))
        return ScMsg(kind, parse_route(p[0]), parse_route(p[1]), p[2], None, None, v[1], v)
    if kind == REFRESH_CREDENTIALS:
        want(len(fields) == 1, "RefreshCredentials: %d fields, wanted 1" % len(fields))
        r = fields[0]
        want(isinstance(r, list) and len(r) == 2 and isinstance(r[0], list)
             and isinstance(r[1], list), "RefreshCredentialsMessage: %r" % (r,))
        return ScMsg(kind, None, None, None, r[0], r[1], v[1], v)
    if kind == CLOSE:
        want(fields == [], "Close with fields: %r" % (fields,))
        return ScMsg(kind, None, None, None, None, None, v[1], v)
    raise WireError("unknown SecureChannelMessage variant %d" % kind)


# --- Noise ---------------------------------------------------------------------------


def handshake_state(initiator):
    dh = X25519DH()
    hs = OckamHandshakeState(SymmetricState(CipherState(AESGCMCipher()), SHA256Hash()), dh)
    s = dh.generate_keypair()
    hs.initialize(XXHandshakePattern(), initiator, b"", s=s)
    assert hs.protocol_name == OCKAM_NAME
    return hs, s.public.data


def split(cs, initiator):
    k1, k2 = cs[0]._key, cs[1]._key
    # Ockam: the initiator encrypts with k2, the reverse of Noise's Split()
    return (Encryptor(k2), Decryptor(k1)) if initiator else (Encryptor(k1), Decryptor(k2))


class Initiator:
    """A channel from a foreign client (one TCP connection) to a listener at the
    end of `route` (a Route value: [local("api")], or through a relay
    [local("forward_to_x"), local("api")])."""

    def __init__(self, identity, host, port, route=None, timeout=20, authorized=None):
        self.identity = identity
        self.conn = Conn.connect(host, port, timeout)
        self.dec_addr = rand_addr()
        hs, spub = handshake_state(True)
        buf = bytearray()
        hs.write_message(b"", buf)                                       # -> e
        self.conn.send(route or [local("api")], [self.dec_addr], bytes(buf))
        m2 = self.conn.recv()
        want(m2.onward == [self.dec_addr], "msg2 to %r" % (m2.onward,))
        pl = bytearray()
        hs.read_message(m2.payload, pl)                                  # <- e, ee, s, es
        self.peer = verify_identity_and_credentials(bytes(pl), hs.rs.data)
        if authorized is not None and self.peer not in authorized:
            raise VerifyError("responder %s is not authorized" % self.peer)
        self.remote = m2.ret                                             # ends at their decryptor
        buf = bytearray()
        cs = hs.write_message(identity.payload(spub), buf)               # -> s, se
        self.conn.send(self.remote, [self.dec_addr], bytes(buf))
        self.enc, self.dec = split(cs, True)
        self.sent_plaintexts = []

    def seal_send(self, pt, ret=(), tracing=None):
        wire = self.enc.seal(pt)
        self.sent_plaintexts.append(pt)
        self.conn.send(self.remote, list(ret), wire, tracing)
        return wire

    def send(self, onward, ret, payload, padding=b"", tracing=None):
        """A Payload; returns the wire bytes (nonce || ciphertext). Rust Ockam
        sends a tracing_context (JSON text) in every TCP frame."""
        return self.seal_send(padded(payload_message(onward, ret, payload), padding), (), tracing)

    def refresh(self, identity=None):
        return self.seal_send(padded(refresh_credentials_message(
            (identity or self.identity).history)), [self.dec_addr])

    def recv(self):
        """The next message through the channel, an ScMsg."""
        m = self.conn.recv()
        want(m.onward == [self.dec_addr], "frame to %r" % (m.onward,))
        return parse_padded(self.dec.open(m.payload))

    def close(self):
        self.seal_send(padded(close_message()), [self.dec_addr])
        self.conn.close()


class Responder:
    """A foreign node: a secure channel listener `api` on a TCP server, and the
    services uppercase and echo behind its channels. Every decrypted message
    is kept in `received` (ScMsg), failures in `errors`."""

    def __init__(self, identity, host="127.0.0.1", authorized=None):
        self.identity = identity
        self.authorized = authorized
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((host, 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.conns = []
        self.peers = []          # identifiers of established channels
        self.received = []       # every ScMsg decrypted, in order
        self.handled = 0         # payload messages answered
        self.closed = 0
        self.errors = []
        self.relays = {}         # registration address body -> [event, reply payload]
        self.open = {}           # our decryptor address body -> (conn, channel state)
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self):
        self.stopped = True
        self.lsock.close()
        with self.lock:
            for c in self.conns:
                c.close()

    def _accept(self):
        while True:
            try:
                s, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve_new, args=(s,), daemon=True).start()

    def _serve_new(self, s):
        try:
            conn = Conn(s, timeout=None)
        except (OSError, WireError):
            s.close()
            return
        self._serve(conn)

    def register_relay(self, host, port, name, timeout=10):
        """Registers `name` at a node's static_forwarding_service over a TCP
        connection it opens, then serves what the relay sends along it.
        Returns the BARE reply, `forward_to_<name>`."""
        conn = Conn.connect(host, port, timeout)
        conn.sock.settimeout(None)
        reg = rand_addr()
        ev = threading.Event()
        self.relays[reg[1]] = [ev, None]
        threading.Thread(target=self._serve, args=(conn,), daemon=True).start()
        # ockam/src/relay_service/relay_service.rs: type Message = String (BARE)
        conn.send([local("static_forwarding_service")], [reg], bare(name))
        if not ev.wait(timeout):
            raise TimeoutError("no reply from the relay service")
        return unbare(self.relays[reg[1]][1]).decode()

    def close_all(self):
        """Closes every open channel from this side: an encrypted Close each."""
        for body, (conn, ch) in list(self.open.items()):
            conn.send(ch[1], [local(body)], ch[0][0].seal(padded(close_message())))
            del self.open[body]

    def _serve(self, conn):
        with self.lock:
            if self.stopped:
                conn.close()
                return
            self.conns.append(conn)
        chans = {}     # our decryptor address body -> [handshake or (enc, dec), remote route]
        try:
            while True:
                m = conn.recv()
                if not m.onward:
                    continue                                             # heartbeat
                body = m.onward[0][1]
                if body in self.relays:
                    self.relays[body][1] = m.payload
                    self.relays[body][0].set()
                    continue
                if m.onward == [local("api")]:
                    hs, spub = handshake_state(False)
                    hs.read_message(m.payload, bytearray())              # -> e
                    buf = bytearray()
                    hs.write_message(self.identity.payload(spub), buf)   # <- e, ee, s, es
                    addr = rand_addr()
                    chans[addr[1]] = [hs, m.ret]
                    conn.send(m.ret, [addr], bytes(buf))
                    continue
                ch = chans.get(body)
                if ch is None or len(m.onward) != 1:
                    continue
                if isinstance(ch[0], OckamHandshakeState):
                    hs = ch[0]
                    pl = bytearray()
                    cs = hs.read_message(m.payload, pl)                  # -> s, se
                    peer = verify_identity_and_credentials(bytes(pl), hs.rs.data)
                    if self.authorized is not None and peer not in self.authorized:
                        del chans[body]                                  # silently
                        continue
                    self.peers.append(peer)
                    ch[0] = split(cs, False)
                    self.open[body] = (conn, ch)
                    continue
                enc, dec = ch[0]
                msg = parse_padded(dec.open(m.payload))
                self.received.append(msg)
                if msg.kind == CLOSE:
                    self.closed += 1
                    del chans[body]
                    self.open.pop(body, None)
                    continue
                if msg.kind != PAYLOAD or not msg.onward:
                    continue
                svc = msg.onward[0]
                if svc == local("uppercase"):
                    out = bare(unbare(msg.payload).upper())
                elif svc == local("echo"):
                    out = msg.payload
                else:
                    continue
                self.handled += 1
                conn.send(ch[1], [], enc.seal(padded(payload_message(msg.ret, [svc], out))))
        except Exception as e:  # the test reads errors; the thread must not die loudly
            if not (isinstance(e, (ConnectionError, OSError)) or self.stopped):
                self.errors.append(repr(e))
        finally:
            conn.close()
