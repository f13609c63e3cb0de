#!/bin/sh
# tests/man-examples.sh — the EXAMPLES of dt4ecg-admin(8) run as written.
#
# The commands between .EX and .EE in the EXAMPLES section are taken from
# the man page itself (roff escapes undone, line continuations kept) and
# run in a temporary folder; only what cannot be used on a test machine is
# replaced: the absolute folders /var/lib/dt4ecg, /etc/dt4ecgd and /backup by folders in
# it, dt4ecg-default.safetensors by the shipped model, rec/alice_1 and
# rec/alice_2 by two ECG-ID recordings of one person, dt4ecg-admin by the
# built binary.  Every command must succeed.
set -u

B=${DT4ECG_BUILDDIR:-.}
SRC=${DT4ECG_SRCDIR:-.}
DATA=${DT4ECG_DATA:-../shared/data}
MAN="$SRC/man/dt4ecg-admin.8"
MODEL="$SRC/models/dt4ecg-default.safetensors"
B=$(cd "$B" && pwd)

[ -f "$DATA/ecg-id/Person_01/rec_1.hea" ] || { echo "SKIP: no ECG-ID data"; exit 77; }
[ -f "$MODEL" ] || { echo "SKIP: no shipped model"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/dt4ecg-man.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT INT TERM
mkdir -p "$T/var" "$T/backup" "$T/rec" "$T/etc"
ln -s "$(cd "$DATA/ecg-id/Person_01" && pwd)/rec_1.hea" "$T/rec/alice_1.hea"
ln -s "$(cd "$DATA/ecg-id/Person_01" && pwd)/rec_1.dat" "$T/rec/rec_1.dat"
ln -s "$(cd "$DATA/ecg-id/Person_01" && pwd)/rec_2.hea" "$T/rec/alice_2.hea"
ln -s "$(cd "$DATA/ecg-id/Person_01" && pwd)/rec_2.dat" "$T/rec/rec_2.dat"
ln -s "$(cd "$(dirname "$MODEL")" && pwd)/dt4ecg-default.safetensors" \
    "$T/dt4ecg-default.safetensors"

awk '/^\.SH EXAMPLES/ { e = 1; next } /^\.SH / { e = 0 }
    e && /^\.EE/ { x = 0 } e && x { print } e && /^\.EX/ { x = 1 }' "$MAN" |
    sed -e 's/\\-/-/g' -e 's/\\e$/\\/' -e 's/\\e/\\/g' \
	-e "s|/var/lib/dt4ecg/|$T/var/|g" -e "s|/backup/|$T/backup/|g" \
	-e "s|/etc/dt4ecgd/|$T/etc/|g" \
	-e "s|^dt4ecg-admin |$B/admin/dt4ecg-admin |" > "$T/examples.sh"
n=$(grep -c 'dt4ecg-admin ' "$T/examples.sh")
[ "$n" -ge 6 ] || { echo "Bail out! only $n commands in $MAN's EXAMPLES"; exit 99; }
echo "# $n commands:"
sed 's/^/#   /' "$T/examples.sh"
if (cd "$T" && sh -e -x ./examples.sh) > "$T/out" 2>&1; then
	echo "ok 1 - the EXAMPLES of dt4ecg-admin(8) run as written"
	ls "$T/backup" | grep -q '^dt4ecg-.*\.db$' &&
	    echo "ok 2 - the backup was written" ||
	    { echo "not ok 2 - no backup"; exit 1; }
	grep -q "member alice: enrolled 2 recordings" "$T/out" &&
	    echo "ok 3 - alice enrolled from two recordings" ||
	    { echo "not ok 3 - alice"; sed 's/^/#   /' "$T/out"; exit 1; }
	# README's program paths, less their build-normal/ prefix, are this
	# build's (an in-place build or any build folder)
	bad=0
	for p in $(grep -o 'build-normal/[a-z0-9_/.-]*[a-z0-9]' "$SRC/README.md" | sort -u); do
		case "$p" in
		build-normal/*/*) [ -e "$B/${p#build-normal/}" ] ||
		    { echo "#   README: $p: no ${p#build-normal/} in $B"; bad=1; } ;;
		esac
	done
	[ $bad -eq 0 ] && echo "ok 4 - README's build paths name this build's programs" ||
	    { echo "not ok 4 - README's build paths"; exit 1; }
	echo "1..4"
else
	echo "not ok 1 - the EXAMPLES of dt4ecg-admin(8) fail"
	sed 's/^/#   /' "$T/out"
	echo "1..1"
	exit 1
fi
