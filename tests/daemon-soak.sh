#!/bin/sh
# tests/daemon-soak.sh — a short `dt4ecg-bench soak` (scripts/soak.sh runs
# the long one): the real dt4ecgd under a mix of valid, replayed, malformed,
# mis-signed and oversized requests from two clients; fails on an unexpected
# status, an unintended 5xx, a sanitizer report in the daemon's log (the
# sanitizer build) or a non-zero exit of the daemon.  Needs ECG-ID.
: "${DT4ECG_BUILDDIR:=.}"
: "${DT4ECG_DATA:=../shared/data}"
[ -d "$DT4ECG_DATA/ecg-id" ] || { echo "no $DT4ECG_DATA/ecg-id: skipped"; exit 77; }
exec "$DT4ECG_BUILDDIR/bench/dt4ecg-bench" soak --tiny --seconds 20 \
    --warmup 5 --concurrency 2 --members 4
