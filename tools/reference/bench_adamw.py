"""PyTorch baseline for bench/suites/adamw-and-hooks.ts: one torch.optim.AdamW step (foreach=False, the
1.13 default on CPU) on the same 2.36M float32 parameters. Prints one JSON line with the median ms.
Usage: bench_adamw.py [runs] [threads=1] (torch's and OpenBLAS's pools limited, bench/python/fair_torch.py)."""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'bench', 'python'))
from fair_torch import limit_threads  # noqa: E402  (sets OMP_WAIT_POLICY before torch loads)

import torch  # noqa: E402

limit_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
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
print(json.dumps({"median": statistics.median(samples), "runs": runs, "threads": torch.get_num_threads()}))
