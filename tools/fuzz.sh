#!/usr/bin/env bash
# Long fuzz runs: builds the libFuzzer targets (clang, ASan+UBSan) and runs each
# from its seed corpus for N seconds, then prints and writes a Markdown table of
# executions, exec/s, coverage (libFuzzer's final cov: and ft:) and crashes.
#   tools/fuzz.sh --seconds N [--jobs J] [--merge] [--build-dir DIR] [--out FILE] [target...]
#     --seconds N     per target (default 60)
#     --jobs J        targets run at once, one process each (default 1)
#     --merge         afterwards merge the inputs that add coverage into
#                     tests/fuzz/corpus/<target>/ (only those; named by their sha1)
#     --build-dir DIR the fuzz build (default build-fuzz, shared with tools/test.sh)
#     --out FILE      the table (default DIR/fuzz-report.md)
#     target          fuzz_wire, wire, ... (default: every tests/fuzz/fuzz_*.c)
# New inputs go to a scratch directory, DIR/fuzz-runs/<time>/<target>/ (kept, with
# the logs and any crash-*/leak-*/timeout-*/oom-* reproducer). Exit status 1 when
# a target crashed. Installs missing Debian packages first (tools/deps.sh test).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seconds=60 jobs=1 merge=0 build=build-fuzz out="" targets=()
usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) seconds=${2:?}; shift ;;
	--jobs) jobs=${2:?}; shift ;;
	--merge) merge=1 ;;
	--build-dir) build=${2:?}; shift ;;
	--out) out=${2:?}; shift ;;
	-h | --help) usage ;;
	-*) echo "fuzz.sh: unknown option $1" >&2; usage ;;
	*) targets+=("fuzz_${1#fuzz_}") ;;
	esac
	shift
done
[[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 && $jobs =~ ^[0-9]+$ && $jobs -gt 0 ]] ||
	{ echo "fuzz.sh: --seconds and --jobs take a positive number" >&2; exit 2; }
out=${out:-$build/fuzz-report.md}

tools/deps.sh test || exit 1
echo "==> building the fuzz targets ($build/)"
cmake -S "$root" -B "$build" -G "Unix Makefiles" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	-DSLUICE_FUZZ=ON >/dev/null || exit 1
cmake --build "$build" -j "$(nproc)" 2>&1 | grep -E 'warning|error|Error'
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "fuzz.sh: the fuzz build failed" >&2; exit 1; }

named="${targets[*]}"
if [ ${#targets[@]} -eq 0 ]; then
	for src in tests/fuzz/fuzz_*.c; do
		targets+=("$(basename "$src" .c)")
	done
fi
for t in "${targets[@]}"; do
	[ -x "$build/bin/$t" ] || { echo "fuzz.sh: no target $t (see tests/fuzz/)" >&2; exit 2; }
done

# What is fuzzed: the tree as built now (edits during the run do not count).
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo " (with local changes)")
started=$(date -u '+%Y-%m-%d %H:%M UTC')
runs="$root/$build/fuzz-runs/$(date -u +%Y%m%d-%H%M%S)"
mkdir -p "$runs"

run_one() { # target: fuzz it, leave $runs/$t/{log,corpus/,rc}
	local t=$1 dir="$runs/$1" seeds="tests/fuzz/corpus/$1"
	mkdir -p "$dir/corpus"
	[ -d "$seeds" ] || seeds=""
	"$build/bin/$t" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$dir/" "$dir/corpus" $seeds >"$dir/log" 2>&1
	echo $? >"$dir/rc"
}

# Fields of a finished run: executions exec/s cov ft corpus-files crashes
stats() {
	local dir="$runs/$1" execs rate cov ft crashes
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
	# the last status line (DONE, or the last before a crash) holds the final coverage
	cov=$(grep -oE 'cov: [0-9]+' "$dir/log" | tail -1 | cut -d' ' -f2)
	ft=$(grep -oE 'ft: [0-9]+' "$dir/log" | tail -1 | cut -d' ' -f2)
	crashes=$(find "$dir" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o \
		-name 'timeout-*' -o -name 'oom-*' \) | wc -l)
	[ "$(cat "$dir/rc")" -ne 0 ] && [ "$crashes" -eq 0 ] && crashes=1
	echo "${execs:-?} ${rate:-?} ${cov:-?} ${ft:-?} $(find "$dir/corpus" -type f | wc -l) $crashes"
}

echo "==> fuzzing ${#targets[@]} targets for ${seconds}s each, $jobs at a time (scratch: $runs)"
running=0
for t in "${targets[@]}"; do
	run_one "$t" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait

cmd="tools/fuzz.sh --seconds $seconds --jobs $jobs${named:+ $named}"
[ "$merge" -eq 1 ] && cmd="$cmd --merge"
total_crashes=0
{
	echo "\`$cmd\` at $commit$dirty, started $started, $(nproc) CPUs"
	echo "($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); clang $(clang -dumpversion),"
	echo "-O0 with ASan+UBSan, as tools/test.sh builds them):"
	echo
	echo "| target | seconds | executions | exec/s | cov | ft | seeds | new inputs | crashes |"
	echo "|---|---|---|---|---|---|---|---|---|"
	for t in "${targets[@]}"; do
		read -r execs rate cov ft newin crashes <<<"$(stats "$t")"
		seeds=$(find "tests/fuzz/corpus/$t" -type f 2>/dev/null | wc -l)
		total_crashes=$((total_crashes + crashes))
		if [ "$crashes" -eq 0 ]; then c=none; else c="**$crashes** (\`$build/fuzz-runs/${runs##*/}/$t/\`)"; fi
		printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$t" "$seconds" "$execs" "$rate" \
			"$cov" "$ft" "$seeds" "$newin" "$c"
	done
} >"$out"
echo
cat "$out"
echo
echo "table written to $out; logs and new inputs under $runs/"

if [ "$merge" -eq 1 ]; then
	for t in "${targets[@]}"; do
		mkdir -p "tests/fuzz/corpus/$t"
		before=$(find "tests/fuzz/corpus/$t" -type f | wc -l)
		"$build/bin/$t" -merge=1 -max_len=65536 "tests/fuzz/corpus/$t" "$runs/$t/corpus" \
			>"$runs/$t/merge.log" 2>&1 || echo "fuzz.sh: merging $t failed: see $runs/$t/merge.log" >&2
		echo "merged $t: $before -> $(find "tests/fuzz/corpus/$t" -type f | wc -l) files"
	done
fi

if [ "$total_crashes" -ne 0 ]; then
	echo "fuzz.sh: $total_crashes crash(es): reproduce with $build/bin/TARGET FILE (files above)" >&2
	exit 1
fi
