#!/usr/bin/env bash
# Runs every test: unit and integration tests on a normal build, the whole
# suite again under ASan+UBSan, the thread paths and integration tests under
# ThreadSanitizer, then each fuzz target for a short while.
# Installs missing Debian packages first. Bounded: ~15 minutes on 2 cores.
# Counts test cases, not stages: each Criterion test, each Python test and each
# fuzz target is one (a build that fails counts as one failed); a line per stage,
# then the closing line "N passed, N failed".
#   SLUICE_FUZZ_SECONDS   seconds per fuzz target (default 20)
#   SLUICE_TEST_STAGES    which stages to run (default "unit asan tsan fuzz")
#   SLUICE_TEST_TALLY     a file to keep the running "passed failed" in (.ci/run
#                         reads it when the run is cut short)
#   SLUICE_NO_REAP=1      for development only: leave /tmp/sluice-it-* alone at the
#                         end (other checkouts' integration tests may be running there)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=$(nproc)
fuzz_seconds=${SLUICE_FUZZ_SECONDS:-20}
stages=${SLUICE_TEST_STAGES:-"unit asan tsan fuzz"}

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
	# The fault tests' network namespaces (slf<pid>), should a test have been killed.
	for env in $(ip netns list 2>/dev/null | awk '/^slf[0-9]+/ {print $1}'); do
		ip netns del "$env" 2>/dev/null
	done
}
[ "${SLUICE_NO_REAP:-}" = 1 ] || trap reap_test_nodes EXIT

passed=0
failed=0
failures=()
stages_done=()
tally() { # stage passed failed [detail]: add a stage's test cases
	local line
	passed=$((passed + $2))
	failed=$((failed + $3))
	[ "$3" -eq 0 ] || failures+=("$1")
	line=$(printf '%-30s %5d passed, %d failed' "$1" "$2" "$3")
	stages_done+=("$line${4:+  ($4)}")
	echo "--- $1: $2 passed, $3 failed${4:+ ($4)}"
	[ -z "${SLUICE_TEST_TALLY:-}" ] || echo "$passed $failed" >"$SLUICE_TEST_TALLY"
}

build() { # dir cmake-args...
	local dir=$1
	shift
	cmake -S "$root" -B "$dir" -G "Unix Makefiles" "$@" >/dev/null &&
		cmake --build "$dir" -j "$jobs" 2>&1 | grep -E 'warning|error|Error' ; return "${PIPESTATUS[0]}"
}

stage_build() { # stage dir cmake-args...: no test case, but one failed when it fails
	local name=$1
	shift
	echo "==> $name"
	build "$@" && return 0
	tally "$name" 0 1 "the build failed"
	return 1
}

# Extra ctest arguments for the next suite (a label or name filter), then reset.
ctest_args=()
suite() { # stage dir [VAR=value...]: ctest with extra environment; counts each test case
	local name=$1 dir=$2 report=$2/ctest-junit.xml counts rc p f s detail
	shift 2
	echo "==> $name"
	rm -f "$report"
	# The whole output of every test goes into the report, where the counts are.
	env "$@" ctest --test-dir "$dir" "${ctest_args[@]}" --output-on-failure -j "$jobs" --timeout 600 \
		--output-junit "$root/$report" --test-output-size-passed 16000000 \
		--test-output-size-failed 16000000
	rc=$?
	counts=$(python3 tools/count_tests.py "$report")
	read -r p f s detail <<<"$counts"
	# ctest failing with every case passed (no tests found, a report it could not write)
	[ "$rc" -eq 0 ] || [ "$f" -ne 0 ] || { f=1; detail="$detail; ctest exited $rc"; }
	[ "$s" -eq 0 ] || detail="$detail; $s skipped"
	tally "$name" "$p" "$f" "$detail"
}

if [[ $stages == *unit* ]]; then
	stage_build "build" build -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
		suite "tests (unit + integration)" build
fi

if [[ $stages == *asan* ]]; then
	# Criterion forks its workers; LeakSanitizer follows them, io_uring needs no special options.
	stage_build "build with ASan+UBSan" build-asan -DCMAKE_BUILD_TYPE=Debug -DSLUICE_ASAN=ON \
		-DSLUICE_BENCH=OFF &&
		suite "tests under ASan+UBSan" build-asan SLUICE_SANITIZED=1 \
			ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi

if [[ $stages == *tsan* ]]; then
	# Criterion's forked workers hide threads from TSan: the engine's thread paths run in
	# tests/tsan/tsan_driver.c, and the nodes of the integration tests (shards, rings,
	# pools, portals) run built with TSan; a report in a node's log fails its test.
	# test_faults needs root and netns and adds nothing thread-wise: not here.
	if stage_build "build with TSan" build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_TSAN=ON \
		-DSLUICE_BENCH=OFF; then
		ctest_args=(-L '^(tsan|integration)$' -E 'test_faults')
		suite "tests under TSan" build-tsan SLUICE_TSAN=1 SLUICE_SANITIZED=1 \
			TSAN_OPTIONS=halt_on_error=0
		ctest_args=()
	fi
fi

if [[ $stages == *fuzz* ]] &&
	stage_build "build fuzz targets" build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
		-DSLUICE_FUZZ=ON; then
	fp=0 ff=0 bad=()
	for f in build-fuzz/bin/fuzz_*; do
		[ -x "$f" ] || continue
		name=$(basename "$f")
		corpus=$(mktemp -d)
		seeds="tests/fuzz/corpus/$name"
		[ -d "$seeds" ] || seeds=""
		echo "==> fuzz $name (${fuzz_seconds}s)"
		if "$f" -max_total_time="$fuzz_seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 "$corpus" $seeds; then
			fp=$((fp + 1))
		else
			ff=$((ff + 1))
			bad+=("$name")
		fi
		rm -rf "$corpus"
	done
	tally "fuzz targets (${fuzz_seconds}s each)" "$fp" "$ff" "${bad[*]:+failing: ${bad[*]}}"
fi

echo
for line in "${stages_done[@]}"; do echo "$line"; done
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
