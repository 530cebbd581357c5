#!/usr/bin/env bash
# bench/load.sh: the scale of `sluice load` itself, and side-by-sides with wrk and h2load.
#
#   1. 10,000 secure channels held by the harness against a Sluice node, a low
#      rate on each (--rate 10000: one message per channel per second);
#   2. 64 B messages through one channel in open loop at --rate (default 1M/s),
#      the harness on one shard: achieved rate, its CPU per message;
#   3. HTTP through a Sluice portal (tcp-inlet on n1 -> channel -> tcp-outlet on
#      n2 -> a kept-alive Python HTTP server): `wrk` and `sluice load --mode http`
#      alternated, same connections, same path, closed loop both (Debian has no
#      wrk2, and wrk is closed loop: the comparison is of the same mode), p50s
#      side by side;
#   4. the same path at a fixed 500 req/s on one connection: h2load --rps (Debian's
#      nghttp2-client) and `sluice load --rate`, p50s side by side.
#
# Usage: bench/load.sh [--build-dir DIR] [--rate R] [--seconds S] [--runs N]
# Everything runs in a temp $SLUICE_HOME on 127.0.0.1 and is stopped at the end.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=$here/build
rate=1M
secs=5
runs=3
while [ $# -gt 0 ]; do
	case $1 in
	--build-dir) build=$2; shift 2 ;;
	--rate) rate=$2; shift 2 ;;
	--seconds) secs=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	*) echo "usage: bench/load.sh [--build-dir DIR] [--rate R] [--seconds S] [--runs N]" >&2; exit 2 ;;
	esac
done
. "$here/bench/lib.sh"
for t in wrk h2load; do command -v $t >/dev/null || { echo "bench/load.sh: $t is missing: tools/deps.sh bench installs it" >&2; exit 1; }; done
bench_home load
pids=()
bench_on_exit() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }

echo "# sluice load bench at $(git -C "$here" rev-parse --short HEAD), $(nproc) CPUs, $(date -u '+%F %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
"$S" node create n2 >/dev/null

echo "## 1. 10,000 channels held, 1 message/s on each (10 s)"
"$S" load --to /node/n2/secure/api/service/echo --channels 10000 --rate 10000 --duration 10s \
	--timeout 10s --output json > "$SLUICE_HOME/held.json"
jq_ '"channels %d made in %.2f s (%.0f handshakes/s), %d failed; sent %d received %d, achieved %.1f/s, p50 %d us p99 %d us, errors %d; harness %.2f CPU-s (%.1f CPU-us per message)" % (d["connections"], d["handshakes"]["setup_s"], d["handshakes"]["per_s"], d["handshakes"]["failed"], d["sent"], d["received"], d["achieved_rate"], d["latency_us"]["p50"], d["latency_us"]["p99"], d["errors"]["total"], d["harness"]["cpu_s"], d["harness"]["cpu_us_per_message"])' < "$SLUICE_HOME/held.json"
rss=$(grep VmRSS /proc/$("$S" node show n2 --output json | jq_ 'd["pid"]')/status | awk '{print $2}')
echo "node n2 RSS after: $rss KiB"

echo "## 2. 64 B through one channel, open loop at $rate/s, harness on one shard ($secs s, $runs runs)"
for i in $(seq "$runs"); do
	"$S" load --to /node/n2/secure/api/service/echo --rate "$rate" --duration "${secs}s" \
		--warmup 1s --shards 1 --output json | jq_ '"asked %.0f achieved %.0f received %.0f msg/s; p50 %d p99 %d us, send lag p99 %d us; errors %d (timeouts %d); harness %.2f CPU-s over %.1f s = %.2f cores, %.3f CPU-us per message" % (d["asked_rate"], d["achieved_rate"], d["received_rate"], d["latency_us"]["p50"], d["latency_us"]["p99"], d["send_lag_us"]["p99"], d["errors"]["total"], d["errors"]["timeouts"], d["harness"]["cpu_s"], d["duration_s"], d["harness"]["cpu_s"] / d["duration_s"], d["harness"]["cpu_us_per_message"])'
done

echo "## 2b. the same one way (--mode bulk to the node's discard: offered, and counted there)"
"$S" load --to /node/n2/secure/api/service/discard --rate "$rate" --duration "${secs}s" --mode bulk \
	--shards 1 --output json | jq_ '"asked %.0f achieved %.0f msg/s sent; the node discarded %d of %d sent, %d lost; harness %.2f cores, %.3f CPU-us per message" % (d["asked_rate"], d["achieved_rate"], d["node"]["discarded"], d["node"]["sent_all"], d["node"]["lost"], d["harness"]["cpu_s"] / d["duration_s"], d["harness"]["cpu_us_per_message"])'

echo "## 3. HTTP through a Sluice portal: wrk vs sluice load --mode http (4 connections, closed loop, ${secs} s each, alternated)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 - "$port" <<'EOF' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 65536  # head and body in one write: no Nagle + delayed-ACK 40 ms stall
    body = b"x" * 64
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "64"); self.end_headers(); self.wfile.write(self.body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
pids+=($!)
"$S" node create n1 >/dev/null
"$S" tcp-outlet create --at n2 --from /service/web --to 127.0.0.1:$port >/dev/null
inlet=$("$S" secure-channel create --from n1 --to /node/n2/service/api | "$S" tcp-inlet create --at n1 --from 127.0.0.1:0 --to -/service/web)
sleep 0.5
for i in $(seq "$runs"); do
	w=$(wrk -t1 -c4 -d"${secs}s" --latency "http://$inlet/" | awk '/^ +50%/ {print $2} /Requests\/sec/ {print $2}' | tr '\n' ' ')
	echo "wrk:         p50 $(echo $w | cut -d' ' -f1), $(echo $w | cut -d' ' -f2) req/s"
	"$S" load --tcp "$inlet" --mode http --connections 4 -c 4 --duration "${secs}s" --output json \
		| jq_ '"sluice load: p50 %.2fus, %.0f req/s (p99 %d us)" % (d["latency_us"]["p50"], d["received_rate"], d["latency_us"]["p99"])'
done

echo "## 4. HTTP through the same portal at a fixed rate: h2load --rps vs sluice load --rate (500 req/s on 1 connection, ${secs} s each, alternated)"
# h2load paces each connection at --rps and logs every request's latency from its actual
# send; sluice load counts from the intended send time, so its p50 carries its send lag.
# One connection: at 4 connections and the same total rate, h2load's p50 was 2.3x its
# 1-connection one while sluice load's did not move; likely h2load's per-connection timers
# fire together and the requests queue at the server in bursts. 500/s, not more: at 2,000/s
# a late response delays the next send, which sluice load counts and h2load does not
# (h2load 195-231 us, sluice load 264-308 us there).
for i in $(seq "$runs"); do
	rm -f "$SLUICE_HOME/h2load.log"
	h2load --h1 -c 1 --rps 500 -D "$secs" --log-file "$SLUICE_HOME/h2load.log" "http://$inlet/" > "$SLUICE_HOME/h2load.out"
	python3 - "$SLUICE_HOME/h2load.log" "$SLUICE_HOME/h2load.out" <<'EOF2'
import re, statistics, sys
lat = sorted(int(l.split("\t")[2]) for l in open(sys.argv[1]) if l.count("\t") == 2)
rate = re.search(r"finished in [\d.]+s, ([\d.]+) req/s", open(sys.argv[2]).read()).group(1)
print("h2load:      p50 %.2fus, %s req/s (p99 %d us, %d requests)" % (statistics.median(lat), rate, lat[int(len(lat) * 0.99)], len(lat)))
EOF2
	"$S" load --tcp "$inlet" --mode http --connections 1 --rate 500 --duration "${secs}s" --output json \
		| jq_ '"sluice load: p50 %.2fus, %.0f req/s (p99 %d us, %d requests; send lag p50 %d us)" % (d["latency_us"]["p50"], d["received_rate"], d["latency_us"]["p99"], d["received"], d["send_lag_us"]["p50"])'
done
