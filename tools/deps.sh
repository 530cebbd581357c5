#!/usr/bin/env bash
# Installs the Debian packages Sluice builds and tests with, only those missing.
# Usage: tools/deps.sh [build|test|bench]   (each includes the ones before it)
set -euo pipefail

build=(cmake make gcc pkg-config liburing-dev libsodium-dev libck-dev libsqlite3-dev libgcrypt20-dev
	libmicrohttpd-dev libyaml-dev libsystemd-dev libhiredis-dev)
test=(libcriterion-dev libjansson-dev python3 python3-dissononce python3-cryptography python3-cbor2 curl clang libclang-rt-14-dev iperf3
	iproute2 nftables valgrind # the fault tests (network namespaces), test_memcheck.py
	prometheus # promtool and a real server scraping a node, test_metrics.py
	redis-server) # the directory of a relay fleet, test_fleet.py
bench=(socat openssh-server openssh-client stunnel4 spiped openssl iproute2
	wrk nghttp2-client) # bench/load.sh: closed-loop (wrk) and rate-driven (h2load --rps) HTTP peers

# Intel's multi-buffer crypto (the fastest AES-GCM backend) exists for amd64 only.
[ "$(dpkg --print-architecture)" = amd64 ] && build+=(libipsec-mb-dev)

want=("${build[@]}")
case "${1:-build}" in
build) ;;
test) want+=("${test[@]}") ;;
bench) want+=("${test[@]}" "${bench[@]}") ;;
*) echo "usage: $0 [build|test|bench]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "sluice: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
