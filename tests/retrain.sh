#!/bin/sh
# tests/retrain.sh — `dt4ecg-admin retrain` and `evaluate` end to end on small
# slices of the real data sets (manifests written here, the data never
# copied), with a tiny network so that it runs in seconds:
#   - P1 joint training on ECG-ID + ECG-Activity (masked losses), with
#     GradNorm and with --no-gradnorm; the model loads (infer) and its
#     metadata records hyperparameters, data, GradNorm weights, curves and
#     validation figures;
#   - --checkpoint then --resume (also of a finished checkpoint);
#   - --aug shift,scale,wander,noise (nstdb) and reproducibility: the same
#     --seed with --threads 1 twice gives the same weights and metadata (the
#     files are not byte-identical: the metadata record wall-clock seconds);
#   - evaluate P1 (+ --report), P2 (--train-max), P3 one fold and pooled over
#     two fold models (each evaluated on the split it was trained on);
#   - malformed input: clear errors and exit codes, no crash (under ASan, no
#     leak either).
# JSON is checked with jq when there is one ($DT4ECG_JQ, default jq); without
# it the checks that a grep can make are made and the others skipped.
set -u

B=${DT4ECG_BUILDDIR:-.}
SRC=${DT4ECG_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
DATA=${DT4ECG_DATA:-$SRC/../shared/data}
A="$B/admin/dt4ecg-admin"
ID="$DATA/ecg-id"
ACT="$DATA/ecg-activity"
JQ=${DT4ECG_JQ:-jq}

if [ ! -f "$ID/RECORDS" ] || [ ! -f "$ID/Person_01/rec_1.hea" ] ||
    [ ! -d "$ACT/raw" ]; then
	echo "SKIP: no ECG-ID or ECG-Activity data in $DATA"
	exit 77
fi
command -v "$JQ" >/dev/null 2>&1 || JQ=
T=$(mktemp -d "${TMPDIR:-/tmp}/dt4ecg-retrain-test.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT INT TERM
# the built-in data sets (nstdb for the noise augmentation) come from here
DT4ECG_DATA=$DATA
export DT4ECG_DATA
fails=0
n=0
skips=0

ok() { n=$((n + 1)); echo "ok $n - $*"; }
bad() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $*"; }
skip() { n=$((n + 1)); skips=$((skips + 1)); echo "ok $n - $* # SKIP"; }

# run EXPECTED_STATUS DESCRIPTION COMMAND...: output in $T/out, $T/err
run() {
	want=$1; what=$2; shift 2
	"$@" >"$T/out" 2>"$T/err"
	got=$?
	if [ "$got" -eq "$want" ]; then
		ok "$what"
	else
		bad "$what (exit $got, expected $want)"
		sed 's/^/#   out: /' "$T/out" | tail -20
		sed 's/^/#   err: /' "$T/err" | tail -20
	fi
}
# has FILE TEXT DESCRIPTION
has() {
	if grep -q -- "$2" "$1"; then ok "$3"; else
		bad "$3 ('$2' not in $(basename "$1"))"
		sed 's/^/#   /' "$1" | tail -20
	fi
}
hasnt() {
	if grep -q -- "$2" "$1"; then
		bad "$3 ('$2' in $(basename "$1"))"; sed 's/^/#   /' "$1" | tail -20
	else ok "$3"; fi
}
# jcheck FILE JQ-EXPRESSION DESCRIPTION [GREP-ERE]: the expression must give
# true; without jq the ERE is looked for in the file with blanks and
# newlines removed and \" unescaped (or the check is skipped).
jcheck() {
	if [ -n "$JQ" ]; then
		if [ "$("$JQ" "$2" "$1" 2>&1)" = true ]; then ok "$3"; else
			bad "$3 (jq '$2' on $(basename "$1"): $("$JQ" -c "$2" \
			    "$1" 2>&1 | head -c 300))"
		fi
	elif [ $# -ge 4 ]; then
		if tr -d ' \n' <"$1" | sed 's/\\"/"/g' | grep -Eq -- "$4"; then
			ok "$3"
		else bad "$3 (no /$4/ in $(basename "$1"))"; fi
	else
		skip "$3 (no jq)"
	fi
}
# safetensors: 8 bytes of header length (little-endian), the JSON header,
# the tensor data
hdrlen() { od -An -tu8 -N8 "$1" | tr -d ' '; }
header() { tail -c +9 "$1" | head -c "$(hdrlen "$1")"; }
tensors() { tail -c +"$((9 + $(hdrlen "$1")))" "$1"; }
# the header without the wall-clock durations ("seconds": x) and the
# padding (blanks) after it
header_untimed() {
	header "$1" | sed 's/\\"seconds\\":[-0-9.eE+]*//g; s/ *$//'
	echo
}
# meta MODEL NAME: the model's header in $T/NAME (the metadata values are
# JSON texts themselves: jq's fromjson)
M='.__metadata__'
meta() { header "$1" >"$T/$2"; }

# --- small manifests from the real data sets ------------------------------
sh "$SRC/scripts/make-manifests.sh" "$T/full" "$DATA" >/dev/null ||
	{ echo "Bail out! make-manifests.sh failed"; exit 99; }
HDR='path,format,subject,activity,session,fs_hz,lead'
# 6 ECG-ID persons, 2 recordings each
{ echo "$HDR"; for p in 01 02 03 04 05 06; do
	grep ",ecgid:$p," "$T/full/ecg-id.csv" | head -2; done; } >"$T/id6.csv"
# ECG-Activity: subjects 01-03 (all 5 activities); 01-04 for P3 (2 folds)
{ echo "$HDR"; grep -E ',ecgact:0[123],' "$T/full/ecg-activity.csv"; } \
	>"$T/act3.csv"
{ echo "$HDR"; grep -E ',ecgact:0[1234],' "$T/full/ecg-activity.csv"; } \
	>"$T/act4.csv"
[ "$(wc -l <"$T/id6.csv")" -eq 13 ] && [ "$(wc -l <"$T/act3.csv")" -eq 16 ] &&
    [ "$(wc -l <"$T/act4.csv")" -eq 21 ] ||
	{ echo "Bail out! unexpected manifests"; wc -l "$T"/*.csv; exit 99; }

# a tiny network, one thread
NET="--window 256 --stem-channels 8 --stage-channels 8,16,16 --embedding-dim 16
--act-hidden 8 --hop 256 --batch 32 --threads 1"
J="--data $T/id6.csv --data $T/act3.csv"
# shellcheck disable=SC2086
rt() { "$A" retrain $NET "$@"; }

# --- 1. P1 jointly on ECG-ID + ECG-Activity -------------------------------
# shellcheck disable=SC2086
run 0 "retrain p1 ecg-id + ecg-activity with GradNorm" \
	rt $J --protocol p1 --epochs 2 --seed 3 --checkpoint "$T/ck" --out "$T/gn.st"
cp "$T/err" "$T/gn.log"
has "$T/gn.log" "training windows (9 subjects, 5 activities)" \
	"9 subjects (6 + 3), 5 activities"
has "$T/gn.log" "(none) .*activity: none" \
	"ECG-ID windows train without an activity label (masked)"
has "$T/gn.log" "epoch 2/2 done" "two epochs run"
has "$T/gn.log" "wrote $T/gn.st" "model written"
[ -f "$T/ck" ] && [ -f "$T/ck.loop.json" ] && ok "checkpoint files written" ||
	bad "checkpoint files missing"
meta "$T/gn.st" gn.json
jcheck "$T/gn.json" "$M"'|.window == "256" and .stem_channels == "8" and
    .stage_channels == "8,16,16" and .embedding_dim == "16" and
    .act_hidden == "8" and ."dt4ecg.format" == "1"' \
	"metadata: the architecture" '"window":"256".*"stage_channels":"8,16,16"'
jcheck "$T/gn.json" "$M"'|."train.hyperparameters"|fromjson|
    .gradnorm == true and .epochs == 2 and .epochs_run == 2 and .hop == 256
    and .batch == 32 and .seed == 3 and .threads == 1 and
    .augmentation == "none" and (.protocol|startswith("p1")) and
    .n_train_windows > 0' \
	"metadata: the hyperparameters" \
	'"epochs":2,"epochs_run":2.*"batch":32.*"hop":256.*"gradnorm":true.*"seed":3,"threads":1'
jcheck "$T/gn.json" "$M"'|."train.data"|fromjson == ["id6.csv","act3.csv"]' \
	"metadata: the data (train.data)" '"train.data":"\["id6.csv","act3.csv"\]"'
jcheck "$T/gn.json" "$M"'|(.subjects|fromjson|length == 9 and
    index("ecgid:06") != null and index("ecgact:03") != null) and
    (.activities|fromjson == ["rest","arms","walk","run","squats"])' \
	"metadata: 9 subjects, the 5 activities" \
	'"activities":"\["rest","arms","walk","run","squats"\]"'
jcheck "$T/gn.json" "$M"'|(."gradnorm.w_id"|tonumber) as $i |
    (."gradnorm.w_act"|tonumber) as $a | $i > 0 and $a > 0 and
    ($i + $a - 2 | fabs) < 0.01 and ($i - 1 | fabs) > 0.001 and
    ((."train.gradnorm_final_w_id"|tonumber) - $i | fabs) < 0.001' \
	"metadata: GradNorm weights moved, sum 2" '"gradnorm.w_id":"0\.[0-9]+"'
jcheck "$T/gn.json" "$M"'|."train.curves"|fromjson|length == 2 and
    (map(.epoch) == [1,2]) and all(.[]; .loss_id > 0 and .loss_act > 0 and
    .val_id_acc >= 0 and .val_id_acc <= 1 and .val_act_acc >= 0 and
    .val_act_acc <= 1 and .w_id > 0)' \
	"metadata: per-epoch curves, both losses" '"train.curves":"\[\{"epoch":1,.*\{"epoch":2,'
jcheck "$T/gn.json" "$M"'|."train.validation"|fromjson|
    (.epoch == 1 or .epoch == 2) and .val_id_acc >= 0 and .val_id_acc <= 1
    and .val_act_acc >= 0 and .val_act_acc <= 1' \
	"metadata: validation figures" '"train.validation":"\{"val_id_acc":[0-9.]+,"val_act_acc":[0-9.]+'
jcheck "$T/gn.json" "$M"'|."train.windows_by_activity"|fromjson|
    keys == (["rest","arms","walk","run","squats","unlabelled"]|sort) and
    all(.[]; .windows > 0 and .identity_gate_pass_frac >= 0 and
    .identity_gate_pass_frac <= 1)' \
	"metadata: windows and gate pass fraction by activity" '"unlabelled":\{"windows":[1-9]'
run 0 "the model loads: infer on an ECG-ID recording" \
	"$A" infer --model "$T/gn.st" --input "$ID/Person_01/rec_1"
[ "$(wc -l <"$T/out")" -ge 10 ] && ok "infer: one line per window" ||
	bad "infer: $(wc -l <"$T/out") lines"
if [ -n "$JQ" ]; then
	head -1 "$T/out" >"$T/w0.json"
	jcheck "$T/w0.json" '(.embedding|length) == 16 and
	    (.activity|keys|length) == 5 and
	    ([.activity[]]|add - 1|fabs) < 0.001' \
		"infer: 16-d embedding, 5 activity probabilities"
else
	has "$T/out" '"squats"' "infer: activity probabilities"
fi

# shellcheck disable=SC2086
run 0 "retrain p1 with --no-gradnorm" \
	rt $J --protocol p1 --epochs 1 --no-gradnorm --out "$T/nogn.st"
meta "$T/nogn.st" nogn.json
jcheck "$T/nogn.json" "$M"'|(."train.hyperparameters"|fromjson|.gradnorm
    == false) and (."gradnorm.w_id"|tonumber) == 1 and
    (."gradnorm.w_act"|tonumber) == 1' \
	"--no-gradnorm: recorded, task weights fixed at 1" \
	'"gradnorm.w_id":"1","gradnorm.w_act":"1".*"gradnorm":false'
# shellcheck disable=SC2086
run 0 "retrain p1 with --task-weights 0.25,1.5" \
	rt $J --protocol p1 --epochs 1 --task-weights 0.25,1.5 --out "$T/tw.st"
meta "$T/tw.st" tw.json
jcheck "$T/tw.json" "$M"'|(."train.hyperparameters"|fromjson|.gradnorm
    == false and .task_weights == [0.25, 1.5]) and
    (."gradnorm.w_id"|tonumber) == 0.25 and (."gradnorm.w_act"|tonumber) == 1.5' \
	"--task-weights: recorded, weights held fixed" \
	'"gradnorm.w_id":"0.25","gradnorm.w_act":"1.5"'

# --- 2. checkpoint and resume ----------------------------------------------
# shellcheck disable=SC2086
run 0 "retrain 1 epoch with --checkpoint" \
	rt $J --epochs 1 --seed 5 --checkpoint "$T/ck1" --out "$T/e1.st"
# shellcheck disable=SC2086
run 0 "retrain --resume to 2 epochs" \
	rt $J --epochs 2 --seed 5 --resume "$T/ck1" --out "$T/e2.st"
cp "$T/err" "$T/e2.log"
has "$T/e2.log" "resumed $T/ck1 after epoch 1" "resumed after epoch 1"
has "$T/e2.log" "epoch 2/2 done" "epoch 2 run"
hasnt "$T/e2.log" "epoch 1/2" "epoch 1 not run again"
meta "$T/e2.st" e2.json
jcheck "$T/e2.json" "$M"'|(."train.hyperparameters"|fromjson|.epochs_run
    == 2) and (."train.curves"|fromjson|map(.epoch) == [1,2])' \
	"resumed model: 2 epochs in the metadata" '"epochs_run":2'
if [ -n "$JQ" ]; then
	"$JQ" -c '.curves[0].loss_id' "$T/ck1.loop.json" >"$T/l1" 2>&1
	jcheck "$T/e2.json" "$M"'|."train.curves"|fromjson|.[0].loss_id - '"$(
	    cat "$T/l1")"'|fabs < 1e-4' "resumed model keeps epoch 1's curve"
fi
# a finished checkpoint: nothing left to run, the same weights written
# shellcheck disable=SC2086
run 0 "--resume of a finished checkpoint" \
	rt $J --protocol p1 --epochs 2 --seed 3 --resume "$T/ck" --out "$T/gn2.st"
has "$T/err" "after epoch 2" "resumed after epoch 2"
tensors "$T/gn.st" >"$T/a.bin"; tensors "$T/gn2.st" >"$T/b.bin"
cmp -s "$T/a.bin" "$T/b.bin" && ok "finished checkpoint: the trained weights" ||
	bad "finished checkpoint: other weights than the trained model's"
# shellcheck disable=SC2086
run 1 "--resume with another architecture" \
	rt $J --embedding-dim 8 --epochs 2 --resume "$T/ck1" --out "$T/x.st"
has "$T/err" "different architecture" "architecture mismatch named"
# shellcheck disable=SC2086
run 1 "--resume of a missing checkpoint" \
	rt $J --epochs 2 --resume "$T/nosuch" --out "$T/x.st"
has "$T/err" "$T/nosuch" "missing checkpoint named"
[ ! -e "$T/x.st" ] && ok "no model written on failure" || bad "stray model"

# --- 3. augmentation and reproducibility -----------------------------------
if [ -f "$DATA/nstdb/bw.hea" ] && [ -f "$DATA/nstdb/ma.hea" ]; then
	AUG=shift,scale,wander,noise
else
	AUG=shift,scale,wander
	echo "# no nstdb in $DATA: the noise augmentation is not exercised"
fi
# shellcheck disable=SC2086
run 0 "retrain --aug $AUG --seed 11" \
	rt $J --aug "$AUG" --seed 11 --epochs 1 --out "$T/aug1.st"
# shellcheck disable=SC2086
run 0 "the same again" \
	rt $J --aug "$AUG" --seed 11 --epochs 1 --out "$T/aug2.st"
# shellcheck disable=SC2086
run 0 "another --seed" \
	rt $J --aug "$AUG" --seed 12 --epochs 1 --out "$T/aug3.st"
meta "$T/aug1.st" aug1.json
jcheck "$T/aug1.json" "$M"'|."train.hyperparameters"|fromjson|
    .augmentation == "'"$AUG"'" and .snr_db == 12 and .seed == 11' \
	"augmentation recorded" "\"augmentation\":\"$AUG\""
# shellcheck disable=SC2086
run 0 "retrain --aug $AUG,motion, SNR ranges, wander, sub-centres, --ema" \
	rt $J --aug "$AUG,motion" --snr 3,15 --motion-snr 0,10 --wander-amp 0.5 \
	--wander-hz 1 --subcentres 3 --ema 0.99 --seed 11 --epochs 1 \
	--out "$T/aug4.st"
meta "$T/aug4.st" aug4.json
jcheck "$T/aug4.json" "$M"'|."train.hyperparameters"|fromjson|
    .augmentation == "'"$AUG,motion"'" and .snr_db == 3 and .snr_db_hi == 15
    and .motion_snr_db == [0, 10] and .wander_amp == 0.5 and .wander_hz == 1
    and .cosface_subcentres == 3
    and .ema_decay > 0.989 and .ema_decay < 0.991' \
	"motion, SNR ranges, wander, sub-centres and averaging recorded" \
	"\"snr_db\":3"
# the trainer's three rows per subject leave one per subject in the model
if [ -n "$JQ" ]; then
	jcheck "$T/aug4.json" "$M"'|.subjects|fromjson|length == '"$("$JQ" \
	    "$M"'|.subjects|fromjson|length' "$T/aug1.json")" \
		"sub-centres: as many subjects as without"
fi
"$A" infer --model "$T/aug4.st" --input "$ID/Person_01/rec_1" >"$T/out" 2>&1 &&
	ok "the sub-centre model loads (its classifier one row per subject)" ||
	{ bad "infer with the sub-centre model"; cat "$T/out"; }
tensors "$T/aug1.st" >"$T/a.bin"; tensors "$T/aug2.st" >"$T/b.bin"
tensors "$T/aug3.st" >"$T/c.bin"
cmp -s "$T/a.bin" "$T/b.bin" && ok "same --seed, --threads 1: identical weights" ||
	bad "same --seed, --threads 1: the weights differ"
header_untimed "$T/aug1.st" >"$T/h1"; header_untimed "$T/aug2.st" >"$T/h2"
cmp -s "$T/h1" "$T/h2" && ok "same --seed: identical metadata but for durations" ||
	{ bad "same --seed: the metadata differ"; cmp "$T/h1" "$T/h2"; }
if cmp -s "$T/aug1.st" "$T/aug2.st"; then
	ok "same --seed: byte-identical model files"
else
	# the metadata record wall-clock seconds (train.hyperparameters and
	# train.curves): the files cannot be byte-identical; above, everything
	# else is
	echo "# note: the model files differ only in the recorded seconds"
fi
cmp -s "$T/a.bin" "$T/c.bin" && bad "another --seed: the same weights" ||
	ok "another --seed: other weights"
mkdir "$T/nodata"
# shellcheck disable=SC2086
run 1 "--aug noise without nstdb" env DT4ECG_DATA="$T/nodata" "$A" retrain \
	$NET $J --aug noise --epochs 1 --out "$T/x.st"
has "$T/err" "nstdb" "the missing noise record named"

# --- 4. evaluate ------------------------------------------------------------
run 0 "evaluate p1 with --report" "$A" evaluate --protocol p1 \
	--model "$T/gn.st" $J --report "$T/rep1"
cp "$T/out" "$T/p1.json"
jcheck "$T/p1.json" '.protocol == "p1" and .n_recordings == 27 and
    .n_subjects_matched_to_model == 9 and
    ([.identity_acc_window, .identity_acc_test_part,
    .identity_acc_segment_8s, .activity_acc_window,
    .activity_acc_segment_8s] | all(type == "number" and . >= 0 and . <= 1))' \
	"p1: identity and activity accuracies in [0, 1]" \
	'"identity_acc_window":(0|1|0\.[0-9]+).*"activity_acc_window":(0|1|0\.[0-9]+)'
jcheck "$T/p1.json" '.identity|keys == ["act3","id6"] and
    all(.[]; .acc_window >= 0 and .acc_window <= 1 and .n_windows > 0)' \
	"p1: identity per data set" '"identity":\{"id6":\{.*"act3":\{'
jcheck "$T/p1.json" '.activity.window_all as $w | ($w.confusion|length) == 5
    and ([$w.confusion[][]]|add) == $w.n and $w.n > 0' \
	"p1: activity confusion matrix sums to n" '"confusion":\[\['
jcheck "$T/p1.json" '.verification_window_vs_classifier | .eer >= 0 and
    .eer <= 1 and .n_genuine > 0 and .n_impostor > 0' \
	"p1: verification EER" '"eer":'
if [ -f "$T/rep1/report.html" ]; then
	has "$T/rep1/report.html" "<svg" "p1 report.html has figures"
else bad "p1: no report.html"; fi
# without --data: the data of train.data (manifest names, looked up here)
(cd "$T" && "$A" evaluate --protocol p1 --model gn.st --json) >"$T/out" \
	2>"$T/err" && ok "p1 without --data, from the manifests' folder" ||
	{ bad "p1 without --data"; tail -3 "$T/err"; }
jcheck "$T/out" '.data == ["id6.csv","act3.csv"] and .n_recordings == 27' \
	"p1 without --data: the model's data" '"data":\["id6.csv","act3.csv"\]'
run 1 "p1 without --data elsewhere" "$A" evaluate --protocol p1 \
	--model "$T/gn.st"
has "$T/err" "train.data" "error says where the data names come from"

# P2: subjects 1..--train-max train, the others enrol their first recording
# and probe with the rest (ECG-ID alone: few windows pass the identity gate,
# smaller batches)
# shellcheck disable=SC2086
run 0 "retrain p2 --train-max 3" rt --data "$T/id6.csv" --protocol p2 \
	--train-max 3 --batch 8 --epochs 1 --out "$T/p2.st"
meta "$T/p2.st" p2m.json
jcheck "$T/p2m.json" "$M"'|(.subjects|fromjson ==
    ["ecgid:01","ecgid:02","ecgid:03"]) and ."train.protocol" ==
    "p2 subjects 1-3"' "p2 model: trained on subjects 1-3" \
	'"subjects":"\["ecgid:01","ecgid:02","ecgid:03"\]"'
run 0 "evaluate p2 --train-max 3" "$A" evaluate --protocol p2 \
	--model "$T/p2.st" --data "$T/id6.csv" --train-max 3 --json
cp "$T/out" "$T/p2.json"
for k in window probe_8s; do
	jcheck "$T/p2.json" '.'"$k"' | ([.eer, .frr_at_far_1pct,
	    ."frr_at_far_0.1pct", .rank1] | all(type == "number" and . >= 0
	    and . <= 1)) and ([.threshold_at_eer, .threshold_at_far_1pct,
	    ."threshold_at_far_0.1pct"] | all(type == "number" and . >= -1 and
	    . <= 1)) and ."frr_at_far_0.1pct" >= .frr_at_far_1pct and
	    .n_enrolled == 3 and .n_probes > 0 and .n_genuine > 0 and
	    .n_impostor > 0' \
		"p2 $k: EER, FRR at FAR 1 % and 0.1 %, rank-1, thresholds" \
		'"eer":[0-9.e-]+,"threshold_at_eer":-?[0-9.e-]+,"frr_at_far_1pct":[0-9.e-]+,"threshold_at_far_1pct":-?[0-9.e-]+,"frr_at_far_0.1pct":[0-9.e-]+'
done
jcheck "$T/p2.json" '.n_train_subjects == 3 and .train_max_subject == 3' \
	"p2: 3 training subjects" '"n_train_subjects":3'
jcheck "$T/p2.json" '.contaminated == false' "p2: not contaminated" \
	'"contaminated":false'
# probe persons the model trained on (subject 3 with --train-max 2): refused,
# or measured and marked with --contaminated
run 1 "evaluate p2 on a training subject: refused" "$A" evaluate \
	--protocol p2 --model "$T/p2.st" --data "$T/id6.csv" --train-max 2
has "$T/err" "among its training subjects (metadata subjects: ecgid:03)" \
	"the refusal names the probe person trained on"
run 0 "evaluate p2 --contaminated" "$A" evaluate --protocol p2 \
	--model "$T/p2.st" --data "$T/id6.csv" --train-max 2 --contaminated \
	--json
cp "$T/out" "$T/p2c.json"
jcheck "$T/p2c.json" '.contaminated == true and .contaminated_subjects ==
    ["ecgid:03"]' "p2 --contaminated: the result is marked" \
	'"contaminated":true,"contaminated_subjects":\["ecgid:03"\]'
run 1 "--save-metrics refuses contaminated figures" "$A" evaluate \
	--protocol p2 --model "$T/p2.st" --data "$T/id6.csv" --train-max 2 \
	--contaminated --save-metrics

# the open-set figures kept in the model, a threshold chosen from them
cp "$T/p2.st" "$T/p2s.st"
run 0 "evaluate p2 --save-metrics" "$A" evaluate --protocol p2 \
	--model "$T/p2s.st" --data "$T/id6.csv" --train-max 3 --save-metrics \
	--json
cp "$T/out" "$T/p2s.json"
jcheck "$T/p2s.json" '.open_set | (.at_far | map(.far)) == [0.01, 0.001,
    0.0001] and (.det | length) == 101 and .n_impostor > 0 and
    (.at_far[2].measurable == (.n_impostor >= 10000))' \
	"p2 --save-metrics: FRR at FAR 1, 0.1, 0.01 %, a DET grid" \
	'"at_far":\[{"far":0.01'
meta "$T/p2s.st" p2sm.json
jcheck "$T/p2sm.json" "$M"'|.metrics|fromjson|.open_set.p2.eer >= 0' \
	"the figures are in the file's metadata" '"open_set"'
run 0 "threshold --far 0.01 from the file" "$A" threshold --far 0.01 \
	--model "$T/p2s.st"
has "$T/out" "recommended threshold" "a threshold is recommended"
has "$T/out" "threshold = " "in dt4ecgd.conf's words"
run 1 "threshold: a model without figures" "$A" threshold --far 0.01 \
	--model "$T/p2.st"
has "$T/err" "save-metrics" "the error says how to get them"
run 2 "threshold without --far" "$A" threshold --model "$T/p2s.st"
TS="$T/thr.db"
"$A" --db "$TS" init >/dev/null 2>&1 &&
"$A" --db "$TS" model import "$T/p2s.st" --id p2s --activate --force \
    >/dev/null 2>&1 &&
for p in 04 05 06; do
	"$A" --db "$TS" user add "p$p" >/dev/null 2>&1 &&
	"$A" --db "$TS" user enroll "p$p" "$ID/Person_$p/rec_1" \
	    "$ID/Person_$p/rec_2" --min-agreement -1 >/dev/null 2>&1 || break
done
run 0 "model show prints the open-set figures" "$A" --db "$TS" model show p2s
has "$T/out" "FAR 0.1 *%  FRR" "model show: FRR at FAR 0.1 %"
run 0 "threshold --far 0.01 --site" "$A" --db "$TS" threshold --far 0.01 \
	--site --threshold 0.5
has "$T/out" "site: 3 members, 6 recordings: [0-9]* of 12 comparisons" \
	"--site: the members scored against each other"
run 1 "evaluate p2: every subject in training" "$A" evaluate --protocol p2 \
	--model "$T/p2.st" --data "$T/id6.csv" --train-max 6
has "$T/err" "P2:" "p2 says what is missing"

# P3: 4 activity subjects, 2 folds of 2 held-out subjects
for k in 0 1; do
	# shellcheck disable=SC2086
	run 0 "retrain p3 --fold $k --folds 2" rt --data "$T/act4.csv" \
		--protocol p3 --fold $k --folds 2 --epochs 1 --out "$T/f$k.st"
done
meta "$T/f1.st" f1.json
jcheck "$T/f1.json" "$M"'|."train.fold" == "1" and ."train.folds" == "2"
    and ."train.protocol" == "p3 fold 1 of 2"' \
	"p3 model: fold and folds in the metadata" '"train.fold":"1"'
run 0 "evaluate p3 --fold 0" "$A" evaluate --protocol p3 --model "$T/f0.st" \
	--data "$T/act4.csv" --fold 0 --json
cp "$T/out" "$T/p3.json"
jcheck "$T/p3.json" '.fold == 0 and .n_folds == 2 and
    .held_out_subjects == ["ecgact:01","ecgact:02"] and
    (.window.confusion|length) == 5 and
    ([.window.confusion[][]]|add) == .window.n and .window.n > 0 and
    (.activity_acc_window|. >= 0 and . <= 1) and
    (.activity_acc_segment_8s|. >= 0 and . <= 1)' \
	"p3 fold 0: held-out subjects, confusion, accuracies" \
	'"held_out_subjects":\["ecgact:01","ecgact:02"\]'
run 0 "evaluate p3 pooled over two fold models, --report" "$A" evaluate \
	--protocol p3 --model "$T/f0.st" --model "$T/f1.st" \
	--data "$T/act4.csv" --report "$T/rep3"
cp "$T/out" "$T/p3p.json"
jcheck "$T/p3p.json" '(.folds|length) == 2 and .n_folds_evaluated == 2 and
    ([.folds[].fold] == [0,1]) and
    ([.window.confusion[][]]|add) == ([.folds[].window.n]|add) and
    ([.probe_8s.confusion[][]]|add) == ([.folds[].probe_8s.activity.n]|add)
    and ([.folds[].held_out_subjects[]]|sort) ==
    ["ecgact:01","ecgact:02","ecgact:03","ecgact:04"] and
    (.activity_acc_window|. >= 0 and . <= 1)' \
	"p3 pooled: 2 folds, confusion = sum of the folds' windows" \
	'"n_folds_evaluated":2'
if [ -f "$T/rep3/report.html" ]; then
	has "$T/rep3/report.html" "<svg" "p3 report.html has figures"
else bad "p3: no report.html"; fi
run 1 "evaluate p3 pooled: the same fold twice" "$A" evaluate --protocol p3 \
	--model "$T/f0.st" --model "$T/f0.st" --data "$T/act4.csv"
has "$T/err" "both fold 0" "the repeated fold named"
run 1 "evaluate p3: a fold model on another fold" "$A" evaluate \
	--protocol p3 --model "$T/f0.st" --data "$T/act4.csv" --fold 1
has "$T/err" "training subjects" "refused: it would test on training subjects"
run 1 "evaluate p3: a fold model on another split" "$A" evaluate \
	--protocol p3 --model "$T/f0.st" --data "$T/act4.csv" --folds 4

# --- 5. malformed input -------------------------------------------------------
run 1 "evaluate: missing model file" "$A" evaluate --protocol p1 \
	--model "$T/nosuch.st" --data "$T/id6.csv"
has "$T/err" "nosuch.st" "the missing model named"
head -c 1000 "$T/gn.st" >"$T/trunc1.st"
run 1 "evaluate: model truncated in its header" "$A" evaluate \
	--protocol p1 --model "$T/trunc1.st" --data "$T/id6.csv"
has "$T/err" "trunc1.st" "the truncated model named"
head -c "$(($(wc -c <"$T/gn.st") - 100))" "$T/gn.st" >"$T/trunc2.st"
run 1 "evaluate: model truncated in its tensors" "$A" evaluate \
	--protocol p1 --model "$T/trunc2.st" --data "$T/id6.csv"
has "$T/err" "trunc2.st" "the truncated model named"
run 1 "infer: truncated model" "$A" infer --model "$T/trunc2.st" \
	--input "$ID/Person_01/rec_1"
# shellcheck disable=SC2086
run 1 "retrain --init of a truncated model" rt --data "$T/id6.csv" \
	--init "$T/trunc2.st" --epochs 1 --out "$T/x.st"
{ head -3 "$T/id6.csv"; echo "$T/nosuch/rec_1,wfdb,ecgid:09,,1,,0"; } \
	>"$T/missing.csv"
# shellcheck disable=SC2086
run 1 "retrain: manifest naming a missing recording" rt \
	--data "$T/missing.csv" --epochs 1 --out "$T/x.st"
has "$T/err" "missing.csv:4" "error names the manifest line"
has "$T/err" "$T/nosuch/rec_1" "error names the recording"
run 1 "evaluate: manifest naming a missing recording" "$A" evaluate \
	--protocol p1 --model "$T/gn.st" --data "$T/missing.csv"
has "$T/err" "missing.csv:4" "error names the manifest line"
{ echo "file,fmt,who"; tail -n +2 "$T/id6.csv"; } >"$T/badhdr.csv"
# shellcheck disable=SC2086
run 1 "retrain: manifest with a bad header" rt --data "$T/badhdr.csv" \
	--epochs 1 --out "$T/x.st"
has "$T/err" "badhdr.csv:1" "error names the manifest's first line"
has "$T/err" "header" "error says header"
run 1 "evaluate: manifest with a bad header" "$A" evaluate --protocol p1 \
	--model "$T/gn.st" --data "$T/badhdr.csv"
# shellcheck disable=SC2086
run 1 "retrain: missing manifest" rt --data "$T/nosuch.csv" --epochs 1 \
	--out "$T/x.st"
has "$T/err" "nosuch.csv" "the missing manifest named"
# shellcheck disable=SC2086
run 2 "retrain: unknown --protocol" rt $J --protocol p9 --out "$T/x.st"
has "$T/err" "p9" "the protocol named"
run 2 "evaluate: unknown --protocol" "$A" evaluate --protocol p9 \
	--model "$T/gn.st"
has "$T/err" "p9" "the protocol named"
# shellcheck disable=SC2086
run 2 "retrain: --fold out of range" rt --data "$T/act4.csv" --protocol p3 \
	--fold 2 --folds 2 --out "$T/x.st"
has "$T/err" "fold 2" "the fold named"
run 2 "evaluate: --fold out of range" "$A" evaluate --protocol p3 \
	--model "$T/f0.st" --fold 2 --folds 2
run 2 "evaluate: --fold not a number" "$A" evaluate --protocol p3 \
	--model "$T/f0.st" --fold x
run 2 "evaluate: several --model with p1" "$A" evaluate --protocol p1 \
	--model "$T/gn.st" --model "$T/nogn.st"
has "$T/err" "several --model" "usage error explained"
# shellcheck disable=SC2086
run 2 "retrain: unknown --aug name" rt $J --aug shift,bogus --out "$T/x.st"
has "$T/err" "bogus" "the augmentation named"
# shellcheck disable=SC2086
run 2 "retrain: no --out" rt $J
for tw in 1 0,0 -1,1 1,x 11,1; do
	# shellcheck disable=SC2086
	run 2 "retrain: --task-weights $tw refused" rt $J --task-weights "$tw" \
		--out "$T/x.st"
	has "$T/err" "--task-weights $tw: expected" "--task-weights $tw: named"
done
for k in 0 9 x; do
	# shellcheck disable=SC2086
	run 2 "retrain: --subcentres $k refused" rt $J --subcentres "$k" \
		--out "$T/x.st"
	has "$T/err" "--subcentres $k: expected an integer 1..8" \
		"--subcentres $k: named"
done
for d in 1 -0.1 x; do
	# shellcheck disable=SC2086
	run 2 "retrain: --ema $d refused" rt $J --ema "$d" --out "$T/x.st"
	has "$T/err" "--ema $d: expected a number" "--ema $d: named"
done
for db in x 5,2 12, -30 0,61 3,x; do
	# shellcheck disable=SC2086
	run 2 "retrain: --snr $db refused" rt $J --snr "$db" --out "$T/x.st"
	has "$T/err" "--snr $db: LO or LO,HI" "--snr $db: named"
	# shellcheck disable=SC2086
	run 2 "retrain: --motion-snr $db refused" rt $J --motion-snr "$db" \
		--out "$T/x.st"
	has "$T/err" "--motion-snr $db: LO or LO,HI" "--motion-snr $db: named"
done
# --- 7. the open protocol and the hold-outs (DESIGN.md 8) ----------------
# 2 ECG-ID persons that train and 2 held out (61, 62), PTB-XL records of both
# kinds, activity subjects 01-02 on both electrode materials
{ echo "$HDR"; for p in 01 02 61 62; do
	grep ",ecgid:$p," "$T/full/ecg-id.csv" | head -2; done; } >"$T/idho.csv"
{ echo "$HDR"; sed -n '2,13p' "$T/full/ptbxl-lead1.csv"; } >"$T/ptb.csv"
{ echo "$HDR"; grep -E ',ecgact:0[12],' "$T/full/ecg-activity.csv"; } \
	>"$T/act2.csv"
{ echo "$HDR"; grep -E ',ecgact:0[12],' \
	"$T/full/ecg-activity-textile.csv"; } >"$T/tex2.csv"
O="--data $T/idho.csv --data $T/ptb.csv --data $T/act2.csv --data $T/tex2.csv"
# shellcheck disable=SC2086
run 0 "retrain --protocol open --unlabelled-as rest --balance" rt $O \
	--protocol open --unlabelled-as rest --balance --epochs 1 \
	--aug band,hum,stretch,shift --out "$T/open.st"
meta "$T/open.st" open.json
jcheck "$T/open.json" "$M"'|(.subjects|fromjson) as $s | ($s|length) > 4
    and ($s|index("ecgid:01")) != null and ($s|index("ecgid:61")) == null
    and ($s|index("ecgid:62")) == null and ($s|map(select(startswith(
    "ptbxl:") and (.[6:]|tonumber) % 5 == 0))|length) == 0' \
	"open: no hold-out among the trained subjects" '"subjects":'
hasnt "$T/open.json" 'ptbxl:00010' "open: PTB-XL 00010 (a hold-out) not trained"
run 0 "evaluate --protocol open" "$A" evaluate --protocol open \
	--model "$T/open.st" $O --json
cp "$T/out" "$T/openev.json"
jcheck "$T/openev.json" '(."p2+ptbxl".n_impostor > 0) and
    (.p4.eer|type) == "number" and .xelectrode.n_probes > 0 and
    (.xelectrode.by_activity|keys|length) == 5 and
    ."rest-other".n_probes > 0 and (."rest-other".rest + ."rest-other".unknown
    + ."rest-other".wrong - 1 | fabs) < 1e-6' \
	"open: p2+ptbxl, p4, xelectrode per activity, rest-other" '"p4":'
{ echo "$HDR"; for p in 61 62 63; do
	grep ",ecgid:$p," "$T/full/ecg-id.csv" | head -3; done; } >"$T/id3r.csv"
run 0 "evaluate --protocol adapt" "$A" evaluate --protocol adapt \
	--model "$T/open.st" --data "$T/id3r.csv" --data "$T/ptb.csv" \
	--threshold 0.8 --adapt-margin 0.1 --json
cp "$T/out" "$T/adapt.json"
jcheck "$T/adapt.json" '.adapt | .persons >= 2 and
    (.without_updates.eer|type) == "number" and
    (.with_updates.n_templates >= .without_updates.n_templates) and
    (.templates_added_by_impostors|type) == "number"' \
	"adapt: with and without updates, impostor additions counted" '"adapt":'
run 2 "evaluate: --threshold out of range" "$A" evaluate --protocol adapt \
	--model "$T/open.st" --threshold 1.5
run 0 "infer --fuse: one JSON object for a recording" "$A" infer \
	--model "$T/open.st" --input "$DATA/ecg-id/Person_61/rec_1" --fuse
jcheck "$T/out" '(.embedding|length) == 16 and (.activity.label|type) ==
    "string" and .quality.windows_used > 0' "infer --fuse: embedding, \
activity, quality" '"embedding":\['
# int8: quantize calibrates on the model's training data; infer then runs
# the int8 path, which refuses an uncalibrated model by name
run 1 "infer --precision int8 on an uncalibrated model" "$A" infer \
	--model "$T/open.st" --input "$DATA/ecg-id/Person_61/rec_1" --fuse \
	--precision int8
has "$T/err" "no int8 calibration" "the uncalibrated model is named"
run 2 "quantize: --windows below a batch" "$A" quantize --model "$T/open.st" \
	--out "$T/q.st" --windows 5
# shellcheck disable=SC2086
run 0 "quantize --windows 64" "$A" quantize --model "$T/open.st" \
	--out "$T/q.st" $O --windows 64
meta "$T/q.st" q.json
jcheck "$T/q.json" "$M"'|has("dt4ecg.int8.act_max")' \
	"quantize writes the calibration" '"dt4ecg.int8.act_max":'
run 0 "infer --fuse --precision int8 on the calibrated model" "$A" infer \
	--model "$T/q.st" --input "$DATA/ecg-id/Person_61/rec_1" --fuse \
	--precision int8
jcheck "$T/out" '(.embedding|length) == 16' "int8: an embedding" \
	'"embedding":\['
run 0 "calibrate: temperature and unknown threshold" "$A" calibrate \
	--model "$T/open.st" --out "$T/opencal.st" $O
has "$T/out" "temperature .*ECE .* -> " "calibrate: ECE before and after"
meta "$T/opencal.st" opencal.json
jcheck "$T/opencal.json" "$M"'|(."activity.temperature"|tonumber) > 0 and
    (."activity.unknown_below"|tonumber) >= 0.3 and
    (."activity.calibration"|fromjson|.validation_windows) > 0' \
	"calibrate: activity.temperature, unknown_below, calibration in the model" \
	'"activity.temperature":'
run 1 "calibrate: a model without activities" "$A" calibrate \
	--model "$T/p2.st" --out "$T/x.st" --data "$T/id6.csv"
has "$T/err" "nothing to calibrate" "calibrate: says why"
run 2 "calibrate: bad --target-acc" "$A" calibrate --model "$T/open.st" \
	--out "$T/x.st" --target-acc 2
# retrain from the store: two members enrolled, fine-tuned from the
# store's active model: its classifier rows for the subjects it knows, the
# members' rows imprinted from their mean embeddings
ST="$T/site.db"
{ "$A" --db "$ST" init && "$A" --db "$ST" model import "$T/open.st" \
    --id base --activate && for p in 03 04; do
	"$A" --db "$ST" user add "m$p" &&
	"$A" --db "$ST" user enroll "m$p" "$DATA/ecg-id/Person_$p/rec_1" ||
	exit 1; done; } >"$T/site.log" 2>&1 && ok "site store: 2 members" ||
	{ bad "site store"; sed 's/^/#   /' "$T/site.log"; }
run 0 "retrain --data store --init active" "$A" --db "$ST" retrain \
	--data store --data "$T/idho.csv" --protocol open --init active \
	--epochs 1 --batch 16 --hop 256 --threads 1 --out "$T/site.st"
has "$T/err" "2 enrolment recordings of 2 members from the store" \
	"store recordings read"
has "$T/err" "tensors kept; classifier: [1-9][0-9]* of [0-9]* subjects kept, 2 new imprinted, 0 new at random" \
	"fine-tuning keeps the trunk, the known rows, imprints the members"
meta "$T/site.st" site.json
jcheck "$T/site.json" "$M"'|(.subjects|fromjson) as $s |
    ($s|index("site:1")) != null and ($s|index("site:2")) != null' \
	"store members train as pseudonyms site:K" '"site:1"'
hasnt "$T/site.json" '"m03"' "no member id in the model"
# a one-epoch tiny model: the activation check refuses it unless forced
run 1 "the fine-tuned model: import, activation checked" "$A" --db "$ST" \
	model import "$T/site.st" --id tuned --activate
has "$T/err" "not activated" "a collapsed fine-tune is not activated"
run 0 "the fine-tuned model activates with --force" "$A" --db "$ST" model \
	activate tuned --force
run 2 "retrain --data store without --db" "$A" retrain --data store \
	--init active --out "$T/x.st"
run 2 "evaluate: unknown protocol" "$A" evaluate --protocol p9 \
	--model "$T/open.st"

run 2 "evaluate: no --model" "$A" evaluate --protocol p1
[ ! -e "$T/x.st" ] && ok "no model written by the failures" || bad "stray model"

echo "1..$n"
if [ "$skips" -gt 0 ]; then
	echo "$((n - fails - skips)) passed, $fails failed, $skips skipped"
else
	echo "$((n - fails)) passed, $fails failed"
fi
[ "$fails" -eq 0 ]
