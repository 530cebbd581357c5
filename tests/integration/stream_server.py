"""A portal target for the fault tests, run inside a test network namespace:
`stream_server.py` listens on 127.0.0.1 (an ephemeral port, printed on stdout)
and per connection reads one line:
  GET N SEED   sends pattern(N, SEED) and closes
  PUT N        reads N bytes, answers their sha256 (hex, one line) and closes
Standard library only."""

import hashlib
import socket
import sys
import threading


def pattern(n, seed=0):
    """n deterministic bytes (cheap to make; a lost, repeated or moved chunk shows)."""
    block = hashlib.sha256(b"sluice%d" % seed).digest() * 2048  # 64 KiB
    out = bytearray()
    i = 0
    while len(out) < n:
        out += i.to_bytes(8, "little") + block[8:]
        i += 1
    return bytes(out[:n])


def one(c):
    with c:
        f = c.makefile("rb")
        words = f.readline().split()
        if len(words) == 3 and words[0] == b"GET":
            c.sendall(pattern(int(words[1]), int(words[2])))
        elif len(words) == 2 and words[0] == b"PUT":
            left, h = int(words[1]), hashlib.sha256()
            while left:
                b = f.read1(min(left, 1 << 20))
                if not b:
                    return
                h.update(b)
                left -= len(b)
            c.sendall(h.hexdigest().encode() + b"\n")


def main():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    print(s.getsockname()[1], flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=one, args=(c,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
