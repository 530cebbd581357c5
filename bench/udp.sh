#!/usr/bin/env bash
# bench/udp.sh: messages/s through one secure channel over a UDP hop against the
# same over a TCP hop, in the same run: node n2 listens on both, `sluice load`
# makes the channel itself over /ip4/127.0.0.1/udp/P or /ip4/127.0.0.1/tcp/P and
# drives its echo in closed loop (-c in flight). UDP and TCP runs alternate so a
# busy neighbour on the machine hits both alike; each line gives the ratio.
#
# Usage: bench/udp.sh [--build-dir DIR] [--seconds S] [--runs N] [-c C]
# Everything runs in a temp $SLUICE_HOME on 127.0.0.1 and is stopped at the end.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=$here/build
secs=5
runs=3
conc=16
while [ $# -gt 0 ]; do
	case $1 in
	--build-dir) build=$2; shift 2 ;;
	--seconds) secs=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	-c) conc=$2; shift 2 ;;
	*) echo "usage: bench/udp.sh [--build-dir DIR] [--seconds S] [--runs N] [-c C]" >&2; exit 2 ;;
	esac
done
. "$here/bench/lib.sh"
bench_home udp
uport=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

echo "# sluice UDP vs TCP at $(git -C "$here" rev-parse --short HEAD), $(nproc) CPUs, $(date -u '+%F %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
"$S" node create n2 --udp-listener-address 127.0.0.1:$uport >/dev/null
tport=$("$S" node show n2 --output json | jq_ 'd["tcp_port"]')

one() {	# transport size -> "msgs/s p50 p99 errors"
	local route=/ip4/127.0.0.1/$1/$([ "$1" = udp ] && echo "$uport" || echo "$tport")
	"$S" load --to "$route/secure/api/service/echo" -s "$2" -c "$conc" --warmup 1s \
		--duration "${secs}s" --timeout 2s --output json \
		| jq_ '"%.0f %d %d %d" % (d["received_rate"], d["latency_us"]["p50"], d["latency_us"]["p99"], d["errors"]["total"])'
}
for size in 64 1024; do
	echo "## $size B messages, one channel, closed loop -c $conc, ${secs} s per run, $runs runs alternated"
	for i in $(seq "$runs"); do
		read -r u up50 up99 uerr <<<"$(one udp "$size")"
		read -r t tp50 tp99 terr <<<"$(one tcp "$size")"
		python3 -c "import sys; u,t=map(float,sys.argv[1:3]); print('udp %8.0f msg/s (p50 %s p99 %s us, %s errors)  tcp %8.0f msg/s (p50 %s p99 %s us, %s errors)  udp/tcp %.2f' % (u, sys.argv[3], sys.argv[4], sys.argv[5], t, sys.argv[6], sys.argv[7], sys.argv[8], u / t if t else 0))" \
			"$u" "$t" "$up50" "$up99" "$uerr" "$tp50" "$tp99" "$terr"
	done
done
