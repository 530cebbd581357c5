"""Helpers for integration tests: real `sluice` processes on 127.0.0.1, each
test case with its own $SLUICE_HOME, everything bounded in time and torn down."""

import json
import os
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

    def close(self):
        pids = []
        try:
            for n in self.json("node", "list", timeout=20):
                if n.get("pid"):
                    pids.append(int(n["pid"]))
        except Exception:
            pass
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
