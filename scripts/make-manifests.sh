#!/bin/sh
# Writes the manifests (DESIGN.md section 7) of the public data sets into a
# folder; the data stay where they are (paths in the manifests are absolute).
#
#   scripts/make-manifests.sh OUTDIR [DATADIR]
#
# DATADIR defaults to $DT4ECG_DATA, else ../shared/data beside the source tree.
# Writes OUTDIR/ecg-id.csv (WFDB signal 0, the raw lead I; subject "ecgid:NN",
# session = record number), OUTDIR/ecg-activity.csv (raw ADC text with host
# timestamps, format adc-ts; subject "ecgact:NN"; activities rest, arms, walk,
# run, squats in that order; the textile recordings of the same people in
# OUTDIR/ecg-activity-textile.csv), OUTDIR/ptbxl-lead1.csv (subject
# "ptbxl:NNNNN", one record each) and OUTDIR/nstdb.csv (noise records bw, ma).
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 OUTDIR [DATADIR]" >&2
	exit 2
fi
out=$1
here=$(cd "$(dirname "$0")/.." && pwd)
data=${2:-${DT4ECG_DATA:-$here/../shared/data}}
data=$(cd "$data" && pwd)
mkdir -p "$out"
hdr='path,format,subject,activity,session,fs_hz,lead'

if [ -f "$data/ecg-id/RECORDS" ]; then
	tmp="$out/ecg-id.csv.tmp"
	echo "$hdr" >"$tmp"
	while IFS= read -r rec; do
		rec=$(printf '%s' "$rec" | tr -d '\r')
		[ -n "$rec" ] || continue
		person=${rec%%/*}
		num=${person#Person_}
		sess=${rec##*rec_}
		echo "$data/ecg-id/$rec,wfdb,ecgid:$num,,$sess,,0" >>"$tmp"
	done <"$data/ecg-id/RECORDS"
	mv "$tmp" "$out/ecg-id.csv"
	echo "make-manifests: $out/ecg-id.csv"
fi

# ecg-activity (Ag/AgCl, electrode type 01) and ecg-activity-textile (type
# 03) are the same ten people: one subject name for both, the type as session.
for set in ecg-activity ecg-activity-textile; do
	[ -d "$data/$set/raw" ] || continue
	tmp="$out/$set.csv.tmp"
	echo "$hdr" >"$tmp"
	for f in "$data"/$set/raw/*_*_*.csv; do
		b=$(basename "$f" .csv)
		id=${b%%_*}
		rest=${b#*_}
		el=${rest%%_*}
		word=${rest#*_}
		case $word in
		klud) act=rest; k=0 ;;
		ruky) act=arms; k=1 ;;
		chodza) act=walk; k=2 ;;
		beh) act=run; k=3 ;;
		drepy) act=squats; k=4 ;;
		*) continue ;;
		esac
		echo "$id $k $f,adc-ts,ecgact:$id,$act,$el,,0"
	done | sort -k1,1 -k2,2n | cut -d' ' -f3- >>"$tmp"
	mv "$tmp" "$out/$set.csv"
	echo "make-manifests: $out/$set.csv"
done

# ptbxl-lead1: one person per record, lead I z-scored (units sd, read as
# they are); records whose name is divisible by 5 are the hold-out.
if [ -f "$data/ptbxl-lead1/RECORDS" ]; then
	tmp="$out/ptbxl-lead1.csv.tmp"
	echo "$hdr" >"$tmp"
	while IFS= read -r rec; do
		rec=$(printf '%s' "$rec" | tr -d '\r')
		[ -n "$rec" ] || continue
		echo "$data/ptbxl-lead1/records/$rec,wfdb,ptbxl:$rec,,1,,0" >>"$tmp"
	done <"$data/ptbxl-lead1/RECORDS"
	mv "$tmp" "$out/ptbxl-lead1.csv"
	echo "make-manifests: $out/ptbxl-lead1.csv"
fi

if [ -f "$data/nstdb/bw.hea" ]; then
	tmp="$out/nstdb.csv.tmp"
	echo "$hdr" >"$tmp"
	for r in bw ma em; do
		[ -f "$data/nstdb/$r.hea" ] || continue
		echo "$data/nstdb/$r,wfdb,nstdb:$r,,1,,0" >>"$tmp"
	done
	mv "$tmp" "$out/nstdb.csv"
	echo "make-manifests: $out/nstdb.csv"
fi
