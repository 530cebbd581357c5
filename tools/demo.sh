#!/usr/bin/env bash
# The main job: installs what is missing, builds if needed, brings up nodes in a
# private $SLUICE_HOME and shows routing, a secure channel, a relay and a portal
# working, then a throughput figure. Leaves nothing running.
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
SLUICE_HOME=$(mktemp -d /tmp/sluice-demo.XXXXXX)
cleanup() {
	sluice node delete --all --yes >/dev/null 2>&1 || true
	# Either may have ended already (iperf3 -1 serves one test): not an error.
	[ -z "${http_pid:-}" ] || kill "$http_pid" 2>/dev/null || true
	[ -z "${iperf_pid:-}" ] || kill "$iperf_pid" 2>/dev/null || true
	rm -rf "$SLUICE_HOME"
}
trap cleanup EXIT

show() { printf '\n$ %s\n' "$*"; }

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
	/usr/bin/python3 -m http.server --bind 127.0.0.1 9000 >/dev/null 2>&1 &
	http_pid=$!
	sleep 0.5
	show "sluice tcp-outlet create --at a --from /service/outlet --to 127.0.0.1:9000"
	sluice tcp-outlet create --at a --from /service/outlet --to 127.0.0.1:9000
	show "sluice secure-channel create --from n1 --to /node/relay/service/forward_to_b/service/api | sluice tcp-inlet create --at n1 --from 127.0.0.1:6000 --to -/service/outlet"
	sluice secure-channel create --from n1 --to /node/relay/service/forward_to_b/service/api |
		sluice tcp-inlet create --at n1 --from 127.0.0.1:6000 --to -/service/outlet
	show "curl --head 127.0.0.1:6000"
	curl -sS --max-time 10 --head 127.0.0.1:6000
fi

if sluice tcp-inlet --help >/dev/null 2>&1 && command -v iperf3 >/dev/null; then
	iperf3 -s -p 5299 -1 >/dev/null 2>&1 &
	iperf_pid=$!
	sluice tcp-outlet create --at a --from /service/iperf --to 127.0.0.1:5299 >/dev/null
	sluice secure-channel create --from n1 --to /node/relay/service/forward_to_b/service/api |
		sluice tcp-inlet create --at n1 --from 127.0.0.1:6299 --to -/service/iperf >/dev/null
	show "iperf3 -c 127.0.0.1 -p 6299 -t 3   (TCP through the portal: n1 -> secure channel via the relay -> a)"
	iperf3 -c 127.0.0.1 -p 6299 -t 3 --connect-timeout 5000 | grep -E 'sender|receiver'
	wait "$iperf_pid" 2>/dev/null || true
fi

if [ -x build/bin/bench_secure ]; then
	show "build/bin/bench_secure --seconds 1 --sizes 64,16384   (messages/s through one secure channel)"
	build/bin/bench_secure --seconds 1 --sizes 64,16384
fi
