#!/usr/bin/python3
"""Golden values for ganpo's preference losses (DPO family, SimPO, ORPO).

The DPO family follows TRL at commit f2cd57710ae345ea6428ae95363267fcf38a3dc8 (huggingface/trl,
2026-07-24): the f-divergence scores and the per-loss-type branches of `DPOTrainer._compute_loss` in
trl/trainer/dpo_trainer.py, re-implemented here in PyTorch float64 on sequence log-probs. Where ganpo
deliberately differs, the difference is written out below (`g_transform`, `dpo_per_pair`):
- `forward_kl`: TRL computes −exp(−u) unclamped; ganpo caps the exponent at 80 like TRL's
  alpha-divergence branch (only the `extreme` regime, |u| > 80, reaches the cap).
- `sigmoid` with ε > 0 is conservative DPO (cDPO); TRL's current `sigmoid` branch has no label
  smoothing, so TRL's formula is the ε = 0 case, which is the one every sweep case uses.
- `bco_pair` with δ ≠ 0 (`bcoDelta`): TRL's branch is the δ = 0 case.
SimPO follows `SimPOTrainer.simpo_loss` (princeton-nlp/SimPO) and ORPO TRL's
`ORPOTrainer.odds_ratio_loss`. Inputs are rounded to float32 first, so the TypeScript side sees
exactly the same inputs. Run with Debian's python3 (torch 1.13):

    /usr/bin/python3 tools/reference/losses.py
"""
import json
import math
import os

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', '..', 'tests', 'fixtures')
TRL_COMMIT = 'f2cd57710ae345ea6428ae95363267fcf38a3dc8'
CAP = 80.0  # exponent cap: TRL's float32 clamp_max of the alpha-divergence branch; ganpo uses it for forward_kl too

LOSS_TYPES = ['sigmoid', 'hinge', 'ipo', 'exo_pair', 'nca_pair', 'robust', 'bco_pair', 'sppo_hard', 'aot',
              'aot_unpaired', 'apo_zero', 'apo_down', 'discopop', 'sigmoid_norm']
F_DIVS = ['reverse_kl', 'forward_kl', 'js_divergence', 'alpha_divergence']


def f32(x):
    """Round to float32 and come back to float64 (the TS side receives these exact values)."""
    return torch.as_tensor(x, dtype=torch.float64).to(torch.float32).to(torch.float64)


def rnd(xs, digits=10):
    return [float(f'{v:.{digits}g}') for v in xs.tolist()]


def g_transform(u, div, alpha):
    """TRL `_compute_loss`: chosen_scores / rejected_scores of each `f_divergence_type`; `alpha` is
    TRL's `f_alpha_divergence_coef` (scores = exp((α−1)·u)/(α−1), reverse KL when |α−1| < 1e-6)."""
    if div == 'reverse_kl':
        return u
    if div == 'forward_kl':
        return -torch.exp(torch.clamp(-u, max=CAP))
    if div == 'js_divergence':
        return F.logsigmoid(u)
    if div == 'alpha_divergence':
        a = alpha - 1.0
        if abs(a) < 1e-6:
            return u
        return torch.exp(torch.clamp(u * a, max=CAP)) / a
    raise ValueError(div)


def smoothed(x, eps):
    return -(1 - eps) * F.logsigmoid(x) - eps * F.logsigmoid(-x)


def dpo_per_pair(kind, pc, pr, rc, rr, lc, lr, beta, eps, div, alpha, tau, delta):
    rho_c, rho_r = pc - rc, pr - rr
    s_c, s_r = g_transform(rho_c, div, alpha), g_transform(rho_r, div, alpha)
    d = s_c - s_r
    if kind == 'sigmoid':
        return smoothed(beta * d, eps)
    if kind == 'hinge':
        return torch.relu(1 - beta * d)
    if kind == 'ipo':
        return (s_c / torch.clamp(lc, min=1) - s_r / torch.clamp(lr, min=1) - 1 / (2 * beta)) ** 2
    if kind == 'exo_pair':
        z = beta * d
        return torch.sigmoid(z) * (F.logsigmoid(z) - math.log(1 - eps)) + \
            torch.sigmoid(-z) * (F.logsigmoid(-z) - math.log(eps))
    if kind == 'nca_pair':
        return -F.logsigmoid(beta * s_c) - 0.5 * F.logsigmoid(-beta * s_c) - 0.5 * F.logsigmoid(-beta * s_r)
    if kind == 'robust':
        z = beta * d
        return (-(1 - eps) * F.logsigmoid(z) + eps * F.logsigmoid(-z)) / (1 - 2 * eps)
    if kind == 'bco_pair':
        return -F.logsigmoid(beta * s_c - delta) - F.logsigmoid(-(beta * s_r - delta))
    if kind == 'sppo_hard':
        return (s_c - 1 / (2 * beta)) ** 2 + (s_r + 1 / (2 * beta)) ** 2
    if kind == 'aot':
        dd = torch.sort(pc - pr, dim=0).values - torch.sort(rc - rr, dim=0).values
        return smoothed(beta * dd, eps)
    if kind == 'aot_unpaired':
        dd = torch.sort(rho_c, dim=0).values - torch.sort(rho_r, dim=0).values
        return smoothed(beta * dd, eps)
    if kind == 'apo_zero':
        return 1 - torch.sigmoid(beta * rho_c) + torch.sigmoid(beta * rho_r)
    if kind == 'apo_down':
        # TRL: sigmoid(β·chosen_logratios) + 1 − sigmoid(β·delta_score), delta_score = s_c − s_r.
        return torch.sigmoid(beta * rho_c) + 1 - torch.sigmoid(beta * d)
    if kind == 'discopop':
        z = beta * d
        m = torch.sigmoid(z / tau)
        # m·e^{-z} in log space: float64 would also give 0·inf = nan for z ≪ 0.
        return (1 - m) * (-F.logsigmoid(z)) + torch.exp(F.logsigmoid(z / tau) - z)
    if kind == 'sigmoid_norm':
        return -F.logsigmoid(beta * (s_c / torch.clamp(lc, min=1) - s_r / torch.clamp(lr, min=1)))
    raise ValueError(kind)


def default_eps(kind):
    return {'exo_pair': 0.1, 'robust': 0.2, 'sigmoid': 0.0}.get(kind, 0.0)


def make_inputs(gen, b, scale, spread):
    pc = -torch.rand(b, generator=gen) * scale - 1
    pr = -torch.rand(b, generator=gen) * scale - 1
    rc = pc + torch.randn(b, generator=gen) * spread
    rr = pr + torch.randn(b, generator=gen) * spread
    lc = torch.randint(0, 80, (b,), generator=gen).to(torch.float64)
    lr = torch.randint(0, 80, (b,), generator=gen).to(torch.float64)
    lc[0] = 0  # a row with no response tokens
    return [f32(t) for t in (pc, pr, rc, rr)] + [lc, lr]


def dpo_case(name, kind, inputs, reference_free=False, loss_weights=None, weights=None, **opts):
    pc, pr, rc, rr, lc, lr = [t.clone() for t in inputs]
    beta = opts.get('beta', 0.1)
    eps = opts.get('labelSmoothing', 0.0)
    div = opts.get('fDivergence', 'reverse_kl')
    alpha = opts.get('alpha', 0.5)
    tau = opts.get('discopopTau', 0.05)
    delta = opts.get('bcoDelta', 0.0)
    if reference_free:
        rc, rr = torch.zeros_like(pc), torch.zeros_like(pr)
    pc.requires_grad_(True)
    pr.requires_grad_(True)
    kinds = kind if isinstance(kind, list) else [kind]
    ws = loss_weights or [1.0] * len(kinds)
    losses = sum(w * dpo_per_pair(k, pc, pr, rc, rr, lc, lr, beta, eps, div, alpha, tau, delta)
                 for k, w in zip(kinds, ws))
    if weights is not None:
        losses = losses * weights
    loss = losses.mean()
    gpc, gpr = torch.autograd.grad(loss, [pc, pr])
    args = dict(opts)
    args['lossType'] = kind
    if loss_weights is not None:
        args['lossWeights'] = loss_weights
    inp = {'policyChosenLogps': rnd(pc.detach(), 17), 'policyRejectedLogps': rnd(pr.detach(), 17),
           'chosenLengths': rnd(lc), 'rejectedLengths': rnd(lr)}
    if not reference_free:
        inp['referenceChosenLogps'] = rnd(rc, 17)
        inp['referenceRejectedLogps'] = rnd(rr, 17)
    if weights is not None:
        inp['weights'] = rnd(weights, 17)
    return {
        'name': name, 'args': args, 'inputs': inp,
        'expected': {
            'losses': rnd(losses.detach()), 'loss': float(loss),
            'chosenRewards': rnd(beta * (pc.detach() - rc)), 'rejectedRewards': rnd(beta * (pr.detach() - rr)),
            'gradPolicyChosen': rnd(gpc), 'gradPolicyRejected': rnd(gpr),
        },
    }


def dpo_fixtures():
    gen = torch.Generator().manual_seed(1234)
    regimes = {
        # name: (batch, log-prob scale, policy/reference spread, beta)
        'typical': (6, 120.0, 4.0, 0.1),
        'extreme': (5, 1000.0, 300.0, 0.5),  # log-probs down to −1000, log-ratios of ±500
        'beta_small': (4, 60.0, 8.0, 0.01),
        'beta_large': (4, 60.0, 0.8, 10.0),
        'batch1': (1, 80.0, 3.0, 0.1),
    }
    inputs = {r: make_inputs(gen, b, s, sp) for r, (b, s, sp, _) in regimes.items()}
    cases = []
    for kind in LOSS_TYPES:
        for div in F_DIVS:
            for regime, (_, _, _, beta) in regimes.items():
                opts = {'beta': beta, 'fDivergence': div, 'labelSmoothing': default_eps(kind)}
                if div == 'alpha_divergence':
                    opts['alpha'] = 0.3 if regime == 'typical' else 0.5
                cases.append(dpo_case(f'{kind}/{div}/{regime}', kind, inputs[regime], **opts))
        cases.append(dpo_case(f'{kind}/reference_free', kind, inputs['typical'], reference_free=True,
                              beta=0.1, labelSmoothing=default_eps(kind)))
    typ = inputs['typical']
    # label-smoothing edges, alpha edge, other options
    for kind, eps in [('sigmoid', 0.5), ('sigmoid', 0.25), ('aot', 0.5), ('aot_unpaired', 0.1), ('robust', 0.0),
                      ('robust', 0.49), ('exo_pair', 1e-3), ('exo_pair', 0.999)]:
        cases.append(dpo_case(f'{kind}/eps={eps}', kind, typ, beta=0.1, labelSmoothing=eps))
    cases.append(dpo_case('sigmoid/alpha=1', 'sigmoid', typ, beta=0.1, fDivergence='alpha_divergence', alpha=1.0))
    cases.append(dpo_case('sigmoid/alpha=0', 'sigmoid', typ, beta=0.1, fDivergence='alpha_divergence', alpha=0.0))
    cases.append(dpo_case('discopop/tau=0.5', 'discopop', typ, beta=0.1, discopopTau=0.5))
    cases.append(dpo_case('bco_pair/delta', 'bco_pair', typ, beta=0.1, bcoDelta=0.3))
    cases.append(dpo_case('mix/mpo', ['sigmoid', 'bco_pair'], typ, beta=0.1, loss_weights=[0.8, 0.2]))
    cases.append(dpo_case('mix/default-weights', ['sigmoid', 'hinge', 'ipo'], typ, beta=0.1))
    w = f32(torch.rand(typ[0].shape[0], generator=gen))
    cases.append(dpo_case('sigmoid/weights', 'sigmoid', typ, beta=0.1, weights=w))
    return cases


def simpo_fixtures():
    gen = torch.Generator().manual_seed(99)
    cases = []
    for b, beta, ratio, eps, kind in [(6, 2.0, 0.25, 0.0, 'sigmoid'), (6, 10.0, 0.8, 0.0, 'sigmoid'),
                                      (6, 2.5, 0.1, 0.5, 'sigmoid'), (6, 2.0, 0.5, 0.2, 'sigmoid'),
                                      (1, 2.0, 0.25, 0.0, 'sigmoid'), (6, 2.0, 0.25, 0.0, 'hinge'),
                                      (6, 0.01, 0.25, 0.0, 'hinge'), (5, 10.0, 0.3, 0.1, 'sigmoid')]:
        scale = 400.0 if beta == 10.0 and eps == 0.1 else 3.0  # last one: extreme mean log-probs
        ac = f32(-torch.rand(b, generator=gen) * scale).requires_grad_(True)
        ar = f32(-torch.rand(b, generator=gen) * scale).requires_grad_(True)
        z = beta * ((ac - ar) - ratio)
        losses = smoothed(z, eps) if kind == 'sigmoid' else torch.relu(1 - z)
        loss = losses.mean()
        gc, gr = torch.autograd.grad(loss, [ac, ar])
        cases.append({
            'name': f'simpo/{kind}/b{b}/beta{beta}/ratio{ratio}/eps{eps}',
            'args': {'beta': beta, 'gammaBetaRatio': ratio, 'labelSmoothing': eps, 'lossType': kind},
            'inputs': {'policyChosenLogps': rnd(ac.detach(), 17), 'policyRejectedLogps': rnd(ar.detach(), 17)},
            'expected': {'losses': rnd(losses.detach()), 'loss': float(loss),
                         'chosenRewards': rnd(beta * ac.detach()), 'rejectedRewards': rnd(beta * ar.detach()),
                         'gradPolicyChosen': rnd(gc), 'gradPolicyRejected': rnd(gr)},
        })
    return cases


def orpo_fixtures():
    gen = torch.Generator().manual_seed(7)
    cases = []
    specs = [
        ('typical', torch.rand(6, generator=gen) * -3 - 0.05, torch.rand(6, generator=gen) * -3 - 0.05, 0.1, None),
        ('near_zero', f32([-1e-6, -1e-4, -0.01, -0.5]), f32([-2e-6, -0.3, -1e-3, -2.0]), 0.1, None),
        ('very_negative', f32([-40.0, -12.0, -0.2]), f32([-60.0, -0.1, -30.0]), 0.5, None),
        ('scalar_nll', torch.rand(5, generator=gen) * -2 - 0.1, torch.rand(5, generator=gen) * -2 - 0.1, 0.2, 1.37),
        ('batch1', f32([-0.7]), f32([-1.9]), 0.1, None),
    ]
    for name, c, r, beta, nll in specs:
        c = f32(c).requires_grad_(True)
        r = f32(r).requires_grad_(True)
        # log-odds from Eqs. (4), (7) of the ORPO paper; log1p(-exp(x)) written with expm1 for accuracy.
        log_odds = (c - r) - (torch.log(-torch.expm1(c)) - torch.log(-torch.expm1(r)))
        ratio = F.logsigmoid(log_odds)
        nll_t = -c if nll is None else torch.tensor(nll)
        losses = nll_t - beta * ratio
        loss = losses.mean()
        gc, gr = torch.autograd.grad(loss, [c, r])
        entry = {
            'name': f'orpo/{name}', 'args': {'beta': beta},
            'inputs': {'policyChosenLogps': rnd(c.detach(), 17), 'policyRejectedLogps': rnd(r.detach(), 17)},
            'expected': {'losses': rnd(losses.detach()), 'loss': float(loss),
                         'chosenRewards': rnd(beta * c.detach()), 'rejectedRewards': rnd(beta * r.detach()),
                         'logOddsRatio': float(ratio.mean()), 'logOddsChosen': float(log_odds.mean()),
                         'nllLoss': float(nll_t.mean()),
                         'gradPolicyChosen': rnd(gc), 'gradPolicyRejected': rnd(gr)},
        }
        if nll is not None:
            entry['inputs']['chosenNll'] = nll
        cases.append(entry)
    return cases


def write(name, obj):
    path = os.path.join(OUT, name)
    with open(path, 'w') as f:
        json.dump(obj, f, separators=(',', ':'))
    print(f'{name}: {os.path.getsize(path)} bytes')


if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    meta = {'generator': 'tools/reference/losses.py', 'torch': torch.__version__, 'dtype': 'float64',
            'inputs': 'rounded to float32'}
    write('losses-dpo.json', {'meta': {**meta, 'trl': TRL_COMMIT}, 'cases': dpo_fixtures()})
    write('losses-simpo-orpo.json', {'meta': meta, 'simpo': simpo_fixtures(), 'orpo': orpo_fixtures()})
