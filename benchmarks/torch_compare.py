#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""pretext's CPU kernels next to PyTorch's, on the same shapes and thread counts.

Runs the Google Benchmark binaries (bench_gemm, bench_elementwise) for pretext's times and the
same ops in PyTorch (Debian's python3-torch; run with /usr/bin/python3) in one subprocess per
thread count, then prints one Markdown table: median ms per call of each side and the ratio
torch / pretext (above 1: pretext is faster).

    bash scripts/setup.sh torch       # once: Debian's python3-torch
    /usr/bin/python3 benchmarks/torch_compare.py --build build

PyTorch's BLAS only honours the thread count through OPENBLAS_NUM_THREADS, and its OpenMP
threads spin after each op unless OMP_WAIT_POLICY=passive, so each torch subprocess sets both.
Where PyTorch has an out= form it writes into a preallocated tensor, as pretext's kernels do.
"""
import argparse
import json
import os
import platform
import subprocess
import sys

GEMM_SHAPES = [(256, 784, 512), (4096, 768, 768), (512, 3072, 768)]  # M x K x N
ROW_OPS = {
    # name: (pretext benchmark, shape, description)
    "silu": ("BM_silu", (4096, 4096), "SiLU, 16M floats"),
    "gelu": ("BM_gelu", (4096, 4096), "GELU (erf), 16M floats"),
    "gelu_tanh": ("BM_gelu_tanh", (4096, 4096), "GELU (tanh), 16M floats"),
    "softmax": ("BM_softmax", (4096, 1024), "softmax rows, 4096x1024"),
    "layer_norm": ("BM_layer_norm", (4096, 768), "layer_norm, 4096x768"),
}

TORCH_WORKER = r"""
import json, sys, time, statistics
import torch
import torch.nn.functional as F
threads = int(sys.argv[1]); reps = int(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(0)
out = {}
def med(fn):
    for _ in range(3): fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
    return statistics.median(ts)
for (m, k, n) in %(gemm)s:
    a = torch.rand(m, k) * 2 - 1; b = torch.rand(k, n) * 2 - 1; c = torch.empty(m, n)
    out["gemm_%%dx%%dx%%d" %% (m, k, n)] = med(lambda: torch.matmul(a, b, out=c))
x = torch.randn(4096, 4096); y = torch.empty_like(x)
out["silu"] = med(lambda: torch._C._nn.silu(x, out=y))
out["gelu"] = med(lambda: torch._C._nn.gelu(x, out=y))
out["gelu_tanh"] = med(lambda: torch._C._nn.gelu(x, approximate="tanh", out=y))
x = torch.randn(4096, 1024); y = torch.empty_like(x)
out["softmax"] = med(lambda: torch.ops.aten._softmax.out(x, -1, False, out=y))
x = torch.randn(4096, 768); g = torch.ones(768); b = torch.zeros(768)
out["layer_norm"] = med(lambda: F.layer_norm(x, (768,), g, b, 1e-5))
print(json.dumps(out))
"""


def run_torch(threads, reps):
    env = dict(os.environ, OMP_WAIT_POLICY="passive", OPENBLAS_NUM_THREADS=str(threads),
               OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    code = TORCH_WORKER % {"gemm": repr(GEMM_SHAPES)}
    res = subprocess.run(["/usr/bin/python3", "-c", code, str(threads), str(reps)], env=env,
                         check=True, capture_output=True, text=True)
    return json.loads(res.stdout)


def run_bench(binary, pattern, reps):
    if not os.path.exists(binary):
        sys.exit(f"torch_compare: {binary} not found; build the benchmarks first "
                 "(cmake --build <build> --target bench_gemm bench_elementwise)")
    cmd = [binary, f"--benchmark_filter={pattern}", "--benchmark_format=json",
           f"--benchmark_repetitions={reps}", "--benchmark_report_aggregates_only=true"]
    res = subprocess.run(cmd, check=True, capture_output=True, text=True)
    data = json.loads(res.stdout)
    times = {}
    for b in data["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
        times[b["run_name"]] = b["real_time"] * unit
    return times, data["context"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build", help="CMake build directory with benchmarks/")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--reps", type=int, default=5, help="repetitions per measurement (median)")
    args = ap.parse_args()
    bdir = os.path.join(args.build, "benchmarks")
    thread_counts = [int(t) for t in args.threads.split(",")]

    shape_re = "|".join(f"{m}/K:{k}/N:{n}" for m, k, n in GEMM_SHAPES)
    gemm, ctx = run_bench(os.path.join(bdir, "bench_gemm"),
                          f"BM_pretext_gemm<float>/M:({shape_re})/", args.reps)
    rows, _ = run_bench(os.path.join(bdir, "bench_elementwise"),
                        "|".join(v[0] for v in ROW_OPS.values()), args.reps)

    print(f"machine: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores; pretext simd width (float): "
          f"{ctx.get('simd_width_float', '?')}; torch via /usr/bin/python3\n")
    print("| op | threads | pretext ms | torch ms | torch / pretext |")
    print("|---|---:|---:|---:|---:|")
    for t in thread_counts:
        theirs = run_torch(t, max(args.reps, 5))
        for m, k, n in GEMM_SHAPES:
            prefix = f"BM_pretext_gemm<float>/M:{m}/K:{k}/N:{n}/threads:{t}/"
            ours = next((v for key, v in gemm.items() if key.startswith(prefix)), None)
            ref = theirs[f"gemm_{m}x{k}x{n}"]
            if ours is None:
                continue
            print(f"| sgemm {m}x{k}x{n} | {t} | {ours * 1e3:.3f} | {ref * 1e3:.3f} | "
                  f"{ref / ours:.2f} |")
        for name, (bench, _, desc) in ROW_OPS.items():
            ours = rows.get(f"{bench}/threads:{t}/real_time")
            if ours is None:
                continue
            ref = theirs[name]
            print(f"| {desc} | {t} | {ours * 1e3:.3f} | {ref * 1e3:.3f} | {ref / ours:.2f} |")


if __name__ == "__main__":
    main()
