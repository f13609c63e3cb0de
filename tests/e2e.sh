#!/bin/sh
# tests/e2e.sh — the admin tool, the daemon and the kiosk client together,
# as the demo runs them: a store with real ECG-ID members, dt4ecgd on
# localhost with a self-signed certificate, and dt4ecg-kiosk requests whose
# decisions are checked.
#
# The model is $DT4ECG_MODEL, else the shipped models/dt4ecg-default.safetensors,
# else a small random one.  A random model cannot tell people apart, so with
# it only decisions that do not depend on accuracy are checked (the
# enrollment recording itself, unknown members, revoked kiosks, unusable
# signals); with a trained model the other recordings of enrolled persons
# must be accepted as the right member and a never-enrolled person rejected.
set -u

B=${DT4ECG_BUILDDIR:-.}
SRC=${DT4ECG_SRCDIR:-.}
DATA=${DT4ECG_DATA:-../shared/data}
A="$B/admin/dt4ecg-admin"
D="$B/daemon/dt4ecgd"
K="$B/kiosk/dt4ecg-kiosk"
ID="$DATA/ecg-id"

[ -f "$ID/Person_61/rec_1.hea" ] || { echo "SKIP: no ECG-ID data"; exit 77; }
[ -x "$D" ] || { echo "SKIP: $D not built"; exit 77; }
command -v openssl >/dev/null || { echo "SKIP: no openssl"; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/dt4ecg-e2e.XXXXXX") || exit 99
pid=
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
	rm -rf "$T"
}
trap cleanup EXIT INT TERM
fails=0
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
bad() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $*"; }
# kiosk EXPECTED_STATUS PATTERN DESCRIPTION ARGS...
kiosk() {
	want=$1; pat=$2; what=$3; shift 3
	"$K" --url "https://localhost:$PORT" --cacert "$T/tls.crt" \
	    --key "$T/lobby.key" --kiosk-id lobby "$@" >"$T/out" 2>"$T/err"
	got=$?
	if [ "$got" -eq "$want" ] && grep -q -- "$pat" "$T/out" "$T/err"; then
		ok "$what: $(head -n 1 "$T/out" "$T/err" | grep -v '^==>' | grep . | head -n 1 | sed "s|$ID/||")"
	else
		bad "$what (exit $got, expected $want and '$pat')"
		sed 's/^/#   /' "$T/out" "$T/err" | head -10
		tail -n 5 "$T/dt4ecgd.log" | sed 's/^/#   log: /'
	fi
}

# --help and --version on every program, exit 0 (and each subcommand's
# --help of the bench)
for prog in "$D" "$A" "$K" "$B/bench/dt4ecg-bench"; do
	for o in --help --version; do
		if "$prog" $o >"$T/out" 2>&1 && [ -s "$T/out" ]; then
			ok "$(basename "$prog") $o"
		else
			bad "$(basename "$prog") $o (exit $?)"
		fi
	done
done
for c in infer train match load; do
	"$B/bench/dt4ecg-bench" $c --help >"$T/out" 2>&1 &&
	    grep -q "usage: dt4ecg-bench $c" "$T/out" &&
	    ok "dt4ecg-bench $c --help" || bad "dt4ecg-bench $c --help"
done
"$D" --help 2>&1 | grep -q "default /etc/dt4ecgd/dt4ecgd.conf)" &&
    grep -q '^\.IR /etc/dt4ecgd/dt4ecgd.conf ),' "$SRC/man/dt4ecgd.8" &&
    ok "one default configuration path in usage and man page" ||
    bad "the default configuration path differs"

MODEL=${DT4ECG_MODEL:-$SRC/models/dt4ecg-default.safetensors}
trained=1
if [ ! -f "$MODEL" ]; then
	MODEL="$T/random.safetensors"
	"$B/tests/admin_mkmodel" "$MODEL" 7 || exit 99
	trained=0
	echo "# no trained model: checking the protocol with a random one"
fi

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/tls.key" -out "$T/tls.crt" -days 1 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null || exit 99
chmod 600 "$T/tls.key"

S="$T/store.db"
{
	"$A" --db "$S" init &&
	"$A" --db "$S" model import "$MODEL" --id demo --activate &&
	"$A" --db "$S" kiosk add lobby --key-out "$T/lobby.key" &&
	"$A" --db "$S" kiosk add old --key-out "$T/old.key" &&
	"$A" --db "$S" kiosk revoke old &&
	# ECG-ID 61-90: people no shipped model trained on (DESIGN.md 8)
	for p in 61 62 63 64 65; do
		"$A" --db "$S" user add "p$p" --name "Person $p" &&
		"$A" --db "$S" user enroll "p$p" "$ID/Person_$p/rec_1" || exit 1
	done
} >"$T/admin.log" 2>&1 || { cat "$T/admin.log"; echo "Bail out! setup"; exit 99; }
ok "store set up: 5 members, 2 kiosks (1 revoked), model demo"

# a port that is free now
PORT=$(( 20000 + $$ % 20000 ))
start() {
	cat > "$T/dt4ecgd.conf" <<CONF
listen = 127.0.0.1
port = $PORT
tls_cert = $T/tls.crt
tls_key = $T/tls.key
store = $S
store_key = $S.key
threads = 2
threshold = ${THRESHOLD:-0.7}
rate_per_kiosk = 1000
rate_burst = 1000
audit_anchor_s = 1
audit_anchor_file = $T/audit.anchor
CONF
	"$D" -c "$T/dt4ecgd.conf" -f 2>"$T/dt4ecgd.log" &
	pid=$!
	i=0
	while [ $i -lt 100 ]; do
		grep -q "serving https" "$T/dt4ecgd.log" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
# a TLS key others can read is refused, as the store key is (checked
# once dt4ecgd serves, with a copy of mode 644)
cp "$T/tls.key" "$T/open.key"
chmod 644 "$T/open.key"
tries=0
until start; do
	wait "$pid" 2>/dev/null; pid=
	tries=$((tries + 1))
	[ $tries -lt 5 ] || { cat "$T/dt4ecgd.log"; echo "Bail out! dt4ecgd"; exit 99; }
	PORT=$((PORT + 1))
done
ok "dt4ecgd serving on port $PORT"
sed -e "s|^tls_key = .*|tls_key = $T/open.key|" -e "s|^port = .*|port = $((PORT + 1))|" \
    "$T/dt4ecgd.conf" > "$T/open.conf"
timeout 20 "$D" -c "$T/open.conf" -f > "$T/open.log" 2>&1
st=$?
[ $st -ne 0 ] && [ $st -ne 124 ] && grep -q "accessible by group or others.*chmod 600" "$T/open.log" &&
    ok "a TLS key readable by others is refused: $(grep -o 'TLS key.*' "$T/open.log" | head -1 | sed "s|$T/||")" ||
    { bad "TLS key of mode 644 (exit $st)"; cat "$T/open.log"; }
grep -q "EXTERNAL_LOGGER" "$T/dt4ecgd.log" &&
    bad "libmicrohttpd warns at start: $(grep EXTERNAL_LOGGER "$T/dt4ecgd.log")" ||
    ok "no libmicrohttpd warning at start"

# the enrollment recording itself, sent whole: the same embedding
kiosk 0 "accepted as p61" "1:1 on the enrollment recording" \
    --claimed p61 --seconds 0 "$ID/Person_61/rec_1"
# the request id printed by the kiosk finds the decision in the audit log
rid=$(sed -n 's/.*, request \([0-9a-f]*\)$/\1/p' "$T/out")
[ -n "$rid" ] && ok "dt4ecg-kiosk prints the request id ($rid)" || bad "no request id in: $(cat "$T/out")"
"$A" --db "$S" audit --kiosk lobby --member p61 --since 1h --tail 1 > "$T/audit" 2>&1
grep -q "auth.accept.*$rid" "$T/audit" && [ "$(wc -l < "$T/audit")" -eq 1 ] &&
    ok "audit --kiosk --member --since --tail finds it" || { bad "audit filters"; cat "$T/audit"; }
"$A" --db "$S" user show p61 > "$T/show" 2>&1
grep -q "auth.accept *kiosk:lobby.*$rid" "$T/show" && ok "user show lists the decision" ||
    { bad "user show decisions"; cat "$T/show"; }
"$A" --db "$S" user add noname >/dev/null 2>&1 &&
"$A" --db "$S" user enroll noname "$ID/Person_09/rec_1" >/dev/null 2>&1 ||
    bad "enrolling a member without a display name"
kiosk 0 "accepted as noname, score" "a member without a display name: no ()" \
    --claimed noname --seconds 0 "$ID/Person_09/rec_1"
kiosk 3 "rejected (no-match)" "1:1 claim of an unknown member" \
    --claimed nobody "$ID/Person_61/rec_2"
kiosk 0 '"decision":"accept"' "--json prints the answer" \
    --claimed p62 --seconds 0 --json "$ID/Person_62/rec_1"
awk 'BEGIN { for (i = 0; i < 4000; i++) print 0.1 }' > "$T/flat.csv"
kiosk 1 "HTTP 422" "a flat signal is unusable" --fs 500 "$T/flat.csv"

# --- only ECG is enrolled or authenticated (ecg/sigcheck.h) ---------------
# nonecg KIND AMPLITUDE FILE: 10 s at 250 Hz of white noise, a 1.2 Hz sine,
# square or saw wave, or a random walk
nonecg() {
	awk -v k="$1" -v a="$2" -v seed="${4:-$$}" 'BEGIN { srand(seed); w = 0;
	    for (i = 0; i < 2500; i++) { t = i / 250; ph = t * 1.2 - int(t * 1.2);
	    g = sqrt(-2 * log(1 - rand())) * cos(6.283185307 * rand());
	    if (k == "noise") v = a * g; else if (k == "sine") v = a * sin(6.283185307 * ph);
	    else if (k == "square") v = (ph < 0.5 ? a : -a) + 0.005 * a * g;
	    else if (k == "saw") v = a * (2 * ph - 1); else { w += a * g; v = w }
	    printf "%.6f\n", v } }' > "$3"
}
for k in noise:1 noise:0.001 noise:1000 sine:1 square:1 saw:1 walk:0.05; do
	nonecg "${k%%:*}" "${k##*:}" "$T/${k%%:*}.csv"
	kiosk 1 "not an ECG" "${k%%:*} at ${k##*:} mV: 422, not an ECG" \
	    --fs 250 --seconds 0 "$T/${k%%:*}.csv"
done
# the "noise member": enrolling noise is refused, naming the file and why;
# noise claiming to be the member is then answered 422, never accept
"$A" --db "$S" user add gina >/dev/null 2>&1
"$A" --db "$S" user enroll gina "$T/noise.csv" --fs 250 >"$T/out" 2>"$T/err"
st=$?
if [ $st -eq 1 ] && grep -q "$T/noise.csv.*not an ECG" "$T/err"; then
	ok "noise is not enrolled: $(head -n 1 "$T/err" | cut -c1-120)"
else
	bad "noise enrollment (exit $st)"; sed 's/^/#   /' "$T/out" "$T/err"
fi
"$A" --db "$S" user show gina --json 2>/dev/null | grep -q '"templates": 0' &&
    ok "gina has no template" || bad "gina has a template"
for i in 1 2 3; do
	nonecg noise 1 "$T/probe.csv" $(($$ + i))
	kiosk 1 "HTTP 422" "noise probe $i claiming gina: 422" --fs 250 \
	    --seconds 0 --claimed gina "$T/probe.csv"
	kiosk 1 "HTTP 422" "noise probe $i, 1:N: 422" --fs 250 --seconds 0 \
	    "$T/probe.csv"
done
"$K" --url "https://localhost:$PORT" --cacert "$T/tls.crt" --key "$T/old.key" \
    --kiosk-id old "$ID/Person_61/rec_2" >"$T/out" 2>"$T/err"
[ $? -eq 1 ] && grep -q "HTTP 401" "$T/err" && ok "revoked kiosk: 401" || bad "revoked kiosk"
"$K" --url "https://localhost:$PORT" --cacert "$T/tls.crt" --key "$T/old.key" \
    --kiosk-id lobby "$ID/Person_61/rec_2" >"$T/out" 2>"$T/err"
[ $? -eq 1 ] && grep -q "HTTP 401" "$T/err" && ok "wrong key for the kiosk id: 401" || bad "wrong key"
"$K" --url "https://localhost:$PORT" --key "$T/lobby.key" --kiosk-id lobby \
    "$ID/Person_61/rec_2" >"$T/out" 2>"$T/err"
[ $? -eq 1 ] && ok "an untrusted certificate is refused" || bad "untrusted certificate accepted"
grep -q -- "give --cacert FILE" "$T/err" && ok "... and the error points to --cacert and --pin" ||
    { bad "the TLS error does not say what to do"; cat "$T/err"; }
"$K" --url "https://127.0.0.1:$PORT" --pin "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" \
    --key "$T/lobby.key" --kiosk-id lobby "$ID/Person_61/rec_2" >"$T/out" 2>"$T/err"
[ $? -eq 1 ] && grep -q -- "not the one --pin names" "$T/err" &&
    ok "a wrong --pin is refused, naming --pin" ||
    { bad "wrong --pin"; cat "$T/err"; }
PIN=$(openssl x509 -in "$T/tls.crt" -pubkey -noout | openssl pkey -pubin \
    -outform der | openssl dgst -sha256 -binary | base64)
"$K" --url "https://127.0.0.1:$PORT" --pin "sha256//$PIN" --key "$T/lobby.key" \
    --kiosk-id lobby --claimed p61 --seconds 0 "$ID/Person_61/rec_1" >"$T/out" 2>"$T/err"
[ $? -eq 0 ] && ok "pinned public key" || { bad "pinned public key"; cat "$T/err"; }

if [ "$trained" -eq 1 ]; then
	for p in 61 62 63 64 65; do
		kiosk 0 "accepted as p$p" "1:N, another recording of p$p" \
		    "$ID/Person_$p/rec_2"
	done
	kiosk 3 "rejected" "1:N, a never-enrolled person" "$ID/Person_80/rec_1"
	kiosk 3 "rejected" "1:1, p62 claiming to be p61" --claimed p61 \
	    "$ID/Person_62/rec_2"
	# a member's recordings must agree; the same recording twice is
	# refused (admin/enroll_check.h)
	"$A" --db "$S" user add mix >/dev/null 2>&1
	"$A" --db "$S" user enroll mix "$ID/Person_06/rec_1" \
	    "$ID/Person_07/rec_1" >"$T/out" 2>"$T/err"
	st=$?
	[ $st -eq 1 ] && grep -q "Person_06/rec_1 and .*Person_07/rec_1 do not agree" "$T/err" &&
	    ok "two persons' recordings: refused, both named" ||
	    { bad "two persons' recordings (exit $st)"; cat "$T/err"; }
	"$A" --db "$S" user enroll mix "$ID/Person_06/rec_1" \
	    "$ID/Person_06/rec_2" "$ID/Person_07/rec_1" >"$T/out" 2>"$T/err"
	st=$?
	[ $st -eq 1 ] && grep -q "Person_07/rec_1 does not agree" "$T/err" &&
	    ok "the outlier named" || { bad "outlier (exit $st)"; cat "$T/err"; }
	"$A" --db "$S" user enroll mix "$ID/Person_06/rec_1" \
	    "$ID/Person_06/rec_1" >"$T/out" 2>"$T/err"
	st=$?
	[ $st -eq 1 ] && grep -q "the same recording as" "$T/err" &&
	    ok "the same recording twice: refused" ||
	    { bad "same recording twice (exit $st)"; cat "$T/err"; }
	"$A" --db "$S" user enroll p61 "$ID/Person_61/rec_1" >"$T/out" 2>"$T/err"
	st=$?
	[ $st -eq 1 ] && grep -q "the same recording as recording #" "$T/err" &&
	    ok "a recording already enrolled: refused" ||
	    { bad "already enrolled recording (exit $st)"; cat "$T/err"; }
	"$A" --db "$S" user enroll mix "$ID/Person_06/rec_1" \
	    "$ID/Person_06/rec_2" >"$T/out" 2>"$T/err" &&
	    grep -q "agreement 0\.[4-9]" "$T/out" &&
	    ok "one person's recordings agree: $(grep -o 'agreement [0-9.]*' "$T/out" | head -1)" ||
	    { bad "one person's recordings"; cat "$T/out" "$T/err"; }
	# no broken model reaches the door: 4 KB of weights in the middle of
	# the file (the last stage's convolutions) overwritten with 1.0
	cp "$MODEL" "$T/broken.safetensors"
	sz=$(wc -c < "$T/broken.safetensors")
	LC_ALL=C awk 'BEGIN { for (i = 0; i < 1024; i++) printf "%c%c%c%c", 0, 0, 128, 63 }' > "$T/ones"
	dd if="$T/ones" of="$T/broken.safetensors" bs=4 seek=$((sz / 8)) \
	    conv=notrunc 2>/dev/null
	"$A" --db "$S" model import "$T/broken.safetensors" --id broken \
	    --activate >"$T/out" 2>"$T/err"
	st=$?
	[ $st -eq 1 ] && grep -q "impostor scores collapse" "$T/err" &&
	    grep -q "^demo: .*separation" "$T/out" &&
	    ok "corrupted weights refused: $(grep '^broken:' "$T/out" | cut -c1-100)" ||
	    { bad "corrupted weights (exit $st)"; cat "$T/out" "$T/err"; }
	"$A" --db "$S" model list > "$T/out" 2>&1
	grep -q '^\* demo' "$T/out" && ok "demo stays active" ||
	    { bad "active model changed"; cat "$T/out"; }
fi

# every decision audited, chain intact, no member id in the log
"$A" --db "$S" audit > "$T/audit" 2>&1
grep -q "kiosk:lobby *auth.accept" "$T/audit" && ok "decisions audited" || bad "no audited decision"
grep -q "p6[1-5]" "$T/audit" && bad "a member id in the audit log" || ok "members named by audit id only"
"$A" --db "$S" audit verify >/dev/null 2>&1 && ok "audit chain verifies" || bad "audit verify"

# rows written into the file with sqlite3 (no key) are refused, logged
sqlite3 "$S" "PRAGMA busy_timeout = 5000; INSERT INTO kiosks(id, public_key, created, mac) SELECT 'evil', public_key, created, mac FROM kiosks WHERE id = 'lobby'; DROP TRIGGER kiosks_stay_revoked; UPDATE kiosks SET revoked_at = NULL WHERE id = 'old';" >/dev/null || bad "sqlite3"
cp "$T/lobby.key" "$T/evil.key"
for k in evil old; do
	"$K" --url "https://localhost:$PORT" --cacert "$T/tls.crt" --key "$T/$k.key" \
	    --kiosk-id $k "$ID/Person_61/rec_2" >"$T/out" 2>"$T/err"
	[ $? -eq 1 ] && grep -q "HTTP 401" "$T/err" && grep -q "kiosk $k: the row does not authenticate" "$T/dt4ecgd.log" &&
	    ok "kiosk $k written with sqlite3: 401, logged" || { bad "forged kiosk $k"; cat "$T/err"; }
done
"$A" --db "$S" kiosk list > "$T/kiosks" 2>&1
grep -q "^evil *refused" "$T/kiosks" && ok "kiosk list marks it refused" || { bad "kiosk list"; cat "$T/kiosks"; }

kill "$pid"; wait "$pid"; st=$?; pid=
[ "$st" -eq 0 ] && ok "dt4ecgd stops cleanly on SIGTERM" || bad "dt4ecgd exit $st"

# the anchor written at shutdown holds the whole log; once entries are
# deleted (and the chain recomputed by whoever has the key), it says so
grep -q "audit anchor: dt4ecg-audit-anchor 1 count=" "$T/dt4ecgd.log" && ok "anchor logged" || bad "no anchor in the log"
"$A" --db "$S" audit verify --anchor "$T/audit.anchor" > "$T/out" 2>&1 &&
    ok "audit verify --anchor: $(cat "$T/out")" || { bad "audit verify --anchor"; cat "$T/out"; }
"$A" --db "$S" audit anchor --out "$T/a2" >/dev/null &&
    [ "$(cut -d' ' -f1-4 "$T/audit.anchor")" = "$(cut -d' ' -f1-4 "$T/a2")" ] &&
    ok "audit anchor exports the same head" || bad "audit anchor differs from the daemon's"
sqlite3 "$S" "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE id = (SELECT max(id) FROM audit);"
"$A" --db "$S" audit verify >/dev/null 2>&1 && ok "a deleted last entry: the chain alone cannot tell" || bad "verify"
"$A" --db "$S" audit verify --anchor "$T/audit.anchor" > "$T/out" 2>&1
[ $? -eq 1 ] && grep -q "entries were deleted" "$T/out" && ok "the anchor shows the deletion" ||
    { bad "anchor missed the deletion"; cat "$T/out"; }
echo "1..$n"
[ "$fails" -eq 0 ]
