#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Whole pre-training steps, pretext (bench_steps) next to PyTorch in the same invocation.

    bash scripts/setup.sh torch       # once: Debian's python3-torch
    /usr/bin/python3 benchmarks/steps_vs_torch.py --build build [--threads 2] [--repeat 3]
        [--json out.json]

The three reference steps of benchmarks/bench_steps.cpp (SimCLR MLP, MAE ViT, BERT-style MLM),
built the same way in PyTorch (Debian's python3-torch), each side in its own process so that
peak resident memory is the step's own. Prints one Markdown table: ms/step (median of the timed
steps after 5 warm-up steps, with min-max), samples/s, the speed-up torch / pretext (above 1:
pretext is faster), achieved GFLOP/s (the matmul FLOPs that bench_steps counts, the same for
both sides) and its share of the FP32 peak that bench_steps measures with FMA chains, and the
peak RSS of each process (with what it held before the first step: torch's libraries alone
are a few hundred MiB). Each step runs --repeat times (default 3), pretext and PyTorch
alternating, and the table gives the median of the runs' medians, the extremes of all steps
and the median of the per-run speed-ups, since this shared machine's speed drifts by tens of
percent within a minute.

PyTorch's BLAS honours the thread count only through OPENBLAS_NUM_THREADS and its OpenMP
threads spin between ops unless OMP_WAIT_POLICY=passive, so the torch process gets both.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

STEPS = {
    "simclr": ("BM_step_simclr", 256, "SimCLR: MLP 784-512-512-128, batch 256 x 2 views, Adam"),
    "mae": ("BM_step_mae", 128, "MAE: ViT 28x28/7, width 128, depth 4, 75% masked, batch 128"),
    "mlm": ("BM_step_mlm", 32, "MLM: vocab 8192, seq 128, width 256, depth 4, batch 32"),
}

TORCH_WORKER = r"""
import json, resource, statistics, sys, time, warnings
warnings.filterwarnings("ignore")
import torch
import torch.nn as nn
import torch.nn.functional as F

which, threads, timed, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
torch.manual_seed(0)
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def block(width, norm_first):
    return nn.TransformerEncoderLayer(width, 4, 4 * width, dropout=0.0, activation="gelu",
                                      batch_first=True, norm_first=norm_first)


if which == "simclr":
    B = 256
    enc = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                        nn.Linear(512, 128))
    proj = nn.Sequential(nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 64))
    views = torch.cat([torch.rand(B, 784), torch.rand(B, 784)])  # both views in one forward
    eye = torch.eye(2 * B, dtype=torch.bool)
    targets = torch.cat([torch.arange(B, 2 * B), torch.arange(0, B)])
    params = list(enc.parameters()) + list(proj.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        z = F.normalize(proj(enc(views)), dim=1)
        logits = (z @ z.t() / 0.5).masked_fill(eye, float("-inf"))
        F.cross_entropy(logits, targets).backward()
        opt.step()

elif which == "mae":
    B, N, P, D, Dd = 128, 16, 49, 128, 64

    class MAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Linear(P, D)
            self.pos = nn.Parameter(torch.randn(1, N, D) * 0.02)
            self.cls = nn.Parameter(torch.randn(1, 1, D) * 0.02)
            self.encoder = nn.TransformerEncoder(block(D, True), 4, norm=nn.LayerNorm(D))
            self.decoder_embed = nn.Linear(D, Dd)
            self.mask_token = nn.Parameter(torch.randn(1, 1, Dd) * 0.02)
            self.decoder_pos = nn.Parameter(torch.randn(1, N + 1, Dd) * 0.02)
            self.decoder = nn.TransformerEncoder(block(Dd, True), 1, norm=nn.LayerNorm(Dd))
            self.head = nn.Linear(Dd, P)

        def forward(self, patches, visible, masked):
            b = patches.shape[0]
            h = self.embed(patches) + self.pos
            h = torch.gather(h, 1, visible[..., None].expand(-1, -1, D))
            h = self.encoder(torch.cat([self.cls.expand(b, -1, -1), h], 1))
            d = self.decoder_embed(h)
            full = self.mask_token.expand(b, N, Dd).scatter(
                1, visible[..., None].expand(-1, -1, Dd), d[:, 1:])
            d = self.decoder(torch.cat([d[:, :1], full], 1) + self.decoder_pos)
            pred = self.head(torch.gather(d[:, 1:], 1, masked[..., None].expand(-1, -1, Dd)))
            target = torch.gather(patches, 1, masked[..., None].expand(-1, -1, P))
            return F.mse_loss(pred, target)

    model = MAE()
    images = torch.rand(B, 1, 28, 28)
    patches = images.reshape(B, 1, 4, 7, 4, 7).permute(0, 2, 4, 3, 5, 1).reshape(B, N, P)
    opt = torch.optim.AdamW(model.parameters(), lr=1.5e-4, weight_decay=0.05)

    def step():
        order = torch.argsort(torch.rand(B, N), dim=1)
        opt.zero_grad(set_to_none=True)
        model(patches, order[:, :4], order[:, 4:]).backward()
        opt.step()

elif which == "mlm":
    B, L, V, E = 32, 128, 8192, 256
    M = round(0.15 * L)

    class MLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(V, E)
            self.pos = nn.Parameter(torch.randn(1, L, E) * 0.02)
            self.encoder = nn.TransformerEncoder(block(E, False), 4, enable_nested_tensor=False)
            self.head = nn.Sequential(nn.Linear(E, E), nn.GELU(), nn.LayerNorm(E))
            self.out = nn.Linear(E, V)

        def forward(self, ids, rows, targets):
            h = self.encoder(self.embed(ids) + self.pos).reshape(-1, E)[rows]
            return F.cross_entropy(self.out(self.head(h)), targets)

    model = MLM()
    ids = torch.randint(2, V, (B, L))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)

    def step():
        chosen = torch.argsort(torch.rand(B, L), dim=1)[:, :M]  # M positions per row
        rows = (chosen + L * torch.arange(B)[:, None]).reshape(-1)
        targets = ids.reshape(-1)[rows]
        corrupted = ids.clone().reshape(-1)
        r = torch.rand(rows.shape[0])
        corrupted[rows[r < 0.8]] = 1  # [MASK]; 10% random ids; 10% unchanged
        rnd = (r >= 0.8) & (r < 0.9)
        corrupted[rows[rnd]] = torch.randint(2, V, (int(rnd.sum()),))
        opt.zero_grad(set_to_none=True)
        model(corrupted.reshape(B, L), rows, targets).backward()
        opt.step()

else:
    raise SystemExit("unknown step " + which)

for _ in range(warmup):
    step()
ms = []
for _ in range(timed):
    t0 = time.perf_counter()
    step()
    ms.append((time.perf_counter() - t0) * 1e3)
print(json.dumps({"median_ms": statistics.median(ms), "min_ms": min(ms), "max_ms": max(ms),
                  "peak_rss_MiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rss_before_MiB": rss_before, "torch": torch.__version__}))
"""


def run_pretext(binary, bench, threads):
    env = dict(os.environ, PRETEXT_NUM_THREADS=str(threads))
    res = subprocess.run([binary, "--benchmark_format=json", f"--benchmark_filter=^{bench}(/|$)"],
                         check=True, capture_output=True, text=True, env=env)
    return json.loads(res.stdout)["benchmarks"][0]


def run_torch(which, threads, timed, warmup):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               OMP_WAIT_POLICY="passive")
    res = subprocess.run(["/usr/bin/python3", "-c", TORCH_WORKER, which, str(threads), str(timed),
                          str(warmup)], check=True, capture_output=True, text=True, env=env)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", default="simclr,mae,mlm")
    ap.add_argument("--repeat", type=int, default=3,
                    help="alternating pretext / PyTorch runs per step (the table takes medians)")
    ap.add_argument("--json", help="also write the rows here")
    args = ap.parse_args()
    binary = os.path.join(args.build, "benchmarks", "bench_steps")
    if not os.path.exists(binary):
        sys.exit(f"{binary} is missing: build the benchmarks first "
                 f"(cmake --build {args.build} --target bench_steps)")

    def peak_now():
        return run_pretext(binary, "BM_fp32_peak", args.threads)["GFLOP_per_s"] / 1e9

    peaks = [peak_now()]
    rows = []
    for which in args.steps.split(","):
        bench, batch, label = STEPS[which]
        runs = []
        for _ in range(args.repeat):
            p = run_pretext(binary, bench, args.threads)
            t = run_torch(which, args.threads, int(p["iterations"]), 5)
            runs.append((p, t))
        gflop = runs[0][0]["GFLOP_per_step"]

        def summary(side):
            return {"median_ms": statistics.median([r[side]["median_ms"] for r in runs]),
                    "min_ms": min(r[side]["min_ms"] for r in runs),
                    "max_ms": max(r[side]["max_ms"] for r in runs),
                    "peak_rss_MiB": max(r[side]["peak_rss_MiB"] for r in runs)}

        torch_side = summary(1)
        torch_side["rss_before_MiB"] = max(r[1]["rss_before_MiB"] for r in runs)
        torch_side["torch"] = runs[0][1]["torch"]
        ratios = [t["median_ms"] / p["median_ms"] for p, t in runs]
        rows.append({"step": which, "label": label, "batch": batch, "gflop_per_step": gflop,
                     "pretext": summary(0), "torch": torch_side,
                     "speedup": statistics.median(ratios), "speedups": ratios,
                     "runs": [{"pretext": p["median_ms"], "torch": t["median_ms"]}
                              for p, t in runs]})
    peaks.append(peak_now())
    # Noise on a shared machine only lowers a peak measurement, so the larger one is the peak.
    peak = max(peaks)
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"{args.threads} threads; FP32 peak measured {peak:.0f} GFLOP/s; "
          f"PyTorch {rows[0]['torch']['torch'] if rows else '?'}; {args.repeat} alternating "
          f"runs per step, medians of their medians")
    print()
    print("| step | pretext ms (min–max) | PyTorch ms (min–max) | speed-up (each run) | "
          "samples/s pretext / PyTorch | GFLOP/s pretext (% peak) | GFLOP/s PyTorch (% peak) | "
          "peak RSS MiB pretext / PyTorch (before the first step) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        p, t = r["pretext"], r["torch"]
        gp, gt = r["gflop_per_step"] / p["median_ms"] * 1e3, r["gflop_per_step"] / t["median_ms"] * 1e3
        each = ", ".join(f"{x:.2f}" for x in r["speedups"])
        print(f"| {r['label']} | {p['median_ms']:.1f} ({p['min_ms']:.1f}–{p['max_ms']:.1f}) | "
              f"{t['median_ms']:.1f} ({t['min_ms']:.1f}–{t['max_ms']:.1f}) | "
              f"{r['speedup']:.2f}× ({each}) | {r['batch'] / p['median_ms'] * 1e3:.0f} / "
              f"{r['batch'] / t['median_ms'] * 1e3:.0f} | {gp:.0f} ({100 * gp / peak:.0f}%) | "
              f"{gt:.0f} ({100 * gt / peak:.0f}%) | {p['peak_rss_MiB']:.0f} / "
              f"{t['peak_rss_MiB']:.0f} ({t['rss_before_MiB']:.0f}) |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"fp32_peak_gflops": peak, "peaks": peaks, "threads": args.threads,
                       "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
