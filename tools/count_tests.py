#!/usr/bin/env python3
"""Counts test cases in a ctest JUnit report (tools/test.sh's tally).

ctest runs each Criterion executable and each Python test file as one test;
their output (kept whole in the report) says how many cases ran:
  Criterion: "Synthesis: Tested: T | Passing: P | Failing: F | Crashing: C"
             (F includes C; skipped tests are not in T)
  unittest:  "Ran N tests" and "OK (skipped=S)" or "FAILED (failures=F, errors=E, ...)"
  scripts:   "Checks: T | Passing: P | Failing: F" (tools/check_arrows.sh, tests/tsan/)
An executable that failed without its summary (a crash, a timeout, a sanitizer
report at exit) counts its summary's failures or, without one, the cases that
printed "... ok" as passed and one failed; so does a summary that passes while
ctest saw the executable fail.

Prints one line: "passed failed skipped detail". Standard library only.
"""

import re
import sys
import xml.etree.ElementTree as ET

CRITERION = re.compile(r"Synthesis: Tested: (\d+) \| Passing: (\d+) \| Failing: (\d+)")
RAN = re.compile(r"^Ran (\d+) tests? in ", re.M)
RESULT = re.compile(r"^(OK|FAILED)(?: \((.*)\))?\s*$", re.M)
UNITTEST_OK = re.compile(r" \.\.\. ok$", re.M)
SCRIPT = re.compile(r"^Checks: (\d+) \| Passing: (\d+) \| Failing: (\d+)$", re.M)


def count(out, ok):
    """(passed, failed, skipped, kind) of one ctest test's output."""
    for pattern, kind in ((CRITERION, "criterion"), (SCRIPT, "script")):
        m = pattern.findall(out)
        if m:
            _, passing, failing = map(int, m[-1])
            failed = failing + (1 if not ok and failing == 0 else 0)
            return passing, failed, 0, kind
    ran, res = RAN.findall(out), RESULT.findall(out)
    if ran and res:
        n = int(ran[-1])
        fields = dict((k.strip(), int(v)) for k, v in
                      (f.split("=") for f in res[-1][1].split(",") if "=" in f))
        # N holds them all; an expected failure is a pass, an unexpected success a failure
        bad = fields.get("failures", 0) + fields.get("errors", 0) + \
            fields.get("unexpected successes", 0)
        skipped = fields.get("skipped", 0)
        passed = n - bad - skipped
        if not ok and bad == 0:
            bad = 1
        return max(passed, 0), bad, skipped, "python"
    # no summary: killed, timed out or crashed before it
    return len(UNITTEST_OK.findall(out)), 1, 0, "unknown"


def main():
    try:
        root = ET.parse(sys.argv[1]).getroot()
    except (OSError, ET.ParseError, IndexError) as e:
        print("0 1 0 no test report (%s)" % e)
        return
    passed = failed = skipped = 0
    kinds, broken = {}, []
    for tc in root.iter("testcase"):
        if tc.get("status") in ("notrun", "disabled"):
            continue
        ok = tc.find("failure") is None and tc.find("error") is None and \
            tc.get("status", "run") == "run"
        out = "".join(e.text or "" for e in tc.iter("system-out"))
        p, f, s, kind = count(out, ok)
        passed, failed, skipped = passed + p, failed + f, skipped + s
        k = kinds.setdefault(kind, [0, 0])
        k[0], k[1] = k[0] + 1, k[1] + p + f
        if f:
            broken.append(tc.get("name"))
    names = {"criterion": "Criterion executables", "python": "Python test files",
             "script": "check scripts",
             "unknown": "without a summary"}
    detail = "; ".join("%d %s: %d cases" % (v[0], names[k], v[1]) for k, v in sorted(kinds.items()))
    if broken:
        detail += "; failing: " + " ".join(broken)
    print(passed, failed, skipped, detail or "no tests")


if __name__ == "__main__":
    main()
