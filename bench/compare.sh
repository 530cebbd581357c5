#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Sluice against its peers, side by side, on this machine, in one run.
#
#   bench/compare.sh [--quick] [--runs N] [--time S] [--rtt-count N]
#                    [--paths a,b,...] [--no-install] [--no-build] [--build-dir DIR]
#                    [--out DIR]
#
# Installs the peers from Debian (tools/deps.sh bench), builds Sluice, brings up
# every path on 127.0.0.1 in a temp dir, then measures each path in turn,
# alternating A B A B over N runs: iperf3 single stream and 8 streams, the CPU
# seconds of the tunnel processes per GB moved, and a 64-byte ping-pong round
# trip (p50/p99/p99.9; three sweeps over the paths per run). Then the Sluice-only figures (messages/s through one
# secure channel, handshakes/s, 1 vs 2 shards) when those are built.
# Writes bench/results/<date>-<host>.{md,json} and prints the Markdown.
# Everything it starts is stopped at exit, Ctrl-C included. Paths:
#   direct socat socat128k ssh-aes ssh-chacha stunnel spiped sluice sluice-1shard
#   sluice-relay sluice-relay-plain
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=/usr/bin/python3
HELPER="$ROOT/bench/compare.py"

RUNS=3 SECS=6 RTT_COUNT=20000 QUICK=0 INSTALL=1 BUILD=1
OUT="$ROOT/bench/results"
BUILD_DIR="$ROOT/build"
ALL_PATHS="direct socat socat128k ssh-aes ssh-chacha stunnel spiped sluice sluice-1shard sluice-relay sluice-relay-plain"
PATHS_WANTED=$ALL_PATHS
ARGS="$*"

usage() { sed -n '4,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 RUNS=1 SECS=3 RTT_COUNT=5000 ;;
	--runs) RUNS=$2; shift ;;
	--time) SECS=$2; shift ;;
	--rtt-count) RTT_COUNT=$2; shift ;;
	--paths) PATHS_WANTED=${2//,/ }; shift ;;
	--no-install) INSTALL=0 ;;
	--no-build) BUILD=0 ;;
	--build-dir) BUILD_DIR=$(realpath -m "$2"); shift ;;
	--out) OUT=$2; shift ;;
	-h|--help) usage 0 ;;
	*) echo "compare.sh: unknown option '$1'" >&2; usage 2 >&2 ;;
	esac
	shift
done
for v in "$RUNS" "$SECS" "$RTT_COUNT"; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: --runs, --time and --rtt-count take a positive integer" >&2; exit 2; }
done

log() { printf '[compare %s] %s\n' "$(date +%T)" "$*" >&2; }

# ---------------------------------------------------------------- set-up, tear-down
TMP=$(mktemp -d /tmp/sluice-compare.XXXXXX)
STARTED=()	# pids of what we started; each leads its own process group (setsid)
SLUICE_HOMES=()
MADE_RUN_SSHD=0

cleanup() {
	local pid home
	trap - EXIT INT TERM HUP
	[ -n "$CHILD" ] && kill -TERM "$CHILD" 2>/dev/null
	for home in "${SLUICE_HOMES[@]}"; do
		SLUICE_HOME=$home timeout 10 "$SLUICE" node delete --all --yes >/dev/null 2>&1
	done
	for pid in "${STARTED[@]}"; do kill -TERM -- "-$pid" 2>/dev/null; done
	sleep 0.3
	for pid in "${STARTED[@]}"; do kill -KILL -- "-$pid" 2>/dev/null; done
	# sluice daemons left by a failed delete: only the pids their homes recorded
	for pid in "${SLUICE_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
	[ "$MADE_RUN_SSHD" = 1 ] && rmdir /run/sshd 2>/dev/null
	rm -rf "$TMP"
}
SLUICE_PIDS=()
trap cleanup EXIT
trap 'log "interrupted, cleaning up"; exit 130' INT TERM HUP

# fg CMD...: runs CMD and waits for it in a way a trapped Ctrl-C interrupts at
# once (bash defers the trap of a SIGINT until a foreground child exits, and
# timeout(1) puts its child in a process group of its own, out of Ctrl-C's reach)
CHILD=""
fg() {
	local rc
	"$@" &
	CHILD=$!
	wait "$CHILD"
	rc=$?
	CHILD=""
	return $rc
}

# start NAME CMD...: runs CMD in its own session, logging to $TMP/NAME.log
start() {
	local name=$1; shift
	setsid "$@" >"$TMP/$name.log" 2>&1 </dev/null &
	disown $!
	STARTED+=($!)
	LAST_PID=$!
}

listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# wait_port PORT PID: until PORT listens (10 s), or PID died
wait_port() {
	for _ in $(seq 100); do
		listening "$1" && return 0
		[ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null && return 1
		sleep 0.1
	done
	return 1
}

declare -A ENTRY_I ENTRY_P ROOTS STATUS RELAY_PID	# RELAY_PID: a relay path's relay node
META="$TMP/meta.txt"
RAW="$TMP/raw.jsonl"
: >"$META"; : >"$RAW"
printf 'config\tloadavg\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$META"
note() { log "note: $*"; printf 'note\t%s\n' "$*" >>"$META"; }
want() { [[ " $PATHS_WANTED " == *" $1 "* ]]; }
fresh_port() { "$PY" "$HELPER" ports 1; }

# ---------------------------------------------------------------- packages, build
if [ "$INSTALL" = 1 ]; then
	log "checking Debian packages (tools/deps.sh bench)"
	fg "$ROOT/tools/deps.sh" bench || { echo "compare.sh: installing the peers failed" >&2; exit 1; }
fi
for t in iperf3 socat ssh /usr/sbin/sshd stunnel4 spiped openssl ss cc setsid timeout; do
	command -v "$t" >/dev/null || { echo "compare.sh: $t is missing: run tools/deps.sh bench" >&2; exit 1; }
done

SLUICE="$BUILD_DIR/bin/sluice"
BUILD_NOTE=""
if [ "$BUILD" = 1 ]; then
	log "building Sluice (cmake -S . -B ${BUILD_DIR#"$ROOT"/}; cmake --build ${BUILD_DIR#"$ROOT"/})"
	if ! { fg cmake -S "$ROOT" -B "$BUILD_DIR" >"$TMP/cmake.log" 2>&1 &&
	       fg cmake --build "$BUILD_DIR" -j "$(nproc)" >>"$TMP/cmake.log" 2>&1; }; then
		BUILD_NOTE="the Sluice build failed ($(grep -m1 -E 'error|Error' "$TMP/cmake.log" | cut -c1-160)); Sluice rows use whatever $BUILD_DIR/bin holds"
		note "$BUILD_NOTE"
	fi
fi
# the ping-pong client and server: libc only, built here so a broken tree cannot stop the peers
cc -std=gnu17 -O2 -o "$TMP/pingpong" "$ROOT/bench/bench_pingpong.c" -lpthread ||
	{ echo "compare.sh: cannot build bench/bench_pingpong.c" >&2; exit 1; }
PINGPONG="$TMP/pingpong"

# ---------------------------------------------------------------- targets
IPERF_PORT=$(fresh_port)
start_iperf() {
	start iperf3-server iperf3 -s -B 127.0.0.1 -p "$IPERF_PORT" --rcv-timeout 15000
	IPERF_PID=$LAST_PID
	wait_port "$IPERF_PORT" "$IPERF_PID" || { echo "compare.sh: iperf3 -s did not start" >&2; exit 1; }
}
restart_iperf() {
	kill -TERM -- "-$IPERF_PID" 2>/dev/null; sleep 0.5; kill -KILL -- "-$IPERF_PID" 2>/dev/null
	start_iperf
}
start_iperf
PP_PORT=$(fresh_port)
start pingpong-server "$PINGPONG" server "127.0.0.1:$PP_PORT"
wait_port "$PP_PORT" "$LAST_PID" || { echo "compare.sh: ping-pong server did not start" >&2; exit 1; }

# ---------------------------------------------------------------- paths
# Each up_<path> forwards a port to iperf3 (ENTRY_I) and one to the ping-pong
# server (ENTRY_P), records the tunnel's process roots (ROOTS) and returns 0,
# or returns 1 with STATUS set.

up_direct() { ENTRY_I[direct]=$IPERF_PORT ENTRY_P[direct]=$PP_PORT ROOTS[direct]=""; }

socat_pair() {	# name, extra opts
	local a b
	a=$(fresh_port) b=$(fresh_port)
	start "$1-i" socat $2 "TCP-LISTEN:$a,bind=127.0.0.1,reuseaddr,fork" "TCP:127.0.0.1:$IPERF_PORT"
	local p1=$LAST_PID
	start "$1-p" socat $2 "TCP-LISTEN:$b,bind=127.0.0.1,reuseaddr,fork" "TCP:127.0.0.1:$PP_PORT"
	local p2=$LAST_PID
	wait_port "$a" "$p1" && wait_port "$b" "$p2" || return 1
	ENTRY_I[$1]=$a ENTRY_P[$1]=$b ROOTS[$1]="$p1 $p2"
}
up_socat() { socat_pair socat ""; }
up_socat128k() { socat_pair socat128k "-b 131072"; }

ssh_keys() {
	[ -f "$TMP/ssh/id" ] && return 0
	mkdir -p "$TMP/ssh" && chmod 700 "$TMP/ssh"
	ssh-keygen -q -t ed25519 -N '' -f "$TMP/ssh/host" -C compare-host &&
	ssh-keygen -q -t ed25519 -N '' -f "$TMP/ssh/id" -C compare-user &&
	cp "$TMP/ssh/id.pub" "$TMP/ssh/authorized_keys" && chmod 600 "$TMP/ssh/authorized_keys"
}
ssh_path() {	# name, cipher
	local name=$1 cipher=$2 sp a b
	ssh_keys || return 1
	# sshd insists on its privilege-separation directory; make it only if absent
	if [ ! -d /run/sshd ]; then mkdir -m 755 /run/sshd 2>/dev/null && MADE_RUN_SSHD=1; fi
	sp=$(fresh_port)
	cat >"$TMP/ssh/sshd_$name" <<-EOF
	ListenAddress 127.0.0.1:$sp
	HostKey $TMP/ssh/host
	AuthorizedKeysFile $TMP/ssh/authorized_keys
	PidFile none
	StrictModes no
	UsePAM no
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	PermitRootLogin prohibit-password
	AllowTcpForwarding yes
	Ciphers aes256-gcm@openssh.com,chacha20-poly1305@openssh.com
	Compression no
	LogLevel ERROR
	EOF
	start "sshd-$name" /usr/sbin/sshd -D -e -f "$TMP/ssh/sshd_$name"
	local sshd=$LAST_PID
	wait_port "$sp" "$sshd" || { STATUS[$name]="failed: sshd did not start ($(tail -c 200 "$TMP/sshd-$name.log"))"; return 1; }
	a=$(fresh_port) b=$(fresh_port)
	start "ssh-$name" ssh -F /dev/null -N -T -i "$TMP/ssh/id" -o IdentitiesOnly=yes -o BatchMode=yes \
		-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
		-o ExitOnForwardFailure=yes -o Compression=no -c "$cipher" -p "$sp" \
		-L "127.0.0.1:$a:127.0.0.1:$IPERF_PORT" -L "127.0.0.1:$b:127.0.0.1:$PP_PORT" \
		"$(id -un)@127.0.0.1"
	local cl=$LAST_PID
	wait_port "$a" "$cl" && wait_port "$b" "$cl" ||
		{ STATUS[$name]="failed: ssh -L did not come up ($(tail -c 200 "$TMP/ssh-$name.log"))"; return 1; }
	ENTRY_I[$name]=$a ENTRY_P[$name]=$b ROOTS[$name]="$sshd $cl"
}
up_ssh-aes() { ssh_path ssh-aes aes256-gcm@openssh.com; }
up_ssh-chacha() { ssh_path ssh-chacha chacha20-poly1305@openssh.com; }

up_stunnel() {
	local d=$TMP/stunnel s1 s2 a b
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
		-subj /CN=localhost -keyout "$d/key.pem" -out "$d/cert.pem" >"$d/openssl.log" 2>&1 ||
		{ STATUS[stunnel]="failed: openssl could not make a certificate"; return 1; }
	s1=$(fresh_port) s2=$(fresh_port) a=$(fresh_port) b=$(fresh_port)
	local tls="sslVersionMin = TLSv1.3
ciphersuites = TLS_AES_256_GCM_SHA384"
	cat >"$d/server.conf" <<-EOF
	foreground = yes
	syslog = no
	pid =
	debug = 3
	[iperf]
	accept = 127.0.0.1:$s1
	connect = 127.0.0.1:$IPERF_PORT
	cert = $d/cert.pem
	key = $d/key.pem
	$tls
	[pingpong]
	accept = 127.0.0.1:$s2
	connect = 127.0.0.1:$PP_PORT
	cert = $d/cert.pem
	key = $d/key.pem
	$tls
	EOF
	cat >"$d/client.conf" <<-EOF
	foreground = yes
	syslog = no
	pid =
	debug = 3
	[iperf]
	client = yes
	accept = 127.0.0.1:$a
	connect = 127.0.0.1:$s1
	$tls
	[pingpong]
	client = yes
	accept = 127.0.0.1:$b
	connect = 127.0.0.1:$s2
	$tls
	EOF
	start stunnel-server stunnel4 "$d/server.conf"
	local sv=$LAST_PID
	start stunnel-client stunnel4 "$d/client.conf"
	local cl=$LAST_PID
	wait_port "$s1" "$sv" && wait_port "$a" "$cl" ||
		{ STATUS[stunnel]="failed: stunnel did not start ($(tail -c 200 "$TMP/stunnel-server.log"))"; return 1; }
	ENTRY_I[stunnel]=$a ENTRY_P[stunnel]=$b ROOTS[stunnel]="$sv $cl"
}

up_spiped() {
	local d=$TMP/spiped roots="" name tgt s a
	mkdir -p "$d"
	head -c 32 /dev/urandom >"$d/key"
	for name in i p; do
		[ $name = i ] && tgt=$IPERF_PORT || tgt=$PP_PORT
		s=$(fresh_port) a=$(fresh_port)
		start "spiped-d-$name" spiped -F -d -s "[127.0.0.1]:$s" -t "[127.0.0.1]:$tgt" -k "$d/key" -p "$d/d$name.pid"
		roots+=" $LAST_PID"
		wait_port "$s" "$LAST_PID" || { STATUS[spiped]="failed: spiped -d did not start"; return 1; }
		start "spiped-e-$name" spiped -F -e -s "[127.0.0.1]:$a" -t "[127.0.0.1]:$s" -k "$d/key" -p "$d/e$name.pid"
		roots+=" $LAST_PID"
		wait_port "$a" "$LAST_PID" || { STATUS[spiped]="failed: spiped -e did not start"; return 1; }
		[ $name = i ] && ENTRY_I[spiped]=$a || ENTRY_P[spiped]=$a
	done
	ROOTS[spiped]=$roots
}

sluice_has_portal() {
	[ -x "$SLUICE" ] || return 1
	local c
	for c in tcp-inlet tcp-outlet secure-channel; do
		"$SLUICE" "$c" --help >/dev/null 2>&1 || return 1
	done
}

sluice_path() {	# name, shards ("" = the default)
	local name=$1 shards=$2 home=$TMP/home-$1 a b n pid sopt=()
	sluice_has_portal || { STATUS[$name]="n/a (not built)"; return 1; }
	[ -n "$shards" ] && sopt=(--shards "$shards")
	mkdir -p "$home"; SLUICE_HOMES+=("$home")
	export SLUICE_HOME=$home
	a=$(fresh_port) b=$(fresh_port)
	local err="$TMP/$name.err"
	{
		"$SLUICE" node create n1 "${sopt[@]}" &&
		"$SLUICE" node create n2 "${sopt[@]}" &&
		"$SLUICE" tcp-outlet create --at n2 --from /service/outlet --to "127.0.0.1:$IPERF_PORT" &&
		"$SLUICE" tcp-outlet create --at n2 --from /service/outlet-pp --to "127.0.0.1:$PP_PORT" &&
		"$SLUICE" secure-channel create --from n1 --to /node/n2/service/api |
			"$SLUICE" tcp-inlet create --at n1 --from "127.0.0.1:$a" --to -/service/outlet &&
		"$SLUICE" secure-channel create --from n1 --to /node/n2/service/api |
			"$SLUICE" tcp-inlet create --at n1 --from "127.0.0.1:$b" --to -/service/outlet-pp
	} >"$err" 2>&1
	local rc=$?
	for n in n1 n2; do
		pid=$("$SLUICE" node show "$n" --output json 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin).get("pid") or "")' 2>/dev/null)
		[ -n "$pid" ] && { ROOTS[$name]+=" $pid"; SLUICE_PIDS+=("$pid"); }
	done
	unset SLUICE_HOME
	if [ $rc -ne 0 ] || ! wait_port "$a" || ! wait_port "$b"; then
		STATUS[$name]="failed: portal set-up ($(tr '\n' ' ' <"$err" | cut -c1-200))"
		return 1
	fi
	ENTRY_I[$name]=$a ENTRY_P[$name]=$b
}
up_sluice() { sluice_path sluice ""; }
up_sluice-1shard() { sluice_path sluice-1shard 1; }

# the portal's channel through a third node serving relays: n1 -> relay -> n2; $2: relay
# create's extra flag (--plain: no secure channel between the relay node and n2)
relay_path() {
	local name=$1 flag=$2 home=$TMP/home-$1 a b n pid
	sluice_has_portal && "$SLUICE" relay create --help 2>/dev/null | grep -q -- "${flag:---at}" ||
		{ STATUS[$name]="n/a (not built)"; return 1; }
	mkdir -p "$home"; SLUICE_HOMES+=("$home")
	export SLUICE_HOME=$home
	a=$(fresh_port) b=$(fresh_port)
	local err="$TMP/$name.err" ch=/node/relay/service/forward_to_n2/service/api
	{
		"$SLUICE" node create relay && "$SLUICE" node create n1 && "$SLUICE" node create n2 &&
		"$SLUICE" relay create n2 --at /node/relay --to n2 $flag &&
		"$SLUICE" tcp-outlet create --at n2 --from /service/outlet --to "127.0.0.1:$IPERF_PORT" &&
		"$SLUICE" tcp-outlet create --at n2 --from /service/outlet-pp --to "127.0.0.1:$PP_PORT" &&
		"$SLUICE" secure-channel create --from n1 --to "$ch" |
			"$SLUICE" tcp-inlet create --at n1 --from "127.0.0.1:$a" --to -/service/outlet &&
		"$SLUICE" secure-channel create --from n1 --to "$ch" |
			"$SLUICE" tcp-inlet create --at n1 --from "127.0.0.1:$b" --to -/service/outlet-pp
	} >"$err" 2>&1
	local rc=$?
	for n in relay n1 n2; do
		pid=$("$SLUICE" node show "$n" --output json 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin).get("pid") or "")' 2>/dev/null)
		[ -n "$pid" ] && { ROOTS[$name]+=" $pid"; SLUICE_PIDS+=("$pid"); }
		[ "$n" = relay ] && RELAY_PID[$name]=$pid
	done
	unset SLUICE_HOME
	if [ $rc -ne 0 ] || ! wait_port "$a" || ! wait_port "$b"; then
		STATUS[$name]="failed: portal set-up ($(tr '\n' ' ' <"$err" | cut -c1-200))"
		return 1
	fi
	ENTRY_I[$name]=$a ENTRY_P[$name]=$b
}
up_sluice-relay() { relay_path sluice-relay ""; }
up_sluice-relay-plain() { relay_path sluice-relay-plain --plain; }

PATHS=()
for p in $ALL_PATHS; do
	want "$p" || continue
	log "bringing up $p"
	STATUS[$p]=ok
	if ! "up_$p"; then
		[ "${STATUS[$p]}" = ok ] && STATUS[$p]="failed: set-up"
		log "$p: ${STATUS[$p]}"
		continue
	fi
	# one short exchange end to end before measuring anything
	if ! fg timeout 20 "$PINGPONG" client "127.0.0.1:${ENTRY_P[$p]}" --count 50 --warmup 0 --timeout 10 \
		>"$TMP/smoke-$p.txt" 2>&1; then
		STATUS[$p]="failed: no round trip through it ($(tail -c 160 "$TMP/smoke-$p.txt" | tr '\n' ' '))"
		log "$p: ${STATUS[$p]}"
		continue
	fi
	PATHS+=("$p")
done

cpu_of_pids() { [ -n "$1" ] && "$PY" "$HELPER" cpu $1 || echo -; }	# "-": nothing to count
cpu_of() { cpu_of_pids "${ROOTS[$1]}"; }

# idle tunnels must not burn CPU while the others are measured
declare -A IDLE0
for p in "${PATHS[@]}"; do IDLE0[$p]=$(cpu_of "$p"); done
sleep 2
for p in "${PATHS[@]}"; do
	c1=$(cpu_of "$p")
	[ "$c1" = - ] && continue
	busy=$("$PY" -c "print(f'{($c1 - ${IDLE0[$p]}) / 2:.2f}')")
	"$PY" -c "import sys; sys.exit(0 if $busy > 0.05 else 1)" &&
		note "$p burns $busy CPU-s per second while idle; every other row was measured beside it"
done

# ---------------------------------------------------------------- measurements
measure_iperf() {	# path, streams, run
	local p=$1 n=$2 run=$3 f="$TMP/iperf-$1-$2-$3.json" c0 c1 r0 r1
	c0=$(cpu_of "$p") r0=$(cpu_of_pids "${RELAY_PID[$p]:-}")
	fg timeout -k 2 $((SECS + 25)) iperf3 -c 127.0.0.1 -p "${ENTRY_I[$p]}" -t "$SECS" -P "$n" -J \
		--connect-timeout 5000 >"$f" 2>"$f.err"
	local rc=$?
	sleep 0.3	# let forked tunnel children exit and be reaped into their parent's CPU
	c1=$(cpu_of "$p") r1=$(cpu_of_pids "${RELAY_PID[$p]:-}")
	"$PY" "$HELPER" record-iperf "$p" "iperf$n" "$run" "$f" "$c0" "$c1" "$rc" "$r0" "$r1" >>"$RAW"
	if [ $rc -ne 0 ]; then
		log "$p: iperf3 -P $n exited $rc; restarting iperf3 -s"
		restart_iperf
		check_alive "$p" "iperf3 -P $n failed in run $run"
	fi
}
# check_alive PATH WHAT: after a failure, one short exchange; a dead path is
# skipped from then on (its later rows would only wait for timeouts)
declare -A BROKEN
check_alive() {
	fg timeout 20 "$PINGPONG" client "127.0.0.1:${ENTRY_P[$1]}" --count 20 --warmup 0 --timeout 10 \
		>/dev/null 2>&1 && return 0
	BROKEN[$1]=1
	local why="" log
	for log in "$TMP/home-$1"/nodes/*/node.log; do	# a Sluice path: its nodes' last complaint
		[ -f "$log" ] && why+=$(grep -v 'level=info' "$log" | tail -1 | cut -c1-220)" "
	done
	note "$1 stopped carrying traffic after: $2; its later measurements were skipped${why:+ (node logs: $why)}"
}
measure_rtt() {	# path, run, sweep
	local p=$1 run=$2 f="$TMP/rtt-$1-$2-$3.json" n=$(((RTT_COUNT + RTT_SWEEPS - 1) / RTT_SWEEPS))
	fg timeout -k 2 40 "$PINGPONG" client "127.0.0.1:${ENTRY_P[$p]}" --count "$n" \
		--warmup $((n / 10)) --timeout 30 --json >"$f" 2>"$f.err"
	local rc=$?
	"$PY" "$HELPER" record-rtt "$p" "$run" "$f" "$3" >>"$RAW"
	[ $rc -ne 0 ] && check_alive "$p" "the ping-pong failed in run $run"
}

# Per run: a bulk sweep over the paths, then RTT_SWEEPS quick sweeps of ping-pongs
# (each on a fresh connection) so that slow drifts of the shared machine's load
# and where the scheduler happens to place the two ends hit every path alike.
RTT_SWEEPS=3
log "measuring ${PATHS[*]}: $RUNS run(s), iperf3 -t $SECS, $RTT_COUNT round trips in $RTT_SWEEPS sweeps"
np=${#PATHS[@]}
for run in $(seq "$RUNS"); do
	for k in $(seq 0 $((np - 1))); do
		p=${PATHS[$(((k + run - 1) % np))]}	# rotate the order each run
		[ -n "${BROKEN[$p]:-}" ] && continue
		log "run $run/$RUNS: bulk through $p"
		measure_iperf "$p" 1 "$run"
		[ -z "${BROKEN[$p]:-}" ] && measure_iperf "$p" 8 "$run"
	done
	log "run $run/$RUNS: round trips"
	for sweep in $(seq "$RTT_SWEEPS"); do
		for k in $(seq 0 $((np - 1))); do
			p=${PATHS[$(((k + run + sweep - 2) % np))]}
			[ -z "${BROKEN[$p]:-}" ] && measure_rtt "$p" "$run" "$sweep"
		done
	done
done

# ---------------------------------------------------------------- Sluice-only figures
sluice_row() { printf 'sluice\t%s\t%s\t%s\n' "$1" "$2" "$3" >>"$META"; }
HS_REF="~4,000/s (PERF.md: the crypto bound, both sides on one 2-core machine)"
MSG_BENCH=""
for b in bench_secure bench_channel bench_secure_channel bench_messages; do
	[ -x "$BUILD_DIR/bin/$b" ] && { MSG_BENCH="$BUILD_DIR/bin/$b"; break; }
done
if [ -n "$MSG_BENCH" ]; then
	log "running $(basename "$MSG_BENCH") --json"
	margs=(--json)
	[ "$(basename "$MSG_BENCH")" = bench_secure ] && margs+=(--seconds $((QUICK ? 1 : 2)))
	[ "$(basename "$MSG_BENCH")" = bench_secure ] && [ "$QUICK" = 1 ] && margs+=(--channels 1000)
	if fg timeout -k 2 120 "$MSG_BENCH" "${margs[@]}" >"$TMP/msgbench.json" 2>"$TMP/msgbench.err"; then
		"$PY" "$HELPER" sluice-bench "$TMP/msgbench.json" "$(basename "$MSG_BENCH")" >>"$META" ||
			note "could not read $(basename "$MSG_BENCH") --json"
	else
		note "$(basename "$MSG_BENCH") --json failed: $(tail -c 200 "$TMP/msgbench.err" | tr '\n' ' ')"
	fi
else
	for s in "64 B" "1 KiB" "16 KiB"; do
		sluice_row "messages/s through one secure channel, $s" "n/a (not built)" ""
	done
	sluice_row "handshakes/s" "n/a (not built)" "$HS_REF"
fi
if [ -x "$BUILD_DIR/bin/bench_crypto" ] &&
	fg timeout -k 2 60 "$BUILD_DIR/bin/bench_crypto" --json >"$TMP/crypto.json" 2>/dev/null; then
	"$PY" "$HELPER" crypto-ref "$TMP/crypto.json" >>"$META"
fi
if [ -x "$BUILD_DIR/bin/bench_route" ] &&
	fg timeout -k 2 60 "$BUILD_DIR/bin/bench_route" --json --seconds $((QUICK ? 1 : 2)) >"$TMP/route.json" 2>/dev/null; then
	"$PY" "$HELPER" route-ref "$TMP/route.json" >>"$META"
fi
if ! want sluice || ! want sluice-1shard; then
	printf 'scaling\tnot measured (--paths)\n' >>"$META"
elif [ "${STATUS[sluice]}" != ok ] || [ "${STATUS[sluice-1shard]}" != ok ]; then
	printf 'scaling\tn/a (portal %s)\n' "${STATUS[sluice]}" >>"$META"
fi

# ---------------------------------------------------------------- report
for p in $ALL_PATHS; do
	want "$p" && printf 'path\t%s\t%s\n' "$p" "${STATUS[$p]}" >>"$META"
done
[ -n "${ROOTS[sluice]:-}" ] && printf 'config\tsluice_shards\t%s\n' \
	"$(SLUICE_HOME=$TMP/home-sluice "$SLUICE" node show n1 --output json 2>/dev/null |
		"$PY" -c 'import json,sys; print(json.load(sys.stdin).get("shards",""))' 2>/dev/null)" >>"$META"
printf 'config\truns\t%s\nconfig\tseconds\t%s\nconfig\trtt_count\t%s\nconfig\trtt_sweeps\t%s\nconfig\targs\t%s\nconfig\tquick\t%s\n' \
	"$RUNS" "$SECS" "$RTT_COUNT" "$RTT_SWEEPS" "$ARGS" "$QUICK" >>"$META"
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)
[ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ] && commit+=" + uncommitted changes"
printf 'config\tcommit\t%s\n' "$commit" >>"$META"
printf 'config\tloadavg_end\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$META"

mkdir -p "$OUT"
stem="$OUT/$(date +%Y-%m-%d)-$(hostname -s)"
[ "$QUICK" = 1 ] && stem+="-quick"
"$PY" "$HELPER" report "$RAW" "$META" "$stem.md" "$stem.json" || { echo "compare.sh: report failed" >&2; exit 1; }
log "wrote $stem.md and $stem.json"
