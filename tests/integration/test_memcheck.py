"""One node under Valgrind's memcheck for a whole integration run: it is a
relay node, a secure-channel listener and a portal outlet while other nodes
(not under Valgrind) use it; then it is stopped and memcheck must report no
error and nothing definitely lost.

The node's receive buffers are filled by the kernel through io_uring, which
memcheck cannot see, so every byte received would count as uninitialised:
undefined-value tracking is off (--undef-value-errors=no). Invalid reads and
writes, bad frees and leaks are all still reported. Skipped under ASan/TSan
builds (their runtimes and Valgrind do not mix) and without valgrind."""

import os
import shutil
import socket
import subprocess
import tempfile
import unittest

from harness import SLUICE, NodeTest, wait_until

SANITIZED = os.environ.get("SLUICE_SANITIZED") or os.environ.get("SLUICE_TSAN")


@unittest.skipIf(SANITIZED, "a sanitizer build does not run under Valgrind")
@unittest.skipUnless(shutil.which("valgrind"), "valgrind is not installed")
class Memcheck(NodeTest):
    def test_relay_channel_and_portal_node_is_clean(self):
        log = tempfile.NamedTemporaryFile(prefix="sluice-memcheck-", suffix=".log", delete=False)
        log.close()
        self.addCleanup(os.unlink, log.name)
        vg = subprocess.Popen(
            ["valgrind", "--error-exitcode=99", "--undef-value-errors=no", "--leak-check=full",
             "--errors-for-leak-kinds=definite", "--log-file=" + log.name,
             SLUICE, "node", "run", "vg"],
            env=self.home.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(vg.kill)

        def up():
            p = self.sluice("message", "send", "a", "--from", "vg", "--to", "/service/echo",
                            check=False, timeout=30)
            return p.returncode == 0
        self.assertTrue(wait_until(up, 90, 0.5), "the node under memcheck never answered")

        # A secure channel into it, a relay on it, a portal out of it.
        self.sluice("node", "create", "n1")
        self.sluice("node", "create", "n2")
        out = self.sluice("secure-channel", "create", "--from", "n1", "--to",
                          "/node/vg/service/api", timeout=60).stdout.strip()
        self.assertEqual(self.sluice("message", "send", "hi", "--from", "n1", "--to",
                                     out + "/service/uppercase", timeout=60).stdout.strip(),
                         "HI")
        self.sluice("relay", "create", "b", "--at", "/node/vg", "--to", "n2", timeout=60)
        self.assertEqual(self.sluice("message", "send", "via", "--from", "n1", "--to",
                                     "/node/vg/service/forward_to_b/service/uppercase",
                                     timeout=60).stdout.strip(), "VIA")

        data = os.urandom(1 << 20)
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        self.addCleanup(srv.close)
        self.sluice("tcp-outlet", "create", "--at", "vg", "--from", "/service/outlet",
                    "--to", "127.0.0.1:%d" % srv.getsockname()[1], timeout=60)
        inlet = self.sluice("tcp-inlet", "create", "--at", "n1", "--from", "127.0.0.1:0",
                            "--to", "/node/vg/service/outlet", timeout=60).stdout.strip()
        c = socket.create_connection(("127.0.0.1", int(inlet.rsplit(":", 1)[1])), 10)
        self.addCleanup(c.close)
        t, _ = srv.accept()
        t.sendall(data)
        t.close()
        c.settimeout(60)
        got = bytearray()
        while len(got) < len(data):
            b = c.recv(1 << 16)
            if not b:
                break
            got += b
        self.assertEqual(bytes(got), data)

        self.sluice("node", "stop", "vg", timeout=60)
        rc = vg.wait(120)
        with open(log.name) as f:
            report = f.read()
        self.assertIn("ERROR SUMMARY: 0 errors", report, report[-4000:])
        self.assertRegex(report, r"definitely lost: 0 bytes|no leaks are possible", report[-4000:])
        self.assertEqual(rc, 0, report[-4000:])


if __name__ == "__main__":
    unittest.main()
