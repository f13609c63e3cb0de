#!/bin/sh
# Training speed of dt4ecg beside the PyTorch peer of ../shared/peer, in one
# run, rounds alternating so that drift in the machine's speed hits both
# alike: default network, batch 64, 1 and 2 threads, with GradNorm (both task
# losses present, so it really runs) and without.
#   bench/compare-train.sh [BUILD_DIR] [ROUNDS]
# Needs: scripts/install-deps.sh --peer (python3-torch).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build-normal}
rounds=${2:-3}
peer=${DT4ECG_PEER:-$(cd "$top/.." && pwd)/shared/peer}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

[ -f "$peer/dt4ecg_ref.py" ] || {
	echo "compare-train: $peer/dt4ecg_ref.py not found" >&2
	exit 1
}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
i=1
while [ "$i" -le "$rounds" ]; do
	echo "== round $i/$rounds" >&2
	"$build/bench/dt4ecg-bench" train --threads 1,2 --seconds 8 --json \
	    >>"$out/dt4ecg.jsonl"
	/usr/bin/python3 "$peer/dt4ecg_ref.py" train-bench --threads 1 2 \
	    2>/dev/null | grep '^{"threads=' >>"$out/torch.jsonl"
	i=$((i + 1))
done

/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys, os
d = sys.argv[1]
ours, torch = {}, {}
for line in open(os.path.join(d, "dt4ecg.jsonl")):
    r = json.loads(line)
    ours.setdefault((r["threads"], bool(r["gradnorm"])), []).append(r["windows_per_s"])
for line in open(os.path.join(d, "torch.jsonl")):
    for k, v in json.loads(line).items():
        th, mode = k.split(",")
        key = (int(th.split("=")[1]), mode.split("=")[1] == "gradnorm")
        torch.setdefault(key, []).append(v["windows_per_s_median"])
print("| threads | GradNorm | dt4ecg windows/s | PyTorch windows/s | ratio |")
print("|---|---|---|---|---|")
for key in sorted(ours):
    o = statistics.median(ours[key])
    t = statistics.median(torch[key]) if key in torch else float("nan")
    print(f"| {key[0]} | {'yes' if key[1] else 'no'} | {o:.1f} | {t:.1f} | {o / t:.2f}x |")
print(f"(medians of {len(next(iter(ours.values())))} alternating rounds)")
PY
