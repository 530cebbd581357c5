#!/usr/bin/env bash
# The main job: installs what is missing, builds if needed, brings up nodes in a
# private $SLUICE_HOME and shows routing, a secure channel, a relay and a portal
# working, then a throughput figure. Leaves nothing running. Prints only what it
# ran and measured: the logs of the nodes, of the servers it starts and of the
# benchmark go to files, kept (and named) only when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

tools/deps.sh test   # build tools, plus python3, curl and iperf3 for the portal
if [ ! -x build/bin/sluice ] || [ -n "$(find engine transports crypto tools bench CMakeLists.txt -newer build/bin/sluice -print -quit)" ]; then
	echo "==> building (build/)"
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build -j "$(nproc)" >/dev/null
fi
sluice() { "$root/build/bin/sluice" "$@"; }

export SLUICE_HOME
# Its own home (not /tmp/sluice-it-*, where integration tests run their nodes).
SLUICE_HOME=$(mktemp -d /tmp/sluice-demo.XXXXXX)
logs=$(mktemp -d /tmp/sluice-demo-logs.XXXXXX)
cleanup() {
	local rc=$? f
	if [ "$rc" -ne 0 ]; then
		# The nodes' logs go with their home: keep them with the others first.
		for f in "$SLUICE_HOME"/nodes/*/node.log; do
			[ -f "$f" ] && cp "$f" "$logs/node-$(basename "$(dirname "$f")").log"
		done
	fi
	sluice node delete --all --yes >/dev/null 2>&1 || true
	# Either may have ended already (iperf3 -1 serves one test): not an error.
	[ -z "${http_pid:-}" ] || kill "$http_pid" 2>/dev/null || true
	[ -z "${iperf_pid:-}" ] || kill "$iperf_pid" 2>/dev/null || true
	rm -rf "$SLUICE_HOME"
	if [ "$rc" -ne 0 ]; then
		echo "demo.sh: a step failed (exit $rc): the logs of the nodes, servers and benchmark are in $logs/" >&2
	else
		rm -rf "$logs"
	fi
}
trap cleanup EXIT

show() { printf '\n$ %s\n' "$*"; }
# Free ports, so a demo beside another one (or anything else on 127.0.0.1) still runs.
free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
http_port=$(free_port) inlet_port=$(free_port) iperf_port=$(free_port) iperf_inlet_port=$(free_port)

show "sluice node create n1; sluice node create n2"
sluice node create n1
sluice node create n2

show "sluice message send hello --from n1 --to /node/n2/service/uppercase"
sluice message send hello --from n1 --to /node/n2/service/uppercase

show "sluice message send hello --from n1 --to /node/n2/service/hop/service/echo"
sluice message send hello --from n1 --to /node/n2/service/hop/service/echo

if sluice secure-channel --help >/dev/null 2>&1; then
	show "sluice secure-channel create --from n1 --to /node/n2/service/api | sluice message send hello --from n1 --to -/service/uppercase"
	sluice secure-channel create --from n1 --to /node/n2/service/api |
		sluice message send hello --from n1 --to -/service/uppercase
fi

if sluice relay --help >/dev/null 2>&1; then
	show "sluice node create relay; sluice node create a; sluice relay create b --at /node/relay --to /node/a"
	sluice node create relay
	sluice node create a
	sluice relay create b --at /node/relay --to /node/a
	show "sluice secure-channel create --from n1 --to /node/relay/service/forward_to_b/service/api | sluice message send hello --from n1 --to -/service/uppercase"
	sluice secure-channel create --from n1 --to /node/relay/service/forward_to_b/service/api |
		sluice message send hello --from n1 --to -/service/uppercase
fi

if sluice tcp-outlet --help >/dev/null 2>&1 && sluice relay --help >/dev/null 2>&1; then
	/usr/bin/python3 -m http.server --bind 127.0.0.1 "$http_port" >"$logs/http-server.log" 2>&1 &
	http_pid=$!
	sleep 0.5
	show "sluice tcp-outlet create --at a --from /service/outlet --to 127.0.0.1:$http_port"
	sluice tcp-outlet create --at a --from /service/outlet --to "127.0.0.1:$http_port"
	show "sluice secure-channel create --from n1 --to /node/relay/service/forward_to_b/service/api | sluice tcp-inlet create --at n1 --from 127.0.0.1:$inlet_port --to -/service/outlet"
	sluice secure-channel create --from n1 --to /node/relay/service/forward_to_b/service/api |
		sluice tcp-inlet create --at n1 --from "127.0.0.1:$inlet_port" --to -/service/outlet
	show "curl --head 127.0.0.1:$inlet_port"
	curl -sS --max-time 10 --head "127.0.0.1:$inlet_port"
fi

if sluice tcp-inlet --help >/dev/null 2>&1 && command -v iperf3 >/dev/null; then
	iperf3 -s -p "$iperf_port" -1 >"$logs/iperf3-server.log" 2>&1 &
	iperf_pid=$!
	sluice tcp-outlet create --at a --from /service/iperf --to "127.0.0.1:$iperf_port" >/dev/null
	sluice secure-channel create --from n1 --to /node/relay/service/forward_to_b/service/api |
		sluice tcp-inlet create --at n1 --from "127.0.0.1:$iperf_inlet_port" --to -/service/iperf >/dev/null
	show "iperf3 -c 127.0.0.1 -p $iperf_inlet_port -t 3   (TCP through the portal: n1 -> secure channel via the relay -> a)"
	iperf3 -c 127.0.0.1 -p "$iperf_inlet_port" -t 3 --connect-timeout 5000 | grep -E 'sender|receiver'
	wait "$iperf_pid" 2>/dev/null || true
fi

if [ -x build/bin/bench_secure ]; then
	show "build/bin/bench_secure --seconds 1 --sizes 64,16384   (messages/s through one secure channel)"
	# Its two in-process nodes log to stderr.
	build/bin/bench_secure --seconds 1 --sizes 64,16384 2>"$logs/bench_secure.log"
fi
