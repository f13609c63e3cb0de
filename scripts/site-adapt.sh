#!/bin/sh
# A simulated site adapting the network to its own kiosks (retrain from the
# store): a model that never trained on textile electrodes is active; the
# ten wearable subjects are enrolled from their textile rest recordings;
# `dt4ecg-admin retrain --data store --init active` fine-tunes on them (with
# ECG-ID persons 1-60 mixed in), and identity on their other textile
# recordings is compared before and after, with P2 checked.
#
#   scripts/site-adapt.sh BUILD_DIR OUTDIR [MODEL] [EPOCHS] [LR] [balance|plain]
#
# MODEL defaults to models/dt4ecg-p2-ecgid-train1-60.safetensors (ECG-ID 1-60
# only).  SITE_DATA lists the built-in data sets mixed in (default ecg-id;
# the shipped default's own "ecg-id ptbxl-lead1 ecg-activity" keep what it
# learnt from them, activity included); SITE_ARGS adds retrain options
# (e.g. "--unlabelled-as rest --margin 0.3", the default's).  The textile recordings are raw ADC counts with host timestamps;
# they are converted to mV CSV files in OUTDIR for `user enroll` (counts
# minus their median, 400 counts per mV — R waves span 150-1200 counts
# between subjects and the hr-sat gate refuses windows above 5 mV — the rate
# from the timestamps).  OUTDIR holds biometric data: remove it afterwards.
set -eu

[ $# -ge 2 ] || { echo "usage: $0 BUILD_DIR OUTDIR [MODEL] [EPOCHS] [LR] [balance|plain]" >&2; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
B=$1
OUT=$2
MODEL=${3:-$here/models/dt4ecg-p2-ecgid-train1-60.safetensors}
EPOCHS=${4:-3}
LR=${5:-3e-4}
BAL=--balance
[ "${6:-balance}" = plain ] && BAL=
DATA=${DT4ECG_DATA:-$here/../shared/data}
export DT4ECG_DATA="$DATA"
A="$B/admin/dt4ecg-admin"
TEX="$DATA/ecg-activity-textile/raw"
[ -x "$A" ] || { echo "site-adapt: $A not built" >&2; exit 1; }
[ -d "$TEX" ] || { echo "site-adapt: $TEX not found" >&2; exit 1; }
mkdir -p "$OUT"
S="$OUT/site.db"
rm -f "$S" "$S-wal" "$S-shm" "$S.key"
gate=$("$A" infer --help >/dev/null 2>&1; head -c 200000 "$MODEL" |
    grep -ao 'prep.id_gate":"[a-z-]*' | head -1 | sed 's/.*"//')
gate=${gate:-hr-sat}

"$A" --db "$S" init
"$A" --db "$S" model import "$MODEL" --id before --activate
for f in "$TEX"/*_03_klud.csv; do
	id=$(basename "$f" | cut -d_ -f1)
	csv="$OUT/w$id-rest.csv"
	med=$(awk -F' ; ' '{ print $2 }' "$f" | sort -n |
	    awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
	fs=$(awk -F' ; ' '{ split($1, d, " "); split(d[2], t, ":");
	    s = t[1] * 3600 + t[2] * 60 + t[3]; if (NR == 1) s0 = s; n = NR }
	    END { printf "%.3f", (n - 1) / (s - s0) }' "$f")
	awk -F' ; ' -v m="$med" '{ printf "%.4f\n", ($2 - m) / 400.0 }' "$f" \
	    >"$csv"
	"$A" --db "$S" user add "w$id" >/dev/null
	if "$A" --db "$S" user enroll "w$id" "$csv" --fs "$fs" >/dev/null; then
		echo "site-adapt: w$id enrolled from $(basename "$f") at $fs Hz"
	else
		echo "site-adapt: w$id not enrolled (refused above)"
	fi
done

summary() {	# MODEL NAME
	"$A" evaluate --model "$1" --protocol site \
	    --data ecg-activity-textile --json 2>/dev/null >"$OUT/$2-site.json"
	"$A" evaluate --model "$1" --protocol p2 --data ecg-id --json \
	    2>/dev/null >"$OUT/$2-p2.json"
	python3 - "$OUT/$2-site.json" "$OUT/$2-p2.json" "$2" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["site"]
p = json.load(open(sys.argv[2]))["probe_8s"]
acts = " ".join("%s %.1f%% (%.0f%% answered)" % (k, 100 * v["rank1"],
    100 * v["answered"]) for k, v in s["by_activity"].items())
act = s.get("activity_acc")
print("site-adapt: %-6s rank-1 on the other textile recordings: %s; "
      "their activity %s; P2 EER %.2f%%, rank-1 %.1f%%" % (sys.argv[3], acts,
      "%.1f%%" % (100 * act) if act is not None else "-", 100 * p["eer"],
      100 * p["rank1"]))
PY
}
summary "$MODEL" before
mix=
for d in ${SITE_DATA:-ecg-id}; do
	mix="$mix --data $d"
done
"$A" --db "$S" retrain --data store $mix --protocol open \
    --init active --epochs "$EPOCHS" --lr "$LR" --hop 128 $BAL \
    --aug shift,scale,wander,band,hum --gate "$gate" --val-frac 0.1 \
    --no-gradnorm --threads 1 ${SITE_ARGS:-} --out "$OUT/after.safetensors"
summary "$OUT/after.safetensors" after
"$A" --db "$S" model import "$OUT/after.safetensors" --id after --activate
"$A" --db "$S" model list
