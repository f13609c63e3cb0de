#!/bin/sh
# scripts/sigcheck-frr.sh BUILD [SEG_S] — the signal check's false-refusal
# rate on every recording of ECG-ID, both wearable sets (Ag/AgCl and textile,
# every activity) and PTB-XL lead I, whole and in SEG_S-second segments
# [8], and its verdict on synthetic non-ECGs.  Writes the figures of every
# segment to BUILD/sigcheck-frr.csv.
set -eu
build=${1:?usage: scripts/sigcheck-frr.sh BUILD [SEG_S]}
seg=${2:-8}
data=${DT4ECG_DATA:-$(dirname "$0")/../../shared/data}
data=$(cd "$data" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
hdr=path,format,subject,activity,session,fs_hz,lead
{ echo $hdr; sed -n 's|^\(Person_\([0-9]*\)/rec_\([0-9]*\)\)$|'"$data"'/ecg-id/\1,wfdb,ecgid:\2,,\3,,0|p' \
    "$data/ecg-id/RECORDS"; } > "$tmp/ecgid.csv"
for set in ecg-activity ecg-activity-textile; do
	{ echo $hdr; for f in "$data/$set"/raw/*.csv; do
		b=$(basename "$f" .csv)
		echo "$f,adc-ts,${b%%_*},${b##*_},1,,0"
	done; } > "$tmp/$set.csv"
done
{ echo $hdr; for f in "$data"/ptbxl-lead1/records/*.hea; do
	b=$(basename "$f" .hea)
	echo "${f%.hea},wfdb,ptb:$b,,1,,0"
done; } > "$tmp/ptbxl.csv"
"$build/tests/sigcheck_frr" --seg "$seg" --dump "$build/sigcheck-frr.csv" \
    --synthetic ecg-id="$tmp/ecgid.csv" ecg-activity="$tmp/ecg-activity.csv" \
    ecg-activity-textile="$tmp/ecg-activity-textile.csv" \
    ptbxl-lead1="$tmp/ptbxl.csv"
