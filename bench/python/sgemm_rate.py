"""PyTorch (OpenBLAS) float32 2-D product rate per thread, for bench/suites/product-ceiling.ts.

Usage: sgemm_rate.py '<json>' with {"shapes": [[m, k, n], ...], "runs": R, "threads": n}. Each
shape: a [m, k] · [k, n] product (`a @ b`, random normal operands), 3 warm-up calls, then R timed
calls; prints one JSON line {"torch", "threads", "openblasThreads", "rates": [{"shape", "ms",
"gflops"}]} with the median time per call and 2·m·k·n / median.
"""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fair_torch import limit_threads  # noqa: E402  (sets OMP_WAIT_POLICY before torch)

import torch  # noqa: E402


def main():
    c = json.loads(sys.argv[1])
    info = limit_threads(int(c.get('threads', 1)))
    g = torch.Generator().manual_seed(0)
    rates = []
    for m, k, n in c['shapes']:
        a = torch.randn(m, k, generator=g)
        b = torch.randn(k, n, generator=g)
        for _ in range(3):
            a @ b
        times = []
        for _ in range(int(c['runs'])):
            s = time.perf_counter()
            a @ b
            times.append((time.perf_counter() - s) * 1000)
        ms = statistics.median(times)
        rates.append({'shape': [m, k, n], 'ms': ms, 'gflops': 2 * m * k * n / ms / 1e6})
    info['rates'] = rates
    print(json.dumps(info), flush=True)


if __name__ == '__main__':
    main()
