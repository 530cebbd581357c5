"""A TCP proxy that delays every byte by a fixed time each way, for the fault
tests (this kernel has no netem): `delay_proxy.py LISTEN_HOST TARGET_HOST:PORT MS`
prints its port on stdout. Order is kept: each direction is one queue of
(due time, bytes). Standard library only."""

import collections
import socket
import sys
import threading
import time


def pump(src, dst, delay):
    q = collections.deque()
    cv = threading.Condition()
    done = []

    def reader():
        while True:
            try:
                b = src.recv(1 << 16)
            except OSError:
                b = b""
            with cv:
                q.append((time.monotonic() + delay, b))
                cv.notify()
            if not b:
                return

    threading.Thread(target=reader, daemon=True).start()
    while True:
        with cv:
            while not q:
                cv.wait()
            due, b = q.popleft()
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        try:
            if not b:
                dst.shutdown(socket.SHUT_WR)
                return
            dst.sendall(b)
        except OSError:
            return


def main():
    listen_host, target, ms = sys.argv[1], sys.argv[2], float(sys.argv[3])
    host, port = target.rsplit(":", 1)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((listen_host, 0))
    s.listen(64)
    print(s.getsockname()[1], flush=True)
    while True:
        a, _ = s.accept()
        try:
            b = socket.create_connection((host, int(port)), 5)
        except OSError:
            a.close()
            continue
        for x, y in ((a, b), (b, a)):
            threading.Thread(target=pump, args=(x, y, ms / 1000), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
