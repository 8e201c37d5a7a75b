#!/usr/bin/python3
"""Golden values for ganpo's unpaired losses (ktoLoss, bcoLoss, RunningMoments) and the TR-DPO soft update.

Follows TRL at commit f2cd57710ae345ea6428ae95363267fcf38a3dc8 (huggingface/trl, 2026-07-24):
- KTO: the loss part of `KTOTrainer._compute_loss` (trl/trainer/kto_trainer.py): the batch KL estimate
  kl = (KL_logps - ref_KL_logps).mean().detach().clamp(min=0), the `kto` and `apo_zero_unpaired`
  branches, `desirable_weight` / `undesirable_weight`, and `losses.nanmean()`.
- BCO: `BCOTrainer.bco_loss` and `RunningMoments.update` (trl/experimental/bco/bco_trainer.py), with
  the density-ratio weights of `match_underlying_distribution` given directly.
- TR-DPO: `SyncRefModelCallback._sync_target_model` (trl/trainer/callbacks.py):
  target.mul_(1 - alpha).add_(policy, alpha=alpha).
The formulas are re-implemented here on sequence log-probs (no models), in float64 except
RunningMoments, which runs as TRL's on float32 tensors. Inputs are rounded to float32 first.

    /usr/bin/python3 tools/reference/kto_bco.py
"""
import json
import os

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', '..', 'tests', 'fixtures')
TRL_COMMIT = 'f2cd57710ae345ea6428ae95363267fcf38a3dc8'


def f32(x):
    return torch.as_tensor(x, dtype=torch.float64).to(torch.float32).to(torch.float64)


def rnd(xs, digits=17):
    return [float(f'{v:.{digits}g}') for v in xs.reshape(-1).tolist()]


def kto(pc, rc, pr, rr, pkl, rkl, beta, loss_type, wd, wu, kl_number=None):
    """KTOTrainer._compute_loss, from the log-probs on."""
    if loss_type == 'kto':
        if kl_number is not None:
            kl = torch.tensor(kl_number).clamp(min=0)
        else:
            kl = (pkl - rkl).mean().detach().clamp(min=0)
    else:
        kl = torch.zeros(1)[0]
    chosen_logratios = pc - rc
    rejected_logratios = pr - rr
    if loss_type == 'kto':
        chosen_losses = 1 - torch.sigmoid(beta * (chosen_logratios - kl))
        rejected_losses = 1 - torch.sigmoid(beta * (kl - rejected_logratios))
    else:
        chosen_losses = 1 - torch.sigmoid(beta * chosen_logratios)
        rejected_losses = torch.sigmoid(beta * rejected_logratios)
    losses = torch.cat((wd * chosen_losses, wu * rejected_losses), 0)
    return losses, losses.nanmean(), beta * chosen_logratios.detach(), beta * rejected_logratios.detach(), kl


def unpaired_inputs(gen, nc, nr, scale, spread):
    pc = f32(-torch.rand(nc, generator=gen) * scale - 1)
    pr = f32(-torch.rand(nr, generator=gen) * scale - 1)
    rc = f32(pc + torch.randn(nc, generator=gen) * spread)
    rr = f32(pr + torch.randn(nr, generator=gen) * spread)
    return pc, rc, pr, rr


def kto_fixtures():
    gen = torch.Generator().manual_seed(2024)
    cases = []
    specs = [
        # name, nc, nr, m, scale, spread, beta, loss_type, wd, wu, kl shift, kl_number
        ('kto/typical', 3, 4, 7, 60.0, 3.0, 0.1, 'kto', 1.0, 1.0, 2.0, None),
        ('kto/weights', 4, 3, 7, 60.0, 3.0, 0.1, 'kto', 1.33, 0.7, 1.0, None),
        ('kto/negative_kl_clamped', 3, 3, 6, 60.0, 3.0, 0.1, 'kto', 1.0, 1.0, -5.0, None),
        ('kto/chosen_only', 4, 0, 4, 60.0, 3.0, 0.1, 'kto', 1.0, 1.0, 1.0, None),
        ('kto/rejected_only', 0, 4, 4, 60.0, 3.0, 0.1, 'kto', 1.0, 1.0, 1.0, None),
        ('kto/extreme', 3, 3, 6, 1000.0, 300.0, 0.5, 'kto', 1.0, 1.0, 50.0, None),
        ('kto/beta_large', 3, 3, 6, 60.0, 0.8, 5.0, 'kto', 1.0, 1.0, 0.3, None),
        ('kto/kl_number', 3, 4, 0, 60.0, 3.0, 0.1, 'kto', 1.0, 1.0, 0.0, 1.7),
        ('kto/kl_number_negative', 3, 4, 0, 60.0, 3.0, 0.1, 'kto', 1.0, 1.0, 0.0, -0.4),
        ('apo_zero_unpaired/typical', 3, 4, 0, 60.0, 3.0, 0.1, 'apo_zero_unpaired', 1.0, 1.0, 0.0, None),
        ('apo_zero_unpaired/weights', 4, 2, 0, 60.0, 3.0, 0.2, 'apo_zero_unpaired', 1.5, 0.5, 0.0, None),
    ]
    for name, nc, nr, m, scale, spread, beta, loss_type, wd, wu, shift, kl_number in specs:
        pc, rc, pr, rr = unpaired_inputs(gen, nc, nr, scale, spread)
        pkl = rkl = None
        if m > 0:
            pkl = f32(-torch.rand(m, generator=gen) * scale - 1)
            rkl = f32(pkl - shift + torch.randn(m, generator=gen) * spread)
        pc.requires_grad_(True)
        pr.requires_grad_(True)
        if pkl is not None:
            pkl.requires_grad_(True)
        losses, loss, cr, rrw, kl = kto(pc, rc, pr, rr, pkl, rkl, beta, loss_type, wd, wu, kl_number)
        wrt = [pc, pr] + ([pkl] if pkl is not None else [])
        grads = torch.autograd.grad(loss, wrt, allow_unused=True)
        grads = [torch.zeros_like(t) if g is None else g for t, g in zip(wrt, grads)]
        args = {'beta': beta, 'lossType': loss_type, 'desirableWeight': wd, 'undesirableWeight': wu}
        if kl_number is not None:
            args['kl'] = kl_number
        inputs = {'policyChosenLogps': rnd(pc.detach()), 'referenceChosenLogps': rnd(rc),
                  'policyRejectedLogps': rnd(pr.detach()), 'referenceRejectedLogps': rnd(rr)}
        if pkl is not None and loss_type == 'kto':
            inputs['policyKlLogps'] = rnd(pkl.detach())
            inputs['referenceKlLogps'] = rnd(rkl)
        expected = {'losses': rnd(losses.detach(), 10), 'loss': float(loss), 'chosenRewards': rnd(cr, 10),
                    'rejectedRewards': rnd(rrw, 10), 'kl': float(kl),
                    'gradPolicyChosen': rnd(grads[0], 10), 'gradPolicyRejected': rnd(grads[1], 10)}
        if pkl is not None and loss_type == 'kto':
            expected['gradPolicyKl'] = rnd(grads[2], 10)
        cases.append({'name': name, 'args': args, 'inputs': inputs, 'expected': expected})
    return cases


class RunningMoments:
    """TRL's RunningMoments (single process), float32 tensors as in TRL."""

    def __init__(self):
        self.mean, self.std, self.var, self.count = 0, 1, 1, 1e-24

    @torch.no_grad()
    def update(self, xs):
        xs_count = xs.numel()
        xs_var, xs_mean = torch.var_mean(xs, unbiased=False)
        xs_mean, xs_var = xs_mean.float(), xs_var.float()
        delta = xs_mean - self.mean
        tot_count = self.count + xs_count
        new_sum = xs_var * xs_count
        old_sum = self.var * self.count + delta ** 2 * self.count * xs_count / tot_count
        tot_sum = old_sum + new_sum
        self.mean += (delta * xs_count / tot_count).item()
        new_var = tot_sum / tot_count
        self.std = (new_var * tot_count / (tot_count - 1)).float().sqrt().item()
        self.var = new_var.item()
        self.count = tot_count
        return xs_mean.item(), (xs_var * xs_count / (xs_count - 1)).float().sqrt().item()


def bco(running, pc, rc, pr, rr, beta, do_train, delta_number=None, rejected_weight=None):
    """BCOTrainer.bco_loss (+ losses.nanmean() of get_batch_loss_metrics)."""
    chosen_rewards = beta * (pc - rc)
    rejected_rewards = beta * (pr - rr)
    if delta_number is None:
        if do_train:
            running.update(torch.cat((chosen_rewards, rejected_rewards), 0).detach().float())
        delta = torch.as_tensor(running.mean)
    else:
        delta = torch.as_tensor(delta_number)
    chosen_losses = -F.logsigmoid(chosen_rewards - delta)
    rejected_losses = -F.logsigmoid(-(rejected_rewards - delta))
    if rejected_weight is not None:
        rejected_losses = rejected_weight * rejected_losses
    losses = torch.cat((chosen_losses, rejected_losses), dim=0)
    return losses, losses.nanmean(), chosen_rewards.detach(), rejected_rewards.detach(), float(delta)


def bco_fixtures():
    gen = torch.Generator().manual_seed(77)
    sequences = []
    # A training run: several batches through one RunningMoments, then an evaluation batch (no update).
    for name, beta, sizes in [('bco/run', 0.1, [(3, 4, True), (4, 4, True), (2, 5, True), (3, 3, False)]),
                              ('bco/run_beta1', 1.0, [(4, 2, True), (1, 3, True), (3, 3, True)])]:
        running = RunningMoments()
        steps = []
        for nc, nr, do_train in sizes:
            pc, rc, pr, rr = unpaired_inputs(gen, nc, nr, 40.0, 4.0)
            pc.requires_grad_(True)
            pr.requires_grad_(True)
            losses, loss, cr, rrw, delta = bco(running, pc, rc, pr, rr, beta, do_train)
            gpc, gpr = torch.autograd.grad(loss, [pc, pr])
            steps.append({
                'updateRunning': do_train,
                'inputs': {'policyChosenLogps': rnd(pc.detach()), 'referenceChosenLogps': rnd(rc),
                           'policyRejectedLogps': rnd(pr.detach()), 'referenceRejectedLogps': rnd(rr)},
                'expected': {'losses': rnd(losses.detach(), 10), 'loss': float(loss), 'delta': delta,
                             'chosenRewards': rnd(cr, 10), 'rejectedRewards': rnd(rrw, 10),
                             'gradPolicyChosen': rnd(gpc, 10), 'gradPolicyRejected': rnd(gpr, 10),
                             'running': {'mean': running.mean, 'var': running.var, 'std': running.std,
                                         'count': running.count}},
            })
        sequences.append({'name': name, 'beta': beta, 'steps': steps})
    singles = []
    for name, nc, nr, beta, delta_number, weighted in [('bco/delta', 3, 4, 0.1, 0.37, False),
                                                       ('bco/delta_udm_weights', 3, 4, 0.1, -0.2, True),
                                                       ('bco/extreme', 3, 3, 0.5, 12.0, False)]:
        scale, spread = (1000.0, 300.0) if name == 'bco/extreme' else (40.0, 4.0)
        pc, rc, pr, rr = unpaired_inputs(gen, nc, nr, scale, spread)
        w = None
        if weighted:
            # prob_desirable / (1 - prob_desirable + 1e-8), clamped to [min_density_ratio 0.5, max_density_ratio 10]
            p = torch.rand(nr, generator=gen)
            w = f32((p / (1 - p + 1e-8)).clamp(min=0.5, max=10.0))
        pc.requires_grad_(True)
        pr.requires_grad_(True)
        losses, loss, cr, rrw, delta = bco(None, pc, rc, pr, rr, beta, True, delta_number, w)
        gpc, gpr = torch.autograd.grad(loss, [pc, pr])
        inputs = {'policyChosenLogps': rnd(pc.detach()), 'referenceChosenLogps': rnd(rc),
                  'policyRejectedLogps': rnd(pr.detach()), 'referenceRejectedLogps': rnd(rr)}
        if w is not None:
            inputs['rejectedWeights'] = rnd(w)
        singles.append({'name': name, 'args': {'beta': beta, 'delta': delta_number}, 'inputs': inputs,
                        'expected': {'losses': rnd(losses.detach(), 10), 'loss': float(loss), 'delta': delta,
                                     'chosenRewards': rnd(cr, 10), 'rejectedRewards': rnd(rrw, 10),
                                     'gradPolicyChosen': rnd(gpc, 10), 'gradPolicyRejected': rnd(gpr, 10)}})
    return {'runs': sequences, 'cases': singles}


def sync_fixtures():
    """SyncRefModelCallback._sync_target_model on float32 parameters, applied three times."""
    gen = torch.Generator().manual_seed(5)
    cases = []
    for alpha in [0.6, 1.0, 0.05]:
        policy = [torch.randn(3, 4, generator=gen).float(), torch.randn(5, generator=gen).float()]
        target = [torch.randn(3, 4, generator=gen).float(), torch.randn(5, generator=gen).float()]
        init = [t.clone() for t in target]
        history = []
        for _ in range(3):
            for target_param, copy_param in zip(target, policy):
                target_param.data.mul_(1.0 - alpha).add_(copy_param.data, alpha=alpha)
            history.append([rnd(t, 9) for t in target])
        cases.append({'alpha': alpha, 'policy': [{'shape': list(t.shape), 'data': rnd(t, 9)} for t in policy],
                      'reference': [{'shape': list(t.shape), 'data': rnd(t, 9)} for t in init],
                      'after': history})
    return cases


if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    meta = {'generator': 'tools/reference/kto_bco.py', 'trl': TRL_COMMIT, 'torch': torch.__version__,
            'dtype': 'float64 (RunningMoments and the sync: float32, as TRL)', 'inputs': 'rounded to float32'}
    path = os.path.join(OUT, 'losses-kto-bco.json')
    with open(path, 'w') as f:
        json.dump({'meta': meta, 'kto': kto_fixtures(), 'bco': bco_fixtures(), 'sync': sync_fixtures()}, f,
                  separators=(',', ':'))
    print(f'losses-kto-bco.json: {os.path.getsize(path)} bytes')
