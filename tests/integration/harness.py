"""Helpers for integration tests: real `sluice` processes on 127.0.0.1, each
test case with its own $SLUICE_HOME, everything bounded in time and torn down."""

import json
import os
import socket
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

SLUICE = os.environ.get("SLUICE_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "bin", "sluice")


class SluiceError(AssertionError):
    pass


class Home:
    """A private $SLUICE_HOME with the nodes created in it."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sluice-it-")
        self.env = dict(os.environ, SLUICE_HOME=self.dir)

    def run(self, *args, input=None, timeout=30, check=True):
        p = subprocess.run([SLUICE, *args], input=input, capture_output=True,
                           text=True, timeout=timeout, env=self.env)
        if check and p.returncode != 0:
            raise SluiceError("sluice %s exited %d\nstdout: %s\nstderr: %s" % (
                " ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def json(self, *args, **kw):
        p = self.run(*args, "--output", "json", **kw)
        return json.loads(p.stdout)

    def node_port(self, name):
        info = self.json("node", "show", name)
        for key in ("tcp_port", "port"):
            if key in info:
                return int(info[key])
        addr = info.get("tcp_address") or info.get("tcp_listener_address")
        return int(str(addr).rsplit(":", 1)[1])

    def node_pid(self, name):
        return int(self.json("node", "show", name)["pid"])

    def sanitizer_reports(self, names):
        """Under ASan (SLUICE_SANITIZED): stop the nodes, so that what they do at
        exit is checked too, and return the sanitizer reports in their logs."""
        found = []
        for name in names:
            try:
                self.run("node", "stop", name, timeout=30, check=False)
            except subprocess.TimeoutExpired:
                pass
            log = os.path.join(self.dir, "nodes", name, "node.log")
            try:
                with open(log, errors="replace") as f:
                    text = f.read()
            except OSError:
                continue
            at = text.find("Sanitizer")
            if at >= 0:
                found.append("%s: %s" % (name, text[max(0, at - 200):at + 3000]))
        return found

    def close(self):
        pids, names, reports = [], [], []
        try:
            for n in self.json("node", "list", timeout=20):
                names.append(n["name"])
                if n.get("pid"):
                    pids.append(int(n["pid"]))
        except Exception:
            pass
        if os.environ.get("SLUICE_SANITIZED"):
            reports = self.sanitizer_reports(names)
        try:
            self.run("node", "delete", "--all", "--yes", timeout=30, check=False)
        except subprocess.TimeoutExpired:
            pass
        for pid in pids:  # nothing left running, whatever happened above
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)
        if reports:
            raise AssertionError("sanitizer reports in node logs:\n" + "\n".join(reports))


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is not alive
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def connects(port):
    """A TCP connect to 127.0.0.1:port succeeds (within 0.5 s)."""
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
        return True
    except OSError:
        return False


def wait_until(pred, timeout=10, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


class NodeTest(unittest.TestCase):
    def setUp(self):
        self.home = Home()
        self.addCleanup(self.home.close)

    def sluice(self, *args, **kw):
        return self.home.run(*args, **kw)
