#!/bin/sh
# Coverage-guided fuzzing of every parser of outside input with libFuzzer
# (clang), under AddressSanitizer and UndefinedBehaviorSanitizer.
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
# Targets are fuzz/fuzz_*.c; each starts from a copy of its seed corpus
# fuzz/corpus/<name>/ and writes crashes to build-fuzz/crash-<name>-*.
# `make check` replays the seed corpora with the ordinary build; this script is
# the long-running search.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-$(cd "$top/fuzz" && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//')}
build="$top/build-fuzz"

command -v clang >/dev/null 2>&1 || { echo "fuzz.sh: clang is needed (apt-get install clang)" >&2; exit 1; }
[ -x "$top/configure" ] || "$top/bootstrap"
mkdir -p "$build"
cd "$build"
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
[ -f Makefile ] || CC=clang CFLAGS="-g -O1 -fsanitize=fuzzer-no-link $san" \
    "$top/configure" -q --disable-werror
libs="libdata.a libdaemon.a libproto.a libpipeline.a libnn.a libecg.a libstore.a libdtutil.a"
make -s -j"$(nproc)" $libs
status=0
for t in $targets; do
	echo "== fuzz_$t: $secs s"
	clang -g -O1 -fsanitize=fuzzer $san -fopenmp -I. -I"$top" -D_GNU_SOURCE \
	    $(pkg-config --cflags jansson libsodium) "$top/fuzz/fuzz_$t.c" $libs \
	    $(pkg-config --libs jansson libsodium sqlite3 soxr) -ldnnl -lm \
	    -o "fuzz_$t"
	rm -rf "corpus-$t"
	cp -r "$top/fuzz/corpus/$t" "corpus-$t"
	./"fuzz_$t" -max_total_time="$secs" -artifact_prefix="crash-$t-" \
	    -print_final_stats=1 "corpus-$t" 2>"fuzz_$t.log" || status=1
	grep -E "stat::number_of_executed_units|ERROR" "fuzz_$t.log" || true
done
exit $status
