#!/bin/sh
# tests/admin-pg.sh — every dt4ecg-admin command on a PostgreSQL store
# (issue 15): a throwaway cluster (tests/pg-cluster.sh), the store key named
# by --key-file or $DT4ECG_KEY_FILE, real ECG-ID enrolments; then
# migrate-store copies a SQLite store built the same way into a second
# database and the copy is checked (row counts, every sealed row opens, the
# chain verifies and ends at the same head, and the copy works).
set -u

B=${DT4ECG_BUILDDIR:-.}
SRC=${DT4ECG_SRCDIR:-.}
DATA=${DT4ECG_DATA:-../shared/data}
A="$B/admin/dt4ecg-admin"
MK="$B/tests/admin_mkmodel"
ID="$DATA/ecg-id"

skip() {
	echo "SKIP: $1"
	[ "${DT4ECG_REQUIRE_PG:-0}" = 1 ] && exit 1
	exit 77
}
[ -f "$ID/Person_01/rec_1.hea" ] || { echo "SKIP: no ECG-ID data"; exit 77; }
grep -q '^#define HAVE_LIBPQ 1' "$B/config.h" 2>/dev/null || skip "built without libpq"
T=$(mktemp -d "${TMPDIR:-/tmp}/dt4ecg-admin-pg.XXXXXX") || exit 99
# the cluster's own directory (the server may run as another user)
P=$(mktemp -d "${TMPDIR:-/tmp}/dt4ecg-pg.XXXXXX") || exit 99
cleanup() {
	sh "$SRC/tests/pg-cluster.sh" stop "$P"
	rm -rf "$T" "$P"
}
trap cleanup EXIT INT TERM
sh "$SRC/tests/pg-cluster.sh" start "$P" >/dev/null
rc=$?
[ $rc -eq 77 ] && skip "PostgreSQL server not installed"
[ $rc -eq 0 ] || exit 99
createdb() {
	"$(dirname "$(ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | tail -1)")/psql" \
	    -qX -h "$P" -U dt4ecg -d postgres -c "CREATE DATABASE $1" >/dev/null
}
psql_() {
	"$(dirname "$(ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | tail -1)")/psql" \
	    -qtAX -h "$P" -U dt4ecg -d "$1" -c "$2"
}
createdb gym || exit 99
createdb chain || exit 99
S="postgresql://dt4ecg@/gym?host=$P"
K="$T/gym.key"

fails=0
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
bad() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $*"; }
run() {
	want=$1; what=$2; shift 2
	"$@" >"$T/out" 2>"$T/err"
	got=$?
	if [ "$got" -eq "$want" ]; then ok "$what"; else
		bad "$what (exit $got, expected $want)"
		sed 's/^/#   out: /' "$T/out" | head -20
		sed 's/^/#   err: /' "$T/err" | head -20
	fi
}
has() {
	if grep -q -- "$2" "$1"; then ok "$3"; else
		bad "$3 ('$2' not in output)"; sed 's/^/#   /' "$1" | head -20
	fi
}

"$MK" "$T/m1.safetensors" 1 && "$MK" "$T/m2.safetensors" 2 || {
	echo "Bail out! cannot write test models"; exit 99; }

# --- init, migrate, key ---------------------------------------------------
run 2 "init on PostgreSQL needs --key-file" "$A" --db "$S" init
run 0 "init" "$A" --db "$S" init --key-file "$K"
has "$T/out" "schema version 5" "init says the schema"
run 1 "init refuses an initialised store" "$A" --db "$S" init --key-file "$T/k2"
run 0 "migrate (nothing to do)" "$A" --db "$S" migrate
run 1 "no key, no biometric command" "$A" --db "$S" user enroll x y
has "$T/err" "DT4ECG_KEY_FILE" "the message names how to give the key"
export DT4ECG_KEY_FILE="$K"
# --- kiosks ---------------------------------------------------------------
run 0 "kiosk add" "$A" --db "$S" kiosk add lobby-1 --key-out "$T/lobby-1.key"
run 0 "kiosk add 2" "$A" --db "$S" kiosk add lobby-2 --key-out "$T/lobby-2.key"
run 1 "kiosk add of an existing id" "$A" --db "$S" kiosk add lobby-1 --key-out "$T/x.key"
run 0 "kiosk revoke" "$A" --db "$S" kiosk revoke lobby-2
run 1 "kiosk revoke twice" "$A" --db "$S" kiosk revoke lobby-2
run 0 "kiosk list --json" "$A" --db "$S" kiosk list --json
has "$T/out" "lobby-2" "kiosk list shows lobby-2"
if psql_ gym "UPDATE kiosks SET revoked_at = NULL WHERE id = 'lobby-2'" >/dev/null 2>&1; then
	bad "a revocation cannot be lifted in the database"
else ok "a revocation cannot be lifted in the database (trigger)"; fi
# --- models ---------------------------------------------------------------
run 0 "model import --activate" "$A" --db "$S" model import "$T/m1.safetensors" --activate
run 1 "model import of the same id" "$A" --db "$S" model import "$T/m1.safetensors"
run 0 "model import m2" "$A" --db "$S" model import "$T/m2.safetensors" --id second
run 0 "model list --json" "$A" --db "$S" model list --json
run 0 "model show" "$A" --db "$S" model show second --json
run 0 "model export" "$A" --db "$S" model export second "$T/exported.safetensors"
if cmp -s "$T/exported.safetensors" "$T/m2.safetensors"; then ok "export = import"; else bad "export = import"; fi
# --- members --------------------------------------------------------------
run 0 "user add" "$A" --db "$S" user add p01 --name "Person One"
run 0 "user add 2" "$A" --db "$S" user add p02
run 1 "user add existing" "$A" --db "$S" user add p01
run 0 "enroll p01 from two recordings" "$A" --db "$S" user enroll p01 "$ID/Person_01/rec_1" "$ID/Person_01/rec_2"
run 0 "enroll p02" "$A" --db "$S" user enroll p02 "$ID/Person_02/rec_1"
run 0 "user show p01 --json" "$A" --db "$S" user show p01 --json
has "$T/out" '"recordings": *2' "p01 has two recordings"
run 0 "user list" "$A" --db "$S" user list --json
run 0 "model activate second --force (templates recomputed)" "$A" --db "$S" model activate second --force
run 0 "model activate m1 --force" "$A" --db "$S" model activate m1 --force
run 0 "user unlock (not locked)" "$A" --db "$S" user unlock p02
run 0 "enroll with --key-file" env -u DT4ECG_KEY_FILE "$A" --db "$S" user enroll p02 "$ID/Person_02/rec_2" --key-file "$K"
"$A" model keygen --key-out "$T/wrong.key" >/dev/null 2>&1
run 0 "a second key" "$A" --db "$T/other.db" init --key-file "$T/other.key"
run 1 "a wrong key is refused" env -u DT4ECG_KEY_FILE "$A" --db "$S" user show p02 --key-file "$T/other.key"
# --- audit, backup --------------------------------------------------------
run 0 "audit" "$A" --db "$S" audit
run 0 "audit --kiosk" "$A" --db "$S" audit --kiosk lobby-1
run 0 "audit verify" "$A" --db "$S" audit verify
run 1 "backup refers to pg_dump" "$A" --db "$S" backup "$T/b.db"
has "$T/err" "pg_dump" "backup says pg_dump"
run 0 "user delete" "$A" --db "$S" user delete p01
run 0 "audit verify after erasure" "$A" --db "$S" audit verify
if [ "$(psql_ gym "SELECT count(*) FROM members WHERE id = 'p01'")" = 0 ] &&
    [ "$(psql_ gym "SELECT count(*) FROM audit WHERE subject = 'p01' OR detail LIKE '%p01%'")" = 0 ]; then
	ok "erasure: no row names p01"
else bad "erasure: no row names p01"; fi
if psql_ gym "DELETE FROM audit WHERE id = 1" >/dev/null 2>&1 ||
    psql_ gym "TRUNCATE audit" >/dev/null 2>&1; then
	bad "the audit log is append-only"
else ok "the audit log is append-only (DELETE and TRUNCATE refused)"; fi

# --- migrate-store: a gym's SQLite store into PostgreSQL -----------------
G="$T/gym.db"
unset DT4ECG_KEY_FILE
run 0 "sqlite init" "$A" --db "$G" init
run 0 "sqlite kiosk" "$A" --db "$G" kiosk add k1 --key-out "$T/k1.key"
run 0 "sqlite kiosk 2" "$A" --db "$G" kiosk add k2 --key-out "$T/k2.key"
run 0 "sqlite revoke" "$A" --db "$G" kiosk revoke k2
run 0 "sqlite model" "$A" --db "$G" model import "$T/m1.safetensors" --activate
run 0 "sqlite enroll" "$A" --db "$G" user add a1
run 0 "sqlite enroll a1" "$A" --db "$G" user enroll a1 "$ID/Person_03/rec_1" "$ID/Person_03/rec_2"
run 0 "sqlite enroll a2" "$A" --db "$G" user add a2
run 0 "sqlite enroll a2 rec" "$A" --db "$G" user enroll a2 "$ID/Person_04/rec_1"
run 0 "sqlite erase a2" "$A" --db "$G" user delete a2
C="postgresql://dt4ecg@/chain?host=$P"
run 2 "migrate-store needs --from and --to" "$A" migrate-store --from "$G"
run 0 "migrate-store" "$A" migrate-store --from "$G" --to "$C"
cat "$T/out"
has "$T/out" "audit chain of" "migrate-store verified the chain"
has "$T/out" "recordings and" "migrate-store opened the sealed rows"
for t in members recordings templates kiosks models; do
	a=$(sqlite3 "$G" "SELECT count(*) FROM $t")
	b=$(psql_ chain "SELECT count(*) FROM $t")
	if [ "$a" = "$b" ]; then ok "$t: $a rows in both"; else bad "$t: $a in SQLite, $b in PostgreSQL"; fi
done
if [ "$(psql_ chain "SELECT count(*) FROM audit")" = $(($(sqlite3 "$G" "SELECT count(*) FROM audit") + 1)) ]; then
	ok "audit: every entry copied, plus the copy's own store.migrate_store"
else bad "audit entry counts"; fi
run 1 "migrate-store refuses a store that is not empty" "$A" migrate-store --from "$G" --to "$C"
export DT4ECG_KEY_FILE="$G.key"
run 0 "the copy: audit verify" "$A" --db "$C" audit verify
run 0 "the copy: user show a1 (recordings open)" "$A" --db "$C" user show a1 --json
run 0 "the copy: kiosk list" "$A" --db "$C" kiosk list --json
has "$T/out" '"revoked' "the copy keeps the revocation"
run 0 "the copy: enrol a new member" "$A" --db "$C" user add a3
run 0 "the copy: enrol a3" "$A" --db "$C" user enroll a3 "$ID/Person_05/rec_1"
run 0 "the copy: audit verify after writes" "$A" --db "$C" audit verify

echo "1..$n"
[ $fails -eq 0 ]
