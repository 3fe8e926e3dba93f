# SPDX-License-Identifier: Apache-2.0
"""The demo's from-scratch floor in PyTorch: the same CNN (conv 3x3 32, pool, conv 3x3 64, pool,
linear 3136->128, linear 128->10, ReLUs; PyTorch's default init, which pretext's layers match)
and the same recipe (AdamW lr 2e-3, weight decay 5e-4 on weights only, batch 64 without the short
last batch, 600 steps, 5% warm-up then cosine), trained on class-balanced 1% subsets (60 images
a class, drawn here by NumPy, so not the demo's subsets) and scored on the 10,000 test images.
It tells whether pretext's from-scratch row (81.3% at 1%) is held down by pretext or by the
recipe.

    bash scripts/setup.sh torch      # Debian's python3-torch
    OMP_WAIT_POLICY=passive /usr/bin/python3 scripts/torch_scratch_floor.py [seeds, default 5]

Shapes: images (N, 1, 28, 28) in [0, 1]; labels (N).
"""
import gzip, math, sys
import numpy as np
import torch, torch.nn as nn

torch.set_num_threads(2)
D = "/usr/share/datasets/fashion-mnist"
def idx(name):
    with gzip.open(f"{D}/{name}", "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)
xtr = torch.tensor(idx("train-images-idx3-ubyte.gz"), dtype=torch.float32).div_(255).unsqueeze(1)
ytr = torch.tensor(idx("train-labels-idx1-ubyte.gz").astype(np.int64))
xte = torch.tensor(idx("t10k-images-idx3-ubyte.gz"), dtype=torch.float32).div_(255).unsqueeze(1)
yte = torch.tensor(idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))

def cnn():
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))

def run(seed, lr=2e-3, wd=5e-4, steps=600, batch=64):
    rng = np.random.default_rng(seed)
    rows = np.concatenate([rng.choice(np.flatnonzero(ytr.numpy() == c), 60, replace=False) for c in range(10)])
    x, y = xtr[rows], ytr[rows]
    torch.manual_seed(seed)
    m = cnn()
    decay = [p for p in m.parameters() if p.ndim > 1]
    no_decay = [p for p in m.parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0}], lr=lr)
    warm = int(0.05 * steps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (s + 1) / warm if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, steps - warm))))
    g = torch.Generator().manual_seed(seed)
    step = 0
    while step < steps:
        perm = torch.randperm(len(rows), generator=g)
        for i in range(0, len(rows) - batch + 1, batch):
            if step == steps: break
            b = perm[i:i + batch]
            loss = nn.functional.cross_entropy(m(x[b]), y[b])
            opt.zero_grad(); loss.backward(); opt.step(); sched.step(); step += 1
    m.eval()
    with torch.no_grad():
        acc = sum((m(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum().item() for i in range(0, 10000, 1000)) / 10000
    return acc

if __name__ == "__main__":
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    accs = [run(s) for s in range(seeds)]
    print("torch, the demo's from-scratch recipe, 1% labels:", " ".join(f"{a:.4f}" for a in accs), f"mean {np.mean(accs):.4f}" + (f" std {np.std(accs, ddof=1):.4f}" if len(accs) > 1 else ""))
