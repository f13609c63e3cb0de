#!/bin/sh
# Inference speed of dt4ecg beside the two peers of ../shared/peer (PyTorch
# and ONNX Runtime), on the same model file, in one run, rounds alternating so
# that drift in the machine's speed hits all three alike.
#   bench/compare-peers.sh [BUILD_DIR] [ROUNDS]
# Needs: scripts/install-deps.sh --peer, and onnxruntime-node in $PEER_NODE_DIR
# (default /tmp/peer; see ../shared/peer/README.md).  With the ECG-ID data
# ($DT4ECG_DATA, default ../shared/data) our int8 path is measured too, on a
# copy of the model calibrated by `dt4ecg-admin quantize` (the weights are
# the same; the peers run f32).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build-normal}
rounds=${2:-3}
peer=${DT4ECG_PEER:-$(cd "$top/.." && pwd)/shared/peer}
node_dir=${PEER_NODE_DIR:-/tmp/peer}
model=$peer/models/ecgid_p1.safetensors
DT4ECG_DATA=${DT4ECG_DATA:-$(cd "$top/.." && pwd)/shared/data}
export DT4ECG_DATA
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

[ -f "$model" ] || { echo "compare-peers: $model not found" >&2; exit 1; }
[ -d "$node_dir/node_modules/onnxruntime-node" ] || {
	echo "compare-peers: onnxruntime-node not installed in $node_dir (see $peer/README.md)" >&2
	exit 1
}
/usr/bin/python3 "$peer/dt4ecg_ref.py" export-onnx --model "$model" \
    --out "$out/model.onnx" >/dev/null 2>&1
prec=f32
ours=$model
if "$build/admin/dt4ecg-admin" quantize --model "$model" --data ecg-id \
    --windows 2048 --out "$out/model-int8.safetensors" >/dev/null 2>&1; then
	prec=f32,int8
	ours=$out/model-int8.safetensors
else
	echo "compare-peers: no ECG-ID data to calibrate int8 on: f32 only" >&2
fi

i=1
while [ "$i" -le "$rounds" ]; do
	echo "== round $i/$rounds" >&2
	"$build/bench/dt4ecg-bench" infer --model "$ours" --threads 1,2 \
	    --precision "$prec" --no-reference --json >>"$out/dt4ecg.jsonl"
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
    r = {}
    for p in ("f32", "int8"):
        ours = [x for x in lines("dt4ecg.jsonl") if x["threads"] == t and
                x.get("precision", "f32") == p]
        if ours:
            r[p] = (med(x["latency_ms_p50"] for x in ours if x["batch"] == 1),
                    med(x["windows_per_s"] for x in ours if x["batch"] == 64))
    ort = [x["runs"]["intra_op_threads=%d" % t] for x in lines("ort.jsonl")]
    tor = [x["runs"]["threads=%d" % t] for x in lines("torch.jsonl")]
    r["ort"] = (med(x["b1_median_ms"] for x in ort), med(x["b64_windows_per_s"] for x in ort))
    r["torch"] = (med(x["b1_median_ms"] for x in tor), med(x["b64_windows_per_s"] for x in tor))
    rows[t] = r
labels = {"f32": "dt4ecg f32", "int8": "dt4ecg int8", "ort": "ONNX Runtime",
          "torch": "PyTorch"}
print("%-8s %-14s %12s %14s %16s %18s %18s" % ("threads", "program", "b1 p50 ms",
      "b64 windows/s", "b1 vs dt4ecg", "b64 dt4ecg/peer", "b64 int8/this"))
for t, r in rows.items():
    for name in ("f32", "int8", "ort", "torch"):
        if name not in r:
            continue
        b1, b64 = r[name]
        i8 = "%17.2fx" % (r["int8"][1] / b64) if "int8" in r else "%18s" % "-"
        print("%-8d %-14s %12.3f %14.1f %15.2fx %17.2fx %s" % (t, labels[name], b1,
              b64, r["f32"][0] / b1, r["f32"][1] / b64, i8))
PY
