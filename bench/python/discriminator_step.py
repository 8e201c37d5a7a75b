"""PyTorch CPU baseline for bench/suites/discriminator.ts: one training step of the official discriminator
(forward in training mode, backward, AdamW update) at B 8, T 128, d_in 512, hidden 256, 2 layers, 8 heads,
masked. Prints one JSON line {median_ms, mad_ms, runs}. Usage: discriminator_step.py [runs] [warmup] [threads=2]
Threads: torch's and OpenBLAS's pools both limited, OpenMP waiting passively (fair_torch.py).

Server mode, for timing interleaved with tfjs in the same run: discriminator_step.py serve [threads]
prints one JSON line {ready, torch, threads}, then answers each stdin line "step" with the step's
wall time in ms (measured here, without the pipe), and exits on "quit" or end of input."""
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', '..', 'tools', 'reference'))
from fair_torch import limit_threads  # noqa: E402  (sets OMP_WAIT_POLICY before torch loads)

import torch  # noqa: E402

from official_discriminator import TransformerDiscriminator  # noqa: E402

SERVE = len(sys.argv) > 1 and sys.argv[1] == 'serve'
if SERVE:
    limit_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
else:
    limit_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 2)

B, T, D, H, L, HEADS = 8, 128, 512, 256, 2, 8


def main():
    torch.manual_seed(0)
    model = TransformerDiscriminator(D, H, L, HEADS, dropout=0.1).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    x = torch.randn(B, T, D)
    lengths = torch.randint(T // 2, T + 1, (B,))
    mask = (torch.arange(T)[None, :] < lengths[:, None]).float()

    def step():
        opt.zero_grad(set_to_none=True)
        s = model(x, mask)
        loss = torch.nn.functional.softplus(-s).mean()
        loss.backward()
        opt.step()
        return loss.item()

    if SERVE:
        step()
        print(json.dumps({'ready': True, 'torch': torch.__version__, 'threads': torch.get_num_threads()}), flush=True)
        for line in sys.stdin:
            if line.strip() != 'step':
                break
            t0 = time.perf_counter()
            step()
            print((time.perf_counter() - t0) * 1000, flush=True)
        return
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    warmup = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    for _ in range(warmup):
        step()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        step()
        samples.append((time.perf_counter() - t0) * 1000)
    med = statistics.median(samples)
    print(json.dumps({'median_ms': med, 'mad_ms': statistics.median([abs(s - med) for s in samples]), 'runs': runs,
                      'torch': torch.__version__, 'threads': torch.get_num_threads()}))


if __name__ == '__main__':
    main()
