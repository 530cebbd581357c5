# shellcheck shell=bash
# Sourced by the bench scripts that drive `sluice` from a build: what they all set up.
#
# bench_home NAME: $S is $build/bin/sluice (or the script stops: build first), and
# SLUICE_HOME a fresh /tmp/sluice-NAMEbench.* removed at exit, Ctrl-C included, after
# its nodes are deleted and the script's own bench_on_exit (if it defines one) has run.

bench_home() {
	S=$build/bin/sluice
	[ -x "$S" ] || {
		echo "bench/$1.sh: build first: cmake -S . -B build && cmake --build build" >&2
		exit 1
	}
	SLUICE_HOME=$(mktemp -d "/tmp/sluice-$1bench.XXXXXX")
	export SLUICE_HOME
	trap bench_cleanup EXIT INT TERM
}

bench_cleanup() {
	"$S" node delete --all --yes >/dev/null 2>&1 || true
	! declare -F bench_on_exit >/dev/null || bench_on_exit
	rm -rf "$SLUICE_HOME"
}

# jq_ EXPR: print the Python expression EXPR of the JSON document on stdin, as d.
jq_() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
