#!/usr/bin/python3
"""Identities with ECDSA P-256 primary keys, built without Sluice.

Writes p256-identity.txt (next to this script) for tests/unit/test_identity.c:
change histories and purpose-key attestations, valid ones and broken ones,
encoded from Ockam's type definitions (ockam_identity/src/models/*.rs,
PROTOCOL.md 7) with python3-cbor2 and signed with python3-cryptography
(OpenSSL). Run it with Debian's python3: `tests/vectors/make_p256_identity.py`.

Ockam's semantics followed here (ockam_vault's software verifier, p256 crate):
- every signature is over the 32-byte SHA-256 of the signed `data` bytes; a
  P-256 signature is ECDSA-SHA256 of those 32 bytes, so they are hashed again;
- a P-256 key is the 65-byte SEC1 uncompressed point 0x04 || x || y, any
  other length does not decode; a signature is r || s, 32 bytes each;
- minicbor's enums are [variant, [fields...]]: key `[1, [bytes65]]`.

ECDSA signatures are randomised, so a new run writes new signatures (the keys,
hashes and identifiers stay the same). Every valid case is checked here with
OpenSSL before it is written, every bad point is refused by OpenSSL too.

Lines (values lowercase hex):
  history NAME EXPECT HEX            EXPECT: valid | bad_signature |
                                             bad_encoding | bad_point
  identifier NAME I<hex>             for the valid histories
  attestation NAME HISTORY EXPECT X25519_PUB NOW HEX
"""
import hashlib
from importlib import metadata
import os
import sys

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature, encode_dss_signature)

HERE = os.path.dirname(os.path.abspath(__file__))

ED25519, P256 = 0, 1              # PrimaryPublicKey / ChangeSignature variants
CHANGE_DATA, PURPOSE_KEY_DATA = 1, 2   # VersionedData data_type
SECURE_CHANNEL_STATIC = 0         # PurposePublicKey variant

# NIST P-256 (SEC 2 / FIPS 186)
P = 2**256 - 2**224 + 2**192 + 2**96 - 1
B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b
N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551

T0 = 1700000000
TEN_YEARS = 315360000
FIVE_YEARS = 157680000


def sha256(b):
    return hashlib.sha256(b).digest()


def scalar(label):
    """A fixed P-256 private key, so the keys and identifiers are stable."""
    return int.from_bytes(sha256(b"sluice p256 vector " + label), "big") % (N - 1) + 1


class P256Key:
    def __init__(self, label):
        self.sk = ec.derive_private_key(scalar(label), ec.SECP256R1())
        self.pk = self.sk.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        assert len(self.pk) == 65 and self.pk[0] == 4
        self.kind = P256

    def sign(self, msg):
        # ECDSA with SHA-256 hashes msg (itself a 32-byte hash) once more
        r, s = decode_dss_signature(self.sk.sign(msg, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


class Ed25519Key:
    def __init__(self, label):
        self.sk = ed25519.Ed25519PrivateKey.from_private_bytes(sha256(b"sluice ed25519 " + label))
        self.pk = self.sk.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.kind = ED25519

    def sign(self, msg):
        return self.sk.sign(msg)


def p256_verify(pk, sig, msg):
    """OpenSSL's opinion, as an independent check of what gets written."""
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), pk)
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        key.verify(der, msg, ec.ECDSA(hashes.SHA256()))
        return True
    except (InvalidSignature, ValueError):
        return False


def ed25519_verify(pk, sig, msg):
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(pk).verify(sig, msg)
        return True
    except InvalidSignature:
        return False


def verify(kind, pk, sig_kind, sig, msg):
    if kind != sig_kind:
        return False
    return (p256_verify if kind == P256 else ed25519_verify)(pk, sig, msg)


def enum(variant, value):
    return [variant, [value]]


def versioned(data_type, inner):
    return cbor2.dumps([1, data_type, cbor2.dumps(inner)])


def change_data(prev_hash, kind, pk, valid_from, revoke=False, valid_until=None):
    if valid_until is None:
        valid_until = valid_from + TEN_YEARS
    return versioned(CHANGE_DATA, [prev_hash, enum(kind, pk), revoke, valid_from, valid_until])


class Change:
    """data, signature (kind, bytes), previous_signature or None."""

    def __init__(self, data, sig, prev_sig=None):
        self.data, self.sig, self.prev_sig = data, sig, prev_sig

    @property
    def hash(self):
        return sha256(self.data)

    def cbor(self):
        c = [self.data, enum(*self.sig)]
        if self.prev_sig:
            c.append(enum(*self.prev_sig))
        return c


def make_change(key, prev=None, prev_key=None, valid_from=T0, **kw):
    data = change_data(prev.hash if prev else None, key.kind, key.pk, valid_from, **kw)
    h = sha256(data)
    prev_sig = (prev_key.kind, prev_key.sign(h)) if prev_key else None
    return Change(data, (key.kind, key.sign(h)), prev_sig)


def history(*changes):
    return cbor2.dumps([c.cbor() for c in changes])


def identifier(changes):
    return "I" + changes[0].hash.hex()


def chain_ok(changes):
    """Ockam's rules (identity_verification.rs), to cross-check the valid cases."""
    prev_kind = prev_pk = None
    for i, c in enumerate(changes):
        ver, dtype, inner = cbor2.loads(c.data)
        prev_hash, (kind, (pk,)), _, _, _ = cbor2.loads(inner)
        if ver != 1 or dtype != CHANGE_DATA or (prev_hash is None) != (i == 0):
            return False
        if i and (prev_hash != changes[i - 1].hash or not c.prev_sig or
                  not verify(prev_kind, prev_pk, *c.prev_sig, c.hash)):
            return False
        if not verify(kind, pk, *c.sig, c.hash):
            return False
        prev_kind, prev_pk = kind, pk
    return True


def flip(b, i):
    b = bytearray(b)
    b[i] ^= 0x01
    return bytes(b)


def small_x_point():
    """A point whose x is below 2^256 - p, so x + p still fits in 32 bytes."""
    for x in range(1, 1000):
        rhs = (x**3 - 3 * x + B) % P
        y = pow(rhs, (P + 1) // 4, P)       # p = 3 mod 4
        if y * y % P == rhs:
            return x, y
    raise SystemExit("no small-x point found")


def attestation(subject_changes, key, x25519_pub, created, expires, sig_kind=None):
    data = versioned(PURPOSE_KEY_DATA, [
        subject_changes[0].hash, subject_changes[-1].hash,
        enum(SECURE_CHANNEL_STATIC, x25519_pub), created, expires])
    sig = key.sign(sha256(data))
    return data, (sig_kind if sig_kind is not None else key.kind, sig)


def main():
    k1, k2 = P256Key(b"1"), P256Key(b"2")
    stranger = P256Key(b"stranger")
    e1 = Ed25519Key(b"1")
    xsk = x25519.X25519PrivateKey.from_private_bytes(sha256(b"sluice x25519 purpose key"))
    xpub = xsk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    out = ["# " + __doc__.strip().splitlines()[0],
           "# generated by tests/vectors/make_p256_identity.py (python3-cbor2 %s, python3-cryptography %s)"
           % (metadata.version("cbor2"), metadata.version("cryptography")),
           "# T0 = %d; changes valid 10 years, attestations 5 years" % T0]
    histories = {}

    def add(name, expect, changes, raw=None):
        if expect == "valid":
            assert chain_ok(changes), name
        elif changes is not None and raw is None:
            assert not chain_ok(changes), name
        blob = raw if raw is not None else history(*changes)
        histories[name] = changes
        out.append("history %s %s %s" % (name, expect, blob.hex()))
        if expect == "valid":
            out.append("identifier %s %s" % (name, identifier(changes)))

    # valid: one P-256 change; and the same signature with s replaced by n - s
    c0 = make_change(k1)
    add("p256_single", "valid", [c0])
    r, s = c0.sig[1][:32], int.from_bytes(c0.sig[1][32:], "big")
    high = Change(c0.data, (P256, r + (N - s).to_bytes(32, "big")))
    add("p256_single_other_s", "valid", [high])

    # valid: rotations across key types, and P-256 to P-256
    c1_ed = make_change(e1, prev=c0, prev_key=k1, valid_from=T0 + 100)
    add("p256_then_ed25519", "valid", [c0, c1_ed])
    e0 = make_change(e1)
    c1_p = make_change(k2, prev=e0, prev_key=e1, valid_from=T0 + 100)
    add("ed25519_then_p256", "valid", [e0, c1_p])
    c1_pp = make_change(k2, prev=c0, prev_key=k1, valid_from=T0 + 100)
    add("p256_then_p256", "valid", [c0, c1_pp])

    # tampered signatures: a bit of r, of s, of a previous_signature
    add("p256_single_bad_r", "bad_signature", [Change(c0.data, (P256, flip(c0.sig[1], 5)))])
    add("p256_single_bad_s", "bad_signature", [Change(c0.data, (P256, flip(c0.sig[1], 40)))])
    add("p256_then_ed25519_bad_previous_signature", "bad_signature",
        [c0, Change(c1_ed.data, c1_ed.sig, (P256, flip(c1_ed.prev_sig[1], 7)))])
    add("ed25519_then_p256_bad_signature", "bad_signature",
        [e0, Change(c1_p.data, (P256, flip(c1_p.sig[1], 63)), c1_p.prev_sig)])
    add("p256_then_p256_previous_signature_by_new_key", "bad_signature",
        [c0, Change(c1_pp.data, c1_pp.sig, (P256, k2.sign(c1_pp.hash)))])
    # r = 0 and s = n: out of range, never valid
    add("p256_single_r_zero", "bad_signature",
        [Change(c0.data, (P256, bytes(32) + c0.sig[1][32:]))])
    add("p256_single_s_n", "bad_signature",
        [Change(c0.data, (P256, r + N.to_bytes(32, "big")))])
    # a P-256 key with an Ed25519-typed signature
    add("p256_key_ed25519_signature", "bad_signature", [Change(c0.data, (ED25519, c0.sig[1]))])

    # tampered data: the signed bytes change, the signature stays
    add("p256_single_tampered_until", "bad_signature",
        [Change(change_data(None, P256, k1.pk, T0, valid_until=T0 + TEN_YEARS + 1), c0.sig)])
    add("p256_then_ed25519_tampered_revoke", "bad_signature",
        [c0, Change(change_data(c0.hash, ED25519, e1.pk, T0 + 100, revoke=True),
                    c1_ed.sig, c1_ed.prev_sig)])
    add("p256_single_other_key", "bad_signature",
        [Change(change_data(None, P256, k2.pk, T0), c0.sig)])

    # wrong lengths: nothing but 65-byte keys and 64-byte signatures decodes
    compressed = k1.sk.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    for name, pk in (("p256_key_compressed_33", compressed), ("p256_key_raw_64", k1.pk[1:]),
                     ("p256_key_66", k1.pk + b"\x00"), ("p256_key_32", k1.pk[1:33])):
        d = change_data(None, P256, pk, T0)
        add(name, "bad_encoding", None, history(Change(d, (P256, k1.sign(sha256(d))))))
    add("p256_signature_63", "bad_encoding", None, history(Change(c0.data, (P256, c0.sig[1][:63]))))
    add("p256_signature_65", "bad_encoding", None,
        history(Change(c0.data, (P256, c0.sig[1] + b"\x00"))))

    # 65 bytes that are no valid point: signed anyway (the signature cannot help them)
    x, y = int.from_bytes(k1.pk[1:33], "big"), int.from_bytes(k1.pk[33:], "big")
    sx, sy = small_x_point()
    bad_points = {
        "p256_point_not_on_curve": b"\x04" + k1.pk[1:33] + ((y + 1) % P).to_bytes(32, "big"),
        "p256_point_x_plus_p": b"\x04" + (sx + P).to_bytes(32, "big") + sy.to_bytes(32, "big"),
        "p256_point_prefix_03": b"\x03" + k1.pk[1:],
        "p256_point_zero": bytes(65),
        "p256_point_x_is_p": b"\x04" + P.to_bytes(32, "big") + k1.pk[33:],
    }
    assert (sy * sy - (sx**3 - 3 * sx + B)) % P == 0 and sx + P < 2**256
    for name, pk in bad_points.items():
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), pk)
            raise SystemExit("OpenSSL accepted " + name)
        except ValueError:
            pass
        d = change_data(None, P256, pk, T0)
        add(name, "bad_point", [Change(d, (P256, k1.sign(sha256(d))))])
    # the later change's key is no point: its own signature is what fails
    bad = bad_points["p256_point_not_on_curve"]
    d = change_data(c0.hash, P256, bad, T0 + 100)
    add("p256_then_bad_point", "bad_point",
        [c0, Change(d, (P256, k2.sign(sha256(d))), (P256, k1.sign(sha256(d))))])

    # attestations of the X25519 secure-channel key; verified at NOW
    now = T0 + 300
    created, expires = T0 + 200, T0 + 200 + FIVE_YEARS
    atts = [
        ("att_p256", "p256_single", "valid", k1, None),
        ("att_p256_rotated_in", "ed25519_then_p256", "valid", k2, None),
        ("att_ed25519_after_p256", "p256_then_ed25519", "valid", e1, None),
        ("att_p256_after_p256", "p256_then_p256", "valid", k2, None),
        ("att_by_replaced_p256_key", "p256_then_ed25519", "bad_signature", k1, None),
        ("att_by_previous_p256_key", "p256_then_p256", "bad_signature", k1, None),
        ("att_by_stranger", "p256_single", "bad_signature", stranger, None),
        ("att_p256_typed_ed25519", "p256_single", "bad_signature", k1, ED25519),
    ]
    for name, hname, expect, key, sig_kind in atts:
        changes = histories[hname]
        data, sig = attestation(changes, key, xpub, created, expires, sig_kind)
        latest = cbor2.loads(cbor2.loads(changes[-1].data)[2])[1]
        ok = verify(latest[0], latest[1][0], *sig, sha256(data))
        assert ok == (expect == "valid"), name
        out.append("attestation %s %s %s %s %d %s" % (
            name, hname, expect, xpub.hex(), now, cbor2.dumps([data, enum(*sig)]).hex()))
    data, sig = attestation(histories["p256_single"], k1, xpub, created, expires)
    out.append("attestation att_p256_bad_signature p256_single bad_signature %s %d %s" % (
        xpub.hex(), now, cbor2.dumps([data, enum(sig[0], flip(sig[1], 50))]).hex()))

    # Ockam's own P-256 identity (ockam-wire-vectors.txt B): OpenSSL agrees it verifies
    with open(os.path.join(HERE, "ockam-wire-vectors.txt")) as f:
        ockam = [l.split()[1] for l in f if l.startswith("change_history ")][1]
    changes = [Change(d, (s[0], s[1][0]), None) for d, s, *_ in cbor2.loads(bytes.fromhex(ockam))]
    assert chain_ok(changes) and changes[0].sig[0] == P256
    out.append("# ockam-wire-vectors.txt B (orchestrator, P-256) verified here with OpenSSL: %s"
               % identifier(changes))

    with open(os.path.join(HERE, "p256-identity.txt"), "w") as f:
        f.write("\n".join(out) + "\n")
    print("wrote %d lines" % len(out), file=sys.stderr)


if __name__ == "__main__":
    main()
