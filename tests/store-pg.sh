#!/bin/sh
# tests/store-pg.sh — the store's cmocka programs (test_store, test_guard
# and test_crash) again, on a throwaway PostgreSQL cluster that this
# script starts (tests/pg-cluster.sh) and stops: each test gets a database
# of its own (tests/pgtest.c).  Skips (77) when PostgreSQL is not installed
# or dt4ecg was built without libpq, unless DT4ECG_REQUIRE_PG=1 (.ci/run).
set -u

B=${DT4ECG_BUILDDIR:-.}
SRC=${DT4ECG_SRCDIR:-.}

skip() {
	echo "SKIP: $1"
	[ "${DT4ECG_REQUIRE_PG:-0}" = 1 ] && exit 1
	exit 77
}

grep -q '^#define HAVE_LIBPQ 1' "$B/config.h" 2>/dev/null || skip "built without libpq"
T=$(mktemp -d "${TMPDIR:-/tmp}/dt4ecg-pg.XXXXXX") || exit 99
cleanup() {
	sh "$SRC/tests/pg-cluster.sh" stop "$T"
	rm -rf "$T"
}
trap cleanup EXIT INT TERM
sh "$SRC/tests/pg-cluster.sh" start "$T" >/dev/null
rc=$?
[ $rc -eq 77 ] && skip "PostgreSQL server not installed"
[ $rc -eq 0 ] || exit 99

DT4ECG_TEST_PG_HOST=$T
export DT4ECG_TEST_PG_HOST
fail=0
for t in test_store test_guard test_crash; do
	if "$B/tests/$t" >"$T/$t.out" 2>&1; then
		echo "ok: $t on PostgreSQL ($(grep -c '^\[       OK \]' "$T/$t.out") passed, $(grep '^\[  SKIPPED \] test_' "$T/$t.out" | sort -u | wc -l) skipped)"
	else
		echo "FAIL: $t on PostgreSQL"
		cat "$T/$t.out"
		fail=1
	fi
done
exit $fail
