#!/usr/bin/env bash
# Runs every test: unit and integration tests on a normal build, the whole
# suite again under ASan+UBSan, then each fuzz target for a short while.
# Installs missing Debian packages first. Bounded: ~15 minutes on 2 cores.
#   SLUICE_FUZZ_SECONDS   seconds per fuzz target (default 20)
#   SLUICE_TEST_STAGES    which stages to run (default "unit asan fuzz")
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=$(nproc)
fuzz_seconds=${SLUICE_FUZZ_SECONDS:-20}
stages=${SLUICE_TEST_STAGES:-"unit asan fuzz"}

tools/deps.sh test || exit 1

# Integration tests delete their nodes; a test killed by its timeout cannot. Whatever
# node a test home still runs at the end is stopped here: nothing is left running.
reap_test_nodes() {
	local env pid
	for env in /proc/[0-9]*/environ; do
		pid=${env#/proc/}
		pid=${pid%/environ}
		# -z: the environment's entries end in NUL; a process gone meanwhile is no match.
		grep -qsz '^SLUICE_HOME=/tmp/sluice-it-' "$env" && kill "$pid" 2>/dev/null
	done
	rm -rf /tmp/sluice-it-*
}
trap reap_test_nodes EXIT

passed=0
failed=0
failures=()
step() { # name command...
	local name=$1
	shift
	echo "==> $name"
	if "$@"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures+=("$name")
	fi
}

build() { # dir cmake-args...
	local dir=$1
	shift
	cmake -S "$root" -B "$dir" -G "Unix Makefiles" "$@" >/dev/null &&
		cmake --build "$dir" -j "$jobs" 2>&1 | grep -E 'warning|error|Error' ; return "${PIPESTATUS[0]}"
}

suite() { # dir [VAR=value...]: ctest with extra environment
	local dir=$1
	shift
	env "$@" ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 600
}

if [[ $stages == *unit* ]]; then
	step "build" build build -DCMAKE_BUILD_TYPE=RelWithDebInfo
	step "tests (unit + integration)" suite build
fi

if [[ $stages == *asan* ]]; then
	step "build with ASan+UBSan" build build-asan -DCMAKE_BUILD_TYPE=Debug -DSLUICE_ASAN=ON -DSLUICE_BENCH=OFF
	# Criterion forks its workers; LeakSanitizer follows them, io_uring needs no special options.
	step "tests under ASan+UBSan" suite build-asan SLUICE_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi

if [[ $stages == *fuzz* ]]; then
	step "build fuzz targets" build build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DSLUICE_FUZZ=ON
	for f in build-fuzz/bin/fuzz_*; do
		[ -x "$f" ] || continue
		name=$(basename "$f")
		corpus=$(mktemp -d)
		seeds="tests/fuzz/corpus/$name"
		[ -d "$seeds" ] || seeds=""
		step "fuzz $name (${fuzz_seconds}s)" "$f" -max_total_time="$fuzz_seconds" -max_len=65536 \
			-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$corpus" $seeds
		rm -rf "$corpus"
	done
fi

echo
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
