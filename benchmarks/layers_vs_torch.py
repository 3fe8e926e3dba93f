#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Layers forward + backward, pretext (bench_layers) next to PyTorch in the same invocation.

    bash scripts/setup.sh torch       # once: Debian's python3-torch
    /usr/bin/python3 benchmarks/layers_vs_torch.py --build build [--threads 2]

Runs build/benchmarks/bench_layers (median of 5 repetitions) and the same shapes in PyTorch
(median of --reps timed runs after warm-up) and prints ms per forward + backward and the ratio
torch / pretext (above 1: pretext is faster).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def torch_ms(kind, dims, threads, reps):
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if kind == "BM_linear_gelu":
        m, k, n = dims
        lin = torch.nn.Linear(k, n)
        x = torch.randn(m, k, requires_grad=True)
        params = [x] + list(lin.parameters())

        def step():
            torch.nn.functional.gelu(lin(x)).sum().backward()
    elif kind == "BM_batch_norm":
        b, c, h, w = dims
        bn = torch.nn.BatchNorm2d(c)
        x = torch.randn(b, c, h, w, requires_grad=True)
        weight = torch.randn(b, c, h, w)
        params = [x] + list(bn.parameters())

        def step():
            (bn(x) * weight).sum().backward()
    else:
        b, n, e, h = dims
        mha = torch.nn.MultiheadAttention(e, h, batch_first=True)
        x = torch.randn(b, n, e, requires_grad=True)
        params = [x] + list(mha.parameters())

        def step():
            mha(x, x, x, need_weights=False)[0].sum().backward()

    def run():
        step()
        for p in params:
            p.grad = None

    for _ in range(3):
        run()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        run()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args()
    binary = os.path.join(args.build, "benchmarks", "bench_layers")
    if not os.path.exists(binary):
        sys.exit(f"{binary} not found; build the benchmarks first")
    env = dict(os.environ, PRETEXT_NUM_THREADS=str(args.threads))
    res = subprocess.run([binary, "--benchmark_format=json", "--benchmark_repetitions=5",
                          "--benchmark_report_aggregates_only=true"],
                         check=True, capture_output=True, text=True, env=env)
    print(f"threads: {args.threads}")
    print("| case | shape | pretext ms | torch ms | torch / pretext |")
    print("|---|---|---:|---:|---:|")
    for b in json.loads(res.stdout)["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        parts = b["run_name"].split("/")
        kind, dims = parts[0], [int(p) for p in parts[1:] if p.isdigit()]
        ours = b["real_time"]  # milliseconds (the benchmark's unit)
        theirs = torch_ms(kind, dims, args.threads, args.reps)
        name = {"BM_linear_gelu": "Linear+GELU", "BM_batch_norm": "BatchNorm2d (train)"}.get(
            kind, "MultiHeadAttention")
        shape = "x".join(str(d) for d in dims)
        print(f"| {name} | {shape} | {ours:.2f} | {theirs:.2f} | {theirs / ours:.2f} |")


if __name__ == "__main__":
    main()
