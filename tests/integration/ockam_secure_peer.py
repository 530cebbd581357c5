#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""An independent Ockam secure-channel peer, for interop tests against Sluice.

Written from PROTOCOL.md sections 5 and 7 (no Sluice code): Noise XX from
Debian's python3-dissononce under Ockam's protocol name (as noise_interop.py
sets it up), Ed25519 and AES-GCM from python3-cryptography, identities,
purpose-key attestations and IdentityAndCredentials built and verified here,
and the TCP framing of ockam_peer.py.

  Identity()                     a fresh Ed25519 identity (identifier, change history)
  Initiator(identity, host, port, listener="api")
                                 opens a channel to a Sluice listener over one TCP connection
  Responder(identity)            a TCP server: a listener `api` answering msg1 with msg2, and
                                 an uppercase/echo service reached through the channel
"""
import hashlib
import os
import socket
import threading
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,
                                                               Ed25519PublicKey)
from cryptography.hazmat.primitives import serialization
from dissononce.cipher.aesgcm import AESGCMCipher
from dissononce.dh.x25519.x25519 import X25519DH
from dissononce.hash.sha256 import SHA256Hash
from dissononce.processing.handshakepatterns.interactive.XX import XXHandshakePattern
from dissononce.processing.impl.cipherstate import CipherState
from dissononce.processing.impl.symmetricstate import SymmetricState

import ockam_peer as op
from noise_interop import OCKAM_NAME, Decryptor, Encryptor, OckamHandshakeState

TEN_YEARS = 10 * 365 * 24 * 3600
FIVE_YEARS = 5 * 365 * 24 * 3600


def sha256(b):
    return hashlib.sha256(b).digest()


def raw_pub(priv):
    return priv.public_key().public_bytes(serialization.Encoding.Raw,
                                          serialization.PublicFormat.Raw)


def versioned(data_type, inner):
    return op.cbor([1, data_type, op.cbor(inner) if not isinstance(inner, bytes) else inner])


class Identity:
    """PROTOCOL.md 7: one Ed25519 change, identifier = SHA-256 of its data."""

    def __init__(self, now=None):
        now = int(time.time()) if now is None else now
        self.key = Ed25519PrivateKey.generate()
        pk = raw_pub(self.key)
        change_data = [None, [0, [pk]], False, now, now + TEN_YEARS]
        self.data = versioned(1, change_data)
        self.change_hash = sha256(self.data)
        self.id = self.change_hash
        sig = self.key.sign(self.change_hash)
        self.history = op.cbor([[self.data, [0, [sig]]]])
        self.identifier = "I" + self.id.hex()

    def attest(self, x25519_pub, now=None, created=None, expires=None):
        now = int(time.time()) if now is None else now
        created = now if created is None else created
        expires = now + FIVE_YEARS if expires is None else expires
        data = versioned(2, [self.id, self.change_hash, [0, [x25519_pub]], created, expires])
        return op.cbor([data, [0, [self.key.sign(sha256(data))]]])

    def payload(self, x25519_pub, **kw):
        # IdentityAndCredentials = [change_history, attestation, []]
        return op.cbor([op.uncbor(self.history)[0], op.uncbor(self.attest(x25519_pub, **kw))[0], []])


class VerifyError(Exception):
    pass


def verify_payload(payload, remote_static, now=None):
    """The checks of PROTOCOL.md 7 on a peer's IdentityAndCredentials; its identifier."""
    now = int(time.time()) if now is None else now
    (history, attestation, _creds), _ = op.uncbor(payload)
    prev_hash, key, vfrom, vuntil = None, None, 0, 0
    ident = None
    for i, change in enumerate(history):
        data, sig = change[0], change[1]
        version, dtype, inner = op.uncbor(data)[0]
        if version != 1 or dtype != 1:
            raise VerifyError("change version/type")
        cd = op.uncbor(inner)[0]
        if (cd[0] if cd[0] is not None else None) != prev_hash:
            raise VerifyError("change link")
        kvar, (new_key,) = cd[1]
        if kvar != 0:
            raise VerifyError("not Ed25519")
        h = sha256(data)
        Ed25519PublicKey.from_public_bytes(new_key).verify(sig[1][0], h)
        if i > 0:
            Ed25519PublicKey.from_public_bytes(key).verify(change[2][1][0], h)
        if i == 0:
            ident = h
        prev_hash, key, vfrom, vuntil = h, new_key, cd[3], cd[4]
    adata, asig = attestation
    version, dtype, inner = op.uncbor(adata)[0]
    subject, latest, (pvar, (x,)), created, expires = op.uncbor(inner)[0]
    if version != 1 or dtype != 2 or subject != ident or latest != prev_hash or pvar != 0:
        raise VerifyError("attestation fields")
    if expires > vuntil or created < vfrom or created > now + 60 or expires < now:
        raise VerifyError("attestation times")
    Ed25519PublicKey.from_public_bytes(key).verify(asig[1][0], sha256(adata))
    if x != remote_static:
        raise VerifyError("attested key is not the Noise static key")
    return "I" + ident.hex()


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


def padded_payload(onward, ret, payload):
    # minicbor's enum: [variant, [fields...]]; Payload's one field is the struct
    return op.cbor([[0, [[onward, ret, payload]]], b""])


def unpad(pt):
    """(kind, fields): for Payload and RefreshCredentials, the struct's fields."""
    (msg, padding), end = op.uncbor(pt)
    if end != len(pt) or not isinstance(padding, bytes):
        raise ValueError("trailing bytes or padding not a byte string")
    kind, fields = msg
    if kind in (0, 1):
        if len(fields) != 1:
            raise ValueError("variant %d: expected one field, got %d" % (kind, len(fields)))
        fields = fields[0]
    return kind, fields


def rand_addr():
    return os.urandom(16).hex()


class Initiator:
    """A foreign initiator over one TCP connection (the peer is a client, not a node)."""

    def __init__(self, identity, host, port, listener="api", timeout=10):
        self.identity = identity
        self.client = op.Client(host, port, timeout=timeout)
        self.dec_addr = rand_addr()
        hs, spub = handshake_state(True)
        buf = bytearray()
        hs.write_message(b"", buf)                                   # -> e
        # listener: a name, or a whole route (e.g. [forward_to_x, api] through a relay)
        to = [op.local(a) for a in listener] if isinstance(listener, list) else [op.local(listener)]
        self.client.send(to, [op.local(self.dec_addr)], bytes(buf))
        onward, ret, msg2 = self.client.recv()
        assert onward == [op.local(self.dec_addr)], onward
        pl = bytearray()
        hs.read_message(msg2, pl)                                    # <- e, ee, s, es
        self.peer = verify_payload(bytes(pl), hs.rs.data)
        self.remote = ret                                            # the responder's decryptor
        buf = bytearray()
        cs = hs.write_message(identity.payload(spub), buf)           # -> s, se
        self.client.send(self.remote, [op.local(self.dec_addr)], bytes(buf))
        self.enc, self.dec = split(cs, True)

    def send(self, onward, ret, payload):
        wire = self.enc.seal(padded_payload(onward, ret, payload))
        self.client.send(self.remote, [], wire)
        return wire

    def recv(self):
        onward, ret, wire = self.client.recv()
        return unpad(self.dec.open(wire))

    def refresh(self, history):
        """RefreshCredentials (message.rs: variant 1, one field, the struct
        RefreshCredentialsMessage [change_history, credentials])."""
        pt = op.cbor([[1, [[op.uncbor(history)[0], []]]], b""])
        self.client.send(self.remote, [op.local(self.dec_addr)], self.enc.seal(pt))

    def close(self):
        self.client.send(self.remote, [op.local(self.dec_addr)],
                         self.enc.seal(op.cbor([[2, []], b""])))
        self.client.close()


class Responder:
    """A foreign node with a secure channel listener `api` and the services
    uppercase and echo behind its channels. `seen` keeps every plaintext."""

    def __init__(self, identity, host="127.0.0.1", authorized=None):
        self.identity = identity
        self.authorized = authorized
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((host, 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.peers = []          # identifiers of established channels
        self.handled = 0         # payload messages answered
        self.closed = 0
        self.errors = []
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self):
        self.lsock.close()

    def _accept(self):
        while True:
            try:
                s, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    def _send(self, s, onward, ret, payload):
        s.sendall(op.frame(onward, ret, payload))

    def register_at(self, host, port, name, timeout=10):
        """Reach this responder through a relay node: connect out, register the
        static relay `name` (a BARE string to static_forwarding_service, as
        ockam/src/relay_service/relay_service.rs takes it), then serve channels
        over that connection. Returns the relay's address, forward_to_<name>."""
        s = socket.create_connection((host, port), timeout=timeout)
        s.sendall(b"\x01")
        if op._recv_exact(s, 1) != b"\x01":
            raise ValueError("relay node protocol version")
        self._send(s, [op.local("static_forwarding_service")], [op.local("registrar")],
                   op.bare(name))
        onward, _ret, reply = op.read_frame(s)
        assert onward == [op.local("registrar")], onward
        s.settimeout(None)
        threading.Thread(target=self._serve, args=(s, False), daemon=True).start()
        return op.unbare(reply).decode()

    def _serve(self, s, greet=True):
        chans = {}     # our decryptor address -> [handshake or (enc, dec), remote route]
        try:
            if greet:
                s.sendall(b"\x01")
                if op._recv_exact(s, 1) != b"\x01":
                    return
            while True:
                onward, ret, payload = op.read_frame(s)
                if not onward:
                    continue
                tt, body = onward[0]
                if body == b"api":
                    hs, spub = handshake_state(False)
                    hs.read_message(payload, bytearray())            # -> e
                    buf = bytearray()
                    hs.write_message(self.identity.payload(spub), buf)  # <- e, ee, s, es
                    addr = rand_addr()
                    chans[addr.encode()] = [hs, ret]
                    self._send(s, ret, [op.local(addr)], bytes(buf))
                    continue
                ch = chans.get(body)
                if ch is None:
                    continue
                if isinstance(ch[0], OckamHandshakeState):
                    hs = ch[0]
                    pl = bytearray()
                    cs = hs.read_message(payload, pl)                # -> s, se
                    peer = verify_payload(bytes(pl), hs.rs.data)
                    if self.authorized is not None and peer not in self.authorized:
                        del chans[body]                              # silently
                        continue
                    self.peers.append(peer)
                    ch[0] = split(cs, False)
                    continue
                enc, dec = ch[0]
                kind, fields = unpad(dec.open(payload))
                if kind == 2:
                    self.closed += 1
                    del chans[body]
                    continue
                if kind != 0:
                    continue
                in_onward, in_ret, data = fields
                svc = in_onward[0][1] if in_onward else b""
                if svc == b"uppercase":
                    out = op.bare(op.unbare(data).upper())
                elif svc == b"echo":
                    out = data
                else:
                    continue
                self.handled += 1
                wire = enc.seal(padded_payload(in_ret, [op.local(svc.decode())], out))
                self._send(s, ch[1], [], wire)
        except Exception as e:  # the test reads errors, the thread must not die loudly
            if not isinstance(e, (ConnectionError, OSError)):
                self.errors.append(repr(e))
        finally:
            s.close()
