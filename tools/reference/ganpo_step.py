#!/usr/bin/env python3
"""Whole GANPO training steps in PyTorch: the golden reference for tests/ganpo-steps.test.ts.

Implements the official GANPO algorithm on a tiny policy, independently of the TypeScript code. The
official code followed is GANPO_trl.py of github.com/enyijiang/GANPO at commit
58ca06deaf9685d2ab2f6b18e49052ed7642ebad (`QuadGANDPOTrainer.compute_loss_disc` and `training_step`;
arXiv 2601.22083):

  policy:    ids [B,T] -> one-hot [B,T,V] -> h = tanh(onehot @ W1 + b1)  (the latent, [B,T,H])
                                           -> logits = h @ W2 + b2      ([B,T,V])
  reference: a frozen copy of the initial policy.

One step, in the official order:
  1. policy forward on chosen and rejected (latents h_pol^w, h_pol^l; kept for step 4 with grad);
  2. reference forward, no grad (log-probs, latents h_ref^w, h_ref^l);
  3. discriminator step on detached latents: each discriminator scores its three sets with three separate
     training-mode calls (one spectral-norm power iteration each) in the order of the official
     `compute_loss_disc` (D_w: policy chosen, reference chosen, reference rejected; D_l: policy rejected,
     reference chosen, reference rejected; see `scores`); the six EMA means are
     updated with this batch BEFORE the loss; L_D = 1/4[lreal(ref - m_pol) + lfake(pol - m_ref)
     + lreal(pol - m_opp) + lfake(opp - m_pol)] per discriminator; AdamW step on both (sum of the two);
  4. policy loss = preference loss + weight * 1/2[lreal(D_w(h_pol^w) - m_w,ref) + lreal(D_l(h_pol^l) - m_l,ref)]
     with the discriminators in eval mode and frozen; AdamW step on the policy.

Estimator 'ema' (official): detached EMA means, momentum 0.9, first value = first batch mean.
Estimator 'batch' (paper): within-batch means of this batch's scores; in the discriminator loss the
gradient flows through them (RaGAN); the generator uses the mean score of the reference latents under
the updated critic (eval mode, a constant).

Dropout is 0 so that the random streams of PyTorch and tfjs need not agree.

Writes tests/fixtures/ganpo_steps.json. Run with Debian's python3 (it has torch):
  /usr/bin/python3 tools/reference/ganpo_step.py
"""
import copy
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from official_discriminator import TransformerDiscriminator  # noqa: E402

torch.set_default_dtype(torch.float32)

V, H, T, B = 10, 8, 7, 4
STEPS = 4
DISC = dict(input_dim=H, hidden_dim=16, num_layers=1, num_heads=2, ffn_dim=32, max_seq_len=16, dropout=0.0)


def lreal(z, divergence):
    if divergence == "sgan":
        return F.softplus(-z)
    if divergence == "lsgan":
        return (z - 1) ** 2
    return F.relu(1 - z)


def lfake(z, divergence):
    if divergence == "sgan":
        return F.softplus(z)
    if divergence == "lsgan":
        return (z + 1) ** 2
    return F.relu(1 + z)


class Policy(torch.nn.Module):
    def __init__(self, gen):
        super().__init__()
        self.W1 = torch.nn.Parameter(torch.randn(V, H, generator=gen) * 0.5)
        self.b1 = torch.nn.Parameter(torch.randn(H, generator=gen) * 0.1)
        self.W2 = torch.nn.Parameter(torch.randn(H, V, generator=gen) * 0.5)
        self.b2 = torch.nn.Parameter(torch.randn(V, generator=gen) * 0.1)

    def forward(self, ids):
        onehot = F.one_hot(ids, V).float()
        h = torch.tanh(onehot @ self.W1 + self.b1)
        return h @ self.W2 + self.b2, h


def causal_logps(logits, ids, loss_mask):
    """Sum and mean over response tokens of log p(ids[:, t+1] | ids[:, :t+1])."""
    logp = torch.log_softmax(logits[:, :-1], dim=-1)
    tok = torch.gather(logp, 2, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    m = loss_mask[:, 1:].float()
    s = (tok * m).sum(-1)
    return s, s / m.sum(-1).clamp(min=1)


def preference(kind, pc, pr, rc, rr, pc_mean, pr_mean):
    if kind == "dpo":
        beta = 0.1
        z = beta * ((pc - rc) - (pr - rr))
        return (-F.logsigmoid(z)).mean()
    beta, gamma_beta_ratio = 2.0, 0.25  # SimPO defaults (princeton-nlp/SimPO)
    z = beta * ((pc_mean - pr_mean) - gamma_beta_ratio)
    return (-F.logsigmoid(z)).mean()


def make_batch(gen, masked):
    chosen = torch.randint(0, V, (B, T), generator=gen)
    rejected = torch.randint(0, V, (B, T), generator=gen)
    prompt_len = 3
    lengths_c = torch.tensor([7, 5, 6, 4]) if masked else torch.full((B,), T)
    lengths_r = torch.tensor([6, 7, 4, 5]) if masked else torch.full((B,), T)
    pos = torch.arange(T).unsqueeze(0)
    attn_c = (pos < lengths_c.unsqueeze(1)).float()
    attn_r = (pos < lengths_r.unsqueeze(1)).float()
    loss_c = attn_c * (pos >= prompt_len).float()
    loss_r = attn_r * (pos >= prompt_len).float()
    # padding positions carry token 0, as a collator would write
    chosen = torch.where(attn_c > 0, chosen, torch.zeros_like(chosen))
    rejected = torch.where(attn_r > 0, rejected, torch.zeros_like(rejected))
    return dict(chosen=chosen, rejected=rejected, attn_c=attn_c, attn_r=attn_r, loss_c=loss_c, loss_r=loss_r)


def r32(x):
    """A float32 value printed with the 9 significant digits that identify it exactly."""
    return float(f"{x:.9g}")


def state_to_json(sd):
    return {k: {"shape": list(v.shape), "data": [r32(x) for x in v.detach().float().flatten().tolist()]}
            for k, v in sd.items()}


def without_key_bias(k, v):
    """The key bias (middle third of in_proj_bias) cannot change any output -- softmax over keys is
    invariant to a per-query constant -- so its gradient is exactly 0 and Adam turns float32 noise
    into +-lr steps. It is left out of comparisons (zeroed)."""
    if k.endswith("in_proj_bias"):
        v = v.clone()
        n = v.shape[0] // 3
        v[n:2 * n] = 0
    return v


def scores(name, disc, ref_h, pol_h, opp_h, m_ref, m_opp, order):
    """The three training-mode calls of one discriminator. Each call advances the spectral-norm power
    iteration, so their order is part of the algorithm. Official `compute_loss_disc` (GANPO_trl.py):
    D_w on (policy chosen, reference chosen, reference rejected), D_l on (policy rejected, reference
    chosen, reference rejected): the policy first, then the reference latents chosen before rejected.
    'legacy' is the order ganpo used before (reference, policy, opposite), kept to measure how far the
    order moves a step."""
    if order == "legacy":
        return disc(ref_h, mask=m_ref), disc(pol_h, mask=m_ref), disc(opp_h, mask=m_opp)
    s_pol = disc(pol_h, mask=m_ref)
    if name == "chosen":  # reference chosen = ref_h, reference rejected = opp_h
        s_ref = disc(ref_h, mask=m_ref)
        s_opp = disc(opp_h, mask=m_opp)
    else:  # reference chosen = opp_h, reference rejected = ref_h
        s_opp = disc(opp_h, mask=m_opp)
        s_ref = disc(ref_h, mask=m_ref)
    return s_ref, s_pol, s_opp


def run(config):
    divergence, estimator, masked, kind, weight = (
        config["divergence"], config["estimator"], config["masked"], config["preference"], config["weight"])
    gen = torch.Generator().manual_seed(config["seed"])
    reference = Policy(gen).requires_grad_(False)
    # The policy starts near, not at, the reference. At policy == reference the quad loss sits at a
    # symmetric point where some discriminator gradients vanish exactly; Adam's first step turns the
    # float32 noise of a zero gradient into a full +-lr step, so two correct implementations (or two
    # PyTorch builds) disagree there. A small offset keeps every gradient generic.
    policy = copy.deepcopy(reference).requires_grad_(True)
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen))
    # Every run starts from the same discriminators (stored once, at the top of the fixture).
    torch.manual_seed(0)
    d_chosen = TransformerDiscriminator(**DISC)
    d_rejected = TransformerDiscriminator(**DISC)
    d_params = list(d_chosen.parameters()) + list(d_rejected.parameters())
    lr_policy, lr_disc, wd = 1e-2, config.get("lr_disc", 5e-3), 0.01
    opt_p = torch.optim.AdamW(policy.parameters(), lr=lr_policy, weight_decay=wd)
    opt_d = torch.optim.AdamW(d_params, lr=lr_disc, weight_decay=wd)
    batches = [make_batch(gen, masked) for _ in range(STEPS)]
    out = {
        "config": config,
        "init": {"policy": state_to_json(policy.state_dict()), "reference": state_to_json(reference.state_dict())},
        "batches": [{k: v.tolist() for k, v in b.items()} for b in batches],
        "steps": [],
    }
    ema = {}

    def ema_update(key, value):
        ema[key] = value if key not in ema else 0.9 * ema[key] + 0.1 * value
        return ema[key]

    for b in batches:
        mc = b["attn_c"] if masked else None
        mr = b["attn_r"] if masked else None
        # 1-2: forwards
        logits_c, h_pc = policy(b["chosen"])
        logits_r, h_pr = policy(b["rejected"])
        with torch.no_grad():
            ref_logits_c, h_rc = reference(b["chosen"])
            ref_logits_r, h_rr = reference(b["rejected"])
        # 3: discriminator step on detached latents
        d_chosen.train()
        d_rejected.train()
        step_out = {}
        d_losses = []
        for name, disc, ref_h, pol_h, opp_h, m_ref, m_opp in (
            ("chosen", d_chosen, h_rc, h_pc.detach(), h_rr, mc, mr),
            ("rejected", d_rejected, h_rr, h_pr.detach(), h_rc, mr, mc),
        ):
            s_ref, s_pol, s_opp = scores(name, disc, ref_h, pol_h, opp_h, m_ref, m_opp, config.get("call_order", "official"))
            if estimator == "ema":
                m = {
                    "reference": ema_update(name + ".reference", s_ref.detach().mean().item()),
                    "policy": ema_update(name + ".policy", s_pol.detach().mean().item()),
                    "opposite": ema_update(name + ".opposite", s_opp.detach().mean().item()),
                }
                means_json = dict(m)
            else:
                m = {"reference": s_ref.mean(), "policy": s_pol.mean(), "opposite": s_opp.mean()}
                means_json = {k: v.item() for k, v in m.items()}
            terms = [lreal(s_ref - m["policy"], divergence).mean(), lfake(s_pol - m["reference"], divergence).mean()]
            if config["negatives"]:
                terms += [lreal(s_pol - m["opposite"], divergence).mean(), lfake(s_opp - m["policy"], divergence).mean()]
            loss_d = sum(terms) / len(terms)
            d_losses.append(loss_d)
            step_out["means_" + name] = means_json
            step_out["loss_d_" + name] = loss_d.item()
        opt_d.zero_grad()
        sum(d_losses).backward()
        opt_d.step()
        # 4: policy step; discriminators frozen, eval mode
        d_chosen.eval()
        d_rejected.eval()
        for p in d_params:
            p.requires_grad_(False)
        pc, pc_mean = causal_logps(logits_c, b["chosen"], b["loss_c"])
        pr, pr_mean = causal_logps(logits_r, b["rejected"], b["loss_r"])
        rc, _ = causal_logps(ref_logits_c, b["chosen"], b["loss_c"])
        rr, _ = causal_logps(ref_logits_r, b["rejected"], b["loss_r"])
        pref = preference(kind, pc, pr, rc, rr, pc_mean, pr_mean)
        if estimator == "ema":
            # Official: the (pre-update) EMA of the reference scores.
            m_ref_c, m_ref_r = ema["chosen.reference"], ema["rejected.reference"]
        else:
            # Paper (within-batch means): the mean score of the reference latents under the current,
            # just-updated critic, so that a constant shift of the critic cancels as in the D loss.
            with torch.no_grad():
                m_ref_c = d_chosen(h_rc, mask=mc).mean().item()
                m_ref_r = d_rejected(h_rr, mask=mr).mean().item()
        adv = 0.5 * (lreal(d_chosen(h_pc, mask=mc) - m_ref_c, divergence).mean()
                     + lreal(d_rejected(h_pr, mask=mr) - m_ref_r, divergence).mean())
        loss = pref + weight * adv
        opt_p.zero_grad()
        loss.backward()
        opt_p.step()
        for p in d_params:
            p.requires_grad_(True)
        step_out.update({
            "preference_loss": pref.item(),
            "adversarial_loss": adv.item(),
            "loss": loss.item(),
            "policy": state_to_json(policy.state_dict()),
            "discriminatorChosen": state_to_json({k: without_key_bias(k, v) for k, v in d_chosen.state_dict().items()}),
            "discriminatorRejected": state_to_json(
                {k: without_key_bias(k, v) for k, v in d_rejected.state_dict().items()}),
        })
        out["steps"].append(step_out)
    out["final"] = {
        "discriminatorChosen": state_to_json({k: without_key_bias(k, v) for k, v in d_chosen.state_dict().items()}),
        "discriminatorRejected": state_to_json({k: without_key_bias(k, v) for k, v in d_rejected.state_dict().items()}),
    }
    return out


CONFIGS = [
    dict(name="dpo-ema-masked", preference="dpo", divergence="sgan", estimator="ema", masked=True, negatives=True, weight=1.0, seed=1),
    dict(name="dpo-ema-unmasked", preference="dpo", divergence="sgan", estimator="ema", masked=False, negatives=True, weight=1.0, seed=2),
    dict(name="dpo-batch-masked", preference="dpo", divergence="sgan", estimator="batch", masked=True, negatives=True, weight=1.0, seed=3),
    # lsgan with EMA means: at the first step the EMA equals the batch mean, so the gradient of the
    # critic's output bias is exactly 0 and Adam moves it by +-lr on float32 noise (in PyTorch too),
    # which the generator then sees against the pre-update EMA (the official order). A small critic
    # learning rate keeps that inherent +-lr ambiguity below the test tolerance.
    dict(name="dpo-ema-lsgan-nonegatives", preference="dpo", divergence="lsgan", estimator="ema", masked=True, negatives=False, weight=0.5, seed=4, lr_disc=1e-4),
    dict(name="simpo-ema-masked", preference="simpo", divergence="sgan", estimator="ema", masked=True, negatives=True, weight=1.0, seed=5),
    dict(name="simpo-batch-hinge", preference="simpo", divergence="hinge", estimator="batch", masked=False, negatives=True, weight=1.0, seed=6),
]

if __name__ == "__main__":
    torch.manual_seed(0)
    init_chosen, init_rejected = TransformerDiscriminator(**DISC), TransformerDiscriminator(**DISC)
    results = {"V": V, "H": H, "T": T, "B": B, "discriminator": DISC, "lr_policy": 1e-2, "lr_disc": 5e-3,
               "weight_decay": 0.01,
               "initDiscriminators": {"chosen": state_to_json(init_chosen.state_dict()),
                                      "rejected": state_to_json(init_rejected.state_dict())},
               "runs": [run(c) for c in CONFIGS]}
    path = os.path.join(HERE, "..", "..", "tests", "fixtures", "ganpo_steps.json")
    with open(path, "w") as f:
        json.dump(results, f)
    print(f"wrote {os.path.normpath(path)}: {os.path.getsize(path) / 1024:.0f} KiB")
