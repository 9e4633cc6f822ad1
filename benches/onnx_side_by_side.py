#!/usr/bin/env python3
"""fourstock against ONNX Runtime: the same architecture, sizes and weights,
measured in one run on this machine.

For each model it
1. writes the model with ``fourstock init-model`` (or uses models/NAME);
2. builds the same network as an ONNX graph from model.safetensors (ONNX
   LSTM/GRU ops, PyTorch gate order converted, then the linear head);
3. feeds both the same featurized inputs (realistic: one-hots plus scalars,
   as the featurizer writes them) for STEPS steps at batch 1, 16 and 64,
   carrying the recurrent state;
4. checks the logits agree, and times every step: fourstock through
   ``examples/side_by_side.rs`` (one thread), ONNX Runtime with 1 and 2
   intra-op threads;
5. measures the one-core memory-read floor of each model's weights
   (weight bytes over numpy's single-threaded read bandwidth).

Run from the repository root (needs numpy, onnx, onnxruntime):

    python3 -m venv .venv-bench
    .venv-bench/bin/pip install numpy onnx onnxruntime
    .venv-bench/bin/python benches/onnx_side_by_side.py [--steps 400] [--json out.json]

PyTorch is left out: its PyPI wheel pulls several GB of CUDA packages.
"""

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEAD = 81

MODELS = [
    # (name, cell, hidden sizes); "models/untrained-lstm" is the shipped default.
    ("default 2xLSTM128", "lstm", [128, 128]),
    ("2xLSTM256", "lstm", [256, 256]),
    ("2xLSTM512", "lstm", [512, 512]),
    ("2xGRU512", "gru", [512, 512]),
]


def read_safetensors(path):
    """name -> float32 array, from the file's header and raw bytes."""
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_len])
    base = 8 + header_len
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", info
        start, end = info["data_offsets"]
        out[name] = np.frombuffer(data[base + start:base + end], dtype="<f4").reshape(info["shape"])
    return out


def reorder(w, order, hidden):
    """Rearranges gate blocks along axis 0."""
    blocks = [w[i * hidden:(i + 1) * hidden] for i in range(len(order))]
    return np.concatenate([blocks[i] for i in order], axis=0)


def onnx_model(weights, cell, hidden_sizes, input_size):
    """The network as an ONNX graph taking (1, B, in) features and states."""
    # PyTorch LSTM gates i,f,g,o -> ONNX i,o,f,c; GRU r,z,n -> ONNX z,r,h.
    order = [0, 3, 1, 2] if cell == "lstm" else [1, 0, 2]
    op = "LSTM" if cell == "lstm" else "GRU"
    nodes, inits, inputs, outputs = [], [], [], []
    inputs.append(helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, "B", input_size]))
    x = "x"
    for k, h in enumerate(hidden_sizes):
        w = reorder(weights[f"core.weight_ih_l{k}"], order, h)[None]
        r = reorder(weights[f"core.weight_hh_l{k}"], order, h)[None]
        b = np.concatenate([reorder(weights[f"core.bias_ih_l{k}"], order, h),
                            reorder(weights[f"core.bias_hh_l{k}"], order, h)])[None]
        for name, value in ((f"W{k}", w), (f"R{k}", r), (f"Bias{k}", b)):
            inits.append(numpy_helper.from_array(value.astype(np.float32), name))
        state_in = [f"h{k}"] + ([f"c{k}"] if cell == "lstm" else [])
        for s in state_in:
            inputs.append(helper.make_tensor_value_info(s, TensorProto.FLOAT, [1, "B", h]))
        state_out = [f"h{k}_out"] + ([f"c{k}_out"] if cell == "lstm" else [])
        attrs = {"hidden_size": h}
        if cell == "gru":
            attrs["linear_before_reset"] = 1
        nodes.append(helper.make_node(
            op, [x, f"W{k}", f"R{k}", f"Bias{k}", ""] + state_in,
            [f"y{k}"] + state_out, **attrs))
        for s in state_out:
            outputs.append(helper.make_tensor_value_info(s, TensorProto.FLOAT, [1, "B", h]))
        x = f"h{k}_out"
    inits.append(numpy_helper.from_array(weights["head.weight"].T.copy(), "head_w"))
    inits.append(numpy_helper.from_array(weights["head.bias"], "head_b"))
    inits.append(numpy_helper.from_array(np.array([0], dtype=np.int64), "axis0"))
    nodes.append(helper.make_node("Squeeze", [x, "axis0"], ["top"]))
    nodes.append(helper.make_node("MatMul", ["top", "head_w"], ["head_mm"]))
    nodes.append(helper.make_node("Add", ["head_mm", "head_b"], ["logits"]))
    outputs.insert(0, helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["B", HEAD]))
    graph = helper.make_graph(nodes, "fourstock", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def features(rng, steps, batch, width, speeds, players=2):
    """Featurizer-shaped inputs: one-hots and scalars where the layout puts them."""
    block = 400 + 33 + 7 + 7 + (5 if speeds else 0)
    x = np.zeros((steps, batch, width), dtype=np.float32)
    for s in range(steps):
        for b in range(batch):
            row = x[s, b]
            row[rng.integers(64)] = 1
            for p in range(players):
                at = 64 + p * block
                row[at + rng.integers(400)] = 1
                row[at + 400 + rng.integers(33)] = 1
                row[at + 433 + rng.integers(7)] = 1
                row[at + 440:at + 447] = rng.normal(0, 0.5, 7)
                if speeds:
                    row[at + 447:at + 452] = rng.normal(0, 0.5, 5)
            at = 64 + players * block
            row[at:at + 8] = rng.integers(0, 2, 8)
            for axis in range(4):
                row[at + 8 + axis * 17 + rng.integers(17)] = 1
            row[at + 76 + rng.integers(5)] = 1
    return x


def time_onnx(model, cell, hidden_sizes, xs, threads):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    steps, batch, _ = xs.shape
    state = {}
    for k, h in enumerate(hidden_sizes):
        state[f"h{k}"] = np.zeros((1, batch, h), np.float32)
        if cell == "lstm":
            state[f"c{k}"] = np.zeros((1, batch, h), np.float32)
    names = [o.name for o in session.get_outputs()]
    logits, times = [], []
    for s in range(steps):
        feed = dict(state, x=xs[s][None])
        start = time.perf_counter()
        out = session.run(names, feed)
        times.append((time.perf_counter() - start) * 1e6)
        logits.append(out[0])
        for name, value in zip(names[1:], out[1:]):
            state[name[:-4]] = value
    return np.stack(logits), times


def summary(times):
    t = np.sort(np.array(times[len(times) // 10:]))
    return float(np.median(t)), float(t[int((len(t) - 1) * 0.99)])


def read_floor_us(weight_bytes):
    """Weight bytes over one core's read bandwidth (numpy sum, best of 5)."""
    a = np.ones(64 * 1024 * 1024, dtype=np.float32)
    best = min(_timed(a.sum) for _ in range(5))
    bandwidth = a.nbytes / best
    return weight_bytes / bandwidth * 1e6, bandwidth


def _timed(f):
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batches", default="1,16,64")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    env = dict(os.environ, RAYON_NUM_THREADS="1")
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "fourstock",
                    "-p", "fourstock-recurrent", "--example", "side_by_side"], cwd=ROOT, check=True)
    exe = os.path.join(ROOT, "target", "release")
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, cell, hidden in MODELS:
            folder = os.path.join(tmp, name.replace(" ", "_"))
            subprocess.run([os.path.join(exe, "fourstock"), "init-model", "--out", folder,
                            "--cell", cell, "--hidden", ",".join(map(str, hidden)),
                            "--speeds", "--seed", "0"], check=True, capture_output=True)
            weights = read_safetensors(os.path.join(folder, "model.safetensors"))
            input_size = weights["core.weight_ih_l0"].shape[1]
            weight_bytes = sum(w.nbytes for w in weights.values())
            floor_us, bandwidth = read_floor_us(weight_bytes)
            model = onnx_model(weights, cell, hidden, input_size)
            for batch in batches:
                steps = args.steps if batch <= 16 else max(args.steps // 3, 30)
                xs = features(rng, steps, batch, input_size, speeds=True)
                xs_path = os.path.join(tmp, "x.bin")
                out_path = os.path.join(tmp, "logits.bin")
                xs.astype("<f4").tofile(xs_path)
                ran = subprocess.run([os.path.join(exe, "examples", "side_by_side"), folder, xs_path,
                                      str(batch), str(steps), out_path],
                                     check=True, capture_output=True, text=True, env=env)
                ours = json.loads(ran.stdout.strip().splitlines()[-1])
                our_logits = np.fromfile(out_path, dtype="<f4").reshape(steps, batch, HEAD)
                row = {"model": name, "batch": batch, "weight_mb": weight_bytes / 1e6,
                       "read_floor_us": floor_us, "read_gbps": bandwidth / 1e9,
                       "fourstock_median_us": ours["median_us"], "fourstock_p99_us": ours["p99_us"]}
                for threads in (1, 2):
                    logits, times = time_onnx(model, cell, hidden, xs, threads)
                    diff = float(np.abs(logits - our_logits).max())
                    median, p99 = summary(times)
                    row[f"ort{threads}_median_us"] = median
                    row[f"ort{threads}_p99_us"] = p99
                    row[f"ort{threads}_max_abs_diff"] = diff
                    if diff > 1e-4:
                        print(f"MISMATCH {name} batch {batch}: max |diff| {diff}", file=sys.stderr)
                        sys.exit(1)
                rows.append(row)
                print(f"{name:18} batch {batch:2}: fourstock {row['fourstock_median_us']:8.1f} us, "
                      f"ORT1 {row['ort1_median_us']:8.1f} us, ORT2 {row['ort2_median_us']:8.1f} us, "
                      f"floor {floor_us:7.1f} us, max |diff| {row['ort1_max_abs_diff']:.1e}",
                      file=sys.stderr)
    print("| model | batch | fourstock median (us) | ORT 1 thread | ORT 2 threads | ORT1 / fourstock | "
          "ORT2 / fourstock | per sample fourstock (us) | per sample ORT best (us) | 1-core read floor (us) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        best = min(r["ort1_median_us"], r["ort2_median_us"])
        print(f"| {r['model']} | {r['batch']} | {r['fourstock_median_us']:.1f} | {r['ort1_median_us']:.1f} | "
              f"{r['ort2_median_us']:.1f} | {r['ort1_median_us'] / r['fourstock_median_us']:.2f}x | "
              f"{r['ort2_median_us'] / r['fourstock_median_us']:.2f}x | "
              f"{r['fourstock_median_us'] / r['batch']:.2f} | {best / r['batch']:.2f} | "
              f"{r['read_floor_us']:.1f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
