#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Independent peer for tests/unit/test_noise_interop.c.

Runs the other side of an Ockam secure-channel handshake with Debian's
python3-dissononce (Noise XX, X25519, AESGCM, SHA256, but with Ockam's
protocol name), then the transport phase with a separate re-implementation
of Ockam's framing, rekey-every-32 and nonce window (PROTOCOL.md 5).

Line protocol on stdin/stdout, one hex string per line:
  handshake: the three messages in XX order, each written by its sender;
  then this side prints "hash <h> rs <remote static>";
  transport: for every frame read from the C side, print one frame back
  whose payload is b"echo:" + the received payload; "done" ends the run.
Exit status 0 only if everything checked out.

Usage: noise_interop.py initiator|responder
"""
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from dissononce.cipher.aesgcm import AESGCMCipher
from dissononce.dh.x25519.x25519 import X25519DH
from dissononce.hash.sha256 import SHA256Hash
from dissononce.processing.handshakepatterns.interactive.XX import XXHandshakePattern
from dissononce.processing.impl.cipherstate import CipherState
from dissononce.processing.impl.handshakestate import HandshakeState
from dissononce.processing.impl.symmetricstate import SymmetricState

OCKAM_NAME = "OCKAM_XX_25519_AES256_GCM_SHA256"
INTERVAL = 32
WINDOW = 32
MAX_NONCE = 2**64 - 1


class OckamHandshakeState(HandshakeState):
    """dissononce builds the name from components; Ockam's is not of that form."""

    def _derive_protocol_name(self, handshake_pattern_name):
        return OCKAM_NAME


def nonce12(n):
    return b"\x00" * 4 + n.to_bytes(8, "big")


def rekey(k):
    return AESGCM(k).encrypt(nonce12(MAX_NONCE), b"\x00" * 32, b"")[:32]


class Encryptor:
    def __init__(self, key):
        self.key, self.n = key, 0

    def seal(self, pt):
        if self.n > 0 and self.n % INTERVAL == 0:
            self.key = rekey(self.key)
        wire = self.n.to_bytes(8, "big") + AESGCM(self.key).encrypt(nonce12(self.n), pt, b"")
        self.n += 1
        return wire


class Decryptor:
    def __init__(self, key):
        self.cur, self.prev, self.epoch = key, None, 0
        self.top, self.seen = None, set()

    def open(self, wire):
        if len(wire) < 24:
            raise ValueError("short frame")
        n = int.from_bytes(wire[:8], "big")
        start = self.epoch * INTERVAL
        nxt = False
        if n >= start:
            if n - start < INTERVAL:
                key = self.cur
            elif n - start < 2 * INTERVAL:
                key, nxt = rekey(self.cur), True
            else:
                raise ValueError("nonce %d too far ahead" % n)
        elif start - n <= INTERVAL and self.prev is not None:
            key = self.prev
        else:
            raise ValueError("nonce %d too old" % n)
        if self.top is not None and (n <= self.top - WINDOW or n in self.seen):
            raise ValueError("replayed nonce %d" % n)
        pt = AESGCM(key).decrypt(nonce12(n), wire[8:], b"")  # raises on forgery
        if nxt:
            self.prev, self.cur, self.epoch = self.cur, key, self.epoch + 1
        self.top = n if self.top is None else max(self.top, n)
        self.seen = {x for x in self.seen | {n} if x > self.top - WINDOW}
        return pt


def readline():
    line = sys.stdin.readline()
    if not line:
        sys.exit("peer closed the pipe")
    return line.strip()


def send(hexstr):
    sys.stdout.write(hexstr + "\n")
    sys.stdout.flush()


def main():
    role = sys.argv[1]
    initiator = role == "initiator"
    dh = X25519DH()
    hs = OckamHandshakeState(SymmetricState(CipherState(AESGCMCipher()), SHA256Hash()), dh)
    hs.initialize(XXHandshakePattern(), initiator, b"", s=dh.generate_keypair())
    assert hs.protocol_name == OCKAM_NAME

    payload = b"dissononce-" + role.encode()
    cs = None
    for i in range(3):
        if (i % 2 == 0) == initiator:
            buf = bytearray()
            cs = hs.write_message(payload if i else b"", buf)
            send(bytes(buf).hex())
        else:
            pl = bytearray()
            cs = hs.read_message(bytes.fromhex(readline()), pl)
            want = b"sluice-" + (b"responder" if initiator else b"initiator") if i else b""
            if bytes(pl) != want:
                sys.exit("unexpected payload %r in message %d" % (bytes(pl), i + 1))
    c1, c2 = cs
    k1, k2 = c1._key, c2._key
    # Ockam: the initiator encrypts with k2 (the reverse of Noise's Split)
    enc = Encryptor(k2 if initiator else k1)
    dec = Decryptor(k1 if initiator else k2)
    send("hash %s rs %s" % (hs.symmetricstate.get_handshake_hash().hex(), hs.rs.data.hex()))

    frames = 0
    while True:
        line = readline()
        if line == "done":
            break
        pt = dec.open(bytes.fromhex(line))
        send(enc.seal(b"echo:" + pt).hex())
        frames += 1
    sys.stderr.write("noise_interop.py: %s handled %d frames\n" % (role, frames))
    return 0


if __name__ == "__main__":
    sys.exit(main())
