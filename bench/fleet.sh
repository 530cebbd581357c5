#!/usr/bin/env bash
# bench/fleet.sh: the extra hop of a relay fleet. A redis-server of its own and two
# relay nodes sharing it (r1, r2); node a registers relay x at r1. `sluice load` makes
# one secure channel to a's api through forward_to_x and drives a's echo in closed
# loop, once entering at r1 (the relay that holds x: one relay hop), once at r2 (which
# looks x up and forwards to r1: the fleet's extra node-to-node hop), and once through
# r2 to r1 by an explicit route (the same extra hop without a fleet: the baseline for
# what the hop itself costs). Runs alternate so a busy neighbour on the machine hits
# all alike; each line gives the ratios to the run through r1.
#
# Usage: bench/fleet.sh [--build-dir DIR] [--seconds S] [--runs N] [-c C] [-s BYTES]
# Everything runs in a temp $SLUICE_HOME on 127.0.0.1 and is stopped at the end.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=$here/build
secs=5
runs=3
conc="1 16"
size=64
while [ $# -gt 0 ]; do
	case $1 in
	--build-dir) build=$2; shift 2 ;;
	--seconds) secs=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	-c) conc=$2; shift 2 ;;
	-s) size=$2; shift 2 ;;
	*) echo "usage: bench/fleet.sh [--build-dir DIR] [--seconds S] [--runs N] [-c C] [-s BYTES]" >&2; exit 2 ;;
	esac
done
. "$here/bench/lib.sh"
command -v redis-server >/dev/null || { echo "bench/fleet.sh: needs redis-server (tools/deps.sh test)" >&2; exit 1; }
bench_home fleet
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$SLUICE_HOME" \
	>/dev/null 2>&1 &
redis=$!
bench_on_exit() {
	[ -z "${redis:-}" ] || { kill "$redis" 2>/dev/null; wait "$redis" 2>/dev/null; } || true
}
for _ in $(seq 50); do
	python3 -c "import socket,sys; s=socket.create_connection(('127.0.0.1',$rport),0.2)" 2>/dev/null && break
	sleep 0.1
done

echo "# sluice fleet hop at $(git -C "$here" rev-parse --short HEAD), $(nproc) CPUs, $(date -u '+%F %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
p1=$(free_port); p2=$(free_port)
"$S" node create r1 --tcp-listener-address 127.0.0.1:$p1 --relay-directory redis://127.0.0.1:$rport >/dev/null
"$S" node create r2 --tcp-listener-address 127.0.0.1:$p2 --relay-directory redis://127.0.0.1:$rport >/dev/null
"$S" node create a >/dev/null
"$S" relay create x --at /node/r1 --to a >/dev/null

one() {	# route-prefix concurrency -> "msgs/s p50 p99 errors"
	"$S" load --to "$1/service/forward_to_x/secure/api/service/echo" \
		-s "$size" -c "$2" --warmup 1s --duration "${secs}s" --timeout 2s --output json \
		| jq_ '"%.0f %d %d %d" % (d["received_rate"], d["latency_us"]["p50"], d["latency_us"]["p99"], d["errors"]["total"])'
}
for c in $conc; do
	echo "## $size B messages, one channel, closed loop -c $c, ${secs} s per run, $runs runs alternated"
	for i in $(seq "$runs"); do
		read -r d dp50 dp99 derr <<<"$(one "/ip4/127.0.0.1/tcp/$p1" "$c")"
		read -r f fp50 fp99 ferr <<<"$(one "/ip4/127.0.0.1/tcp/$p2" "$c")"
		read -r e ep50 ep99 eerr <<<"$(one "/ip4/127.0.0.1/tcp/$p2/ip4/127.0.0.1/tcp/$p1" "$c")"
		python3 -c "import sys; d,f,e=map(float,sys.argv[1:4]); a=sys.argv[4:]; print('r1 %7.0f msg/s (p50 %s p99 %s us, %s err) | fleet r2->r1 %7.0f (p50 %s p99 %s, %s err) %.2f | route r2->r1 %7.0f (p50 %s p99 %s, %s err) %.2f' % (d, a[0], a[1], a[2], f, a[3], a[4], a[5], f / d if d else 0, e, a[6], a[7], a[8], e / d if d else 0))" \
			"$d" "$f" "$e" "$dp50" "$dp99" "$derr" "$fp50" "$fp99" "$ferr" "$ep50" "$ep99" "$eerr"
	done
done
"$S" node stats r2 | grep -E 'relay_(fleet|directory)' || true
