#!/bin/sh
# Inference speed of dt4ecg beside the two peers of ../shared/peer (PyTorch
# and ONNX Runtime), on the same model file, in one run, rounds alternating so
# that drift in the machine's speed hits all three alike.
#   bench/compare-peers.sh [BUILD_DIR] [ROUNDS]
# Needs: scripts/install-deps.sh --peer, and onnxruntime-node in $PEER_NODE_DIR
# (default /tmp/peer; see ../shared/peer/README.md).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build-normal}
rounds=${2:-3}
peer=${DT4ECG_PEER:-$(cd "$top/.." && pwd)/shared/peer}
node_dir=${PEER_NODE_DIR:-/tmp/peer}
model=$peer/models/ecgid_p1.safetensors
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

[ -f "$model" ] || { echo "compare-peers: $model not found" >&2; exit 1; }
[ -d "$node_dir/node_modules/onnxruntime-node" ] || {
	echo "compare-peers: onnxruntime-node not installed in $node_dir (see $peer/README.md)" >&2
	exit 1
}
/usr/bin/python3 "$peer/dt4ecg_ref.py" export-onnx --model "$model" \
    --out "$out/model.onnx" >/dev/null 2>&1

i=1
while [ "$i" -le "$rounds" ]; do
	echo "== round $i/$rounds" >&2
	"$build/bench/dt4ecg-bench" infer --model "$model" --threads 1,2 \
	    --no-reference --json >>"$out/dt4ecg.jsonl"
	(cd "$node_dir" && node "$peer/ort_bench.mjs" "$out/model.onnx" \
	    --threads 1,2) 2>/dev/null | tail -n 1 >>"$out/ort.jsonl"
	/usr/bin/python3 "$peer/dt4ecg_ref.py" bench --model "$model" \
	    --threads 1 2 2>/dev/null | tail -n 1 >>"$out/torch.jsonl"
	i=$((i + 1))
done

/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys, os
d = sys.argv[1]
def lines(n):
    return [json.loads(l) for l in open(os.path.join(d, n)) if l.strip().startswith("{")]
med = statistics.median
rows = {}
for t in (1, 2):
    ours = [r for r in lines("dt4ecg.jsonl") if r["threads"] == t]
    b1 = med(r["latency_ms_p50"] for r in ours if r["batch"] == 1)
    b64 = med(r["windows_per_s"] for r in ours if r["batch"] == 64)
    ort = [r["runs"]["intra_op_threads=%d" % t] for r in lines("ort.jsonl")]
    tor = [r["runs"]["threads=%d" % t] for r in lines("torch.jsonl")]
    rows[t] = dict(
        ours=(b1, b64),
        ort=(med(r["b1_median_ms"] for r in ort), med(r["b64_windows_per_s"] for r in ort)),
        torch=(med(r["b1_median_ms"] for r in tor), med(r["b64_windows_per_s"] for r in tor)))
print("%-8s %-14s %12s %14s %16s %18s" % ("threads", "program", "b1 p50 ms", "b64 windows/s",
      "b1 vs dt4ecg", "b64 dt4ecg/peer"))
for t, r in rows.items():
    for name in ("ours", "ort", "torch"):
        b1, b64 = r[name]
        label = {"ours": "dt4ecg", "ort": "ONNX Runtime", "torch": "PyTorch"}[name]
        print("%-8d %-14s %12.3f %14.1f %15.2fx %17.2fx" % (t, label, b1, b64,
              r["ours"][0] / b1, r["ours"][1] / b64))
PY
