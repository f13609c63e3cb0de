#!/bin/sh
# The daemon's sanitizer soak: builds dt4ecgd and dt4ecg-bench with
# AddressSanitizer + UndefinedBehaviorSanitizer (build-soak/) and runs
# `dt4ecg-bench soak` against it on loopback: valid, replayed, malformed,
# mis-signed and oversized requests for SECONDS (default 600), then checks
# that no status was unexpected, no 5xx but the queue's 503, the daemon's
# resident memory flat after the warm-up, and no sanitizer report.
#   scripts/soak.sh [SECONDS] [CONCURRENCY]
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-600}
conc=${2:-4}
build="$top/build-soak"
DT4ECG_DATA=${DT4ECG_DATA:-$(cd "$top/.." && pwd)/shared/data}
export DT4ECG_DATA
[ -d "$DT4ECG_DATA/ecg-id" ] || { echo "soak.sh: $DT4ECG_DATA/ecg-id not found (set DT4ECG_DATA)" >&2; exit 1; }
[ -x "$top/configure" ] || "$top/bootstrap"
mkdir -p "$build"
cd "$build"
[ -f Makefile ] || "$top/configure" -q --enable-sanitizers
make -s -j"$(nproc)" daemon/dt4ecgd bench/dt4ecg-bench
# The quarantine is ASan's own memory: at its default (256 MB) the daemon's
# RSS climbs until it is full, which would hide a real leak's slope.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:quarantine_size_mb=16:abort_on_error=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS UBSAN_OPTIONS
warm=$((secs / 5))
exec bench/dt4ecg-bench soak --seconds "$secs" --warmup "$warm" \
    --concurrency "$conc"
