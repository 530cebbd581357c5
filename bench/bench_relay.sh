#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# One secure channel through a Sluice relay node (a -> relay -> b), against
# socat forwarding the same stream, side by side in one run:
#
#   bench/bench_relay.sh [--time S] [--runs N] [--build-dir DIR] [--fair-share PCT]
#
# Paths (iperf3 single stream, S seconds, alternating A B A B over N runs):
#   socat   iperf3 -> socat (one plain TCP hop, 128 KiB buffers) -> iperf3 server
#   relay   iperf3 -> tcp-inlet on a -> channel a..b through relay's forward_to_b
#           -> tcp-outlet on b -> iperf3 server. The relay node forwards
#           ciphertext it cannot read.
# Reported: Gbit/s, and the CPU seconds per Gbit of the forwarding process
# alone (the relay node, or socat), from /proc/PID/stat. --fair-share sets
# the relay node's relay-fair-share limit (0 = off: the metering's cost is
# the difference). Loopback only; everything started is stopped at exit.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR="$ROOT/build"
SECS=6 RUNS=3 FAIR=110
while [ $# -gt 0 ]; do
	case "$1" in
	--time) SECS=$2; shift ;;
	--runs) RUNS=$2; shift ;;
	--build-dir) BUILD_DIR=$2; shift ;;
	--fair-share) FAIR=$2; shift ;;
	-h|--help) sed -n '4,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
SLUICE="$BUILD_DIR/bin/sluice"
[ -x "$SLUICE" ] || { echo "build first: cmake --build $BUILD_DIR" >&2; exit 1; }
command -v iperf3 >/dev/null && command -v socat >/dev/null ||
	{ echo "needs iperf3 and socat (tools/deps.sh bench)" >&2; exit 1; }

TMP=$(mktemp -d)
export SLUICE_HOME=$TMP/home
PIDS=()
cleanup() {
	"$SLUICE" node delete --all --yes >/dev/null 2>&1
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# utime + stime + the reaped children's (socat forks one per connection)
cpu_ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

IPERF=$(port) SOCAT=$(port) INLET=$(port) RELAY=$(port)
iperf3 -s -p "$IPERF" -D --logfile "$TMP/iperf.log" --pidfile "$TMP/iperf.pid"
sleep 0.3
PIDS+=("$(cat "$TMP/iperf.pid")")
socat -b131072 "TCP-LISTEN:$SOCAT,reuseaddr,fork" "TCP:127.0.0.1:$IPERF" 2>/dev/null &
SOCAT_PID=$!
PIDS+=("$SOCAT_PID")

{
	"$SLUICE" node create relay --tcp-listener-address "127.0.0.1:$RELAY" \
		--limit "relay-fair-share=$FAIR" &&
	"$SLUICE" node create a && "$SLUICE" node create b &&
	"$SLUICE" relay create b --at /node/relay --to b &&
	"$SLUICE" tcp-outlet create --at b --from /service/outlet --to "127.0.0.1:$IPERF" &&
	"$SLUICE" secure-channel create --from a --to /node/relay/service/forward_to_b/service/api |
		"$SLUICE" tcp-inlet create --at a --from "127.0.0.1:$INLET" --to -/service/outlet
} >"$TMP/setup.log" 2>&1 || { echo "setup failed:" >&2; cat "$TMP/setup.log" >&2; exit 1; }
RELAY_PID=$("$SLUICE" node show relay --output json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')

# iperf3 through port $1 while process $2 forwards: prints "gbit cpu_s_per_gbit".
measure() {
	local t0 t1 out gbit
	t0=$(cpu_ticks "$2")
	out=$(iperf3 -c 127.0.0.1 -p "$1" -t "$SECS" -J 2>/dev/null) || { echo "0 0"; return; }
	t1=$(cpu_ticks "$2")
	gbit=$(echo "$out" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9)')
	/usr/bin/python3 -c "g=$gbit; c=($t1-$t0)/$HZ; print('%.2f %.3f' % (g, c / (g * $SECS) if g else 0))"
}

declare -a RS SS
for ((i = 0; i < RUNS; i++)); do
	SS+=("$(measure "$SOCAT" "$SOCAT_PID")")
	RS+=("$(measure "$INLET" "$RELAY_PID")")
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
sg=$(med $(printf '%s\n' "${SS[@]}" | cut -d' ' -f1)); sc=$(med $(printf '%s\n' "${SS[@]}" | cut -d' ' -f2))
rg=$(med $(printf '%s\n' "${RS[@]}" | cut -d' ' -f1)); rc=$(med $(printf '%s\n' "${RS[@]}" | cut -d' ' -f2))
echo "| path | Gbit/s | forwarder CPU-s per Gbit |"
echo "|---|---|---|"
echo "| socat 128 KiB (plain TCP, no crypto) | $sg | $sc |"
echo "| Sluice relay node (one secure channel a -> relay -> b, ciphertext only) | $rg | $rc |"
echo "runs=$RUNS time=${SECS}s relay-fair-share=$FAIR medians; machine: $(nproc) CPUs, $(uname -r)"
