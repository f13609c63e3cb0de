#!/bin/sh
# The main job on embedded defaults: install what is needed, build, and run
# the DT4ECG network on a real ECG-ID recording, printing what it sees.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
"$top/scripts/install-deps.sh"
[ -x "$top/configure" ] || "$top/bootstrap"
mkdir -p "$top/build-normal"
(cd "$top/build-normal" && { [ -f Makefile ] || "$top/configure" -q; } && make -s -j"$(nproc)")

DT4ECG_DATA=${DT4ECG_DATA:-$(cd "$top/.." && pwd)/shared/data}
admin="$top/build-normal/admin/dt4ecg-admin"
model="$top/models/dt4ecg-default.safetensors"
rec="$DT4ECG_DATA/ecg-id/Person_01/rec_2"

echo "== dt4ecg demo: the network on a real ECG-ID recording ($rec) =="
"$admin" infer --model "$model" --input "$rec" | head -n 3 | cut -c1-200
echo "..."
"$admin" infer --model "$model" --input "$rec" | wc -l | xargs echo "windows:"
