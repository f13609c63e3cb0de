#!/bin/sh
# tests/layers.sh — the dependencies docs/HACKING.md's layout table states,
# checked on the #include lines: a folder includes headers of the folders
# it may depend on, nothing else (so the kiosk client reaches the protocol
# code through proto/, never daemon/; proto/ knows nothing of the daemon).
src=${DT4ECG_SRCDIR:-..}
status=0

allowed() {
	case $1 in
	util) echo "util" ;;
	nn) echo "nn util" ;;
	ecg) echo "ecg util" ;;
	data) echo "data ecg util" ;;
	pipeline) echo "pipeline nn ecg util" ;;
	store) echo "store util" ;;
	proto) echo "proto util" ;;
	daemon) echo "daemon proto pipeline nn store util" ;;
	admin) echo "admin data pipeline nn ecg store util" ;;
	kiosk) echo "kiosk proto ecg util" ;;
	esac
}

for dir in util nn ecg data pipeline store proto daemon admin kiosk; do
	ok=$(allowed $dir)
	for f in "$src/$dir"/*.c "$src/$dir"/*.h; do
		[ -f "$f" ] || continue
		for dep in $(sed -n 's/^#[ \t]*include[ \t]*"\([a-z]*\)\/.*/\1/p' "$f" | sort -u); do
			case " $ok " in
			*" $dep "*) ;;
			*)
				echo "$dir/$(basename "$f") includes $dep/: not a dependency of $dir/ (docs/HACKING.md)"
				status=1 ;;
			esac
		done
	done
done
[ $status -eq 0 ] && echo "layers: every #include follows docs/HACKING.md"
exit $status
