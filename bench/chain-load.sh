#!/bin/sh
# bench/chain-load.sh — dt4ecg-bench load against N dt4ecgd replicas on one
# store (issue 15 point 6):
#   bench/chain-load.sh --replicas N --store sqlite|pg [--seconds S]
# Sets up a store (an SQLite file, or a throwaway PostgreSQL cluster via
# tests/pg-cluster.sh) with ECG-ID persons 61-65 enrolled, starts N
# replicas (threads = 1 each) on loopback, runs one `dt4ecg-bench load
# --url` client per replica at concurrency 1 for S seconds, all at once,
# and prints: requests/s summed over the replicas, p50/p99 per replica,
# each replica's CPU seconds per request (from /proc), and on PostgreSQL
# the transactions committed and the statements run per decision
# (pg_stat_database, pg_stat_statements).  Run from the build directory.
set -u

B=${DT4ECG_BUILDDIR:-.}
SRC=${DT4ECG_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
DATA=${DT4ECG_DATA:-$SRC/../shared/data}
A="$B/admin/dt4ecg-admin"
D="$B/daemon/dt4ecgd"
BENCH="$B/bench/dt4ecg-bench"
ID="$DATA/ecg-id"
N=1
KIND=sqlite
SECS=10
while [ $# -gt 0 ]; do
	case $1 in
	--replicas) N=$2; shift 2 ;;
	--store) KIND=$2; shift 2 ;;
	--seconds) SECS=$2; shift 2 ;;
	*) echo "usage: $0 --replicas N --store sqlite|pg [--seconds S]" >&2; exit 2 ;;
	esac
done
T=$(mktemp -d "${TMPDIR:-/tmp}/dt4ecg-chainload.XXXXXX") || exit 1
P=
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	[ -n "$P" ] && sh "$SRC/tests/pg-cluster.sh" stop "$P"
	rm -rf "$T" ${P:+"$P"}
}
trap cleanup EXIT INT TERM
export DT4ECG_KEY_FILE="$T/store.key"
if [ "$KIND" = pg ]; then
	P=$(mktemp -d "${TMPDIR:-/tmp}/dt4ecg-pg.XXXXXX") || exit 1
	DT4ECG_PG_OPTS="-c shared_preload_libraries=pg_stat_statements" \
	    sh "$SRC/tests/pg-cluster.sh" start "$P" >/dev/null || exit 1
	BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
	sql() { "$BIN/psql" -qtAX -h "$P" -U dt4ecg -d chain -c "$1"; }
	"$BIN/psql" -qX -h "$P" -U dt4ecg -d postgres -c "CREATE DATABASE chain" >/dev/null
	S="postgresql://dt4ecg@/chain?host=$P"
else
	S="$T/store.db"
fi
MODEL=$SRC/models/dt4ecg-default.safetensors
{
	"$A" --db "$S" init --key-file "$DT4ECG_KEY_FILE" &&
	"$A" --db "$S" model import "$MODEL" --id demo --activate &&
	"$A" --db "$S" kiosk add lobby --key-out "$T/lobby.key" &&
	for p in 61 62 63 64 65; do
		"$A" --db "$S" user add "p$p" && "$A" --db "$S" user enroll "p$p" "$ID/Person_$p/rec_1" || exit 1
	done
} >"$T/admin.log" 2>&1 || { cat "$T/admin.log"; exit 1; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/tls.key" -out "$T/tls.crt" -days 1 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null || exit 1
chmod 600 "$T/tls.key"
BASE=$(( 30000 + $$ % 20000 ))
r=1
while [ $r -le "$N" ]; do
	cat > "$T/d$r.conf" <<CONF
listen = 127.0.0.1
port = $((BASE + r))
tls_cert = $T/tls.crt
tls_key = $T/tls.key
store = $S
store_key = $DT4ECG_KEY_FILE
threads = 1
threshold = 0.7
rate_per_kiosk = 10000
rate_burst = 10000

CONF
	"$D" -c "$T/d$r.conf" -f 2>"$T/d$r.log" &
	eval "pid$r=$!"
	pids="$pids $!"
	i=0
	until grep -q "serving https" "$T/d$r.log" 2>/dev/null; do
		sleep 0.1; i=$((i + 1)); [ $i -lt 300 ] || { cat "$T/d$r.log"; exit 1; }
	done
	r=$((r + 1))
done
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }	# clock ticks
if [ "$KIND" = pg ]; then
	sql "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null 2>&1
	sql "SELECT pg_stat_statements_reset()" >/dev/null 2>&1
	x0=$(sql "SELECT xact_commit FROM pg_stat_database WHERE datname = 'chain'")
	a0=$(sql "SELECT count(*) FROM audit")
fi
r=1
while [ $r -le "$N" ]; do
	eval "c0_$r=\$(cpu \$pid$r)"
	"$BENCH" load --url "https://127.0.0.1:$((BASE + r))" --cacert "$T/tls.crt" \
	    --key "$T/lobby.key" --kiosk-id lobby --concurrency 1 --seconds "$SECS" \
	    --json --recordings "$ID/Person_61/rec_2" "$ID/Person_62/rec_2" \
	    "$ID/Person_63/rec_2" >"$T/b$r.json" 2>"$T/b$r.err" &
	eval "bp$r=$!"
	r=$((r + 1))
done
r=1
while [ $r -le "$N" ]; do eval "wait \$bp$r"; r=$((r + 1)); done
hz=$(getconf CLK_TCK)
total=0
r=1
echo "store=$KIND replicas=$N seconds=$SECS load=$(cut -d' ' -f1 /proc/loadavg) cores=$(nproc)"
while [ $r -le "$N" ]; do
	eval "c1=\$(cpu \$pid$r); c0=\$c0_$r"
	line=$(grep '"bench":"load"' "$T/b$r.json" | head -1)
	req=$(echo "$line" | sed 's/.*"requests":\([0-9]*\).*/\1/')
	rps=$(echo "$line" | sed 's/.*"requests_per_s":\([0-9.]*\).*/\1/')
	p50=$(echo "$line" | sed 's/.*"latency_ms_p50":\([0-9.]*\).*/\1/')
	p99=$(echo "$line" | sed 's/.*"latency_ms_p99":\([0-9.]*\).*/\1/')
	cpr=$(awk -v c=$((c1 - c0)) -v h="$hz" -v n="$req" 'BEGIN { printf "%.1f", (n > 0 ? 1000 * c / h / n : 0) }')
	echo "replica $r: $req requests, $rps req/s, p50 $p50 ms, p99 $p99 ms, CPU $cpr ms/request"
	total=$(awk -v a="$total" -v b="$rps" 'BEGIN { print a + b }')
	r=$((r + 1))
done
echo "total: $total req/s"
if [ "$KIND" = pg ]; then
	x1=$(sql "SELECT xact_commit FROM pg_stat_database WHERE datname = 'chain'")
	a1=$(sql "SELECT count(*) FROM audit")
	dec=$((a1 - a0))
	echo "PostgreSQL: $dec decisions audited, $(awk -v x=$((x1 - x0)) -v d=$dec 'BEGIN { printf "%.2f", d ? x / d : 0 }') transactions committed per decision (the stats queries included)"
	st=$(sql "SELECT sum(calls) FROM pg_stat_statements" 2>/dev/null)
	[ -n "$st" ] && echo "PostgreSQL: $(awk -v s="$st" -v d=$dec 'BEGIN { printf "%.1f", d ? s / d : 0 }') statements per decision (pg_stat_statements)"
	sql "SELECT calls, left(query, 70) FROM pg_stat_statements ORDER BY calls DESC LIMIT 12" 2>/dev/null
fi
