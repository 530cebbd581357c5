#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Memory and registration rate of a Sluice relay node holding many relays:
#
#   bench/relay_mem.sh [--build-dir DIR] [--shape CONNSxRELAYS]...
#
# For each shape (default 5000x2 10000x1 10000x10 19000x1): a fresh relay node, then
# tests/integration/relay_load.py opens CONNS TCP connections and registers RELAYS static
# relays on each (the way a foreign client does), waits for every answer and holds them.
# Reported: registrations/s, the node's RSS idle and holding (VmRSS), KiB per connection
# and per relay (the difference over the count), and its fds. Loopback only; the node is
# deleted at the end of each shape. A process here may hold at most `ulimit -Hn` fds
# (20,000 on the VM these numbers come from), which bounds CONNS.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR="$ROOT/build"
SHAPES=()
while [ $# -gt 0 ]; do
	case "$1" in
	--build-dir) BUILD_DIR=$2; shift ;;
	--shape) SHAPES+=("$2"); shift ;;
	-h|--help) sed -n '4,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
[ ${#SHAPES[@]} -gt 0 ] || SHAPES=(5000x2 10000x1 10000x10 19000x1)
SLUICE="$BUILD_DIR/bin/sluice"
[ -x "$SLUICE" ] || { echo "build first: cmake --build $BUILD_DIR" >&2; exit 1; }
LOAD="$ROOT/tests/integration/relay_load.py"

TMP=$(mktemp -d)
export SLUICE_HOME=$TMP/home
LOAD_PID=
cleanup() {
	[ -z "$LOAD_PID" ] || kill "$LOAD_PID" 2>/dev/null
	"$SLUICE" node delete --all --yes >/dev/null 2>&1
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }

echo "machine: $(nproc) CPUs, $(uname -r); fd limit $(ulimit -Hn)"
echo
echo "| connections | relays | registered/s | RSS idle MiB | RSS holding MiB | KiB/connection | KiB/relay | fds |"
echo "|---|---|---|---|---|---|---|---|"
for shape in "${SHAPES[@]}"; do
	conns=${shape%x*} per=${shape#*x}
	relays=$((conns * per))
	"$SLUICE" node create relay --limit max-connections-per-source=$((conns + 100)) >/dev/null ||
		{ echo "node create failed" >&2; exit 1; }
	pid=$("$SLUICE" node show relay --output json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
	port=$("$SLUICE" node show relay --output json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["tcp_port"])')
	sleep 1
	idle=$(rss_kib "$pid")
	out=$TMP/load.out
	(cd "$ROOT/tests/integration" && exec /usr/bin/python3 "$LOAD" "$port" "$conns" "$per" --hold 600) >"$out" 2>&1 &
	LOAD_PID=$!
	for _ in $(seq 600); do
		grep -q '^registered' "$out" && break
		kill -0 "$LOAD_PID" 2>/dev/null || break
		sleep 0.2
	done
	if ! grep -q '^registered' "$out"; then
		echo "| $conns | $relays | failed: $(tail -1 "$out") | | | | | |"
	else
		sleep 1 # the last answers' buffers settle
		held=$(rss_kib "$pid") nfd=$(fds "$pid")
		rate=$(sed -n 's/.*(\([0-9]*\)\/s).*/\1/p' "$out")
		awk -v c="$conns" -v r="$relays" -v i="$idle" -v h="$held" -v rate="$rate" -v f="$nfd" 'BEGIN {
			printf "| %d | %d | %d | %.1f | %.1f | %.1f | %.2f | %d |\n", c, r, rate, i / 1024, h / 1024,
				(h - i) / c, (h - i) / r, f }'
	fi
	kill "$LOAD_PID" 2>/dev/null
	wait "$LOAD_PID" 2>/dev/null
	LOAD_PID=
	"$SLUICE" node delete relay --yes >/dev/null 2>&1 || "$SLUICE" node delete relay >/dev/null 2>&1
done
