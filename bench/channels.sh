#!/usr/bin/env bash
# bench/channels.sh: many secure channels at once between the load harness and a node.
#
# Open loop, 64 B request/response at --rate messages/s in total (default 100k), through
#   a. one secure channel, and
#   b. --channels secure channels (default 10,000), messages round-robin over them,
# alternated --runs times, each run on a fresh node n2: p50/p99 of both and their ratio,
# errors, and memory per channel end: the node's RSS holding the channels (before the
# rate runs, the channels made and idle) and the harness's peak RSS, each less the same
# figure with one channel, over the number of channels.
#
# Usage: bench/channels.sh [--build-dir DIR] [--rate R] [--channels N] [--seconds S] [--runs N]
# Everything runs in a temp $SLUICE_HOME on 127.0.0.1 and is stopped at the end.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=$here/build
rate=100k
channels=10000
secs=10
runs=2
usage="usage: bench/channels.sh [--build-dir DIR] [--rate R] [--channels N] [--seconds S] [--runs N]"
while [ $# -gt 0 ]; do
	case $1 in
	--build-dir) build=$2; shift 2 ;;
	--rate) rate=$2; shift 2 ;;
	--channels) channels=$2; shift 2 ;;
	--seconds) secs=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	*) echo "$usage" >&2; exit 2 ;;
	esac
done
. "$here/bench/lib.sh"
bench_home channels

py() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$2"; }
channels_of() {
	"$S" node stats "$1" --output json |
		python3 -c 'import json,sys; print(sum(int(r["value"]) for r in json.load(sys.stdin) if r["name"] == "sluice_secure_channels"))'
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# One run on a fresh node: $1 channels. Prints "p50 p99 errors node_hold_kib harness_peak_kib".
run() {
	local n=$1 out=$SLUICE_HOME/run.json pid before hold peak
	"$S" node create n2 >/dev/null
	pid=$("$S" node show n2 --output json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
	before=$(rss_kib "$pid")
	/usr/bin/time -f "%M" -o "$SLUICE_HOME/peak" "$S" load --to /node/n2/secure/api/service/echo \
		--channels "$n" --rate "$rate" --duration "${secs}s" --warmup 2s --timeout 10s \
		--output json > "$out" &
	local lp=$!
	# Channels made: the node's gauge counts its ends; its RSS is read then, the channels idle.
	hold=""
	for _ in $(seq 600); do
		if [ "$(channels_of n2)" -ge "$n" ]; then
			hold=$(rss_kib "$pid")
			break
		fi
		sleep 0.1
	done
	wait "$lp"
	peak=$(cat "$SLUICE_HOME/peak")
	echo "$(py 'd["latency_us"]["p50"], d["latency_us"]["p99"], d["errors"]["total"], d["achieved_rate"], d["handshakes"]["setup_s"]' "$out" |
		tr -d '(),') $((${hold:-0} - before)) $peak"
	"$S" node delete n2 >/dev/null
}

echo "# sluice channels bench at $(git -C "$here" rev-parse --short HEAD), $(nproc) CPUs, $(date -u '+%F %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# open loop, 64 B request/response, $rate msg/s in total, ${secs} s measured after 2 s warmup"
for i in $(seq "$runs"); do
	read -r p50a p99a erra ratea _ holda peaka <<<"$(run 1)"
	read -r p50b p99b errb rateb setupb holdb peakb <<<"$(run "$channels")"
	echo "run $i: 1 channel: achieved $ratea/s p50 $p50a us p99 $p99a us errors $erra | $channels channels (made in ${setupb} s): achieved $rateb/s p50 $p50b us p99 $p99b us errors $errb"
	python3 - "$p99a" "$p99b" "$holda" "$holdb" "$peaka" "$peakb" "$channels" <<'EOF'
import sys
p99a, p99b, holda, holdb, peaka, peakb, n = map(float, sys.argv[1:])
print("  p99 ratio %.2fx (goal <= 2x); node RSS holding them +%.1f MiB = %.2f KiB per channel end; "
      "harness peak RSS %.1f vs %.1f MiB = %.2f KiB per channel end (goal <= 4 KiB)"
      % (p99b / max(p99a, 1), holdb / 1024, (holdb - holda) / (n - 1), peakb / 1024, peaka / 1024,
         (peakb - peaka) / (n - 1)))
EOF
done
