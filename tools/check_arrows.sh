#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# The include arrows of ../shared/DESIGN.md, checked on every #include line of
# crypto/, engine/, transports/ and tools/ (tests/ and bench/ may include
# anything). The build already refuses a folder's header to a target that does
# not link its library; this also catches what the build cannot see: system
# headers, relative paths, internal headers, and clock or environment reads in
# crypto/.
#
#   crypto/      libc, libsodium and crypto/ only; no clock, no environment
#   engine/      crypto/ and engine/; no socket, io_uring or fd-readiness header
#   transports/  nothing from tools/
#   all          no "../" includes; *_internal.h and *_int.h only inside their folder;
#                Concurrency Kit only in engine/ring.{h,c}
#
# usage: check_arrows.sh [--self-test] [ROOT]    (ROOT: the source tree, default ..)
# Exit 0 when clean, 1 with one line per crossing. --self-test first runs the
# check on a scratch tree that breaks each rule once and fails unless each is found.
# The last line is a tally for tools/count_tests.py.
set -eu

# Known exceptions, one per line: file|header|why.
EXCEPTIONS='crypto/aead.c|gcrypt.h|second AES-256-GCM backend (README, AEAD backends); aead.h keeps its handle opaque
crypto/aead.c|intel-ipsec-mb.h|third AES-256-GCM backend, optional, x86-64; aead.h keeps its key opaque
crypto/p256.c|gcrypt.h|P-256 ECDSA verification of attestations: libsodium has no P-256
engine/multiaddr.c|arpa/inet.h|inet_pton/inet_ntop only: address syntax, no socket'

check() {
	root=$1
	cd "$root"
	status=0
	files=$(find crypto engine transports tools -type f \( -name '*.c' -o -name '*.h' \) 2>/dev/null | sort)
	[ -n "$files" ] || { echo "check_arrows: no sources under $root" >&2; return 2; }
	# shellcheck disable=SC2086
	awk -v exceptions="$EXCEPTIONS" '
	BEGIN {
		n = split(exceptions, ex, "\n")
		for (i = 1; i <= n; i++) {
			split(ex[i], f, "|")
			allowed[f[1] "|" f[2]] = 1
		}
		# crypto/: the C library (no clock headers: time is passed in) and libsodium
		split("assert.h ctype.h errno.h inttypes.h limits.h pthread.h stdalign.h " \
		      "stdarg.h stdatomic.h stdbool.h stddef.h stdint.h stdio.h stdlib.h " \
		      "string.h strings.h sodium.h", l, " ")
		for (i in l)
			crypto_ok[l[i]] = 1
		# engine/: sockets, io_uring and fd readiness belong to transports/; other
		# the libraries of other folders stay behind them
		split("sys/socket.h sys/un.h netdb.h liburing.h sys/epoll.h poll.h " \
		      "sys/poll.h sys/select.h sys/eventfd.h ifaddrs.h sqlite3.h gcrypt.h " \
		      "intel-ipsec-mb.h", l, " ")
		for (i in l)
			engine_no[l[i]] = 1
		bad = 0
	}
	function cross(why) {
		if ((FILENAME "|" hdr) in allowed)
			return
		printf "%s:%d: #include %s%s%s: %s\n", FILENAME, FNR, q1, hdr, q2, why
		bad++
	}
	/^[ \t]*#[ \t]*include[ \t]*[<"]/ {
		line = $0
		sub(/^[ \t]*#[ \t]*include[ \t]*/, "", line)
		q1 = substr(line, 1, 1)
		q2 = q1 == "<" ? ">" : "\""
		hdr = substr(line, 2)
		sub(/[>"].*$/, "", hdr)
		split(FILENAME, p, "/")
		folder = p[1]
		top = index(hdr, "/") ? substr(hdr, 1, index(hdr, "/") - 1) : ""
		if (hdr ~ /(^|\/)\.\.(\/|$)/) {
			cross("a relative path climbs out of its folder: name the folder (\"engine/x.h\")")
			next
		}
		if (q1 == "\"") {
			if (top == "")
				top = folder	# beside the includer
			if (hdr ~ /(_internal|_int)\.h$/ && top != folder)
				cross("an internal header of another folder")
			if (folder == "crypto" && top != "crypto")
				cross("crypto/ includes only crypto/ (bytes in, bytes out)")
			else if (folder == "engine" && top != "engine" && top != "crypto")
				cross("engine/ includes only engine/ and crypto/ (transports through engine/transport.h)")
			else if (folder == "transports" && top == "tools")
				cross("transports/ includes nothing from tools/ (the composition root)")
			next
		}
		if (hdr ~ /^ck_/ && FILENAME !~ /^engine\/ring\.[ch]$/)
			cross("only engine/ring.{h,c} includes Concurrency Kit (the SPSC contract lives there)")
		else if (folder == "crypto" && !(hdr in crypto_ok))
			cross("crypto/ uses libc and libsodium only (no clock: time is passed in)")
		else if (folder == "engine" && (hdr in engine_no || top == "netinet" || top == "arpa" ||
						top == "net" || top == "linux" || top == "liburing"))
			cross("engine/ has no socket, io_uring or fd header: transports/ owns every fd")
	}
	END { exit bad ? 1 : 0 }
	' $files || status=1
	# crypto/ takes time and choices as inputs (DESIGN.md): no reads of either.
	hits=$(grep -nHE '\<(getenv|secure_getenv|clock_gettime|gettimeofday|timespec_get)\>|\<time[ \t]*\(' \
	        $(echo "$files" | grep '^crypto/') || true)
	if [ -n "$hits" ]; then
		echo "$hits" | sed 's/$/: crypto\/ reads no clock and no environment/'
		status=1
	fi
	return "$status"
}

self_test() {
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	mkdir -p "$tmp/crypto" "$tmp/engine" "$tmp/transports" "$tmp/tools/cli"
	cat >"$tmp/crypto/x.c" <<-'EOF'
	#include "crypto/x.h"
	#include "engine/msg.h"
	#include <time.h>
	#include <gcrypt.h>
	static unsigned long t(void) { return (unsigned long)getenv("X"); }
	EOF
	cat >"$tmp/engine/x.c" <<-'EOF'
	#include "engine/x.h"
	#include "crypto/aead.h"
	#include "transports/uring.h"
	#include "tools/cli.h"
	#include "../transports/uring.h"
	#include <sys/socket.h>
	#include <netinet/tcp.h>
	#include <liburing.h>
	#include <arpa/inet.h>
	EOF
	cat >"$tmp/transports/x.c" <<-'EOF'
	#include "engine/secure_internal.h"
	#include "tools/state.h"
	#include <sys/socket.h>
	#include <ck_ring.h>
	EOF
	printf '#include "transports/uring.h"\n' >"$tmp/tools/cli/x.c"
	out=$(check "$tmp") && { echo "self-test: a broken tree passed" >&2; return 1; }
	want='crypto/x.c:2: crypto/x.c:3: crypto/x.c:4: crypto/x.c:5:
engine/x.c:3: engine/x.c:4: engine/x.c:5: engine/x.c:6: engine/x.c:7: engine/x.c:8: engine/x.c:9:
transports/x.c:1: transports/x.c:2: transports/x.c:4:'
	for w in $want; do
		case $out in
		*"$w"*) ;;
		*) echo "self-test: not reported: $w" >&2; echo "$out" >&2; return 1 ;;
		esac
	done
	for ok in 'crypto/x.c:1:' 'engine/x.c:1:' 'engine/x.c:2:' 'transports/x.c:3:' 'tools/cli/x.c'; do
		case $out in
		*"$ok"*) echo "self-test: wrongly reported: $ok" >&2; echo "$out" >&2; return 1 ;;
		esac
	done
	echo "check_arrows: self-test found all 14 crossings"
}

checks=0 passing=0
if [ "${1:-}" = "--self-test" ]; then
	shift
	checks=1
	if (self_test); then passing=1; fi
fi
root=${1:-$(dirname "$0")/..}
checks=$((checks + 1))
if check "$root"; then
	echo "check_arrows: no include crosses an arrow"
	passing=$((passing + 1))
fi
# the tally tools/count_tests.py reads
echo "Checks: $checks | Passing: $passing | Failing: $((checks - passing))"
[ "$passing" -eq "$checks" ]
