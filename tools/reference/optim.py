"""Golden values for src/optim: torch.optim.AdamW over several steps with changing variable subsets
and a changing learning rate, AdamW driven by autograd on a tiny regression (for `minimize`),
torch.nn.utils.clip_grad_norm_, and the warmup+cosine / warmup+linear schedules (transformers'
formulas, written out here because transformers is not installed; checked against a LambdaLR).
float32 for the optimizer (to match float32 dynamics), float64 elsewhere.

    /usr/bin/python3 tools/reference/optim.py  ->  tests/fixtures/optim.json
"""
import json
import math
import os

import torch

torch.manual_seed(1)
out = {}

# --- AdamW with explicit gradients -------------------------------------------------------------
shapes = {"w": [3, 4], "b": [4], "e": [2, 3]}
params = {k: torch.nn.Parameter(torch.randn(*s)) for k, s in shapes.items()}
init = {k: p.detach().clone() for k, p in params.items()}
opt = torch.optim.AdamW(list(params.values()), lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
# Which variables receive a gradient at each step (the others keep .grad = None: PyTorch skips
# them entirely, so their step counts differ afterwards).
subsets = [["w", "b", "e"], ["w", "b"], ["e"], ["w", "e"], ["b", "w", "e"], ["w"]]
lrs = [1e-2, 5e-3, 2e-2, 1e-2, 0.0, 3e-3]
steps = []
for t, (subset, lr) in enumerate(zip(subsets, lrs)):
    for g in opt.param_groups:
        g["lr"] = lr
    grads = {}
    for k, p in params.items():
        if k in subset:
            # Gradients spanning magnitudes, including tiny ones (where epsilon matters).
            g = torch.randn(*shapes[k]) * (10.0 ** float(torch.randint(-4, 2, ()).item()))
            p.grad = g.clone()
            grads[k] = g.flatten().tolist()
        else:
            p.grad = None
    opt.step()
    steps.append({
        "lr": lr, "grads": grads,
        "params": {k: p.detach().flatten().tolist() for k, p in params.items()},
        "stepCounts": {k: int(opt.state[p]["step"].item()) if p in opt.state else 0 for k, p in params.items()},
    })
out["adamw"] = {
    "config": {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "weightDecay": 0.1},
    "shapes": shapes, "init": {k: v.flatten().tolist() for k, v in init.items()}, "steps": steps,
}

# --- AdamW minimizing a tiny regression (autograd gradients) ------------------------------------
x = torch.randn(8, 3)
y = torch.randn(8, 2)
W = torch.nn.Parameter(torch.randn(3, 2) * 0.5)
c = torch.nn.Parameter(torch.zeros(2))
W0, c0 = W.detach().clone(), c.detach().clone()
opt2 = torch.optim.AdamW([W, c], lr=0.05, weight_decay=0.01)
losses, traj = [], []
for _ in range(5):
    opt2.zero_grad()
    loss = ((x @ W + c - y) ** 2).mean()
    loss.backward()
    opt2.step()
    losses.append(loss.item())
    traj.append({"W": W.detach().flatten().tolist(), "c": c.detach().tolist()})
out["minimize"] = {"x": x.flatten().tolist(), "y": y.flatten().tolist(), "W0": W0.flatten().tolist(),
                   "c0": c0.tolist(), "lr": 0.05, "weightDecay": 0.01, "losses": losses, "steps": traj}

# --- clip_grad_norm_ ----------------------------------------------------------------------------
torch.set_default_dtype(torch.float64)
clip = []
gs = [torch.randn(3, 4) * 2, torch.randn(5), torch.randn(2, 2, 2) * 0.1]
for max_norm, norm_type in ((1.0, 2.0), (100.0, 2.0), (0.5, float("inf")), (2.0, 1.0), (3.0, 3.0)):
    ps = [torch.nn.Parameter(torch.zeros_like(g)) for g in gs]
    for p, g in zip(ps, gs):
        p.grad = g.clone()
    total = torch.nn.utils.clip_grad_norm_(ps, max_norm, norm_type=norm_type)
    clip.append({"maxNorm": max_norm, "normType": "inf" if math.isinf(norm_type) else norm_type,
                 "grads": [g.flatten().tolist() for g in gs], "shapes": [list(g.shape) for g in gs],
                 "totalNorm": total.item(), "clipped": [p.grad.flatten().tolist() for p in ps]})
out["clip"] = clip


# --- schedules (transformers.optimization formulas) ---------------------------------------------
def cosine_lambda(warmup, total, cycles=0.5):
    def f(step):
        if step < warmup:
            return float(step) / float(max(1, warmup))
        progress = float(step - warmup) / float(max(1, total - warmup))
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(cycles) * 2.0 * progress)))
    return f


def linear_lambda(warmup, total):
    def f(step):
        if step < warmup:
            return float(step) / float(max(1, warmup))
        return max(0.0, float(total - step) / float(max(1, total - warmup)))
    return f


sched = []
for kind, warmup, total, cycles in (("cosine", 3, 10, 0.5), ("cosine", 0, 7, 0.5), ("cosine", 2, 12, 1.5),
                                    ("linear", 3, 10, None), ("linear", 0, 5, None)):
    lam = cosine_lambda(warmup, total, cycles) if kind == "cosine" else linear_lambda(warmup, total)
    # The learning rates an optimizer actually uses at steps 0..total+1 under LambdaLR.
    p = torch.nn.Parameter(torch.zeros(1))
    o = torch.optim.SGD([p], lr=2e-3)
    s = torch.optim.lr_scheduler.LambdaLR(o, lam)
    used = []
    for _ in range(total + 2):
        used.append(o.param_groups[0]["lr"])
        o.step()
        s.step()
    sched.append({"kind": kind, "warmup": warmup, "total": total, "numCycles": cycles, "learningRate": 2e-3,
                  "lrs": used})
out["schedules"] = sched

path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "optim.json")
with open(path, "w") as fh:
    json.dump(out, fh)
print("wrote", os.path.normpath(path), os.path.getsize(path), "bytes")
