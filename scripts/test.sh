#!/bin/sh
# Installs what is needed, builds, and runs every test twice: a normal build
# (make check, then make distcheck) and a build with AddressSanitizer +
# UndefinedBehaviorSanitizer; then make lint (cppcheck, scan-build against
# scripts/lint/scan-build.baseline) and the format check of changed lines.
# Prints every test's output; exits non-zero on any failure.
#   scripts/test.sh            everything
#   scripts/test.sh --quick    the normal build's make check only
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
quick=no
[ "${1:-}" = "--quick" ] && quick=yes

"$top/scripts/install-deps.sh"
# install-deps.sh installed PostgreSQL: its store tests must run, not skip.
DT4ECG_REQUIRE_PG=1
export DT4ECG_REQUIRE_PG

# The public data sets live beside the repository (never copied into it).
DT4ECG_DATA=${DT4ECG_DATA:-$(cd "$top/.." && pwd)/shared/data}
export DT4ECG_DATA
[ -d "$DT4ECG_DATA" ] || echo "test.sh: warning: $DT4ECG_DATA not found; tests that need real ECG will be skipped" >&2

jobs=$(nproc 2>/dev/null || echo 2)
status=0

# Prints the log of every test run in build dir $1.
show_logs() {
	for log in $(find "$1" -name '*.log' -path '*tests/*' -o -name '*.log' -path '*fuzz/*' | grep -v -e test-suite.log | sort); do
		echo "---- $(basename "$log" .log) ----"
		cat "$log"
	done
	[ -f "$1/test-suite.log" ] && tail -n 30 "$1/test-suite.log" || true
	# the failing ones again, last, where a shortened output keeps them
	for trs in $(grep -l -r -E '^:test-result: (FAIL|ERROR|XPASS)' \
	    --include='*.trs' "$1" 2>/dev/null | sort); do
		log=${trs%.trs}.log
		echo "==== FAILED: ${log#"$1"/} (its last 80 lines) ===="
		tail -n 80 "$log"
	done
}

run_pass() {
	name=$1
	shift
	dir="$top/build-$name"
	echo "==== $name build: configure $* ===="
	mkdir -p "$dir"
	(cd "$dir" && "$top/configure" -q "$@" && make -s -j"$jobs") || return 1
	echo "==== $name build: make check ===="
	rc=0
	(cd "$dir" && make -s -j"$jobs" check) || rc=1
	show_logs "$dir"
	return $rc
}

[ -x "$top/configure" ] || "$top/bootstrap"
if [ -f "$top/config.status" ]; then
	echo "test.sh: $top is configured in place; its build folders need a" \
	    "clean source tree: run 'make distclean' there first" >&2
	exit 1
fi

run_pass normal || status=1
if [ "$quick" = no ]; then
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	export ASAN_OPTIONS UBSAN_OPTIONS
	run_pass asan --enable-sanitizers || status=1
	echo "==== make distcheck ===="
	(cd "$top/build-normal" && make -s -j"$jobs" distcheck >distcheck.out 2>&1) || {
		tail -n 60 "$top/build-normal/distcheck.out"
		status=1
	}
	tail -n 5 "$top/build-normal/distcheck.out"
	# cppcheck clean, scan-build no report beyond its reviewed baseline
	echo "==== make lint ===="
	LINT_DIR="$top/build-lint" "$top/scripts/lint.sh" || status=1
	# style of the lines changed since main: reported, not (yet) fatal
	echo "==== format check (changed lines) ===="
	"$top/scripts/check-format.sh" ||
	    echo "test.sh: warning: changed lines are off .clang-format" >&2
fi

if [ $status -eq 0 ]; then
	echo "test.sh: all passes succeeded"
else
	echo "test.sh: FAILED" >&2
fi
exit $status
