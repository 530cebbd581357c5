"""An independent implementation of the routing layer of the Ockam wire protocol.

Written from PROTOCOL.md sections 1-3 alone (no Sluice code), so that tests can
check Sluice against a second implementation: a foreign client that talks to a
Sluice node, and a foreign node (echo, uppercase, hop, TCP routing) that Sluice
nodes route through. CBOR comes from Debian's python3-cbor2.
"""

import io
import os
import socket
import struct
import threading

import cbor2

# --- CBOR ---------------------------------------------------------------------
# Debian's python3-cbor2, a general CBOR library: no CBOR of Sluice's or of ours.
# Python lists are definite-length arrays, bytes byte strings, ints shortest
# form: what minicbor writes for Ockam's derived structs and enums.


class CborError(ValueError):
    pass


def cbor(v):
    return cbor2.dumps(v)


def uncbor(buf, i=0):
    """Decode one item at buf[i:]; returns (value, next index)."""
    fp = io.BytesIO(bytes(buf[i:]))
    try:
        v = cbor2.CBORDecoder(fp).decode()
    except (cbor2.CBORDecodeError, EOFError) as e:
        raise CborError(str(e)) from e
    return v, i + fp.tell()


# --- BARE ------------------------------------------------------------------


def bare(b):
    if isinstance(b, str):
        b = b.encode()
    n, out = len(b), bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            break
    return bytes(out) + b


def unbare(b):
    n = shift = i = 0
    while True:
        byte = b[i]
        n |= (byte & 0x7F) << shift
        i += 1
        shift += 7
        if not byte & 0x80:
            break
    if i + n > len(b):
        raise ValueError("truncated BARE vector")
    return b[i:i + n]


# --- addresses, frames ------------------------------------------------------


def local(name):
    return [0, name.encode() if isinstance(name, str) else name]


def tcp(hostport):
    return [1, hostport.encode()]


def frame(onward, ret, payload, tracing=None):
    fields = [onward, ret, payload]
    if tracing is not None:
        fields.append(tracing)
    body = cbor(fields)
    return struct.pack(">I", len(body)) + body


def _recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("peer closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return bytes(buf)


def read_frame(sock):
    (n,) = struct.unpack(">I", _recv_exact(sock, 4))
    if n > 16 * 1024 * 1024:
        raise ValueError("frame too large")
    msg, _ = uncbor(_recv_exact(sock, n))
    return msg[0], msg[1], msg[2]


class Client:
    """A foreign client: one TCP connection to a node, frames both ways."""

    def __init__(self, host, port, timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.sendall(b"\x01")
        v = _recv_exact(self.sock, 1)
        if v != b"\x01":
            raise ValueError("peer protocol version %r" % v)

    def send(self, onward, ret, payload, tracing=None):
        self.sock.sendall(frame(onward, ret, payload, tracing))

    def recv(self):
        return read_frame(self.sock)

    def close(self):
        self.sock.close()


class Node:
    """A foreign node: listens on TCP, hosts echo, uppercase and hop, and routes
    1#host:port hops over connections it opens (one per peer, reused)."""

    def __init__(self, host="127.0.0.1", port=0):
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((host, port))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.conns = {}       # local address (bytes) -> socket
        self.peers = {}       # "host:port" -> local address of the connection
        self.lock = threading.Lock()
        self.seen = []        # (onward, return, payload) of every frame received
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self):
        self.stopped = True
        self.lsock.close()
        with self.lock:
            for s in self.conns.values():
                s.close()

    def _accept(self):
        while not self.stopped:
            try:
                s, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(s, True), daemon=True).start()

    def _register(self, s):
        addr = os.urandom(16).hex().encode()
        with self.lock:
            self.conns[addr] = s
        return addr

    def _serve(self, s, incoming, addr=None):
        try:
            if incoming:
                s.sendall(b"\x01")
                if _recv_exact(s, 1) != b"\x01":
                    s.close()
                    return
                addr = self._register(s)
            while True:
                onward, ret, payload = read_frame(s)
                self.seen.append((onward, ret, payload))
                if not onward:
                    continue  # heartbeat
                self.route(onward, [local(addr)] + ret, payload)
        except (ConnectionError, OSError, ValueError):
            pass
        finally:
            with self.lock:
                self.conns.pop(addr, None)
                for k, v in list(self.peers.items()):
                    if v == addr:
                        del self.peers[k]
            s.close()

    def _connect(self, hostport):
        with self.lock:
            if hostport in self.peers:
                return self.peers[hostport]
        host, port = hostport.rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=10)
        s.settimeout(None)
        s.sendall(b"\x01")
        if _recv_exact(s, 1) != b"\x01":
            s.close()
            raise ConnectionError("bad version")
        addr = self._register(s)
        with self.lock:
            self.peers[hostport] = addr
        threading.Thread(target=self._serve, args=(s, False, addr), daemon=True).start()
        return addr

    def route(self, onward, ret, payload):
        tt, body = onward[0]
        if tt == 1:
            addr = self._connect(body.decode())
            self.conns[addr].sendall(frame(onward[1:], ret, payload))
            return
        if tt != 0:
            return
        with self.lock:
            conn = self.conns.get(body)
        if conn is not None:
            conn.sendall(frame(onward[1:], ret, payload))
        elif body == b"echo":
            self.route(ret, [local("echo")], payload)
        elif body == b"uppercase":
            self.route(ret, [local("uppercase")], bare(unbare(payload).upper()))
        elif body == b"hop":
            self.route(onward[1:], [local("hop")] + ret, payload)
