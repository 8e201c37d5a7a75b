"""PyTorch baseline for bench/suites/adamw-and-hooks.ts: one torch.optim.AdamW step (foreach=False, the
1.13 default on CPU) on the same 2.36M float32 parameters. Prints one JSON line with the median ms."""
import json
import statistics
import sys
import time

import torch

torch.set_num_threads(2)
runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
shapes = [(512, 512), (512,), (512, 2048), (2048,), (2048, 512), (512,)]
params = [torch.nn.Parameter(torch.randn(*s)) for s in shapes]
for p in params:
    p.grad = torch.randn_like(p)
opt = torch.optim.AdamW(params, lr=1e-4)
for _ in range(2):
    opt.step()
samples = []
for _ in range(runs):
    t0 = time.perf_counter()
    opt.step()
    samples.append((time.perf_counter() - t0) * 1000)
print(json.dumps({"median": statistics.median(samples), "runs": runs}))
