#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Autograd bookkeeping overhead per op: pretext (bench_autograd) next to PyTorch, same chain.

    bash scripts/setup.sh torch       # once: Debian's python3-torch
    /usr/bin/python3 benchmarks/autograd_overhead.py --build build

The chain: x, w of 16 floats; `steps` times y = tanh(y * w); then sum(y).backward(). Per-op time
is the forward + backward time divided by the number of ops (2 steps + 1). PyTorch runs with one
thread in this process; both sides report the median of repeated runs.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def torch_ns_per_op(steps, reps):
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x = torch.randn(16, requires_grad=True)
    # w in [1, 1.5]: the chain keeps a non-zero fixed point; w < 1 decays into subnormal floats
    # and then times the CPU's subnormal penalty, not bookkeeping (same in bench_autograd.cpp).
    w = (torch.rand(16) * 0.5 + 1.0).requires_grad_(True)

    def run():
        y = x
        for _ in range(steps):
            y = torch.tanh(y * w)
        y.sum().backward()
        x.grad = None
        w.grad = None

    for _ in range(5):
        run()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        run()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e9 / (2 * steps + 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--reps", type=int, default=30)
    args = ap.parse_args()
    binary = os.path.join(args.build, "benchmarks", "bench_autograd")
    if not os.path.exists(binary):
        sys.exit(f"{binary} not found; build the benchmarks first")
    res = subprocess.run([binary, "--benchmark_format=json", "--benchmark_repetitions=5",
                          "--benchmark_report_aggregates_only=true"],
                         check=True, capture_output=True, text=True)
    ours = {}
    for b in json.loads(res.stdout)["benchmarks"]:
        if b.get("aggregate_name") == "median":
            steps = int(b["run_name"].split("/")[1])
            ours[steps] = (b["seconds_per_op"] * 1e9, b["plain_forward_ns_per_op"])
    print("| chain (ops) | pretext ns/op | pretext plain forward ns/op | torch ns/op | torch / pretext |")
    print("|---:|---:|---:|---:|---:|")
    for steps, (ns, plain) in sorted(ours.items()):
        theirs = torch_ns_per_op(steps, args.reps)
        print(f"| {2 * steps + 1} | {ns:.0f} | {plain:.0f} | {theirs:.0f} | {theirs / ns:.1f} |")


if __name__ == "__main__":
    main()
