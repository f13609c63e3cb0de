#!/bin/sh
# tests/admin.sh — the real dt4ecg-admin binary on a temporary store: init,
# kiosks, models, enrollment from real ECG-ID recordings, activation,
# audit, backup, erasure, and the usage errors.
set -u

B=${DT4ECG_BUILDDIR:-.}
DATA=${DT4ECG_DATA:-../shared/data}
A="$B/admin/dt4ecg-admin"
MK="$B/tests/admin_mkmodel"
ID="$DATA/ecg-id"

if [ ! -f "$ID/Person_01/rec_1.hea" ]; then
	echo "SKIP: no ECG-ID data in $ID"
	exit 77
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/dt4ecg-admin-test.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT INT TERM
S="$T/store.db"
fails=0
n=0

ok() { n=$((n + 1)); echo "ok $n - $*"; }
bad() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $*"; }

# run EXPECTED_STATUS DESCRIPTION COMMAND...: output in $T/out, $T/err
run() {
	want=$1; what=$2; shift 2
	"$@" >"$T/out" 2>"$T/err"
	got=$?
	if [ "$got" -eq "$want" ]; then
		ok "$what"
	else
		bad "$what (exit $got, expected $want)"
		sed 's/^/#   out: /' "$T/out" | head -20
		sed 's/^/#   err: /' "$T/err" | head -20
	fi
}
# has FILE TEXT DESCRIPTION
has() {
	if grep -q -- "$2" "$1"; then ok "$3"; else
		bad "$3 ('$2' not in output)"; sed 's/^/#   /' "$1" | head -20
	fi
}
hasnt() {
	if grep -q -- "$2" "$1"; then
		bad "$3 ('$2' in output)"; sed 's/^/#   /' "$1" | head -20
	else ok "$3"; fi
}
mode() { stat -c %a "$1"; }

"$MK" "$T/m1.safetensors" 1 && "$MK" "$T/m2.safetensors" 2 || {
	echo "Bail out! cannot write test models"; exit 99; }

# --- usage ----------------------------------------------------------------
run 2 "no command: usage" "$A"
has "$T/err" "usage:" "usage printed"
run 2 "unknown command" "$A" --db "$S" frobnicate
run 2 "unknown sub-command" "$A" --db "$S" user frobnicate
run 2 "unknown option" "$A" --db "$S" kiosk list --bogus
run 2 "kiosk add without --key-out" "$A" --db "$S" kiosk add k1
has "$T/err" "usage: dt4ecg-admin" "kiosk add usage"
run 2 "user enroll without recordings" "$A" --db "$S" user enroll u1
run 2 "bad --fs" "$A" --db "$S" user enroll u1 x.csv --fs nope
run 0 "--help of a command" "$A" user enroll --help
has "$T/out" "RECORDING" "enroll help"
run 0 "--help of a group" "$A" model --help
has "$T/out" "activate ID" "model help"
run 1 "no store yet" "$A" --db "$S" user list
has "$T/err" "$S" "error names the store"

# --- init -----------------------------------------------------------------
run 0 "init" "$A" --db "$S" init
[ "$(mode "$S")" = 600 ] && ok "store mode 0600" || bad "store mode $(mode "$S")"
[ "$(mode "$S.key")" = 600 ] && ok "key mode 0600" || bad "key mode $(mode "$S.key")"
run 1 "init refuses an existing store" "$A" --db "$S" init
has "$T/err" "already exists" "init names the existing file"
run 0 "init with --key-file" "$A" --db "$T/other.db" init --key-file "$T/other.key"
[ -f "$T/other.key" ] && ok "--key-file written" || bad "--key-file not written"
run 0 "migrate (nothing to do)" "$A" --db "$S" migrate
has "$T/out" "nothing to do" "migrate reports"

# --- kiosks ---------------------------------------------------------------
run 0 "kiosk add" "$A" --db "$S" kiosk add lobby-1 --key-out "$T/lobby-1.key"
[ "$(mode "$T/lobby-1.key")" = 600 ] && ok "kiosk key mode 0600" || bad "kiosk key mode"
[ "$(wc -l < "$T/lobby-1.key")" = 1 ] && ok "kiosk key: one line" || bad "kiosk key lines"
[ "$(base64 -d < "$T/lobby-1.key" | wc -c)" = 64 ] && ok "kiosk key: 64 bytes" || bad "kiosk key size"
cp "$T/lobby-1.key" "$T/keep.key"
run 1 "kiosk add refuses to overwrite a key file" "$A" --db "$S" kiosk add lobby-2 --key-out "$T/lobby-1.key"
cmp -s "$T/lobby-1.key" "$T/keep.key" && ok "key file untouched" || bad "key file changed"
run 0 "kiosk list has no lobby-2" "$A" --db "$S" kiosk list
hasnt "$T/out" "lobby-2" "failed kiosk add left nothing"
run 1 "kiosk add of an existing id" "$A" --db "$S" kiosk add lobby-1 --key-out "$T/x.key"
has "$T/err" "lobby-1" "error names the kiosk"
[ ! -e "$T/x.key" ] && ok "no key file for a refused kiosk" || bad "stray key file"
run 1 "kiosk add with a bad id" "$A" --db "$S" kiosk add "bad id" --key-out "$T/y.key"
run 0 "kiosk add 2" "$A" --db "$S" kiosk add lobby-2 --key-out "$T/lobby-2.key"
run 0 "kiosk revoke" "$A" --db "$S" kiosk revoke lobby-2
run 1 "kiosk revoke twice" "$A" --db "$S" kiosk revoke lobby-2
run 1 "kiosk revoke unknown" "$A" --db "$S" kiosk revoke nosuch
has "$T/err" "nosuch" "error names the unknown kiosk"
run 0 "kiosk list --json" "$A" --db "$S" kiosk list --json
has "$T/out" '"status": "revoked"' "lobby-2 revoked in the list"
has "$T/out" '"status": "active"' "lobby-1 active in the list"

# --- frictions -------------------------------------------------------------
# --fs per recording: the same ECG as CSV at 500 Hz and at 250 Hz
od -An -v -t d2 -w4 "$ID/Person_03/rec_1.dat" | awk '{ printf "%.4f\n", $1 / 200 }' > "$T/r500.csv"
awk 'NR % 2 == 1' "$T/r500.csv" > "$T/r250.csv"
run 1 "a store that does not exist" "$A" --db "$T/nosuch.db" user list
has "$T/err" "no such file; create it with dt4ecg-admin --db $T/nosuch.db init" \
	"says so, and how to create it"
run 1 "... also where the key is needed" "$A" --db "$T/nosuch.db" user enroll x y
has "$T/err" "no such file" "the missing store, not a missing key"
run 0 "--db after the command" "$A" kiosk list --db "$S"
run 0 "--db= after the command" "$A" user list --db="$S"
run 2 "--db twice, different" "$A" --db "$S" user list --db "$T/other.db"
run 0 "--version" "$A" --version
has "$T/out" "dt4ecg-admin (dt4ecg) " "--version prints the version"

# --- models ---------------------------------------------------------------
run 1 "enroll without an active model" "$A" --db "$S" user enroll nobody "$ID/Person_01/rec_1"
printf 'garbage' > "$T/broken.safetensors"
run 1 "import of a broken model" "$A" --db "$S" model import "$T/broken.safetensors"
has "$T/err" "broken.safetensors" "error names the model file"
run 0 "model import --activate" "$A" --db "$S" model import "$T/m1.safetensors" --activate
has "$T/out" "model m1 active" "m1 active"
run 1 "model import of the same id" "$A" --db "$S" model import "$T/m1.safetensors"

# --- release signatures, the SHA-256 recorded at import -------------------
run 0 "model keygen" "$A" model keygen --key-out "$T/rel.key"
[ "$(mode "$T/rel.key")" = 600 ] && ok "release secret key is 0600" || bad "release key mode $(mode "$T/rel.key")"
cmp -s "$T/out" "$T/rel.key.pub" && ok "public key printed and in rel.key.pub" || bad "public key"
run 1 "keygen never overwrites" "$A" model keygen --key-out "$T/rel.key"
run 0 "model sign" "$A" model sign "$T/m2.safetensors" --key "$T/rel.key"
[ -s "$T/m2.safetensors.sig" ] && ok "signature written" || bad "no signature"
run 2 "--require-signed needs the release key" "$A" --db "$S" model import "$T/m2.safetensors" --id x --require-signed
run 1 "a model without a signature is refused" "$A" --db "$S" model import "$T/m1.safetensors" --id unsigned --release-key "$T/rel.key.pub" --require-signed
has "$T/err" "m1.safetensors.sig" "the missing signature file is named"
run 1 "another file's signature is refused" "$A" --db "$S" model import "$T/m1.safetensors" --id other --release-key "$T/rel.key.pub" --signature "$T/m2.safetensors.sig"
has "$T/err" "does not verify" "the refusal says why"
"$A" model keygen --key-out "$T/other.key" >/dev/null 2>&1
run 1 "a signature by another key is refused" "$A" --db "$S" model import "$T/m2.safetensors" --id other --release-key "$T/other.key.pub"
run 0 "a signed model is imported" "$A" --db "$S" model import "$T/m2.safetensors" --id signed --release-key "$(cat "$T/rel.key.pub")" --require-signed
has "$T/out" "signed by ed25519:" "import names the release key"
run 0 "model show signed" "$A" --db "$S" model show signed
has "$T/out" "recorded at import, verified" "model show: the SHA-256 recorded and verified"
has "$T/out" "signed by: *ed25519:" "model show: the release key"
if command -v sqlite3 >/dev/null; then
	sqlite3 "$S" "UPDATE models SET bytes = substr(bytes, 1, 200) || x'ff' || substr(bytes, 202) WHERE id = 'signed'"
	run 1 "a model altered in the store is refused at load" "$A" --db "$S" model show signed
	# the row MAC (store/rowmac.c) and the SHA-256 of the import both
	# catch it; the first to run names it
	if grep -q -e "do not match the SHA-256 recorded at import" \
	    -e "do not authenticate under the store key" "$T/err"; then
		ok "the altered model is named"
	else
		bad "the altered model is named"; sed 's/^/#   /' "$T/err"
	fi
	run 1 "and cannot be activated" "$A" --db "$S" model activate signed
else
	echo "# no sqlite3: store tampering not checked"
fi

# --- members --------------------------------------------------------------
run 0 "user add" "$A" --db "$S" user add p01 --name "Person One"
run 0 "user add 2" "$A" --db "$S" user add p02
run 1 "user add existing" "$A" --db "$S" user add p01
has "$T/err" "p01" "error names the member"
run 0 "enroll p01 from two recordings" "$A" --db "$S" user enroll p01 "$ID/Person_01/rec_1" "$ID/Person_01/rec_2"
has "$T/out" "enrolled 2 recordings" "two recordings enrolled"
run 0 "enroll p02" "$A" --db "$S" user enroll p02 "$ID/Person_02/rec_1"
# an unusable recording: flat, 10 s at 500 Hz
awk 'BEGIN { for (i = 0; i < 5000; i++) print 0.1 }' > "$T/flat.csv"
run 1 "enroll refuses a flat recording" "$A" --db "$S" user enroll p02 "$T/flat.csv" --fs 500
has "$T/err" "flat.csv" "refusal names the file"
run 1 "enroll refuses a missing recording" "$A" --db "$S" user enroll p02 "$T/nosuch"
has "$T/err" "nosuch" "refusal names the missing file"
run 1 "enroll: one unusable of two, nothing stored" "$A" --db "$S" user enroll p02 "$ID/Person_02/rec_2" "$T/flat.csv" --fs 500
run 0 "user show p02" "$A" --db "$S" user show p02 --json
has "$T/out" '"recordings": 1' "p02 still has one recording"
run 1 "enroll an unknown member" "$A" --db "$S" user enroll nosuch "$ID/Person_03/rec_1"
has "$T/err" "nosuch" "error names the unknown member"
run 0 "user add without a name" "$A" --db "$S" user add pfs
hasnt "$T/out" "()" "no () for a member without a display name"
run 0 "--fs per recording" "$A" --db "$S" user enroll pfs --fs 500 "$T/r500.csv" --fs 250 "$T/r250.csv"
has "$T/out" "r500.csv: 20.0 s at 500 Hz" "the first at 500 Hz"
has "$T/out" "r250.csv: 20.0 s at 250 Hz" "the second at 250 Hz"
run 0 "user delete pfs" "$A" --db "$S" user delete pfs
run 0 "user list --json" "$A" --db "$S" user list --json
has "$T/out" '"id": "p01"' "p01 listed"
has "$T/out" '"display_name": "Person One"' "display name listed"
run 0 "user show --json" "$A" --db "$S" user show p01 --json
has "$T/out" '"recordings": 2' "p01 has two recordings"
has "$T/out" '"templates": 2' "p01 has two templates"
has "$T/out" '"seconds": 20.0' "recording duration shown"
run 1 "user show unknown" "$A" --db "$S" user show nosuch
# a display name that is not UTF-8 would break every accept (13.8)
run 1 "user add refuses a name that is not UTF-8" "$A" --db "$S" user add p09 --name "$(printf 'Zo\353')"
has "$T/err" "UTF-8" "refusal says why"
# lock state and staff unlock (issue 14.4/14.8)
sqlite3 "$S" "UPDATE members SET locked_until = strftime('%s','now') + 600 WHERE id = 'p02'"
run 0 "user list shows the lock" "$A" --db "$S" user list
grep p02 "$T/out" | grep -q "T.*Z *$" && ok "p02 locked until a time" || bad "no lock time for p02"
run 0 "user show shows the lock" "$A" --db "$S" user show p02
has "$T/out" "locked until:" "user show: locked until"
run 0 "user unlock" "$A" --db "$S" user unlock p02
has "$T/out" "p02 unlocked" "unlock says so"
# the lock was written into the file without the key: its row failed its MAC
has "$T/out" "failed its MAC" "unlock says the row was not authentic"
run 0 "user show --json after unlock" "$A" --db "$S" user show p02 --json
has "$T/out" '"locked": false' "p02 no longer locked"
has "$T/out" '"row": "authentic"' "the unlock renewed the row MAC"
run 0 "audit after unlock" "$A" --db "$S" audit --tail 3
has "$T/out" '"row_failed_mac":true' "the unlock audited as lifting a forged lock"
run 1 "user unlock unknown" "$A" --db "$S" user unlock nosuch
has "$T/err" "nosuch" "unlock names the unknown member"
sqlite3 "$S" "INSERT INTO kiosk_failures(kiosk, fails, locked_until) VALUES ('lobby-1', 0, strftime('%s','now') + 600)"
run 0 "kiosk list shows a locked kiosk" "$A" --db "$S" kiosk list --json
has "$T/out" '"status": "locked"' "lobby-1 locked in the list"

# --- activation of a second model -----------------------------------------
run 0 "model import m2" "$A" --db "$S" model import "$T/m2.safetensors" --id second
# random weights: every member looks alike, which activation refuses
run 1 "a model whose impostor scores collapse is refused" "$A" --db "$S" model activate second
has "$T/err" "impostor scores collapse" "the refusal says why"
has "$T/out" "^m1: .*separation" "the active model's scores printed beside"
run 1 "--dry-run: the same refusal" "$A" --db "$S" model activate second --dry-run
has "$T/out" "^second: .*separation" "--dry-run prints the scores"
run 0 "model activate second --force" "$A" --db "$S" model activate second --force
has "$T/err" "activating anyway" "--force says so"
run 0 "--dry-run of the active model's peer" "$A" --db "$S" model activate m1 --dry-run --force
has "$T/out" "would be activated" "--dry-run does not switch"
run 0 "model list --json" "$A" --db "$S" model list --json
# second: 3 templates recomputed (2 of p01, 1 of p02), and active
tr -d ' \n' < "$T/out" > "$T/models"
has "$T/models" '"id":"second","active":true,"embedding_dim":32,"templates":3' "second active with 3 templates"
has "$T/models" '"id":"m1","active":false' "m1 no longer active"
run 0 "model show" "$A" --db "$S" model show second --json
has "$T/out" '"activities"' "model show has the activities"
run 1 "model activate unknown" "$A" --db "$S" model activate nosuch
has "$T/err" "nosuch" "error names the model"
run 0 "model export" "$A" --db "$S" model export second "$T/exported.safetensors"
cmp -s "$T/exported.safetensors" "$T/m2.safetensors" && ok "export is the imported file" || bad "export differs"
run 1 "model export refuses to overwrite" "$A" --db "$S" model export second "$T/exported.safetensors"

# --- without the key ------------------------------------------------------
mv "$S.key" "$T/moved.key"
run 1 "enroll without the key" "$A" --db "$S" user enroll p02 "$ID/Person_02/rec_2"
has "$T/err" "$S.key" "error names the missing key file"
has "$T/err" "DT4ECG_KEY_FILE" "the not-found message says where it looked"
run 0 "enroll with --key-file" "$A" --db "$S" user enroll p02 "$ID/Person_02/rec_2" --key-file "$T/moved.key"
run 1 "a wrong key is refused" "$A" --db "$S" user enroll p02 "$ID/Person_02/rec_3" --key-file "$T/other.key"
DT4ECG_KEY_FILE="$T/moved.key" run 0 "key from \$DT4ECG_KEY_FILE" "$A" --db "$S" user show p02
hasnt "$T/out" "need the store key" "\$DT4ECG_KEY_FILE key used"
DT4ECG_KEY_FILE="$T/env.key" run 0 "init takes \$DT4ECG_KEY_FILE" "$A" --db "$T/env.db" init
[ -f "$T/env.key" ] && ok "init wrote \$DT4ECG_KEY_FILE" || bad "init ignored \$DT4ECG_KEY_FILE"
has "$T/out" "LoadCredential" "init says where the key goes for dt4ecgd"
mkdir "$T/cred" && cp "$T/moved.key" "$T/cred/store.key" && chmod 600 "$T/cred/store.key"
CREDENTIALS_DIRECTORY="$T/cred" run 0 "key from \$CREDENTIALS_DIRECTORY" "$A" --db "$S" user show p02
mv "$T/moved.key" "$S.key"

# --- audit, backup, erasure -----------------------------------------------
run 0 "audit" "$A" --db "$S" audit
has "$T/out" "admin:" "audit actor is admin:<user>"
has "$T/out" "model.activate" "activation audited"
has "$T/out" "member.unlock" "unlock audited"
run 0 "audit --kiosk" "$A" --db "$S" audit --kiosk lobby-1
has "$T/out" "kiosk.add" "audit --kiosk: the entries about the kiosk too"
hasnt "$T/out" "member.add" "audit --kiosk: not the others"
run 0 "audit --json --after 3" "$A" --db "$S" audit --json --after 3
hasnt "$T/out" '"id":3,' "--after skips entries"
run 0 "audit verify" "$A" --db "$S" audit verify
has "$T/out" "verifies" "audit chain verifies"
run 0 "backup" "$A" --db "$S" backup "$T/backup.db"
run 1 "backup refuses to overwrite" "$A" --db "$S" backup "$T/backup.db"
run 0 "the backup opens with the key" "$A" --db "$T/backup.db" user show p01 --key-file "$S.key"
run 0 "user delete" "$A" --db "$S" user delete p01
run 0 "user list after delete" "$A" --db "$S" user list --json
hasnt "$T/out" '"p01"' "p01 erased"
has "$T/out" '"p02"' "p02 kept"
run 1 "user delete unknown" "$A" --db "$S" user delete p01
run 0 "audit verify after erasure" "$A" --db "$S" audit verify
run 0 "audit after erasure" "$A" --db "$S" audit
has "$T/out" "member.erase" "erasure audited"
hasnt "$T/out" "p01" "no member id in the audit log (audit ids only)"
run 1 "audit --member of an erased member" "$A" --db "$S" audit --member p01
has "$T/err" "erased member" "the error says why"
for f in "$S" "$S-wal"; do
	if [ -f "$f" ] && grep -q -a -e "Person One" "$f"; then
		bad "$f still holds the erased member's name"
	else
		ok "$(basename "$f"): no trace of the erased member's name"
	fi
done
run 0 "backup still has p01" "$A" --db "$T/backup.db" user list

# --- a member row written into the file without the key -----------------
sqlite3 "$S" "UPDATE members SET locked_until = 1 WHERE id = 'p02'"
run 0 "user show of a forged row" "$A" --db "$S" user show p02
has "$T/out" "FAILS ITS MAC" "user show marks the forged row"
run 0 "user list --json" "$A" --db "$S" user list --json
has "$T/out" '"row": "fails its MAC"' "user list --json marks it"
run 0 "a forged row can still be erased" "$A" --db "$S" user delete p02
run 0 "audit verify at the end" "$A" --db "$S" audit verify

echo "1..$n"
[ "$fails" -eq 0 ]
