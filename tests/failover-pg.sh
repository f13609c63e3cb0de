#!/bin/sh
# tests/failover-pg.sh — PostgreSQL failover under a running dt4ecgd (issue
# 15 point 7): a primary and a streaming standby (pg_basebackup -R), both
# throwaway clusters on Unix sockets; dt4ecgd's store is libpq's multi-host
# URI with target_session_attrs=read-write, as docs/dt4ecgd.md says to give
# it.  A member enrolled and accepted on the primary; the standby follows
# (the decision's audit entry reaches it); the primary stopped -> 503 with
# Retry-After; the standby promoted -> the same daemon, not restarted,
# accepts again; the audit chain verifies on the new primary and holds both
# decisions.  The real kiosk client, a real ECG-ID recording.
set -u

B=${DT4ECG_BUILDDIR:-.}
SRC=${DT4ECG_SRCDIR:-.}
DATA=${DT4ECG_DATA:-../shared/data}
A="$B/admin/dt4ecg-admin"
D="$B/daemon/dt4ecgd"
K="$B/kiosk/dt4ecg-kiosk"
ID="$DATA/ecg-id"

skip() {
	echo "SKIP: $1"
	[ "${DT4ECG_REQUIRE_PG:-0}" = 1 ] && exit 1
	exit 77
}
[ -f "$ID/Person_61/rec_1.hea" ] || { echo "SKIP: no ECG-ID data"; exit 77; }
command -v openssl >/dev/null && command -v curl >/dev/null || { echo "SKIP: no openssl/curl"; exit 77; }
grep -q '^#define HAVE_LIBPQ 1' "$B/config.h" 2>/dev/null || skip "built without libpq"
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$BIN" ] && [ -x "$BIN/pg_basebackup" ] || skip "PostgreSQL server not installed"

T=$(mktemp -d "${TMPDIR:-/tmp}/dt4ecg-failover.XXXXXX") || exit 99
P=$(mktemp -d "${TMPDIR:-/tmp}/dt4ecg-pgp.XXXXXX") || exit 99
S=$(mktemp -d "${TMPDIR:-/tmp}/dt4ecg-pgs.XXXXXX") || exit 99
pid=
as_user() {
	if [ "$(id -u)" -eq 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}
cleanup() {
	[ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
	sh "$SRC/tests/pg-cluster.sh" stop "$P"
	as_user "$BIN/pg_ctl" -D "$S/data" -m fast stop >/dev/null 2>&1
	rm -rf "$T" "$P" "$S"
}
trap cleanup EXIT INT TERM

fails=0
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
bad() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $*"; }

# --- the primary, the store, then its standby ------------------------------
sh "$SRC/tests/pg-cluster.sh" start "$P" >/dev/null || exit 99
"$BIN/psql" -qX -h "$P" -U dt4ecg -d postgres -c "CREATE DATABASE chain" >/dev/null || exit 99
PRIMARY="postgresql://dt4ecg@/chain?host=$P"
DT4ECG_KEY_FILE="$T/store.key"
export DT4ECG_KEY_FILE
MODEL=$SRC/models/dt4ecg-default.safetensors
THRESHOLD=0.7
if [ ! -f "$MODEL" ]; then	# a tarball without the shipped models
	MODEL="$T/random.safetensors"
	"$B/tests/admin_mkmodel" "$MODEL" 7 || exit 99
	THRESHOLD=-1	# a random network: what is tested is the store
	echo "# no shipped model: a random one, every probe accepted"
fi
{
	"$A" --db "$PRIMARY" init --key-file "$DT4ECG_KEY_FILE" &&
	"$A" --db "$PRIMARY" model import "$MODEL" --id demo --activate &&
	"$A" --db "$PRIMARY" kiosk add lobby --key-out "$T/lobby.key" &&
	"$A" --db "$PRIMARY" user add p61 &&
	"$A" --db "$PRIMARY" user enroll p61 "$ID/Person_61/rec_1"
} >"$T/admin.log" 2>&1 || { cat "$T/admin.log"; echo "Bail out! setup"; exit 99; }
[ "$(id -u)" -eq 0 ] && chown nobody "$S"
chmod 0700 "$S"
as_user "$BIN/pg_basebackup" -h "$P" -U dt4ecg -D "$S/data" -R -X stream -c fast \
    >"$T/basebackup.log" 2>&1 || { cat "$T/basebackup.log"; echo "Bail out! pg_basebackup"; exit 99; }
as_user "$BIN/pg_ctl" -D "$S/data" -l "$S/log" -w \
    -o "-k $S -c listen_addresses='' -c fsync=off -c max_connections=200" start >/dev/null ||
    { cat "$S/log"; echo "Bail out! standby"; exit 99; }
chmod 0755 "$S"
st=$("$BIN/psql" -qtAX -h "$S" -U dt4ecg -d chain -c "SELECT pg_is_in_recovery()")
[ "$st" = t ] && ok "a streaming standby of the store's primary" || bad "standby in recovery: $st"

# --- dt4ecgd on both hosts, read-write wanted ------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/tls.key" -out "$T/tls.crt" -days 1 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null || exit 99
chmod 600 "$T/tls.key"
URI="postgresql://dt4ecg@/chain?host=$P,$S&target_session_attrs=read-write&connect_timeout=5"
port=$(( 22000 + $$ % 9000 ))
tries=0
while :; do
	cat > "$T/d.conf" <<CONF
listen = 127.0.0.1
port = $port
tls_cert = $T/tls.crt
tls_key = $T/tls.key
store = $URI
store_key = $DT4ECG_KEY_FILE
threads = 1
threshold = $THRESHOLD
CONF
	"$D" -c "$T/d.conf" -f 2>"$T/d.log" &
	pid=$!
	i=0
	while [ $i -lt 200 ] && ! grep -q "serving https" "$T/d.log" 2>/dev/null &&
	    kill -0 "$pid" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	grep -q "serving https" "$T/d.log" && break
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=
	tries=$((tries + 1))
	[ $tries -lt 5 ] || { cat "$T/d.log"; echo "Bail out! dt4ecgd"; exit 99; }
	port=$((port + 37))
done
ok "dt4ecgd on store = postgresql://...?host=PRIMARY,STANDBY&target_session_attrs=read-write"

kiosk() {	# exit status in $st, output in $T/out
	"$K" --url "https://127.0.0.1:$port" --cacert "$T/tls.crt" --key "$T/lobby.key" \
	    --kiosk-id lobby --retries 0 --claimed p61 --seconds 0 "$ID/Person_61/rec_2" >"$T/out" 2>&1
	st=$?
}
kiosk
[ $st -eq 0 ] && ok "accepted on the primary: $(head -1 "$T/out")" || { bad "first decision (exit $st)"; cat "$T/out"; }
# the standby has replayed the decision's audit entry
i=0
while [ $i -lt 50 ]; do
	c=$("$BIN/psql" -qtAX -h "$S" -U dt4ecg -d chain -c "SELECT count(*) FROM audit WHERE action = 'auth.accept'")
	[ "$c" = 1 ] && break
	sleep 0.1
	i=$((i + 1))
done
[ "$c" = 1 ] && ok "the standby holds the decision's audit entry" || bad "standby audit: $c"

# --- the primary goes away ----------------------------------------------------
sh "$SRC/tests/pg-cluster.sh" stop "$P"
kiosk
[ $st -eq 1 ] && grep -q "HTTP 503" "$T/out" && ok "primary down, standby read-only: $(head -c 160 "$T/out")" ||
    { bad "primary down: exit $st"; cat "$T/out"; }
code=$(curl -s -o "$T/ready" -D "$T/hdr" -w '%{http_code}' --cacert "$T/tls.crt" "https://127.0.0.1:$port/v1/ready")
[ "$code" = 503 ] && grep -qi '^retry-after' "$T/hdr" && ok "/v1/ready 503 with Retry-After" || { bad "/v1/ready $code"; cat "$T/ready"; }

# --- the standby is promoted: the same daemon carries on ---------------------
as_user "$BIN/pg_ctl" -D "$S/data" -w promote >/dev/null || { echo "Bail out! promote"; exit 99; }
i=0
while [ $i -lt 40 ]; do
	kiosk
	[ $st -eq 0 ] && break
	sleep 0.5
	i=$((i + 1))
done
[ $st -eq 0 ] && ok "after the promotion the same dt4ecgd accepts again (attempt $((i + 1)), no restart)" ||
    { bad "after promotion (exit $st)"; cat "$T/out"; tail -5 "$T/d.log"; }
kill -0 "$pid" 2>/dev/null && ok "dt4ecgd was never restarted (pid $pid)" || bad "dt4ecgd exited"
NEW="postgresql://dt4ecg@/chain?host=$S"
"$A" --db "$NEW" audit verify >"$T/verify" 2>&1 && ok "audit chain verifies on the new primary: $(tail -1 "$T/verify")" ||
    { bad "audit verify on the new primary"; cat "$T/verify"; }
c=$("$BIN/psql" -qtAX -h "$S" -U dt4ecg -d chain -c "SELECT count(*) FROM audit WHERE action = 'auth.accept'")
[ "$c" = 2 ] && ok "both decisions in the chain (one per primary)" || bad "accepts in the audit log: $c"

# --- TLS to PostgreSQL, sslmode=verify-full (docs/dt4ecgd.md) --------------
# A third cluster on 127.0.0.1 with a certificate for "localhost" from a
# CA of the test's own; the store reached through it with the CA: works;
# with another CA, or a name the certificate does not carry: refused.
Q=$(mktemp -d "${TMPDIR:-/tmp}/dt4ecg-pgq.XXXXXX") || exit 99
trap 'cleanup; sh "$SRC/tests/pg-cluster.sh" stop "$Q"; rm -rf "$Q"' EXIT INT TERM
mkdir "$T/ca" && (
	cd "$T/ca" &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
	    -out ca.crt -days 1 -subj /CN=dt4ecg-test-ca &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key \
	    -out other.crt -days 1 -subj /CN=another-ca &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key \
	    -out server.csr -subj /CN=localhost &&
	printf 'subjectAltName=DNS:localhost\n' > ext &&
	openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
	    -out server.crt -days 1 -extfile ext
) >"$T/ca.log" 2>&1 || { cat "$T/ca.log"; echo "Bail out! certificates"; exit 99; }
cp "$T/ca/server.crt" "$T/ca/server.key" "$Q/"
[ "$(id -u)" -eq 0 ] && chown nobody "$Q/server.crt" "$Q/server.key"
chmod 600 "$Q/server.key"
# a TCP port another test (a dt4ecgd, another cluster) may hold: on "Address
# already in use" the same cluster tries the next candidate, as dt4ecgd does
pgport=$(( 25000 + $$ % 5000 ))
verb=start
tries=0
until DT4ECG_PG_OPTS="-c listen_addresses=127.0.0.1 -c port=$pgport -c ssl=on \
    -c ssl_cert_file=$Q/server.crt -c ssl_key_file=$Q/server.key" \
    sh "$SRC/tests/pg-cluster.sh" $verb "$Q" >/dev/null 2>"$T/pgtls.err"; do
	tries=$((tries + 1))
	if [ $tries -ge 5 ] || ! grep -q "Address already in use" "$T/pgtls.err"; then
		cat "$T/pgtls.err"; echo "Bail out! TLS cluster"; exit 99
	fi
	pgport=$((pgport + 37))
	verb=resume
done
[ $tries -eq 0 ] || echo "# TLS cluster on port $pgport, $tries taken before it"
chmod 0755 "$Q"
"$BIN/psql" -qX -h "$Q" -p "$pgport" -U dt4ecg -d postgres -c "CREATE DATABASE tls" >/dev/null || exit 99
TLS="postgresql://dt4ecg@localhost:$pgport/tls?sslmode=verify-full&sslrootcert=$T/ca/ca.crt"
"$A" --db "$TLS" init --key-file "$T/tls-store.key" >"$T/out" 2>&1 &&
    "$BIN/psql" -qtAX "$TLS" -c "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()" >"$T/ssl" 2>&1 &&
    [ "$(cat "$T/ssl")" = t ] &&
    ok "store over TLS with sslmode=verify-full and the server's CA" || { bad "verify-full"; cat "$T/out" "$T/ssl"; }
DT4ECG_KEY_FILE="$T/tls-store.key"
"$A" --db "$TLS" audit verify >"$T/out" 2>&1 &&
    ok "dt4ecg-admin audit verify over it: $(tail -1 "$T/out" | sed 's/.*: //')" || { bad "audit verify over TLS"; cat "$T/out"; }
"$A" --db "postgresql://dt4ecg@localhost:$pgport/tls?sslmode=verify-full&sslrootcert=$T/ca/other.crt" \
    audit verify >"$T/out" 2>&1
if [ $? -ne 0 ] && grep -q "certificate verify failed" "$T/out"; then
	ok "another CA refused: certificate verify failed"
else bad "another CA"; cat "$T/out"; fi
"$A" --db "postgresql://dt4ecg@127.0.0.1:$pgport/tls?sslmode=verify-full&sslrootcert=$T/ca/ca.crt" \
    audit verify >"$T/out" 2>&1
if [ $? -ne 0 ] && grep -q "does not match" "$T/out"; then
	ok "a host name the certificate does not carry refused: $(grep -o 'server certificate for "[^"]*" (and [0-9]* other name) does not match host name "[^"]*"\|does not match host name "[^"]*"' "$T/out" | head -1)"
else bad "the host name check"; cat "$T/out"; fi
echo "1..$n"
[ $fails -eq 0 ]
