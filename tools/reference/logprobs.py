#!/usr/bin/python3
"""Golden values for ganpo's sequence log-probabilities, WPO weights, LD-DPO aggregation and the NLL term.

Independent PyTorch (float64) implementation of summed/mean completion log-probs (TRL
`DPOTrainer.concatenated_forward`) and of TRL's helpers
(`use_weighting`, `ld_alpha`, `nll_loss`); inputs are rounded to float32. Writes
tests/fixtures/logprobs.json. Run: /usr/bin/python3 tools/reference/logprobs.py
"""
import json
import os

import torch

torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', '..', 'tests', 'fixtures')


def f32(x):
    return torch.as_tensor(x, dtype=torch.float64).to(torch.float32).to(torch.float64)


def rnd(t, digits=10):
    return [float(f'{v:.{digits}g}') for v in t.reshape(-1).tolist()]


def seq_logps(logits, labels, mask):
    """perToken = log_softmax(logits)[label] * mask (torch.gather, no shift)."""
    logp = torch.log_softmax(logits, dim=-1)
    per_token = torch.gather(logp, 2, labels.unsqueeze(-1)).squeeze(-1) * mask
    s = per_token.sum(1)
    count = mask.sum(1)
    mean = s / torch.clamp(count, min=1)
    return per_token, s, mean, count


def case(gen, name, b, t, v, scale, causal, empty_row=True):
    logits = f32(torch.randn(b, t, v, generator=gen) * scale).requires_grad_(True)
    labels = torch.randint(0, v, (b, t), generator=gen)
    mask = (torch.rand(b, t, generator=gen) > 0.3).to(torch.float64)
    if empty_row and b > 1:
        mask[1] = 0  # a row with no response tokens
    if causal:
        lg, lb, mk = logits[:, :-1], labels[:, 1:], mask[:, 1:]
    else:
        lg, lb, mk = logits, labels, mask
    per_token, s, mean, count = seq_logps(lg, lb, mk)
    # A random linear functional of every output, so the gradient checks each of them.
    a, c = f32(torch.randn(b, generator=gen)), f32(torch.randn(b, generator=gen))
    w = f32(torch.randn(*per_token.shape, generator=gen))
    objective = (a * s).sum() + (c * mean).sum() + (w * per_token).sum()
    (grad,) = torch.autograd.grad(objective, [logits])
    out = {'name': name, 'causal': causal, 'shape': [b, t, v],
           'logits': rnd(logits.detach(), 9), 'labels': labels.reshape(-1).tolist(),
           'mask': mask.reshape(-1).tolist(), 'a': rnd(a, 9), 'c': rnd(c, 9), 'w': rnd(w, 9),
           'expected': {'perToken': rnd(per_token.detach()), 'sum': rnd(s.detach()), 'mean': rnd(mean.detach()),
                        'count': rnd(count), 'gradLogits': rnd(grad)}}
    # WPO log-weight (TRL use_weighting): mean over the mask of logp − logsumexp(2·logsoftmax).
    with torch.no_grad():
        logp = torch.log_softmax(lg, dim=-1)
        adj = torch.gather(logp, 2, lb.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(2 * logp, dim=-1)
        out['expected']['wpoLogWeights'] = rnd((adj * mk).sum(1) / torch.clamp(mk.sum(1), min=1))
    return out


def ld_dpo(gen):
    b, t = 4, 7
    pc = f32(-torch.rand(b, t, generator=gen) * 5)
    pr = f32(-torch.rand(b, t, generator=gen) * 5)
    mc = (torch.rand(b, t, generator=gen) > 0.35).to(torch.float64)
    mr = (torch.rand(b, t, generator=gen) > 0.35).to(torch.float64)
    mc[2] = 0  # empty chosen response: public length 0, everything of the rejected one weighted α
    mc[3, :3] = 0  # a "prompt" before the response
    pc, pr = (pc * mc).requires_grad_(True), (pr * mr).requires_grad_(True)
    cases = []
    for alpha in [0.0, 0.3, 1.0]:
        lp = torch.minimum(mc.sum(1), mr.sum(1)).unsqueeze(1)

        def agg(x, m):
            front = m * (torch.cumsum(m, 1) <= lp).to(torch.float64)
            return (x * front).sum(1) + alpha * (x * (m - front)).sum(1)

        oc, orr = agg(pc, mc), agg(pr, mr)
        wc, wr = f32(torch.randn(b, generator=gen)), f32(torch.randn(b, generator=gen))
        gc, gr = torch.autograd.grad((wc * oc).sum() + (wr * orr).sum(), [pc, pr])
        cases.append({'alpha': alpha, 'shape': [b, t], 'chosenPerToken': rnd(pc.detach(), 17),
                      'rejectedPerToken': rnd(pr.detach(), 17), 'chosenMask': rnd(mc), 'rejectedMask': rnd(mr),
                      'wc': rnd(wc, 17), 'wr': rnd(wr, 17),
                      'expected': {'chosen': rnd(oc.detach()), 'rejected': rnd(orr.detach()),
                                   'gradChosen': rnd(gc), 'gradRejected': rnd(gr)}})
    return cases


if __name__ == '__main__':
    gen = torch.Generator().manual_seed(2024)
    cases = [
        case(gen, 'sequence/typical', 3, 6, 13, 3.0, False),
        case(gen, 'sequence/batch1', 1, 5, 7, 1.0, False, empty_row=False),
        case(gen, 'sequence/extreme', 2, 4, 9, 200.0, False),
        case(gen, 'causal/typical', 3, 6, 13, 3.0, True),
        case(gen, 'causal/extreme', 2, 5, 9, 200.0, True),
        case(gen, 'causal/T2', 2, 2, 5, 2.0, True, empty_row=False),
    ]
    meta = {'generator': 'tools/reference/logprobs.py', 'torch': torch.__version__, 'dtype': 'float64'}
    path = os.path.join(OUT, 'logprobs.json')
    with open(path, 'w') as f:
        json.dump({'meta': meta, 'cases': cases, 'ldDpo': ld_dpo(gen)}, f, separators=(',', ':'))
    print(f'logprobs.json: {os.path.getsize(path)} bytes')
