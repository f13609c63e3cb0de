#!/bin/sh
# bench/chain-load.sh — `dt4ecg-bench load --replicas` (bench/bench_chain.c)
# on a throwaway PostgreSQL cluster (tests/pg-cluster.sh: a Unix socket,
# fsync off) or on SQLite, with the same arguments:
#   bench/chain-load.sh --store sqlite|pg [dt4ecg-bench load options...]
#   e.g. bench/chain-load.sh --store pg --replicas 1,2,3 --seconds 20
# Run from the build directory (DT4ECG_BUILDDIR, DT4ECG_SRCDIR and
# DT4ECG_DATA as for the tests).
set -u

B=${DT4ECG_BUILDDIR:-.}
SRC=${DT4ECG_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
export DT4ECG_SRCDIR="$SRC"
export DT4ECG_DATA="${DT4ECG_DATA:-$SRC/../shared/data}"
KIND=
if [ "${1:-}" = --store ]; then KIND=${2:-}; shift 2; fi
case $KIND in
sqlite) exec "$B/bench/dt4ecg-bench" load "$@" ;;
pg) ;;
*) echo "usage: $0 --store sqlite|pg [dt4ecg-bench load options]" >&2; exit 2 ;;
esac
P=$(mktemp -d "${TMPDIR:-/tmp}/dt4ecg-pg.XXXXXX") || exit 1
trap 'sh "$SRC/tests/pg-cluster.sh" stop "$P" >/dev/null 2>&1; rm -rf "$P"' EXIT INT TERM
sh "$SRC/tests/pg-cluster.sh" start "$P" >/dev/null || exit 1
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
"$BIN/psql" -qX -h "$P" -U dt4ecg -d postgres -c "CREATE DATABASE chain" >/dev/null || exit 1
echo "chain-load: PostgreSQL $("$BIN/postgres" --version | awk '{ print $3 }') in $P (fsync off)"
"$B/bench/dt4ecg-bench" load --store "postgresql://dt4ecg@/chain?host=$P" "$@"
