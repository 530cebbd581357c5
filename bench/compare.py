#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Helpers for bench/compare.sh (Python stdlib only).

  compare.py ports N                      N free loopback TCP ports, one a line
  compare.py cpu PID...                   CPU seconds (user+system, children
                                          included) of the process trees rooted
                                          at PID...
  compare.py record-iperf PATH KIND RUN FILE CPU0 CPU1 [RC [RELAY0 RELAY1]]
                                          one JSON line from an iperf3 -J output
                                          (RELAY0/1: a relay path's relay node alone)
  compare.py record-rtt PATH RUN FILE [SWEEP]
                                          one JSON line from bench_pingpong --json
  compare.py report RAW.jsonl META.json OUT.md OUT.json
                                          medians, ratios, the Markdown table
"""
import json
import os
import socket
import statistics
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")

# display order and labels; the keys are the path names compare.sh uses
PATHS = [
    ("direct", "direct, no tunnel"),
    ("socat", "socat, default 8 KiB buffers (plain copy)"),
    ("socat128k", "socat, 128 KiB buffers `-b 131072` (plain copy)"),
    ("ssh-aes", "OpenSSH -L, aes256-gcm@openssh.com"),
    ("ssh-chacha", "OpenSSH -L, chacha20-poly1305@openssh.com"),
    ("stunnel", "stunnel, TLS 1.3 AES-256-GCM"),
    ("spiped", "spiped (AES-CTR + HMAC-SHA256)"),
    ("sluice", "Sluice portal (inlet n1 -> secure channel -> outlet n2)"),
    ("sluice-1shard", "Sluice portal, nodes with 1 shard"),
    ("sluice-relay", "Sluice portal through a relay node (n1 -> relay -> n2, 3 nodes)"),
    ("sluice-relay-plain", "the same, relay registered `--plain` (no channel on the relay hop)"),
]
LABEL = dict(PATHS)
THROUGHPUT_REF = "ssh-aes"
RTT_REF = "socat"


def ports(n):
    socks, out = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        out.append(s.getsockname()[1])
    for s in socks:
        s.close()
    print("\n".join(map(str, out)))


def proc_table():
    """pid -> (ppid, cpu ticks incl. reaped children)"""
    table = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: split after the last ')'
        f = s[s.rindex(")") + 2:].split()
        ppid = int(f[1])
        ticks = int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
        table[int(d)] = (ppid, ticks)
    return table


def cpu(pids):
    """Sum over every live process of the trees: utime+stime+cutime+cstime.
    A child that exits moves its time into its parent's cutime, so the sum is
    continuous across connections coming and going (sshd, socat fork)."""
    table = proc_table()
    children = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    seen, todo, ticks = set(), [p for p in pids if p in table], 0
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        ticks += table[p][1]
        todo.extend(children.get(p, []))
    print(f"{ticks / TICK:.3f}")


def record_iperf(path, kind, run, fname, cpu0, cpu1, rc="0", relay0="-", relay1="-"):
    rec = {"path": path, "kind": kind, "run": int(run)}
    if rc == "124":
        rec["error"] = f"{kind}: iperf3 timed out (killed, run {run})"
        print(json.dumps(rec))
        return
    try:
        with open(fname) as f:
            j = json.load(f)
        if "error" in j:
            rec["error"] = f"{kind}: {j['error']}"
        else:
            end = j["end"]
            rec["bits_per_second"] = end["sum_received"]["bits_per_second"]
            rec["bytes"] = end["sum_received"]["bytes"]
            rec["seconds"] = end["sum_received"]["seconds"]
            rec["retransmits"] = end.get("sum_sent", {}).get("retransmits")
    except (OSError, ValueError, KeyError) as e:
        rec["error"] = f"no iperf3 result ({type(e).__name__})"
    if cpu0 != "-" and cpu1 != "-" and rec.get("bytes"):
        rec["cpu_s"] = float(cpu1) - float(cpu0)
        rec["cpu_s_per_gb"] = rec["cpu_s"] / (rec["bytes"] / 1e9)
    if relay0 != "-" and relay1 != "-" and rec.get("bytes"):
        # the relay node's own share: issue 14 compares it with socat forwarding one stream
        rec["relay_cpu_s_per_gb"] = (float(relay1) - float(relay0)) / (rec["bytes"] / 1e9)
    print(json.dumps(rec))


def record_rtt(path, run, fname, sweep="1"):
    rec = {"path": path, "kind": "rtt", "run": int(run), "sweep": int(sweep)}
    try:
        with open(fname) as f:
            j = json.loads(f.read().strip().splitlines()[-1])
        for k in ("count", "complete", "error", "p50_us", "p99_us", "p999_us", "mean_us", "max_us"):
            rec[k] = j.get(k)
        if not j.get("complete"):
            rec["error"] = f"ping-pong incomplete: {j.get('error')} after {j.get('count')} round trips (run {run})"
    except (OSError, ValueError, IndexError) as e:
        rec["error"] = f"no ping-pong result ({type(e).__name__})"
    print(json.dumps(rec))


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def fmt(v, nd=1, suffix=""):
    if v is None:
        return "n/a"
    return f"{v:,.{nd}f}{suffix}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def machine():
    def first(path, key=None):
        try:
            with open(path) as f:
                for line in f:
                    if key is None:
                        return line.strip()
                    if line.startswith(key):
                        return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return "?"
    u = os.uname()
    return {"host": socket.gethostname().split(".")[0], "nproc": os.cpu_count(),
            "cpu": first("/proc/cpuinfo", "model name"), "kernel": u.release,
            "debian": first("/etc/debian_version"), "arch": u.machine}


def read_meta(fname):
    """compare.sh's tab-separated lines: config K V, path NAME STATUS, note TEXT,
    sluice MEASURE RESULT REFERENCE, scaling TEXT."""
    meta = {"config": {}, "paths": {}, "notes": [], "sluice": {"rows": []}}
    with open(fname) as f:
        for line in f:
            f_ = line.rstrip("\n").split("\t")
            if f_[0] == "config":
                v = f_[2]
                numeric = f_[1] in ("runs", "seconds", "rtt_count", "rtt_sweeps", "quick", "sluice_shards")
                meta["config"][f_[1]] = int(v) if numeric and v.isdigit() else v
            elif f_[0] == "path":
                meta["paths"][f_[1]] = f_[2]
            elif f_[0] == "note":
                meta["notes"].append(f_[1])
            elif f_[0] == "sluice":
                meta["sluice"]["rows"].append({"measure": f_[1], "result": f_[2],
                                               "reference": f_[3] if len(f_) > 3 else ""})
            elif f_[0] == "scaling":
                meta["sluice"]["scaling"] = f_[1]
    meta["machine"] = machine()
    meta["machine"]["loadavg"] = meta["config"].pop("loadavg", "?")
    meta["machine"]["loadavg_end"] = meta["config"].pop("loadavg_end", "?")
    meta["date"] = time.strftime("%Y-%m-%d %H:%M %Z")
    return meta


def report(raw, meta_file, out_md, out_json):
    meta = read_meta(meta_file)
    recs = []
    with open(raw) as f:
        for line in f:
            line = line.strip()
            if line:
                recs.append(json.loads(line))

    rows = {}
    for name, label in PATHS:
        st = meta.get("paths", {}).get(name)
        if st is None:
            continue
        row = {"path": name, "label": label, "status": st}
        mine = [r for r in recs if r.get("path") == name]
        errors = sorted({r["error"] for r in mine if r.get("error")})
        if errors:
            row["errors"] = errors
        for kind in ("iperf1", "iperf8"):
            ok = [r for r in mine if r["kind"] == kind and "bits_per_second" in r]
            row[kind] = {
                "runs": len(ok),
                "gbit_per_s": med([r["bits_per_second"] / 1e9 for r in ok]),
                "gbit_per_s_all": [round(r["bits_per_second"] / 1e9, 3) for r in ok],
                "cpu_s_per_gb": med([r.get("cpu_s_per_gb") for r in ok]),
                "cpu_s_per_gb_all": [round(r["cpu_s_per_gb"], 3) for r in ok if "cpu_s_per_gb" in r],
            }
            relay = [r["relay_cpu_s_per_gb"] for r in ok if "relay_cpu_s_per_gb" in r]
            if relay:
                row[kind]["relay_node_cpu_s_per_gb"] = med(relay)
                row[kind]["relay_node_cpu_s_per_gb_all"] = [round(v, 3) for v in relay]
        ok = [r for r in mine if r["kind"] == "rtt" and r.get("complete")]
        row["rtt"] = {
            "runs": len(ok),  # sweeps: RTT_SWEEPS per run
            "p50_us": med([r["p50_us"] for r in ok]),
            "p99_us": med([r["p99_us"] for r in ok]),
            "p999_us": med([r["p999_us"] for r in ok]),
            "p50_us_all": [r["p50_us"] for r in ok],
        }
        rows[name] = row

    ref_t = rows.get(THROUGHPUT_REF)
    ref_r = rows.get(RTT_REF)
    for row in rows.values():
        r = {}
        if ref_t:
            r["throughput_1_vs_ssh_aes"] = ratio(row["iperf1"]["gbit_per_s"], ref_t["iperf1"]["gbit_per_s"])
            r["throughput_8_vs_ssh_aes"] = ratio(row["iperf8"]["gbit_per_s"], ref_t["iperf8"]["gbit_per_s"])
            r["cpu_per_gb_vs_ssh_aes"] = ratio(row["iperf1"]["cpu_s_per_gb"], ref_t["iperf1"]["cpu_s_per_gb"])
        if ref_r:
            r["rtt_p50_vs_socat"] = ratio(row["rtt"]["p50_us"], ref_r["rtt"]["p50_us"])
            r["rtt_p99_vs_socat"] = ratio(row["rtt"]["p99_us"], ref_r["rtt"]["p99_us"])
            r["rtt_p999_vs_socat"] = ratio(row["rtt"]["p999_us"], ref_r["rtt"]["p999_us"])
        row["ratios"] = r

    md = []
    m = meta["machine"]
    md.append(f"Machine: {m['cpu']}, {m['nproc']} CPUs, kernel {m['kernel']}, Debian {m['debian']}; "
              f"{meta['date']}, host `{m['host']}`.")
    c = meta["config"]
    md.append(f"Method: paths alternated A B A B, median of {c['runs']} runs each; iperf3 -t {c['seconds']} "
              f"(single stream and -P 8); {c['rtt_count']:,} round trips of 64 B per run in "
              f"{c.get('rtt_sweeps', 1)} sweeps over the paths (medians over the sweeps); "
              f"`bench/compare.sh{' ' + c['args'] if c['args'] else ''}` at {c.get('commit', '?')}. "
              f"Load average at start: {m.get('loadavg', '?')}, at the end: {m.get('loadavg_end', '?')} "
              f"(this run's own load is ~2 while iperf3 runs; more means other work shared the machine).")
    md.append("")
    md.append("| path | 1 stream Gbit/s | x ssh-aes | 8 streams Gbit/s | x ssh-aes | tunnel CPU-s/GB | x ssh-aes "
              "| RTT p50 / p99 / p99.9 (us) | p50, p99 x socat |")
    md.append("|---|---|---|---|---|---|---|---|---|")
    for name, _ in PATHS:
        row = rows.get(name)
        if row is None:
            continue
        if row["status"] != "ok":
            md.append(f"| {row['label']} | {row['status']} | | | | | | | |")
            continue
        i1, i8, rt, ra = row["iperf1"], row["iperf8"], row["rtt"], row["ratios"]
        cpu_s = "-" if name == "direct" else fmt(i1["cpu_s_per_gb"], 2)
        cpu_r = "-" if name == "direct" else fmt(ra.get("cpu_per_gb_vs_ssh_aes"), 2, "x")
        tried = lambda kind: any(r["path"] == name and r["kind"] == kind for r in recs)
        failed = lambda kind: "failed" if tried(kind) else "not measured"
        rtt = (f"{fmt(rt['p50_us'])} / {fmt(rt['p99_us'])} / {fmt(rt['p999_us'])}"
               if rt["runs"] else failed("rtt"))
        rtt_r = (f"{fmt(ra.get('rtt_p50_vs_socat'), 2, 'x')}, {fmt(ra.get('rtt_p99_vs_socat'), 2, 'x')}"
                 if rt["runs"] else "n/a")
        md.append(f"| {row['label']} | {fmt(i1['gbit_per_s'], 2) if i1['runs'] else failed('iperf1')} "
                  f"| {fmt(ra.get('throughput_1_vs_ssh_aes'), 2, 'x')} "
                  f"| {fmt(i8['gbit_per_s'], 2) if i8['runs'] else failed('iperf8')} "
                  f"| {fmt(ra.get('throughput_8_vs_ssh_aes'), 2, 'x')} "
                  f"| {cpu_s} | {cpu_r} | {rtt} | {rtt_r} |")
    md.append("")
    md.append("CPU-s/GB: user+system seconds of the tunnel processes (both ends, from /proc/PID/stat, "
              "children included) per GB received by iperf3, single stream. Ratios: throughput and CPU "
              "against OpenSSH -L aes256-gcm, round trip against socat with default buffers.")

    fwd = rows.get("socat128k")
    for name in ("sluice-relay", "sluice-relay-plain"):
        row, direct = rows.get(name), rows.get("sluice")
        v = row and row["iperf1"].get("relay_node_cpu_s_per_gb")
        if not v:
            continue
        ref = fwd and fwd["iperf1"]["cpu_s_per_gb"]
        thr = direct and ratio(row["iperf1"]["gbit_per_s"], direct["iperf1"]["gbit_per_s"])
        md.append("")
        md.append(f"{row['label']}: the relay node alone {fmt(v, 3)} CPU-s/GB forwarded, single stream"
                  f" ({fmt(ratio(v, ref), 2, 'x')} socat-128K's {fmt(ref, 3)}; issue 14's goal: <= 1.2x);"
                  f" throughput {fmt(thr, 2, 'x')} the direct portal's (goal: >= 0.9x).")

    sl = meta.get("sluice", {})
    md.append("")
    md.append("Sluice only (no peer does these; PERF.md's crypto ceilings are the reference):")
    md.append("")
    md.append("| measure | result | reference |")
    md.append("|---|---|---|")
    for item in sl.get("rows", []):
        md.append(f"| {item['measure']} | {item['result']} | {item.get('reference', '')} |")
    a, b = rows.get("sluice-1shard"), rows.get("sluice")
    shards = c.get("sluice_shards") or "default"
    if a and b and a["status"] == "ok" and b["status"] == "ok":
        for kind, what in (("iperf1", "1 stream"), ("iperf8", "8 streams")):
            x, y = a[kind]["gbit_per_s"], b[kind]["gbit_per_s"]
            sl.setdefault("scaling_" + kind, {"shards_1": x, f"shards_{shards}": y, "ratio": ratio(y, x)})
            md.append(f"| scaling, portal {what}: 1 shard -> {shards} shards | {fmt(x, 2)} -> {fmt(y, 2)} Gbit/s "
                      f"({fmt(ratio(y, x), 2, 'x')}) | {m['nproc']} cores |")
    else:
        md.append(f"| scaling: 1 shard -> {shards} shards | {sl.get('scaling', 'n/a')} | {m['nproc']} cores |")
    notes = meta.get("notes", [])
    errs = [(r["label"], e) for r in rows.values() for e in r.get("errors", [])]
    if notes or errs:
        md.append("")
        md.append("Notes:")
        for n in notes:
            md.append(f"- {n}")
        for label, e in errs:
            md.append(f"- {label}: {e}")

    text = "\n".join(md) + "\n"
    with open(out_md, "w") as f:
        f.write(text)
    out = {"date": meta["date"], "machine": meta["machine"], "config": meta["config"],
           "reference": {"throughput": THROUGHPUT_REF, "rtt": RTT_REF},
           "paths": [rows[n] for n, _ in PATHS if n in rows],
           "sluice": sl, "notes": notes, "raw": recs}
    with open(out_json, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    sys.stdout.write(text)


HS_BOUND = 4000.0  # PERF.md: handshakes/s, both sides on one 2-core machine
SIZES = {64: "64 B", 1024: "1 KiB", 16384: "16 KiB"}


def sluice_bench(fname, prog):
    """Sluice-only rows from a bench_* --json of bench_crypto's shape:
    {"results": [{"name", "size", "ops_per_s"}, ...]}"""
    with open(fname) as f:
        j = json.load(f)
    res = j.get("results", [])
    # bench_secure's shape: {"handshakes_per_s", "messages_per_s": {"64": n, ...}, ...}
    if "handshakes_per_s" in j:
        res.append({"name": "handshakes_per_s (open+close, 256 in flight)", "ops_per_s": j["handshakes_per_s"]})
    for size, ops in (j.get("messages_per_s") or {}).items():
        res.append({"name": "messages_per_s", "size": int(size), "ops_per_s": ops})
    seen = set()
    for r in res:
        name, size, ops = r.get("name", ""), r.get("size"), r.get("ops_per_s")
        if ops is None:
            continue
        if "handshake" in name:
            key = "hs"
            line = ("handshakes/s", f"{ops:,.0f}/s = {ops / HS_BOUND:.0%} of the bound ({prog}, {name})",
                    "~4,000/s (PERF.md crypto bound, both sides on one 2-core machine); goal >= 85%")
        elif size in SIZES and ("msg" in name or "message" in name or "channel" in name):
            key = size
            line = (f"messages/s through one secure channel, {SIZES[size]}",
                    f"{ops:,.0f}/s = {ops * size * 8 / 1e9:.2f} Gbit/s ({prog})",
                    "goal >= 1,000,000/s" if size == 64 else "")
        else:
            continue
        if key in seen:
            continue
        seen.add(key)
        print("sluice\t" + "\t".join(line))
    for size, label in SIZES.items():
        if size not in seen:
            print(f"sluice\tmessages/s through one secure channel, {label}\tn/a (not in {prog})\t")
    if "hs" not in seen:
        print(f"sluice\thandshakes/s\tn/a (not in {prog})\t~4,000/s (PERF.md crypto bound)")


def crypto_ref(fname):
    """Context rows from bench_crypto --json: the crypto alone on one core, with the
    AEAD backend a node picks at start (bench_crypto's "auto"), else the faster."""
    with open(fname) as f:
        j = json.load(f)
    res = j.get("results", [])
    pick = (j.get("auto") or {}).get("pick")

    def best(name, size):
        c = [r for r in res if r.get("name") == name and r.get("size") == size]
        if pick and any(r.get("backend") == pick for r in c):
            c = [r for r in c if r.get("backend") == pick]
        r = max(c, key=lambda r: r["ops_per_s"], default=None)
        return (r["ops_per_s"], r.get("backend", "")) if r else (None, "")

    (seal, be), (open_, _) = best("aead_seal_batch32", 64), best("aead_open_batch32", 64)
    if seal and open_:
        both = 1 / (1 / seal + 1 / open_)
        print(f"sluice\tceiling: AES-256-GCM seal + open of 64 B on one core (bench_crypto, {be}, batches of 32)"
              f"\t{both:,.0f}/s\tcrypto alone, this run")
    big = max((r["size"] for r in res if r.get("name") == "aead_seal"), default=None)
    (seal, be), (open_, _) = best("aead_seal", big), best("aead_open", big)
    if seal and open_:
        print(f"sluice\tceiling: AES-256-GCM of {big // 1024} KiB on one core (bench_crypto, {be}): seal / open"
              f"\t{seal * big / 1e9:.2f} / {open_ * big / 1e9:.2f} GB/s"
              f" = {seal * big * 8 / 1e9:.0f} / {open_ * big * 8 / 1e9:.0f} Gbit/s\tcrypto alone, this run")
    hs = max((r["ops_per_s"] for r in res if "handshake" in r.get("name", "")), default=None)
    if hs:
        print(f"sluice\tceiling: XX handshake, both sides on one core (bench_crypto)\t{hs:,.0f}/s"
              f"\tcrypto alone, this run; PERF.md bound ~4,000/s")


def route_ref(fname):
    """Context rows from bench_route --json: messages through one TCP hop between two
    in-process nodes, no secure channel (what routing alone does)."""
    with open(fname) as f:
        j = json.load(f)
    for t in j.get("throughput", []):
        size = t.get("size")
        label = SIZES.get(size, f"{size} B")
        print(f"sluice\tcontext: messages/s through one TCP hop, no secure channel, {label} (bench_route)"
              f"\t{t['msgs_per_s']:,.0f}/s ({t['gbit_per_s']:.2f} Gbit/s)\trouting alone, this run")


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "sluice-bench":
        sluice_bench(*args)
    elif cmd == "crypto-ref":
        crypto_ref(*args)
    elif cmd == "route-ref":
        route_ref(*args)
    elif cmd == "ports":
        ports(int(args[0]))
    elif cmd == "cpu":
        cpu([int(a) for a in args])
    elif cmd == "record-iperf":
        record_iperf(*args)
    elif cmd == "record-rtt":
        record_rtt(*args)
    elif cmd == "report":
        report(*args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
